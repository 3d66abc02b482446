//! The pure part of a webhook delivery: the paths the host hands out and
//! routes, what an HTTP request becomes for the connector's handler
//! ([`WebhookRequest`]), and how a global webhook's answer routes events
//! to subscriptions.
//!
//! It must not serve HTTP, run JavaScript or store anything (crates/host
//! and crates/strategies do). Kept free of both so it can be fuzzed
//! cheaply (`fuzz/`).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use runtime_events::kind;
use serde_json::{Map, Value};

/// The route of a subscription's endpoint (axum syntax).
pub const WEBHOOK_ROUTE: &str = "/webhooks/{collection}/{scope}";
/// The route of one connection's webhook subscription in `runtime serve`.
pub const CONNECTION_WEBHOOK_ROUTE: &str = "/webhooks/{connection}/{collection}/{scope}";
/// The route of a connector's global webhook in `runtime serve` (one URL
/// per connector and key, shared by its connections).
pub const CONNECTOR_GLOBAL_WEBHOOK_ROUTE: &str = "/global-webhooks/{connector}/{key}";
/// The route of a connector's `global-webhooks/<key>` endpoint.
pub const GLOBAL_WEBHOOK_ROUTE: &str = "/global-webhooks/{key}";

/// RFC 3986 unreserved characters stay as they are; everything else in a
/// segment is escaped, so any directory name routes back to itself.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The path of [`WEBHOOK_ROUTE`] for one subscription, each part escaped:
/// a collection is a directory name and may hold ` `, `?`, `#` or `%`.
/// The path of one connection's webhook subscription in `runtime serve`.
pub fn connection_webhook_path(connection: &str, collection: &str, scope: &str) -> String {
    format!(
        "/webhooks/{}{}",
        utf8_percent_encode(connection, SEGMENT),
        &webhook_path(collection, scope)["/webhooks".len()..]
    )
}

pub fn webhook_path(collection: &str, scope: &str) -> String {
    format!(
        "/webhooks/{}/{}",
        utf8_percent_encode(collection, SEGMENT),
        utf8_percent_encode(scope, SEGMENT)
    )
}

/// One incoming request, as `webhook-handle` receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRequest {
    pub raw_body: String,
    pub headers: Map<String, Value>,
    pub query: Map<String, Value>,
    pub method: String,
}

impl WebhookRequest {
    /// Bytes that are not UTF-8 (body, header values) are kept lossily
    /// rather than refused: a signature check may still want the rest. A
    /// header sent twice keeps its last value.
    pub fn new<'a>(
        method: &str,
        query: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        body: &[u8],
    ) -> WebhookRequest {
        WebhookRequest {
            raw_body: String::from_utf8_lossy(body).into_owned(),
            headers: headers
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        Value::String(String::from_utf8_lossy(v).into_owned()),
                    )
                })
                .collect(),
            query: parse_query(query.unwrap_or("")),
            method: method.to_string(),
        }
    }

    /// The body as JSON, or `null` when it is not JSON (form posts, empty
    /// bodies): the handler still has `rawBody`.
    pub fn data(&self) -> Value {
        serde_json::from_str::<Value>(&self.raw_body).unwrap_or(Value::Null)
    }
}

/// `a=1&b=x+y` as `{"a": "1", "b": "x y"}`; a repeated key keeps its last value.
pub fn parse_query(q: &str) -> Map<String, Value> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

/// One routed event of a global webhook: `{selector, payload}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub selector: Value,
    pub payload: Value,
}

/// The `events` of a global webhook handler's answer. `Err` says what is
/// wrong with the answer.
pub fn routed_events(result: &Value) -> Result<Vec<Routed>, String> {
    match result.get("events") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, e)| match (e.get("selector"), e.get("payload")) {
                (Some(selector), Some(payload)) => Ok(Routed {
                    selector: selector.clone(),
                    payload: payload.clone(),
                }),
                _ => Err(format!("events[{i}] without `selector` and `payload`")),
            })
            .collect(),
        Some(other) => Err(format!("`events` that is not a list ({})", kind(other))),
    }
}

/// Whether a global webhook event's `selector` picks a subscription: a
/// string names the collection; in an object, `collection` names the
/// collection and every other key must equal the same key of `state`,
/// the state the subscription's `webhook-subscribe` returned.
pub fn selects(selector: &Value, collection: &str, state: &Value) -> bool {
    match selector {
        Value::String(s) => s == collection,
        Value::Object(map) => map.iter().all(|(k, v)| match k.as_str() {
            "collection" => v.as_str() == Some(collection),
            _ => state.get(k) == Some(v),
        }),
        _ => false,
    }
}

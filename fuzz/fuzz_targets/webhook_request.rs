//! Webhook requests: an arbitrary method, path, query, headers and body go
//! through an axum router with the host's routes, and its handlers turn
//! what they extract into a `WebhookRequest` as the host does. Checks:
//! - a subscription URL the host hands out (`webhook_path`) for any
//!   directory name routes back to exactly that collection and scope;
//! - a routed path's collection is the percent-decoded path segment;
//! - the query map is stable (parsing it re-encoded gives it back);
//! - a global webhook's answer routes its events without panicking, and a
//!   string selector picks its own collection.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use axum::routing::any;
use axum::Router;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use runtime_webhook::{
    parse_query, routed_events, selects, webhook_path, WebhookRequest, GLOBAL_WEBHOOK_ROUTE,
    WEBHOOK_ROUTE,
};
use serde_json::Value;
use tower::ServiceExt;

#[derive(Arbitrary, Debug)]
struct Input {
    /// A collection directory name, for the URL the host hands out.
    collection: String,
    scope: u8,
    method: Vec<u8>,
    path: String,
    query: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// A global webhook handler's answer and a subscription state (JSON).
    answer: String,
    state: String,
}

/// What a handler saw: the route's parameters and the request.
type Seen = Arc<Mutex<Option<(Vec<String>, WebhookRequest)>>>;

fn request_of(
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> WebhookRequest {
    let headers = headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes()));
    WebhookRequest::new(method.as_str(), query, headers, body)
}

fn app() -> &'static (Router, Seen, tokio::runtime::Runtime) {
    static APP: OnceLock<(Router, Seen, tokio::runtime::Runtime)> = OnceLock::new();
    APP.get_or_init(|| {
        let seen: Seen = Arc::default();
        let router = Router::new()
            .route(
                WEBHOOK_ROUTE,
                any(
                    |State(seen): State<Seen>,
                     Path((collection, scope)): Path<(String, String)>,
                     method: Method,
                     RawQuery(query): RawQuery,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        let req = request_of(&method, query.as_deref(), &headers, &body);
                        *seen.lock().unwrap() = Some((vec![collection, scope], req));
                    },
                ),
            )
            .route(
                GLOBAL_WEBHOOK_ROUTE,
                any(
                    |State(seen): State<Seen>,
                     Path(key): Path<String>,
                     method: Method,
                     RawQuery(query): RawQuery,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        let req = request_of(&method, query.as_deref(), &headers, &body);
                        *seen.lock().unwrap() = Some((vec![key], req));
                    },
                ),
            )
            .with_state(seen.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        (router, seen, rt)
    })
}

/// Sends one request; returns what the handler saw, if a route took it.
fn send(req: Request<Body>) -> Option<(Vec<String>, WebhookRequest)> {
    let (router, seen, rt) = app();
    *seen.lock().unwrap() = None;
    let _ = rt.block_on(router.clone().oneshot(req));
    seen.lock().unwrap().take()
}

fn is_dir_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\0'])
}

fn check_query(req: &WebhookRequest) {
    let mut again = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &req.query {
        again.append_pair(k, v.as_str().unwrap());
    }
    assert_eq!(parse_query(&again.finish()), req.query);
}

fuzz_target!(|input: Input| {
    // 1. The URL handed out routes back to its subscription.
    let scope = ["all", "created", "updated", "deleted"][usize::from(input.scope % 4)];
    if is_dir_name(&input.collection) {
        let path = webhook_path(&input.collection, scope);
        let uri = match &input.query {
            Some(q) => format!(
                "{path}?{}",
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            ),
            None => path.clone(),
        };
        let uri = Uri::try_from(uri.as_str())
            .unwrap_or_else(|e| panic!("webhook_path made an invalid URI {uri:?}: {e}"));
        let (params, req) = send(Request::post(uri).body(Body::empty()).unwrap())
            .unwrap_or_else(|| panic!("{path:?} did not reach the webhook route"));
        assert_eq!(params, [input.collection.as_str(), scope]);
        check_query(&req);
    }

    // 2. Whatever a sender sends.
    let uri = match &input.query {
        Some(q) => format!("{}?{q}", input.path),
        None => input.path.clone(),
    };
    if let (Ok(method), Ok(uri)) = (Method::from_bytes(&input.method), Uri::try_from(uri)) {
        let raw_path = uri.path().to_string();
        let mut builder = Request::builder().method(method.clone()).uri(uri);
        for (k, v) in &input.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_bytes(v),
            ) {
                builder = builder.header(k, v);
            }
        }
        if let Ok(req) = builder.body(Body::from(input.body.clone())) {
            if let Some((params, seen)) = send(req) {
                let segments: Vec<&str> = raw_path.split('/').skip(2).collect();
                assert_eq!(params.len(), segments.len(), "{raw_path:?} -> {params:?}");
                for (param, seg) in params.iter().zip(&segments) {
                    let decoded = percent_encoding::percent_decode_str(seg).decode_utf8();
                    assert_eq!(decoded.ok().as_deref(), Some(param.as_str()));
                }
                assert_eq!(seen.method, method.as_str());
                assert_eq!(seen.raw_body, String::from_utf8_lossy(&input.body));
                let data = seen.data();
                assert_eq!(
                    data.is_null(),
                    serde_json::from_str::<Value>(&seen.raw_body).map_or(true, |v| v.is_null())
                );
                check_query(&seen);
            }
        }
    }

    // 3. A global webhook handler's answer.
    if let Ok(answer) = serde_json::from_str::<Value>(&input.answer) {
        let state = serde_json::from_str::<Value>(&input.state).unwrap_or(Value::Null);
        if let Ok(routed) = routed_events(&answer) {
            for r in &routed {
                let _ = selects(&r.selector, &input.collection, &state);
            }
        }
        assert!(selects(
            &Value::String(input.collection.clone()),
            &input.collection,
            &state
        ));
    }
});

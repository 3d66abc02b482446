//! webhook: `webhook-subscribe` registers the runtime's URL at the external
//! app, each delivery goes through `webhook-handle`, and
//! `webhook-unsubscribe` removes the registration.
//!
//! Every function gets its arguments under both names the platform uses
//! (connector-sdk 2.x reads the second of each pair): `webhookUri` and
//! `connectorWebhookUri`, `data` and `body`, `state` and
//! `subscriptionState`, and `subscription: {id, events}`, the event types
//! the subscription wants (a real handler returns `null` for the others).

use runtime_events::{ChangeType, NewEvent};
use runtime_store::SubscriptionState;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub use runtime_webhook::{Routed, WebhookRequest};

use crate::{advanced, read_data, Ctx, Cycle, Handled, Invoker, StrategyError};

const NAME: &str = "webhook";
const SUBSCRIBE: &str = "webhook-subscribe";
const REFRESH: &str = "webhook-refresh";
const HANDLE: &str = "webhook-handle";
const UNSUBSCRIBE: &str = "webhook-unsubscribe";

/// The function `base` of subscription `sub`: for a subscription of one
/// event type (per-type strategies split the collection), that type's own
/// file when it has one (`events-created-webhook-subscribe`), else the
/// every-type one (`events-webhook-subscribe`).
fn function(invoker: &Invoker, sub: &SubscriptionState, base: &str) -> String {
    if let Some(t) = ChangeType::parse(&sub.scope) {
        let own = format!("events/{}-{base}", t.as_str());
        if invoker.has(&own) {
            return own;
        }
    }
    format!("events/{base}")
}

/// The webhook strategy: its function names are fixed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Webhook;

/// The subscription's own state.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
struct WebhookState {
    /// What `webhook-subscribe` returned as `state` (its registration).
    state: Value,
    /// When the registration must be refreshed (`nextRefreshTimestamp`).
    next_refresh: Option<String>,
    /// The URL the registration points at, so a run with another public
    /// URL moves it instead of leaving it pointing nowhere.
    webhook_uri: Option<String>,
}

impl Webhook {
    /// A scheduled cycle has work when the subscription is new, its refresh
    /// is due, or the run's public URL is not the one it registered.
    pub(crate) fn due(&self, ctx: Ctx<'_>, state: &SubscriptionState) -> bool {
        if !state.baseline_done {
            return true;
        }
        let Ok(own) = read_data::<WebhookState>(ctx.invoker, NAME, state) else {
            return true;
        };
        refresh_due(&own) || moved(&own, ctx.webhook_uri)
    }

    /// Subscribes (first cycle), moves a registration made for another URL,
    /// or refreshes it. Refresh uses `events/webhook-refresh.js` when the
    /// connector has one, else subscribes again (the old registration is
    /// passed as `state`).
    pub async fn cycle(
        &self,
        ctx: Ctx<'_>,
        state: &SubscriptionState,
    ) -> Result<Cycle, StrategyError> {
        let invoker = ctx.invoker;
        let own: WebhookState = read_data(invoker, NAME, state)?;
        if state.baseline_done && moved(&own, ctx.webhook_uri) {
            return move_to(invoker, state, &own, ctx.webhook_uri).await;
        }
        subscribe(
            invoker,
            state,
            (state.baseline_done).then_some(&own),
            ctx.webhook_uri,
        )
        .await
    }

    /// One request: `webhook-handle` with the request (or the `payload` a
    /// global webhook routed here) and the stored registration.
    pub async fn handle(
        &self,
        ctx: Ctx<'_>,
        state: &SubscriptionState,
        request: &WebhookRequest,
        payload: Option<Value>,
    ) -> Result<Handled, StrategyError> {
        let invoker = ctx.invoker;
        let mut own: WebhookState = read_data(invoker, NAME, state)?;
        let mut input = request_input(request, payload.unwrap_or_else(|| request.data()));
        registration_input(&mut input, state, &own.state);
        let handle = function(invoker, state, HANDLE);
        let result = invoker.call(&handle, input).await?;
        let events: Vec<NewEvent> =
            runtime_events::decode_handle(&result).map_err(|p| invoker.shape(&handle, p))?;
        if let Some(s) = result.get("state").filter(|s| !s.is_null()) {
            own.state = s.clone();
        }
        let mut next = state.clone();
        next.data = serde_json::to_value(&own).unwrap_or(Value::Null);
        next.last_cycle_at = Some(runtime_store::now_rfc3339());
        Ok(Handled {
            cycle: Cycle {
                events,
                state: next,
            },
            response: result.get("response").cloned(),
        })
    }
}

fn refresh_due(own: &WebhookState) -> bool {
    let Some(at) = &own.next_refresh else {
        return false;
    };
    let now = chrono::Utc::now().timestamp_millis();
    match crate::parse_time(&Value::String(at.clone())) {
        Some(t) => t <= now,
        None => false,
    }
}

/// Whether the registration points at another URL than `webhook_uri`.
/// State from before the URL was recorded counts as not moved.
fn moved(own: &WebhookState, webhook_uri: &str) -> bool {
    own.webhook_uri.as_deref().is_some_and(|u| u != webhook_uri)
}

/// `webhook-subscribe` (or `-refresh`, with the old registration).
async fn subscribe(
    invoker: &Invoker,
    state: &SubscriptionState,
    old: Option<&WebhookState>,
    webhook_uri: &str,
) -> Result<Cycle, StrategyError> {
    let refresh = function(invoker, state, REFRESH);
    let function = match old.is_some() && invoker.has(&refresh) {
        true => refresh,
        false => function(invoker, state, SUBSCRIBE),
    };
    let mut input = Map::new();
    let uri = Value::String(webhook_uri.to_string());
    input.insert("webhookUri".into(), uri.clone());
    input.insert("connectorWebhookUri".into(), uri);
    registration_input(
        &mut input,
        state,
        old.map_or(&Value::Null, |old| &old.state),
    );
    if old.is_none() {
        // Subscribing afresh: no registration to pass.
        input.remove("state");
        input.remove("subscriptionState");
    }
    let result = invoker.call(&function, input).await?;
    // Membrane's subscribe returns {state, nextRefreshTimestamp}; a bare
    // object without `state` is taken as the state itself.
    let own = WebhookState {
        state: match result.get("state") {
            Some(s) => s.clone(),
            None => result.clone(),
        },
        next_refresh: match result.get("nextRefreshTimestamp") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
        webhook_uri: Some(webhook_uri.to_string()),
    };
    Ok(Cycle {
        events: Vec::new(),
        state: advanced(state, &own),
    })
}

/// The registration points at another URL than `webhook_uri` (the run's
/// public URL changed): unsubscribes the old one and subscribes anew, so
/// the external app stops sending where nothing listens. An unsubscribe
/// that fails is logged and the new registration made anyway: events must
/// reach the new URL.
async fn move_to(
    invoker: &Invoker,
    state: &SubscriptionState,
    own: &WebhookState,
    webhook_uri: &str,
) -> Result<Cycle, StrategyError> {
    let old = own.webhook_uri.as_deref().unwrap_or("?");
    tracing::info!(
        collection = %invoker.collection,
        from = old,
        to = webhook_uri,
        "the public URL changed: moving the webhook registration"
    );
    if let Err(e) = call_unsubscribe(invoker, state, &own.state).await {
        tracing::warn!(
            collection = %invoker.collection,
            "webhook-unsubscribe of the registration at {old} failed, so the app may still send there: {e}"
        );
    }
    subscribe(invoker, state, None, webhook_uri).await
}

/// The stored registration as `state` and `subscriptionState`, and the
/// subscription as `subscription`.
fn registration_input(
    input: &mut Map<String, Value>,
    sub: &SubscriptionState,
    registration: &Value,
) {
    input.insert("state".into(), registration.clone());
    input.insert("subscriptionState".into(), registration.clone());
    input.insert("subscription".into(), subscription(sub));
}

/// `{id, events: {<type>: {}}}`: the subscription's id in the store, and
/// the event types it emits (all three, or its one type when per-type
/// strategies split the collection). Each type maps to an (empty) object,
/// truthy as the platform's event configs are.
pub(crate) fn subscription(sub: &SubscriptionState) -> Value {
    let id = runtime_store::sub_id(&sub.connector, &sub.collection, &sub.scope);
    let events: Map<String, Value> = match ChangeType::parse(&sub.scope) {
        Some(t) => [(t.as_str().to_string(), json!({}))].into_iter().collect(),
        None => ChangeType::ALL
            .iter()
            .map(|t| (t.as_str().to_string(), json!({})))
            .collect(),
    };
    json!({"id": id, "events": events})
}

/// The handler's input besides the registration: `data` (also as `body`),
/// `rawBody`, `headers`, `query`, `method`.
fn request_input(request: &WebhookRequest, data: Value) -> Map<String, Value> {
    let mut input = Map::new();
    input.insert("body".into(), data.clone());
    input.insert("data".into(), data);
    input.insert("rawBody".into(), Value::String(request.raw_body.clone()));
    input.insert("headers".into(), Value::Object(request.headers.clone()));
    input.insert("query".into(), Value::Object(request.query.clone()));
    input.insert("method".into(), Value::String(request.method.clone()));
    input
}

/// Calls `global-webhooks/<key>/handle` with the request; returns the routed
/// events and the handler's `response`.
pub async fn handle_global(
    invoker: &Invoker,
    key: &str,
    request: &WebhookRequest,
) -> Result<(Vec<Routed>, Option<Value>), StrategyError> {
    let path = format!("global-webhooks/{key}/handle");
    let input = request_input(request, request.data());
    let result = invoker.call_path(&path, input).await?;
    let routed =
        runtime_webhook::routed_events(&result).map_err(|problem| StrategyError::Shape {
            collection: invoker.collection.clone(),
            function: path.clone(),
            problem,
        })?;
    Ok((routed, result.get("response").cloned()))
}

/// [`runtime_webhook::selects`] against the state the subscription's
/// `webhook-subscribe` returned.
pub(crate) fn selects(selector: &Value, collection: &str, state: &SubscriptionState) -> bool {
    let registration = state.data.get("state").unwrap_or(&Value::Null);
    runtime_webhook::selects(selector, collection, registration)
}

/// `webhook-unsubscribe` with the stored registration, if the connector
/// has one.
pub(crate) async fn unsubscribe(
    invoker: &Invoker,
    state: &SubscriptionState,
) -> Result<(), StrategyError> {
    let own: WebhookState = read_data(invoker, NAME, state)?;
    call_unsubscribe(invoker, state, &own.state).await
}

async fn call_unsubscribe(
    invoker: &Invoker,
    sub: &SubscriptionState,
    registration: &Value,
) -> Result<(), StrategyError> {
    let unsubscribe = function(invoker, sub, UNSUBSCRIBE);
    if !invoker.has(&unsubscribe) {
        return Ok(());
    }
    let mut input = Map::new();
    registration_input(&mut input, sub, registration);
    invoker.call(&unsubscribe, input).await.map(|_| ())
}

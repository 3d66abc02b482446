//! webhook: `webhook-subscribe` registers the runtime's URL at the external
//! app, each delivery goes through `webhook-handle`, and
//! `webhook-unsubscribe` removes the registration.

use runtime_events::NewEvent;
use runtime_store::SubscriptionState;
use serde_json::{Map, Value};

pub use runtime_webhook::{Routed, WebhookRequest};

use crate::{now, Cycle, Invoker, StrategyError};

/// Subscribes (first cycle) or refreshes a subscription. Refresh uses
/// `events/webhook-refresh.js` when the connector has one, else subscribes
/// again (the old registration is passed as `state`).
pub async fn subscribe(
    invoker: &Invoker,
    state: &SubscriptionState,
    webhook_uri: &str,
) -> Result<Cycle, StrategyError> {
    let refresh = state.baseline_done && invoker.has("events/webhook-refresh");
    let function = if refresh {
        "events/webhook-refresh"
    } else {
        "events/webhook-subscribe"
    };
    let mut input = Map::new();
    input.insert("webhookUri".into(), Value::String(webhook_uri.to_string()));
    if state.baseline_done {
        input.insert("state".into(), state.state.clone());
    }
    let result = invoker.call(function, input).await?;
    let mut next = state.clone();
    next.cycles += 1;
    next.last_cycle_at = Some(now());
    next.last_error = None;
    next.baseline_done = true;
    next.webhook_uri = Some(webhook_uri.to_string());
    // Membrane's subscribe returns {state, nextRefreshTimestamp}; a bare
    // object without `state` is taken as the state itself.
    next.state = match result.get("state") {
        Some(s) => s.clone(),
        None => result.clone(),
    };
    next.next_refresh = match result.get("nextRefreshTimestamp") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok(Cycle {
        events: Vec::new(),
        state: next,
        retire_snapshot: None,
    })
}

/// The registration points at another URL than `webhook_uri` (the run's
/// public URL changed): unsubscribes the old one and subscribes anew, so
/// the external app stops sending where nothing listens. An unsubscribe
/// that fails is logged and the new registration made anyway: events must
/// reach the new URL.
pub async fn move_to(
    invoker: &Invoker,
    state: &SubscriptionState,
    webhook_uri: &str,
) -> Result<Cycle, StrategyError> {
    let old = state.webhook_uri.as_deref().unwrap_or("?");
    tracing::info!(
        collection = %invoker.collection,
        from = old,
        to = webhook_uri,
        "the public URL changed: moving the webhook registration"
    );
    if let Err(e) = unsubscribe(invoker, state).await {
        tracing::warn!(
            collection = %invoker.collection,
            "webhook-unsubscribe of the registration at {old} failed, so the app may still send there: {e}"
        );
    }
    let fresh = SubscriptionState {
        baseline_done: false,
        state: Value::Null,
        next_refresh: None,
        webhook_uri: None,
        ..state.clone()
    };
    subscribe(invoker, &fresh, webhook_uri).await
}

/// What to answer and commit for one request.
pub struct Handled {
    pub cycle: Cycle,
    /// The handler's `response` ({status?, headers?, data?}), if any.
    pub response: Option<Value>,
}

pub async fn handle(
    invoker: &Invoker,
    state: &SubscriptionState,
    request: &WebhookRequest,
) -> Result<Handled, StrategyError> {
    handle_data(invoker, state, request, request.data()).await
}

/// [`handle`] with `data` already decoded (global webhooks route a payload).
pub async fn handle_data(
    invoker: &Invoker,
    state: &SubscriptionState,
    request: &WebhookRequest,
    data: Value,
) -> Result<Handled, StrategyError> {
    let mut input = Map::new();
    input.insert("data".into(), data);
    input.insert("rawBody".into(), Value::String(request.raw_body.clone()));
    input.insert("headers".into(), Value::Object(request.headers.clone()));
    input.insert("query".into(), Value::Object(request.query.clone()));
    input.insert("method".into(), Value::String(request.method.clone()));
    input.insert("state".into(), state.state.clone());
    let result = invoker.call("events/webhook-handle", input).await?;
    let events: Vec<NewEvent> = runtime_events::decode_handle(&result)
        .map_err(|p| invoker.shape("events/webhook-handle", p))?;
    let mut next = state.clone();
    if let Some(s) = result.get("state").filter(|s| !s.is_null()) {
        next.state = s.clone();
    }
    next.last_cycle_at = Some(now());
    Ok(Handled {
        cycle: Cycle {
            events,
            state: next,
            retire_snapshot: None,
        },
        response: result.get("response").cloned(),
    })
}

/// Calls `global-webhooks/<key>/handle` with the request; returns the routed
/// events and the handler's `response`.
pub async fn handle_global(
    invoker: &Invoker,
    key: &str,
    request: &WebhookRequest,
) -> Result<(Vec<Routed>, Option<Value>), StrategyError> {
    let path = format!("global-webhooks/{key}/handle");
    let mut input = Map::new();
    input.insert("data".into(), request.data());
    input.insert("rawBody".into(), Value::String(request.raw_body.clone()));
    input.insert("headers".into(), Value::Object(request.headers.clone()));
    input.insert("query".into(), Value::Object(request.query.clone()));
    input.insert("method".into(), Value::String(request.method.clone()));
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
pub fn selects(selector: &Value, collection: &str, state: &SubscriptionState) -> bool {
    runtime_webhook::selects(selector, collection, &state.state)
}

pub async fn unsubscribe(
    invoker: &Invoker,
    state: &SubscriptionState,
) -> Result<(), StrategyError> {
    if !invoker.has("events/webhook-unsubscribe") {
        return Ok(());
    }
    let mut input = Map::new();
    input.insert("state".into(), state.state.clone());
    invoker
        .call("events/webhook-unsubscribe", input)
        .await
        .map(|_| ())
}

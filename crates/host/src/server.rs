//! The webhook endpoint: `POST {public-url}/webhooks/<collection>/<scope>`.
//! A request is answered only after the events its handler produced are
//! committed durably, so an acknowledged delivery is never lost.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use futures::StreamExt;
use runtime_crash::crash_point;
use runtime_strategies::webhook::{self, WebhookRequest};
use runtime_webhook::{GLOBAL_WEBHOOK_ROUTE, WEBHOOK_ROUTE};
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};
use tracing::Instrument;

use crate::cycle::{self, Outcome, Work};
use crate::error::CycleError;
use crate::shared::Shared;
use crate::HostError;

/// Requests read and handled at once; the rest wait their turn with their
/// bodies unread, so a flood holds at most this many bodies in memory.
const MAX_CONCURRENT: usize = 64;

/// What one webhook request may cost the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Larger bodies get 413, before any of them is read when announced.
    pub max_body: usize,
    /// A sender that has not delivered its whole body by then gets 408.
    pub read_timeout: Duration,
}

/// The turns and body limits of a server's webhook requests, for
/// [`read_body`].
pub struct Gate {
    limits: Limits,
    permits: Semaphore,
}

impl Gate {
    pub fn new(limits: Limits) -> Arc<Gate> {
        Arc::new(Gate {
            limits,
            permits: Semaphore::new(MAX_CONCURRENT),
        })
    }
}

pub(crate) async fn start(
    shared: Arc<Shared>,
    listen: SocketAddr,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> Result<(), HostError> {
    let gate = Gate::new(limits);
    // route_layer: unknown paths get their 404 without a body being read.
    let app = Router::new()
        .route(WEBHOOK_ROUTE, any(receive))
        .route(GLOBAL_WEBHOOK_ROUTE, any(receive_global))
        .route_layer(middleware::from_fn_with_state(gate, read_body))
        .layer(DefaultBodyLimit::max(limits.max_body))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| HostError::Server(format!("cannot listen on {listen}: {e}")))?;
    tracing::info!("webhook server listening on {listen}");
    tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        });
        if let Err(e) = served.await {
            tracing::error!("webhook server stopped: {e}");
        }
    });
    Ok(())
}

/// The answer to a request whose cycle failed (nothing was stored): the
/// status an SDK error thrown by the handler stands for (a 4xx tells the
/// sender not to retry a request it got wrong), else 500 so it retries.
fn failed(path: &str, subscription: Option<&str>, e: &CycleError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let subscription = subscription.unwrap_or("-");
    runtime_metrics::webhook_request(status.as_u16());
    if status.is_client_error() {
        tracing::warn!(%subscription, path = %path, status = status.as_u16(), "webhook request refused by its handler, nothing stored: {e}");
    } else {
        tracing::error!(%subscription, path = %path, status = status.as_u16(), "webhook request failed, nothing stored (the sender should retry): {e}");
    }
    error(status, e.to_string())
}

pub(crate) fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// Takes a turn, then reads the whole body under the size and time limits
/// before the handler sees the request. Without this a sender announcing a
/// huge body, or stalling after its headers, would hold a task and a
/// connection for as long as it liked.
pub async fn read_body(State(gate): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    let Ok(_turn) = gate.permits.acquire().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down".into());
    };
    let Limits {
        max_body,
        read_timeout,
    } = gate.limits;
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than --max-webhook-body ({max_body} bytes)"),
        )
    };
    let (parts, body) = req.into_parts();
    let announced = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > max_body as u64) {
        return too_large();
    }
    let read = async {
        let mut stream = body.into_data_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the body: {e}"),
                )
            })?;
            if buf.len() + chunk.len() > max_body {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    };
    let buf = match tokio::time::timeout(read_timeout, read).await {
        Ok(Ok(buf)) => buf,
        Ok(Err(refused)) => return refused,
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {:.1} s",
                    read_timeout.as_secs_f64()
                ),
            )
        }
    };
    next.run(Request::from_parts(parts, Body::from(buf))).await
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    Path((collection, scope)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive_for(
        &shared,
        &collection,
        &scope,
        &method,
        query.as_deref(),
        &headers,
        &body,
    )
    .await
}

/// A request for one webhook subscription of `shared`'s connection.
pub(crate) async fn receive_for(
    shared: &Shared,
    collection: &str,
    scope: &str,
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let Some(sub) = shared.subs.iter().find(|s| {
        s.plan.collection == collection
            && s.plan.scope == scope
            && s.plan.strategy.receives_requests()
    }) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no webhook subscription for {collection}/{scope}"),
        );
    };
    let request = request_of(method, query, headers, body);
    crash_point!("webhook-after-receive");
    let path = format!("/webhooks/{collection}/{scope}");
    let work = Work::Request {
        request: &request,
        payload: None,
        selector: None,
    };
    match cycle::run(shared, sub, work)
        .instrument(shared.span(collection))
        .await
    {
        Ok(Outcome::Committed { events, response }) => {
            crash_point!("webhook-before-answer");
            answered(shared, &path, events, respond(response))
        }
        Ok(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "subscription not set up yet".into(),
        ),
        Err(e) => failed(&path, Some(&sub.plan.id), &e),
    }
}

/// Counts and logs a request whose events are stored, and answers it.
fn answered(shared: &Shared, path: &str, events: usize, response: Response) -> Response {
    count_request(shared, events);
    logged(path, events, response)
}

/// A webhook request answered 2xx, and the events it committed, in the
/// run's report.
fn count_request(shared: &Shared, events: usize) {
    shared.webhook_requests.fetch_add(1, Ordering::Relaxed);
    shared
        .webhook_events
        .fetch_add(events as u64, Ordering::Relaxed);
}

/// Counts a webhook answer in the metrics and logs it.
fn logged(path: &str, events: usize, response: Response) -> Response {
    runtime_metrics::webhook_request(response.status().as_u16());
    tracing::info!(
        path = %path,
        status = response.status().as_u16(),
        events,
        "webhook request"
    );
    response
}

fn request_of(
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> WebhookRequest {
    let headers = headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes()));
    WebhookRequest::new(method.as_str(), query, headers, body)
}

/// `global-webhooks/<key>`: the connector's `handle` turns one request into
/// `{selector, payload}` events; each payload goes to the `webhook-handle`
/// of every webhook subscription the selector picks, and is committed there.
/// The request is answered after all of them are stored.
async fn receive_global(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut global = shared.base.clone();
    global.collection = format!("global-webhooks/{key}");
    let handled = match GlobalRequest::handle(
        &global,
        &key,
        &method,
        query.as_deref(),
        &headers,
        &body,
    )
    .await
    {
        Ok(h) => h,
        Err(refused) => return refused,
    };
    match route_global(&shared, &handled).await {
        Ok(events) => {
            count_request(&shared, events);
            handled.answer(events)
        }
        Err(refused) => refused,
    }
}

/// A global webhook request its connector-level handler has turned into
/// routed events: `runtime run` routes them to its one connection,
/// `runtime serve` to every connection of the connector.
pub struct GlobalRequest {
    request: WebhookRequest,
    routed: Vec<runtime_webhook::Routed>,
    response: Option<Value>,
    key: String,
    path: String,
}

impl GlobalRequest {
    /// Runs the global webhook `key`'s handler through `invoker`; a
    /// refusal is the answer to send (404 unknown key, the handler's error).
    pub async fn handle(
        invoker: &runtime_strategies::Invoker,
        key: &str,
        method: &Method,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<GlobalRequest, Response> {
        if !invoker.connector.global_webhooks.contains_key(key) {
            return Err(error(
                StatusCode::NOT_FOUND,
                format!("no global webhook `{key}`"),
            ));
        }
        let path = format!("/global-webhooks/{key}");
        let request = request_of(method, query, headers, body);
        match webhook::handle_global(invoker, key, &request).await {
            Ok((routed, response)) => Ok(GlobalRequest {
                request,
                routed,
                response,
                key: key.to_string(),
                path,
            }),
            Err(e) => Err(failed(&path, None, &CycleError::Strategy(e))),
        }
    }

    /// The answer once `events` were committed from it.
    pub fn answer(&self, events: usize) -> Response {
        logged(&self.path, events, respond(self.response.clone()))
    }
}

/// Hands each routed event to the webhook subscriptions of `shared` its
/// selector picks; the events committed, or the answer of a failure.
pub(crate) async fn route_global(
    shared: &Shared,
    handled: &GlobalRequest,
) -> Result<usize, Response> {
    let mut events = 0;
    for event in &handled.routed {
        let mut matched = 0;
        for sub in shared
            .subs
            .iter()
            .filter(|s| s.plan.strategy.receives_requests())
        {
            let work = Work::Request {
                request: &handled.request,
                payload: Some(event.payload.clone()),
                selector: Some(&event.selector),
            };
            match cycle::run(shared, sub, work)
                .instrument(shared.span(&sub.plan.collection))
                .await
            {
                Ok(Outcome::Committed { events: n, .. }) => {
                    matched += 1;
                    events += n;
                }
                Ok(_) => {}
                Err(e) => return Err(failed(&handled.path, Some(&sub.plan.id), &e)),
            }
        }
        if matched == 0 {
            tracing::debug!(selector = %event.selector, "global webhook {}: no subscription selected", handled.key);
        }
    }
    Ok(events)
}

/// The handler's `response`: `{status?, headers?, data?}`; default 200.
fn respond(response: Option<Value>) -> Response {
    let Some(r) = response.filter(|r| r.is_object()) else {
        return (StatusCode::OK, axum::Json(json!({"ok": true}))).into_response();
    };
    let status = r
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut out = match r.get("data") {
        Some(Value::String(s)) => (status, s.clone()).into_response(),
        Some(v) => (status, axum::Json(v.clone())).into_response(),
        None => status.into_response(),
    };
    if let Some(Value::Object(h)) = r.get("headers") {
        for (k, v) in h {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(text),
            ) {
                out.headers_mut().insert(name, value);
            }
        }
    }
    out
}

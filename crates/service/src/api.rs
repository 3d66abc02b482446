//! The HTTP surface of `runtime serve`: the admin API under `/v1` (bearer
//! token, compared in constant time), webhooks at
//! `/webhooks/{connection}/{collection}/{scope}` and
//! `/global-webhooks/{connector}/{key}` (no token: the app's signature is
//! the connector's to check), `/healthz`, `/readyz`, `/metrics`.
//! Handlers only parse, delegate to [`Service`] and shape the answer.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use runtime_host::server::{read_body, Gate, Limits};
use serde_json::{json, Value};

use crate::record::parse_body;
use crate::service::{ApiError, Service};

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ApiError::Internal(m) => {
                tracing::error!("admin request failed: {m}");
                (StatusCode::INTERNAL_SERVER_ERROR, m)
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

type Answer = Result<Response, ApiError>;

fn ok(status: StatusCode, body: Value) -> Answer {
    Ok((status, Json(body)).into_response())
}

pub(crate) fn router(service: Arc<Service>, max_body: usize, read_timeout: Duration) -> Router {
    let admin = Router::new()
        .route("/v1/connections", post(create).get(list))
        .route(
            "/v1/connections/{id}",
            get(show).patch(patch).delete(delete),
        )
        .route("/v1/connections/{id}/subscriptions", get(subscriptions))
        .route(
            "/v1/connections/{id}/subscriptions/{collection}/run",
            post(trigger),
        )
        .route_layer(middleware::from_fn_with_state(service.clone(), authorize));
    let gate = Gate::new(Limits {
        max_body,
        read_timeout,
    });
    let webhooks = Router::new()
        .route(runtime_webhook::CONNECTION_WEBHOOK_ROUTE, any(webhook))
        .route(
            runtime_webhook::CONNECTOR_GLOBAL_WEBHOOK_ROUTE,
            any(global_webhook),
        )
        .route_layer(middleware::from_fn_with_state(gate, read_body));
    Router::new()
        .merge(admin)
        .merge(webhooks)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(unknown)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(service)
}

/// `Authorization: Bearer <token>`, or 401 with no detail.
async fn authorize(State(service): State<Arc<Service>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !runtime_secrets::token_matches(given.as_bytes(), service.admin_token.as_bytes()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({"error": "unauthorized"})),
        )
            .into_response();
    }
    next.run(req).await
}

async fn unknown(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route {method} {}", uri.path()))
}

async fn create(State(service): State<Arc<Service>>, body: Bytes) -> Answer {
    let body = parse_body(&body)?;
    ok(StatusCode::CREATED, service.create(body).await?)
}

async fn list(State(service): State<Arc<Service>>) -> Answer {
    ok(StatusCode::OK, service.list()?)
}

async fn show(State(service): State<Arc<Service>>, Path(id): Path<String>) -> Answer {
    ok(StatusCode::OK, service.show(&id).await?)
}

async fn patch(State(service): State<Arc<Service>>, Path(id): Path<String>, body: Bytes) -> Answer {
    let body = parse_body(&body)?;
    ok(StatusCode::OK, service.patch(&id, body).await?)
}

async fn delete(State(service): State<Arc<Service>>, Path(id): Path<String>) -> Answer {
    service.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn subscriptions(State(service): State<Arc<Service>>, Path(id): Path<String>) -> Answer {
    ok(StatusCode::OK, service.subscriptions(&id).await?)
}

async fn trigger(
    State(service): State<Arc<Service>>,
    Path((id, collection)): Path<(String, String)>,
) -> Answer {
    ok(StatusCode::ACCEPTED, service.trigger(&id, &collection)?)
}

async fn webhook(
    State(service): State<Arc<Service>>,
    Path((id, collection, scope)): Path<(String, String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let run = service.webhook_target(&id)?;
    Ok(run
        .webhook(
            &collection,
            &scope,
            &method,
            query.as_deref(),
            &headers,
            &body,
        )
        .await)
}

async fn global_webhook(
    State(service): State<Arc<Service>>,
    Path((connector, key)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    service
        .global_webhook(
            &connector,
            &key,
            (&method, query.as_deref(), &headers, &body),
        )
        .await
}

async fn healthz() -> Answer {
    ok(StatusCode::OK, json!({"status": "ok"}))
}

/// 200 when the store can write and the sink takes events; else 503
/// naming which is not.
async fn readyz(State(service): State<Arc<Service>>) -> Answer {
    let mut problems = serde_json::Map::new();
    if let Some(failure) = service.store.unready().await {
        problems.insert(
            "store".into(),
            json!(format!("{}: {failure}", service.store_name)),
        );
    }
    if let Some(failing) = service.delivery.failing() {
        problems.insert("sink".into(), json!(failing));
    }
    if problems.is_empty() {
        return ok(StatusCode::OK, json!({"status": "ready"}));
    }
    let names: Vec<&str> = problems.keys().map(String::as_str).collect();
    let error = format!("not ready: {}", names.join(" and "));
    problems.insert("error".into(), json!(error));
    ok(StatusCode::SERVICE_UNAVAILABLE, Value::Object(problems))
}

/// Prometheus (OpenMetrics) text; no token, as scrapers expect (put the
/// admin port behind the network boundary you trust, docs/serve.md).
async fn metrics(State(service): State<Arc<Service>>) -> Answer {
    let snapshot = service.metrics_snapshot().await;
    Ok((
        [(header::CONTENT_TYPE, runtime_metrics::CONTENT_TYPE)],
        runtime_metrics::render(snapshot),
    )
        .into_response())
}

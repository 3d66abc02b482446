//! Retry-After, backoff, idempotency and the attempt/time budgets.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use common::{fast, serve, settings_for};
use runtime_api_client::{ApiRequest, HttpClient, HttpConfig};

/// A server whose n-th hit (from 1) is answered by `respond(n)`; returns the hit counter.
async fn counting(respond: fn(usize) -> Response) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let addr = serve(Router::new().route(
        "/r",
        any(move || {
            let n = h.fetch_add(1, Ordering::SeqCst) + 1;
            async move { respond(n) }
        }),
    ))
    .await;
    (format!("http://{addr}"), hits)
}

fn ok() -> Response {
    (StatusCode::OK, "done").into_response()
}

#[tokio::test]
async fn too_many_requests_waits_retry_after_seconds_even_for_post() {
    let (base, hits) = counting(|n| {
        if n == 1 {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response()
        } else {
            ok()
        }
    })
    .await;
    let started = Instant::now();
    let resp = HttpClient::new()
        .unwrap()
        .send(&settings_for(&base), &fast(), ApiRequest::new("POST", "/r"))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn unavailable_waits_for_an_http_date_retry_after() {
    let (base, hits) = counting(|n| {
        if n == 1 {
            let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(1));
            (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", when)]).into_response()
        } else {
            ok()
        }
    })
    .await;
    let started = Instant::now();
    let resp = HttpClient::new()
        .unwrap()
        .send(&settings_for(&base), &fast(), ApiRequest::new("GET", "/r"))
        .await
        .unwrap();
    assert_eq!((resp.status, hits.load(Ordering::SeqCst)), (200, 2));
    assert!(started.elapsed() < Duration::from_secs(3));
}

fn burst_of_500(n: usize) -> Response {
    if n <= 3 {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    } else {
        ok()
    }
}

#[tokio::test]
async fn server_errors_are_retried_for_get() {
    let (base, hits) = counting(burst_of_500).await;
    let resp = HttpClient::new()
        .unwrap()
        .send(&settings_for(&base), &fast(), ApiRequest::new("GET", "/r"))
        .await
        .unwrap();
    assert_eq!((resp.status, hits.load(Ordering::SeqCst)), (200, 4));
}

#[tokio::test]
async fn server_errors_are_not_retried_for_post() {
    let (base, hits) = counting(burst_of_500).await;
    let err = HttpClient::new()
        .unwrap()
        .send(&settings_for(&base), &fast(), ApiRequest::new("POST", "/r"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "http");
    assert_eq!(err.response().unwrap().status, 500);
    assert!(
        err.to_string()
            .contains("not retried: POST is not idempotent"),
        "{err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (base, hits) = counting(|_| StatusCode::NOT_FOUND.into_response()).await;
    let err = HttpClient::new()
        .unwrap()
        .send(&settings_for(&base), &fast(), ApiRequest::new("GET", "/r"))
        .await
        .unwrap_err();
    assert_eq!((err.kind(), hits.load(Ordering::SeqCst)), ("http", 1));
}

#[tokio::test]
async fn attempts_are_bounded_and_reported() {
    let (base, hits) = counting(|_| StatusCode::BAD_GATEWAY.into_response()).await;
    let config = HttpConfig {
        max_attempts: 3,
        ..fast()
    };
    let err = HttpClient::new()
        .unwrap()
        .send(&settings_for(&base), &config, ApiRequest::new("GET", "/r"))
        .await
        .unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(err.attempts(), Some(3));
    assert_eq!(
        err.to_string(),
        format!("GET {base}/r returned 502 Bad Gateway (after 3 attempts)")
    );
}

#[tokio::test]
async fn retry_after_beyond_the_budget_fails_at_once() {
    let (base, hits) =
        counting(|_| (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3600")]).into_response())
            .await;
    let started = Instant::now();
    let err = HttpClient::new()
        .unwrap()
        .send(&settings_for(&base), &fast(), ApiRequest::new("GET", "/r"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(err.response().unwrap().status, 429);
    assert!(
        err.to_string()
            .contains("Retry-After 3600 s is longer than"),
        "{err}"
    );
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = HttpConfig {
        max_attempts: 3,
        ..fast()
    };
    let err = HttpClient::new()
        .unwrap()
        .send(
            &settings_for(&format!("http://127.0.0.1:{port}")),
            &config,
            ApiRequest::new("GET", "/r"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "connect");
    assert_eq!(err.attempts(), Some(3));
    assert!(err.to_string().contains("(after 3 attempts)"), "{err}");
}

//! Logs say what happened without credentials: DEBUG per response, INFO per
//! retry (at most one line per 5 s per method and host).

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::{fast, serve};
use runtime_api_client::{ApiRequest, ClientSettings, HttpClient};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn capture(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    (
        captured.clone(),
        tracing::subscriber::set_default(subscriber),
    )
}

fn text(captured: &Captured) -> String {
    String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
}

fn secret_settings(addr: std::net::SocketAddr) -> ClientSettings {
    ClientSettings::from_make_api_client(
        &json!({
            "baseUri": format!("http://{addr}"),
            "headers": {"Authorization": "Bearer HEADER-SECRET"},
            "query": {"tenant": "QUERY-SECRET"}
        }),
        None,
        &[],
    )
    .unwrap()
}

#[tokio::test]
async fn a_retry_after_wait_is_one_info_line_naming_host_status_and_wait() {
    let (captured, _guard) = capture(tracing::Level::INFO);
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let addr = serve(Router::new().route(
        "/r",
        get(move || {
            let n = h.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response()
                } else {
                    "ok".into_response()
                }
            }
        }),
    ))
    .await;
    let resp = HttpClient::new()
        .unwrap()
        .send(
            &secret_settings(addr),
            &fast(),
            ApiRequest::new("GET", "/r?access_token=PATH-SECRET"),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 200);

    let logs = text(&captured);
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(" INFO ")).collect();
    assert_eq!(lines.len(), 1, "{logs}");
    let line = lines[0];
    let port = addr.port();
    assert!(
        line.contains(&format!(
            "rate-limited by 127.0.0.1:{port} (429): waiting 1.0 s (Retry-After), attempt 2 of 5"
        )),
        "{line}"
    );
    assert!(
        line.contains("cause=429")
            && line.contains("wait_ms=1000")
            && line.contains("suppressed=0"),
        "{line}"
    );
    assert!(line.contains("access_token=***&tenant=***"), "{line}");
    for secret in ["HEADER-SECRET", "QUERY-SECRET", "PATH-SECRET"] {
        assert!(!logs.contains(secret), "{secret} leaked into logs:\n{logs}");
    }
}

#[tokio::test]
async fn a_storm_of_retries_writes_one_info_line_per_method_and_host() {
    let (captured, _guard) = capture(tracing::Level::DEBUG);
    let addr =
        serve(Router::new().route("/down", get(|| async { StatusCode::SERVICE_UNAVAILABLE })))
            .await;
    let client = HttpClient::new().unwrap();
    for _ in 0..3 {
        let err = client
            .send(
                &secret_settings(addr),
                &fast(),
                ApiRequest::new("GET", "/down"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), Some(5));
    }
    let logs = text(&captured);
    let info: Vec<&str> = logs.lines().filter(|l| l.contains(" INFO ")).collect();
    assert_eq!(info.len(), 1, "12 retries, one line:\n{logs}");
    assert!(
        info[0].contains(&format!(
            "GET http://{addr}/down?tenant=*** failed (503), retrying in "
        )) && info[0].contains(" s (backoff), attempt 2 of 5"),
        "{}",
        info[0]
    );
    let held = logs
        .lines()
        .filter(|l| l.contains(" DEBUG ") && l.contains("failed (503), retrying"))
        .count();
    assert_eq!(held, 11, "the others go to DEBUG:\n{logs}");
}

#[tokio::test]
async fn debug_logs_carry_status_and_attempt_but_no_secrets() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let addr = serve(Router::new().route(
        "/r",
        get(move || {
            let n = h.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                } else {
                    "ok".into_response()
                }
            }
        }),
    ))
    .await;
    let s = ClientSettings::from_make_api_client(
        &json!({
            "baseUri": format!("http://{addr}"),
            "headers": {"Authorization": "Bearer HEADER-SECRET"},
            "query": {"tenant": "QUERY-SECRET"}
        }),
        None,
        &[],
    )
    .unwrap();
    let resp = HttpClient::new()
        .unwrap()
        .send(
            &s,
            &fast(),
            ApiRequest::new("GET", "/r?access_token=PATH-SECRET&page=2"),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 200);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("status=500") && logs.contains("status=200"),
        "{logs}"
    );
    assert!(
        logs.contains("attempt=2") && logs.contains("elapsed_ms="),
        "{logs}"
    );
    assert!(
        logs.contains("access_token=***&page=2&tenant=***"),
        "{logs}"
    );
    for secret in ["HEADER-SECRET", "QUERY-SECRET", "PATH-SECRET"] {
        assert!(!logs.contains(secret), "{secret} leaked into logs:\n{logs}");
    }
}

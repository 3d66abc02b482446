//! Debug logs say what happened without credentials.

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

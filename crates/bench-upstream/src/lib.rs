//! Benchmark support for `bench/`: a fast paginated upstream
//! (`GET /items?cursor=N`) whose pages are serialized once at start, so the
//! upstream is never the bottleneck, and the plain reqwest loop that pages
//! through it (the physical limit of the apiClient path).
//!
//! It must never become part of the runtime: nothing outside `bench/` and
//! this crate's tests may depend on it.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Value};

/// Records per page, as the issue asks (a realistic API page).
pub const DEFAULT_PAGE_SIZE: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("request to {url} failed: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} did not return JSON: {source}")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{url} returned no `records` array")]
    NoRecords { url: String },
}

/// One record of about 1 KB of JSON: the shape of a CRM contact.
pub fn record(i: usize) -> Value {
    const WORDS: [&str; 8] = [
        "renewal",
        "pricing",
        "onboarding",
        "support",
        "migration",
        "billing",
        "contract",
        "review",
    ];
    let mut note = String::with_capacity(520);
    let mut w = i;
    while note.len() < 500 {
        note.push_str(WORDS[w % WORDS.len()]);
        note.push(' ');
        w = w.wrapping_mul(31).wrapping_add(7);
    }
    json!({
        "id": format!("item-{i:08}"),
        "name": format!("Contact Number {i}"),
        "email": format!("contact.{i}@example-company-{}.com", i % 97),
        "phone": format!("+1-555-{:04}-{:04}", i % 10_000, (i * 7) % 10_000),
        "company": format!("Example Company {} Ltd", i % 97),
        "title": "Head of Operations",
        "status": if i.is_multiple_of(3) { "active" } else { "lead" },
        "score": (i * 13) % 100,
        "address": {
            "street": format!("{} Market Street", i % 1000),
            "city": "San Francisco",
            "zip": format!("94{:03}", i % 1000),
            "country": "US",
        },
        "tags": ["customer", WORDS[i % WORDS.len()], "2026"],
        "createdTime": format!("2026-01-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60),
        "updatedTime": format!("2026-11-{:02}T12:{:02}:30Z", 1 + i % 26, i % 60),
        "notes": note.trim_end(),
    })
}

/// Every page of `total` records, serialized: `{"records": [...], "cursor": "N+1"}`
/// with no cursor on the last page. Zero records give one empty last page.
pub fn pages(total: usize, page_size: usize) -> Vec<Bytes> {
    let page_size = page_size.max(1);
    let count = total.div_ceil(page_size).max(1);
    (0..count)
        .map(|p| {
            let start = p * page_size;
            let end = (start + page_size).min(total);
            let records: Vec<Value> = (start..end).map(record).collect();
            let mut body = json!({ "records": records });
            if p + 1 < count {
                body["cursor"] = json!((p + 1).to_string());
            }
            Bytes::from(body.to_string())
        })
        .collect()
}

/// The upstream's routes over pre-serialized `pages`.
pub fn router(pages: Vec<Bytes>) -> Router {
    Router::new()
        .route("/items", get(items))
        .with_state(Arc::new(pages))
}

async fn items(
    State(pages): State<Arc<Vec<Bytes>>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let index = match q.get("cursor").map(|c| c.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return (StatusCode::BAD_REQUEST, "cursor must be a page number").into_response()
        }
    };
    match pages.get(index) {
        Some(body) => ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no page {index}")).into_response(),
    }
}

/// Serves [`router`] on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, pages: Vec<Bytes>) -> std::io::Result<()> {
    // Without TCP_NODELAY, Nagle's algorithm holds a page's last segment
    // until the client's delayed ACK (~40 ms): a benchmark of the kernel.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(pages)).await
}

/// Pages through `{base}/items` as the benchmark connector does: one GET per
/// page, the whole body parsed as JSON, records counted. Returns the count.
pub async fn list_all(client: &reqwest::Client, base: &str) -> Result<u64, BenchError> {
    let mut count = 0u64;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}/items?cursor={c}"),
            None => format!("{base}/items"),
        };
        let http = |source| BenchError::Http {
            url: url.clone(),
            source,
        };
        let response = client.get(&url).send().await.map_err(http)?;
        if !response.status().is_success() {
            return Err(BenchError::Status {
                status: response.status().as_u16(),
                url,
            });
        }
        let body = response.bytes().await.map_err(http)?;
        let page: Value = serde_json::from_slice(&body).map_err(|source| BenchError::Json {
            url: url.clone(),
            source,
        })?;
        let records = page["records"]
            .as_array()
            .ok_or_else(|| BenchError::NoRecords { url: url.clone() })?;
        count += records.len() as u64;
        cursor = page
            .get("cursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            return Ok(count);
        }
    }
}

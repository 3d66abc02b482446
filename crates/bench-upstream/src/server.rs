//! The upstream's HTTP side: `GET /items?cursor=N` over pre-serialized
//! pages, `GET /latest` (one small fixed page), and
//! `POST /admin/change?percent=P&seed=S`, which swaps in the data set with
//! P% of the records changed (`percent=0` restores the original) so a
//! full-scan benchmark can diff two scans of the same process.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use bytes::Bytes;

use crate::records::{latest_page, page, page_count, Changes};

/// Records served by `GET /latest` unless told otherwise.
pub const DEFAULT_LATEST_RECORDS: usize = 2;

/// The upstream's data: the original pages, the pages served now, and the
/// `/latest` page.
pub struct Upstream {
    total: usize,
    page_size: usize,
    original: Arc<Vec<Bytes>>,
    current: RwLock<Arc<Vec<Bytes>>>,
    latest: Bytes,
}

impl Upstream {
    /// Serializes every page of `total` records once.
    pub fn new(total: usize, page_size: usize) -> Upstream {
        let page_size = page_size.max(1);
        let original: Arc<Vec<Bytes>> = Arc::new(
            (0..page_count(total, page_size))
                .map(|p| page(total, page_size, p, &Changes::NONE))
                .collect(),
        );
        Upstream {
            total,
            page_size,
            current: RwLock::new(original.clone()),
            original,
            latest: latest_page(DEFAULT_LATEST_RECORDS),
        }
    }

    /// Serves `n` records on `GET /latest`.
    pub fn with_latest(mut self, n: usize) -> Upstream {
        self.latest = latest_page(n);
        self
    }

    /// Switches to the original data with `changes` applied; returns how
    /// many records differ from the original. Pages without a changed
    /// record are shared with the original, not serialized again.
    pub fn apply(&self, changes: &Changes) -> usize {
        let mut changed = 0;
        let pages = (0..self.original.len())
            .map(|p| {
                let start = p * self.page_size;
                let end = (start + self.page_size).min(self.total);
                let n = (start..end).filter(|&i| changes.is_changed(i)).count();
                changed += n;
                if n == 0 {
                    self.original[p].clone()
                } else {
                    page(self.total, self.page_size, p, changes)
                }
            })
            .collect();
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(pages);
        }
        changed
    }

    fn page(&self, index: usize) -> Option<Bytes> {
        let pages = self.current.read().ok()?.clone();
        pages.get(index).cloned()
    }
}

/// The upstream's routes.
pub fn router(upstream: Upstream) -> Router {
    Router::new()
        .route("/items", get(items))
        .route("/latest", get(latest))
        .route("/admin/change", post(change))
        .with_state(Arc::new(upstream))
}

type Params = Query<HashMap<String, String>>;

fn json(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn items(State(up): State<Arc<Upstream>>, Query(q): Params) -> Response {
    let index = match q.get("cursor").map(|c| c.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return (StatusCode::BAD_REQUEST, "cursor must be a page number").into_response()
        }
    };
    match up.page(index) {
        Some(body) => json(body),
        None => (StatusCode::NOT_FOUND, format!("no page {index}")).into_response(),
    }
}

async fn latest(State(up): State<Arc<Upstream>>) -> Response {
    json(up.latest.clone())
}

async fn change(State(up): State<Arc<Upstream>>, Query(q): Params) -> Response {
    let number = |key: &str| q.get(key).map(|v| v.parse::<f64>());
    let percent = match number("percent") {
        Some(Ok(p)) if (0.0..=100.0).contains(&p) => p,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "percent must be a number from 0 to 100",
            )
                .into_response()
        }
    };
    let seed = match q.get("seed").map(|v| v.parse::<u64>()) {
        None => 0,
        Some(Ok(s)) => s,
        Some(Err(_)) => {
            return (StatusCode::BAD_REQUEST, "seed must be a whole number").into_response()
        }
    };
    // Re-serializing pages is CPU work: keep it off the async workers.
    let changed = tokio::task::spawn_blocking(move || up.apply(&Changes { percent, seed })).await;
    match changed {
        Ok(n) => json(Bytes::from(format!("{{\"changed\":{n}}}"))),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Serves [`router`] on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, upstream: Upstream) -> std::io::Result<()> {
    // Without TCP_NODELAY, Nagle's algorithm holds a page's last segment
    // until the client's delayed ACK (~40 ms): a benchmark of the kernel.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(upstream)).await
}

//! Benchmark support for `bench/`: a fast paginated upstream
//! (`GET /items?cursor=N`) whose pages are serialized once at start, so the
//! upstream is never the bottleneck, with a way to change some records
//! between two full scans; the plain reqwest loop that pages through it
//! (the physical limit of the apiClient path); and `bench-invoke`, which
//! times engine calls through the runtime-engine API.
//!
//! It must never become part of the runtime: nothing outside `bench/` and
//! this crate's tests may depend on it.

mod records;
mod server;

use serde_json::Value;

pub use records::{latest_page, pages, record, record_with, Changes, DEFAULT_PAGE_SIZE};
pub use server::{router, serve, Upstream, DEFAULT_LATEST_RECORDS};

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

/// Pages through `{base}/items` as the benchmark connector does: one GET per
/// page, the whole body parsed as JSON, records counted. Returns the count.
pub async fn list_all(client: &reqwest::Client, base: &str) -> Result<u64, BenchError> {
    list_all_timed(client, base).await.map(|(count, _)| count)
}

/// [`list_all`], also returning the time spent parsing the pages (the
/// rest is HTTP): docs/benchmarks.md compares it with JavaScript's
/// `JSON.parse` of the same pages.
pub async fn list_all_timed(
    client: &reqwest::Client,
    base: &str,
) -> Result<(u64, std::time::Duration), BenchError> {
    let mut parsing = std::time::Duration::ZERO;
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
        let started = std::time::Instant::now();
        let page: Value = serde_json::from_slice(&body).map_err(|source| BenchError::Json {
            url: url.clone(),
            source,
        })?;
        parsing += started.elapsed();
        let records = page["records"]
            .as_array()
            .ok_or_else(|| BenchError::NoRecords { url: url.clone() })?;
        count += records.len() as u64;
        cursor = page
            .get("cursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            return Ok((count, parsing));
        }
    }
}

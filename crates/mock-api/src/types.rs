//! Public value types: options, faults, and what the mock observed.

use std::time::{Duration, Instant};

use serde::Serialize;

/// How a [`crate::MockApi`] behaves. `Default` gives an open API (no auth)
/// with pages of 10 and unsigned webhooks.
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// Every path except `/echo/...` and `/auth/...` needs
    /// `Authorization: Bearer <token>`.
    pub require_auth: bool,
    /// The bearer token accepted at start.
    pub token: String,
    /// The refresh token `/auth/refresh` accepts; `None` accepts any
    /// non-empty one.
    pub refresh_token: Option<String>,
    /// Default page size of every paginated endpoint.
    pub page_size: usize,
    /// Signs webhook deliveries (`x-mock-timestamp`, `x-mock-signature`).
    pub webhook_secret: Option<String>,
    /// How long one webhook delivery may take before it counts as failed.
    pub webhook_timeout: Duration,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Seconds the logical clock advances per change (0: changes share a time).
    pub clock_step_secs: u64,
    /// 1 runs the server on a current-thread runtime; more use a
    /// multi-thread runtime with that many workers (for benchmarks).
    pub worker_threads: usize,
    /// The request log keeps at most this many requests (oldest dropped),
    /// so a long demo run does not grow without bound.
    pub max_recorded_requests: usize,
    /// Rate-limit mode: a request that would be the (N+1)-th accepted
    /// within the last second gets 429 with `Retry-After: 1` (and counts in
    /// [`crate::MockApi::rate_limited`]). `None`: no limit.
    pub rate_limit_per_second: Option<usize>,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            require_auth: false,
            token: "test-token".to_string(),
            refresh_token: None,
            page_size: 10,
            webhook_secret: None,
            webhook_timeout: Duration::from_secs(2),
            port: 0,
            clock_step_secs: 1,
            worker_threads: 1,
            max_recorded_requests: 100_000,
            rate_limit_per_second: None,
        }
    }
}

/// A misbehaviour injected with [`crate::MockApi::inject`]. Each one really
/// happens on the wire.
///
/// `Status`, `Hang`, `Reset`, `NonJson`, `Oversize` and `RedirectTo` replace
/// the request's handling (no data changes). `SlowHeaders`, `StallBody` and
/// `Truncate` handle the request for real (a POST does create) and then
/// spoil the delivery of the answer, as a flaky network would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status; `retry_after` becomes the `Retry-After`
    /// header (seconds or an HTTP date); `body` replaces the JSON error body.
    Status {
        code: u16,
        retry_after: Option<String>,
        body: Option<String>,
    },
    /// Accept the request, send nothing for that long, then close.
    Hang(Duration),
    /// Wait that long before the status line, then answer normally.
    SlowHeaders(Duration),
    /// Send the headers and `after_bytes` of the body, stall, then the rest.
    StallBody { after_bytes: usize, stall: Duration },
    /// Announce a `Content-Length` larger than the body sent, then close.
    Truncate,
    /// Close the connection (TCP RST) without any response.
    Reset,
    /// 200 with `content-type: application/json` and a body that is not JSON.
    NonJson,
    /// 200 with a valid JSON body of exactly that many bytes (at least 27),
    /// streamed in chunks.
    Oversize(usize),
    /// 302 to this absolute URL.
    RedirectTo(String),
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The path as received (still percent-encoded).
    pub path: String,
    /// The raw query string as received, without `?`; empty if none.
    pub query: String,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON, or `None` when it is not JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A webhook subscription made with `POST /webhooks` or
/// [`crate::MockApi::register_webhook`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WebhookRegistration {
    pub id: String,
    pub url: String,
    /// Only changes of this collection; `None`: all.
    pub collection: Option<String>,
    /// Only these event types (`created`, `updated`, `deleted`); `None`: all.
    pub events: Option<Vec<String>>,
}

/// The outcome of one webhook POST.
#[derive(Clone, Debug)]
pub struct WebhookDelivery {
    pub webhook_id: String,
    pub url: String,
    pub event_type: String,
    pub seq: u64,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// Why no answer came (connect error, timeout).
    pub error: Option<String>,
    /// The exact body sent.
    pub body: String,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
}

/// Why the mock could not start.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error("mock-api: cannot bind 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("mock-api: cannot start its tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("mock-api: cannot build the webhook HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("mock-api: cannot start the server thread: {0}")]
    Thread(#[source] std::io::Error),
}

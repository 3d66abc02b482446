use std::time::Duration;

use crate::client::ApiResponse;

/// Why a request failed. URLs in messages are redacted; header values never
/// appear. `note` carries the attempt count and why retrying stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApiClientError {
    #[error("{method} {url} returned {}{note}{}", status_line(response.status), excerpt_suffix(excerpt))]
    Http {
        method: String,
        url: String,
        /// The whole response; the message shows only `excerpt`.
        response: Box<ApiResponse>,
        /// The body on one line, redacted and cut (`redact::body_excerpt`).
        excerpt: String,
        attempts: u32,
        note: String,
    },
    #[error("{method} {url}{redirect}: origin {origin} is not allowed; to allow it add \"{host}\" (any port) or \"{origin}\" to allowedHosts in the connector's spec.yml")]
    NotAllowed {
        method: String,
        url: String,
        origin: String,
        host: String,
        /// `" (redirected from ...)"` when a redirect led here.
        redirect: String,
    },
    /// The address guard refused every address of the host
    /// ([`crate::AddressGuard`]); nothing was sent. Never retried.
    #[error("{method} {url}{redirect}: refused: {detail}")]
    Blocked {
        method: String,
        url: String,
        /// The host as the URL names it.
        host: String,
        /// The addresses, their ranges, and how to allow them.
        detail: String,
        /// `" (redirected from ...)"` when a redirect led here.
        redirect: String,
    },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("{method} {url} timed out after {} ms{note}", timeout.as_millis())]
    Timeout {
        method: String,
        url: String,
        timeout: Duration,
        attempts: u32,
        note: String,
    },
    #[error("{method} {url} failed: {detail}{note}")]
    Connect {
        method: String,
        url: String,
        detail: String,
        attempts: u32,
        note: String,
    },
    #[error("{method} {url}: response body {detail} exceeds the response size cap of {limit} bytes (`http.maxResponseBytes` in spec.yml)")]
    TooLarge {
        method: String,
        url: String,
        detail: String,
        limit: usize,
    },
    #[error("{method} {url}: {detail}{note}")]
    Body {
        method: String,
        url: String,
        detail: String,
        /// A cut-off body may come whole next time; an undecodable one will not.
        transient: bool,
        attempts: u32,
        note: String,
    },
    #[error("could not set up the HTTP client: {0}")]
    Setup(String),
}

/// `404 Not Found`; the number alone for a status reqwest cannot name.
fn status_line(status: u16) -> String {
    reqwest::StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string())
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.is_empty() {
        String::new()
    } else {
        format!(": {excerpt}")
    }
}

impl ApiClientError {
    /// A stable name for the failure, for the JavaScript side and for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiClientError::Http { .. } => "http",
            ApiClientError::NotAllowed { .. } => "not_allowed",
            ApiClientError::Blocked { .. } => "blocked",
            ApiClientError::InvalidRequest(_) => "invalid_request",
            ApiClientError::Timeout { .. } => "timeout",
            ApiClientError::Connect { .. } => "connect",
            ApiClientError::TooLarge { .. } => "too_large",
            ApiClientError::Body { .. } => "body",
            ApiClientError::Setup(_) => "setup",
        }
    }

    /// For kind "http": the non-2xx response.
    pub fn response(&self) -> Option<&ApiResponse> {
        match self {
            ApiClientError::Http { response, .. } => Some(response),
            _ => None,
        }
    }

    /// How many attempts were made, when the request was sent at all.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            ApiClientError::Http { attempts, .. }
            | ApiClientError::Timeout { attempts, .. }
            | ApiClientError::Connect { attempts, .. }
            | ApiClientError::Body { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    /// Whether an idempotent request may be tried again after this failure.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(
            self,
            ApiClientError::Timeout { .. }
                | ApiClientError::Connect { .. }
                | ApiClientError::Body {
                    transient: true,
                    ..
                }
        ) || matches!(self, ApiClientError::Http { response, .. } if response.status >= 500)
    }

    /// Records the attempt count and why retrying stopped.
    pub(crate) fn finish(mut self, total: u32, why: &str) -> Self {
        let text = match (total, why.is_empty()) {
            (1, true) => String::new(),
            (1, false) => format!(" ({why})"),
            (n, true) => format!(" (after {n} attempts)"),
            (n, false) => format!(" (after {n} attempts; {why})"),
        };
        match &mut self {
            ApiClientError::Http { attempts, note, .. }
            | ApiClientError::Timeout { attempts, note, .. }
            | ApiClientError::Connect { attempts, note, .. }
            | ApiClientError::Body { attempts, note, .. } => {
                *attempts = total;
                *note = text;
            }
            _ => {}
        }
        self
    }
}

use std::time::Duration;

/// Per-connector HTTP limits. `Default` gives the documented values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Time allowed to open a TCP/TLS connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, from sending until the whole body is
    /// read (redirects included). Default 60 s.
    pub request_timeout: Duration,
    /// Largest response body accepted. Checked against `Content-Length`
    /// before reading, then counted while streaming. Default 50 MiB.
    pub max_response_bytes: usize,
    /// Total attempts, the first included. Default 5.
    pub max_attempts: u32,
    /// Total time, from the first attempt, within which retries may start.
    /// Default 120 s.
    pub max_retry_elapsed: Duration,
    /// First backoff ceiling; doubles per attempt, with full jitter. Default 500 ms.
    pub base_backoff: Duration,
    /// Largest backoff ceiling. Default 30 s.
    pub max_backoff: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_response_bytes: 50 * 1024 * 1024,
            max_attempts: 5,
            max_retry_elapsed: Duration::from_secs(120),
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

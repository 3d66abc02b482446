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
    /// The connector's declared budget (`rateLimit` in its spec): requests
    /// to one host wait for their turn instead of drawing 429s, per
    /// [`crate::ClientSettings::limit_scope`] and host. Default `None`: no
    /// waiting, as before.
    pub rate_limit: Option<RateLimit>,
}

/// At most `requests` requests per `per`, to one host, per scope: the
/// spec's `rateLimit: {requests, perSeconds}`. How the budget is spent
/// and how 429s shrink it: `rate_limit.rs` and docs/connector-format.md,
/// "Rate limits".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    requests: u64,
    per: Duration,
}

impl RateLimit {
    /// `None` unless `requests` is at least 1 and `per_seconds` a finite
    /// number above 0 that fits a [`Duration`] (the connector crate's
    /// checks of the spec guarantee it).
    pub fn new(requests: u64, per_seconds: f64) -> Option<RateLimit> {
        if requests == 0 || per_seconds.is_nan() || per_seconds <= 0.0 {
            return None;
        }
        let per = Duration::try_from_secs_f64(per_seconds).ok()?;
        (!per.is_zero()).then_some(RateLimit { requests, per })
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    pub fn per(&self) -> Duration {
        self.per
    }

    /// Requests per second.
    pub(crate) fn rate(&self) -> f64 {
        self.requests as f64 / self.per.as_secs_f64()
    }
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
            rate_limit: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_needs_a_request_and_a_positive_finite_window() {
        let r = RateLimit::new(100, 10.0).unwrap();
        assert_eq!((r.requests(), r.per()), (100, Duration::from_secs(10)));
        assert_eq!(r.rate(), 10.0);
        assert_eq!(RateLimit::new(1, 0.25).map(|r| r.rate()), Some(4.0));
        for (n, s) in [
            (0, 1.0),
            (1, 0.0),
            (1, -1.0),
            (1, f64::NAN),
            (1, f64::INFINITY),
            (1, 1e-12),
        ] {
            assert_eq!(RateLimit::new(n, s), None, "{n} per {s}");
        }
    }
}

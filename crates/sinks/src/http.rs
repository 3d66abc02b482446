use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, Response, StatusCode};
use runtime_events::EventLine;
use runtime_retry::{parse_retry_after, Backoff, Jitter};
use url::Url;

use crate::{Sink, SinkError};

/// Header carrying `<first event id>:<count>`, identical on every
/// redelivery of the same batch so a receiver can drop duplicates.
pub const IDEMPOTENCY_HEADER: &str = "x-idempotency-key";

const EXCERPT_BYTES: usize = 1024;
const EXCERPT_CHARS: usize = 300;

/// Where `--sink http(s)://URL` posts, and how hard it tries.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpSinkConfig {
    pub url: Url,
    /// Events per request.
    pub max_batch: usize,
    /// Per request, including reading the answer.
    pub timeout: Duration,
    /// Attempts per batch; 0 retries forever, so no event is ever dropped.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Sent with every request (e.g. authorization); values never logged.
    pub headers: Vec<(String, String)>,
}

impl HttpSinkConfig {
    pub fn new(url: Url) -> HttpSinkConfig {
        HttpSinkConfig {
            url,
            max_batch: 500,
            timeout: Duration::from_secs(30),
            max_attempts: 0,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            headers: Vec::new(),
        }
    }
}

// Header values are often credentials: keep them out of debug output.
impl fmt::Debug for HttpSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpSinkConfig")
            .field("url", &redacted_url(&self.url))
            .field("max_batch", &self.max_batch)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("base_backoff", &self.base_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("headers", &header_names)
            .finish()
    }
}

/// The URL with any user name or password replaced by `***`.
pub(crate) fn redacted_url(url: &Url) -> String {
    let mut shown = url.clone();
    if !url.username().is_empty() {
        let _ = shown.set_username("***");
    }
    if url.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// POSTs `{"events": [...]}` in batches; a batch counts as delivered only
/// on a 2xx answer.
#[derive(Debug)]
pub struct HttpSink {
    client: Client,
    config: HttpSinkConfig,
    headers: HeaderMap,
    describe: String,
    retries: u64,
}

/// `{"events": [...]}` of a batch: the stored lines are JSON objects, so
/// they are joined as they are.
fn body(batch: &[EventLine]) -> Vec<u8> {
    let size = batch.iter().map(|e| e.json.len() + 1).sum::<usize>() + 16;
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(b"{\"events\":[");
    for (i, event) in batch.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(event.json.as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

impl HttpSink {
    pub fn new(config: &HttpSinkConfig) -> Result<HttpSink, SinkError> {
        let describe = format!("http sink {}", redacted_url(&config.url));
        let bad = |reason: String| SinkError::Config {
            sink: describe.clone(),
            reason,
        };
        if !matches!(config.url.scheme(), "http" | "https") {
            return Err(bad(format!(
                "scheme {:?} is not http or https",
                config.url.scheme()
            )));
        }
        if config.max_batch == 0 {
            return Err(bad("max_batch must be at least 1".into()));
        }
        if config.timeout.is_zero() || config.base_backoff.is_zero() {
            return Err(bad("timeout and base_backoff must be above zero".into()));
        }
        if config.max_backoff < config.base_backoff {
            return Err(bad("max_backoff must not be below base_backoff".into()));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                bad(format!(
                    "header name {name:?} is not a valid HTTP header name"
                ))
            })?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                bad(format!(
                    "the value of header {name} is not a valid header value"
                ))
            })?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        // No redirects: following a 303 would turn the POST into a GET and
        // a 2xx from that would acknowledge events that were never received.
        let client = Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| bad(format!("cannot build the HTTP client: {}", error_chain(&e))))?;
        Ok(HttpSink {
            client,
            config: config.clone(),
            headers,
            describe,
            retries: 0,
        })
    }

    /// Requests repeated after a failure, over the sink's life.
    pub fn retries(&self) -> u64 {
        self.retries
    }

    async fn send_batch(&mut self, batch: &[EventLine]) -> Result<(), SinkError> {
        let first_id = batch.first().map(|e| e.id.as_str()).unwrap_or_default();
        let body = Bytes::from(body(batch));
        let key = HeaderValue::from_str(&format!("{first_id}:{}", batch.len())).map_err(|_| {
            SinkError::Config {
                sink: self.describe.clone(),
                reason: format!("event id {first_id:?} cannot be sent in an HTTP header"),
            }
        })?;
        let mut failures: u32 = 0;
        loop {
            let sent = self
                .client
                .post(self.config.url.clone())
                .headers(self.headers.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(IDEMPOTENCY_HEADER, key.clone())
                .body(body.clone())
                .send()
                .await;
            let (hint, last) = match sent {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) => {
                    let status = resp.status();
                    let hint = resp
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    let excerpt = body_excerpt(resp).await;
                    if !retryable(status) {
                        return Err(SinkError::Rejected {
                            sink: self.describe.clone(),
                            status: status.as_u16(),
                            count: batch.len(),
                            body: excerpt,
                        });
                    }
                    (hint, format!("HTTP {}: {excerpt}", status.as_u16()))
                }
                Err(e) if e.is_timeout() => {
                    (None, format!("no answer within {:?}", self.config.timeout))
                }
                Err(e) => (None, error_chain(&e.without_url())),
            };
            failures = failures.saturating_add(1);
            if self.config.max_attempts != 0 && failures >= self.config.max_attempts {
                return Err(SinkError::GaveUp {
                    sink: self.describe.clone(),
                    attempts: failures,
                    last,
                });
            }
            let wait = hint.unwrap_or_else(|| backoff(&self.config).delay(failures));
            self.retries += 1;
            tracing::warn!(
                sink = %self.describe,
                attempt = failures,
                wait_ms = wait.as_millis() as u64,
                "delivery failed, will retry: {last}"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// Equal jitter: half the delay is fixed, half random, so many runtimes
/// retrying one receiver spread out.
fn backoff(config: &HttpSinkConfig) -> Backoff {
    Backoff::new(config.base_backoff, config.max_backoff).with_jitter(Jitter::Equal)
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The start of an error answer, for the message; a huge body is not read.
async fn body_excerpt(mut resp: Response) -> String {
    let mut raw = Vec::new();
    while raw.len() < EXCERPT_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => raw.extend_from_slice(&chunk),
            _ => break,
        }
    }
    raw.truncate(EXCERPT_BYTES);
    let text = String::from_utf8_lossy(&raw);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    let mut excerpt: String = text.chars().take(EXCERPT_CHARS).collect();
    if excerpt.len() < text.len() {
        excerpt.push('…');
    }
    excerpt
}

/// reqwest's own message is terse; the cause (refused, reset, DNS) is in
/// its sources.
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Sink for HttpSink {
    fn deliver<'a>(
        &'a mut self,
        events: &'a [EventLine],
    ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>> {
        Box::pin(async move {
            for batch in events.chunks(self.config.max_batch) {
                self.send_batch(batch).await?;
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_with_equal_jitter_from_the_config() {
        let mut config = HttpSinkConfig::new("http://127.0.0.1:1/".parse().unwrap());
        config.base_backoff = Duration::from_millis(100);
        config.max_backoff = Duration::from_secs(1);
        assert_eq!(
            backoff(&config),
            Backoff {
                base: Duration::from_millis(100),
                max: Duration::from_secs(1),
                max_exponent: 31,
                jitter: Jitter::Equal,
            }
        );
    }
}

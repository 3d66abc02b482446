use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER,
};
use reqwest::{Method, StatusCode};
use runtime_retry::parse_retry_after;
use serde_json::{Map, Value};
use url::Url;

use crate::body::{decode, headers_to_json, read_capped, Body, BodyFailure};
use crate::config::HttpConfig;
use crate::error::ApiClientError;
use crate::guard::{AddressGuard, GuardedResolver, Refused};
use crate::log_limit::LogLimiter;
use crate::rate_limit::{Permit, RateLimiter};
use crate::redact::{body_excerpt, redact_url, SentSecrets};
use crate::retry::{backoff, is_idempotent};
use crate::settings::{check_header, ClientSettings};
use crate::url_build::build_url;

const MAX_REDIRECTS: usize = 10;

/// At most one INFO line about retries per (method, host) in this time; the
/// others go to DEBUG and are counted in the next INFO line.
const RETRY_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// One `apiClient` call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiRequest {
    /// GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS, any case.
    pub method: String,
    /// A path relative to `baseUri` (may carry a query) or an absolute http(s) URL.
    pub path: String,
    /// An object: string/number/bool values, arrays repeat the key, null is skipped.
    pub query: Option<Value>,
    /// The body: JSON unless a non-JSON content-type is set and this is a
    /// string (sent as text) or, for `application/x-www-form-urlencoded`, an
    /// object (form-encoded). Null means no body.
    pub data: Option<Value>,
    /// Override the settings' headers of the same name (case-insensitive).
    pub headers: Vec<(String, String)>,
}

impl ApiResponse {
    /// The body as a JSON value (see [`Body::to_value`]).
    pub fn data(&self) -> Value {
        self.body.to_value()
    }
}

impl ApiRequest {
    pub fn new(method: &str, path: &str) -> ApiRequest {
        ApiRequest {
            method: method.to_string(),
            path: path.to_string(),
            ..Default::default()
        }
    }
}

/// A response as JavaScript sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    /// Lowercased names; repeated headers joined with ", ".
    pub headers: Map<String, Value>,
    /// JSON (as checked text), other text, or nothing.
    pub body: Body,
}

/// Sends `apiClient` requests over pooled connections. Cheap to clone.
///
/// reqwest sets the connect timeout per client, so there is one pool per
/// distinct `connect_timeout` in use; with default configs that is one pool
/// shared by every connector. Redirects are followed here, not by reqwest, so
/// each hop can be checked against the caller's allow-list before connecting.
///
/// The address guard is a property of the client, not of an [`HttpConfig`]:
/// it is the operator's policy for the whole process (`runtime serve` has
/// one, `runtime run` none), never something a connector's spec sets, and
/// the resolver enforcing it is fixed when a reqwest client is built, so a
/// guarded `HttpClient` owns only guarded pools and can never share a
/// connection with an unguarded one. It covers every request the client
/// sends, OAuth token requests included.
#[derive(Clone)]
pub struct HttpClient {
    pools: Arc<Mutex<Vec<(Duration, reqwest::Client)>>>,
    /// Keyed by (method, host): a storm of retries writes one line per 5 s.
    retry_log: Arc<Mutex<LogLimiter<(String, String)>>>,
    /// Refuses non-public addresses when set.
    guard: Option<Arc<AddressGuard>>,
    /// Per (scope, host) budgets of the configs with a `rate_limit`,
    /// shared by every call through this client (and its clones).
    limiter: Arc<RateLimiter>,
}

impl HttpClient {
    /// A client that connects to any address (`runtime run`: one trusted user).
    pub fn new() -> Result<HttpClient, ApiClientError> {
        HttpClient::build(None)
    }

    /// A client whose every connection, redirects included, goes only to
    /// public addresses or to those `guard` allows (`runtime serve`). Names
    /// are checked on the addresses they resolve to, IP literals before
    /// each attempt and hop; proxy environment variables are ignored (a
    /// proxy would pick the address itself, out of the guard's sight).
    pub fn with_address_guard(guard: AddressGuard) -> Result<HttpClient, ApiClientError> {
        HttpClient::build(Some(Arc::new(guard)))
    }

    /// The guard this client enforces, if any.
    pub fn address_guard(&self) -> Option<&AddressGuard> {
        self.guard.as_deref()
    }

    fn build(guard: Option<Arc<AddressGuard>>) -> Result<HttpClient, ApiClientError> {
        let timeout = HttpConfig::default().connect_timeout;
        let default = build_client(timeout, guard.as_ref())?;
        Ok(HttpClient {
            pools: Arc::new(Mutex::new(vec![(timeout, default)])),
            retry_log: Arc::new(Mutex::new(LogLimiter::new(RETRY_LOG_INTERVAL))),
            guard,
            limiter: Arc::new(RateLimiter::default()),
        })
    }

    fn client_for(&self, connect_timeout: Duration) -> Result<reqwest::Client, ApiClientError> {
        let mut pools = self
            .pools
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, c)) = pools.iter().find(|(t, _)| *t == connect_timeout) {
            return Ok(c.clone());
        }
        let c = build_client(connect_timeout, self.guard.as_ref())?;
        pools.push((connect_timeout, c.clone()));
        Ok(c)
    }

    /// Sends `req`, retrying as [`HttpConfig`] allows. Non-2xx answers are
    /// errors of kind "http" carrying the response.
    ///
    /// With `config.rate_limit`, every attempt and every redirect hop first
    /// waits for its turn in the budget of (`settings.limit_scope`, host);
    /// the first hop's wait is not counted against `request_timeout`.
    pub async fn send(
        &self,
        settings: &ClientSettings,
        config: &HttpConfig,
        req: ApiRequest,
    ) -> Result<ApiResponse, ApiClientError> {
        let result = self.send_with_retries(settings, config, req).await;
        let status = match &result {
            Ok(res) => Some(res.status),
            Err(e) => e.response().map(|r| r.status),
        };
        runtime_metrics::api_request(status);
        result
    }

    async fn send_with_retries(
        &self,
        settings: &ClientSettings,
        config: &HttpConfig,
        req: ApiRequest,
    ) -> Result<ApiResponse, ApiClientError> {
        let method = parse_method(&req.method)?;
        let url = build_url(settings, &req.path, req.query.as_ref())
            .map_err(ApiClientError::InvalidRequest)?;
        let secrets: Vec<String> = settings.query.iter().map(|(k, _)| k.clone()).collect();
        let call = Call {
            settings,
            config,
            secrets: &secrets,
            client: self.client_for(config.connect_timeout)?,
            guard: self.guard.as_deref(),
            limiter: &self.limiter,
        };
        call.check_allowed(&method, &url, None)?;
        // Before waiting for a turn that would be wasted on a refusal.
        call.check_literal(&method, &url, None)?;
        let mut headers = merge_headers(settings, &req.headers)?;
        let body = encode_body(&mut headers, req.data)?;
        let sent = SentSecrets::collect(&headers, &url, &secrets, &settings.secret_values);
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let permit = call.take_turn(&url).await;
            let attempted = call.attempt(&method, &url, &headers, &body, &sent, attempt, permit);
            let err = match tokio::time::timeout(config.request_timeout, attempted).await {
                Ok(Ok(resp)) => return Ok(resp),
                Ok(Err(e)) => e,
                Err(_) => ApiClientError::Timeout {
                    method: method.to_string(),
                    url: redact_url(&url, &secrets),
                    timeout: config.request_timeout,
                    attempts: attempt,
                    note: String::new(),
                },
            };
            let throttled = matches!(err.response().map(|r| r.status), Some(429 | 503));
            if !throttled && !err.is_transient() {
                return Err(err.finish(attempt, ""));
            }
            if !throttled && !is_idempotent(&method) {
                return Err(
                    err.finish(attempt, &format!("not retried: {method} is not idempotent"))
                );
            }
            if attempt >= config.max_attempts {
                return Err(err.finish(attempt, ""));
            }
            let retry_after = err
                .response()
                .filter(|_| throttled)
                .and_then(|r| r.headers.get("retry-after"))
                .and_then(Value::as_str)
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let delay = retry_after.unwrap_or_else(|| backoff(config).delay(attempt));
            let left = config.max_retry_elapsed.saturating_sub(start.elapsed());
            if delay > left {
                let why = match retry_after {
                    Some(ra) => format!(
                        "Retry-After {} s is longer than the {:.1} s left of max_retry_elapsed",
                        ra.as_secs(),
                        left.as_secs_f64()
                    ),
                    None => format!(
                        "max_retry_elapsed of {} s used up",
                        config.max_retry_elapsed.as_secs()
                    ),
                };
                return Err(err.finish(attempt, &why));
            }
            self.log_retry(
                &method,
                &url,
                &secrets,
                &err,
                retry_after.is_some(),
                delay,
                attempt + 1,
                config.max_attempts,
            );
            tokio::time::sleep(delay).await;
        }
    }
}

impl HttpClient {
    /// Says at INFO that attempt `next` will follow after `delay`, at most
    /// once per [`RETRY_LOG_INTERVAL`] per (method, host); the lines held
    /// back go to DEBUG and are counted in the next INFO line.
    #[allow(clippy::too_many_arguments)]
    fn log_retry(
        &self,
        method: &Method,
        url: &Url,
        secrets: &[String],
        err: &ApiClientError,
        retry_after: bool,
        delay: Duration,
        next: u32,
        max_attempts: u32,
    ) {
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => String::new(),
        };
        let admitted = self
            .retry_log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .admit((method.to_string(), host.clone()), Instant::now());
        let status = err.response().map(|r| r.status);
        let cause = status.map_or_else(|| err.kind().to_string(), |s| s.to_string());
        let redacted = redact_url(url, secrets);
        let wait = format!("{:.1} s", delay.as_secs_f64());
        let how = if retry_after {
            "Retry-After"
        } else {
            "backoff"
        };
        let held = match admitted {
            Some(n) if n > 0 => {
                format!(" ({n} more retries of {method} to {host} not logged since the last line)")
            }
            _ => String::new(),
        };
        let message = if status == Some(429) {
            format!("rate-limited by {host} ({cause}): waiting {wait} ({how}), attempt {next} of {max_attempts}{held}")
        } else {
            format!("{method} {redacted} failed ({cause}), retrying in {wait} ({how}), attempt {next} of {max_attempts}{held}")
        };
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    method = %method,
                    host = %host,
                    url = %redacted,
                    cause = %cause,
                    attempt = next,
                    max_attempts,
                    wait_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    retry_after,
                    suppressed = admitted.unwrap_or(0),
                    "{message}"
                )
            };
        }
        match admitted {
            Some(_) => line!(info),
            None => line!(debug),
        }
    }
}

/// What one `send` needs at every attempt and hop.
struct Call<'a> {
    settings: &'a ClientSettings,
    config: &'a HttpConfig,
    secrets: &'a [String],
    client: reqwest::Client,
    guard: Option<&'a AddressGuard>,
    limiter: &'a RateLimiter,
}

impl Call<'_> {
    fn check_allowed(
        &self,
        method: &Method,
        url: &Url,
        from: Option<&Url>,
    ) -> Result<(), ApiClientError> {
        if self.settings.is_allowed(url) {
            return Ok(());
        }
        Err(ApiClientError::NotAllowed {
            method: method.to_string(),
            url: redact_url(url, self.secrets),
            origin: url.origin().ascii_serialization(),
            host: url.host_str().unwrap_or("").to_string(),
            redirect: from
                .map(|f| format!(" (redirected from {})", redact_url(f, self.secrets)))
                .unwrap_or_default(),
        })
    }

    /// The address guard's check of an IP literal host (a name is checked
    /// by the resolver on the addresses it returns).
    fn check_literal(
        &self,
        method: &Method,
        url: &Url,
        from: Option<&Url>,
    ) -> Result<(), ApiClientError> {
        let (Some(guard), Some(host)) = (self.guard, url.host()) else {
            return Ok(());
        };
        guard
            .check_host(&host)
            .map_err(|r| self.blocked(method, url, from, &r))
    }

    fn blocked(
        &self,
        method: &Method,
        url: &Url,
        from: Option<&Url>,
        refused: &Refused,
    ) -> ApiClientError {
        ApiClientError::Blocked {
            method: method.to_string(),
            url: redact_url(url, self.secrets),
            host: url.host_str().unwrap_or("").to_string(),
            detail: refused.to_string(),
            redirect: from
                .map(|f| format!(" (redirected from {})", redact_url(f, self.secrets)))
                .unwrap_or_default(),
        }
    }

    /// Waits for the turn of `url`'s host in the budget of this call's
    /// scope, when the config declares one.
    async fn take_turn(&self, url: &Url) -> Option<Permit> {
        let limit = self.config.rate_limit?;
        let host = match (url.host_str(), url.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => String::new(),
        };
        Some(
            self.limiter
                .acquire(&self.settings.limit_scope, &host, limit)
                .await,
        )
    }

    /// One attempt: the request and any redirects, up to a decoded response.
    /// `permit` is the first hop's turn in the rate limit, if any; later
    /// hops take their own.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: &Option<Bytes>,
        sent: &SentSecrets,
        attempt: u32,
        mut permit: Option<Permit>,
    ) -> Result<ApiResponse, ApiClientError> {
        let (mut method, mut url, mut headers, mut body) =
            (method.clone(), url.clone(), headers.clone(), body.clone());
        let started = Instant::now();
        let mut hops = 0;
        let mut from: Option<Url> = None;
        loop {
            self.check_literal(&method, &url, from.as_ref())?;
            if hops > 0 {
                permit = self.take_turn(&url).await;
            }
            let redacted = redact_url(&url, self.secrets);
            let mut rb = self
                .client
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(b) = &body {
                rb = rb.body(b.clone());
            }
            let mut resp = rb.send().await.map_err(|e| match refused_in(&e) {
                Some(r) => self.blocked(&method, &url, from.as_ref(), r),
                None => ApiClientError::Connect {
                    method: method.to_string(),
                    url: redacted.clone(),
                    detail: error_chain(e),
                    attempts: attempt,
                    note: String::new(),
                },
            })?;
            let status = resp.status();
            if let Some(p) = &permit {
                let retry_after = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let code = status.as_u16();
                if code == 429 || (code == 503 && retry_after.is_some()) {
                    // Holding the host longer than a retry may wait would
                    // stall the connection's other calls to no purpose.
                    let hold = retry_after.map(|d| d.min(self.config.max_retry_elapsed));
                    p.throttled(code, hold);
                }
            }
            tracing::debug!(
                method = %method,
                url = %redacted,
                status = status.as_u16(),
                attempt,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "api response"
            );
            if let Some(next) = redirect_target(&resp, &url) {
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(ApiClientError::InvalidRequest(format!(
                        "{method} {redacted}: more than {MAX_REDIRECTS} redirects"
                    )));
                }
                self.check_allowed(&method, &next, Some(&url))?;
                if next.origin() != url.origin() {
                    for h in ["authorization", "cookie", "proxy-authorization"] {
                        headers.remove(h);
                    }
                }
                let to_get = status == StatusCode::SEE_OTHER
                    || (matches!(status.as_u16(), 301 | 302) && method == Method::POST);
                if to_get && method != Method::HEAD {
                    method = Method::GET;
                    body = None;
                    headers.remove(CONTENT_TYPE);
                    headers.remove(CONTENT_LENGTH);
                }
                from = Some(std::mem::replace(&mut url, next));
                continue;
            }
            let limit = self.config.max_response_bytes;
            let bytes = read_capped(&mut resp, limit, method == Method::HEAD)
                .await
                .map_err(|f| match f {
                    BodyFailure::TooLarge(detail) => ApiClientError::TooLarge {
                        method: method.to_string(),
                        url: redacted.clone(),
                        detail,
                        limit,
                    },
                    BodyFailure::Broken(detail) => ApiClientError::Body {
                        method: method.to_string(),
                        url: redacted.clone(),
                        detail,
                        transient: true,
                        attempts: attempt,
                        note: String::new(),
                    },
                })?;
            let body = decode(resp.headers(), &bytes, status.is_success()).map_err(|detail| {
                ApiClientError::Body {
                    method: method.to_string(),
                    url: redacted.clone(),
                    detail,
                    transient: false,
                    attempts: attempt,
                    note: String::new(),
                }
            })?;
            let response = ApiResponse {
                status: status.as_u16(),
                headers: headers_to_json(resp.headers()),
                body,
            };
            if status.is_success() {
                return Ok(response);
            }
            return Err(ApiClientError::Http {
                method: method.to_string(),
                url: redacted,
                excerpt: body_excerpt(&response.body, sent),
                response: Box::new(response),
                attempts: attempt,
                note: String::new(),
            });
        }
    }
}

fn redirect_target(resp: &reqwest::Response, current: &Url) -> Option<Url> {
    if !matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = resp.headers().get(LOCATION)?.to_str().ok()?;
    current.join(location).ok()
}

fn build_client(
    connect_timeout: Duration,
    guard: Option<&Arc<AddressGuard>>,
) -> Result<reqwest::Client, ApiClientError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .user_agent(concat!("connector-runtime/", env!("CARGO_PKG_VERSION")));
    if let Some(guard) = guard {
        builder = builder
            .dns_resolver(Arc::new(GuardedResolver {
                guard: Arc::clone(guard),
            }))
            .no_proxy();
    }
    builder
        .build()
        .map_err(|e| ApiClientError::Setup(error_chain(e)))
}

/// The guard's refusal, if that is why reqwest could not connect: the
/// resolver's error travels inside reqwest's and hyper's as a source.
fn refused_in(e: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return Some(r);
        }
        source = s.source();
    }
    None
}

fn parse_method(m: &str) -> Result<Method, ApiClientError> {
    let upper = m.trim().to_ascii_uppercase();
    match upper.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => {
            Method::from_bytes(upper.as_bytes())
                .map_err(|e| ApiClientError::InvalidRequest(e.to_string()))
        }
        _ => Err(ApiClientError::InvalidRequest(format!(
            "method {m:?} is not supported (use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)"
        ))),
    }
}

/// Settings' headers, then the request's, which replace same-named ones.
fn merge_headers(
    settings: &ClientSettings,
    request: &[(String, String)],
) -> Result<HeaderMap, ApiClientError> {
    let overridden = |name: &str| request.iter().any(|(r, _)| r.eq_ignore_ascii_case(name));
    let mut map = HeaderMap::new();
    let chosen = settings
        .headers
        .iter()
        .filter(|(n, _)| !overridden(n))
        .map(|p| ("makeApiClient().headers", p))
        .chain(request.iter().map(|p| ("headers", p)));
    for (field, (name, value)) in chosen {
        check_header(name, value).map_err(|reason| {
            ApiClientError::InvalidRequest(format!("{field}.{name}: {reason}"))
        })?;
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(n, v);
        }
    }
    Ok(map)
}

fn encode_body(
    headers: &mut HeaderMap,
    data: Option<Value>,
) -> Result<Option<Bytes>, ApiClientError> {
    let data = match data {
        None | Some(Value::Null) => return Ok(None),
        Some(d) => d,
    };
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase());
    let json = |d: &Value| {
        serde_json::to_vec(d)
            .map(Bytes::from)
            .map_err(|e| ApiClientError::InvalidRequest(format!("data: {e}")))
    };
    let Some(ct) = content_type else {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return json(&data).map(Some);
    };
    if ct.contains("json") {
        return json(&data).map(Some);
    }
    match data {
        Value::String(s) => Ok(Some(Bytes::from(s))),
        Value::Object(_) if ct.starts_with("application/x-www-form-urlencoded") => {
            let pairs = crate::settings::pairs(&data, "data", true)
                .map_err(|e| ApiClientError::InvalidRequest(e.to_string()))?;
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(pairs);
            Ok(Some(Bytes::from(form.finish())))
        }
        other => json(&other).map(Some),
    }
}

/// An error and its causes, without the URL reqwest would print (it may
/// carry credentials in its query).
pub(crate) fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

//! Where a runtime's `apiClient` requests go: the transport behind the ops
//! of `ops/api_client.rs`.
//!
//! In the host's process ([`Direct`]) a request runs through
//! `runtime_api_client` on the host's tokio runtime, as it always has. In an
//! engine worker process every request is forwarded to the service over the
//! worker's channel instead (`process/child.rs`), and the service runs it
//! with its own settings ([`answer_request`]): the worker has no network
//! (its seccomp filter refuses sockets), so the allow-list and every other
//! check of `runtime_api_client` cannot be bypassed from connector code
//! that escaped the JavaScript sandbox. Which transport a process uses is
//! a process-wide fact, set once by [`forward_all`] in a worker.
//!
//! This module carries requests and builds the envelopes the JavaScript side
//! reads (`runtime-js/api_client.js`); it must not add HTTP policy.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use runtime_api_client::{
    ApiClientError, ApiRequest, Body, ClientSettings, HttpClient, HttpConfig, OAuthConfig,
};
use serde_json::{json, Value};

/// A request's answer: the envelope `api_client.js` reads (`{ok, response}`
/// or `{ok: false, kind, message, ...}`), or why the request could not be
/// made at all (the JavaScript promise rejects with it).
pub(crate) type Reply = Pin<Box<dyn Future<Output = Result<Value, String>> + Send>>;

/// makeApiClient's result as the connector returned it, with every string
/// of the connection's credentials (hidden in error messages). A worker
/// forwards this, not the settings it built: the service builds its own.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawSettings {
    pub value: Value,
    pub secrets: Vec<String>,
    /// The call's connection: its rate budget (`ClientSettings::limit_scope`).
    #[serde(default)]
    pub scope: String,
}

/// A runtime's apiClient as makeApiClient configured it.
#[derive(Clone)]
pub(crate) struct Configured {
    /// Built in this process (in a worker, only to refuse a bad result at
    /// once, with the same message as in the host's process).
    pub settings: Arc<ClientSettings>,
    pub raw: Arc<RawSettings>,
}

/// Sends a runtime's requests.
pub(crate) trait Http: Send + Sync {
    fn request(&self, configured: &Configured, request: ApiRequest) -> Reply;
    /// The OAuth2 refresh_token grant; `raw` is getOAuthConfig's result,
    /// `config` what this process read from it.
    fn oauth_refresh(&self, raw: Value, config: OAuthConfig, refresh_token: String) -> Reply;
}

static FORWARD: OnceLock<Arc<dyn Http>> = OnceLock::new();

/// Sends every request of this process's runtimes through `to`. Set once,
/// by an engine worker before its first runtime starts; false if it was
/// already set.
pub(crate) fn forward_all(to: Arc<dyn Http>) -> bool {
    FORWARD.set(to).is_ok()
}

/// The transport of [`forward_all`], in an engine worker process.
pub(crate) fn forwarded() -> Option<&'static Arc<dyn Http>> {
    FORWARD.get()
}

/// The settings of `raw` under a spec's base URI and allowed hosts.
pub(crate) fn settings_of(
    raw: &RawSettings,
    spec_base_uri: Option<&str>,
    allowed_hosts: &[String],
) -> Result<ClientSettings, String> {
    let mut settings =
        ClientSettings::from_make_api_client(&raw.value, spec_base_uri, allowed_hosts)
            .map_err(|e| format!("makeApiClient: {e}"))?;
    // Hidden wherever an ApiError message would echo them.
    settings.secret_values = raw.secrets.clone();
    settings.limit_scope = raw.scope.clone();
    Ok(settings)
}

/// HTTP in this process, on the host's tokio runtime (so that time on the
/// network never counts against a call's CPU budget).
pub(crate) struct Direct {
    pub client: HttpClient,
    pub config: Arc<HttpConfig>,
    pub host: tokio::runtime::Handle,
}

impl Http for Direct {
    fn request(&self, configured: &Configured, request: ApiRequest) -> Reply {
        let (client, config) = (self.client.clone(), self.config.clone());
        let settings = configured.settings.clone();
        let task = self
            .host
            .spawn(async move { send(&client, &config, &settings, request).await });
        Box::pin(async move {
            task.await
                .map_err(|e| format!("apiClient request task failed: {e}"))
        })
    }

    fn oauth_refresh(&self, _raw: Value, config: OAuthConfig, refresh_token: String) -> Reply {
        let (client, http) = (self.client.clone(), self.config.clone());
        let task = self
            .host
            .spawn(async move { refresh(&client, &http, &config, &refresh_token).await });
        Box::pin(async move {
            task.await
                .map_err(|e| format!("OAuth refresh task failed: {e}"))
        })
    }
}

/// One request, answered as an envelope.
pub(crate) async fn send(
    client: &HttpClient,
    config: &HttpConfig,
    settings: &ClientSettings,
    request: ApiRequest,
) -> Value {
    match client.send(settings, config, request).await {
        Ok(res) => {
            let mut response = json!({"status": res.status, "headers": res.headers});
            put_body(&mut response, res.body);
            json!({"ok": true, "response": response})
        }
        Err(err) => error_envelope(err),
    }
}

/// The refresh_token grant, answered as `{ok, token}` or an error envelope.
pub(crate) async fn refresh(
    client: &HttpClient,
    http: &HttpConfig,
    config: &OAuthConfig,
    refresh_token: &str,
) -> Value {
    match runtime_api_client::refresh_token_grant(client, http, config, refresh_token).await {
        Ok(token) => json!({"ok": true, "token": token}),
        Err(err) => error_envelope(err),
    }
}

/// A worker's request, answered by the service with the service's own
/// settings: `raw` is resolved against `spec_base_uri` and
/// `allowed_hosts` here, whatever the worker made of it.
pub(crate) async fn answer_request(
    client: &HttpClient,
    config: &HttpConfig,
    spec_base_uri: Option<&str>,
    allowed_hosts: &[String],
    raw: &RawSettings,
    request: ApiRequest,
) -> Value {
    match settings_of(raw, spec_base_uri, allowed_hosts) {
        Ok(settings) => send(client, config, &settings, request).await,
        Err(message) => json!({"ok": false, "kind": "setup", "message": message}),
    }
}

/// A worker's refresh_token grant, with getOAuthConfig's result read again
/// here.
pub(crate) async fn answer_refresh(
    client: &HttpClient,
    http: &HttpConfig,
    raw: &Value,
    refresh_token: &str,
) -> Value {
    match OAuthConfig::from_value(raw) {
        Ok(config) => refresh(client, http, &config, refresh_token).await,
        Err(err) => error_envelope(err),
    }
}

/// The body crosses as text with its kind; api_client.js `JSON.parse`s JSON
/// itself, which is cheaper than converting a Rust `Value` into JavaScript
/// objects (docs/benchmarks.md, "apiClient path").
fn put_body(out: &mut Value, body: Body) {
    let (kind, text) = match body {
        Body::Empty => ("empty", String::new()),
        Body::Json(text) => ("json", text),
        Body::Text(text) => ("text", text),
    };
    out["bodyKind"] = json!(kind);
    out["body"] = Value::String(text);
}

fn error_envelope(err: ApiClientError) -> Value {
    let mut out = json!({"ok": false, "kind": err.kind(), "message": err.to_string()});
    if let Some(res) = err.response() {
        out["status"] = json!(res.status);
        out["headers"] = Value::Object(res.headers.clone());
        put_body(&mut out, res.body.clone());
    }
    out
}

/// Takes an envelope's body text out (it crosses a worker's channel as the
/// frame's payload, unescaped), leaving an empty string in its place.
pub(crate) fn take_body(envelope: &mut Value) -> String {
    let slot = match envelope.get_mut("response") {
        Some(response) => response.get_mut("body"),
        None => envelope.get_mut("body"),
    };
    match slot {
        Some(Value::String(text)) => std::mem::take(text),
        _ => String::new(),
    }
}

/// Puts back the body [`take_body`] took out.
pub(crate) fn put_back_body(envelope: &mut Value, body: String) {
    let slot = match envelope.get_mut("response") {
        Some(response) => response.get_mut("body"),
        None => envelope.get_mut("body"),
    };
    if let Some(slot) = slot {
        *slot = Value::String(body);
    }
}

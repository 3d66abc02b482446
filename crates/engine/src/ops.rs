//! The Rust ops behind `runtime-js/bootstrap.js`: console, apiClient,
//! crypto and URL parsing. Each op is the only way its capability reaches
//! JavaScript; bootstrap.js hides the raw ops from connector code.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use deno_core::{op2, OpState};
use deno_error::JsErrorBox;
use hmac::{Hmac, Mac};
use runtime_api_client::{
    ApiClientError, ApiRequest, Body, ClientSettings, HttpClient, HttpConfig,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Digest;

/// What the apiClient ops need; one per runtime, put in the OpState.
pub(crate) struct ApiContext {
    pub client: HttpClient,
    pub config: Arc<HttpConfig>,
    pub spec_base_uri: Option<String>,
    pub allowed_hosts: Arc<Vec<String>>,
    /// Set by `op_rt_api_configure` from makeApiClient's result.
    pub settings: Option<Arc<ClientSettings>>,
    /// HTTP runs on the host's multi-threaded runtime so that time spent on
    /// the network never counts against the JavaScript CPU budget.
    pub host: tokio::runtime::Handle,
}

/// Who is calling, for log lines.
#[derive(Default, Clone)]
pub(crate) struct CallTags {
    pub connector: Arc<str>,
    pub collection: Option<String>,
    pub function: String,
}

#[op2(fast)]
fn op_rt_console(state: &mut OpState, #[string] level: &str, #[string] message: &str) {
    let tags = state.borrow::<CallTags>();
    let collection = tags.collection.as_deref().unwrap_or("-");
    macro_rules! log {
        ($lvl:ident) => {
            tracing::$lvl!(
                target: "connector",
                connector = %tags.connector,
                collection,
                function = %tags.function,
                "{message}"
            )
        };
    }
    match level {
        "error" => log!(error),
        "warn" => log!(warn),
        "debug" => log!(debug),
        "trace" => log!(trace),
        _ => log!(info),
    }
}

#[op2]
fn op_rt_api_configure(
    state: &mut OpState,
    #[serde] value: serde_json::Value,
    #[serde] credential_strings: Vec<String>,
) -> Result<(), JsErrorBox> {
    let ctx = state.borrow_mut::<ApiContext>();
    let mut settings = ClientSettings::from_make_api_client(
        &value,
        ctx.spec_base_uri.as_deref(),
        &ctx.allowed_hosts,
    )
    .map_err(|e| JsErrorBox::type_error(format!("makeApiClient: {e}")))?;
    // Hidden wherever an ApiError message would echo them.
    settings.secret_values = credential_strings;
    ctx.settings = Some(Arc::new(settings));
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest {
    method: String,
    path: String,
    query: Option<Value>,
    data: Option<Value>,
    #[serde(default)]
    has_data: bool,
    headers: Option<serde_json::Map<String, Value>>,
}

#[op2]
#[serde]
async fn op_rt_api_request(
    state: Rc<RefCell<OpState>>,
    #[serde] wire: WireRequest,
) -> Result<serde_json::Value, JsErrorBox> {
    let (client, config, settings, host) = {
        let s = state.borrow();
        let ctx = s.borrow::<ApiContext>();
        let settings = ctx.settings.clone().ok_or_else(|| {
            JsErrorBox::generic("apiClient used before makeApiClient configured it")
        })?;
        (
            ctx.client.clone(),
            ctx.config.clone(),
            settings,
            ctx.host.clone(),
        )
    };
    let headers = wire
        .headers
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect();
    let request = ApiRequest {
        method: wire.method,
        path: wire.path,
        query: wire.query.filter(|q| !q.is_null()),
        data: if wire.has_data {
            Some(wire.data.unwrap_or(Value::Null))
        } else {
            None
        },
        headers,
    };
    let result = host
        .spawn(async move { client.send(&settings, &config, request).await })
        .await
        .map_err(|e| JsErrorBox::generic(format!("apiClient request task failed: {e}")))?;
    Ok(match result {
        Ok(res) => {
            let mut response = json!({"status": res.status, "headers": res.headers});
            put_body(&mut response, res.body);
            json!({"ok": true, "response": response})
        }
        Err(err) => error_envelope(err),
    })
}

/// The body crosses as text with its kind; bootstrap.js `JSON.parse`s JSON
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

fn digest(alg: &str, data: &[u8]) -> Result<Vec<u8>, JsErrorBox> {
    Ok(match alg {
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(unsupported(other)),
    })
}

fn unsupported(alg: &str) -> JsErrorBox {
    JsErrorBox::type_error(format!("unsupported hash algorithm {alg:?}"))
}

fn hmac_of(alg: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, JsErrorBox> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        match <M as hmac::digest::KeyInit>::new_from_slice(key) {
            Ok(mut m) => {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    Ok(match alg {
        "SHA-1" => run::<Hmac<sha1::Sha1>>(key, data),
        "SHA-256" => run::<Hmac<sha2::Sha256>>(key, data),
        "SHA-384" => run::<Hmac<sha2::Sha384>>(key, data),
        "SHA-512" => run::<Hmac<sha2::Sha512>>(key, data),
        other => return Err(unsupported(other)),
    })
}

#[op2]
#[buffer]
fn op_rt_digest(#[string] alg: &str, #[buffer] data: &[u8]) -> Result<Vec<u8>, JsErrorBox> {
    digest(alg, data)
}

#[op2]
#[buffer]
fn op_rt_hmac(
    #[string] alg: &str,
    #[buffer] key: &[u8],
    #[buffer] data: &[u8],
) -> Result<Vec<u8>, JsErrorBox> {
    hmac_of(alg, key, data)
}

#[op2(fast)]
fn op_rt_hmac_verify(
    #[string] alg: &str,
    #[buffer] key: &[u8],
    #[buffer] data: &[u8],
    #[buffer] signature: &[u8],
) -> Result<bool, JsErrorBox> {
    let expected = hmac_of(alg, key, data)?;
    // Constant time in the signature's content: compare every byte.
    if expected.len() != signature.len() {
        return Ok(false);
    }
    let diff = expected
        .iter()
        .zip(signature)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Ok(diff == 0)
}

#[op2(fast)]
fn op_rt_random_fill(#[buffer] buf: &mut [u8]) {
    use rand::RngCore;
    rand::thread_rng().fill_bytes(buf);
}

#[derive(Serialize)]
struct UrlParts {
    href: String,
    origin: String,
    protocol: String,
    username: String,
    password: String,
    host: String,
    hostname: String,
    port: String,
    pathname: String,
    search: String,
    hash: String,
}

impl From<&url::Url> for UrlParts {
    fn from(u: &url::Url) -> Self {
        let prefixed = |p: &str, s: Option<&str>| match s {
            Some(s) if !s.is_empty() => format!("{p}{s}"),
            _ => String::new(),
        };
        let hostname = u.host_str().unwrap_or_default().to_string();
        let port = u.port().map(|p| p.to_string()).unwrap_or_default();
        UrlParts {
            href: u.as_str().to_string(),
            origin: u.origin().ascii_serialization(),
            protocol: format!("{}:", u.scheme()),
            username: u.username().to_string(),
            password: u.password().unwrap_or_default().to_string(),
            host: if port.is_empty() {
                hostname.clone()
            } else {
                format!("{hostname}:{port}")
            },
            hostname,
            port,
            pathname: u.path().to_string(),
            search: prefixed("?", u.query()),
            hash: prefixed("#", u.fragment()),
        }
    }
}

fn parse_url(input: &str, base: Option<&str>) -> Result<url::Url, JsErrorBox> {
    let parsed = match base {
        Some(b) => url::Url::parse(b).and_then(|b| b.join(input)),
        None => url::Url::parse(input),
    };
    parsed.map_err(|e| JsErrorBox::type_error(format!("Invalid URL {input:?}: {e}")))
}

#[op2]
#[serde]
fn op_rt_url_parse(
    #[string] input: &str,
    #[string] base: Option<String>,
) -> Result<UrlParts, JsErrorBox> {
    Ok(UrlParts::from(&parse_url(input, base.as_deref())?))
}

#[op2]
#[serde]
fn op_rt_url_set(
    #[string] href: &str,
    #[string] component: &str,
    #[string] value: &str,
) -> Result<UrlParts, JsErrorBox> {
    let mut u = parse_url(href, None)?;
    // Setters that the URL standard ignores on bad input are ignored here too.
    let strip = |v: &str, p: char| v.strip_prefix(p).unwrap_or(v).to_string();
    match component {
        "protocol" => {
            let _ = u.set_scheme(value.trim_end_matches(':'));
        }
        "username" => {
            let _ = u.set_username(value);
        }
        "password" => {
            let _ = u.set_password(Some(value));
        }
        "host" | "hostname" => {
            let (h, p) = match (component, value.rsplit_once(':')) {
                ("host", Some((h, p))) if p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
                _ => (value, None),
            };
            if u.set_host(Some(h)).is_ok() {
                if let Some(p) = p.and_then(|p| p.parse().ok()) {
                    let _ = u.set_port(Some(p));
                }
            }
        }
        "port" => {
            let _ = u.set_port(if value.is_empty() {
                None
            } else {
                value.parse().ok()
            });
        }
        "pathname" => u.set_path(value),
        "search" => {
            let q = strip(value, '?');
            u.set_query(if q.is_empty() { None } else { Some(&q) });
        }
        "hash" => {
            let h = strip(value, '#');
            u.set_fragment(if h.is_empty() { None } else { Some(&h) });
        }
        other => {
            return Err(JsErrorBox::type_error(format!(
                "URL has no settable {other:?}"
            )))
        }
    }
    Ok(UrlParts::from(&u))
}

deno_core::extension!(
    connector_runtime,
    ops = [
        op_rt_console,
        op_rt_api_configure,
        op_rt_api_request,
        op_rt_digest,
        op_rt_hmac,
        op_rt_hmac_verify,
        op_rt_random_fill,
        op_rt_url_parse,
        op_rt_url_set,
    ],
);

//! `apiClient`'s ops (runtime-js/api_client.js): makeApiClient's result
//! configures the connection, and every request goes through
//! `runtime_api_client` on the host's tokio runtime. The HTTP, the origin
//! allow-list, retries and redaction live in crates/api-client; this module
//! only carries requests and answers across, and must not add policy.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use deno_core::{op2, OpState};
use deno_error::JsErrorBox;
use runtime_api_client::{
    ApiClientError, ApiRequest, Body, ClientSettings, HttpClient, HttpConfig, OAuthConfig,
};
use serde::Deserialize;
use serde_json::{json, Value};

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
    /// The running call's connection (worker.rs): its rate budget is its own.
    pub tenant: crate::loader::CurrentTenant,
}

#[op2]
pub(super) fn op_rt_api_configure(
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
    settings.limit_scope = ctx.tenant.borrow().clone().unwrap_or_default();
    ctx.settings = Some(Arc::new(settings));
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireRequest {
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
pub(super) async fn op_rt_api_request(
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

/// The OAuth2 refresh_token grant with the connector's OAuth config
/// (`runtime_api_client::refresh_token_grant`): `{ok, token}`, or the
/// error envelope of a request.
#[op2]
#[serde]
pub(super) async fn op_rt_oauth_refresh(
    state: Rc<RefCell<OpState>>,
    #[serde] config: serde_json::Value,
    #[string] refresh_token: String,
) -> Result<serde_json::Value, JsErrorBox> {
    let config = OAuthConfig::from_value(&config)
        .map_err(|e| JsErrorBox::type_error(format!("getOAuthConfig: {e}")))?;
    let (client, http, host) = {
        let s = state.borrow();
        let ctx = s.borrow::<ApiContext>();
        (ctx.client.clone(), ctx.config.clone(), ctx.host.clone())
    };
    let result = host
        .spawn(async move {
            runtime_api_client::refresh_token_grant(&client, &http, &config, &refresh_token).await
        })
        .await
        .map_err(|e| JsErrorBox::generic(format!("OAuth refresh task failed: {e}")))?;
    Ok(match result {
        Ok(token) => json!({"ok": true, "token": token}),
        Err(err) => error_envelope(err),
    })
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

//! `apiClient`'s ops (runtime-js/api_client.js): makeApiClient's result
//! configures the connection, and every request goes through the
//! transport of `crate::http`: `runtime_api_client` on the host's tokio
//! runtime, or, in an engine worker process, the service over the worker's
//! channel. The HTTP, the origin allow-list, retries and redaction live in
//! crates/api-client; this module only carries requests and answers
//! across, and must not add policy.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use deno_core::{op2, OpState};
use deno_error::JsErrorBox;
use runtime_api_client::{ApiRequest, HttpClient, HttpConfig, OAuthConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::http::{self, Configured, Direct, Http, RawSettings};

/// What the apiClient ops need; one per runtime, put in the OpState.
pub(crate) struct ApiContext {
    pub client: HttpClient,
    pub config: Arc<HttpConfig>,
    pub spec_base_uri: Option<String>,
    pub allowed_hosts: Arc<Vec<String>>,
    /// Set by `op_rt_api_configure` from makeApiClient's result.
    pub settings: Option<Configured>,
    /// HTTP runs on the host's multi-threaded runtime so that time spent on
    /// the network never counts against the JavaScript CPU budget.
    pub host: tokio::runtime::Handle,
    /// The running call's connection (worker.rs): its rate budget is its own.
    pub tenant: crate::loader::CurrentTenant,
}

impl ApiContext {
    /// The transport: the worker's channel in an engine worker process,
    /// else this process's HTTP client.
    fn transport(&self) -> Arc<dyn Http> {
        match http::forwarded() {
            Some(forward) => forward.clone(),
            None => Arc::new(Direct {
                client: self.client.clone(),
                config: self.config.clone(),
                host: self.host.clone(),
            }),
        }
    }
}

#[op2]
pub(super) fn op_rt_api_configure(
    state: &mut OpState,
    #[serde] value: serde_json::Value,
    #[serde] credential_strings: Vec<String>,
) -> Result<(), JsErrorBox> {
    let ctx = state.borrow_mut::<ApiContext>();
    let raw = RawSettings {
        value,
        secrets: credential_strings,
        scope: ctx.tenant.borrow().clone().unwrap_or_default(),
    };
    let settings = http::settings_of(&raw, ctx.spec_base_uri.as_deref(), &ctx.allowed_hosts)
        .map_err(JsErrorBox::type_error)?;
    ctx.settings = Some(Configured {
        settings: Arc::new(settings),
        raw: Arc::new(raw),
    });
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
    let (transport, configured) = {
        let s = state.borrow();
        let ctx = s.borrow::<ApiContext>();
        let configured = ctx.settings.clone().ok_or_else(|| {
            JsErrorBox::generic("apiClient used before makeApiClient configured it")
        })?;
        (ctx.transport(), configured)
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
    transport
        .request(&configured, request)
        .await
        .map_err(JsErrorBox::generic)
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
    let parsed = OAuthConfig::from_value(&config)
        .map_err(|e| JsErrorBox::type_error(format!("getOAuthConfig: {e}")))?;
    let transport = state.borrow().borrow::<ApiContext>().transport();
    transport
        .oauth_refresh(config, parsed, refresh_token)
        .await
        .map_err(JsErrorBox::generic)
}

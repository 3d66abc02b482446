//! The engine for a connector, configured from its spec (`limits`, `http`,
//! `baseUri`, `allowedHosts`, the auth functions) with the caller's limit
//! overrides on top: the one place `run`, `invoke`, `validate`, the bench
//! tools and the examples get their engine from.

use std::sync::Arc;
use std::time::Duration;

use runtime_api_client::{HttpClient, HttpConfig, RateLimit};
use runtime_connector::{Connector, FunctionFile, Implementation, LimitsSpec, Problem};
use runtime_engine::{Engine, EngineConfig, Limits};

/// Limits given by the caller (the command line); they win over the
/// connector spec's.
#[derive(Debug, Default, Clone, Copy)]
pub struct LimitOverrides {
    /// JavaScript CPU time per call, in milliseconds.
    pub cpu_ms: Option<u64>,
    /// Wall-clock time per call including HTTP waits, in seconds.
    pub wall_s: Option<u64>,
    /// JavaScript heap per connector, in MiB.
    pub heap_mb: Option<u64>,
    /// Calls of a connector that may run at once, each in its own runtime.
    pub runtimes: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Function(#[from] Problem),
    #[error("cannot create the HTTP client: {0}")]
    Client(Box<runtime_api_client::ApiClientError>),
    #[error("cannot start the JavaScript engine: {0}")]
    Engine(#[from] std::io::Error),
}

impl From<runtime_api_client::ApiClientError> for SetupError {
    fn from(e: runtime_api_client::ApiClientError) -> SetupError {
        SetupError::Client(Box::new(e))
    }
}

/// Starts the engine for `connector`, its HTTP on a client of its own
/// (no address guard: `run` serves one trusted user).
pub fn engine_for(connector: &Connector, overrides: &LimitOverrides) -> Result<Engine, SetupError> {
    engine_with_client(connector, overrides, HttpClient::new()?)
}

/// [`engine_for`] with the caller's HTTP client: `runtime serve` shares
/// one, with its outbound address guard, between all its connectors.
pub fn engine_with_client(
    connector: &Connector,
    overrides: &LimitOverrides,
    client: HttpClient,
) -> Result<Engine, SetupError> {
    Ok(Engine::start(engine_config(connector, overrides, client)?)?)
}

/// [`engine_with_client`] whose connector code runs in worker processes
/// (`runtime serve`): HTTP stays in this process, on `client`.
#[cfg(unix)]
pub fn engine_in_workers(
    connector: &Connector,
    overrides: &LimitOverrides,
    client: HttpClient,
    workers: runtime_engine::WorkerOptions,
) -> Result<Engine, SetupError> {
    let config = engine_config(connector, overrides, client)?;
    Ok(Engine::start_in_workers(config, workers)?)
}

fn engine_config(
    connector: &Connector,
    overrides: &LimitOverrides,
    client: HttpClient,
) -> Result<EngineConfig, SetupError> {
    // Code or a mapping file (`auth/make-api-client.yml`, a `filePath` to
    // one), as declared in the root spec; the engine runs either.
    let auth = |name: &str| -> Result<Option<FunctionFile>, Problem> {
        Ok(connector
            .implementation(name)?
            .map(Implementation::into_function_file))
    };
    let config = EngineConfig {
        name: connector.spec.key.clone(),
        root: connector.dir.clone(),
        limits: limits(&connector.spec.limits, overrides),
        http: Arc::new(http_config(connector)),
        client,
        spec_base_uri: connector.spec.base_uri.clone(),
        allowed_hosts: Arc::new(connector.spec.allowed_hosts.clone()),
        make_api_client: auth("auth/make-api-client")?,
        refresh_credentials: auth("auth/refresh-credentials")?,
        // Membrane's file keys for getOAuthConfig.
        oauth_config: match auth("auth/get-oauth-config")? {
            Some(f) => Some(f),
            None => auth("auth/oauth-config")?,
        },
    };
    Ok(config)
}

fn limits(spec: &LimitsSpec, overrides: &LimitOverrides) -> Limits {
    let d = Limits::default();
    Limits {
        cpu: overrides
            .cpu_ms
            .or(spec.cpu_ms)
            .map(Duration::from_millis)
            .unwrap_or(d.cpu),
        wall: overrides
            .wall_s
            .or(spec.wall_seconds)
            .map(Duration::from_secs)
            .unwrap_or(d.wall),
        heap_bytes: overrides
            .heap_mb
            .or(spec.heap_mb)
            .map(|mb| (mb as usize).saturating_mul(1 << 20))
            .unwrap_or(d.heap_bytes),
        runtimes: overrides
            .runtimes
            .or(spec.runtimes)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX).max(1))
            .unwrap_or(d.runtimes),
        // Only `runtime serve` calls with tenants; it sets its own.
        tenants_per_runtime: d.tenants_per_runtime,
    }
}

fn http_config(connector: &Connector) -> HttpConfig {
    let spec = &connector.spec.http;
    let mut c = HttpConfig {
        rate_limit: connector
            .spec
            .rate_limit
            .as_ref()
            .and_then(|r| RateLimit::new(r.requests, r.per_seconds)),
        ..HttpConfig::default()
    };
    if let Some(n) = spec.max_attempts {
        c.max_attempts = n;
    }
    if let Some(s) = spec.max_retry_seconds {
        c.max_retry_elapsed = Duration::from_secs(s);
    }
    if let Some(s) = spec.connect_timeout_seconds {
        c.connect_timeout = Duration::from_secs(s);
    }
    if let Some(s) = spec.request_timeout_seconds {
        c.request_timeout = Duration::from_secs(s);
    }
    if let Some(b) = spec.max_response_bytes {
        c.max_response_bytes = usize::try_from(b).unwrap_or(usize::MAX);
    }
    c
}

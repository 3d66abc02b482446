//! A loaded connector ready to run: its specs, its connection and an engine
//! configured from both. Shared by every command that runs connector code.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use runtime_api_client::{HttpClient, HttpConfig};
use runtime_connector::{Connection, Connector, FunctionFile, HttpSpec, LimitsSpec};
use runtime_engine::{Engine, EngineConfig, FunctionRef, Limits};

/// Limits given on the command line; they win over the connector spec's.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct LimitArgs {
    /// JavaScript CPU time per call, in milliseconds (default 10000).
    #[arg(long, global = true)]
    pub cpu_limit_ms: Option<u64>,
    /// Wall-clock time per call including HTTP waits, in seconds (default 300).
    #[arg(long, global = true)]
    pub wall_limit_s: Option<u64>,
    /// JavaScript heap per connector, in MiB (default 256).
    #[arg(long, global = true)]
    pub heap_limit_mb: Option<u64>,
    /// Calls of a connector that may run at once, each in its own
    /// JavaScript runtime (default 4).
    #[arg(long, global = true)]
    pub runtimes: Option<u64>,
}

pub struct Session {
    pub connector: Connector,
    pub connection: Connection,
    pub engine: Engine,
}

impl Session {
    /// Loads the connector (failing with every spec problem) and the
    /// connection file, and starts the engine.
    pub fn open(dir: &Path, connection: Option<&Path>, limits: &LimitArgs) -> Result<Session> {
        let connector = runtime_connector::load(dir).map_err(|problems| {
            anyhow!(
                "connector {} has problems:\n{}",
                dir.display(),
                problems
                    .iter()
                    .map(|p| format!("  {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?;
        let connection = match connection {
            Some(path) => {
                runtime_connector::load_connection(path, &|name| std::env::var(name).ok())?
            }
            None => Connection::empty(),
        };
        for unknown in connection.unknown_collections(&connector) {
            tracing::warn!(
                "connection file names collection `{unknown}`, which the connector does not have"
            );
        }
        let engine = start_engine(&connector, limits)?;
        Ok(Session {
            connector,
            connection,
            engine,
        })
    }
}

pub fn function_ref(f: &FunctionFile) -> FunctionRef {
    FunctionRef {
        path: f.path.clone(),
        rel: f.rel.to_string_lossy().into_owned(),
        export: f.export.clone(),
    }
}

fn auth_function(connector: &Connector, name: &str) -> Result<Option<FunctionRef>> {
    Ok(connector
        .function_file(name)
        .map_err(|p| anyhow!("{p}"))?
        .as_ref()
        .map(function_ref))
}

pub fn start_engine(connector: &Connector, args: &LimitArgs) -> Result<Engine> {
    let config = EngineConfig {
        name: connector.spec.key.clone(),
        root: connector.dir.clone(),
        limits: limits(&connector.spec.limits, args),
        http: Arc::new(http_config(&connector.spec.http)),
        client: HttpClient::new().context("cannot create the HTTP client")?,
        spec_base_uri: connector.spec.base_uri.clone(),
        allowed_hosts: Arc::new(connector.spec.allowed_hosts.clone()),
        make_api_client: auth_function(connector, "auth/make-api-client")?,
        refresh_credentials: auth_function(connector, "auth/refresh-credentials")?,
    };
    Engine::start(config).context("cannot start the JavaScript engine")
}

fn limits(spec: &LimitsSpec, args: &LimitArgs) -> Limits {
    let d = Limits::default();
    Limits {
        cpu: args
            .cpu_limit_ms
            .or(spec.cpu_ms)
            .map(Duration::from_millis)
            .unwrap_or(d.cpu),
        wall: args
            .wall_limit_s
            .or(spec.wall_seconds)
            .map(Duration::from_secs)
            .unwrap_or(d.wall),
        heap_bytes: args
            .heap_limit_mb
            .or(spec.heap_mb)
            .map(|mb| (mb as usize).saturating_mul(1 << 20))
            .unwrap_or(d.heap_bytes),
        runtimes: args
            .runtimes
            .or(spec.runtimes)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX).max(1))
            .unwrap_or(d.runtimes),
    }
}

fn http_config(spec: &HttpSpec) -> HttpConfig {
    let mut c = HttpConfig::default();
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

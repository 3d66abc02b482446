//! `runtime serve`: one process serving many connections of many
//! connectors (../shared/SERVICE.md is the contract).
//!
//! Owns the service around the host's machinery: the connectors loaded
//! from `--connectors` (`connectors`), the connection records the admin
//! API creates and their validation (`record`), the running connections
//! and what the API asks of them (`service`), and the HTTP surface: admin
//! API, webhooks, health (`api`). Each connection runs as
//! `runtime_host::ConnectionRun` over its own view of the one store
//! (`Store::tenant`); one deliverer delivers every connection's events.
//!
//! It must not run a cycle, interpret connector answers or touch state
//! itself: the host and the strategies do; nor keep credentials anywhere
//! but the store (sealed) and the running invokers.

mod api;
mod connectors;
mod record;
mod service;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use runtime_sinks::SinkConfig;
use runtime_store::Store;
use runtime_strategies::LimitOverrides;
use tokio::sync::watch;

pub use connectors::{load_connectors, Loaded};
pub use service::Service;

/// How `runtime serve` was started.
#[derive(Clone)]
pub struct ServeOptions {
    pub connectors_dir: PathBuf,
    pub store: Arc<dyn Store>,
    /// What `--store` named, for messages (`sled:.runtime/serve`).
    pub store_name: String,
    pub listen: SocketAddr,
    /// Base of every webhookUri (default `http://<listen>`).
    pub public_url: Option<String>,
    pub sink: SinkConfig,
    /// Compared in constant time; never logged.
    pub admin_token: String,
    pub limits: LimitOverrides,
    /// How connector code runs: in worker processes of this program.
    pub workers: WorkerSetup,
    /// Ranges connectors may reach although not public
    /// (`--allow-private-networks`); everything else non-public is refused.
    pub allow_private_networks: Vec<runtime_api_client::IpNet>,
    /// Largest request body (admin API and webhooks).
    pub max_body: usize,
    pub webhook_read_timeout: Duration,
    /// Replaces every subscription's pull interval (demos, tests).
    pub interval_override: Option<Duration>,
    pub instance_id: String,
    /// Stops the service like SIGTERM when it turns true.
    pub stop: Option<watch::Receiver<bool>>,
}

/// The engine worker processes (`runtime_engine::WorkerOptions`): the
/// program and arguments that start one (the `runtime` binary's hidden
/// `__engine-worker`), and how many each connector gets.
#[derive(Debug, Clone)]
pub struct WorkerSetup {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub per_connector: usize,
    /// `WorkerOptions::recycle_rss_bytes`: a worker past it is replaced.
    pub recycle_rss_bytes: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Host(#[from] runtime_host::HostError),
    #[error("{0}")]
    Store(#[from] runtime_store::StoreError),
    #[error("{0}")]
    Sink(#[from] runtime_sinks::SinkError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("--connectors {dir}: {message}")]
    Connectors { dir: PathBuf, message: String },
    #[error("cannot create the HTTP client: {0}")]
    Client(Box<runtime_api_client::ApiClientError>),
    #[error("stored connection `{id}`: {message}")]
    Stored { id: String, message: String },
}

impl From<runtime_api_client::ApiClientError> for ServeError {
    fn from(e: runtime_api_client::ApiClientError) -> ServeError {
        ServeError::Client(Box::new(e))
    }
}

/// Runs the service until SIGINT/SIGTERM (or `options.stop`): stops taking
/// cycles, lets those in flight commit, delivers, and returns.
pub async fn serve(options: ServeOptions) -> Result<(), ServeError> {
    service::run(options).await
}

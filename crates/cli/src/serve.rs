//! `runtime serve`: many connections of the connectors in a directory,
//! managed through an admin API (see crates/service and docs/serve.md).
//! This file only reads the command line and the two secrets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use runtime_secrets::{Cipher, SecretKey};
use runtime_service::{ServeOptions, WorkerSetup};
use runtime_sinks::SinkConfig;
use runtime_store::{Postgres, Sled, Store};
use runtime_strategies::LimitOverrides;

use crate::session::{positive_seconds, LimitArgs};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Environment:
  RUNTIME_ADMIN_TOKEN   the admin API's bearer token (or --admin-token-file); required
  RUNTIME_SECRET_KEY    32 bytes as 64 hex digits or base64 (or --secret-key-file); required:
                        credentials are sealed with it (XChaCha20-Poly1305) in the store

Admin API (every /v1 route needs `Authorization: Bearer <token>`):
  POST   /v1/connections                      create {id?, connector, credentials, parameters?, collections?}
  GET    /v1/connections                      list
  GET    /v1/connections/{id}                 one, with its subscriptions (never its credentials)
  PATCH  /v1/connections/{id}                 change credentials, parameters, collections, enabled
  DELETE /v1/connections/{id}                 unsubscribe webhooks, forget state
  GET    /v1/connections/{id}/subscriptions   status of each subscription
  POST   /v1/connections/{id}/subscriptions/{collection}/run   run a cycle now
Also: /webhooks/{connection}/{collection}/{scope}, /healthz, /readyz. See docs/serve.md.")]
pub struct ServeArgs {
    /// Directory whose subdirectories are connectors (`spec.yml` or `src/spec.yml`).
    #[arg(long)]
    pub connectors: PathBuf,
    /// Where connections, state and the outbox live: `sled:PATH`, or
    /// `postgres://USER[:PASS]@HOST:PORT/DB[?pool_size=N]` (the schema is
    /// created and migrated at start; one instance per database for now).
    #[arg(long, default_value = "sled:.runtime/serve")]
    pub store: String,
    /// Address of the admin API, webhooks and health endpoints.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Base of the webhookUri handed to subscribe (default `http://<listen>`).
    #[arg(long)]
    pub public_url: Option<String>,
    /// `stdout`, `file:PATH`, `http(s)://URL` or
    /// `nats://HOST:PORT/SUBJECT[?stream=NAME]` (JetStream, `Nats-Msg-Id` = event id);
    /// event lines carry `connection`.
    #[arg(long, default_value = "stdout")]
    pub sink: String,
    /// Non-public ranges connectors may reach (`CIDR[,CIDR...]`, e.g.
    /// `10.0.0.0/8,127.0.0.1/32`). Loopback, private, link-local,
    /// unspecified and multicast addresses are refused otherwise, checked
    /// on the resolved address of every connection and redirect.
    #[arg(long, default_value = "")]
    pub allow_private_networks: String,
    /// Name of this instance in logs (default: hostname and pid).
    #[arg(long)]
    pub instance_id: Option<String>,
    /// Lease length for the postgres store (not used on sled).
    #[arg(long, default_value_t = 30)]
    pub lease_seconds: u64,
    /// File holding the admin token (instead of RUNTIME_ADMIN_TOKEN).
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
    /// File holding the secret key (instead of RUNTIME_SECRET_KEY).
    #[arg(long)]
    pub secret_key_file: Option<PathBuf>,
    /// Largest request body (admin API and webhooks), in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body: usize,
    /// Seconds a client may take to send its request body (408 after).
    #[arg(long, default_value_t = 30.0)]
    pub webhook_read_timeout: f64,
    /// Engine worker processes per connector (connector code never runs in
    /// the service's own process; each worker runs up to `--runtimes` calls).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Replace an engine worker whose resident memory passes this many MiB
    /// (it finishes its calls first; nothing is lost). 0: never.
    #[arg(long, default_value_t = runtime_engine::RECYCLE_RSS_BYTES >> 20)]
    pub worker_recycle_mb: u64,
    /// Override every collection's pull interval, in seconds (demos, tests).
    #[arg(long)]
    pub interval: Option<f64>,
}

/// A secret from its file, else its environment variable; never echoed.
fn secret(file: Option<&Path>, var: &str, flag: &str) -> Result<String> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {flag} {}", path.display()))?,
        None => match std::env::var(var) {
            Ok(v) => v,
            Err(_) => bail!(
                "{var} is not set (or pass {flag} FILE): runtime serve needs it before it listens"
            ),
        },
    };
    let text = text.trim().to_string();
    if text.is_empty() {
        bail!("{var} is empty");
    }
    Ok(text)
}

async fn open_store(spec: &str, cipher: Cipher) -> Result<Arc<dyn Store>> {
    if let Some(path) = spec.strip_prefix("sled:") {
        let dir = Path::new(path);
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the store directory {}", dir.display()))?;
        return Ok(Arc::new(Sled::open(dir)?.with_cipher(cipher)));
    }
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        let store = Postgres::open(spec).await?.with_cipher(cipher);
        store.claim_sole_instance().await?;
        return Ok(Arc::new(store));
    }
    bail!(
        "--store {}: expected sled:PATH or postgres://USER[:PASS]@HOST:PORT/DB",
        redact(spec)
    )
}

/// A store URL without its password.
fn redact(spec: &str) -> String {
    match url::Url::parse(spec) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => spec.to_string(),
    }
}

/// Workers are this binary's hidden `__engine-worker`, logging as the
/// service does (`log` is the `--log` filter, `json` the format).
pub fn worker_setup(log: &str, json: bool, per_connector: usize) -> Result<WorkerSetup> {
    let program =
        std::env::current_exe().context("cannot find this program to start engine workers")?;
    let mut args = vec!["--log".to_string(), log.to_string()];
    if json {
        args.extend(["--log-format".to_string(), "json".to_string()]);
    }
    args.push("__engine-worker".into());
    Ok(WorkerSetup {
        program,
        args,
        per_connector,
        recycle_rss_bytes: Some(runtime_engine::RECYCLE_RSS_BYTES),
    })
}

pub async fn run(args: ServeArgs, limits: &LimitArgs, workers: WorkerSetup) -> Result<()> {
    let admin_token = secret(
        args.admin_token_file.as_deref(),
        "RUNTIME_ADMIN_TOKEN",
        "--admin-token-file",
    )?;
    let key_text = secret(
        args.secret_key_file.as_deref(),
        "RUNTIME_SECRET_KEY",
        "--secret-key-file",
    )?;
    let key = SecretKey::parse(&key_text, "RUNTIME_SECRET_KEY")?;
    let sink: SinkConfig = args.sink.parse()?;
    let interval = args
        .interval
        .map(|s| positive_seconds(s, "--interval"))
        .transpose()?;
    let read_timeout = positive_seconds(args.webhook_read_timeout, "--webhook-read-timeout")?;
    let allowed = runtime_api_client::AddressGuard::parse_allowed(&args.allow_private_networks)
        .context("--allow-private-networks")?;
    let store = open_store(&args.store, Cipher::new(&key)).await?;
    let instance_id = args.instance_id.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let options = ServeOptions {
        connectors_dir: args.connectors,
        store,
        store_name: redact(&args.store),
        listen: args.listen,
        public_url: args.public_url,
        sink,
        admin_token,
        limits: LimitOverrides {
            cpu_ms: limits.cpu_limit_ms,
            wall_s: limits.wall_limit_s,
            heap_mb: limits.heap_limit_mb,
            runtimes: limits.runtimes,
        },
        allow_private_networks: allowed.allowed().to_vec(),
        workers: WorkerSetup {
            per_connector: args.workers,
            recycle_rss_bytes: (args.worker_recycle_mb > 0).then_some(args.worker_recycle_mb << 20),
            ..workers
        },
        max_body: args.max_body,
        webhook_read_timeout: read_timeout,
        interval_override: interval,
        instance_id,
        stop: None,
    };
    let _ = args.lease_seconds;
    runtime_service::serve(options).await?;
    Ok(())
}

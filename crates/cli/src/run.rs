//! `runtime run DIR`: subscribes every enabled collection and turns the
//! external app's changes into events (see crates/host).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use runtime_connector::{Connection, Connector};
use runtime_host::{RunOptions, RunReport};
use runtime_sinks::SinkConfig;
use runtime_store::{Claim, Sled, Store};

use crate::session::{positive_seconds, LimitArgs, Session};
use crate::validate::check_module;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The connector directory.
    pub dir: PathBuf,
    /// Connection file (JSON or YAML) with credentials and parameters.
    #[arg(long)]
    pub connection: Option<PathBuf>,
    /// Where state, snapshots and the event outbox live (default
    /// `.runtime/<connector key>/<connection>`: one per connection, named
    /// after the connection file's `id`, else after the file). A data dir
    /// belongs to the first connection that used it; others are refused.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Run one cycle of every enabled collection, deliver, and exit.
    /// Webhook collections are left out (nothing would receive their
    /// deliveries once the run exits) unless `--once-webhooks` is given.
    #[arg(long)]
    pub once: bool,
    /// With `--once`: subscribe webhook collections too.
    #[arg(long, requires = "once")]
    pub once_webhooks: bool,
    /// `stdout`, `file:PATH`, `http(s)://URL` or
    /// `nats://HOST:PORT/SUBJECT[?stream=NAME]` (JetStream, `Nats-Msg-Id` = event id).
    #[arg(long, default_value = "stdout")]
    pub sink: String,
    /// Address of the webhook server (only started if a collection uses webhooks).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Public base URL the external app reaches the webhook server at
    /// (default `http://<listen>`, which only this machine can reach). When
    /// it changes between runs, webhook registrations are moved to it.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Largest webhook request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_webhook_body: usize,
    /// Seconds a webhook sender may take to deliver its request body (408 after).
    #[arg(long, default_value_t = 30.0)]
    pub webhook_read_timeout: f64,
    /// Override every collection's pull interval, in seconds.
    #[arg(long)]
    pub interval: Option<f64>,
}

/// What would fail later in the run, found before it starts: the layout
/// of the enabled collections, and every module they and the connector
/// load (a syntax error in a function the baseline does not call would
/// otherwise surface one interval later). Disabled collections are not
/// looked at: they never run.
async fn check_enabled(session: &Session) -> Vec<String> {
    let connector = &session.connector;
    let enabled = |key: &str| session.connection.is_enabled(key);
    let mut problems: Vec<String> = connector
        .layout_problems_for(enabled)
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut files = connector.connector_function_files();
    for key in connector.collections.keys().filter(|k| enabled(k)) {
        files.extend(connector.collection_function_files(key));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path && a.export == b.export);
    for file in files {
        if let Some(problem) = check_module(&session.engine, &file).await {
            problems.push(problem);
        }
    }
    problems
}

/// Opens (creating) the data dir of a run.
pub fn open_store(dir: &Path) -> Result<Arc<dyn Store>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    Ok(Arc::new(Sled::open(dir)?))
}

/// The data dir of `connection`: `--data-dir`, else its default, which is
/// per connection (see crates/host/src/data_dir.rs).
pub fn data_dir_of(
    given: Option<&Path>,
    connector: &Connector,
    connection: &Connection,
) -> PathBuf {
    if let Some(dir) = given {
        return dir.to_path_buf();
    }
    let old = runtime_host::connector_data_root(connector);
    if runtime_host::is_old_default(&old) {
        tracing::warn!(
            "{} holds state from before data dirs were per connection; this run uses {} instead. To continue from the old state, pass --data-dir {}",
            old.display(),
            runtime_host::default_data_dir(connector, connection).display(),
            old.display()
        );
    }
    runtime_host::default_data_dir(connector, connection)
}

/// Binds the store to the connection, or refuses a store of another one.
pub async fn claim(store: &dyn Store, dir: &Path, connection: &Connection) -> Result<()> {
    let identity = runtime_host::connection_identity(connection);
    if store.claim_connection(&identity).await? == Claim::Adopted {
        tracing::info!(
            "data dir {} now records that it belongs to connection `{identity}`",
            dir.display()
        );
    }
    Ok(())
}

pub async fn run(args: RunArgs, limits: &LimitArgs) -> Result<RunReport> {
    let sink: SinkConfig = args.sink.parse()?;
    let session = Session::open(&args.dir, args.connection.as_deref(), limits)?;
    let problems = check_enabled(&session).await;
    if !problems.is_empty() {
        bail!(
            "connector {} cannot run:\n{}",
            args.dir.display(),
            problems
                .iter()
                .map(|p| format!("  {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let data_dir = data_dir_of(
        args.data_dir.as_deref(),
        &session.connector,
        &session.connection,
    );
    let store = open_store(&data_dir)?;
    claim(store.as_ref(), &data_dir, &session.connection).await?;
    let interval = args
        .interval
        .map(|s| positive_seconds(s, "--interval"))
        .transpose()?;
    let read_timeout = positive_seconds(args.webhook_read_timeout, "--webhook-read-timeout")?;
    let options = RunOptions {
        sink,
        once: args.once,
        once_webhooks: args.once_webhooks,
        listen: args.listen,
        public_url: args.public_url,
        max_webhook_body: args.max_webhook_body,
        webhook_read_timeout: read_timeout,
        interval_override: interval,
        stop: None,
    };
    let report = runtime_host::run(
        Arc::new(session.connector),
        session.connection,
        session.engine,
        store,
        options,
    )
    .await?;
    if !report.failures.is_empty() {
        let list = report
            .failures
            .iter()
            .map(|(id, e)| format!("  {id}: {e}"))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(anyhow!(
            "{} of {} subscriptions failed:\n{list}",
            report.failures.len(),
            report.cycles
        ));
    }
    Ok(report)
}

//! `runtime state show|reset DIR`: inspect or forget stored subscriptions.
//! Neither creates a data dir: a mistyped `--data-dir` is an error, not an
//! empty store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use runtime_connector::Connector;
use runtime_store::{Sled, Store};
use serde_json::json;

use crate::run::{claim, data_dir_of};
use crate::session::{LimitArgs, Session};

#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Print every subscription's stored state and the outbox size as JSON
    /// (values of secret-looking keys redacted).
    Show(StateArgs),
    /// Forget subscriptions (webhooks are unsubscribed first, which needs
    /// the connection's credentials: pass `--connection`); the next run
    /// starts from a new baseline.
    Reset(StateArgs),
}

#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// The connector directory.
    pub dir: PathBuf,
    /// The data dir (default: the connection's own, as `run` uses it).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The connection file the runs used: it picks the default data dir,
    /// and `reset` needs its credentials to unsubscribe webhooks.
    #[arg(long)]
    pub connection: Option<PathBuf>,
    /// Only this collection.
    #[arg(long)]
    pub collection: Option<String>,
}

pub async fn run(command: StateCommand, limits: &LimitArgs) -> Result<()> {
    let (StateCommand::Show(args) | StateCommand::Reset(args)) = &command;
    let session = Session::open(&args.dir, args.connection.as_deref(), limits)?;
    if let Some(c) = &args.collection {
        if !session.connector.collections.contains_key(c) {
            bail!(
                "connector {} has no collection `{c}`; its collections: {}",
                session.connector.spec.key,
                session
                    .connector
                    .collections
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let data_dir = data_dir_of(
        args.data_dir.as_deref(),
        &session.connector,
        &session.connection,
    );
    let store = open_existing(&data_dir, &session.connector)?;
    let key = session.connector.spec.key.clone();
    let selected = |collection: &str| args.collection.as_ref().is_none_or(|c| c == collection);
    if let StateCommand::Show(_) = command {
        let subs: Vec<_> = store
            .list()
            .await?
            .into_iter()
            .filter(|(_, s)| s.connector == key && selected(&s.collection))
            .map(|(id, s)| {
                let mut state = serde_json::to_value(&s).unwrap_or_default();
                // A webhook registration's state often holds its signing secret.
                runtime_api_client::redact_json(&mut state);
                json!({"id": id, "state": state})
            })
            .collect();
        let out = json!({
            "dataDir": data_dir,
            "connection": store.connection().await?,
            "subscriptions": subs,
            "pendingEvents": store.pending_count().await?,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let webhooks = store
        .list()
        .await?
        .into_iter()
        .filter(|(_, s)| s.connector == key && selected(&s.collection))
        .filter(|(_, s)| runtime_strategies::registered(s))
        .map(|(id, _)| id)
        .collect::<Vec<_>>();
    if args.connection.is_none() && !webhooks.is_empty() {
        bail!(
            "resetting {} calls webhook-unsubscribe at the external app, which needs the connection's credentials: pass --connection FILE (the one the runs used)",
            webhooks.join(", ")
        );
    }
    claim(store.as_ref(), &data_dir, &session.connection).await?;
    let collection = args.collection.clone();
    let done = runtime_host::reset(
        Arc::new(session.connector),
        session.connection,
        session.engine,
        store,
        collection.as_deref(),
    )
    .await?;
    for id in &done {
        println!("reset {id}");
    }
    if done.is_empty() {
        match &collection {
            Some(c) => println!("nothing stored for collection `{c}`: nothing to reset"),
            None => println!("nothing stored: nothing to reset"),
        }
    }
    Ok(())
}

/// Opens a data dir that must already exist, naming the ones that do when
/// it does not.
fn open_existing(dir: &Path, connector: &Connector) -> Result<Arc<dyn Store>> {
    if dir.is_dir() {
        return Ok(Arc::new(Sled::open(dir)?));
    }
    let root = runtime_host::connector_data_root(connector);
    let known: Vec<String> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.path().display().to_string())
        .collect();
    let hint = match known.as_slice() {
        [] => String::new(),
        dirs => format!(
            "; data dirs of this connector here: {} (pick one with --data-dir, or pass the --connection its runs used)",
            dirs.join(", ")
        ),
    };
    bail!(
        "no data dir at {}: nothing was stored there{hint}",
        dir.display()
    )
}

//! `runtime state show|reset DIR`: inspect or forget stored subscriptions.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use runtime_store::StateStore;
use serde_json::json;

use crate::run::open_store;
use crate::session::{LimitArgs, Session};

#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Print every subscription's stored state and the outbox size as JSON.
    Show(StateArgs),
    /// Forget subscriptions (webhooks are unsubscribed first); the next run
    /// starts from a new baseline.
    Reset(StateArgs),
}

#[derive(Debug, clap::Args)]
pub struct StateArgs {
    pub dir: PathBuf,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long)]
    pub connection: Option<PathBuf>,
    /// Only this collection.
    #[arg(long)]
    pub collection: Option<String>,
}

pub async fn run(command: StateCommand, limits: &LimitArgs) -> Result<()> {
    let (StateCommand::Show(args) | StateCommand::Reset(args)) = &command;
    let session = Session::open(&args.dir, args.connection.as_deref(), limits)?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| runtime_host::default_data_dir(&session.connector));
    let store = open_store(&data_dir)?;
    match command {
        StateCommand::Show(args) => {
            let subs: Vec<_> = store
                .list()?
                .into_iter()
                .filter(|(_, s)| s.connector == session.connector.spec.key)
                .filter(|(_, s)| args.collection.as_ref().is_none_or(|c| *c == s.collection))
                .map(|(id, s)| json!({"id": id, "state": s}))
                .collect();
            let out = json!({"dataDir": data_dir, "subscriptions": subs, "pendingEvents": store.pending_count()?});
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        StateCommand::Reset(args) => {
            let done = runtime_host::reset(
                Arc::new(session.connector),
                session.connection,
                session.engine,
                store,
                args.collection.as_deref(),
            )
            .await?;
            for id in &done {
                println!("reset {id}");
            }
            if done.is_empty() {
                println!("nothing to reset");
            }
        }
    }
    Ok(())
}

//! A loaded connector ready to run: its specs, its connection and an engine
//! configured from both. Shared by every command that runs connector code.

use std::path::Path;

use anyhow::{anyhow, Result};
use runtime_connector::{Connection, Connector};
use runtime_engine::Engine;
use runtime_strategies::LimitOverrides;

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

/// The engine for `connector`, the command line's limits over its spec's.
pub fn start_engine(connector: &Connector, args: &LimitArgs) -> Result<Engine> {
    let overrides = LimitOverrides {
        cpu_ms: args.cpu_limit_ms,
        wall_s: args.wall_limit_s,
        heap_mb: args.heap_limit_mb,
        runtimes: args.runtimes,
    };
    Ok(runtime_strategies::engine_for(connector, &overrides)?)
}

/// A `--flag SECS` value that must be a positive number of seconds.
pub fn positive_seconds(value: f64, flag: &str) -> Result<std::time::Duration> {
    if value.is_finite() && value > 0.0 {
        Ok(std::time::Duration::from_secs_f64(value))
    } else {
        Err(anyhow!(
            "{flag} must be a positive number of seconds, not {value}"
        ))
    }
}

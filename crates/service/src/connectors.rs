//! The connectors of `--connectors DIR`: every subdirectory holding a
//! connector (`spec.yml`, or `src/spec.yml`), each with its engine. One
//! that fails validation is reported and skipped; the others serve.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use runtime_api_client::HttpClient;
use runtime_connector::Connector;
use runtime_engine::Engine;
use runtime_strategies::LimitOverrides;

use runtime_engine::{WorkerOptions, WorkerStats};

use crate::{ServeError, WorkerSetup};

/// A connector ready for connections: its specs and its engine (its
/// worker processes), shared by every connection of it (each call names
/// its connection: the engine keeps their module instances apart).
#[derive(Clone)]
pub struct Loaded {
    pub connector: Arc<Connector>,
    pub engine: Engine,
}

/// Loads every connector under `dir`, by key (the spec's `key`, else the
/// directory's name). Fails only when `dir` cannot be read or two
/// directories claim one key.
/// Every connector's HTTP goes through `client` (the service's, with its
/// address guard).
/// Each connector's code runs in worker processes as `workers` says,
/// counted in `stats`.
pub fn load_connectors(
    dir: &Path,
    limits: &LimitOverrides,
    client: &HttpClient,
    workers: &WorkerSetup,
    stats: &Arc<WorkerStats>,
) -> Result<BTreeMap<String, Loaded>, ServeError> {
    let fail = |message: String| ServeError::Connectors {
        dir: dir.to_path_buf(),
        message,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir() && (p.join("spec.yml").is_file() || p.join("src/spec.yml").is_file())
        })
        .collect();
    paths.sort();
    let mut out = BTreeMap::new();
    for path in paths {
        let connector = match runtime_connector::load(&path) {
            Ok(c) => c,
            Err(problems) => {
                let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
                tracing::error!(
                    "connector {} skipped, it has problems:\n{}",
                    path.display(),
                    list.join("\n")
                );
                continue;
            }
        };
        let key = connector.spec.key.clone();
        if let Some(other) = out.get(&key).map(|l: &Loaded| l.connector.dir.clone()) {
            return Err(fail(format!(
                "{} and {} both have the key `{key}`",
                other.display(),
                path.display()
            )));
        }
        let mut options = WorkerOptions::new(workers.program.clone(), workers.args.clone());
        options.processes = workers.per_connector.max(1);
        options.recycle_rss_bytes = workers.recycle_rss_bytes;
        options.stats = stats.clone();
        let engine = match runtime_strategies::engine_in_workers(
            &connector,
            limits,
            client.clone(),
            options,
        ) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("connector {} skipped: {e}", path.display());
                continue;
            }
        };
        tracing::info!(connector = %key, dir = %path.display(), "connector loaded");
        out.insert(
            key,
            Loaded {
                connector: Arc::new(connector),
                engine,
            },
        );
    }
    if out.is_empty() {
        tracing::warn!(
            "no connector under {} could be loaded: every connection will be refused",
            dir.display()
        );
    }
    Ok(out)
}

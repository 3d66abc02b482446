//! Reads a Membrane-format connector directory (specs, function files, event
//! strategies, parameters) and a connection file, and reports what is wrong
//! with them as [`Problem`]s located by file, line and column.
//!
//! It must not run JavaScript, make HTTP requests or persist anything: the
//! engine, the API client and the store do that with what this crate returns.

mod collections;
mod connection;
mod functions;
mod keys;
mod layout;
mod model;
mod names;
mod params;
mod parse;
mod problem;
mod specfile;
mod suggest;
mod typed;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use connection::{load_connection, CollectionConnection, Connection, ConnectionError};
pub use functions::{FunctionFile, Implementation, ImplementationType, MappingFile};
pub use model::{
    event_function, EventFunction, EventTypeSpec, EventsSpec, FullScanLimits, HttpSpec, LimitsSpec,
    RateLimitSpec, Strategy, UnknownStrategy, EVENT_FUNCTIONS,
};
pub use names::{to_camel, to_kebab};
pub use params::{apply_defaults, FieldError, ParamError};
pub use problem::Problem;
/// The one created/updated/deleted enum, owned by runtime-events.
pub use runtime_events::{ChangeType, UnknownChangeType};

/// The root `spec.yml`. Unknown keys are kept in `raw` (Membrane has many).
#[derive(Debug, Clone)]
pub struct ConnectorSpec {
    pub key: String,
    pub name: String,
    pub base_uri: Option<String>,
    pub parameters_schema: Option<Value>,
    pub allowed_hosts: Vec<String>,
    pub limits: LimitsSpec,
    pub http: HttpSpec,
    /// `rateLimit: {requests, perSeconds}`; `None` when absent or invalid
    /// (an invalid one is a problem naming the key).
    pub rate_limit: Option<RateLimitSpec>,
    /// Relative to the connector directory.
    pub spec_file: PathBuf,
    pub raw: Value,
}

/// A directory under `data/` (not starting with `_`), with `extends` merged in.
#[derive(Debug, Clone)]
pub struct Collection {
    pub key: String,
    pub name: String,
    /// `type: directory`: a Membrane data location holding collections,
    /// not records; never subscribed.
    pub directory: bool,
    /// Absolute: `<connector>/data/<key>`.
    pub dir: PathBuf,
    /// Relative to the connector directory; `None` when the collection has no spec.
    pub spec_file: Option<PathBuf>,
    pub parameters_schema: Option<Value>,
    pub fields_schema: Option<Value>,
    pub events: EventsSpec,
    /// The spec after deep-merging its `extends` chain (without `extends`).
    pub raw: Value,
    levels: Vec<collections::Level>,
}

impl Collection {
    /// Directories of the specs this collection extends, nearest first.
    pub fn base_dirs(&self) -> Vec<&Path> {
        self.levels
            .iter()
            .skip(1)
            .map(|l| l.dir.as_path())
            .collect()
    }
}

/// `global-webhooks/<key>/`: one endpoint whose events route to collections.
#[derive(Debug, Clone)]
pub struct GlobalWebhook {
    pub key: String,
    /// Absolute.
    pub dir: PathBuf,
    /// Relative to the connector directory.
    pub spec_file: Option<PathBuf>,
    pub raw: Value,
    source: Option<problem::Source>,
}

#[derive(Debug, Clone)]
pub struct Connector {
    /// Canonical; the `src/` inside the directory given when that is where
    /// the spec is. Function paths are relative to it.
    pub dir: PathBuf,
    pub spec: ConnectorSpec,
    pub collections: BTreeMap<String, Collection>,
    pub global_webhooks: BTreeMap<String, GlobalWebhook>,
    root_source: Option<problem::Source>,
    /// What `function_file` found for each function name: finding a file
    /// takes a dozen lookups on disk, too many for every call (13 % of the
    /// service's CPU with 3,000 connections, bench/serve.sh). A connector
    /// is loaded again to see new files.
    found: functions::Found,
}

/// Loads a connector; any problem in its specs makes it fail, with all of them.
///
/// File-layout checks (missing functions for a strategy) are not included:
/// call [`Connector::layout_problems`] for those.
pub fn load(dir: &Path) -> Result<Connector, Vec<Problem>> {
    match load_lenient(dir) {
        (Some(c), problems) if problems.is_empty() => Ok(c),
        (_, problems) => Err(problems),
    }
}

/// Loads what can be loaded and returns every spec problem found: the same
/// problems [`load`] fails with. `None` only when `dir` cannot be read at all.
/// `runtime validate` adds [`Connector::layout_problems`] (they do not overlap).
pub fn load_lenient(dir: &Path) -> (Option<Connector>, Vec<Problem>) {
    let root = match dir.canonicalize() {
        Ok(r) if r.is_dir() => r,
        Ok(_) => return (None, vec![Problem::new(dir, "not a directory")]),
        Err(e) => {
            return (
                None,
                vec![Problem::new(
                    dir,
                    format!("cannot open connector directory: {e}"),
                )],
            )
        }
    };
    // Membrane's file-based connectors keep everything under `src/`
    // (beside package.json and the build output): a directory without a
    // spec whose `src/` has one is entered.
    let root = match (
        specfile::find_spec(&root),
        specfile::find_spec(&root.join("src")),
    ) {
        (None, Some(_)) => root.join("src"),
        _ => root,
    };
    let mut problems = Vec::new();
    let source = match specfile::find_spec(&root) {
        Some(path) => specfile::read_spec(&root, &path)
            .map_err(|p| problems.push(p))
            .ok(),
        None => {
            problems.push(Problem::new(
                "spec.yml",
                "no connector spec: expected spec.yml, spec.yaml or spec.json",
            ));
            None
        }
    };
    let sources: Vec<problem::Source> = source.iter().cloned().collect();
    let spec_file = source
        .as_ref()
        .map(|s| s.rel.clone())
        .unwrap_or_else(|| "spec.yml".into());
    let raw = source
        .as_ref()
        .map(|s| s.value.clone())
        .unwrap_or(Value::Object(Default::default()));
    // Without a spec file, "missing key" would only repeat "no connector spec".
    let mut unreported = Vec::new();
    let sink = if source.is_some() {
        &mut problems
    } else {
        &mut unreported
    };
    let mut rep = problem::Reporter {
        sources: &sources,
        fallback: &spec_file,
        problems: sink,
    };
    let spec = parse::connector_spec(&mut rep, &raw, &root, &spec_file);
    let collections = collections::load_collections(&root, &mut problems);
    let global_webhooks = collections::load_global_webhooks(&root, &mut problems);
    // A base shared by several collections would report its problems once each.
    let mut unique: Vec<Problem> = Vec::with_capacity(problems.len());
    for p in problems {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    let problems = unique;
    let connector = Connector {
        dir: root,
        spec,
        collections,
        global_webhooks,
        root_source: source,
        found: Default::default(),
    };
    (Some(connector), problems)
}

//! The event strategies: how one cycle of a subscription turns connector
//! function results into `created` / `updated` / `deleted` events and a
//! new subscription state.
//!
//! Each strategy reads the subscription's stored state, calls connector
//! functions through an [`Invoker`], and returns a [`Cycle`]: the events and
//! the state to commit. It must not commit or deliver anything itself (the
//! host commits a cycle atomically, then delivers), and it never changes the
//! stored state on failure: an error leaves cursor, watermark, snapshot and
//! state as they were.

pub mod custom_pull;
mod fingerprint;
pub mod full_scan;
pub mod pull_latest;
mod time;
pub mod webhook;

use std::sync::{Arc, Mutex};

use runtime_connector::Connector;
use runtime_engine::{Call, CallError, Engine};
use runtime_events::{record_id, ChangeType, NewEvent};
use runtime_store::SubscriptionState;
use serde_json::{Map, Value};

pub use fingerprint::{fingerprint, split_paths};
pub use time::parse_time;

/// Why a cycle failed. Every variant names the collection.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    #[error("collection `{collection}`: {function} failed: {source}")]
    Call {
        collection: String,
        function: String,
        #[source]
        source: Box<CallError>,
    },
    #[error("collection `{collection}`: {function} returned {problem}")]
    Shape {
        collection: String,
        function: String,
        problem: String,
    },
    #[error("collection `{collection}`: {message}")]
    Limit { collection: String, message: String },
    #[error("collection `{collection}`: no function file for {function}")]
    Missing {
        collection: String,
        function: String,
    },
    #[error("collection `{collection}`: state store: {source}")]
    Store {
        collection: String,
        #[source]
        source: runtime_store::StoreError,
    },
}

/// What one cycle produced, to be committed in one atomic write.
#[derive(Debug)]
pub struct Cycle {
    pub events: Vec<NewEvent>,
    pub state: SubscriptionState,
    /// Full scan: the snapshot generation to drop once the commit is durable.
    pub drop_snapshot: Option<u64>,
}

/// Calls one collection's functions with its parameters and the
/// connection's credentials.
#[derive(Clone)]
pub struct Invoker {
    pub engine: Engine,
    pub connector: Arc<Connector>,
    pub collection: String,
    /// Connector, then collection parameters, merged, defaults applied.
    pub parameters: Value,
    pub connector_parameters: Value,
    /// Shared by every collection of the connector: a refresh in one call
    /// is used by all later calls.
    pub credentials: Arc<Mutex<Value>>,
}

impl Invoker {
    /// Whether the collection has `events/<name>.js` (any spelling).
    pub fn has(&self, name: &str) -> bool {
        matches!(self.connector.function_file(&self.path(name)), Ok(Some(_)))
    }

    fn path(&self, name: &str) -> String {
        format!("data/{}/{}", self.collection, name)
    }

    /// Calls `data/<collection>/<name>` with `input` plus `parameters` and
    /// `credentials`.
    pub async fn call(
        &self,
        name: &str,
        input: Map<String, Value>,
    ) -> Result<Value, StrategyError> {
        self.call_path(&self.path(name), input).await
    }

    /// Calls the function at `path` (`global-webhooks/<key>/handle`, ...):
    /// for functions that belong to no collection.
    pub async fn call_path(
        &self,
        path: &str,
        mut input: Map<String, Value>,
    ) -> Result<Value, StrategyError> {
        let path = path.to_string();
        let file = self
            .connector
            .function_file(&path)
            .ok()
            .flatten()
            .ok_or_else(|| StrategyError::Missing {
                collection: self.collection.clone(),
                function: path.clone(),
            })?;
        let credentials = self
            .credentials
            .lock()
            .map(|c| c.clone())
            .unwrap_or(Value::Null);
        input.insert("parameters".into(), self.parameters.clone());
        input.insert("credentials".into(), credentials.clone());
        let output = self
            .engine
            .call(Call {
                function: runtime_engine::FunctionRef {
                    path: file.path.clone(),
                    rel: file.rel.to_string_lossy().into_owned(),
                    export: file.export.clone(),
                },
                collection: Some(self.collection.clone()),
                input: Value::Object(input),
                credentials,
                connector_parameters: self.connector_parameters.clone(),
            })
            .await
            .map_err(|source| StrategyError::Call {
                collection: self.collection.clone(),
                function: file.rel.to_string_lossy().into_owned(),
                source: Box::new(source),
            })?;
        // Crash point of tests/run_failpoints.rs (`failpoints` feature only).
        #[cfg(feature = "failpoints")]
        fail::fail_point!("after-fetch", |_| std::process::abort());
        if let Some(fresh) = output.credentials {
            if let Ok(mut c) = self.credentials.lock() {
                *c = fresh;
            }
        }
        Ok(output.value)
    }

    pub(crate) fn shape(&self, function: &str, problem: impl Into<String>) -> StrategyError {
        StrategyError::Shape {
            collection: self.collection.clone(),
            function: self.path(function),
            problem: problem.into(),
        }
    }
}

/// The events of one answer are committed in one store transaction, which
/// holds all of them in memory several times over (measured, debug build:
/// ~9 KiB per small event; 400,000 events took the process to 3.6 GiB
/// while the JavaScript heap stayed under its 256 MiB limit). Same number
/// as full-scan's default `maxRecords`.
pub const MAX_EVENTS_PER_CALL: usize = 100_000;

/// Validates `{events: [{type, record}], ...}` as returned by `pull` and
/// `webhook-handle`: each event needs a known `type` and a `record.id`.
pub(crate) fn decode_events(
    invoker: &Invoker,
    function: &str,
    result: &Value,
) -> Result<Vec<NewEvent>, StrategyError> {
    let events = match result.get("events") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(invoker.shape(
                function,
                format!("`events` that is not a list ({})", kind(other)),
            ))
        }
    };
    if events.len() > MAX_EVENTS_PER_CALL {
        return Err(invoker.shape(
            function,
            format!(
                "{} events in one answer (at most {MAX_EVENTS_PER_CALL}); return fewer and continue from `state` in the next pull",
                events.len()
            ),
        ));
    }
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let change = e
                .get("type")
                .and_then(Value::as_str)
                .and_then(ChangeType::parse)
                .ok_or_else(|| {
                    invoker.shape(
                        function,
                        format!(
                            "events[{i}] with type {}: expected \"created\", \"updated\" or \"deleted\"",
                            e.get("type").map(|t| t.to_string()).unwrap_or_else(|| "missing".into())
                        ),
                    )
                })?;
            let record = e.get("record").cloned().unwrap_or(Value::Null);
            let id = record_id(&record).ok_or_else(|| {
                invoker.shape(function, format!("events[{i}] whose record has no `id` (string or number)"))
            })?;
            Ok(NewEvent { change, record_id: id, record })
        })
        .collect()
}

/// The `records` list of a `list` / `pullLatestRecords` result.
pub(crate) fn records<'a>(
    invoker: &Invoker,
    function: &str,
    result: &'a Value,
) -> Result<&'a [Value], StrategyError> {
    // A list that returns nothing (a forgotten `return`) is not an empty
    // page: for full-scan it would turn every known record into a delete.
    if !result.is_object() {
        return Err(invoker.shape(
            function,
            format!("{} instead of {{records, cursor}}", kind(result)),
        ));
    }
    match result.get("records") {
        Some(Value::Array(list)) => Ok(list),
        None | Some(Value::Null) => Ok(&[]),
        Some(other) => Err(invoker.shape(
            function,
            format!("`records` that is not a list ({})", kind(other)),
        )),
    }
}

/// A `cursor` for the next page: a non-empty string or number.
pub(crate) fn next_cursor(result: &Value) -> Option<Value> {
    match result.get("cursor") {
        Some(Value::String(s)) if !s.is_empty() => Some(Value::String(s.clone())),
        Some(Value::Number(n)) => Some(Value::Number(n.clone())),
        _ => None,
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// RFC 3339 time of now, for `last_cycle_at`.
pub(crate) fn now() -> String {
    runtime_store::now_rfc3339()
}

//! One way to call a connector function for a subscription: the function
//! file resolved, connector and collection parameters merged with the
//! connection's credentials, credentials a refresh returned kept for later
//! calls, and the result read. Strategies and the host call connector code
//! only through an [`Invoker`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use runtime_connector::Connector;
use runtime_engine::{Call, CallError, Engine, RawOutput, RecordBuilders};
use serde_json::{Map, Value};

use crate::StrategyError;

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
    /// Each collection's record builders, looked up once (finding them
    /// takes dozens of file lookups, too many for every call of a scan).
    pub record_builders: RecordBuilderCache,
    /// The connection the calls are for in `runtime serve`: the engine
    /// keeps each connection's module instances apart, and the API
    /// client's rate budget is per connection. `None` in `run`.
    pub tenant: Option<String>,
}

/// [`Invoker::record_builders`] by collection; clones share it, so it
/// is keyed by collection rather than held per invoker.
#[derive(Clone, Default)]
pub struct RecordBuilderCache(Arc<Mutex<HashMap<String, RecordBuilders>>>);

impl Invoker {
    /// Whether the collection has `events/<name>.js` (any spelling).
    pub fn has(&self, name: &str) -> bool {
        self.connector.has_function(&self.collection, name)
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
        input: Map<String, Value>,
    ) -> Result<Value, StrategyError> {
        let (call, function) = self.prepare(path, input)?;
        let output = self
            .engine
            .call(call)
            .await
            .map_err(|source| self.call_error(&function, source))?;
        self.after_call(output.credentials);
        Ok(output.value)
    }

    /// [`Invoker::call`], the result left as text: for a caller that needs
    /// only part of it on its critical path (see `full_scan`), or can read
    /// it without building every value (see `custom_pull`). Credentials a
    /// refresh returned are taken from it here.
    pub async fn call_raw(
        &self,
        name: &str,
        input: Map<String, Value>,
    ) -> Result<RawOutput, StrategyError> {
        let (call, function) = self.prepare(&self.path(name), input)?;
        let output = self
            .engine
            .call_raw(call)
            .await
            .map_err(|source| self.call_error(&function, source))?;
        // One pass over the text: only `credentials` is built.
        let (output, refreshed) = output
            .open()
            .map_err(|source| self.call_error(&function, source))?;
        self.after_call(refreshed);
        Ok(output)
    }

    /// The engine call for `path` with `input` plus `parameters` and
    /// `credentials`, and the function file's name for messages.
    fn prepare(
        &self,
        path: &str,
        mut input: Map<String, Value>,
    ) -> Result<(Call, String), StrategyError> {
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
        // A caller may pass its own (`runtime invoke --input`).
        input
            .entry("credentials")
            .or_insert_with(|| credentials.clone());
        let call = Call {
            function: file.clone(),
            collection: (!self.collection.is_empty()).then(|| self.collection.clone()),
            input: Value::Object(input),
            credentials,
            connector_parameters: self.connector_parameters.clone(),
            records: self.record_builders(),
            // One connection per Invoker; the service sets its own.
            tenant: self.tenant.clone(),
        };
        Ok((call, file.rel))
    }

    /// The collection's `recordFromApi` (code or mapping) and
    /// `recordFromFields` (a mapping), as the engine applies them to every
    /// call of the collection. A spec problem in finding them leaves them
    /// out: `validate` and the call's own lookup report it.
    fn record_builders(&self) -> RecordBuilders {
        if self.collection.is_empty() {
            return RecordBuilders::default();
        }
        let cached = self
            .record_builders
            .0
            .lock()
            .ok()
            .and_then(|c| c.get(&self.collection).cloned());
        if let Some(found) = cached {
            return found;
        }
        let found = self.find_record_builders();
        if let Ok(mut c) = self.record_builders.0.lock() {
            c.insert(self.collection.clone(), found.clone());
        }
        found
    }

    fn find_record_builders(&self) -> RecordBuilders {
        let name = |key: &str| format!("data/{}/{key}", self.collection);
        RecordBuilders {
            from_api: self
                .connector
                .implementation(&name("record-from-api"))
                .ok()
                .flatten()
                .map(|i| i.into_function_file()),
            from_fields: self
                .connector
                .mapping_file(&name("record-from-fields"))
                .ok()
                .flatten()
                .map(|m| runtime_connector::Implementation::Mapping(m).into_function_file()),
        }
    }

    pub(crate) fn call_error(&self, function: &str, source: CallError) -> StrategyError {
        // Every failed call passes here: the one place limit hits are counted.
        if let CallError::Limit { kind, .. } = &source {
            runtime_metrics::limit_hit(kind.name());
        }
        StrategyError::Call {
            collection: self.collection.clone(),
            function: function.to_string(),
            source: Box::new(source),
        }
    }

    /// After a call returned: its refreshed credentials serve later calls.
    fn after_call(&self, refreshed: Option<Value>) {
        // Crash point of tests/run_failpoints.rs (`failpoints` feature only).
        runtime_crash::crash_point!("after-fetch");
        if let Some(fresh) = refreshed {
            if let Ok(mut c) = self.credentials.lock() {
                *c = fresh;
            }
        }
    }

    pub(crate) fn shape(&self, function: &str, problem: impl Into<String>) -> StrategyError {
        StrategyError::Shape {
            collection: self.collection.clone(),
            function: self.file_of(&self.path(function)),
            problem: problem.into(),
        }
    }

    /// The function file at `path` as the author knows it
    /// (`data/contacts/list.js`), else the path itself.
    pub fn file_of(&self, path: &str) -> String {
        match self.connector.function_file(path) {
            Ok(Some(f)) => f.rel,
            _ => path.to_string(),
        }
    }
}

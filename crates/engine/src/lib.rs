//! The embedded JavaScript engine: one deno_core `JsRuntime` per loaded
//! connector, on its own thread, behind an async handle.
//!
//! Owns module loading (confined to the connector directory), the globals of
//! `runtime-js/`, the ops behind them, and the per-call limits (CPU, wall
//! clock, heap). It must not know about strategies, persistence or sinks:
//! callers hand it a function file and a JSON input and get JSON back.
//!
//! The default build runs on the QuickJS-ng backend of deno_core; the `v8`
//! feature switches to V8 with no code change.

#[cfg(not(any(feature = "quickjs", feature = "v8")))]
compile_error!(
    "runtime-engine needs a JavaScript backend: enable the `quickjs` (default) or the `v8` feature"
);

mod error;
mod http;
mod limits;
mod loader;
mod ops;
mod pool;
#[cfg(unix)]
mod process;
mod sdk;
mod transpile;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;

use runtime_api_client::{HttpClient, HttpConfig};
use serde_json::Value;
use tokio::sync::oneshot;

pub use error::{CallError, JsErrorInfo, Location};
pub use limits::{LimitKind, Limits, TENANTS_PER_RUNTIME};
#[cfg(unix)]
pub use process::harden::{self, HardenError, Landlock};
#[cfg(unix)]
pub use process::{worker_main, Hardening, WorkerOptions, WorkerStats, RECYCLE_RSS_BYTES};

/// A connector function's file, as the connector crate resolved it.
pub use runtime_connector::FunctionFile;

/// Everything an engine needs to know about its connector.
#[derive(Clone)]
pub struct EngineConfig {
    /// Connector key, for logs and thread names.
    pub name: String,
    /// Canonical connector directory; imports may not leave it.
    pub root: PathBuf,
    pub limits: Limits,
    pub http: Arc<HttpConfig>,
    pub client: HttpClient,
    pub spec_base_uri: Option<String>,
    pub allowed_hosts: Arc<Vec<String>>,
    pub make_api_client: Option<FunctionFile>,
    pub refresh_credentials: Option<FunctionFile>,
    /// getOAuthConfig (code or mapping): `{tokenUri, clientId,
    /// clientSecret}`; without refreshCredentials, a 401 refreshes the
    /// access token with the OAuth2 refresh_token grant.
    pub oauth_config: Option<FunctionFile>,
}

/// One call of a connector function. Serialized whole to an engine worker
/// process (`process/protocol.rs`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Call {
    pub function: FunctionFile,
    /// Collection key, for log lines.
    pub collection: Option<String>,
    /// The function's argument object without `apiClient` (added in JS).
    pub input: Value,
    /// Given to makeApiClient and, unless `input` has its own, to the function.
    pub credentials: Value,
    /// Connector-level parameters, given to makeApiClient.
    pub connector_parameters: Value,
    /// How the collection builds its records from the API's.
    pub records: RecordBuilders,
    /// The connection this call is for, when one engine serves many
    /// (`runtime serve`): the call runs on module instances loaded for this
    /// tenant only, in a runtime whose global object is sealed, so nothing
    /// another tenant's calls kept (module scope, globals, the configured
    /// client) is visible to it (`worker.rs`, docs/engine.md, "Isolation
    /// between connections"). `None`: one connection, as in `runtime run`,
    /// `invoke` and `validate`; module instances are shared by its calls and
    /// connectors may add globals.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// A collection's record builders, each code or a mapping file (told
/// apart by the file's extension: `.yml`, `.map.yml`, `.yaml`, `.json` are
/// mappings).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RecordBuilders {
    /// `recordFromApi`: passed to the function as an async function.
    pub from_api: Option<FunctionFile>,
    /// `recordFromFields` (a mapping): applied to each record the function
    /// returns (`records`, or `record`), the raw record as `$.fields`.
    pub from_fields: Option<FunctionFile>,
}

/// What a call returned.
#[derive(Debug, Clone)]
pub struct CallOutput {
    pub value: Value,
    /// Set when `refreshCredentials` ran during the call: the credentials to
    /// store for the next calls.
    pub credentials: Option<Value>,
}

/// What a call returned, as the text of `{"value": ..., "credentials": ...}`
/// that the JavaScript side produced with `JSON.stringify`. Parsing it is
/// left to the caller's thread: the engine thread is the bottleneck of a
/// busy connector, and a caller that needs only part of a large result
/// (a full scan needs a page's cursor before its records) can parse less.
#[derive(Debug, Clone)]
pub struct RawOutput {
    text: String,
    /// The function file, for messages.
    function: String,
    /// Where `value` is in the text, once [`RawOutput::open`] found it.
    value: std::ops::Range<usize>,
}

impl RawOutput {
    /// Reads the envelope once, without building `value`: finds where the
    /// value is and takes the `credentials` a refresh returned. Fails as
    /// [`RawOutput::parse`] would for a result the host cannot read.
    pub fn open(mut self) -> Result<(RawOutput, Option<Value>), CallError> {
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow)]
            value: Option<&'a serde_json::value::RawValue>,
            credentials: Option<Value>,
        }
        let Ok(Envelope { value, credentials }) = serde_json::from_str::<Envelope>(&self.text)
        else {
            // The full parse names the problem (nesting too deep).
            return Err(self
                .parse()
                .err()
                .unwrap_or_else(|| self.unreadable("its shape")));
        };
        let start = value.map_or(0, |v| {
            v.get().as_ptr() as usize - self.text.as_ptr() as usize
        });
        self.value = start..start + value.map_or(0, |v| v.get().len());
        Ok((self, credentials))
    }

    /// The function's return value as JSON text (`null` when it had none),
    /// after [`RawOutput::open`].
    pub fn value_text(&self) -> &str {
        match self.text.get(self.value.clone()) {
            None | Some("") => "null",
            Some(text) => text,
        }
    }

    fn unreadable(&self, why: &str) -> CallError {
        CallError::Js(error::JsErrorInfo::plain(
            "TypeError",
            &format!(
                "{} returned a value the host cannot read ({why}); results may nest at most 127 levels deep",
                self.function
            ),
        ))
    }

    /// The result as JSON text: an object with `value` and, when
    /// `refreshCredentials` ran, `credentials`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The function file that returned it (relative to the connector).
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The text, given up (a worker sends it to the service as it is).
    pub(crate) fn into_text(self) -> String {
        self.text
    }

    /// A result text a worker sent.
    #[cfg(unix)]
    pub(crate) fn from_worker(text: String, function: String) -> RawOutput {
        RawOutput {
            text,
            function,
            value: 0..0,
        }
    }

    /// The whole result.
    pub fn parse(&self) -> Result<CallOutput, CallError> {
        // JSON.stringify accepted it, so only the parser's nesting limit can
        // refuse it: the connector's doing, not an internal error.
        let mut out: Value =
            serde_json::from_str(&self.text).map_err(|e| self.unreadable(&e.to_string()))?;
        Ok(CallOutput {
            value: out.get_mut("value").map(Value::take).unwrap_or(Value::Null),
            credentials: out.get_mut("credentials").map(Value::take),
        })
    }
}

/// Handle to a connector's engine: its threads in this process (see
/// `pool`), or its worker processes (see `process`). Cheap to clone; the
/// threads or processes stop when the last handle is dropped.
#[derive(Clone)]
pub struct Engine {
    home: Home,
}

#[derive(Clone)]
enum Home {
    Threads(Arc<pool::Pool>),
    #[cfg(unix)]
    Processes(Arc<process::supervisor::Supervisor>),
}

impl Engine {
    /// Starts the first engine thread. Must be called inside a tokio
    /// runtime: HTTP requests of the connector run on it.
    pub fn start(config: EngineConfig) -> std::io::Result<Engine> {
        Ok(Engine {
            home: Home::Threads(Arc::new(pool::Pool::start(config)?)),
        })
    }

    /// Starts an engine whose calls run in `workers.processes` worker
    /// processes (`workers.program` with `workers.args`, which must call
    /// [`worker_main`]). Must be called inside a tokio runtime: the
    /// supervision and the workers' HTTP requests (made here, with
    /// `config.client`, `config.http`, `config.spec_base_uri` and
    /// `config.allowed_hosts`) run on it. Fails only when the program is
    /// not there; workers start in the background, and calls made before
    /// one is ready wait for it.
    #[cfg(unix)]
    pub fn start_in_workers(
        config: EngineConfig,
        workers: WorkerOptions,
    ) -> std::io::Result<Engine> {
        Ok(Engine {
            home: Home::Processes(Arc::new(process::supervisor::Supervisor::start(
                config, workers,
            )?)),
        })
    }

    /// The counters of the worker processes, for an engine started with
    /// [`Engine::start_in_workers`].
    #[cfg(unix)]
    pub fn worker_stats(&self) -> Option<Arc<WorkerStats>> {
        match &self.home {
            Home::Threads(_) => None,
            Home::Processes(s) => Some(s.stats()),
        }
    }

    /// The process ids of the worker processes up now (empty for an engine
    /// in this process).
    #[cfg(unix)]
    pub fn worker_pids(&self) -> Vec<u32> {
        match &self.home {
            Home::Threads(_) => Vec::new(),
            Home::Processes(s) => s.pids(),
        }
    }

    /// Runs one function call.
    pub async fn call(&self, call: Call) -> Result<CallOutput, CallError> {
        self.call_raw(call).await?.parse()
    }

    /// [`Engine::call`], leaving the result unparsed.
    pub async fn call_raw(&self, call: Call) -> Result<RawOutput, CallError> {
        let (tx, rx) = oneshot::channel();
        match &self.home {
            Home::Threads(pool) => pool
                .submit(worker::Job::Call(Box::new(call), tx))
                .map_err(|_| CallError::Stopped)?,
            #[cfg(unix)]
            Home::Processes(s) => s
                .submit(process::supervisor::Job::Call(Box::new(call), tx))
                .map_err(|_| CallError::Stopped)?,
        }
        rx.await.map_err(|_| CallError::Stopped)?
    }

    /// Loads the function's module and checks that it exports the function.
    pub async fn check(&self, function: FunctionFile) -> Result<(), CallError> {
        let (tx, rx) = oneshot::channel();
        match &self.home {
            Home::Threads(pool) => pool
                .submit(worker::Job::Check(function, tx))
                .map_err(|_| CallError::Stopped)?,
            #[cfg(unix)]
            Home::Processes(s) => s
                .submit(process::supervisor::Job::Check(function, tx))
                .map_err(|_| CallError::Stopped)?,
        }
        rx.await.map_err(|_| CallError::Stopped)?
    }
}

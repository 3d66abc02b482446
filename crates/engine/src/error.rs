//! Errors of a call, with JavaScript errors mapped back to the connector
//! file, line and column that threw them.

use std::fmt;
use std::path::Path;

use deno_core::error::{CoreError, CoreErrorKind, JsError};

use crate::limits::LimitKind;
use crate::loader::{relative_name, strip_tenant};

/// Where in the connector a JavaScript error was thrown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// Relative to the connector directory, e.g. `data/x/events/pull.js`.
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A JavaScript exception as the host reports it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JsErrorInfo {
    /// `TypeError`, `ReferenceError`, `ApiError`, ...
    pub class: String,
    pub message: String,
    /// The innermost stack frame inside the connector directory.
    pub location: Option<Location>,
    /// Stack frames inside the connector, innermost first.
    pub frames: Vec<Location>,
    /// The `data` of an SDK error (`BadRequestError`, ..., from
    /// `@integration-app/sdk`), whose `type` says what went wrong; `None`
    /// for any other error. See [`JsErrorInfo::status`].
    /// Boxed: a call's error travels in a `Result`, kept small.
    pub data: Option<Box<serde_json::Value>>,
}

impl JsErrorInfo {
    pub(crate) fn plain(class: &str, message: &str) -> Self {
        JsErrorInfo {
            class: class.into(),
            message: message.into(),
            location: None,
            frames: Vec::new(),
            data: None,
        }
    }

    /// The SDK error's `data.type` (`bad_request`, `not_found`, ...).
    pub fn data_type(&self) -> Option<&str> {
        self.data.as_ref()?.get("type")?.as_str()
    }

    /// The HTTP status an SDK error stands for, for a host answering a
    /// request the function failed: `bad_request` 400, `not_authenticated`
    /// 401, `access_denied` 403, `not_found` 404, any other type 500.
    /// `None` when the error is not an SDK error.
    pub fn status(&self) -> Option<u16> {
        self.data.as_ref()?;
        Some(match self.data_type() {
            Some("bad_request") => 400,
            Some("not_authenticated") => 401,
            Some("access_denied") => 403,
            Some("not_found") => 404,
            _ => 500,
        })
    }

    pub(crate) fn from_js(root: &Path, e: &JsError) -> Self {
        let root_url = deno_core::ModuleSpecifier::from_directory_path(root)
            .map(|u| u.to_string())
            .unwrap_or_default();
        let frames: Vec<Location> = e
            .frames
            .iter()
            .filter_map(|f| {
                let file = f.file_name.as_deref()?;
                if !file.starts_with(&root_url) {
                    return None;
                }
                Some(Location {
                    file: relative_name(root, file),
                    line: f.line_number.unwrap_or(0).max(0) as u32,
                    column: f.column_number.unwrap_or(0).max(0) as u32,
                })
            })
            .collect();
        let (class, message) = match (&e.name, &e.message) {
            (Some(n), Some(m)) => (n.clone(), m.clone()),
            _ => split_exception(&e.exception_message),
        };
        // Syntax errors have no frames; the engine puts the place in the
        // message as a file URL. Show it relative to the connector.
        // A module's tenant (loader.rs) is not part of its name.
        let message = strip_tenant(&message.replace(&root_url, "")).into_owned();
        // runtime-js/sdk/errors.js lists this property for deno_core to
        // collect: the error's `data` as JSON.
        let data = e
            .additional_properties
            .iter()
            .find(|(k, _)| k == SDK_ERROR_DATA)
            .and_then(|(_, v)| serde_json::from_str(v).ok())
            .filter(|v: &serde_json::Value| !v.is_null())
            .map(Box::new);
        JsErrorInfo {
            class,
            location: frames.first().cloned(),
            frames,
            message,
            data,
        }
    }
}

/// The property of an SDK error that holds its `data` as JSON
/// (runtime-js/sdk/errors.js).
const SDK_ERROR_DATA: &str = "runtimeErrorData";

/// Splits `message` from a last line `    at <file>:<line>:<column>`, the
/// place the loader gives a file that does not parse (loader.rs).
fn located(text: &str) -> (String, Option<Location>) {
    let Some((message, last)) = text.rsplit_once("\n    at ") else {
        return (text.to_string(), None);
    };
    let mut parts = last.rsplitn(3, ':');
    let (Some(column), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return (text.to_string(), None);
    };
    match (line.parse(), column.trim().parse()) {
        (Ok(line), Ok(column)) => (
            message.to_string(),
            Some(Location {
                file: file.to_string(),
                line,
                column,
            }),
        ),
        _ => (text.to_string(), None),
    }
}

fn split_exception(text: &str) -> (String, String) {
    let text = text.strip_prefix("Uncaught ").unwrap_or(text);
    let text = text.strip_prefix("(in promise) ").unwrap_or(text);
    match text.split_once(": ") {
        Some((class, message)) if !class.contains(' ') => (class.to_string(), message.to_string()),
        _ => ("Error".to_string(), text.to_string()),
    }
}

impl fmt::Display for JsErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.message)?;
        if let Some(loc) = &self.location {
            write!(f, "\n    at {loc}")?;
        }
        for frame in self.frames.iter().skip(1) {
            write!(f, "\n    at {frame}")?;
        }
        Ok(())
    }
}

/// Why a call failed. Serializable: an engine worker process sends it back
/// as it is (`process/protocol.rs`), so every variant reaches the host
/// unchanged.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum CallError {
    /// The connector's code threw (or its promise rejected).
    #[error("{0}")]
    Js(JsErrorInfo),
    /// A limit stopped the call; the runtime was recreated.
    /// `worker_killed`: the call ran in an engine worker process that did
    /// not stop it by its hard deadline (the limit plus a grace), so the
    /// process was killed and replaced.
    #[error("{function}: stopped by the {kind}{}", if *worker_killed { " (it did not stop in time: its engine worker process was killed and is replaced)" } else { "" })]
    Limit {
        kind: LimitKind,
        function: String,
        #[serde(default)]
        worker_killed: bool,
    },
    /// The file loaded but exports nothing callable under the expected names.
    #[error("{file}: no default export and no export named `{export}` that is a function")]
    MissingExport { file: String, export: String },
    /// The engine thread is gone (it only stops when the Engine is dropped).
    #[error("the JavaScript engine has stopped")]
    Stopped,
    /// The engine worker process running the call ended before answering
    /// (killed from outside, out of memory, a crash, or another call of
    /// the same process that had to be stopped); it is replaced, and the
    /// call may be tried again. Not the connector's error.
    #[error("the engine worker process running this call was lost ({0}); the call can be retried")]
    WorkerLost(String),
    /// The JavaScript engine failed under the call through no fault of the
    /// connector's: its backend left a module's evaluation pending with
    /// nothing to wait for (deno_core's `ModuleEvaluationDeadlock`, met
    /// about once in 8,000 first calls of tenants in bench/serve.sh). The
    /// runtime is replaced; the call may be tried again.
    #[error("the JavaScript engine failed to finish loading the call's modules ({0}); not the connector's error, the call can be retried")]
    EngineFault(String),
    /// A mapping file (`make-api-client.yml`, ...) could not be read;
    /// `problem` names the file (and the line of a syntax error).
    #[error("{problem}")]
    Mapping { file: String, problem: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl CallError {
    pub(crate) fn from_core(root: &Path, e: CoreError) -> CallError {
        match *e.0 {
            CoreErrorKind::Js(js) => CallError::Js(JsErrorInfo::from_js(root, &js)),
            CoreErrorKind::ModuleEvaluationDeadlock => {
                CallError::EngineFault("module evaluation stalled in the engine".into())
            }
            other => {
                let text = other.to_string();
                let root_url = deno_core::ModuleSpecifier::from_directory_path(root)
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                let text = text.replace(&root_url, "");
                let (class, message) = split_exception(&strip_tenant(&text));
                let (message, location) = located(&message);
                let mut info = JsErrorInfo::plain(&class, &message);
                info.frames.extend(location.clone());
                info.location = location;
                CallError::Js(info)
            }
        }
    }

    /// Whether trying the same call again may succeed: the engine worker
    /// process was lost under it, or the engine failed, through no fault
    /// of the call's own.
    pub fn is_retryable(&self) -> bool {
        matches!(self, CallError::WorkerLost(_) | CallError::EngineFault(_))
    }

    /// The JavaScript error, when there is one.
    pub fn js(&self) -> Option<&JsErrorInfo> {
        match self {
            CallError::Js(info) => Some(info),
            _ => None,
        }
    }
}

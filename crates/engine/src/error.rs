//! Errors of a call, with JavaScript errors mapped back to the connector
//! file, line and column that threw them.

use std::fmt;
use std::path::Path;

use deno_core::error::{CoreError, CoreErrorKind, JsError};

use crate::limits::LimitKind;
use crate::loader::relative_name;

/// Where in the connector a JavaScript error was thrown.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone)]
pub struct JsErrorInfo {
    /// `TypeError`, `ReferenceError`, `ApiError`, ...
    pub class: String,
    pub message: String,
    /// The innermost stack frame inside the connector directory.
    pub location: Option<Location>,
    /// Stack frames inside the connector, innermost first.
    pub frames: Vec<Location>,
}

impl JsErrorInfo {
    pub(crate) fn plain(class: &str, message: &str) -> Self {
        JsErrorInfo {
            class: class.into(),
            message: message.into(),
            location: None,
            frames: Vec::new(),
        }
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
        let message = message.replace(&root_url, "");
        JsErrorInfo {
            class,
            location: frames.first().cloned(),
            frames,
            message,
        }
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

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The connector's code threw (or its promise rejected).
    #[error("{0}")]
    Js(JsErrorInfo),
    /// A limit stopped the call; the runtime was recreated.
    #[error("{function}: stopped by the {kind}")]
    Limit { kind: LimitKind, function: String },
    /// The file loaded but exports nothing callable under the expected names.
    #[error("{file}: no default export and no export named `{export}` that is a function")]
    MissingExport { file: String, export: String },
    /// The engine thread is gone (it only stops when the Engine is dropped).
    #[error("the JavaScript engine has stopped")]
    Stopped,
    /// A mapping file (`make-api-client.yml`, ...) could not be read.
    #[error("{file}: {problem}")]
    Mapping { file: String, problem: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl CallError {
    pub(crate) fn from_core(root: &Path, e: CoreError) -> CallError {
        match *e.0 {
            CoreErrorKind::Js(js) => CallError::Js(JsErrorInfo::from_js(root, &js)),
            other => {
                let text = other.to_string();
                let root_url = deno_core::ModuleSpecifier::from_directory_path(root)
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                let (class, message) = split_exception(&text.replace(&root_url, ""));
                CallError::Js(JsErrorInfo::plain(&class, &message))
            }
        }
    }

    /// The JavaScript error, when there is one.
    pub fn js(&self) -> Option<&JsErrorInfo> {
        match self {
            CallError::Js(info) => Some(info),
            _ => None,
        }
    }
}

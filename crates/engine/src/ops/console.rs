//! `console`'s one op (runtime-js/console.js): a connector's log line
//! goes to the host's `tracing`, tagged with the call it came from.
//! Must not write anywhere but the log: stdout carries results and events.

use std::sync::Arc;

use deno_core::{op2, OpState};

/// Who is calling, for log lines.
#[derive(Default, Clone)]
pub(crate) struct CallTags {
    pub connector: Arc<str>,
    pub collection: Option<String>,
    pub function: String,
}

#[op2(fast)]
pub(super) fn op_rt_console(state: &mut OpState, #[string] level: &str, #[string] message: &str) {
    let tags = state.borrow::<CallTags>();
    let collection = tags.collection.as_deref().unwrap_or("-");
    macro_rules! log {
        ($lvl:ident) => {
            tracing::$lvl!(
                target: "connector",
                connector = %tags.connector,
                collection,
                function = %tags.function,
                "{message}"
            )
        };
    }
    match level {
        "error" => log!(error),
        "warn" => log!(warn),
        "debug" => log!(debug),
        "trace" => log!(trace),
        _ => log!(info),
    }
}

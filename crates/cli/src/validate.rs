//! `runtime validate DIR`: every problem of a connector at once: bad specs,
//! missing functions for a strategy, modules that fail to parse or load,
//! files without the expected export.

use std::path::PathBuf;

use anyhow::Result;
use runtime_connector::FunctionFile;
use runtime_engine::{CallError, Engine};

use crate::session::{start_engine, LimitArgs};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The connector directory.
    pub dir: PathBuf,
}

/// Returns the number of problems found (all printed on stdout).
pub async fn run(args: ValidateArgs, limits: &LimitArgs) -> Result<usize> {
    let (connector, mut problems) = runtime_connector::load_lenient(&args.dir);
    let mut lines: Vec<String> = problems.drain(..).map(|p| p.to_string()).collect();
    let mut checked = 0;
    if let Some(connector) = &connector {
        lines.extend(connector.layout_problems().iter().map(|p| p.to_string()));
        let engine = start_engine(connector, limits)?;
        for file in connector.all_function_files() {
            checked += 1;
            lines.extend(check_module(&engine, &file).await);
        }
    }
    for line in &lines {
        println!("{line}");
    }
    match (&connector, lines.len()) {
        (Some(c), 0) => println!(
            "ok: {} ({}, {})",
            c.spec.key,
            plural(c.collections.len(), "collection"),
            plural(checked, "function file")
        ),
        (_, n) => println!("{}", plural(n, "problem")),
    }
    Ok(lines.len())
}

/// Loads the module of `file` and checks its export; the problem, located
/// at the file (and line) at fault, if any.
pub async fn check_module(engine: &Engine, file: &FunctionFile) -> Option<String> {
    let f = file;
    match engine.check(f.clone()).await {
        Ok(()) => None,
        Err(CallError::Js(info)) => Some(match &info.location {
            Some(loc) if loc.file == f.rel => format!("{loc}: {}: {}", info.class, info.message),
            Some(loc) => format!("{}: {}: {} (at {loc})", f.rel, info.class, info.message),
            None => format!("{}: {}: {}", f.rel, info.class, info.message),
        }),
        // These name the file themselves.
        Err(other @ (CallError::MissingExport { .. } | CallError::Limit { .. })) => {
            Some(other.to_string())
        }
        Err(other) => Some(format!("{}: {other}", f.rel)),
    }
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

//! `runtime validate DIR`: every problem of a connector at once: bad specs,
//! missing functions for a strategy, modules that fail to parse or load,
//! files without the expected export.

use std::path::PathBuf;

use anyhow::Result;
use runtime_engine::CallError;

use crate::session::{function_ref, start_engine, LimitArgs};

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
            let f = function_ref(&file);
            match engine.check(f.clone()).await {
                Ok(()) => {}
                Err(CallError::Js(info)) => lines.push(match &info.location {
                    Some(loc) if loc.file == f.rel => {
                        format!("{loc}: {}: {}", info.class, info.message)
                    }
                    Some(loc) => format!("{}: {}: {} (at {loc})", f.rel, info.class, info.message),
                    None => format!("{}: {}: {}", f.rel, info.class, info.message),
                }),
                // These name the file themselves.
                Err(other @ (CallError::MissingExport { .. } | CallError::Limit { .. })) => {
                    lines.push(other.to_string())
                }
                Err(other) => lines.push(format!("{}: {other}", f.rel)),
            }
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

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

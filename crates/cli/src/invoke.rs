//! `runtime invoke DIR FUNCTION`: runs one connector function and prints
//! its JSON result.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use runtime_engine::Call;
use serde_json::{Map, Value};

use crate::session::{function_ref, LimitArgs, Session};

#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// The connector directory.
    pub dir: PathBuf,
    /// The function, as its path in the connector without `.js`:
    /// `data/contacts/list`, `data/contacts/events/pull`, `auth/test`.
    pub function: String,
    /// JSON object merged into the function's argument (`parameters` are
    /// merged over the connection's and validated).
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Connection file (JSON or YAML) with credentials and parameters.
    #[arg(long)]
    pub connection: Option<PathBuf>,
    /// Print the result on one line.
    #[arg(long)]
    pub compact: bool,
}

pub async fn run(args: InvokeArgs, limits: &LimitArgs) -> Result<()> {
    let input: Value = serde_json::from_str(&args.input).context("--input is not valid JSON")?;
    let Value::Object(mut input) = input else {
        bail!("--input must be a JSON object, e.g. '{{\"cursor\": \"abc\"}}'");
    };
    let session = Session::open(&args.dir, args.connection.as_deref(), limits)?;
    let file = session
        .connector
        .function_file(&args.function)
        .map_err(|p| anyhow!("{p}"))?
        .ok_or_else(|| {
            anyhow!(
                "connector {} has no function `{}` (looked for {}.js and its camelCase spelling)",
                args.dir.display(),
                args.function,
                args.function.trim_end_matches(".js")
            )
        })?;
    let collection = collection_of(&args.function);
    let call_params = input.remove("parameters");
    let parameters = match &collection {
        Some(c) => {
            session
                .connector
                .collection_parameters(c, &session.connection, call_params.as_ref())?
        }
        None => {
            let mut p = session
                .connector
                .connector_parameters(&session.connection)?;
            merge(&mut p, call_params);
            p
        }
    };
    input.insert("parameters".into(), parameters);
    let credentials = session.connection.credentials.clone();
    input
        .entry("credentials")
        .or_insert_with(|| credentials.clone());
    let connector_parameters = session
        .connector
        .connector_parameters(&session.connection)?;
    let output = session
        .engine
        .call(Call {
            function: function_ref(&file),
            collection,
            input: Value::Object(input),
            credentials,
            connector_parameters,
        })
        .await?;
    if returns_records(&args.function) {
        // As a run would read it: a wrong key or a missing `await` fails
        // here too, instead of looking like an empty page.
        if let Err(problem) = runtime_events::records(&output.value) {
            bail!("{} returned {problem}", file.rel.display());
        }
    }
    if output.credentials.is_some() {
        tracing::warn!("refreshCredentials ran during the call; the new credentials were used but the connection file was not changed");
    }
    let text = if args.compact {
        serde_json::to_string(&output.value)
    } else {
        serde_json::to_string_pretty(&output.value)
    }?;
    println!("{text}");
    Ok(())
}

/// Whether the function is one whose answer is `{records, cursor}`: `list`
/// and `pullLatestRecords` (any spelling, per event type too).
fn returns_records(function: &str) -> bool {
    let name = function
        .trim_end_matches(".js")
        .rsplit('/')
        .next()
        .unwrap_or("");
    let name = runtime_connector::to_kebab(name);
    name == "list" || name.ends_with("pull-latest-records")
}

/// `data/<collection>/...` names a collection; anything else does not.
pub fn collection_of(function: &str) -> Option<String> {
    let mut parts = function.split('/');
    match (parts.next(), parts.next()) {
        (Some("data"), Some(c)) if !c.is_empty() => Some(c.to_string()),
        _ => None,
    }
}

fn merge(base: &mut Value, extra: Option<Value>) {
    if let (Value::Object(b), Some(Value::Object(e))) = (base, extra) {
        let e: Map<String, Value> = e;
        b.extend(e);
    }
}

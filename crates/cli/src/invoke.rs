//! `runtime invoke DIR FUNCTION`: runs one connector function and prints
//! its JSON result.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use std::sync::{Arc, Mutex};

use runtime_strategies::{Invoker, StrategyError};
use serde_json::{Map, Value};

use crate::session::{LimitArgs, Session};

#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// The connector directory.
    pub dir: PathBuf,
    /// The function, as its path in the connector without `.js`
    /// (`data/contacts/list`, `data/persons/events-webhook-subscribe`,
    /// `auth/test`), or by collection and method key (`data/persons/find`,
    /// also when `find` is inherited through `extends`). A mapping
    /// (`auth/make-api-client` as a `.yml`, `data/c/record-from-api`) is
    /// evaluated over the argument a function would get: `--input` plus
    /// `parameters`, `credentials` and `connectorParameters`.
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
    let code = session
        .connector
        .function_file(&args.function)
        .map_err(|p| anyhow!("{p}"))?;
    let collection = collection_of(&args.function);
    let call_params = input.remove("parameters");
    let connector_parameters = session
        .connector
        .connector_parameters(&session.connection)?;
    let parameters = match &collection {
        Some(c) => {
            session
                .connector
                .collection_parameters(c, &session.connection, call_params.as_ref())?
        }
        None => {
            let mut p = connector_parameters.clone();
            merge(&mut p, call_params);
            p
        }
    };
    let credentials = session.connection.credentials.clone();
    let Some(file) = code else {
        let mapping = match session.connector.implementation(&args.function) {
            Ok(Some(runtime_connector::Implementation::Mapping(m))) => m,
            _ => return Err(missing(&session.connector, &args.dir, &args.function)),
        };
        // The mapping over the argument a function would get.
        input.insert("parameters".into(), parameters);
        input
            .entry("credentials")
            .or_insert_with(|| credentials.clone());
        input.insert("connectorParameters".into(), connector_parameters);
        let value = mapping.read().map_err(|p| anyhow!("{p}"))?;
        let out = runtime_formulas::evaluate(&value, &Value::Object(input))
            .map_err(|e| anyhow!("{}: {e}", mapping.rel))?;
        return print(&out, args.compact);
    };
    let invoker = Invoker {
        engine: session.engine.clone(),
        connector: Arc::new(session.connector.clone()),
        collection: collection.unwrap_or_default(),
        parameters,
        connector_parameters,
        credentials: Arc::new(Mutex::new(credentials.clone())),
        record_builders: Default::default(),
        tenant: None,
    };
    let value = match invoker.call_path(&args.function, input).await {
        Ok(value) => value,
        // The engine's own error names the file, line and column.
        Err(StrategyError::Call { source, .. }) => return Err((*source).into()),
        Err(other) => return Err(other.into()),
    };
    if invoker.credentials.lock().is_ok_and(|c| *c != credentials) {
        tracing::warn!("refreshCredentials ran during the call; the new credentials were used but the connection file was not changed");
    }
    if returns_records(&args.function) {
        // As a run would read it: a wrong key or a missing `await` fails
        // here too, instead of looking like an empty page.
        if let Err(problem) = runtime_events::records(&value) {
            bail!("{} returned {problem}", file.rel);
        }
    }
    print(&value, args.compact)
}

fn print(value: &Value, compact: bool) -> Result<()> {
    let text = if compact {
        serde_json::to_string(value)
    } else {
        serde_json::to_string_pretty(value)
    }?;
    println!("{text}");
    Ok(())
}

/// Why `function` has no code to run: declared `not-supported` or of
/// another implementation type, a mapping, or no file at all.
fn missing(
    connector: &runtime_connector::Connector,
    dir: &std::path::Path,
    function: &str,
) -> anyhow::Error {
    use runtime_connector::ImplementationType;
    let head = format!("connector {} has no function `{function}`", dir.display());
    match connector.implementation_type(function) {
        Some(ImplementationType::NotSupported) => {
            return anyhow!("{head}: it is declared `implementationType: not-supported`")
        }
        Some(ImplementationType::Other(t)) => {
            return anyhow!(
                "{head}: it is declared `implementationType: {t}`, which the runtime does not run"
            )
        }
        _ => {}
    }
    anyhow!(
        "{head} (looked for {}.js and its camelCase spelling, in the collection and the ones it extends)",
        function.trim_end_matches(".js")
    )
}

/// Whether the function is one whose answer is `{records, cursor}`: `list`,
/// `find` and `pullLatestRecords` (any spelling, per event type too).
fn returns_records(function: &str) -> bool {
    let name = function
        .trim_end_matches(".js")
        .rsplit('/')
        .next()
        .unwrap_or("");
    let name = runtime_connector::to_kebab(name);
    name == "list" || name == "find" || name.ends_with("pull-latest-records")
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

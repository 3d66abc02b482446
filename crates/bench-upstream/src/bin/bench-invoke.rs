//! `bench-invoke DIR FUNCTION --calls N --expect JSON`: times calls of one
//! connector function through the runtime-engine API, the way `runtime`
//! calls it (same engine configuration as `runtime invoke`, one engine
//! thread, calls one after another), and prints one JSON line:
//!
//! - `coldMs`: loading the connector (specs), starting the engine and the
//!   first call (which waits for the JavaScript runtime the engine thread
//!   starts creating in `Engine::start`), split into `coldSpecsMs`,
//!   `coldEngineStartMs` and `coldFirstCallMs`;
//! - `warm*Us`: each of the next N calls, from `Engine::call` to its result.
//!
//! Every result must equal `--expect` (without it, the first result), so a
//! broken call cannot look fast.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use runtime_connector::{Connection, Connector};
use runtime_engine::{Call, Engine};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// The connector directory.
    dir: PathBuf,
    /// `data/<collection>/<function>`, as for `runtime invoke`.
    function: String,
    /// Warm calls after the first one.
    #[arg(long, default_value_t = 10_000)]
    calls: usize,
    /// The JSON every call must return (default: whatever the first returned).
    #[arg(long)]
    expect: Option<String>,
    /// JSON object merged into the function's argument, e.g. '{"state": {"next": 0}}'.
    #[arg(long, default_value = "{}")]
    input: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let expect: Option<Value> = match &args.expect {
        Some(text) => Some(serde_json::from_str(text).context("--expect is not JSON")?),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(bench(&args, &expect))?;
    println!("{report}");
    // Like the runtime: the engine thread needs no orderly stop.
    rt.shutdown_background();
    Ok(())
}

async fn bench(args: &Args, expect: &Option<Value>) -> Result<Value> {
    let started = Instant::now();
    let connector = runtime_connector::load(&args.dir).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        anyhow!(
            "connector {} has problems:\n{}",
            args.dir.display(),
            list.join("\n")
        )
    })?;
    let specs = started.elapsed();
    let engine = start_engine(&connector)?;
    let engine_started = started.elapsed();
    let call = call_of(&connector, &args.function, &args.input)?;
    let first = engine.call(call.clone()).await?.value;
    let cold = started.elapsed();
    let expect = expect.as_ref().unwrap_or(&first);
    check(&call, &first, expect)?;

    let mut warm = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let t = Instant::now();
        let value = engine.call(call.clone()).await?.value;
        warm.push(t.elapsed());
        check(&call, &value, expect)?;
    }
    let total: Duration = warm.iter().sum();
    warm.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let pct = |p: f64| {
        warm.get(((warm.len() as f64 * p) as usize).min(warm.len().saturating_sub(1)))
            .map_or(0.0, |d| us(*d))
    };
    Ok(json!({
        "coldMs": cold.as_secs_f64() * 1e3,
        // Where the cold time went: until the specs were loaded, until
        // `Engine::start` returned (HTTP client included), the first call.
        "coldSpecsMs": specs.as_secs_f64() * 1e3,
        "coldEngineStartMs": (engine_started - specs).as_secs_f64() * 1e3,
        "coldFirstCallMs": (cold - engine_started).as_secs_f64() * 1e3,
        "calls": warm.len(),
        "warmMedianUs": pct(0.5),
        "warmP99Us": pct(0.99),
        "warmMeanUs": if warm.is_empty() { 0.0 } else { us(total) / warm.len() as f64 },
    }))
}

fn check(call: &Call, value: &Value, expect: &Value) -> Result<()> {
    if value != expect {
        bail!("{} returned {value}, expected {expect}", call.function.rel);
    }
    Ok(())
}

/// The engine as `runtime invoke` configures it, without command-line limits.
fn start_engine(connector: &Connector) -> Result<Engine> {
    Ok(runtime_strategies::engine_for(
        connector,
        &runtime_strategies::LimitOverrides::default(),
    )?)
}

/// The call `runtime invoke DIR FUNCTION --input INPUT` would make, with no
/// connection file.
fn call_of(connector: &Connector, function: &str, input: &str) -> Result<Call> {
    let Value::Object(mut input) = serde_json::from_str(input).context("--input is not JSON")?
    else {
        bail!("--input must be a JSON object");
    };
    let file = connector
        .function_file(function)
        .map_err(|p| anyhow!("{p}"))?
        .ok_or_else(|| anyhow!("connector has no function `{function}`"))?;
    let collection = function
        .strip_prefix("data/")
        .and_then(|rest| rest.split('/').next())
        .context("FUNCTION must be data/<collection>/<function>")?
        .to_string();
    let connection = Connection::empty();
    let parameters = connector.collection_parameters(&collection, &connection, None)?;
    input.insert("parameters".into(), parameters);
    input.insert("credentials".into(), json!({}));
    Ok(Call {
        function: file,
        collection: Some(collection),
        input: Value::Object(input),
        credentials: json!({}),
        connector_parameters: connector.connector_parameters(&connection)?,
        records: Default::default(),
        tenant: None,
    })
}

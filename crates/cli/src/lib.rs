//! The `runtime` command line: parses arguments, sets up logging (stderr
//! only: stdout carries results and events), and maps failures to one clear
//! message and a non-zero exit code. It owns no behaviour of its own beyond
//! wiring the other crates together.

mod demo;
mod demo_serve;
mod invoke;
mod run;
mod serve;
mod session;
mod state;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use session::LimitArgs;

#[derive(Debug, Parser)]
#[command(name = "runtime", version, about = "Runs Membrane-format connectors")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    limits: LimitArgs,
    /// Log filter (tracing EnvFilter syntax), e.g. `debug` or `connector=debug`.
    #[arg(long, global = true, env = "RUNTIME_LOG", default_value = "info")]
    log: String,
    /// Log lines as `text` or `json` (one object per line, with the
    /// connector, connection and collection of the call as fields).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one connector function and print its JSON result.
    Invoke(invoke::InvokeArgs),
    /// Check a connector: specs, strategies' functions, modules and exports.
    Validate(validate::ValidateArgs),
    /// Subscribe every enabled collection and emit its change events.
    Run(run::RunArgs),
    /// Serve many connections of the connectors in a directory, managed
    /// through an admin API (docs/serve.md).
    Serve(serve::ServeArgs),
    /// Inspect or reset stored subscription state.
    #[command(subcommand)]
    State(state::StateCommand),
    /// Run the example connector against a bundled mock API (no setup needed).
    Demo(demo::DemoArgs),
    /// An engine worker process of `runtime serve` (its channel is stdin
    /// and stdout; see runtime_engine::WorkerOptions). Not for people.
    #[command(name = "__engine-worker", hide = true)]
    EngineWorker,
}

pub fn main() -> ExitCode {
    // Crash points for tests/run_failpoints.rs, configured by FAILPOINTS;
    // held until the process ends.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    // Before the async runtime: the worker builds its own, after it has
    // read its config and before it hardens itself.
    if matches!(cli.command, Command::EngineWorker) {
        return runtime_engine::worker_main();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Invoke(args) => invoke::run(args, &cli.limits)
                .await
                .map(|_| ExitCode::SUCCESS),
            Command::Run(args) => run::run(args, &cli.limits).await.map(|_| ExitCode::SUCCESS),
            Command::Serve(args) => {
                let json = matches!(cli.log_format, LogFormat::Json);
                match serve::worker_setup(&cli.log, json, args.workers) {
                    Ok(workers) => serve::run(args, &cli.limits, workers)
                        .await
                        .map(|_| ExitCode::SUCCESS),
                    Err(e) => Err(e),
                }
            }
            Command::State(cmd) => state::run(cmd, &cli.limits)
                .await
                .map(|_| ExitCode::SUCCESS),
            Command::Demo(args) => demo::run(args, &cli.limits)
                .await
                .map(|_| ExitCode::SUCCESS),
            Command::EngineWorker => Ok(ExitCode::SUCCESS),
            Command::Validate(args) => validate::run(args, &cli.limits).await.map(|n| {
                if n == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }),
        }
    });
    // The engine threads hold no state that needs an orderly stop.
    rt.shutdown_background();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause added only when the
/// text so far does not already say it: most of our errors embed their
/// source's message, and `{:#}` would print it two or three times.
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

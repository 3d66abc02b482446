//! `runtime demo`: the main job on an embedded default. Starts the bundled
//! mock API in-process, runs the example connector against it with all four
//! strategies while the mock's data changes, and prints the events.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use mock_api::{MockApi, MockOptions};
use rand::Rng;
use runtime_host::RunOptions;
use runtime_sinks::SinkConfig;
use serde_json::json;

use crate::run::open_store;
use crate::session::{LimitArgs, Session};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The example connector (default: the repository's
    /// `connectors/demo-crm`, found from any working directory).
    #[arg(long)]
    pub connector: Option<PathBuf>,
    /// How long to run.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Seconds between cycles (and between the mock's changes).
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
    /// `stdout`, `file:PATH`, `http(s)://URL` or
    /// `nats://HOST:PORT/SUBJECT[?stream=NAME]` (JetStream, `Nats-Msg-Id` = event id).
    #[arg(long, default_value = "stdout")]
    pub sink: String,
    /// Show `runtime serve` instead: one mock API per tenant, a service
    /// with the demo connector, and a connection per tenant created
    /// through the admin API.
    #[arg(long)]
    pub serve: bool,
    /// With `--serve`: how many tenants.
    #[arg(long, default_value_t = 3, requires = "serve")]
    pub tenants: usize,
}

pub(crate) const SECRET: &str = "demo-webhook-secret";

/// `connectors/demo-crm` of the working directory, else of the repository
/// this binary was built from, so `runtime demo` works from anywhere.
pub(crate) fn demo_connector() -> PathBuf {
    let here = PathBuf::from("connectors/demo-crm");
    if here.join("spec.yml").is_file() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../connectors/demo-crm")
}

pub async fn run(args: DemoArgs, limits: &LimitArgs) -> Result<()> {
    if args.serve {
        return crate::demo_serve::run(args, limits).await;
    }
    let mock = MockApi::try_start_with(MockOptions {
        require_auth: true,
        token: "demo-token".into(),
        webhook_secret: Some(SECRET.into()),
        ..MockOptions::default()
    })
    .context("cannot start the mock API")?;
    for c in ["contacts", "deals", "companies"] {
        mock.seed(c, 5);
    }
    let dir = tempdir()?;
    let connection = dir.join("connection.json");
    std::fs::write(
        &connection,
        serde_json::to_vec_pretty(&json!({
            "credentials": {"accessToken": "demo-token", "refreshToken": "r", "webhookSecret": SECRET},
            "parameters": {"baseUri": mock.base_url()},
        }))?,
    )?;
    let listen = free_port()?;
    tracing::info!(
        "mock API at {}; webhook server at {listen}; state in {}",
        mock.base_url(),
        dir.display()
    );
    let connector = args.connector.clone().unwrap_or_else(demo_connector);
    let session = Session::open(&connector, Some(&connection), limits)?;
    let store = open_store(&dir.join("data"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let every = Duration::from_secs_f64(args.interval.max(0.1));
    let options = RunOptions {
        sink: args.sink.parse::<SinkConfig>()?,
        once: false,
        once_webhooks: false,
        listen,
        public_url: None,
        max_webhook_body: 1 << 20,
        webhook_read_timeout: Duration::from_secs(30),
        interval_override: Some(every),
        stop: Some(stop_rx),
    };
    let mock = Arc::new(mock);
    let changer = tokio::spawn(change_data(mock.clone(), every, args.seconds));
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        let _ = stop_tx.send(true);
    });
    let report = runtime_host::run(
        Arc::new(session.connector),
        session.connection,
        session.engine,
        store,
        options,
    )
    .await?;
    changer.abort();
    stopper.abort();
    tracing::info!(
        cycles = report.cycles,
        events = report.events,
        "demo finished"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Creates, updates and deletes records in every collection while the
/// demo runs (the first cycle only sets baselines, so wait for it).
pub(crate) async fn change_data(mock: Arc<MockApi>, every: Duration, seconds: u64) {
    tokio::time::sleep(every.mul_f64(1.5)).await;
    let rounds = (seconds as f64 / every.as_secs_f64()) as usize;
    for round in 0..rounds {
        for c in ["contacts", "deals", "companies", "tickets"] {
            let pick = rand::thread_rng().gen_range(0..10);
            let ids: Vec<String> = mock
                .records(c)
                .iter()
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect();
            match (pick, ids.first(), ids.last()) {
                (0..=4, _, _) | (_, None, _) => {
                    mock.create(c, json!({"name": format!("{c} #{round}"), "status": "new"}));
                }
                (5..=7, _, Some(id)) => {
                    mock.update(
                        c,
                        id,
                        json!({"status": format!("changed in round {round}")}),
                    );
                }
                (_, Some(id), _) => {
                    mock.delete(c, id);
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

pub(crate) fn free_port() -> Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

pub(crate) fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("runtime-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

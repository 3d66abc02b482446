//! `runtime demo --serve`: `runtime serve` on an embedded default. One
//! mock API per tenant (each its own app account), the service in this
//! process on a temporary store with a random token and key, and one
//! connection per tenant created through the admin API over HTTP, as an
//! operator would with curl. Events carry their tenant's `connection`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mock_api::{MockApi, MockOptions};
use runtime_secrets::{Cipher, SecretKey};
use runtime_service::ServeOptions;
use runtime_store::Sled;
use runtime_strategies::LimitOverrides;
use serde_json::json;

use crate::demo::{change_data, demo_connector, free_port, tempdir, DemoArgs, SECRET};
use crate::session::LimitArgs;

pub async fn run(args: DemoArgs, limits: &LimitArgs) -> Result<()> {
    if args.tenants == 0 || args.tenants > 50 {
        bail!("--tenants must be between 1 and 50, not {}", args.tenants);
    }
    let dir = tempdir()?;
    let connector = demo_connector();
    let connectors = connector
        .parent()
        .context("the demo connector has no parent directory")?
        .to_path_buf();
    let listen = free_port()?;
    let token = format!("{:032x}", rand::random::<u128>());
    let key = SecretKey::random();
    let store = Arc::new(Sled::open(&dir.join("store"))?.with_cipher(Cipher::new(&key)));
    let every = Duration::from_secs_f64(args.interval.max(0.1));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let options = ServeOptions {
        connectors_dir: connectors,
        store,
        store_name: format!("sled:{}", dir.join("store").display()),
        listen,
        public_url: None,
        sink: args.sink.parse()?,
        admin_token: token.clone(),
        limits: LimitOverrides {
            cpu_ms: limits.cpu_limit_ms,
            wall_s: limits.wall_limit_s,
            heap_mb: limits.heap_limit_mb,
            runtimes: limits.runtimes,
        },
        // The demo's mock APIs are on loopback.
        allow_private_networks: vec!["127.0.0.0/8".parse()?],
        workers: crate::serve::worker_setup("info", false, 1)?,
        max_body: 1 << 20,
        webhook_read_timeout: Duration::from_secs(30),
        interval_override: Some(every),
        instance_id: "demo".into(),
        stop: Some(stop_rx),
    };
    let service = tokio::spawn(runtime_service::serve(options));
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    wait_until_up(&client, &base).await?;
    let mut mocks = Vec::new();
    let mut changers = Vec::new();
    for n in 1..=args.tenants {
        let mock = MockApi::try_start_with(MockOptions {
            require_auth: true,
            token: format!("demo-token-{n}"),
            webhook_secret: Some(SECRET.into()),
            ..MockOptions::default()
        })
        .context("cannot start a mock API")?;
        for c in ["contacts", "deals", "companies"] {
            mock.seed(c, 3);
        }
        let body = json!({
            "id": format!("tenant-{n}"),
            "connector": "demo-crm",
            "credentials": {"accessToken": format!("demo-token-{n}"), "refreshToken": "r", "webhookSecret": SECRET},
            "parameters": {"baseUri": mock.base_url()},
        });
        tracing::info!(
            "curl -X POST {base}/v1/connections -H 'Authorization: Bearer …' -d '{}'",
            json!({"id": body["id"], "connector": "demo-crm", "credentials": "…", "parameters": body["parameters"]})
        );
        let answer = client
            .post(format!("{base}/v1/connections"))
            .bearer_auth(&token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .context("the admin API did not answer")?;
        if !answer.status().is_success() {
            bail!(
                "creating tenant-{n} failed: {} {}",
                answer.status(),
                answer.text().await.unwrap_or_default()
            );
        }
        let mock = Arc::new(mock);
        changers.push(tokio::spawn(change_data(mock.clone(), every, args.seconds)));
        mocks.push(mock);
    }
    tracing::info!(
        "serving {} tenants at {base}: try GET {base}/metrics, or GET {base}/v1/connections/tenant-1 with the admin token",
        args.tenants
    );
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let listed = client
        .get(format!("{base}/v1/connections/tenant-1/subscriptions"))
        .bearer_auth(&token)
        .send()
        .await?
        .text()
        .await?;
    tracing::info!("GET /v1/connections/tenant-1/subscriptions: {listed}");
    let _ = stop_tx.send(true);
    for c in changers {
        c.abort();
    }
    service.await.context("the service task failed")??;
    drop(mocks);
    let _ = std::fs::remove_dir_all(&dir);
    tracing::info!("demo finished");
    Ok(())
}

async fn wait_until_up(client: &reqwest::Client, base: &str) -> Result<()> {
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the service did not come up at {base}")
}

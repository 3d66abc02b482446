//! The floor under a cold call: what creating a bare deno_core `JsRuntime`
//! (no extension, no bootstrap, no module) costs on this backend, against
//! what a whole cold start of the engine costs (`Engine::start` and the
//! first call of a connector function, which creates the runtime, runs
//! runtime-js/bootstrap.js and loads the modules).
//!
//! `cargo run --release -p bench-floors --bin cold_floor [ROUNDS] [CONNECTOR FUNCTION_FILE]`
//! (default 20 rounds, bench/connectors/invoke and its data/items/constant.js).
//! The first round in a process is reported apart: the backend compiles its
//! built-in polyfills once per process and caches their bytecode.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deno_core::{JsRuntime, RuntimeOptions};
use runtime_api_client::HttpClient;
use runtime_engine::{Call, Engine, EngineConfig, FunctionFile, Limits};
use serde_json::json;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "bench/connectors/invoke".into()),
    );
    let file = args
        .next()
        .unwrap_or_else(|| "data/items/constant.js".into());

    let bare: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            let rt = JsRuntime::new(RuntimeOptions::default());
            let d = t.elapsed();
            drop(rt);
            d
        })
        .collect();
    report("bare JsRuntime::new", bare);

    let root = std::fs::canonicalize(&dir).expect("connector directory");
    let make = root.join("auth/make-api-client.js");
    let host = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let engine: Vec<Duration> = (0..rounds)
        .map(|_| {
            host.block_on(async {
                let t = Instant::now();
                let engine = Engine::start(EngineConfig {
                    name: "cold-floor".into(),
                    root: root.clone(),
                    limits: Limits::default(),
                    http: Arc::new(Default::default()),
                    client: HttpClient::new().expect("HTTP client"),
                    spec_base_uri: None,
                    allowed_hosts: Arc::new(vec![]),
                    make_api_client: make.exists().then(|| FunctionFile {
                        path: make.clone(),
                        rel: "auth/make-api-client.js".into(),
                        export: "makeApiClient".into(),
                    }),
                    refresh_credentials: None,
                    oauth_config: None,
                })
                .expect("engine");
                engine
                    .call(Call {
                        function: FunctionFile {
                            path: root.join(&file),
                            rel: file.clone(),
                            export: "constant".into(),
                        },
                        collection: None,
                        input: json!({}),
                        credentials: json!({}),
                        connector_parameters: json!({}),
                        records: Default::default(),
                        tenant: None,
                    })
                    .await
                    .expect("first call");
                t.elapsed()
            })
        })
        .collect();
    report("Engine::start and the first call", engine);
}

fn report(what: &str, mut times: Vec<Duration>) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let first = times.remove(0);
    times.sort_unstable();
    let median = times.get(times.len() / 2).copied().unwrap_or(first);
    println!(
        "{what}: first in the process {:.1} ms, then median {:.1} ms (min {:.1}, max {:.1})",
        ms(first),
        ms(median),
        times.first().map_or(0.0, |d| ms(*d)),
        times.last().map_or(0.0, |d| ms(*d)),
    );
}

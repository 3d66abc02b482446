//! A connector's calls run in up to `Limits::runtimes` runtimes at once: a
//! call that waits does not hold up the others (and with one runtime it
//! does, which is why the pool exists).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use runtime_api_client::HttpClient;
use runtime_engine::{Call, Engine, EngineConfig, FunctionRef, Limits};
use serde_json::{json, Value};

fn connector() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/slow.js"),
        "export default async function slow({ ms }) {\n  await new Promise((r) => setTimeout(r, ms))\n  globalThis.calls = (globalThis.calls || 0) + 1\n  return { slow: true, calls: globalThis.calls, at: Date.now() }\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("data/fast.js"),
        "export default function fast() { return { fast: true, at: Date.now() } }\n",
    )
    .unwrap();
    dir
}

fn engine(root: &Path, runtimes: usize) -> Engine {
    let root = std::fs::canonicalize(root).unwrap();
    Engine::start(EngineConfig {
        name: "pool-test".into(),
        root,
        limits: Limits {
            runtimes,
            ..Limits::default()
        },
        http: Arc::new(Default::default()),
        client: HttpClient::new().unwrap(),
        spec_base_uri: None,
        allowed_hosts: Arc::new(vec![]),
        make_api_client: None,
        refresh_credentials: None,
    })
    .unwrap()
}

fn call(root: &Path, name: &str, input: Value) -> Call {
    let root = std::fs::canonicalize(root).unwrap();
    Call {
        function: FunctionRef {
            path: root.join(format!("data/{name}.js")),
            rel: format!("data/{name}.js"),
            export: name.into(),
        },
        collection: None,
        input,
        credentials: json!({}),
        connector_parameters: json!({}),
    }
}

/// Starts a slow call, then a fast one; says whether the fast one finished
/// first.
async fn fast_overtakes_slow(runtimes: usize) -> bool {
    let dir = connector();
    let e = engine(dir.path(), runtimes);
    // Warm the first runtime so both calls below start from the same state.
    e.call(call(dir.path(), "fast", json!({}))).await.unwrap();
    let slow = tokio::spawn({
        let e = e.clone();
        let c = call(dir.path(), "slow", json!({"ms": 1500}));
        async move { e.call(c).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fast = e.call(call(dir.path(), "fast", json!({}))).await.unwrap();
    assert_eq!(fast.value["fast"], json!(true));
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.value["slow"], json!(true));
    // Both times come from JavaScript's clock, when each call finished.
    fast.value["at"].as_f64().unwrap() < slow.value["at"].as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_call_does_not_hold_up_the_others() {
    assert!(fast_overtakes_slow(4).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_runtime_calls_wait_their_turn() {
    assert!(!fast_overtakes_slow(1).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_all_complete_on_at_most_the_limit() {
    let dir = connector();
    let e = engine(dir.path(), 3);
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let e = e.clone();
            let c = call(dir.path(), "slow", json!({"ms": 100}));
            tokio::spawn(async move { e.call(c).await })
        })
        .collect();
    // Each runtime counts its calls in a global of its own: the calls that
    // saw a count of 1 are the first call of each runtime.
    let mut firsts = 0;
    for c in calls {
        let out = c.await.unwrap().unwrap();
        assert_eq!(out.value["slow"], json!(true));
        if out.value["calls"] == json!(1) {
            firsts += 1;
        }
    }
    assert!(
        (2..=3).contains(&firsts),
        "12 concurrent calls ran in {firsts} runtimes, expected 2 or 3"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_made_one_after_another_keep_one_runtime() {
    let dir = connector();
    let e = engine(dir.path(), 4);
    // Each call is sent the moment the previous reply arrives, while its
    // engine thread may not be waiting for work yet.
    for n in 1..=200 {
        let out = e
            .call(call(dir.path(), "slow", json!({"ms": 0})))
            .await
            .unwrap();
        assert_eq!(
            out.value["calls"],
            json!(n),
            "call {n} ran in another runtime than the calls before it"
        );
    }
}

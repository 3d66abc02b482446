//! A connector's calls run in up to `Limits::runtimes` runtimes at once: a
//! call that waits does not hold up the others (and with one runtime it
//! does, which is why the pool exists). An idle engine thread sleeps
//! outside its tokio runtime and must still wake for the next call, run
//! that call's timers and HTTP, and stop when the engine is dropped.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

mod common;

use common::call;
use runtime_engine::{CallError, Engine, LimitKind, Limits};
use serde_json::json;

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
    std::fs::write(
        dir.path().join("data/spin.js"),
        "export default function spin() { for (;;) {} }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("data/fetch.js"),
        "export default async function fetch({ apiClient }) {\n  const got = await apiClient.get('/slow')\n  globalThis.calls = (globalThis.calls || 0) + 1\n  return { got, calls: globalThis.calls }\n}\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("auth")).unwrap();
    std::fs::write(
        dir.path().join("auth/make-api-client.js"),
        "export default function makeApiClient({ parameters }) { return { baseUri: parameters.baseUri } }\n",
    )
    .unwrap();
    dir
}

fn engine(root: &Path, runtimes: usize) -> Engine {
    engine_with(
        root,
        "pool-test",
        Limits {
            runtimes,
            ..Limits::default()
        },
    )
}

fn engine_with(root: &Path, name: &str, limits: Limits) -> Engine {
    common::engine(root, name, limits, true)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_thread_idle_for_a_while_runs_the_next_call_and_its_timers() {
    let dir = connector();
    let e = engine(dir.path(), 4);
    let first = e
        .call(call(dir.path(), "slow", json!({"ms": 0})))
        .await
        .unwrap();
    assert_eq!(first.value["calls"], json!(1));
    // Longer than the watchdog stays awake after a call: both threads are
    // asleep with nothing due when the next call comes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = e
        .call(call(dir.path(), "slow", json!({"ms": 50})))
        .await
        .unwrap();
    assert_eq!(second.value["slow"], json!(true));
    assert_eq!(
        second.value["calls"],
        json!(2),
        "the call ran in another runtime"
    );
}

/// A loopback HTTP server answering each request with `{"n": N}` after
/// `delay`; returns its base URL.
fn slow_server(delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            }
            std::thread::sleep(delay);
            let body = format!("{{\"n\":{}}}", n + 1);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_awaiting_http_gets_the_response_after_the_thread_idled() {
    let dir = connector();
    let base = slow_server(Duration::from_millis(300));
    let e = engine(dir.path(), 1);
    let fetch = || {
        let mut c = call(dir.path(), "fetch", json!({}));
        c.connector_parameters = json!({ "baseUri": base });
        c
    };
    let first = e.call(fetch()).await.unwrap();
    assert_eq!(first.value, json!({"got": {"n": 1}, "calls": 1}));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The engine thread waits in its runtime while the host's runtime does
    // the request; the response must wake it.
    let second = e.call(fetch()).await.unwrap();
    assert_eq!(second.value, json!({"got": {"n": 2}, "calls": 2}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cpu_limit_stops_calls_made_right_after_another_and_after_a_pause() {
    let dir = connector();
    let e = engine_with(
        dir.path(),
        "pool-cpu",
        Limits {
            cpu: Duration::from_millis(300),
            wall: Duration::from_secs(120),
            ..Limits::default()
        },
    );
    let spin = || call(dir.path(), "spin", json!({}));
    // Right after a call the watchdog is still awake on a timer; after a
    // pause it sleeps until a call wakes it. Either way the loop is stopped
    // by the CPU limit, not the (much longer) wall-clock one.
    for pause in [0, 0, 1500] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        e.call(call(dir.path(), "fast", json!({}))).await.unwrap();
        match e.call(spin()).await {
            Err(CallError::Limit {
                kind: LimitKind::Cpu(d),
                function,
                ..
            }) => {
                assert_eq!(d, Duration::from_millis(300));
                assert_eq!(function, "data/spin.js");
            }
            other => panic!("expected the CPU limit, got {:?}", other.map(|o| o.value)),
        }
    }
}

/// Engine threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with(prefix))
                .count()
        })
        .unwrap_or(0)
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_engine_ends_its_threads() {
    if std::env::var_os("ENGINE_TESTS_IN_WORKERS").is_some() {
        // The threads are a worker's (tests/workers.rs covers its end).
        return;
    }
    let dir = connector();
    let e = engine_with(dir.path(), "pool-drop", Limits::default());
    e.call(call(dir.path(), "fast", json!({}))).await.unwrap();
    assert_eq!(threads_named("js-pool-drop"), 1);
    drop(e);
    // Ends within moments; the bound only keeps a regression from hanging.
    for _ in 0..600 {
        if threads_named("js-pool-drop") == 0 && threads_named("watchdog-pool-d") == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the engine and watchdog threads are still running after the engine was dropped");
}

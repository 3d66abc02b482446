//! Engines whose calls run in worker processes (`Engine::start_in_workers`),
//! with real child processes of the `engine-worker` bin and a real HTTP
//! server on loopback: the same answers as in-process; HTTP made by the
//! service with its own settings; a call no in-process limit can stop is
//! ended by killing its worker while another engine keeps answering; a
//! worker killed from outside fails its call as retryable and is
//! replaced, with back-off; a worker's seccomp filter and descriptors.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::call;
use runtime_engine::{CallError, Engine, FunctionFile, LimitKind, Limits, WorkerOptions};
use serde_json::{json, Value};

const WORKER: &str = env!("CARGO_BIN_EXE_engine-worker");

fn connector() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in [
        (
            "auth/make-api-client.js",
            "export default function makeApiClient({ parameters }) { return { baseUri: parameters.baseUri } }\n",
        ),
        (
            "data/echo.js",
            "export default function echo(input) {\n  globalThis.calls = (globalThis.calls || 0) + 1\n  return { input, calls: globalThis.calls, text: 'é \"q\" \\n' }\n}\n",
        ),
        (
            "data/slow.js",
            "export default async function slow({ ms }) {\n  await new Promise((r) => setTimeout(r, ms))\n  return { slow: true }\n}\n",
        ),
        (
            "data/fetch.js",
            "export default async function fetch({ apiClient, path }) {\n  return await apiClient.get(path)\n}\n",
        ),
        (
            "data/fetchError.js",
            "export default async function fetchError({ apiClient, path }) {\n  try { await apiClient.get(path); return null } catch (e) { return { name: e.name, message: e.message } }\n}\n",
        ),
        (
            "data/throws.js",
            "import { BadRequestError } from '@integration-app/sdk'\nexport default function throws() {\n  throw new BadRequestError('no such deal', { field: 'id' })\n}\n",
        ),
        (
            "data/spin.js",
            "export default function spin() { for (;;) {} }\n",
        ),
        (
            "data/block.js",
            "export default function block() {\n  const cell = new Int32Array(new SharedArrayBuffer(4))\n  Atomics.wait(cell, 0, 0, 600000)\n  return 'woke'\n}\n",
        ),
    ] {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    dir
}

/// The workers of these tests: the `engine-worker` bin; with
/// `ENGINE_WORKER_CMD="path/to/runtime __engine-worker"`, that command (the
/// product binary); with `STRACE_WORKERS=/tmp/trace`, the bin under
/// `strace -ff` (how the seccomp allow-list was made: look for EPERM).
fn options() -> WorkerOptions {
    if let Ok(cmd) = std::env::var("ENGINE_WORKER_CMD") {
        let mut words = cmd.split_whitespace().map(String::from);
        let program = words.next().expect("ENGINE_WORKER_CMD names a program");
        return WorkerOptions::new(program, words.collect());
    }
    if let Ok(out) = std::env::var("STRACE_WORKERS") {
        return WorkerOptions::new(
            "/usr/bin/strace",
            vec![
                "-f".into(),
                "-ff".into(),
                "-qq".into(),
                "-o".into(),
                out,
                WORKER.into(),
            ],
        );
    }
    WorkerOptions::new(WORKER, vec![])
}

fn in_workers(root: &Path, limits: Limits, options: WorkerOptions) -> Engine {
    let mut config = common::config(root, "workers-test", limits);
    config.make_api_client = Some(FunctionFile {
        path: config.root.join("auth/make-api-client.js"),
        rel: "auth/make-api-client.js".into(),
        export: "makeApiClient".into(),
    });
    Engine::start_in_workers(config, options).unwrap()
}

fn fetch(root: &Path, base: &str, path: &str) -> runtime_engine::Call {
    let mut c = call(root, "fetch", json!({ "path": path }));
    c.connector_parameters = json!({ "baseUri": base });
    c
}

/// A loopback HTTP server answering `GET /n` with `{"n": N, "path": ...}`;
/// returns its base URL and the count of requests it got.
fn server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            }
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            let head = String::from_utf8_lossy(&got).into_owned();
            let path = head.split(' ').nth(1).unwrap_or("").to_string();
            let body = json!({ "n": n, "path": path, "quote": "\"x\"" }).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, count)
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "waited 20 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_a_worker_answers_as_in_process() {
    let dir = connector();
    let mut config = common::config(dir.path(), "in-process", Limits::default());
    config.make_api_client = Some(FunctionFile {
        path: config.root.join("auth/make-api-client.js"),
        rel: "auth/make-api-client.js".into(),
        export: "makeApiClient".into(),
    });
    let here = Engine::start(config).unwrap();
    let there = in_workers(dir.path(), Limits::default(), options());
    let input = json!({"a": [1, 2, {"b": null}], "s": "ünï \"quoted\""});
    for _ in 0..2 {
        let a = here
            .call_raw(call(dir.path(), "echo", input.clone()))
            .await
            .unwrap();
        let b = there
            .call_raw(call(dir.path(), "echo", input.clone()))
            .await
            .unwrap();
        assert_eq!(a.text(), b.text());
        assert_eq!(a.function(), b.function());
    }
    // The worker's runtime keeps its globals between calls, as a thread's.
    let third = there
        .call(call(dir.path(), "echo", json!({})))
        .await
        .unwrap();
    assert_eq!(third.value["calls"], json!(3));
    // Errors cross with their class, data and place.
    let err = there
        .call(call(dir.path(), "throws", json!({})))
        .await
        .unwrap_err();
    let local = here
        .call(call(dir.path(), "throws", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), local.to_string());
    let info = err.js().expect("a JavaScript error");
    assert_eq!(info.status(), Some(400));
    assert_eq!(info.location.as_ref().unwrap().file, "data/throws.js");
    // check() too.
    let root = std::fs::canonicalize(dir.path()).unwrap();
    there
        .check(FunctionFile {
            path: root.join("data/echo.js"),
            rel: "data/echo.js".into(),
            export: "echo".into(),
        })
        .await
        .unwrap();
    let missing = there
        .check(FunctionFile {
            path: root.join("data/nope.js"),
            rel: "data/nope.js".into(),
            export: "nope".into(),
        })
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("nope.js"), "{missing}");
    let stats = there.worker_stats().unwrap();
    assert_eq!(stats.running(), 1);
    assert_eq!(stats.restarted(), 0);
    assert!(here.worker_stats().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_client_requests_are_made_by_the_service_with_its_own_allowed_hosts() {
    let dir = connector();
    let (base, count) = server();
    let e = in_workers(dir.path(), Limits::default(), options());
    let out = e.call(fetch(dir.path(), &base, "/n?x=1")).await.unwrap();
    assert_eq!(out.value["n"], json!(1));
    assert_eq!(out.value["path"], json!("/n?x=1"));
    assert_eq!(out.value["quote"], json!("\"x\""));
    // Concurrent calls' requests are told apart.
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let (e, c) = (e.clone(), fetch(dir.path(), &base, &format!("/n/{i}")));
            tokio::spawn(async move { e.call(c).await })
        })
        .collect();
    for (i, c) in calls.into_iter().enumerate() {
        let out = c.await.unwrap().unwrap();
        assert_eq!(out.value["path"], json!(format!("/n/{i}")));
    }
    assert_eq!(count.load(Ordering::SeqCst), 9);

    // An absolute URL to another origin: refused by the service's
    // allow-list before any connection (the worker cannot connect itself).
    let (other, other_count) = server();
    let mut c = call(
        dir.path(),
        "fetchError",
        json!({ "path": format!("{other}/x") }),
    );
    c.connector_parameters = json!({ "baseUri": base });
    let out = e.call(c).await.unwrap();
    assert!(
        out.value["message"]
            .as_str()
            .unwrap_or("")
            .contains("not allowed")
            || out.value["message"]
                .as_str()
                .unwrap_or("")
                .contains("allow"),
        "{}",
        out.value
    );
    assert_eq!(other_count.load(Ordering::SeqCst), 0);

    // The service's HttpConfig decides: a response cap of 10 bytes here.
    let mut config = common::config(dir.path(), "capped", Limits::default());
    config.make_api_client = Some(FunctionFile {
        path: config.root.join("auth/make-api-client.js"),
        rel: "auth/make-api-client.js".into(),
        export: "makeApiClient".into(),
    });
    config.http = Arc::new(runtime_api_client::HttpConfig {
        max_response_bytes: 10,
        ..Default::default()
    });
    let capped = Engine::start_in_workers(config, options()).unwrap();
    let mut c = call(dir.path(), "fetchError", json!({ "path": "/n" }));
    c.connector_parameters = json!({ "baseUri": base });
    let out = capped.call(c).await.unwrap();
    assert!(
        out.value["message"].as_str().unwrap_or("").contains("10"),
        "{}",
        out.value
    );
}

fn killed(pid: u32) {
    // SAFETY: a plain kill(2) of a child this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_no_limit_can_stop_is_killed_at_its_hard_deadline_while_another_engine_answers() {
    let dir = connector();
    let mut opts = options();
    opts.hard_deadline_grace = Duration::from_millis(1000);
    let limits = Limits {
        wall: Duration::from_secs(3),
        cpu: Duration::from_secs(60),
        runtimes: 2,
        ..Limits::default()
    };
    let runaway = in_workers(dir.path(), limits, opts);
    let other = in_workers(dir.path(), Limits::default(), options());
    other
        .call(call(dir.path(), "echo", json!({})))
        .await
        .unwrap();
    runaway
        .call(call(dir.path(), "echo", json!({})))
        .await
        .unwrap();
    let first_pid = runaway.worker_pids();
    assert_eq!(first_pid.len(), 1);

    // Atomics.wait blocks the engine thread in native code: neither the CPU
    // nor the wall-clock limit can stop it (in-process it ends the whole
    // process with status 70 after 5 s).
    let start = Instant::now();
    let blocked = tokio::spawn({
        let (e, c) = (runaway.clone(), call(dir.path(), "block", json!({})));
        async move { e.call(c).await }
    });
    // Meanwhile the other engine keeps answering promptly.
    let mut slowest = Duration::ZERO;
    let mut neighbour = None;
    while !blocked.is_finished() {
        if neighbour.is_none() && start.elapsed() >= Duration::from_secs(2) {
            // A call of the same worker that would have ended by itself at
            // 4.5 s, within its own limit, had its worker not been killed
            // at 4 s.
            neighbour = Some(tokio::spawn({
                let (e, c) = (
                    runaway.clone(),
                    call(dir.path(), "slow", json!({"ms": 2500})),
                );
                async move { e.call(c).await }
            }));
        }
        let t = Instant::now();
        let out = other
            .call(call(dir.path(), "echo", json!({})))
            .await
            .unwrap();
        assert!(out.value["calls"].as_u64().unwrap() > 1);
        slowest = slowest.max(t.elapsed());
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the runaway call was never stopped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = start.elapsed();
    match blocked.await.unwrap() {
        Err(
            e @ CallError::Limit {
                kind: LimitKind::Wall(d),
                worker_killed: true,
                ..
            },
        ) => {
            assert_eq!(d, Duration::from_secs(3));
            assert!(
                e.to_string()
                    .contains("data/block.js: stopped by the wall-clock limit of 3 s"),
                "{e}"
            );
            assert!(e.to_string().contains("worker process was killed"), "{e}");
        }
        other => panic!(
            "expected the wall-clock limit with the worker killed, got {:?}",
            other.map(|o| o.value)
        ),
    }
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_millis(5500),
        "stopped after {took:?}"
    );
    assert!(
        slowest < Duration::from_millis(500),
        "the other engine took {slowest:?} for a call"
    );
    match neighbour
        .expect("the neighbour call was sent")
        .await
        .unwrap()
    {
        Err(e @ CallError::WorkerLost(_)) => assert!(e.is_retryable()),
        other => panic!("expected WorkerLost, got {:?}", other.map(|o| o.value)),
    }
    // A replacement serves the next call.
    let out = runaway
        .call(call(dir.path(), "echo", json!({})))
        .await
        .unwrap();
    assert_eq!(out.value["calls"], json!(1), "a fresh worker");
    assert_ne!(runaway.worker_pids(), first_pid);
    let stats = runaway.worker_stats().unwrap();
    assert_eq!(stats.killed_at_deadline(), 1);
    assert_eq!(stats.restarted(), 1);
    assert_eq!(stats.running(), 1);
    assert_eq!(other.worker_stats().unwrap().restarted(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_call_fails_it_as_retryable_and_is_replaced() {
    let dir = connector();
    let e = in_workers(dir.path(), Limits::default(), options());
    e.call(call(dir.path(), "echo", json!({}))).await.unwrap();
    let pid = e.worker_pids()[0];
    let slow = tokio::spawn({
        let (e, c) = (e.clone(), call(dir.path(), "slow", json!({"ms": 5000})));
        async move { e.call(c).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    killed(pid);
    match slow.await.unwrap() {
        Err(err @ CallError::WorkerLost(_)) => {
            assert!(err.is_retryable());
            assert!(err.to_string().contains("SIGKILL"), "{err}");
            assert!(err.to_string().contains("can be retried"), "{err}");
        }
        other => panic!("expected WorkerLost, got {:?}", other.map(|o| o.value)),
    }
    assert!(start.elapsed() < Duration::from_secs(2));
    let out = e
        .call(call(dir.path(), "echo", json!({"again": true})))
        .await
        .unwrap();
    assert_eq!(out.value["input"]["again"], json!(true));
    let stats = e.worker_stats().unwrap();
    assert_eq!(stats.restarted(), 1);
    assert_eq!(stats.calls_lost(), 1);
    assert_ne!(e.worker_pids(), vec![pid]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_dying_at_once_are_replaced_with_back_off() {
    let dir = connector();
    let mut opts = options();
    opts.processes = 3;
    opts.restart_backoff =
        runtime_retry::Backoff::new(Duration::from_millis(400), Duration::from_secs(5))
            .with_jitter(runtime_retry::Jitter::None);
    let e = in_workers(dir.path(), Limits::default(), opts);
    let stats = e.worker_stats().unwrap();
    wait_for("3 workers", || stats.running() == 3).await;
    let pids = e.worker_pids();
    let start = Instant::now();
    for pid in &pids {
        killed(*pid);
    }
    wait_for("the workers to be seen gone", || stats.running() == 0).await;
    wait_for("3 replacements", || stats.running() == 3).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "replaced after {took:?}, before the back-off"
    );
    assert_eq!(stats.restarted(), 3);
    let out = e.call(call(dir.path(), "echo", json!({}))).await.unwrap();
    assert_eq!(out.value["calls"], json!(1));

    // A program that exits at once is restarted ever more slowly (100, 200,
    // 400, 800 ms, ...), not in a tight loop, and calls fail instead of
    // waiting for it.
    let mut broken = WorkerOptions::new("/bin/false", vec![]);
    broken.restart_backoff =
        runtime_retry::Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
            .with_jitter(runtime_retry::Jitter::None);
    let b = in_workers(dir.path(), Limits::default(), broken);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let restarts = b.worker_stats().unwrap().restarted();
    assert!((2..=5).contains(&restarts), "{restarts} restarts in 1.6 s");
    let t = Instant::now();
    match b.call(call(dir.path(), "echo", json!({}))).await {
        Err(err @ CallError::WorkerLost(_)) => {
            assert!(err.to_string().contains("could be started"), "{err}");
        }
        other => panic!("expected WorkerLost, got {:?}", other.map(|o| o.value)),
    }
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_sends_garbage_is_killed_and_the_service_lives_on() {
    let dir = connector();
    // Ready, then garbage while the first call runs.
    let script = r#"printf '\013\000\000\000\007\000\000\000"Ready"'; sleep 1; printf '\377\377\377\377garbage'; sleep 30"#;
    let mut opts = WorkerOptions::new("/bin/sh", vec!["-c".into(), script.into()]);
    opts.restart_backoff =
        runtime_retry::Backoff::new(Duration::from_secs(5), Duration::from_secs(5));
    let e = in_workers(dir.path(), Limits::default(), opts);
    match e.call(call(dir.path(), "echo", json!({}))).await {
        Err(err @ CallError::WorkerLost(_)) => {
            assert!(err.to_string().contains("malformed"), "{err}");
        }
        other => panic!("expected WorkerLost, got {:?}", other.map(|o| o.value)),
    }
}

/// The targets of a process's descriptors.
fn descriptors(pid: u32) -> Vec<(String, String)> {
    let mut fds: Vec<(String, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((
                e.file_name().into_string().ok()?,
                target.display().to_string(),
            ))
        })
        .collect();
    fds.sort();
    fds
}

/// A file this process holds open without close-on-exec, as a service
/// might have inherited one.
fn leaked_descriptor() -> (std::fs::File, tempfile::NamedTempFile) {
    use std::os::fd::AsRawFd;
    let file = tempfile::NamedTempFile::new().unwrap();
    let held = std::fs::File::open(file.path()).unwrap();
    // SAFETY: clears FD_CLOEXEC on a descriptor this test owns.
    unsafe { libc::fcntl(held.as_raw_fd(), libc::F_SETFD, 0) };
    (held, file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_holds_no_inherited_descriptor_and_runs_hardened() {
    let dir = connector();
    let (_held, leaked) = leaked_descriptor();
    let mut opts = options();
    opts.memory_limit_bytes = Some(3 << 30);
    let e = in_workers(dir.path(), Limits::default(), opts);
    e.call(call(dir.path(), "echo", json!({}))).await.unwrap();
    let pid = e.worker_pids()[0];
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.lines().any(|l| l == "Seccomp:\t2"), "{status}");
    assert!(status.lines().any(|l| l == "NoNewPrivs:\t1"), "{status}");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let limit = |name: &str| -> String {
        let line = limits.lines().find(|l| l.starts_with(name)).unwrap();
        line[name.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(limit("Max core file size"), "0");
    assert_eq!(limit("Max data size"), (3u64 << 30).to_string());
    assert_eq!(limit("Max open files"), "96");
    let fds = descriptors(pid);
    let leaked = leaked.path().display().to_string();
    for (fd, target) in &fds {
        assert_ne!(target, &leaked, "the worker holds the service's fd {fd}");
        let n: i32 = fd.parse().unwrap();
        // Beyond the channel and stderr: only what the worker made itself
        // (tokio's epoll and eventfd, its signal socket pair).
        if n > 2 {
            assert!(
                target.starts_with("anon_inode:") || target.starts_with("socket:"),
                "fd {fd} is {target}: {fds:?}"
            );
        }
    }
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        !environ.contains("CARGO_MANIFEST_DIR"),
        "the service's environment reached the worker: {environ}"
    );
}

#[test]
fn the_seccomp_filter_and_landlock_refuse_sockets_processes_writes_and_other_files() {
    let (_held, _file) = leaked_descriptor();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("inside.txt"), "ok").unwrap();
    let out = std::process::Command::new(WORKER)
        .arg("probe")
        .arg(std::fs::canonicalize(root.path()).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let eperm = json!(libc::EPERM);
    assert_eq!(report["socket_inet"], json!(-1), "{report}");
    assert_eq!(report["socket_inet_errno"], eperm, "{report}");
    assert_eq!(report["socket_unix_errno"], eperm, "{report}");
    assert_eq!(report["fork"], json!(-1), "{report}");
    assert_eq!(report["fork_errno"], eperm, "{report}");
    assert_eq!(report["open_for_writing_errno"], eperm, "{report}");
    // What the engine needs still works.
    assert_eq!(report["read_inside_root"], json!(true), "{report}");
    assert_eq!(report["thread"], json!(true), "{report}");
    assert_eq!(report["unix_socketpair"], json!(0), "{report}");
    // Landlock: nothing outside the root, the service's /proc included.
    assert!(
        report["landlock"].as_str().unwrap().starts_with("Enforced"),
        "{report}"
    );
    assert_eq!(
        report["read_outside_root_errno"],
        json!(libc::EACCES),
        "{report}"
    );
    assert_eq!(
        report["read_parent_environ_errno"],
        json!(libc::EACCES),
        "{report}"
    );
    // Only stdin, stdout and stderr, though this process leaked one more.
    assert_eq!(report["fds"], json!(["0", "1", "2"]), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_engine_ends_its_workers() {
    let dir = connector();
    let e = in_workers(dir.path(), Limits::default(), options());
    e.call(call(dir.path(), "echo", json!({}))).await.unwrap();
    let pid = e.worker_pids()[0];
    drop(e);
    wait_for("the worker to end", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_out_of_memory_is_contained() {
    let dir = connector();
    std::fs::write(
        dir.path().join("data/bomb.js"),
        "export default function bomb() { const keep = []; for (;;) keep.push(new Array(100000).fill({ n: keep.length })) }\n",
    )
    .unwrap();
    let mut opts = options();
    // Less than the heap limit: the process runs out before the runtime.
    opts.memory_limit_bytes = Some(512 << 20);
    let limits = Limits {
        heap_bytes: 2 << 30,
        cpu: Duration::from_secs(60),
        wall: Duration::from_secs(60),
        runtimes: 1,
        ..Limits::default()
    };
    let e = in_workers(dir.path(), limits, opts);
    e.call(call(dir.path(), "echo", json!({}))).await.unwrap();
    let err = e
        .call(call(dir.path(), "bomb", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::WorkerLost(_)) || err.to_string().contains("out of memory"),
        "{err}"
    );
    // Out of memory inside the engine (QuickJS's own error) or the process
    // lost: either way the next call is answered.
    let out = e.call(call(dir.path(), "echo", json!({}))).await.unwrap();
    assert!(out.value["calls"].as_u64().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_worker_is_replaced_while_the_others_wait_for_calls() {
    let dir = connector();
    let mut opts = options();
    opts.processes = 2;
    let e = in_workers(dir.path(), Limits::default(), opts);
    let stats = e.worker_stats().unwrap();
    wait_for("2 workers", || stats.running() == 2).await;
    killed(e.worker_pids()[0]);
    wait_for("the loss to be seen", || stats.restarted() == 1).await;
    wait_for("the replacement", || stats.running() == 2).await;
    for _ in 0..4 {
        e.call(call(dir.path(), "echo", json!({}))).await.unwrap();
    }
}

/// A loopback OAuth2 API: `POST /token` grants `NEW`, `GET /data` answers
/// 401 unless sent `Bearer NEW`.
fn oauth_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            let head_end = loop {
                if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break got.len(),
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            };
            let head = String::from_utf8_lossy(&got[..head_end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while got.len() < head_end + length {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            }
            let (status, body) = if head.starts_with("post /token") {
                (
                    "200 OK",
                    json!({"access_token": "NEW", "token_type": "bearer"}),
                )
            } else if head.contains("authorization: bearer new") {
                ("200 OK", json!({"ok": true}))
            } else {
                ("401 Unauthorized", json!({"error": "expired"}))
            };
            let body = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_refresh_is_made_by_the_service_as_in_process() {
    let dir = connector();
    for (path, text) in [
        (
            "auth/make-api-client.js",
            "export default function makeApiClient({ credentials, parameters }) {\n  return { baseUri: parameters.baseUri, headers: { Authorization: 'Bearer ' + credentials.access_token } }\n}\n",
        ),
        (
            "auth/get-oauth-config.js",
            "export default function getOAuthConfig({ parameters }) {\n  return { tokenUri: parameters.baseUri + '/token', clientId: 'id', clientSecret: 'secret' }\n}\n",
        ),
    ] {
        std::fs::write(dir.path().join(path), text).unwrap();
    }
    let base = oauth_server();
    let engine = |workers: bool| {
        let mut config = common::config(dir.path(), "oauth", Limits::default());
        for (field, rel, export) in [
            (
                &mut config.make_api_client,
                "auth/make-api-client.js",
                "makeApiClient",
            ),
            (
                &mut config.oauth_config,
                "auth/get-oauth-config.js",
                "getOAuthConfig",
            ),
        ] {
            *field = Some(FunctionFile {
                path: std::fs::canonicalize(dir.path()).unwrap().join(rel),
                rel: rel.into(),
                export: export.into(),
            });
        }
        if workers {
            Engine::start_in_workers(config, options()).unwrap()
        } else {
            Engine::start(config).unwrap()
        }
    };
    let mut c = fetch(dir.path(), &base, "/data");
    c.credentials = json!({"access_token": "OLD", "refresh_token": "R"});
    let here = engine(false).call(c.clone()).await.unwrap();
    let there = engine(true).call(c).await.unwrap();
    assert_eq!(there.value, json!({"ok": true}));
    assert_eq!(
        there.credentials.as_ref().unwrap()["access_token"],
        json!("NEW")
    );
    assert_eq!(
        there.credentials.as_ref().unwrap()["refresh_token"],
        json!("R")
    );
    assert_eq!(here.value, there.value);
    assert_eq!(here.credentials, there.credentials);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_its_worker_cannot_stop_fails_with_its_limit_when_the_worker_ends_itself() {
    let dir = connector();
    let mut opts = options();
    // The service's deadline comes after the worker's own last resort
    // (exit 70, 5 s after the limit tripped).
    opts.hard_deadline_grace = Duration::from_secs(30);
    let limits = Limits {
        wall: Duration::from_secs(1),
        runtimes: 2,
        ..Limits::default()
    };
    let e = in_workers(dir.path(), limits, opts);
    e.call(call(dir.path(), "echo", json!({}))).await.unwrap();
    let start = Instant::now();
    let blocked = tokio::spawn({
        let (e, c) = (e.clone(), call(dir.path(), "block", json!({})));
        async move { e.call(c).await }
    });
    match blocked.await.unwrap() {
        Err(
            err @ CallError::Limit {
                kind: LimitKind::Wall(_),
                worker_killed: true,
                ..
            },
        ) => assert!(err.to_string().contains("data/block.js"), "{err}"),
        other => panic!(
            "expected the wall-clock limit, got {:?}",
            other.map(|o| o.value)
        ),
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(9),
        "{took:?}"
    );
    e.call(call(dir.path(), "echo", json!({}))).await.unwrap();
    assert_eq!(e.worker_stats().unwrap().killed_at_deadline(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_past_its_memory_bound_is_recycled_without_losing_a_call() {
    let dir = connector();
    let mut opts = options();
    // Every worker is past 1 byte: each is recycled within a second of
    // starting, while calls keep coming.
    opts.recycle_rss_bytes = Some(1);
    let e = in_workers(dir.path(), Limits::default(), opts);
    e.call(call(dir.path(), "echo", json!({}))).await.unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        // Slow calls in flight while the worker drains: each finishes.
        let calls: Vec<_> = (0..3)
            .map(|_| {
                let (e, c) = (e.clone(), call(dir.path(), "slow", json!({"ms": 150})));
                tokio::spawn(async move { e.call(c).await })
            })
            .collect();
        for c in calls {
            c.await.unwrap().unwrap();
        }
    }
    let stats = e.worker_stats().unwrap();
    assert!(stats.recycled() >= 2, "recycled {}", stats.recycled());
    assert_eq!(stats.calls_lost(), 0);
    assert_eq!(stats.restarted(), 0, "a recycled worker is not a lost one");
}

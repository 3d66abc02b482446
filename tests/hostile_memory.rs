//! Memory bombs that catch their own out-of-memory error and keep
//! allocating (fixture `hostile-memory`): the call must still end in a
//! clean error naming its file and the limit, well before the CPU limit and
//! without the engine's last resort (exit 70 after 5 s), with bounded
//! memory; and a run's next calls on the same engine must work.
//!
//! QuickJS's out-of-memory error is catchable and it checks for a stop only
//! every 10,000 calls or loop iterations, so without the heap squeeze of
//! crates/engine/src/limits/squeeze.rs these loops ran on for seconds.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;

/// Heap limit only: the CPU limit (10 s by default) must not be what stops
/// them.
const HEAP_ONLY: &[&str] = &["--heap-limit-mb", "64"];

/// The engine's last resort: a call it cannot stop ends the process.
const EXIT_STUCK: i32 = 70;

/// Peak resident memory of any child this test binary has waited for, in
/// MiB (Linux reports `ru_maxrss` in KiB).
fn peak_child_rss_mib() -> u64 {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_maxrss as u64 / 1024
}

/// 64 MiB of heap, the backend's headroom and an idle runtime (~40 MiB):
/// an unbounded bomb would pass this at once.
const RSS_BOUND_MIB: u64 = 320;

/// Invokes `data/work/<function>` with `flags`; asserts a clean failure
/// naming the file and `limit`, and returns how long it took.
fn stopped(function: &str, flags: &[&str], limit: &str) -> Duration {
    let dir = support::fixtures_dir().join("hostile-memory");
    let r = support::invoke_with(
        flags,
        &dir,
        &format!("data/work/{function}"),
        &json!({}),
        &[],
    );
    assert_ne!(
        r.code,
        Some(EXIT_STUCK),
        "{function}: the engine could not stop it: {r}"
    );
    let err = r.failure();
    assert!(
        err.contains(&format!("data/work/{function}.js: stopped by the {limit}")),
        "{function}: {r}"
    );
    assert!(!err.contains("panicked"), "{function}: {r}");
    let peak = peak_child_rss_mib();
    assert!(peak < RSS_BOUND_MIB, "{function}: peak RSS {peak} MiB");
    println!("{function}: stopped by the {limit} after {:?}", r.elapsed);
    r.elapsed
}

#[test]
fn bombs_that_catch_their_out_of_memory_error_are_stopped_by_the_heap_limit() {
    for function in [
        // The loop of issue #4: build, catch, drop everything, again.
        "catch-reset",
        // Keeps what it built in a global and retries.
        "catch-keep",
        "catch-strings",
        "catch-buffers",
        "catch-async",
    ] {
        let took = stopped(function, HEAP_ONLY, "heap limit of 64 MiB");
        assert!(
            took < Duration::from_secs(8),
            "{function}: {took:?}, near the 10 s CPU limit"
        );
    }
}

/// Pieces small enough to fit in the engine's 16 MiB termination headroom,
/// emptied in place: without the squeeze's ballast each of QuickJS's 10,000
/// steps between two stop checks did a megabyte of native work (2–7 s,
/// close to the 5 s last resort); with it, well under a second.
#[test]
fn small_pieces_emptied_in_place_are_stopped_too() {
    let took = stopped("catch-small", HEAP_ONLY, "heap limit of 64 MiB");
    assert!(took < Duration::from_secs(4), "catch-small: {took:?}");
}

/// Loops that stop catching once squeezed: their out-of-memory error
/// escapes, and deno_core must still have room to build the call's error
/// (it panicked when it had none: with 20 MiB kept, the termination
/// headroom was full). The detached one escapes into a promise nobody
/// awaits, where the squeeze must not leave the heap full.
#[test]
fn bombs_that_let_the_error_escape_after_the_squeeze_end_cleanly() {
    for function in ["catch-giveup", "catch-keep-reset", "catch-detached"] {
        let took = stopped(function, HEAP_ONLY, "heap limit of 64 MiB");
        assert!(
            took < Duration::from_secs(8),
            "{function}: {took:?}, near the 10 s CPU limit"
        );
    }
}

#[test]
fn a_string_doubled_until_too_long_and_retried_is_stopped_by_the_cpu_limit() {
    // "string too long" comes before any heap limit: a plain CPU loop.
    stopped(
        "catch-doubling",
        &["--cpu-limit-ms", "300", "--heap-limit-mb", "64"],
        "CPU time limit of 300 ms",
    );
}

#[test]
fn the_next_calls_on_the_same_engine_still_work() {
    let tmp = tempfile::tempdir().unwrap();
    let connection = tmp.path().join("connection.json");
    let conn = json!({"credentials": {}, "parameters": {}, "collections": {}});
    std::fs::write(&connection, conn.to_string()).unwrap();
    let connector = support::fixture_dir("hostile-memory");
    for run in 1..=2 {
        let sink = tmp.path().join(format!("events-{run}.jsonl"));
        // One runtime: healthy's later pages run after the bomb on the
        // engine the bomb's call left behind.
        let mut args: Vec<String> = ["--runtimes", "1"]
            .iter()
            .chain(HEAP_ONLY)
            .map(|s| s.to_string())
            .collect();
        args.extend([
            "run".into(),
            connector.display().to_string(),
            "--connection".into(),
            connection.display().to_string(),
            "--data-dir".into(),
            tmp.path().join("data").display().to_string(),
            "--sink".into(),
            format!("file:{}", sink.display()),
            "--once".into(),
        ]);
        let start = Instant::now();
        let (code, _, stderr) = support::run_to_end(&args);
        let took = start.elapsed();
        assert!(
            matches!(code, Some(c) if c != 0 && c != EXIT_STUCK),
            "run {run}: exit {code:?}:\n{stderr}"
        );
        let report = stderr.lines().last().unwrap_or_default().to_string();
        assert!(
            stderr.contains("collection `bomb`")
                && stderr.contains("data/bomb/list.js")
                && stderr.contains("stopped by the heap limit of 64 MiB"),
            "run {run}:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(took < Duration::from_secs(10), "run {run} took {took:?}");
        let events = support::read_events(&sink);
        let mut ids: Vec<&str> = events
            .iter()
            .map(|e| {
                assert_eq!(e["collection"], "healthy", "{e}");
                e["recordId"].as_str().unwrap()
            })
            .collect();
        ids.sort();
        if run == 1 {
            assert!(ids.is_empty(), "baseline emitted {ids:?}");
        } else {
            assert_eq!(
                ids,
                ["p1-1", "p1-2", "p2-1", "p2-2", "p3-1", "p3-2"],
                "healthy events missing:\n{stderr}"
            );
            assert!(events.iter().all(|e| e["type"] == "updated"), "{events:?}");
        }
        println!("run {run}: {took:?}; {report}");
    }
}

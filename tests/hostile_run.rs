//! Hostile connector code through `runtime run --once`: one collection
//! (`hostile`) misbehaves while `healthy` shares its JavaScript runtime.
//! Each scenario runs twice (baseline, then a cycle that emits): the hostile
//! collection fails with an error naming it, its file and the limit or
//! problem; the process exits non-zero (not by a signal); and `healthy`,
//! whose later pages run after the hostile call on the same engine thread,
//! still delivers all its events with untouched built-ins.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{read_events, run_to_end};
use tempfile::TempDir;

const LIMITS: &[&str] = &["--cpu-limit-ms", "300", "--heap-limit-mb", "64"];

struct Setup {
    tmp: TempDir,
    connection: PathBuf,
    runs: usize,
}

impl Setup {
    /// `collections` is the connection file's `collections` object.
    fn new(collections: Value) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let connection = tmp.path().join("connection.json");
        let conn = json!({"credentials": {}, "parameters": {}, "collections": collections});
        std::fs::write(&connection, conn.to_string()).unwrap();
        Setup {
            tmp,
            connection,
            runs: 0,
        }
    }

    fn hostile(mode: &str) -> Setup {
        Setup::new(json!({
            "hostile": {"parameters": {"mode": mode}},
            "healthy": {},
            "flood": {"enabled": false},
        }))
    }

    /// One `run --once` with `flags`: (exit code, events, stderr, elapsed).
    fn once(&mut self, flags: &[&str]) -> (Option<i32>, Vec<Value>, String, Duration) {
        self.runs += 1;
        let sink = self.tmp.path().join(format!("events-{}.jsonl", self.runs));
        let connector = support::fixture_dir("hostile-run");
        let mut args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        args.extend([
            "run".into(),
            connector.display().to_string(),
            "--connection".into(),
            self.connection.display().to_string(),
            "--data-dir".into(),
            self.tmp.path().join("data").display().to_string(),
            "--sink".into(),
            format!("file:{}", sink.display()),
            "--once".into(),
        ]);
        let start = Instant::now();
        let (code, _out, err) = run_to_end(&args);
        (code, read_events(&sink), err, start.elapsed())
    }
}

/// The final error lines (log lines carry a level; the report does not).
fn report(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.contains(" INFO ") && !l.contains(" WARN ") && !l.contains(" DEBUG "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The healthy collection's three pages, as `updated` events from pristine
/// built-ins (the second run differs from the baseline in `at` only).
fn assert_healthy(events: &[Value], stderr: &str) {
    let mut ids: Vec<&str> = events
        .iter()
        .filter(|e| e["collection"] == "healthy")
        .map(|e| {
            assert_eq!(e["type"], "updated", "{e}");
            assert_eq!(e["record"]["pristine"], true, "built-ins leaked: {e}");
            e["recordId"].as_str().unwrap()
        })
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["p1-1", "p1-2", "p2-1", "p2-2", "p3-1", "p3-2"],
        "healthy events missing:\n{stderr}"
    );
}

/// Baseline, then the emitting cycle: the hostile collection fails both
/// times naming `expect`, and healthy's events arrive.
fn check_mode(mode: &str, expect: &str) {
    check_mode_any(mode, &[expect])
}

/// Like `check_mode`, where any of `expects` is right: floods that also
/// allocate may reach the heap limit before the CPU limit on a busy machine.
fn check_mode_any(mode: &str, expects: &[&str]) {
    let mut s = Setup::hostile(mode);
    for run in 1..=2 {
        let (code, events, stderr, elapsed) = s.once(LIMITS);
        let rep = report(&stderr);
        assert!(
            matches!(code, Some(c) if c != 0),
            "{mode} run {run}: exit {code:?} (a signal is None)\n{stderr}"
        );
        assert!(rep.contains("collection `hostile`"), "{mode}: {rep}");
        assert!(rep.contains("data/hostile/list"), "{mode}: {rep}");
        assert!(
            expects.iter().any(|e| rep.contains(e)),
            "{mode}: expected one of {expects:?}:\n{rep}"
        );
        assert!(!rep.contains("collection `healthy`"), "{mode}: {rep}");
        assert!(elapsed < Duration::from_secs(10), "{mode} took {elapsed:?}");
        assert!(
            events.iter().all(|e| e["collection"] == "healthy"),
            "{mode}: {events:?}"
        );
        if run == 1 {
            assert!(events.is_empty(), "{mode}: baseline emitted {events:?}");
        } else {
            assert_healthy(&events, &stderr);
        }
    }
}

#[test]
fn runaway_loops_stop_and_the_next_calls_still_work() {
    check_mode("spin", "stopped by the CPU time limit of 300 ms");
    for mode in ["awaitNull", "timerFork"] {
        check_mode_any(
            mode,
            &[
                "stopped by the CPU time limit of 300 ms",
                "stopped by the heap limit of 64 MiB",
            ],
        );
    }
}

#[test]
fn a_promise_flood_the_engine_cannot_stop_ends_the_process_cleanly() {
    // With another collection sharing the runtime, QuickJS keeps draining
    // this flood inside one microtask checkpoint after termination (it hung
    // for good before). The watchdog's last resort is a clean exit.
    let mut s = Setup::hostile("thenFlood");
    let (code, _, stderr, elapsed) = s.once(LIMITS);
    let rep = report(&stderr);
    assert!(
        matches!(code, Some(c) if c != 0),
        "exit {code:?}:\n{stderr}"
    );
    assert!(
        rep.contains("data/hostile/list.js: stopped by the CPU time limit of 300 ms")
            || rep.contains("data/hostile/list.js: stopped by the heap limit of 64 MiB"),
        "{rep}"
    );
    assert!(elapsed < Duration::from_secs(12), "took {elapsed:?}");
}

#[test]
fn memory_bombs_stop_and_the_next_calls_still_work() {
    for mode in ["heap", "buffers", "typed"] {
        check_mode(mode, "heap limit of 64 MiB");
    }
    check_mode("strings", "string too long");
    check_mode("recursion", "RangeError");
}

#[test]
fn wrong_shapes_fail_naming_the_problem() {
    for (mode, expect) in [
        ("recordsNotList", "`records` that is not a list (an object)"),
        ("noId", "a record without `id` (page 1)"),
        ("cyclic", "not JSON (circular reference)"),
        ("bigint", "not JSON (BigInt"),
        // A list with a forgotten `return` was an empty page: on the next
        // scan every known record became a false delete.
        ("undefined", "null instead of {records, cursor}"),
        (
            "stuckCursor",
            "the cursor \"same\" twice in one scan (pagination loop)",
        ),
    ] {
        check_mode(mode, expect);
    }
}

#[test]
fn a_million_records_fail_within_the_limits() {
    check_mode("million", "data/hostile/list.js: stopped by the");
}

#[test]
fn rewritten_built_ins_do_not_reach_the_next_calls() {
    // `pollute` tries to replace JSON, Array.prototype.map,
    // Promise.prototype.then and to add Object.prototype.polluted; `freeze`
    // freezes Array.prototype and tries to add a non-configurable
    // Object.prototype key. Built-ins are frozen, so the attempts throw; the
    // calls catch that and succeed themselves.
    for mode in ["pollute", "freeze"] {
        let mut s = Setup::hostile(mode);
        let (code, events, stderr, _) = s.once(LIMITS);
        assert_eq!(code, Some(0), "{mode}:\n{stderr}");
        assert!(events.is_empty(), "{mode}: {events:?}");
        let (code, events, stderr, _) = s.once(LIMITS);
        assert_eq!(code, Some(0), "{mode}:\n{stderr}");
        assert_healthy(&events, &stderr);
        // The hostile collection's own records were not forged either.
        assert!(
            events.iter().all(|e| e["collection"] == "healthy"),
            "{events:?}"
        );
    }
}

fn flood(params: Value) -> Setup {
    Setup::new(json!({
        "hostile": {"enabled": false},
        "healthy": {},
        "flood": {"parameters": params},
    }))
}

#[test]
fn bad_events_fail_naming_the_index() {
    for (params, expect) in [
        (
            json!({"count": 3, "type": "exploded"}),
            "events[0] with type \"exploded\": expected \"created\", \"updated\" or \"deleted\"",
        ),
        (
            json!({"notList": true}),
            "`events` that is not a list (a string)",
        ),
    ] {
        let mut s = flood(params);
        let (code, _, stderr, _) = s.once(LIMITS);
        assert_eq!(code, Some(0), "baseline only subscribes:\n{stderr}");
        let (code, events, stderr, _) = s.once(LIMITS);
        let rep = report(&stderr);
        assert!(matches!(code, Some(c) if c != 0), "{rep}");
        assert!(rep.contains("collection `flood`"), "{rep}");
        assert!(rep.contains("data/flood/events/pull"), "{rep}");
        assert!(rep.contains(expect), "expected {expect:?}:\n{rep}");
        assert_healthy(&events, &stderr);
    }
}

#[test]
fn a_million_events_at_once_fail_within_the_heap_limit() {
    let mut s = flood(json!({"count": 1_000_000}));
    let flags = ["--cpu-limit-ms", "20000", "--heap-limit-mb", "64"];
    let (code, _, stderr, _) = s.once(&flags);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, events, stderr, elapsed) = s.once(&flags);
    let rep = report(&stderr);
    assert!(matches!(code, Some(c) if c != 0), "{rep}");
    assert!(
        rep.contains("data/flood/events/pull.js: stopped by the heap limit of 64 MiB"),
        "{rep}"
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_healthy(&events, &stderr);
}

#[test]
fn many_events_within_the_limits_are_all_delivered() {
    let mut s = flood(json!({"count": 5000}));
    assert_eq!(s.once(LIMITS).0, Some(0));
    let (code, events, stderr, _) = s.once(LIMITS);
    assert_eq!(code, Some(0), "{stderr}");
    let flood: Vec<&Value> = events
        .iter()
        .filter(|e| e["collection"] == "flood")
        .collect();
    assert_eq!(flood.len(), 5000);
    assert_eq!(flood[4999]["recordId"], "e4999");
}

#[test]
fn more_events_than_one_commit_may_hold_fail_clearly() {
    // Fits the heap, but would take the store's single commit past a GiB.
    let mut s = flood(json!({"count": 100_001}));
    let flags = ["--cpu-limit-ms", "20000"];
    assert_eq!(s.once(&flags).0, Some(0));
    let (code, events, stderr, _) = s.once(&flags);
    let rep = report(&stderr);
    assert!(matches!(code, Some(c) if c != 0), "{rep}");
    assert!(
        rep.contains(
            "data/flood/events/pull.js returned 100001 events in one answer (at most 100000"
        ),
        "{rep}"
    );
    assert_healthy(&events, &stderr);
}

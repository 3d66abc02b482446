//! Crash safety at every persistence boundary of `runtime run`: for each
//! crash point the binary is built with (`--features failpoints`), the run
//! is made to abort at that point while the mock keeps changing deals
//! (custom-pull over the delta feed), then restarted without failpoints.
//!
//! The oracle uses the mock's change sequence numbers:
//! - right after each crash, the stored delta cursor (the seq `T` the feed
//!   was read up to) must not pass an undelivered change: once the outbox
//!   is drained (with the feed failing, so no new cycle helps), every change
//!   with seq <= T is in the sink, unless a later change of that record
//!   folded it into the next delta;
//! - after a final clean run every change the mock made is in the sink (an
//!   event for that record with `seq` >= the change's, or its delete), the
//!   newest event of each record is its final state, and a repeated event
//!   id repeats the same line;
//! - a crash after the flush keeps every commit that reached it (the
//!   `cycles` counter in the stored state), which a commit without fsync
//!   would lose.

#![cfg(feature = "failpoints")]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_api::{Fault, MockApi};
use rand::Rng;
use serde_json::Value;
use support::changes::{missing, read_all, start_changer, stored, ChangeLog, Stored};
use support::*;

const DEALS: &str = "deals";
const POINTS: [&str; 9] = [
    "after-fetch",
    "after-js-result",
    "before-commit",
    "before-commit-point",
    "after-commit-batch",
    "after-flush",
    "before-sink-deliver",
    "after-sink-ack",
    "after-store-ack",
];
const KILLS_PER_POINT: usize = 2;

#[test]
fn a_crash_at_every_persistence_boundary_loses_no_change() {
    for point in POINTS {
        let f = crash_and_recover(point);
        println!(
            "failpoint {point}: kills {}, mock changes {}, events {} ({} distinct), duplicates {}, lost {}",
            f.kills, f.changes, f.events, f.distinct, f.duplicates, f.lost
        );
        if point == "after-sink-ack" {
            // The sink got the batch and the ack never happened: the
            // restart must redeliver it with the same ids.
            assert!(
                f.duplicates > 0,
                "{point}: no redelivery after an unacked delivery"
            );
        }
    }
}

struct Figures {
    kills: usize,
    changes: usize,
    events: usize,
    distinct: usize,
    duplicates: usize,
    lost: usize,
}

fn crash_and_recover(point: &str) -> Figures {
    let mock = Arc::new(MockApi::start());
    mock.seed(DEALS, 10);
    let mut work = Work::new(demo_crm(), &mock.base_url(), &[DEALS], None);
    assert!(work.once_ok().is_empty(), "{point}: baseline");

    let log: ChangeLog = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let changer = start_changer(&mock, DEALS, &log, &stop);
    let mut sinks: Vec<PathBuf> = Vec::new();
    let mut rng = rand::thread_rng();
    for kill in 0..KILLS_PER_POINT {
        let cycles_before = stored(&work, DEALS).cycles;
        // Crash on hit `skip + 1`: the first hits pass untouched.
        let skip = rng.gen_range(0..3u32);
        let sink = work.sink_path();
        sinks.push(sink.clone());
        let log_text = crash_run(&work, &sink, &format!("{point}={skip}*off->return"));

        let Stored {
            cursor,
            cycles,
            last_error,
        } = stored(&work, DEALS);
        // A failed cycle commits its error note without counting a cycle.
        let failed = last_error.is_some() || log_text.contains("cycle failed");
        match point {
            // Every commit that reached its flush is on disk.
            "after-flush" if !failed => assert_eq!(
                cycles,
                cycles_before + u64::from(skip) + 1,
                "{point} kill {kill}: flushed commits are missing"
            ),
            "after-commit-batch" if !failed => assert!(
                cycles >= cycles_before + u64::from(skip),
                "{point} kill {kill}: flushed commits are missing"
            ),
            _ => {}
        }
        // Drain the outbox only: the feed fails, so no cycle can make up
        // for an event the crash lost.
        mock.inject(
            "/deals",
            1000,
            Fault::Status {
                code: 400,
                retry_after: None,
                body: None,
            },
        );
        let drain = work.sink_path();
        sinks.push(drain.clone());
        let mut args = work.run_args(&format!("file:{}", drain.display()));
        args.push("--once".into());
        let (_, _, stderr) = run_to_end(&args);
        mock.clear_faults();
        let delivered = read_all(&sinks);
        let log = log.lock().unwrap().clone();
        let behind = missing(&log, &delivered, Some(cursor));
        assert!(
            behind.is_empty(),
            "{point} kill {kill}: the stored cursor {cursor} passed undelivered changes:\n{}\n{stderr}",
            behind.join("\n")
        );
    }
    stop.store(true, Ordering::Relaxed);
    changer.join().unwrap();

    let (code, events, stderr) = work.once();
    assert_eq!(code, Some(0), "{point}: the clean run failed:\n{stderr}");
    assert!(!events.is_empty() || !read_all(&sinks).is_empty());
    let mut all = read_all(&sinks);
    all.extend(events);
    let log = log.lock().unwrap().clone();
    let (distinct, duplicates) = dedupe(point, &all);
    let mut lost = missing(&log, &all, None);
    lost.extend(final_state_mismatches(&mock, &log, &all));
    assert!(
        lost.is_empty(),
        "{point}: lost changes:\n{}",
        lost.join("\n")
    );
    assert!(!log.is_empty(), "{point}: the mock made no change");
    Figures {
        kills: KILLS_PER_POINT,
        changes: log.len(),
        events: all.len(),
        distinct,
        duplicates,
        lost: lost.len(),
    }
}

/// Runs until the failpoint aborts the process; fails the test if it ends
/// any other way or not within 30 s. Returns its log.
fn crash_run(work: &Work, sink: &std::path::Path, failpoints: &str) -> String {
    let mut args = work.run_args(&format!("file:{}", sink.display()));
    args.extend(["--interval".into(), "0.1".into()]);
    let mut child = Command::new(bin())
        .args(&args)
        .env("FAILPOINTS", failpoints)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{failpoints}: never crashed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "{failpoints}: expected an abort, got {status}:\n{log}"
    );
    log
}

/// (distinct ids, repeated lines); a repeated id must repeat the line.
fn dedupe(point: &str, events: &[Value]) -> (usize, usize) {
    let mut by_id: HashMap<&str, &Value> = HashMap::new();
    let mut duplicates = 0;
    for e in events {
        assert_contract(e);
        let id = e["id"].as_str().unwrap();
        match by_id.get(id) {
            Some(first) => {
                duplicates += 1;
                assert_eq!(*first, e, "{point}: same event id {id}, different content");
            }
            None => {
                by_id.insert(id, e);
            }
        }
    }
    (by_id.len(), duplicates)
}

/// The newest event of each changed record (event ids sort in commit
/// order) must be the mock's final state of it.
fn final_state_mismatches(
    mock: &MockApi,
    log: &[(u64, &str, String)],
    events: &[Value],
) -> Vec<String> {
    let mut last: BTreeMap<&str, (&str, &Value)> = BTreeMap::new();
    for e in events {
        let (id, rec) = (e["id"].as_str().unwrap(), e["recordId"].as_str().unwrap());
        if last.get(rec).is_none_or(|(seen, _)| *seen < id) {
            last.insert(rec, (id, e));
        }
    }
    let mut out = Vec::new();
    for (_, _, id) in log {
        let newest = last.get(id.as_str()).map(|(_, e)| *e);
        let ok = match (mock.get(DEALS, id), newest) {
            (Some(rec), Some(e)) => e["type"] != "deleted" && e["record"]["seq"] == rec["seq"],
            (None, Some(e)) => e["type"] == "deleted",
            (_, None) => false,
        };
        if !ok {
            out.push(format!(
                "{id}: final state not the newest event ({newest:?})"
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

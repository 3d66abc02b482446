//! Crash safety of `runtime run`: while the mock keeps changing data, the
//! binary is SIGKILLed at random moments and restarted on the same data
//! dir; a final clean run drains. Every change must reach the sink at least
//! once, and a duplicate may only be the same event (same id, same line).
//!
//! `RUNTIME_KILL_LOOPS` sets the number of kills (default 5; e.g. 30 for a
//! long soak).

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mock_api::MockApi;
use rand::Rng;
use serde_json::Value;
use support::*;

const DEALS: &str = "deals"; // custom-pull (delta feed)
const COMPANIES: &str = "companies"; // full-scan

#[test]
fn sigkill_at_random_moments_loses_no_change() {
    let loops: usize = std::env::var("RUNTIME_KILL_LOOPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mock = Arc::new(MockApi::start());
    mock.seed(DEALS, 10);
    mock.seed(COMPANIES, 10);
    let baseline_companies: HashSet<String> = mock.records(COMPANIES).iter().map(id_of).collect();
    let mut work = Work::new(demo_crm(), &mock.base_url(), &[DEALS, COMPANIES], None);
    assert!(work.once_ok().is_empty(), "baseline");

    // (collection, kind, id) of every change the mock made.
    let changes = Arc::new(Mutex::new(Vec::<(&str, &str, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let changer = {
        let (mock, changes, stop) = (mock.clone(), changes.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rng = rand::thread_rng();
            while !stop.load(Ordering::Relaxed) {
                let c = if rng.gen_bool(0.5) { DEALS } else { COMPANIES };
                if let Some((kind, record)) = mock.random_change(c) {
                    changes.lock().unwrap().push((c, kind, id_of(&record)));
                }
                std::thread::sleep(Duration::from_millis(rng.gen_range(5..40)));
            }
        })
    };

    let sink = work.tmp.path().join("events.jsonl");
    let mut args = work.run_args(&format!("file:{}", sink.display()));
    args.extend(["--interval".into(), "0.2".into()]);
    let mut rng = rand::thread_rng();
    for _ in 0..loops {
        let mut child = spawn(&args);
        std::thread::sleep(Duration::from_millis(rng.gen_range(100..=1500)));
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "runtime exited early:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        signal(&child, libc::SIGKILL);
        let _ = child.wait();
    }
    stop.store(true, Ordering::Relaxed);
    changer.join().unwrap();

    // The clean run: delivers the outbox and catches up in one cycle each.
    args.push("--once".into());
    let (code, _, stderr) = run_to_end(&args);
    assert_eq!(code, Some(0), "the clean run failed:\n{stderr}");

    let text = std::fs::read_to_string(&sink).unwrap_or_default();
    let torn = text
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_err())
        .count();
    let lines = read_events(&sink);
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    let mut duplicates = 0;
    for e in &lines {
        assert_contract(e);
        let id = e["id"].as_str().unwrap().to_string();
        match by_id.get(&id) {
            Some(first) => {
                duplicates += 1;
                assert_eq!(first, e, "same event id {id}, different content");
            }
            None => {
                by_id.insert(id, e.clone());
            }
        }
    }
    // Event ids sort in commit order within one data dir.
    let mut last: HashMap<(String, String), &Value> = HashMap::new();
    let mut seen_records: HashSet<(String, String)> = HashSet::new();
    for e in by_id.values() {
        let key = (
            e["collection"].as_str().unwrap().to_string(),
            e["recordId"].as_str().unwrap().to_string(),
        );
        seen_records.insert(key.clone());
        last.insert(key, e);
    }

    let changes = changes.lock().unwrap().clone();
    let mut lost = Vec::new();
    let touched: HashSet<(&str, &String)> = changes.iter().map(|(c, _, id)| (*c, id)).collect();
    for (c, id) in &touched {
        let key = (c.to_string(), id.to_string());
        let now = mock.get(c, id);
        let last_event = last.get(&key);
        let ok = match (&now, last_event) {
            // Live: the newest event carries the record's final version.
            (Some(rec), Some(e)) => e["type"] != "deleted" && e["record"]["seq"] == rec["seq"],
            (Some(_), None) => false,
            // Deleted: the newest event says so; a full scan may never have
            // seen a record created and deleted between two scans.
            (None, Some(e)) => e["type"] == "deleted",
            (None, None) => *c == COMPANIES && !baseline_companies.contains(*id),
        };
        if !ok {
            lost.push(format!("{c}/{id}: now {now:?}, last event {last_event:?}"));
        }
    }
    // The delta feed reports every created deal, even one deleted since.
    for (c, kind, id) in &changes {
        if *c == DEALS && *kind == "created" && !seen_records.contains(&(DEALS.into(), id.clone()))
        {
            lost.push(format!("created deal {id} never appeared"));
        }
    }
    println!(
        "durability: kills {loops}, mock changes {}, events {} ({} distinct), duplicates {duplicates}, torn lines {torn}, lost {}",
        changes.len(),
        lines.len(),
        by_id.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost changes:\n{}", lost.join("\n"));
    assert!(!changes.is_empty() && !by_id.is_empty());
}

//! The change oracle of the crash tests: a thread that keeps changing one
//! collection of the mock (recording each change's sequence number), and
//! checks that every change reached the sink, using the stored delta cursor
//! of demo-crm's custom-pull `deals` to tell what must already be there.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use mock_api::MockApi;
use rand::Rng;
use serde_json::Value;

use super::{id_of, read_events, Work};

/// (seq, kind, record id) of every change the mock made.
pub type ChangeLog = Arc<Mutex<Vec<(u64, &'static str, String)>>>;

/// Changes a random record of `collection` every 5–30 ms until `stop`.
pub fn start_changer(
    mock: &Arc<MockApi>,
    collection: &'static str,
    log: &ChangeLog,
    stop: &Arc<AtomicBool>,
) -> JoinHandle<()> {
    let (mock, log, stop) = (mock.clone(), log.clone(), stop.clone());
    std::thread::spawn(move || {
        let mut rng = rand::thread_rng();
        while !stop.load(Ordering::Relaxed) {
            if let Some((kind, record)) = mock.random_change(collection) {
                let seq = record["seq"].as_u64().expect("mock records carry seq");
                log.lock().unwrap().push((seq, kind, id_of(&record)));
            }
            std::thread::sleep(Duration::from_millis(rng.gen_range(5..30)));
        }
    })
}

/// What `runtime state show` says about one subscription.
pub struct Stored {
    /// The seq the delta feed was read up to (demo-crm's `deltaLink` token).
    pub cursor: u64,
    pub cycles: u64,
    pub last_error: Option<String>,
}

pub fn stored(work: &Work, collection: &str) -> Stored {
    let (code, out, err) = work.state("show");
    assert_eq!(code, Some(0), "state show failed:\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let sub = v["subscriptions"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["state"]["collection"] == collection))
        .unwrap_or_else(|| panic!("no {collection} subscription in {v}"))["state"]
        .clone();
    let link = sub["data"]["state"]["deltaLink"]
        .as_str()
        .unwrap_or_else(|| panic!("no deltaLink in {sub}"));
    let cursor = link
        .rsplit_once("token=")
        .and_then(|(_, t)| t.parse().ok())
        .unwrap_or_else(|| panic!("no token in {link}"));
    Stored {
        cursor,
        cycles: sub["cycles"].as_u64().unwrap(),
        last_error: sub["last_error"].as_str().map(str::to_string),
    }
}

pub fn read_all(sinks: &[PathBuf]) -> Vec<Value> {
    sinks.iter().flat_map(|s| read_events(s)).collect()
}

/// Changes (with seq <= `upto`, if given) that no event covers: an event of
/// that record with a `seq` at least the change's, or its delete. Up to a
/// cursor, a change may be folded into a later change of the same record
/// past the cursor, which the next delta reports.
pub fn missing(log: &[(u64, &str, String)], events: &[Value], upto: Option<u64>) -> Vec<String> {
    let mut newest: HashMap<&str, u64> = HashMap::new();
    let mut deleted: HashMap<&str, bool> = HashMap::new();
    for e in events {
        let id = e["recordId"].as_str().unwrap();
        if e["type"] == "deleted" {
            deleted.insert(id, true);
        } else if let Some(seq) = e["record"]["seq"].as_u64() {
            let n = newest.entry(id).or_default();
            *n = (*n).max(seq);
        }
    }
    let mut last_change: HashMap<&str, u64> = HashMap::new();
    for (seq, _, id) in log {
        let l = last_change.entry(id.as_str()).or_default();
        *l = (*l).max(*seq);
    }
    log.iter()
        .filter(|(seq, _, _)| upto.is_none_or(|t| *seq <= t))
        .filter(|(seq, _, id)| {
            let covered = deleted.contains_key(id.as_str())
                || newest.get(id.as_str()).is_some_and(|n| n >= seq);
            let folded = upto.is_some_and(|t| last_change[id.as_str()] > t);
            !covered && !folded
        })
        .map(|(seq, kind, id)| format!("change {seq} ({kind} {id}) not in the sink"))
        .collect()
}

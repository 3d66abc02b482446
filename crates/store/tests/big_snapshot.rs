//! Own test binary so VmHWM is this scan's peak, not a neighbour test's.

use std::time::Instant;

use runtime_store::{ChangeType, SledStore, SubscriptionState};
use serde_json::json;

/// `RUNTIME_STORE_BIG_RECORDS` raises it (e.g. to 1,000,000) to check that
/// the peak stays flat as the scan grows.
fn records() -> u64 {
    std::env::var("RUNTIME_STORE_BIG_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn record(i: u64, version: u64) -> serde_json::Value {
    json!({
        "id": format!("rec-{i:07}"),
        "name": format!("Record number {i}"),
        "email": format!("user{i}@example.com"),
        "version": version,
    })
}

fn fingerprint(i: u64, version: u64) -> [u8; 16] {
    let mut fp = [0u8; 16];
    fp[..8].copy_from_slice(&i.to_be_bytes());
    fp[8..].copy_from_slice(&version.to_be_bytes());
    fp
}

#[test]
fn two_hundred_thousand_records_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let total = records();
    let store = SledStore::open(dir.path()).unwrap();
    let sub = "big/records/all";
    let before = peak_rss_kib();
    let t = Instant::now();

    let mut w = store.snapshot_writer(sub, 1).unwrap();
    for i in 0..total {
        w.put(&format!("rec-{i:07}"), fingerprint(i, 0), &record(i, 0))
            .unwrap();
    }
    w.finish().unwrap();
    let mut st = SubscriptionState::new("big", "records", "all", "full-scan");
    st.snapshot_gen = Some(1);
    store.commit(sub, &st, vec![]).unwrap();
    store.retire_snapshot(sub, 1).unwrap();
    assert_eq!(store.snapshot_len(sub).unwrap(), total);
    let written = t.elapsed();

    // Gen 2: every 100th record gone, every 50th (not gone) changed, 1000 new.
    let t2 = Instant::now();
    let mut w = store.snapshot_writer(sub, 2).unwrap();
    for i in 0..total + 1000 {
        if i % 100 == 0 && i < total {
            continue;
        }
        let version = u64::from(i % 50 == 0 && i < total);
        w.put(
            &format!("rec-{i:07}"),
            fingerprint(i, version),
            &record(i, version),
        )
        .unwrap();
    }
    assert_eq!(
        w.staged(),
        total / 100 + 1000,
        "changed and new records only"
    );
    assert_eq!(
        w.finish().unwrap().changes,
        total / 50 + 1000,
        "and the unseen ones"
    );

    let (mut created, mut updated, mut deleted) = (0u64, 0u64, 0u64);
    for e in store.snapshot_diff(sub, 2).unwrap() {
        let e = e.unwrap();
        match e.change {
            ChangeType::Created => created += 1,
            ChangeType::Updated => {
                assert_eq!(e.record_value()["version"], 1);
                updated += 1
            }
            ChangeType::Deleted => {
                assert_eq!(
                    e.record_value()["version"],
                    0,
                    "deleted carries the last known record"
                );
                deleted += 1
            }
        }
    }
    assert_eq!(
        (created, updated, deleted),
        (1000, total / 100, total / 100)
    );
    st.snapshot_gen = Some(2);
    store.commit(sub, &st, vec![]).unwrap();
    let diffed = t2.elapsed();
    store.retire_snapshot(sub, 2).unwrap();
    assert_eq!(store.snapshot_len(sub).unwrap(), total - total / 100 + 1000);
    assert_eq!(
        store.snapshot_records_len(sub).unwrap(),
        total - total / 100 + 1000
    );
    let peak = peak_rss_kib();
    println!(
        "{total} records: gen 1 written in {:.1}s, gen 2 + diff in {:.1}s, retired in {:.1}s; \
         peak RSS (VmHWM) {} MiB, {} MiB before the scan",
        written.as_secs_f64(),
        diffed.as_secs_f64(),
        (t2.elapsed() - diffed).as_secs_f64(),
        peak / 1024,
        before / 1024
    );
    // Two generations of 200k records are ~60 MiB of JSON; the store's cache
    // is capped at 64 MiB, so a peak far above that means records are held.
    assert!(peak < 400 * 1024, "peak RSS {} MiB", peak / 1024);
}

//! `runtime run --once` with full-scan (and custom-pull) end to end against
//! the mock API: baselines, real changes, ignored volatile fields, and an
//! interrupted scan that must emit nothing and keep its snapshot.

mod support;

use mock_api::{Fault, MockApi};
use serde_json::{json, Value};
use support::*;

fn snapshot_gen(work: &Work, collection: &str) -> Option<u64> {
    let (code, stdout, stderr) = work.state("show");
    assert_eq!(code, Some(0), "state show failed:\n{stderr}");
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    let subs = shown["subscriptions"].as_array().unwrap();
    let sub = subs
        .iter()
        .find(|s| s["state"]["collection"] == collection)
        .unwrap_or_else(|| panic!("no {collection} subscription in {stdout}"));
    sub["state"]["snapshotGen"]
        .as_u64()
        .or_else(|| sub["state"]["snapshot_gen"].as_u64())
}

#[test]
fn full_scan_emits_real_changes_only() {
    let mock = MockApi::start();
    mock.seed("companies", 12);
    let mut work = Work::new(demo_crm(), &mock.base_url(), &["companies"], None);
    assert!(work.once_ok().is_empty(), "the first scan is the baseline");

    let ids: Vec<String> = mock.records("companies").iter().map(id_of).collect();
    let created = id_of(&mock.create("companies", json!({"name": "Initech"})));
    mock.update("companies", &ids[3], json!({"name": "Renamed"}))
        .unwrap();
    assert!(mock.delete("companies", &ids[7]));
    let events = work.once_ok();
    assert_eq!(
        summary(&events, "companies", "full-scan"),
        pairs(&[
            ("created", &created),
            ("updated", &ids[3]),
            ("deleted", &ids[7]),
        ])
    );
    let deleted = events.iter().find(|e| e["type"] == "deleted").unwrap();
    assert_eq!(
        deleted["record"]["id"],
        ids[7].as_str(),
        "the last known record"
    );
    assert!(work.once_ok().is_empty(), "a quiet cycle emits nothing");

    // An empty update still moves `seq` and `updatedTime`, both ignored.
    mock.update("companies", &ids[0], json!({})).unwrap();
    let before = mock.get("companies", &ids[0]).unwrap();
    assert!(work.once_ok().is_empty(), "only ignored fields changed");
    mock.update("companies", &ids[0], json!({"name": "Real change"}))
        .unwrap();
    let events = work.once_ok();
    assert_eq!(
        summary(&events, "companies", "full-scan"),
        pairs(&[("updated", &ids[0])])
    );
    assert_ne!(events[0]["record"]["seq"], before["seq"]);
}

#[test]
fn an_interrupted_scan_emits_nothing_and_keeps_its_snapshot() {
    let mock = MockApi::start();
    mock.seed("companies", 25);
    let mut work = Work::new(
        fixture_dir("run-scan"),
        &mock.base_url(),
        &["companies"],
        None,
    );
    assert!(work.once_ok().is_empty());
    let gen = snapshot_gen(&work, "companies");
    assert!(gen.is_some(), "the baseline stored a snapshot generation");

    let ids: Vec<String> = mock.records("companies").iter().map(id_of).collect();
    mock.update("companies", &ids[1], json!({"name": "Changed"}))
        .unwrap();
    // Page 1 is read, page 2 fails: a partial scan that lacks 15 records.
    mock.inject(
        "/echo/next-page",
        1,
        Fault::Status {
            code: 400,
            retry_after: None,
            body: None,
        },
    );
    let (code, events, stderr) = work.once();
    assert_ne!(code, Some(0), "a failed scan fails --once");
    assert!(
        stderr.contains("companies"),
        "names the collection: {stderr}"
    );
    assert!(events.is_empty(), "an interrupted scan emitted {events:?}");
    assert_eq!(snapshot_gen(&work, "companies"), gen, "snapshot switched");

    // The next good scan: the one real change, no false deletes.
    let events = work.once_ok();
    assert_eq!(
        summary(&events, "companies", "full-scan"),
        pairs(&[("updated", &ids[1])])
    );
}

#[test]
fn custom_pull_turns_the_delta_feed_into_events() {
    let mock = MockApi::start();
    mock.seed("deals", 15);
    let mut work = Work::new(demo_crm(), &mock.base_url(), &["deals"], None);
    assert!(work.once_ok().is_empty(), "subscribe is the baseline");

    let ids: Vec<String> = mock.records("deals").iter().map(id_of).collect();
    let created = id_of(&mock.create("deals", json!({"name": "Big deal"})));
    mock.update("deals", &ids[0], json!({"amount": 10}))
        .unwrap();
    assert!(mock.delete("deals", &ids[14]));
    let events = work.once_ok();
    assert_eq!(
        summary(&events, "deals", "custom-pull"),
        pairs(&[
            ("created", &created),
            ("updated", &ids[0]),
            ("deleted", &ids[14]),
        ])
    );
    assert!(work.once_ok().is_empty(), "a quiet cycle emits nothing");
}

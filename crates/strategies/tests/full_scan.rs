//! full-scan against the mock API: the baseline snapshot, the diff of the
//! next scans (created, updated, deleted with the last known record),
//! ignored fields, the generation switched only by the cycle's commit,
//! and the mass-delete guard.

mod common;

use common::*;
use mock_api::MockApi;
use runtime_events::ChangeType;
use runtime_strategies::{Kind, StrategyError};
use serde_json::json;

const LIST: &str = "export default async function list({ apiClient, cursor }) {\n  const r = await apiClient.get('/companies', { cursor, limit: 5 })\n  return { records: r.records, cursor: r.cursor }\n}\n";
const SPEC: &str =
    "name: Companies\nevents:\n  strategy: full-scan\n  ignoredFields: [updatedTime, seq]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_diff_against_the_committed_snapshot() {
    let mock = MockApi::start();
    mock.seed("companies", 12);
    let t = setup(
        &[
            ("data/companies/list.js", LIST),
            ("data/companies/spec.yml", SPEC),
        ],
        &mock.base_url(),
        "companies",
        Kind::FullScan,
    );
    assert!(t.cycle().await.is_empty(), "the baseline");
    assert_eq!(t.store.snapshot_len(&t.sub).await.unwrap(), 12);

    let ids: Vec<String> = mock.records("companies").iter().map(id_of).collect();
    let created = id_of(&mock.create("companies", json!({"name": "new"})));
    mock.update("companies", &ids[2], json!({"name": "renamed"}))
        .unwrap();
    let gone = mock.get("companies", &ids[5]).unwrap();
    assert!(mock.delete("companies", &ids[5]));
    // Only an ignored field moves: not a change.
    mock.update("companies", &ids[7], json!({})).unwrap();

    // Scanned but not committed: the next attempt compares against the
    // same snapshot and finds the same changes.
    let uncommitted = t.try_cycle().await.unwrap();
    let want = vec![
        (ChangeType::Created, created.clone()),
        (ChangeType::Updated, ids[2].clone()),
        (ChangeType::Deleted, ids[5].clone()),
    ];
    let mut want = want;
    want.sort();
    assert_eq!(changes(&uncommitted.events), want);
    let events = t.cycle().await;
    assert_eq!(changes(&events), want);
    let deleted = events
        .iter()
        .find(|e| e.change == ChangeType::Deleted)
        .unwrap();
    assert_eq!(deleted.record_value(), gone, "the last known record");
    assert!(t.cycle().await.is_empty(), "committed: nothing twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_deleting_most_of_the_snapshot_is_refused() {
    let mock = MockApi::start();
    mock.seed("companies", 20);
    let t = setup(
        &[("data/companies/list.js", LIST)],
        &mock.base_url(),
        "companies",
        Kind::FullScan,
    );
    t.cycle().await;
    let before = t.state().await;
    for r in mock.records("companies").iter().take(15) {
        mock.delete("companies", &id_of(r));
    }
    match t.try_cycle().await {
        Err(StrategyError::Limit { message, .. }) => {
            assert!(message.contains("would delete 15 of the 20"), "{message}")
        }
        other => panic!("a mass delete went through: {other:?}"),
    }
    assert_eq!(t.state().await, before);
    assert_eq!(
        t.store.snapshot_len(&t.sub).await.unwrap(),
        20,
        "snapshot kept"
    );
}

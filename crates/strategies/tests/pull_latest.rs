//! pull-latest-records against the mock API's newest-first feed: the
//! baseline stores a watermark and emits nothing; later cycles classify
//! created, updated and deleted records, dedupe records sharing the
//! watermark's time, and refuse pages that are not newest first.

mod common;

use common::*;
use mock_api::MockApi;
use runtime_events::ChangeType;
use runtime_strategies::{Kind, StrategyError};
use serde_json::json;

const LATEST: &str = "export default async function pullLatestRecords({ apiClient, cursor }) {\n  const r = await apiClient.get(cursor || '/contacts/latest?limit=4&includeDeleted=true')\n  return { records: r.records, cursor: r.nextPageLink }\n}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_then_created_updated_and_deleted() {
    let mock = MockApi::start();
    mock.seed("contacts", 6);
    let t = setup(
        &[("data/contacts/events/pull-latest-records.js", LATEST)],
        &mock.base_url(),
        "contacts",
        Kind::PullLatestRecords,
    );
    assert!(t.cycle().await.is_empty(), "the baseline emits nothing");
    let state = t.state().await;
    assert!(state.baseline_done);
    assert!(state.data["watermark"]["time"].is_i64(), "{}", state.data);

    let ids: Vec<String> = mock.records("contacts").iter().map(id_of).collect();
    let created: Vec<String> = (0..5)
        .map(|i| id_of(&mock.create("contacts", json!({"name": format!("n{i}")}))))
        .collect();
    mock.update("contacts", &ids[0], json!({"name": "renamed"}))
        .unwrap();
    assert!(mock.delete("contacts", &ids[1]));
    let events = t.cycle().await;
    let mut want: Vec<(ChangeType, String)> = created
        .iter()
        .map(|id| (ChangeType::Created, id.clone()))
        .collect();
    want.push((ChangeType::Updated, ids[0].clone()));
    want.push((ChangeType::Deleted, ids[1].clone()));
    want.sort();
    assert_eq!(changes(&events), want, "across two pages of 4");
    // Oldest first, so a consumer applying them in order ends up current.
    assert_eq!(events.last().unwrap().record_id, ids[1]);
    assert!(
        t.cycle().await.is_empty(),
        "nothing new: nothing emitted twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_sharing_the_watermark_time_are_neither_lost_nor_repeated() {
    let mock = MockApi::start();
    // Every change gets the same timestamp.
    mock.set_clock_step(0);
    mock.seed("contacts", 3);
    let t = setup(
        &[("data/contacts/events/pull-latest-records.js", LATEST)],
        &mock.base_url(),
        "contacts",
        Kind::PullLatestRecords,
    );
    assert!(t.cycle().await.is_empty());
    let late = id_of(&mock.create("contacts", json!({"name": "same second"})));
    assert_eq!(
        changes(&t.cycle().await),
        [(ChangeType::Created, late.clone())],
        "new at the watermark's exact time"
    );
    assert!(t.cycle().await.is_empty(), "and not again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_oldest_first_fail_and_leave_no_baseline() {
    let mock = MockApi::start();
    mock.seed("contacts", 6);
    let oldest_first = "export default async function pullLatestRecords({ apiClient, cursor }) {\n  const r = await apiClient.get('/contacts', { cursor, limit: 4 })\n  return { records: r.records, cursor: r.cursor }\n}\n";
    let t = setup(
        &[("data/contacts/events/pull-latest-records.js", oldest_first)],
        &mock.base_url(),
        "contacts",
        Kind::PullLatestRecords,
    );
    match t.try_cycle().await {
        Err(StrategyError::Shape { problem, .. }) => {
            assert!(problem.contains("not newest first"), "{problem}")
        }
        other => panic!("accepted pages oldest first: {other:?}"),
    }
    assert!(
        t.store.get(&t.sub).await.unwrap().is_none(),
        "nothing stored"
    );
}

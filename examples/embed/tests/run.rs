//! Keeps the embedding example true: `run` returns, in commit order, no
//! events for the baseline, then one `created`, then an `updated` and a
//! `deleted`, each a complete event line.

use runtime_store::{ChangeType, Sled, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_emits_each_type_once_after_the_baseline() {
    let data = tempfile::tempdir().unwrap();
    let events = embed_example::run(
        embed_example::example_connector(),
        embed_example::COLLECTION,
        data.path(),
    )
    .await
    .unwrap();
    let types: Vec<ChangeType> = events.iter().map(|e| e.change).collect();
    assert_eq!(
        types,
        [
            ChangeType::Created,
            ChangeType::Updated,
            ChangeType::Deleted
        ],
        "{events:#?}"
    );
    for e in &events {
        assert_eq!(e.connector, "example-pull-latest-records");
        assert_eq!(e.collection, "contacts");
        assert_eq!(e.strategy, "pull-latest-records");
        assert_eq!(e.record["id"].as_str(), Some(e.record_id.as_str()));
        assert!(!e.id.is_empty() && !e.emitted_at.is_empty());
    }
    assert_eq!(events[0].record["name"], "Ada Lovelace");
    assert_eq!(events[1].record["title"], "CTO");
    assert!(events[2].record["deletedTime"].is_string());

    // Everything was acknowledged: nothing left in the outbox.
    let store = Sled::open(data.path()).unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 0);
}

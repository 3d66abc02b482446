//! The store conformance suite: what the host and the strategies rely on,
//! asked through the [`Store`] interface only, so any implementation can
//! run it. Each check takes a function that opens the store under test in
//! a directory (reopening the same directory must give the same store: a
//! network store uses the directory to name its database); sled and
//! PostgreSQL (a real server started by the test, `test-servers`) run it
//! below.
//!
//! Kills of a real process mid-commit are in `crash.rs` (sled); here
//! "crash" is a store dropped with work unfinished and opened again.

use std::path::Path;
use std::sync::Arc;

use runtime_store::{
    sub_id, ChangeType, Claim, NewEvent, Postgres, RefreshedCredentials, Sled, Store, StoreError,
    SubscriptionState,
};
use serde_json::{json, Value};

type Open = fn(&Path) -> Arc<dyn Store>;

fn sled(dir: &Path) -> Arc<dyn Store> {
    Arc::new(Sled::open(dir).expect("open sled"))
}

/// Every check, on sled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_conforms() {
    commits_are_atomic_and_ids_stable(sled).await;
    the_outbox_keeps_commit_order_and_acks_are_idempotent(sled).await;
    snapshot_generations_switch_only_with_their_commit(sled).await;
    an_unfinished_scan_leaves_the_committed_snapshot(sled).await;
    reset_forgets_a_subscription_entirely(sled).await;
    a_store_belongs_to_one_connection(sled).await;
    refreshed_credentials_outlive_the_store(sled).await;
    connections_views_keep_apart(sled).await;
    forget_keeps_committed_events(sled).await;
    connection_records_round_trip(sled).await;
}

/// The PostgreSQL server of this test binary's one PostgreSQL test: the
/// `Open` functions are plain `fn`s, so they find it here.
static PG: std::sync::Mutex<Option<test_servers::PgServer>> = std::sync::Mutex::new(None);

/// Stops the server when the test ends, passed or not.
struct PgGuard;

impl Drop for PgGuard {
    fn drop(&mut self) {
        let server = PG.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(server);
    }
}

/// Opens the PostgreSQL store of the database named after `dir`, with the
/// cipher kept beside it when `sealed`.
fn postgres_in(dir: &Path, sealed: bool) -> Arc<dyn Store> {
    let url = {
        let guard = PG.lock().unwrap();
        guard
            .as_ref()
            .expect("the PostgreSQL server")
            .database_for(dir)
            .unwrap()
    };
    let store = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(Postgres::open(&url))
    })
    .unwrap_or_else(|e| panic!("open {url}: {e}"));
    Arc::new(if sealed {
        store.with_cipher(test_cipher(dir))
    } else {
        store
    })
}

fn postgres(dir: &Path) -> Arc<dyn Store> {
    postgres_in(dir, false)
}

/// Every check, on PostgreSQL, sealed and not; and nothing sealed is in
/// the clear in the database's tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conforms() {
    let Some(server) = test_servers::PgServer::start() else {
        return;
    };
    *PG.lock().unwrap() = Some(server);
    let _guard = PgGuard;
    commits_are_atomic_and_ids_stable(postgres).await;
    the_outbox_keeps_commit_order_and_acks_are_idempotent(postgres).await;
    snapshot_generations_switch_only_with_their_commit(postgres).await;
    an_unfinished_scan_leaves_the_committed_snapshot(postgres).await;
    reset_forgets_a_subscription_entirely(postgres).await;
    a_store_belongs_to_one_connection(postgres).await;
    refreshed_credentials_outlive_the_store(postgres).await;
    connections_views_keep_apart(postgres).await;
    forget_keeps_committed_events(postgres).await;
    connection_records_round_trip(postgres).await;

    fn sealed(dir: &Path) -> Arc<dyn Store> {
        postgres_in(dir, true)
    }
    refreshed_credentials_outlive_the_store(sealed).await;
    connection_records_round_trip(sealed).await;
    let dir = tempfile::tempdir().unwrap();
    let store = sealed(dir.path());
    store
        .save_connection_record(
            "c1",
            &json!({"credentials": {"apiKey": "plain-secret-4711"}}),
        )
        .await
        .unwrap();
    store
        .tenant("c1")
        .save_refreshed_credentials(RefreshedCredentials {
            given: "fp".into(),
            value: json!({"access_token": "plain-token-4712"}),
        })
        .await
        .unwrap();
    let url = PG
        .lock()
        .unwrap()
        .as_ref()
        .unwrap()
        .database_for(dir.path())
        .unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let dump: Vec<String> = sqlx::query_scalar(
        "SELECT encode(value, 'escape') FROM runtime_meta \
         UNION ALL SELECT encode(record, 'escape') FROM runtime_connections",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(dump.len() >= 2, "{dump:?}");
    for value in &dump {
        assert!(
            !value.contains("plain-secret-4711") && !value.contains("plain-token-4712"),
            "a secret in the clear: {value}"
        );
    }
    // Another key cannot open them, and says which value.
    let other = Postgres::open(&url)
        .await
        .unwrap()
        .with_cipher(runtime_secrets::Cipher::new(
            &runtime_secrets::SecretKey::random(),
        ));
    let err = other.connection_records().await.unwrap_err().to_string();
    assert!(err.contains("connection/c1"), "{err}");
    assert!(!err.contains("4711"), "{err}");
}

/// One key per directory, kept beside it: reopening must open.
fn test_cipher(dir: &Path) -> runtime_secrets::Cipher {
    let key_file = dir.join("test.key");
    let key = match std::fs::read_to_string(&key_file) {
        Ok(text) => runtime_secrets::SecretKey::parse(&text, "test key").unwrap(),
        Err(_) => {
            let key = runtime_secrets::SecretKey::random();
            std::fs::write(&key_file, key.to_hex()).unwrap();
            key
        }
    };
    runtime_secrets::Cipher::new(&key)
}

/// On sled with a cipher: the same checks, plus nothing sealed is in the
/// clear on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_sled_conforms() {
    fn sealed(dir: &Path) -> Arc<dyn Store> {
        Arc::new(
            Sled::open(&dir.join("db"))
                .unwrap()
                .with_cipher(test_cipher(dir)),
        )
    }
    refreshed_credentials_outlive_the_store(sealed).await;
    connection_records_round_trip(sealed).await;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = sealed(dir.path());
        let record = json!({"id": "c1", "credentials": {"apiKey": "plain-secret-4711"}});
        store.save_connection_record("c1", &record).await.unwrap();
        store
            .tenant("c1")
            .save_refreshed_credentials(RefreshedCredentials {
                given: "fp".into(),
                value: json!({"access_token": "plain-token-4712"}),
            })
            .await
            .unwrap();
    }
    for entry in walk(&dir.path().join("db")) {
        let bytes = std::fs::read(&entry).unwrap();
        for secret in [&b"plain-secret-4711"[..], b"plain-token-4712"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds a secret in the clear",
                entry.display()
            );
        }
    }
    // Another key cannot open them, and says which value.
    let other = runtime_secrets::Cipher::new(&runtime_secrets::SecretKey::random());
    let store = Sled::open(&dir.path().join("db"))
        .unwrap()
        .with_cipher(other);
    let err = store.connection_records().await.unwrap_err().to_string();
    assert!(err.contains("connection/c1"), "{err}");
    assert!(!err.contains("4711"), "{err}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Two connections' views of one store: their own states, ids and
/// credentials; their events in the one outbox, each line naming its
/// connection; the whole store's `list` sees neither.
pub async fn connections_views_keep_apart(open: Open) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = (store.tenant("tenant-a"), store.tenant("tenant-b"));
    let sub = sub_id("acme", "contacts", "all");
    a.commit(
        &sub,
        state(&sub, json!({"cursor": "a"})),
        vec![event(ChangeType::Created, "1")],
    )
    .await
    .unwrap();
    assert_eq!(b.get(&sub).await.unwrap(), None);
    b.commit(
        &sub,
        state(&sub, json!({"cursor": "b"})),
        vec![event(ChangeType::Created, "1")],
    )
    .await
    .unwrap();
    assert_eq!(
        a.get(&sub).await.unwrap().unwrap().data,
        json!({"cursor": "a"})
    );
    assert_eq!(
        b.get(&sub).await.unwrap().unwrap().data,
        json!({"cursor": "b"})
    );
    let listed: Vec<String> = a
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(listed, vec![sub.clone()]);
    assert!(store.list().await.unwrap().is_empty());
    let lines = store.pending_lines(10).await.unwrap();
    let connections: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(&l.json).unwrap()["connection"].clone())
        .collect();
    assert_eq!(connections, vec![json!("tenant-a"), json!("tenant-b")]);
    assert_ne!(lines[0].id, lines[1].id);
    assert_eq!(a.pending_count().await.unwrap(), 1);
    assert_eq!(a.pending_of(&sub).await.unwrap(), 1);
    assert_eq!(store.pending_count().await.unwrap(), 2);
    a.save_refreshed_credentials(RefreshedCredentials {
        given: "fp".into(),
        value: json!({"token": "a"}),
    })
    .await
    .unwrap();
    assert_eq!(b.refreshed_credentials().await.unwrap(), None);
    assert_eq!(store.refreshed_credentials().await.unwrap(), None);
    assert_eq!(a.connection().await.unwrap().as_deref(), Some("tenant-a"));
    assert!(a.claim_connection("tenant-b").await.is_err());
}

/// `forget` drops state and snapshots but not the committed events.
pub async fn forget_keeps_committed_events(open: Open) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).tenant("t");
    let sub = sub_id("acme", "contacts", "all");
    scan(store.as_ref(), &sub, 1, &[json!({"id": "1"})]).await;
    commit_gen(
        store.as_ref(),
        &sub,
        1,
        vec![event(ChangeType::Created, "1")],
    )
    .await;
    assert_eq!(store.snapshot_len(&sub).await.unwrap(), 1);
    store.forget(&sub).await.unwrap();
    assert_eq!(store.get(&sub).await.unwrap(), None);
    assert_eq!(store.snapshot_len(&sub).await.unwrap(), 0);
    assert_eq!(store.pending_of(&sub).await.unwrap(), 1);
}

pub async fn connection_records_round_trip(open: Open) {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        for id in ["b", "a"] {
            let record = json!({"id": id, "credentials": {"k": id}});
            store.save_connection_record(id, &record).await.unwrap();
        }
        store.delete_connection_record("b").await.unwrap();
        store.delete_connection_record("never-there").await.unwrap();
    }
    let store = open(dir.path());
    assert_eq!(
        store.connection_records().await.unwrap(),
        vec![(
            "a".to_string(),
            json!({"id": "a", "credentials": {"k": "a"}})
        )]
    );
}

fn state(sub: &str, data: Value) -> SubscriptionState {
    let mut parts = sub.split('/');
    let (c, col, scope) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut s = SubscriptionState::new(c, col, scope, "custom-pull");
    s.baseline_done = true;
    s.data = data;
    s
}

fn event(change: ChangeType, id: &str) -> NewEvent {
    NewEvent::new(change, id.to_string(), &json!({"id": id, "v": 1}))
}

async fn pending_ids(store: &dyn Store) -> Vec<String> {
    store
        .pending_lines(usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect()
}

pub async fn commits_are_atomic_and_ids_stable(open: Open) {
    let dir = tempfile::tempdir().unwrap();
    let sub = sub_id("acme", "deals", "all");
    let ids = {
        let store = open(dir.path());
        assert_eq!(store.get(&sub).await.unwrap(), None);
        let s = state(&sub, json!({"state": {"cursor": 1}}));
        let events = vec![
            event(ChangeType::Created, "a"),
            event(ChangeType::Updated, "b"),
        ];
        let ids = store.commit(&sub, s.clone(), events).await.unwrap();
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1]);
        // State and events are there together.
        assert_eq!(store.get(&sub).await.unwrap(), Some(s));
        assert_eq!(pending_ids(store.as_ref()).await, ids);
        ids
    };
    // Durable: the same state and the same ids after reopening.
    let store = open(dir.path());
    let back = store.get(&sub).await.unwrap().expect("state after reopen");
    assert_eq!(back.data, json!({"state": {"cursor": 1}}));
    assert_eq!(pending_ids(store.as_ref()).await, ids);
    let lines = store.pending_lines(10).await.unwrap();
    let first: Value = serde_json::from_str(&lines[0].json).unwrap();
    assert_eq!(first["recordId"], "a");
    assert_eq!(first["type"], "created");
    assert_eq!(first["strategy"], "custom-pull");
    assert_eq!(
        store.list().await.unwrap().len(),
        1,
        "one subscription listed"
    );
}

pub async fn the_outbox_keeps_commit_order_and_acks_are_idempotent(open: Open) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = (sub_id("acme", "a", "all"), sub_id("acme", "b", "all"));
    let mut all = Vec::new();
    for round in 0..3 {
        for sub in [&a, &b] {
            let events = (0..4)
                .map(|i| event(ChangeType::Updated, &format!("{sub}-{round}-{i}")))
                .collect();
            all.extend(
                store
                    .commit(sub, state(sub, json!({"round": round})), events)
                    .await
                    .unwrap(),
            );
        }
    }
    assert_eq!(pending_ids(store.as_ref()).await, all, "commit order");
    assert_eq!(store.pending_count().await.unwrap(), 24);
    // A page, acknowledged twice, plus ids the store never had.
    let page: Vec<String> = store
        .pending_lines(10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(page, all[..10]);
    store.ack(page.clone()).await.unwrap();
    store.ack(page).await.unwrap();
    store.ack(vec!["never-issued".into()]).await.unwrap();
    assert_eq!(pending_ids(store.as_ref()).await, all[10..]);
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        pending_ids(store.as_ref()).await,
        all[10..],
        "acks are durable"
    );
    store.ack(all.clone()).await.unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 0);
}

/// Writes generation `gen` of `sub` with `records`; returns the diff.
async fn scan(store: &dyn Store, sub: &str, gen: u64, records: &[Value]) -> Vec<NewEvent> {
    let mut w = store.snapshot_writer(sub, gen).await.unwrap();
    for r in records {
        let id = r["id"].as_str().unwrap();
        let fp = xxhash_rust::xxh3::xxh3_128(r.to_string().as_bytes()).to_le_bytes();
        w.put(id, fp, r).unwrap();
    }
    w.finish().unwrap();
    store.snapshot_diff(sub, gen).await.unwrap()
}

async fn commit_gen(store: &dyn Store, sub: &str, gen: u64, events: Vec<NewEvent>) {
    let mut s = state(sub, Value::Null);
    s.strategy = "full-scan".into();
    s.snapshot_gen = Some(gen);
    store.commit(sub, s, events).await.unwrap();
}

fn changes(events: &[NewEvent]) -> Vec<(ChangeType, String)> {
    let mut v: Vec<_> = events
        .iter()
        .map(|e| (e.change, e.record_id.clone()))
        .collect();
    v.sort();
    v
}

pub async fn snapshot_generations_switch_only_with_their_commit(open: Open) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let sub = sub_id("acme", "files", "all");
    let one: Vec<Value> = (0..5)
        .map(|i| json!({"id": format!("r{i}"), "v": 1}))
        .collect();
    scan(store.as_ref(), &sub, 1, &one).await;
    commit_gen(store.as_ref(), &sub, 1, Vec::new()).await;
    assert_eq!(store.snapshot_len(&sub).await.unwrap(), 5);

    // r1 changed, r4 gone, r9 new.
    let mut two = one.clone();
    two[1] = json!({"id": "r1", "v": 2});
    two.remove(4);
    two.push(json!({"id": "r9", "v": 1}));
    let diff = scan(store.as_ref(), &sub, 2, &two).await;
    assert_eq!(
        changes(&diff),
        [
            (ChangeType::Created, "r9".to_string()),
            (ChangeType::Updated, "r1".to_string()),
            (ChangeType::Deleted, "r4".to_string()),
        ]
    );
    let deleted = diff
        .iter()
        .find(|e| e.change == ChangeType::Deleted)
        .unwrap();
    assert_eq!(deleted.record_value(), one[4], "the last known record");
    // Not committed yet: generation 1 is still the one compared against.
    assert_eq!(store.snapshot_len(&sub).await.unwrap(), 5);
    commit_gen(store.as_ref(), &sub, 2, diff).await;
    assert_eq!(store.snapshot_len(&sub).await.unwrap(), 5, "r4 out, r9 in");

    // The committed generation cannot be rewritten.
    assert!(matches!(
        store.snapshot_writer(&sub, 2).await.err(),
        Some(StoreError::CommittedSnapshot { .. })
    ));
    // The next scan diffs against generation 2.
    assert!(scan(store.as_ref(), &sub, 3, &two).await.is_empty());
}

pub async fn an_unfinished_scan_leaves_the_committed_snapshot(open: Open) {
    let dir = tempfile::tempdir().unwrap();
    let sub = sub_id("acme", "files", "all");
    let one: Vec<Value> = (0..4)
        .map(|i| json!({"id": format!("r{i}"), "v": 1}))
        .collect();
    {
        let store = open(dir.path());
        scan(store.as_ref(), &sub, 1, &one).await;
        commit_gen(store.as_ref(), &sub, 1, Vec::new()).await;
        // Generation 2 half written, then the process is gone.
        let mut w = store.snapshot_writer(&sub, 2).await.unwrap();
        w.put("r0", [7; 16], &json!({"id": "r0", "v": 9})).unwrap();
    }
    let store = open(dir.path());
    assert_eq!(
        store.get(&sub).await.unwrap().unwrap().snapshot_gen,
        Some(1)
    );
    // A failed scan is dropped; the retried one sees exactly the change.
    let mut changed = one.clone();
    changed[2] = json!({"id": "r2", "v": 2});
    let mut w = store.snapshot_writer(&sub, 2).await.unwrap();
    w.put("zz", [1; 16], &json!({"id": "zz"})).unwrap();
    drop(w);
    store.drop_snapshot(&sub, 2).await.unwrap();
    let diff = scan(store.as_ref(), &sub, 2, &changed).await;
    assert_eq!(changes(&diff), [(ChangeType::Updated, "r2".to_string())]);
}

pub async fn reset_forgets_a_subscription_entirely(open: Open) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (gone, kept) = (sub_id("acme", "a", "all"), sub_id("acme", "b", "all"));
    let recs = [json!({"id": "x"})];
    scan(store.as_ref(), &gone, 1, &recs).await;
    commit_gen(
        store.as_ref(),
        &gone,
        1,
        vec![event(ChangeType::Created, "x")],
    )
    .await;
    let kept_ids = store
        .commit(
            &kept,
            state(&kept, json!({})),
            vec![event(ChangeType::Created, "y")],
        )
        .await
        .unwrap();
    store.reset(&gone).await.unwrap();
    assert_eq!(store.get(&gone).await.unwrap(), None);
    assert_eq!(store.snapshot_len(&gone).await.unwrap(), 0);
    assert_eq!(
        pending_ids(store.as_ref()).await,
        kept_ids,
        "its events too"
    );
    // A new baseline starts from nothing.
    assert!(scan(store.as_ref(), &gone, 1, &recs).await.is_empty());
}

pub async fn a_store_belongs_to_one_connection(open: Open) {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        assert_eq!(store.connection().await.unwrap(), None);
        assert_eq!(
            store.claim_connection("customer-1").await.unwrap(),
            Claim::New
        );
        assert_eq!(
            store.claim_connection("customer-1").await.unwrap(),
            Claim::Same
        );
    }
    let store = open(dir.path());
    assert_eq!(
        store.connection().await.unwrap().as_deref(),
        Some("customer-1")
    );
    match store.claim_connection("customer-2").await {
        Err(StoreError::OtherConnection { owner, .. }) => assert_eq!(owner, "customer-1"),
        other => panic!("another connection was let in: {other:?}"),
    }
}

pub async fn refreshed_credentials_outlive_the_store(open: Open) {
    let dir = tempfile::tempdir().unwrap();
    let first = RefreshedCredentials {
        given: "fp-1".into(),
        value: json!({"access_token": "a1", "refresh_token": "r1"}),
    };
    let second = RefreshedCredentials {
        given: "fp-1".into(),
        value: json!({"access_token": "a2", "refresh_token": "r2", "realmId": 9}),
    };
    {
        let store = open(dir.path());
        assert_eq!(store.refreshed_credentials().await.unwrap(), None);
        store.save_refreshed_credentials(first).await.unwrap();
        store
            .save_refreshed_credentials(second.clone())
            .await
            .unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.refreshed_credentials().await.unwrap(), Some(second));
}

/// State written before data dirs recorded `data` still reads: each
/// strategy's old header fields land in `data` under their own names.
#[test]
fn old_state_fields_move_into_data() {
    let old = json!({
        "connector": "acme", "collection": "t", "scope": "all", "strategy": "webhook",
        "baseline_done": true, "state": {"hookId": "h1"}, "next_refresh": "2030-01-01T00:00:00Z",
        "cycles": 3
    });
    let s: SubscriptionState = serde_json::from_value(old).unwrap();
    assert_eq!(
        s.data,
        json!({"state": {"hookId": "h1"}, "next_refresh": "2030-01-01T00:00:00Z"})
    );
    assert_eq!(s.cycles, 3);
    let again: SubscriptionState =
        serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(again, s, "the new form reads back as itself");
}

use runtime_store::{ChangeType, NewEvent, SledStore, StoreError, SubscriptionState};
use serde_json::{json, Value};

fn fp(v: &Value) -> [u8; 16] {
    // Not a real hash, only distinct per content for these small records.
    let s = v.to_string();
    let mut out = [0u8; 16];
    for (i, b) in s.bytes().enumerate() {
        out[i % 16] = out[i % 16].wrapping_mul(31).wrapping_add(b);
    }
    out
}

/// Writes scan generation `gen`; returns how many changes it staged.
fn write(store: &SledStore, sub: &str, gen: u64, records: &[Value]) -> u64 {
    let mut w = store.snapshot_writer(sub, gen).unwrap();
    for r in records {
        w.put(r["id"].as_str().unwrap(), fp(r), r).unwrap();
    }
    w.finish().unwrap().changes
}

fn diff(store: &SledStore, sub: &str, gen: u64) -> Vec<NewEvent> {
    store
        .snapshot_diff(sub, gen)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// Commits `gen` as the current generation and retires it, as the host does.
fn commit(store: &SledStore, sub: &str, gen: u64) {
    let mut st = store
        .get(sub)
        .unwrap()
        .unwrap_or_else(|| SubscriptionState::new("acme", "files", "all", "full-scan"));
    st.snapshot_gen = Some(gen);
    store.commit(sub, &st, vec![]).unwrap();
    store.retire_snapshot(sub, gen).unwrap();
}

/// One whole scan: write, diff, commit, retire.
fn scan(store: &SledStore, sub: &str, gen: u64, records: &[Value]) -> Vec<NewEvent> {
    write(store, sub, gen, records);
    let events = diff(store, sub, gen);
    commit(store, sub, gen);
    events
}

#[test]
fn diff_against_the_committed_snapshot_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let sub = "acme/files/all";
    let old = [
        json!({"id": "a", "v": 1}),
        json!({"id": "b", "v": 1}),
        json!({"id": "c", "v": 1}),
        json!({"id": "e", "v": 1}),
    ];
    let new = [
        json!({"id": "b", "v": 2}),
        json!({"id": "c", "v": 1}),
        json!({"id": "d", "v": 1}),
        json!({"id": "f", "v": 1}),
    ];
    assert_eq!(
        write(&store, sub, 1, &old),
        4,
        "a baseline keeps every record"
    );
    commit(&store, sub, 1);
    assert_eq!(store.snapshot_len(sub).unwrap(), 4);
    let got: Vec<(ChangeType, String, Value)> = scan(&store, sub, 2, &new)
        .into_iter()
        .map(|e| (e.change, e.record_id.clone(), e.record_value()))
        .collect();
    assert_eq!(
        got,
        vec![
            (ChangeType::Deleted, "a".into(), json!({"id": "a", "v": 1})),
            (ChangeType::Updated, "b".into(), json!({"id": "b", "v": 2})),
            (ChangeType::Created, "d".into(), json!({"id": "d", "v": 1})),
            (ChangeType::Deleted, "e".into(), json!({"id": "e", "v": 1})),
            (ChangeType::Created, "f".into(), json!({"id": "f", "v": 1})),
        ]
    );
    assert_eq!(store.snapshot_len(sub).unwrap(), 4, "b c d f");
    assert_eq!(store.snapshot_records_len(sub).unwrap(), 4);
    assert!(scan(&store, sub, 3, &new).is_empty(), "nothing changed");
    // An empty scan deletes everything, each with its last known record.
    let gone = scan(&store, sub, 4, &[]);
    assert_eq!(gone.len(), 4);
    assert!(gone.iter().all(|e| e.change == ChangeType::Deleted));
    assert_eq!(
        gone[0].record_value(),
        json!({"id": "b", "v": 2}),
        "the updated version"
    );
    assert_eq!(store.snapshot_len(sub).unwrap(), 0);
    assert_eq!(store.snapshot_records_len(sub).unwrap(), 0);
}

#[test]
fn only_changes_are_written_after_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let sub = "acme/files/all";
    let all: Vec<Value> = (0..3000)
        .map(|i| json!({"id": format!("r{i:05}"), "v": 1}))
        .collect();
    scan(&store, sub, 1, &all);
    let mut w = store.snapshot_writer(sub, 2).unwrap();
    for (i, r) in all.iter().enumerate().filter(|(i, _)| i % 1000 != 3) {
        let r = if i % 100 == 7 {
            json!({"id": r["id"], "v": 2})
        } else {
            r.clone()
        };
        w.put(r["id"].as_str().unwrap(), fp(&r), &r).unwrap();
    }
    assert_eq!(w.puts(), 2997);
    assert_eq!(w.staged(), 30, "only the changed records are written");
    let finished = w.finish().unwrap();
    assert_eq!(finished.changes, 33, "and the 3 unseen ones");
    assert_eq!((finished.deleted, finished.previous), (3, 3000));
    let d = diff(&store, sub, 2);
    assert_eq!(
        d.iter()
            .filter(|e| e.change == ChangeType::Updated && e.record_value()["v"] == 2)
            .count(),
        30
    );
    assert_eq!(
        d.iter()
            .filter(|e| e.change == ChangeType::Deleted && e.record_value()["v"] == 1)
            .count(),
        3
    );
}

#[test]
fn duplicates_last_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let sub = "acme/files/all";
    let mut w = store.snapshot_writer(sub, 1).unwrap();
    // One duplicate inside a batch, one across a batch boundary.
    w.put("x", [1; 16], &json!({"id": "x", "v": 1})).unwrap();
    w.put("x", [2; 16], &json!({"id": "x", "v": 2})).unwrap();
    for i in 0..1500 {
        w.put(&format!("r{i:05}"), [0; 16], &json!({"id": i}))
            .unwrap();
    }
    w.put("r00001", [3; 16], &json!({"id": "again"})).unwrap();
    assert_eq!(w.puts(), 1503);
    w.finish().unwrap();
    commit(&store, sub, 1);
    assert_eq!(store.snapshot_len(sub).unwrap(), 1501, "two duplicates");
    // Seen twice, changed then back to the committed version: no change.
    let mut w = store.snapshot_writer(sub, 2).unwrap();
    w.put("x", [9; 16], &json!({"id": "x", "v": 9})).unwrap();
    w.put("x", [2; 16], &json!({"id": "x", "v": 2})).unwrap();
    w.finish().unwrap();
    let d = diff(&store, sub, 2);
    assert_eq!(d.len(), 1500, "x unchanged; the rest deleted");
    assert!(d
        .iter()
        .any(|e| e.record_id == "r00001" && e.record_value() == json!({"id": "again"})));
}

#[test]
fn writer_clears_leftovers_and_reset_and_reopen_drop_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let sub = "acme/files/all";
    {
        let store = SledStore::open(dir.path()).unwrap();
        write(&store, sub, 1, &[json!({"id": "a"}), json!({"id": "b"})]);
        // A rewrite of the same generation starts empty.
        assert_eq!(write(&store, sub, 1, &[json!({"id": "c"})]), 1);
        commit(&store, sub, 1);
        assert_eq!(store.snapshot_len(sub).unwrap(), 1);
        let err = store.snapshot_writer(sub, 1).err().expect("committed gen");
        assert!(
            matches!(err, StoreError::CommittedSnapshot { gen: 1, .. }),
            "{err}"
        );
        // Gen 2 is an interrupted scan: never committed.
        write(&store, sub, 2, &[json!({"id": "d"})]);
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        store.snapshot_len(sub).unwrap(),
        1,
        "committed snapshot kept"
    );
    assert_eq!(store.snapshot_records_len(sub).unwrap(), 1);
    assert!(
        !store.snapshot_changes_exist(sub, 2).unwrap(),
        "orphan dropped on open"
    );
    assert!(
        store.snapshot_diff(sub, 2).is_err(),
        "missing scan is an error"
    );

    scan(&store, "other/x/all", 5, &[json!({"id": "z"})]);
    store.reset(sub).unwrap();
    assert_eq!(store.snapshot_len(sub).unwrap(), 0);
    assert_eq!(store.snapshot_records_len(sub).unwrap(), 0);
    assert_eq!(store.snapshot_len("other/x/all").unwrap(), 1);
    write(&store, "other/x/all", 6, &[]);
    store.drop_snapshot("other/x/all", 6).unwrap();
    assert!(!store.snapshot_changes_exist("other/x/all", 6).unwrap());
    assert_eq!(
        store.snapshot_len("other/x/all").unwrap(),
        1,
        "a failed scan changes nothing"
    );
}

#[test]
fn a_retire_cut_short_by_a_kill_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let sub = "acme/files/all";
    {
        let store = SledStore::open(dir.path()).unwrap();
        scan(&store, sub, 1, &[json!({"id": "a"}), json!({"id": "b"})]);
        write(
            &store,
            sub,
            2,
            &[json!({"id": "b", "v": 2}), json!({"id": "c"})],
        );
        let mut st = store.get(sub).unwrap().unwrap();
        st.snapshot_gen = Some(2);
        store.commit(sub, &st, vec![]).unwrap();
        // Killed here: committed, not retired.
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert!(
        !store.snapshot_changes_exist(sub, 2).unwrap(),
        "retired on open"
    );
    assert_eq!(store.snapshot_len(sub).unwrap(), 2);
    assert_eq!(
        store.snapshot_records_len(sub).unwrap(),
        2,
        "a removed, c added"
    );
    let gone: Vec<Value> = scan(&store, sub, 3, &[])
        .into_iter()
        .map(|e| e.record_value())
        .collect();
    assert_eq!(gone, vec![json!({"id": "b", "v": 2}), json!({"id": "c"})]);
}

#[test]
fn a_generation_of_the_old_layout_is_converted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let sub = "acme/files/all";
    {
        let store = SledStore::open(dir.path()).unwrap();
        let mut st = SubscriptionState::new("acme", "files", "all", "full-scan");
        st.snapshot_gen = Some(4);
        st.baseline_done = true;
        store.commit(sub, &st, vec![]).unwrap();
    }
    {
        // Before records were kept apart: `snap\0<sub>\0<gen>`, id ->
        // fingerprint + record JSON; plus an uncommitted generation.
        let db = sled::open(dir.path()).unwrap();
        for (gen, ids) in [(4, ["a", "b"]), (5, ["a", "c"])] {
            let tree = db.open_tree(format!("snap\0{sub}\0{gen}")).unwrap();
            for id in ids {
                let record = json!({"id": id, "v": 1});
                let mut value = fp(&record).to_vec();
                value.extend_from_slice(record.to_string().as_bytes());
                tree.insert(id, value).unwrap();
            }
        }
        db.flush().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.snapshot_len(sub).unwrap(), 2);
    assert_eq!(store.snapshot_records_len(sub).unwrap(), 2);
    let gone = scan(&store, sub, 5, &[json!({"id": "a", "v": 1})]);
    assert_eq!(gone.len(), 1, "a unchanged, b gone");
    assert_eq!(gone[0].change, ChangeType::Deleted);
    assert_eq!(
        gone[0].record_value(),
        json!({"id": "b", "v": 1}),
        "its converted record"
    );
    let names: Vec<String> = sled::Db::tree_names(&store_db(dir.path(), store))
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .filter(|n| n.starts_with("snap\0"))
        .collect();
    assert!(names.is_empty(), "old trees dropped: {names:?}");
}

/// Reopens the raw database once `store` is closed.
fn store_db(dir: &std::path::Path, store: SledStore) -> sled::Db {
    drop(store);
    for _ in 0..100 {
        if let Ok(db) = sled::open(dir) {
            return db;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the store's lock was never released");
}

use runtime_store::{ChangeType, NewEvent, SledStore, StateStore, StoreError, SubscriptionState};
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

fn write(store: &SledStore, sub: &str, gen: u64, records: &[Value]) -> u64 {
    let mut w = store.snapshot_writer(sub, gen).unwrap();
    for r in records {
        w.put(r["id"].as_str().unwrap(), fp(r), r).unwrap();
    }
    w.finish().unwrap()
}

fn diff(store: &SledStore, sub: &str, old: Option<u64>, new: u64) -> Vec<NewEvent> {
    store
        .snapshot_diff(sub, old, new)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn diff_of_two_generations_is_exact() {
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
    assert_eq!(write(&store, sub, 1, &old), 4);
    assert!(
        diff(&store, sub, None, 1).is_empty(),
        "baseline emits nothing"
    );
    assert_eq!(write(&store, sub, 2, &new), 4);
    let got: Vec<(ChangeType, String, Value)> = diff(&store, sub, Some(1), 2)
        .into_iter()
        .map(|e| (e.change, e.record_id, e.record))
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
    // Empty old side: everything is created; empty new side: everything deleted.
    write(&store, sub, 3, &[]);
    assert_eq!(diff(&store, sub, Some(3), 2).len(), 4);
    assert!(diff(&store, sub, Some(2), 3)
        .iter()
        .all(|e| e.change == ChangeType::Deleted));
}

#[test]
fn duplicates_last_wins_and_are_counted() {
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
    assert_eq!(w.finish().unwrap(), 1501, "two duplicates");
    assert_eq!(store.snapshot_len(sub, 1).unwrap(), 1501);
    let mut w = store.snapshot_writer(sub, 2).unwrap();
    w.put("x", [2; 16], &json!({"id": "x", "v": 2})).unwrap();
    w.finish().unwrap();
    let d = diff(&store, sub, Some(1), 2);
    assert_eq!(d.len(), 1500, "x unchanged; the rest deleted");
    assert!(d
        .iter()
        .any(|e| e.record_id == "r00001" && e.record == json!({"id": "again"})));
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
        assert_eq!(store.snapshot_len(sub, 1).unwrap(), 1);

        let mut st = SubscriptionState::new("acme", "files", "all", "full-scan");
        st.snapshot_gen = Some(1);
        store.commit(sub, &st, vec![]).unwrap();
        let err = store.snapshot_writer(sub, 1).err().expect("committed gen");
        assert!(
            matches!(err, StoreError::CommittedSnapshot { gen: 1, .. }),
            "{err}"
        );
        // Gen 2 is an interrupted scan: never committed.
        write(&store, sub, 2, &[json!({"id": "d"})]);
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.snapshot_len(sub, 1).unwrap(), 1, "committed gen kept");
    assert_eq!(
        store.snapshot_len(sub, 2).unwrap(),
        0,
        "orphan dropped on open"
    );
    assert!(
        store.snapshot_diff(sub, Some(1), 2).is_err(),
        "missing gen is an error"
    );

    write(&store, "other/x/all", 5, &[json!({"id": "z"})]);
    store.reset(sub).unwrap();
    assert_eq!(store.snapshot_len(sub, 1).unwrap(), 0);
    assert_eq!(store.snapshot_len("other/x/all", 5).unwrap(), 1);
    store.drop_snapshot("other/x/all", 5).unwrap();
    assert_eq!(store.snapshot_len("other/x/all", 5).unwrap(), 0);
}

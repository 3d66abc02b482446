use runtime_store::{sub_id, ChangeType, NewEvent, SledStore, StoreError, SubscriptionState};
use serde_json::json;

fn ev(change: ChangeType, id: &str) -> NewEvent {
    NewEvent::new(
        change,
        id.into(),
        &json!({"id": id, "name": format!("n{id}")}),
    )
}

/// The ids of the first 10 pending events.
fn pending_ids(store: &SledStore) -> Vec<String> {
    store
        .pending(10)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

fn state(collection: &str, cycles: u64) -> SubscriptionState {
    let mut s = SubscriptionState::new("acme", collection, "all", "custom-pull");
    s.cycles = cycles;
    s.baseline_done = cycles > 0;
    s.data = json!({"cursor": cycles});
    s
}

#[test]
fn commit_get_list_reset_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let a = sub_id("acme", "contacts", "all");
    let b = sub_id("acme", "deals", "all");
    assert_eq!(a, "acme/contacts/all");
    assert_eq!(store.get(&a).unwrap(), None);

    store.commit(&a, &state("contacts", 1), vec![]).unwrap();
    store
        .commit(&b, &state("deals", 3), vec![ev(ChangeType::Created, "1")])
        .unwrap();
    store
        .commit(
            &a,
            &state("contacts", 2),
            vec![ev(ChangeType::Updated, "9")],
        )
        .unwrap();
    assert_eq!(store.get(&a).unwrap(), Some(state("contacts", 2)));
    let listed = store.list().unwrap();
    assert_eq!(
        listed,
        vec![
            (a.clone(), state("contacts", 2)),
            (b.clone(), state("deals", 3))
        ]
    );
    assert_eq!(store.pending_count().unwrap(), 2);

    store.reset(&a).unwrap();
    assert_eq!(store.get(&a).unwrap(), None);
    let left = store.pending(10).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].collection, "deals");
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn pending_survives_reopen_in_order_with_same_ids() {
    let dir = tempfile::tempdir().unwrap();
    let sub = sub_id("acme", "contacts", "all");
    let (ids, committed) = {
        let store = SledStore::open(dir.path()).unwrap();
        let mut ids = store
            .commit(
                &sub,
                &state("contacts", 1),
                vec![ev(ChangeType::Created, "1"), ev(ChangeType::Updated, "2")],
            )
            .unwrap();
        ids.extend(
            store
                .commit(
                    &sub,
                    &state("contacts", 2),
                    vec![ev(ChangeType::Deleted, "3")],
                )
                .unwrap(),
        );
        (ids, store.pending(100).unwrap())
    };
    assert_eq!(committed.len(), 3);
    assert_eq!(
        committed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        ids,
        "commit returns the ids of what it stored"
    );
    let e = &committed[0];
    assert_eq!(
        (
            e.connector.as_str(),
            e.collection.as_str(),
            e.strategy.as_str()
        ),
        ("acme", "contacts", "custom-pull")
    );
    assert_eq!(e.change, ChangeType::Created);
    assert_eq!(e.record, json!({"id": "1", "name": "n1"}));
    assert_eq!(e.emitted_at.len(), 24, "{}", e.emitted_at);
    assert!(e.emitted_at.ends_with('Z'));

    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.pending(100).unwrap(), committed);
    assert_eq!(store.pending(2).unwrap(), committed[..2]);
    assert!(committed
        .iter()
        .all(|e| e.id.starts_with(store.instance_id())));

    // Ids keep counting after a reopen: never reused.
    let more = store
        .commit(
            &sub,
            &state("contacts", 3),
            vec![ev(ChangeType::Created, "4")],
        )
        .unwrap();
    assert!(ids.iter().all(|id| *id < more[0]));
    assert_eq!(store.get(&sub).unwrap(), Some(state("contacts", 3)));
}

#[test]
fn ack_removes_durably_and_ignores_unknown_ids() {
    let dir = tempfile::tempdir().unwrap();
    let sub = sub_id("acme", "contacts", "all");
    let events = {
        let store = SledStore::open(dir.path()).unwrap();
        let events = store
            .commit(
                &sub,
                &state("contacts", 1),
                (0..5)
                    .map(|i| ev(ChangeType::Created, &i.to_string()))
                    .collect(),
            )
            .unwrap();
        let acked = vec![
            events[0].clone(),
            events[2].clone(),
            "bogus-1".into(),
            "x".into(),
        ];
        store.ack(&acked).unwrap();
        store.ack(&acked).unwrap();
        assert_eq!(store.pending_count().unwrap(), 3);
        events
    };
    let store = SledStore::open(dir.path()).unwrap();
    let ids = pending_ids(&store);
    assert_eq!(
        ids,
        [events[1].clone(), events[3].clone(), events[4].clone()]
    );
}

#[test]
fn second_open_of_a_dir_in_use_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledStore::open(dir.path()).unwrap();
    let err = SledStore::open(dir.path())
        .err()
        .expect("second open must fail");
    assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("in use"), "{msg}");
}

#[test]
fn open_error_names_the_dir() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = SledStore::open(&file.join("data"))
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn concurrent_commits_share_flushes_and_all_reach_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let sub = sub_id("acme", &format!("w{w}"), "all");
                        let id = format!("{w}-{i}");
                        store
                            .commit(
                                &sub,
                                &state(&format!("w{w}"), i),
                                vec![ev(ChangeType::Created, &id)],
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        // Every returned commit is deliverable: it was covered by a flush.
        assert_eq!(store.pending(1000).unwrap().len(), 200);
    }
    let store = SledStore::open(dir.path()).unwrap();
    let mut ids: Vec<String> = store
        .pending(1000)
        .unwrap()
        .into_iter()
        .map(|e| e.record_id)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);
}

#[test]
fn events_of_a_commit_killed_before_its_commit_point_are_dropped_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        let events = (0..3)
            .map(|i| ev(ChangeType::Created, &format!("a{i}")))
            .collect();
        store
            .commit("crm/deals/all", &state("deals", 1), events)
            .unwrap();
    }
    {
        // What a commit of 5 events killed between writing them and its
        // commit point leaves: outbox entries past next_seq (3).
        let db = sled::open(dir.path()).unwrap();
        let outbox = db.open_tree("outbox").unwrap();
        for seq in 3u64..8 {
            outbox
                .insert(seq.to_be_bytes(), b"{\"not\": \"an entry\"}".as_slice())
                .unwrap();
        }
        db.flush().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.pending_count().unwrap(), 3, "leftovers dropped");
    store
        .commit(
            "crm/deals/all",
            &state("deals", 2),
            vec![ev(ChangeType::Updated, "b")],
        )
        .unwrap();
    let pending = store.pending(100).unwrap();
    let ids: Vec<&str> = pending.iter().map(|e| e.record_id.as_str()).collect();
    assert_eq!(ids, ["a0", "a1", "a2", "b"]);
}

#[test]
fn a_large_commit_is_one_unit() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    // Several of the commit's write batches.
    let events: Vec<NewEvent> = (0..5000)
        .map(|i| {
            NewEvent::new(
                ChangeType::Updated,
                format!("r{i:05}"),
                &json!({"id": format!("r{i:05}"), "pad": "x".repeat(1000)}),
            )
        })
        .collect();
    let stored = store
        .commit("crm/deals/all", &state("deals", 1), events)
        .unwrap();
    assert_eq!(stored.len(), 5000);
    drop(store);
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.pending_count().unwrap(), 5000);
    assert_eq!(store.get("crm/deals/all").unwrap().unwrap().cycles, 1);
}

/// Outbox entries written before events were stored as their lines (JSON
/// `{"sub", "event"}`) are still delivered, in order with new ones, and
/// still belong to their subscription.
#[test]
fn outbox_entries_of_the_older_format_are_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let (deals, contacts) = ("acme/deals/all", "acme/contacts/all");
    let instance = {
        let store = SledStore::open(dir.path()).unwrap();
        store.instance_id().to_string()
    };
    let old = |seq: u64, sub: &str, collection: &str| {
        json!({"sub": sub, "event": {
            "id": format!("{instance}-{seq:020}"), "connector": "acme", "collection": collection,
            "type": "deleted", "recordId": "r", "record": {"id": "r", "n": 1.5},
            "strategy": "custom-pull", "emittedAt": "2026-01-01T00:00:00.000Z"
        }})
    };
    {
        let db = sled::open(dir.path()).unwrap();
        let outbox = db.open_tree("outbox").unwrap();
        outbox
            .insert(
                0u64.to_be_bytes(),
                old(0, deals, "deals").to_string().as_bytes(),
            )
            .unwrap();
        outbox
            .insert(
                1u64.to_be_bytes(),
                old(1, contacts, "contacts").to_string().as_bytes(),
            )
            .unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert(b"next_seq", &2u64.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    let new = store
        .commit(
            deals,
            &state("deals", 1),
            vec![ev(ChangeType::Created, "n")],
        )
        .unwrap();
    let lines = store.pending_lines(10).unwrap();
    let ids: Vec<&str> = lines.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids[2], new[0]);
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
    let first: serde_json::Value = serde_json::from_str(&lines[0].json).unwrap();
    assert_eq!(first, old(0, deals, "deals")["event"]);
    let events = store.pending(10).unwrap();
    assert_eq!(events[1].collection, "contacts");
    assert_eq!(events[2].record, json!({"id": "n", "name": "nn"}));

    store.reset(contacts).unwrap();
    let left = pending_ids(&store);
    assert_eq!(
        left,
        [ids[0], ids[2]],
        "the old entry of the reset subscription went"
    );
    store.ack(&left).unwrap();
    assert_eq!(store.pending_count().unwrap(), 0);
}

/// A commit's events are packed several to an outbox entry: pages of
/// `pending` that end inside an entry, acknowledged one by one (with a
/// reopen in between), still hand out every event once, in order.
#[test]
fn pages_that_cut_through_packed_entries_deliver_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let sub = "crm/deals/all";
    let events: Vec<NewEvent> = (0..700)
        .map(|i| {
            NewEvent::new(
                ChangeType::Created,
                format!("r{i:04}"),
                &json!({"id": format!("r{i:04}"), "pad": "x".repeat(400)}),
            )
        })
        .collect();
    let ids = {
        let store = SledStore::open(dir.path()).unwrap();
        store.commit(sub, &state("deals", 1), events).unwrap()
    };
    let mut delivered = Vec::new();
    for round in 0.. {
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.pending_count().unwrap(),
            (700 - delivered.len()) as u64
        );
        let page = store.pending_lines(37).unwrap();
        if page.is_empty() {
            break;
        }
        let page_ids: Vec<String> = page.iter().map(|l| l.id.clone()).collect();
        delivered.extend(page.iter().map(|l| {
            let e: serde_json::Value = serde_json::from_str(&l.json).unwrap();
            assert_eq!(e["id"], l.id.as_str());
            e["recordId"].as_str().unwrap().to_string()
        }));
        // Every other page is acknowledged twice: the second time is a no-op.
        store.ack(&page_ids).unwrap();
        if round % 2 == 0 {
            store.ack(&page_ids).unwrap();
        }
    }
    let expected: Vec<String> = (0..700).map(|i| format!("r{i:04}")).collect();
    assert_eq!(delivered, expected);
    assert_eq!(ids.len(), 700);
}

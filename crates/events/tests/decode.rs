//! Reading events and records out of a connector's answer: what passes and
//! the problem named for what does not.

use runtime_events::{decode_events, next_cursor, records, ChangeType, NewEvent};
use serde_json::json;

#[test]
fn events_need_a_known_type_and_a_record_id() {
    assert_eq!(decode_events(&json!({"state": 1})).unwrap(), []);
    assert_eq!(decode_events(&json!(null)).unwrap(), []);
    let ok = json!({"events": [
        {"type": "created", "record": {"id": 7}},
        {"type": "deleted", "record": {"id": "a"}},
    ]});
    assert_eq!(
        decode_events(&ok).unwrap(),
        [
            NewEvent {
                change: ChangeType::Created,
                record_id: "7".into(),
                record: json!({"id": 7})
            },
            NewEvent {
                change: ChangeType::Deleted,
                record_id: "a".into(),
                record: json!({"id": "a"})
            },
        ]
    );
    let err = |v| decode_events(&v).unwrap_err();
    assert_eq!(
        err(json!({"events": "x"})),
        "`events` that is not a list (a string)"
    );
    assert_eq!(
        err(json!({"events": [{"record": {"id": 1}}]})),
        "events[0] with type missing: expected \"created\", \"updated\" or \"deleted\""
    );
    assert_eq!(
        err(json!({"events": [{"type": "created", "record": {"id": 1}}, {"type": "Created"}]})),
        "events[1] with type \"Created\": expected \"created\", \"updated\" or \"deleted\""
    );
    assert_eq!(
        err(json!({"events": [{"type": "updated", "record": {"id": ""}}]})),
        "events[0] whose record has no `id` (string or number)"
    );
}

#[test]
fn records_and_cursors() {
    assert_eq!(records(&json!({"records": [1]})).unwrap(), [json!(1)]);
    assert!(records(&json!({})).unwrap().is_empty());
    assert_eq!(
        records(&json!(null)).unwrap_err(),
        "null instead of {records, cursor}"
    );
    assert_eq!(
        records(&json!({"records": {}})).unwrap_err(),
        "`records` that is not a list (an object)"
    );
    assert_eq!(next_cursor(&json!({"cursor": ""})), None);
    assert_eq!(next_cursor(&json!({"cursor": 3})), Some(json!(3)));
    assert_eq!(next_cursor(&json!({"cursor": "p2"})), Some(json!("p2")));
    assert_eq!(next_cursor(&json!({"cursor": true})), None);
}

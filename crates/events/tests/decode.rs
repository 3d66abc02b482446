//! Reading events and records out of a connector's answer: what passes and
//! the problem named for what does not.

use runtime_events::{decode_events, decode_pull, next_cursor, records, ChangeType, NewEvent};
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
            NewEvent::new(ChangeType::Created, "7".into(), &json!({"id": 7})),
            NewEvent::new(ChangeType::Deleted, "a".into(), &json!({"id": "a"})),
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
    assert!(records(&json!({"records": []})).unwrap().is_empty());
    // No `records` is not an empty page: for full-scan it would delete all.
    assert_eq!(
        records(&json!({"items": [1], "next": null})).unwrap_err(),
        "an object without `records` (keys: items, next); a page is {records: [...], cursor?}, `records: []` when empty"
    );
    assert!(records(&json!({}))
        .unwrap_err()
        .contains("a missing `await`"));
    assert!(records(&json!({"records": {}}))
        .unwrap_err()
        .contains("a missing `await`"));
    assert!(records(&json!({"records": null})).is_err());
    assert_eq!(
        records(&json!(null)).unwrap_err(),
        "null instead of {records, cursor}"
    );
    assert_eq!(
        records(&json!({"records": 3})).unwrap_err(),
        "`records` that is not a list (a number)"
    );
    assert_eq!(next_cursor(&json!({"cursor": ""})), None);
    assert_eq!(next_cursor(&json!({"cursor": 3})), Some(json!(3)));
    assert_eq!(next_cursor(&json!({"cursor": "p2"})), Some(json!("p2")));
    assert_eq!(next_cursor(&json!({"cursor": true})), None);
}

/// The text reader of `pull` answers agrees with the value reader on every
/// answer it takes, and leaves every other one to it.
#[test]
fn pull_answers_read_from_text_match_the_value_reader() {
    let taken = [
        json!({"events": [
            {"type": "created", "record": {"id": 7, "name": "a \"q\"\n", "n": 1.5e3}},
            {"type": "deleted", "record": {"id": "a", "nested": {"id": 1}}, "extra": true},
        ], "state": {"next": 2}}),
        json!({"state": null}),
        json!({"events": null, "state": 3}),
        json!({"events": [], "hasMore": true}),
    ];
    for answer in taken {
        let text = answer.to_string();
        let read = decode_pull(&text).unwrap_or_else(|| panic!("not taken: {text}"));
        assert_eq!(read.events, decode_events(&answer).unwrap(), "{text}");
        let state = answer.get("state").filter(|s| !s.is_null()).cloned();
        assert_eq!(read.state, state, "{text}");
        for (event, original) in read
            .events
            .iter()
            .zip(answer["events"].as_array().into_iter().flatten())
        {
            assert_eq!(
                event.record_value(),
                original["record"],
                "the record as it came"
            );
        }
    }
    let left = [
        "[1]",
        "null",
        r#"{"events": "x"}"#,
        r#"{"events": [["created", {"id": 1}]]}"#,
        r#"{"events": [{"type": "Created", "record": {"id": 1}}]}"#,
        r#"{"events": [{"type": "\u0063reated", "record": {"id": 1}}]}"#,
        r#"{"events": [{"type": "created", "record": {"id": ""}}]}"#,
        r#"{"events": [{"type": "created", "record": [1]}]}"#,
        r#"{"events": [{"type": "created", "record": {"id": 1, "id": 2}}]}"#,
        r#"{"events": [{"type": "created"}]}"#,
    ];
    for text in left {
        assert!(
            decode_pull(text).is_none(),
            "{text} should be left to the value reader"
        );
    }
    // The escaped type is valid: the value reader takes it.
    let escaped: serde_json::Value =
        serde_json::from_str(r#"{"events": [{"type": "\u0063reated", "record": {"id": 1}}]}"#)
            .unwrap();
    assert_eq!(decode_events(&escaped).unwrap().len(), 1);
}

#[test]
fn handle_answers_need_events_or_nothing() {
    use runtime_events::decode_handle;
    assert!(decode_handle(&json!(null)).unwrap().is_empty());
    assert!(
        decode_handle(&json!({"response": {"status": 200, "data": "challenge"}}))
            .unwrap()
            .is_empty()
    );
    let one = json!({"events": [{"type": "created", "record": {"id": 1}}], "state": {}});
    assert_eq!(decode_handle(&one).unwrap().len(), 1);
    // The event itself, returned without its wrapper: refused, not 2xx.
    assert_eq!(
        decode_handle(&json!({"type": "created", "record": {"id": 1}})).unwrap_err(),
        "an object without `events` (keys: type, record); return {events: [{type, record}]}, or null for no events"
    );
    assert!(decode_handle(&json!([{"type": "created", "record": {"id": 1}}])).is_err());
    assert!(decode_handle(&json!({})).is_err());
}

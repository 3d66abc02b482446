//! A connector function's answer (JSON) read as events (`pull`,
//! `webhook-handle`) and as a page of records (`list`,
//! `pull-latest-records`). Checks that each decoded event has a known type
//! and the record's own id, and that the sink line of every event reads
//! back as the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime_events::{
    decode_events, next_cursor, record_id, records, ChangeType, Event, MAX_EVENTS_PER_CALL,
};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(t) = ChangeType::parse(s) {
            assert_eq!(t.as_str(), s);
        }
    }
    let Ok(answer) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match decode_events(&answer) {
        Ok(events) => {
            assert!(events.len() <= MAX_EVENTS_PER_CALL);
            for e in events {
                assert_eq!(record_id(&e.record_value()).as_deref(), Some(e.record_id.as_str()));
                assert!(!e.record_id.is_empty());
                let line = Event {
                    id: "e".into(),
                    connector: "c".into(),
                    collection: "k".into(),
                    change: e.change,
                    record_id: e.record_id.clone(),
                    record: e.record_value(),
                    strategy: "webhook".into(),
                    emitted_at: "2026-01-01T00:00:00Z".into(),
                };
                let text = serde_json::to_string(&line).expect("an event serializes");
                let back: Event = serde_json::from_str(&text).expect("a sink line reads back");
                assert_eq!(back, line);
            }
        }
        Err(problem) => assert!(!problem.is_empty()),
    }
    if let Ok(page) = records(&answer) {
        for r in page {
            if let Some(id) = record_id(r) {
                assert!(!id.is_empty());
            }
        }
    }
    if let Some(c) = next_cursor(&answer) {
        assert!(c.is_number() || c.as_str().is_some_and(|s| !s.is_empty()));
    }
});

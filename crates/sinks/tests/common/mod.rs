#![allow(dead_code)]

use runtime_events::{ChangeType, Event, EventLine};
use serde_json::json;

pub fn event(i: usize) -> Event {
    Event {
        id: format!("evt-{i:04}"),
        connector: "acme".into(),
        connection: None,
        collection: "contacts".into(),
        change: ChangeType::Updated,
        record_id: i.to_string(),
        record: json!({"id": i, "name": format!("Contact \"{i}\"\nwith newline")}),
        strategy: "full-scan".into(),
        emitted_at: "2026-01-01T00:00:00Z".into(),
    }
}

pub fn events(n: usize) -> Vec<Event> {
    (0..n).map(event).collect()
}

/// The events as the store hands them to a sink.
pub fn lines(events: &[Event]) -> Vec<EventLine> {
    events
        .iter()
        .map(|e| EventLine::encode(e).unwrap())
        .collect()
}

//! An event as its sink line: the contract's JSON object as text, written
//! once when the event is stored and handed to the sinks as it is.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::{ChangeType, Event};

/// One stored event, ready for a sink.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLine {
    /// The event's `id`: what the store acknowledges and the HTTP sink's
    /// idempotency key is made of.
    pub id: String,
    /// The event as one line of JSON, without the trailing newline.
    pub json: String,
}

impl EventLine {
    /// The line of an event held as a value.
    pub fn encode(event: &Event) -> Result<EventLine, serde_json::Error> {
        Ok(EventLine {
            id: event.id.clone(),
            json: serde_json::to_string(event)?,
        })
    }

    /// The event the line holds.
    pub fn decode(&self) -> Result<Event, serde_json::Error> {
        serde_json::from_str(&self.json)
    }
}

/// The fields of a line as the store writes them: the same keys in the
/// same order as [`Event`], with the record as the text it arrived in.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineRef<'a> {
    pub id: &'a str,
    pub connector: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<&'a str>,
    pub collection: &'a str,
    #[serde(rename = "type")]
    pub change: ChangeType,
    pub record_id: &'a str,
    pub record: &'a RawValue,
    pub strategy: &'a str,
    pub emitted_at: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_written_from_parts_is_the_event_serialized() {
        let event = Event {
            id: "i-1".into(),
            connector: "acme".into(),
            connection: Some("tenant-1".into()),
            collection: "deals".into(),
            change: ChangeType::Deleted,
            record_id: "7".into(),
            record: serde_json::json!({"id": 7, "name": "a \"quoted\"\nname", "n": 1.5}),
            strategy: "custom-pull".into(),
            emitted_at: "2026-01-01T00:00:00.000Z".into(),
        };
        let record = crate::raw(&event.record);
        let parts = LineRef {
            id: &event.id,
            connector: &event.connector,
            connection: event.connection.as_deref(),
            collection: &event.collection,
            change: event.change,
            record_id: &event.record_id,
            record: &record,
            strategy: &event.strategy,
            emitted_at: &event.emitted_at,
        };
        let line = EventLine::encode(&event).unwrap();
        assert_eq!(serde_json::to_string(&parts).unwrap(), line.json);
        assert_eq!(line.decode().unwrap(), event);
    }
}

//! The event as the runtime emits it: the one shape shared by strategies
//! (which produce events), the store (which keeps them in its outbox) and
//! the sinks (which write them out as JSON lines). It owns the wire format
//! of the contract and the reading of events and records out of a
//! connector's JSON answer ([`decode_events`], [`records`]); it does no I/O.

mod decode;
mod line;

pub use decode::{
    decode_events, decode_handle, decode_pull, keys_of, kind, next_cursor, records, PullAnswer,
    MAX_EVENTS_PER_CALL,
};
pub use line::{EventLine, LineRef};

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// `created`, `updated` or `deleted`: the one kind of change, used by the
/// spec (`events.<type>`), the strategies, the store and the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
}

impl ChangeType {
    /// Every change type, in this (the `Ord`) order.
    pub const ALL: [ChangeType; 3] = [
        ChangeType::Created,
        ChangeType::Updated,
        ChangeType::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Created => "created",
            ChangeType::Updated => "updated",
            ChangeType::Deleted => "deleted",
        }
    }

    /// The type `s` names exactly (lowercase); `None` otherwise. The
    /// [`FromStr`](std::str::FromStr) impl says why.
    pub fn parse(s: &str) -> Option<ChangeType> {
        ChangeType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A name that is not `created`, `updated` or `deleted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownChangeType(pub String);

impl fmt::Display for UnknownChangeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown event type `{}`; expected created, updated or deleted",
            self.0
        )
    }
}

impl std::error::Error for UnknownChangeType {}

impl FromStr for ChangeType {
    type Err = UnknownChangeType;
    fn from_str(s: &str) -> Result<ChangeType, UnknownChangeType> {
        ChangeType::parse(s).ok_or_else(|| UnknownChangeType(s.to_string()))
    }
}

impl fmt::Display for ChangeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event before it is stored: what a strategy produced.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub change: ChangeType,
    /// `record.id` as a string (numbers are written in decimal).
    pub record_id: String,
    /// The record as JSON text. Most records come straight out of a
    /// connector's answer and go into the sink line unchanged, so they are
    /// never built as values (see [`decode_pull`]).
    pub record: Box<RawValue>,
}

impl NewEvent {
    /// An event whose record the caller holds as a value.
    pub fn new(change: ChangeType, record_id: String, record: &Value) -> NewEvent {
        NewEvent {
            change,
            record_id,
            record: raw(record),
        }
    }

    /// The record as a value (for tests and callers that inspect it).
    pub fn record_value(&self) -> Value {
        // The text was written by serde_json or checked by it on the way in.
        serde_json::from_str(self.record.get()).unwrap_or(Value::Null)
    }
}

impl PartialEq for NewEvent {
    fn eq(&self, other: &NewEvent) -> bool {
        self.change == other.change
            && self.record_id == other.record_id
            && self.record.get() == other.record.get()
    }
}

/// A value as JSON text.
pub fn raw(value: &Value) -> Box<RawValue> {
    // Serializing a `Value` cannot fail: its map keys are strings and its
    // numbers are finite, and the writer is memory.
    serde_json::value::to_raw_value(value).expect("a serde_json::Value always serializes")
}

/// One line of the sink output, exactly the contract's format:
/// `{"id", "connector", "collection", "type", "recordId", "record", "strategy", "emittedAt"}`.
/// `id` is assigned when the event is stored and is the same on every
/// redelivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    pub connector: String,
    /// The connection's id in `runtime serve`; absent in `runtime run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    pub collection: String,
    #[serde(rename = "type")]
    pub change: ChangeType,
    pub record_id: String,
    pub record: Value,
    pub strategy: String,
    /// RFC 3339 UTC time the event was stored.
    pub emitted_at: String,
}

/// Reads `record.id` (string or number) the way every strategy must.
pub fn record_id(record: &Value) -> Option<String> {
    id_text(record.get("id")?)
}

/// The id a record's `id` value stands for: a non-empty string, or a
/// number in decimal.
pub(crate) fn id_text(id: &Value) -> Option<String> {
    match id {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_types_by_name() {
        assert_eq!(
            ChangeType::ALL.map(ChangeType::as_str),
            ["created", "updated", "deleted"]
        );
        for t in ChangeType::ALL {
            assert_eq!(t.as_str().parse::<ChangeType>(), Ok(t));
            assert_eq!(ChangeType::parse(t.as_str()), Some(t));
            assert_eq!(t.to_string(), t.as_str());
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        let mut sorted = ChangeType::ALL;
        sorted.sort();
        assert_eq!(sorted, ChangeType::ALL);
        assert_eq!(ChangeType::parse("Created"), None);
        assert_eq!(
            "moved".parse::<ChangeType>().unwrap_err().to_string(),
            "unknown event type `moved`; expected created, updated or deleted"
        );
    }

    #[test]
    fn line_format_matches_the_contract() {
        let e = Event {
            id: "e1".into(),
            connector: "acme".into(),
            connection: None,
            collection: "contacts".into(),
            change: ChangeType::Updated,
            record_id: "7".into(),
            record: serde_json::json!({"id": 7}),
            strategy: "full-scan".into(),
            emitted_at: "2026-01-01T00:00:00Z".into(),
        };
        let v: Value = serde_json::to_value(&e).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "connector",
                "collection",
                "type",
                "recordId",
                "record",
                "strategy",
                "emittedAt"
            ]
        );
        assert_eq!(v["type"], "updated");
    }

    #[test]
    fn record_ids_from_strings_and_numbers_only() {
        assert_eq!(
            record_id(&serde_json::json!({"id": 12})).as_deref(),
            Some("12")
        );
        assert_eq!(
            record_id(&serde_json::json!({"id": "a"})).as_deref(),
            Some("a")
        );
        assert_eq!(record_id(&serde_json::json!({"id": ""})), None);
        assert_eq!(record_id(&serde_json::json!({"id": null})), None);
        assert_eq!(record_id(&serde_json::json!({"name": "x"})), None);
    }
}

//! Reading events and records out of a connector function's JSON answer.
//! Pure: the caller (crates/strategies) names the collection and function
//! in its error, so a problem here is only the text after "returned".

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::{id_text, record_id, ChangeType, NewEvent};

/// The events of one answer are committed in one store transaction, which
/// holds all of them in memory several times over (measured, debug build:
/// ~9 KiB per small event; 400,000 events took the process to 3.6 GiB
/// while the JavaScript heap stayed under its 256 MiB limit). Same number
/// as full-scan's default `maxRecords`.
pub const MAX_EVENTS_PER_CALL: usize = 100_000;

/// Validates `{events: [{type, record}], ...}` as returned by `pull` and
/// `webhook-handle`: each event needs a known `type` and a `record.id`.
/// `Err` says what is wrong with the answer.
pub fn decode_events(result: &Value) -> Result<Vec<NewEvent>, String> {
    let events = match result.get("events") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(format!("`events` that is not a list ({})", kind(other))),
    };
    if events.len() > MAX_EVENTS_PER_CALL {
        return Err(format!(
            "{} events in one answer (at most {MAX_EVENTS_PER_CALL}); return fewer and continue from `state` in the next pull",
            events.len()
        ));
    }
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let change = e
                .get("type")
                .and_then(Value::as_str)
                .and_then(ChangeType::parse)
                .ok_or_else(|| {
                    format!(
                        "events[{i}] with type {}: expected \"created\", \"updated\" or \"deleted\"",
                        e.get("type")
                            .map(|t| t.to_string())
                            .unwrap_or_else(|| "missing".into())
                    )
                })?;
            let record = e.get("record").unwrap_or(&Value::Null);
            let id = record_id(record)
                .ok_or_else(|| format!("events[{i}] whose record has no `id` (string or number)"))?;
            Ok(NewEvent::new(change, id, record))
        })
        .collect()
}

/// The events of a webhook `handle` answer. `null` (or no return value)
/// means no events; otherwise the answer must be an object with an
/// `events` list, or one that only answers the request (`response`, e.g. a
/// URL verification challenge). Anything else (`{type, record}` returned
/// bare, a list of events without the wrapper) is refused: answering 2xx to
/// it would tell the sender its change was taken when nothing was stored.
pub fn decode_handle(result: &Value) -> Result<Vec<NewEvent>, String> {
    match result {
        Value::Null => Ok(Vec::new()),
        Value::Object(o) if o.contains_key("events") => decode_events(result),
        Value::Object(o) if o.contains_key("response") => Ok(Vec::new()),
        other => Err(format!(
            "{} without `events` ({}); return {{events: [{{type, record}}]}}, or null for no events",
            kind(other),
            keys_of(other)
        )),
    }
}

/// What a `pull` answered.
#[derive(Debug)]
pub struct PullAnswer {
    pub events: Vec<NewEvent>,
    /// The new state; `None` when the answer has none (or `null`), which
    /// keeps the old one.
    pub state: Option<Value>,
}

/// Reads a `pull` answer from its JSON text without building its records:
/// each record's text is kept as it is and only its `id` is read. Returns
/// `None` for anything but the common, valid shape; the caller then
/// parses the answer as a value and [`decode_events`] names the problem
/// (or accepts a spelling this reader does not, such as an escaped type).
pub fn decode_pull(text: &str) -> Option<PullAnswer> {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow, default)]
        events: Option<Vec<&'a RawValue>>,
        #[serde(default)]
        state: Option<Value>,
    }
    #[derive(Deserialize)]
    struct Item<'a> {
        #[serde(borrow, rename = "type")]
        change: &'a RawValue,
        #[serde(borrow)]
        record: &'a RawValue,
    }
    #[derive(Deserialize)]
    struct Id {
        #[serde(default)]
        id: Value,
    }
    // serde reads a struct from a JSON list too; only objects qualify.
    let object = |t: &str| t.starts_with('{');
    if !object(text) {
        return None;
    }
    let answer: Answer = serde_json::from_str(text).ok()?;
    let items = answer.events.unwrap_or_default();
    if items.len() > MAX_EVENTS_PER_CALL {
        return None;
    }
    let mut events = Vec::with_capacity(items.len());
    for item in items {
        if !object(item.get()) {
            return None;
        }
        let item: Item = serde_json::from_str(item.get()).ok()?;
        let change = match item.change.get() {
            "\"created\"" => ChangeType::Created,
            "\"updated\"" => ChangeType::Updated,
            "\"deleted\"" => ChangeType::Deleted,
            _ => return None,
        };
        if !object(item.record.get()) {
            return None;
        }
        let id: Id = serde_json::from_str(item.record.get()).ok()?;
        events.push(NewEvent {
            change,
            record_id: id_text(&id.id)?,
            record: item.record.to_owned(),
        });
    }
    Some(PullAnswer {
        events,
        state: answer.state,
    })
}

/// The `records` list of a `list` / `pullLatestRecords` result.
///
/// Anything but an object whose `records` is a list is refused: a missing
/// key (`response.items` returned under another name), a forgotten `await`
/// (a Promise serializes as `{}`) or a forgotten `return` would otherwise
/// read as an empty page, and for full-scan an empty page turns every
/// known record into a false `deleted`.
pub fn records(result: &Value) -> Result<&[Value], String> {
    let Some(object) = result.as_object() else {
        return Err(format!("{} instead of {{records, cursor}}", kind(result)));
    };
    match object.get("records") {
        Some(Value::Array(list)) => Ok(list),
        None => Err(format!(
            "an object without `records` ({}); a page is {{records: [...], cursor?}}, `records: []` when empty",
            keys_of(result)
        )),
        Some(Value::Object(o)) if o.is_empty() => Err(
            "`records` that is an empty object, not a list: a Promise? (a missing `await`)".into(),
        ),
        Some(other) => Err(format!("`records` that is not a list ({})", kind(other))),
    }
}

/// What an answer held, for messages: `keys: a, b` or `no keys` (a Promise
/// that was not awaited serializes as `{}`).
pub fn keys_of(v: &Value) -> String {
    match v.as_object() {
        Some(o) if o.is_empty() => "no keys: a Promise? (a missing `await`)".into(),
        Some(o) => {
            let mut keys: Vec<&str> = o.keys().map(String::as_str).take(8).collect();
            if o.len() > keys.len() {
                keys.push("...");
            }
            format!("keys: {}", keys.join(", "))
        }
        None => kind(v).to_string(),
    }
}

/// A `cursor` for the next page: a non-empty string or number.
pub fn next_cursor(result: &Value) -> Option<Value> {
    match result.get("cursor") {
        Some(Value::String(s)) if !s.is_empty() => Some(Value::String(s.clone())),
        Some(Value::Number(n)) => Some(Value::Number(n.clone())),
        _ => None,
    }
}

/// A value's JSON type, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

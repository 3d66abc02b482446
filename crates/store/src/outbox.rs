//! The outbox's entries: events not yet delivered, in commit order, each
//! as its sink line with its subscription. This module owns the byte
//! layout of an entry; the store decides what to write, read and remove.
//!
//! An entry holds a run of events of one commit (up to [`CHUNK_BYTES`]),
//! under the big-endian sequence number of its first event: `CHUNK`, then
//! per event its sequence (u64), its subscription id and its line (each
//! after its length as u32, all big-endian). One sled entry per event cost
//! about a third of a busy run's CPU in sled's inserts and removals.
//! Entries of older data dirs hold one event each, under its sequence:
//! `LINE` and the subscription id and line, or JSON `{"sub", "event"}`.

use std::borrow::Cow;

use runtime_events::{Event, EventLine};
use serde::Deserialize;

/// Events of one commit are packed into entries of about this size: well
/// under sled's threshold for storing a value as a file of its own.
pub(crate) const CHUNK_BYTES: usize = 32 << 10;

const LINE: u8 = 1;
const CHUNK: u8 = 2;

/// One event of an entry, borrowed from it where it can be.
pub(crate) struct Item<'a> {
    pub seq: u64,
    pub sub: Cow<'a, str>,
    pub line: Cow<'a, str>,
}

/// An entry being filled by a commit.
pub(crate) struct Chunk {
    pub first: u64,
    pub bytes: Vec<u8>,
}

impl Chunk {
    pub fn new(first: u64) -> Chunk {
        let mut bytes = Vec::with_capacity(CHUNK_BYTES + 4096);
        bytes.push(CHUNK);
        Chunk { first, bytes }
    }

    pub fn is_full(&self) -> bool {
        self.bytes.len() >= CHUNK_BYTES
    }

    /// Appends one event; `line` writes the line's JSON into the buffer.
    pub fn push<E>(
        &mut self,
        seq: u64,
        sub: &str,
        line: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let b = &mut self.bytes;
        b.extend_from_slice(&seq.to_be_bytes());
        put_len(b, sub.len());
        b.extend_from_slice(sub.as_bytes());
        let at = b.len();
        b.extend_from_slice(&[0; 4]);
        line(b)?;
        let len = b.len() - at - 4;
        b[at..at + 4].copy_from_slice(&len_bytes(len));
        Ok(())
    }

    /// An entry of `items` (what is left of one after some were acknowledged
    /// or reset), under its old key; None when none are left.
    pub fn rebuild(first: u64, items: &[Item]) -> Option<Chunk> {
        let mut chunk = Chunk::new(first);
        for item in items {
            let line = item.line.as_bytes();
            let _ = chunk.push::<()>(item.seq, &item.sub, |b| {
                b.extend_from_slice(line);
                Ok(())
            });
        }
        (!items.is_empty()).then_some(chunk)
    }
}

fn len_bytes(len: usize) -> [u8; 4] {
    // Lines and ids are far below 4 GiB: a commit holds at most
    // MAX_EVENTS_PER_CALL events of a JavaScript heap's size.
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}

fn put_len(b: &mut Vec<u8>, len: usize) {
    b.extend_from_slice(&len_bytes(len));
}

#[derive(Deserialize)]
struct LegacyEntry {
    sub: String,
    event: Event,
}

/// The events of the entry under `key`. Err names what is wrong.
pub(crate) fn decode<'a>(key: &[u8], value: &'a [u8]) -> Result<Vec<Item<'a>>, String> {
    let key = <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .map_err(|_| "a key that is not 8 bytes".to_string())?;
    let bad = |what: &str| format!("entry {key}: {what}");
    let mut r = Reader(value);
    match r.byte() {
        Some(CHUNK) => {
            let mut items = Vec::new();
            while !r.0.is_empty() {
                let item = (|| {
                    let seq = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
                    let sub = r.text()?;
                    let line = r.text()?;
                    Some(Item { seq, sub, line })
                })()
                .ok_or_else(|| bad("truncated or not UTF-8"))?;
                items.push(item);
            }
            Ok(items)
        }
        Some(LINE) => {
            let sub = r.text().ok_or_else(|| bad("truncated or not UTF-8"))?;
            let line = std::str::from_utf8(r.0).map_err(|_| bad("not UTF-8"))?;
            Ok(vec![Item {
                seq: key,
                sub,
                line: Cow::Borrowed(line),
            }])
        }
        _ => {
            let entry: LegacyEntry =
                serde_json::from_slice(value).map_err(|e| bad(&e.to_string()))?;
            let line = EventLine::encode(&entry.event).map_err(|e| bad(&e.to_string()))?;
            Ok(vec![Item {
                seq: key,
                sub: Cow::Owned(entry.sub),
                line: Cow::Owned(line.json),
            }])
        }
    }
}

/// How many events the entry holds, without reading them.
pub(crate) fn count(value: &[u8]) -> u64 {
    let mut r = Reader(value);
    if r.byte() != Some(CHUNK) {
        return 1;
    }
    let mut n = 0;
    while r.take(8).is_some() && r.skip_text() && r.skip_text() {
        n += 1;
    }
    n
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn text(&mut self) -> Option<Cow<'a, str>> {
        let len = u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize;
        std::str::from_utf8(self.take(len)?).ok().map(Cow::Borrowed)
    }

    fn skip_text(&mut self) -> bool {
        let Some(len) = self.take(4).and_then(|b| b.try_into().ok()) else {
            return false;
        };
        self.take(u32::from_be_bytes(len) as usize).is_some()
    }
}

//! The mock's data: named collections of records with a logical clock, a
//! change sequence, and tombstones for deleted records.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use crate::time::{iso_millis, CLOCK_START_UNIX};

/// Keys the store owns; callers' values for them are ignored (except `id`
/// on create).
const SYSTEM_KEYS: [&str; 5] = ["id", "createdTime", "updatedTime", "deletedTime", "seq"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

impl ChangeKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// One change, as webhooks report it.
pub(crate) struct Change {
    pub kind: ChangeKind,
    pub collection: String,
    pub record: Value,
    pub seq: u64,
}

struct Entry {
    fields: Map<String, Value>,
    created_time: String,
    updated_time: String,
    deleted_time: Option<String>,
    created_seq: u64,
    seq: u64,
}

impl Entry {
    fn render(&self, id: &str) -> Value {
        let mut m = Map::with_capacity(self.fields.len() + 5);
        m.insert("id".into(), Value::String(id.to_string()));
        for (k, v) in &self.fields {
            m.insert(k.clone(), v.clone());
        }
        m.insert("createdTime".into(), self.created_time.clone().into());
        m.insert("updatedTime".into(), self.updated_time.clone().into());
        if let Some(t) = &self.deleted_time {
            m.insert("deletedTime".into(), t.clone().into());
        }
        m.insert("seq".into(), self.seq.into());
        Value::Object(m)
    }
}

/// Records by id plus two orderings, so "latest" and delta pages cost
/// O(page) and not a sort of the whole collection per request.
#[derive(Default)]
struct Collection {
    by_id: BTreeMap<String, Entry>,
    /// Latest change seq -> id. Seq order is also `updatedTime` order
    /// because the clock never goes back.
    by_seq: BTreeMap<u64, String>,
    /// Creation seq -> id, for newest-created-first.
    by_created: BTreeMap<u64, String>,
}

pub(crate) struct Store {
    collections: HashMap<String, Collection>,
    seq: u64,
    clock: u64,
    step: u64,
    next_id: u64,
    delta_floor: Option<u64>,
}

fn user_fields(fields: Value) -> Map<String, Value> {
    match fields {
        Value::Object(mut m) => {
            for k in SYSTEM_KEYS {
                m.remove(k);
            }
            m
        }
        _ => Map::new(),
    }
}

fn explicit_id(fields: &Value) -> Option<String> {
    match fields.get("id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Store {
    pub(crate) fn new(step: u64) -> Store {
        Store {
            collections: HashMap::new(),
            seq: 0,
            clock: 0,
            step,
            next_id: 0,
            delta_floor: None,
        }
    }

    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    pub(crate) fn set_step(&mut self, secs: u64) {
        self.step = secs;
    }

    /// Whether a delta token has been expired (410).
    pub(crate) fn delta_token_expired(&self, token: u64) -> bool {
        self.delta_floor.is_some_and(|f| token <= f)
    }

    /// Tokens at or below the current seq become expired.
    pub(crate) fn expire_delta_tokens(&mut self) {
        self.delta_floor = Some(self.seq);
    }

    /// The next seq and the time of that change; the first change happens
    /// at the clock's start.
    fn tick(&mut self) -> (u64, String) {
        self.seq += 1;
        let t = iso_millis(CLOCK_START_UNIX + self.clock);
        self.clock += self.step;
        (self.seq, t)
    }

    fn coll(&mut self, name: &str) -> &mut Collection {
        self.collections.entry(name.to_string()).or_default()
    }

    fn fresh_id(&mut self, collection: &str) -> String {
        loop {
            self.next_id += 1;
            let id = format!("{:08}", self.next_id);
            let taken = self
                .collections
                .get(collection)
                .is_some_and(|c| c.by_id.contains_key(&id));
            if !taken {
                return id;
            }
        }
    }

    /// The time the next change will get.
    pub(crate) fn next_time(&self) -> String {
        iso_millis(CLOCK_START_UNIX + self.clock)
    }

    /// The id of the `n`-th live record (by id), without cloning records.
    pub(crate) fn nth_live_id(&self, collection: &str, n: usize) -> Option<String> {
        self.iter_by_id(collection, None)
            .filter(|(_, e)| e.deleted_time.is_none())
            .nth(n)
            .map(|(id, _)| id.clone())
    }

    pub(crate) fn live_count(&self, collection: &str) -> usize {
        self.iter_by_id(collection, None)
            .filter(|(_, e)| e.deleted_time.is_none())
            .count()
    }

    /// Whether a live record has this id.
    pub(crate) fn is_live(&self, collection: &str, id: &str) -> bool {
        self.entry(collection, id).is_some()
    }

    /// Creates a record; an `id` in `fields` is kept (replacing a live
    /// record or a tombstone with that id), else one is generated.
    pub(crate) fn create(&mut self, collection: &str, fields: Value) -> Change {
        let id = match explicit_id(&fields) {
            Some(id) => id,
            None => self.fresh_id(collection),
        };
        let fields = user_fields(fields);
        let (seq, t) = self.tick();
        let c = self.coll(collection);
        if let Some(old) = c.by_id.remove(&id) {
            c.by_seq.remove(&old.seq);
            c.by_created.remove(&old.created_seq);
        }
        let entry = Entry {
            fields,
            created_time: t.clone(),
            updated_time: t,
            deleted_time: None,
            created_seq: seq,
            seq,
        };
        let record = entry.render(&id);
        c.by_seq.insert(seq, id.clone());
        c.by_created.insert(seq, id.clone());
        c.by_id.insert(id, entry);
        Change {
            kind: ChangeKind::Created,
            collection: collection.to_string(),
            record,
            seq,
        }
    }

    /// Shallow-merges (or with `replace`, replaces) the user fields of a
    /// live record.
    pub(crate) fn update(
        &mut self,
        collection: &str,
        id: &str,
        fields: Value,
        replace: bool,
    ) -> Option<Change> {
        if !self.is_live(collection, id) {
            return None;
        }
        let fields = user_fields(fields);
        let (seq, t) = self.tick();
        let c = self.coll(collection);
        let entry = c.by_id.get_mut(id)?;
        if replace {
            entry.fields = fields;
        } else {
            entry.fields.extend(fields);
        }
        c.by_seq.remove(&entry.seq);
        entry.seq = seq;
        entry.updated_time = t;
        let record = entry.render(id);
        c.by_seq.insert(seq, id.to_string());
        Some(Change {
            kind: ChangeKind::Updated,
            collection: collection.to_string(),
            record,
            seq,
        })
    }

    /// Turns a live record into a tombstone carrying `deletedTime`.
    pub(crate) fn delete(&mut self, collection: &str, id: &str) -> Option<Change> {
        if !self.is_live(collection, id) {
            return None;
        }
        let (seq, t) = self.tick();
        let c = self.coll(collection);
        let entry = c.by_id.get_mut(id)?;
        c.by_seq.remove(&entry.seq);
        entry.seq = seq;
        entry.updated_time = t.clone();
        entry.deleted_time = Some(t);
        let record = entry.render(id);
        c.by_seq.insert(seq, id.to_string());
        Some(Change {
            kind: ChangeKind::Deleted,
            collection: collection.to_string(),
            record,
            seq,
        })
    }

    fn entry(&self, collection: &str, id: &str) -> Option<&Entry> {
        let e = self.collections.get(collection)?.by_id.get(id)?;
        e.deleted_time.is_none().then_some(e)
    }

    pub(crate) fn get(&self, collection: &str, id: &str) -> Option<Value> {
        self.entry(collection, id).map(|e| e.render(id))
    }

    /// Records ordered by id; tombstones only with `include_deleted`.
    pub(crate) fn records(&self, collection: &str, include_deleted: bool) -> Vec<Value> {
        self.iter_by_id(collection, None)
            .filter(|(_, e)| include_deleted || e.deleted_time.is_none())
            .map(|(id, e)| e.render(id))
            .collect()
    }

    fn iter_by_id<'a>(
        &'a self,
        collection: &str,
        after: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = (&'a String, &'a Entry)> + 'a> {
        let Some(c) = self.collections.get(collection) else {
            return Box::new(std::iter::empty());
        };
        match after {
            Some(a) => Box::new(
                c.by_id
                    .range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            ),
            None => Box::new(c.by_id.iter()),
        }
    }

    /// Live records with id > `after`, up to `limit`; true if more follow.
    pub(crate) fn list_after(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<Value>, bool) {
        let mut live = self
            .iter_by_id(collection, after)
            .filter(|(_, e)| e.deleted_time.is_none());
        let page: Vec<Value> = live
            .by_ref()
            .take(limit)
            .map(|(id, e)| e.render(id))
            .collect();
        let more = live.next().is_some();
        (page, more)
    }

    /// 1-based page of live records by id, and the page count (at least 1).
    pub(crate) fn page(&self, collection: &str, page: usize, size: usize) -> (Vec<Value>, usize) {
        let live = || {
            self.iter_by_id(collection, None)
                .filter(|(_, e)| e.deleted_time.is_none())
        };
        let total = live().count();
        let pages = total.div_ceil(size).max(1);
        let skip = page.saturating_sub(1).saturating_mul(size);
        let records = live()
            .skip(skip)
            .take(size)
            .map(|(id, e)| e.render(id))
            .collect();
        (records, pages)
    }

    /// Newest first (by last change, or by creation); true if more follow.
    pub(crate) fn latest(
        &self,
        collection: &str,
        by_created: bool,
        include_deleted: bool,
        skip: usize,
        limit: usize,
    ) -> (Vec<Value>, bool) {
        let Some(c) = self.collections.get(collection) else {
            return (Vec::new(), false);
        };
        let order = if by_created { &c.by_created } else { &c.by_seq };
        let mut it = order
            .values()
            .rev()
            .filter_map(|id| c.by_id.get(id).map(|e| (id, e)))
            .filter(|(_, e)| include_deleted || e.deleted_time.is_none())
            .skip(skip);
        let page: Vec<Value> = it
            .by_ref()
            .take(limit)
            .map(|(id, e)| e.render(id))
            .collect();
        let more = it.next().is_some();
        (page, more)
    }

    /// Records whose last change has `after_seq < seq <= upto`, oldest
    /// first, in Graph delta form: deleted ones as `@removed` stubs. Each
    /// item carries its seq for the next page's position.
    pub(crate) fn delta_changes(
        &self,
        collection: &str,
        after_seq: u64,
        upto: u64,
        limit: usize,
    ) -> (Vec<(u64, Value)>, bool) {
        let Some(c) = self.collections.get(collection) else {
            return (Vec::new(), false);
        };
        if after_seq >= upto {
            return (Vec::new(), false);
        }
        let mut it = c
            .by_seq
            .range(after_seq + 1..=upto)
            .filter_map(|(seq, id)| c.by_id.get(id).map(|e| (*seq, id, e)));
        let page = it
            .by_ref()
            .take(limit)
            .map(|(seq, id, e)| {
                let v = if e.deleted_time.is_some() {
                    json!({"id": id, "@removed": {"reason": "deleted"}})
                } else {
                    e.render(id)
                };
                (seq, v)
            })
            .collect();
        let more = it.next().is_some();
        (page, more)
    }
}

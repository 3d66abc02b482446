//! Full-scan snapshots. Per subscription, three kinds of sled tree:
//!
//! - the **fingerprints** of the committed snapshot, record id -> 16 bytes;
//! - the **records**, record id -> the last known record's JSON, which
//!   `deleted` events carry;
//! - a scan's **changes**, one tree per scan generation, record id -> what
//!   changed: created or updated with the new fingerprint and record, or
//!   deleted. Written during the scan, applied to the other two only after
//!   the commit that makes the generation current ([`SledStore::retire_snapshot`]).
//!
//! A scan of unchanged records therefore only reads: one fingerprint lookup
//! per record, plus a hash of each id it saw in memory (16 bytes a record)
//! so the ids it did not see can be found afterwards by walking the
//! fingerprints once. Nothing is written for a record that did not change.
//! A failed scan leaves only its changes tree behind, which is dropped.
//!
//! The baseline (no generation committed yet) has nothing to compare with
//! and emits nothing, so it writes the fingerprints and records directly;
//! a failed baseline's are dropped, and the next baseline starts empty.

use std::collections::HashSet;
use std::path::PathBuf;

use runtime_events::{ChangeType, NewEvent};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::sled_store::{note_failure, Failure};
use crate::{SledStore, StoreError};

/// Entries written per sled batch: large enough to amortise, small enough
/// that a pending batch stays small. sled holds a whole batch's work in
/// memory, and larger batches (tens of thousands) cost far more RSS than
/// they save time.
const BATCH_ENTRIES: usize = 1000;
const BATCH_BYTES: usize = 1 << 20;

const FINGERPRINTS_PREFIX: &[u8] = b"snapfp\0";
const RECORDS_PREFIX: &[u8] = b"snaprec\0";
const CHANGES_PREFIX: &[u8] = b"snapchg\0";
/// Before records were kept apart: one tree per generation, id ->
/// fingerprint + record JSON. Converted when the store is opened.
const LEGACY_PREFIX: &[u8] = b"snap\0";

/// First byte of a changes entry.
const CREATED: u8 = b'c';
const UPDATED: u8 = b'u';
const DELETED: u8 = b'd';

/// The kinds of snapshot tree (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Fingerprints,
    Records,
    Changes(u64),
    Legacy(u64),
}

fn tree_name(sub: &str, kind: Kind) -> Vec<u8> {
    let (prefix, gen) = match kind {
        Kind::Fingerprints => (FINGERPRINTS_PREFIX, None),
        Kind::Records => (RECORDS_PREFIX, None),
        Kind::Changes(g) => (CHANGES_PREFIX, Some(g)),
        Kind::Legacy(g) => (LEGACY_PREFIX, Some(g)),
    };
    let mut name = prefix.to_vec();
    name.extend_from_slice(sub.as_bytes());
    if let Some(g) = gen {
        name.push(0);
        name.extend_from_slice(g.to_string().as_bytes());
    }
    name
}

/// `(sub, kind)` of a snapshot tree name; `None` for other trees.
pub(crate) fn parse_tree_name(name: &[u8]) -> Option<(String, Kind)> {
    let text = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_string);
    if let Some(sub) = name.strip_prefix(FINGERPRINTS_PREFIX) {
        return Some((text(sub)?, Kind::Fingerprints));
    }
    if let Some(sub) = name.strip_prefix(RECORDS_PREFIX) {
        return Some((text(sub)?, Kind::Records));
    }
    let (rest, changes) = match name.strip_prefix(CHANGES_PREFIX) {
        Some(rest) => (rest, true),
        None => (name.strip_prefix(LEGACY_PREFIX)?, false),
    };
    let split = rest.iter().rposition(|&b| b == 0)?;
    let sub = text(&rest[..split])?;
    let gen = text(&rest[split + 1..])?.parse().ok()?;
    Some((
        sub,
        if changes {
            Kind::Changes(gen)
        } else {
            Kind::Legacy(gen)
        },
    ))
}

impl SledStore {
    /// The tree if it exists (`open_tree` would create a missing one).
    fn snapshot_tree(&self, sub: &str, kind: Kind) -> Result<Option<sled::Tree>, StoreError> {
        let name = tree_name(sub, kind);
        if !self
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == name.as_slice())
        {
            return Ok(None);
        }
        self.open_snapshot_tree(sub, kind).map(Some)
    }

    fn open_snapshot_tree(&self, sub: &str, kind: Kind) -> Result<sled::Tree, StoreError> {
        self.db
            .open_tree(tree_name(sub, kind))
            .map_err(|e| self.storage(e))
    }

    /// Empties a tree in batches, then drops it: sled's `drop_tree` alone
    /// reads every page of the tree into memory at once.
    pub(crate) fn clear_tree(&self, sub: &str, kind: Kind) -> Result<(), StoreError> {
        let Some(tree) = self.snapshot_tree(sub, kind)? else {
            return Ok(());
        };
        loop {
            let mut batch = sled::Batch::default();
            let mut n = 0;
            for key in tree.iter().keys().take(BATCH_ENTRIES) {
                batch.remove(key.map_err(|e| self.storage(e))?);
                n += 1;
            }
            if n == 0 {
                break;
            }
            tree.apply_batch(batch).map_err(|e| self.storage(e))?;
        }
        drop(tree);
        self.db
            .drop_tree(tree_name(sub, kind))
            .map_err(|e| self.storage(e))?;
        Ok(())
    }

    /// Starts scan generation `gen` of `sub`, compared as it is written
    /// against the committed snapshot. Discards whatever an interrupted
    /// scan left under `gen`; refuses the generation the subscription's
    /// committed state points at.
    pub fn snapshot_writer(&self, sub: &str, gen: u64) -> Result<SnapshotWriter, StoreError> {
        let committed = self.get(sub)?.and_then(|s| s.snapshot_gen);
        if committed == Some(gen) {
            return Err(StoreError::CommittedSnapshot {
                at: crate::Place::Dir(self.dir.clone()),
                sub: sub.to_string(),
                gen,
            });
        }
        self.clear_tree(sub, Kind::Changes(gen))?;
        let baseline = committed.is_none();
        if baseline {
            // Left by a failed baseline, if anything.
            self.clear_tree(sub, Kind::Fingerprints)?;
            self.clear_tree(sub, Kind::Records)?;
        }
        Ok(SnapshotWriter {
            db: self.db.clone(),
            dir: self.dir.clone(),
            failed: self.failed.clone(),
            current: self.open_snapshot_tree(sub, Kind::Fingerprints)?,
            changes: self.open_snapshot_tree(sub, Kind::Changes(gen))?,
            baseline: baseline
                .then(|| self.open_snapshot_tree(sub, Kind::Records))
                .transpose()?,
            seen: Vec::new(),
            staged_ids: HashSet::new(),
            batch: sled::Batch::default(),
            records_batch: sled::Batch::default(),
            batch_n: 0,
            batch_bytes: 0,
            puts: 0,
            staged: 0,
        })
    }

    /// The changes of scan generation `gen` against the committed snapshot,
    /// in record id order, each with its record: the new one for `created`
    /// and `updated`, the last known one for `deleted` (`{"id"}` alone if it
    /// was never stored).
    pub fn snapshot_diff(&self, sub: &str, gen: u64) -> Result<SnapshotDiff, StoreError> {
        let changes = self
            .snapshot_tree(sub, Kind::Changes(gen))?
            .ok_or_else(|| {
                self.corrupt(
                    &format!("snapshots of {sub}"),
                    format!("the changes of scan {gen} are missing"),
                )
            })?;
        Ok(SnapshotDiff {
            dir: self.dir.clone(),
            failed: self.failed.clone(),
            records: self.snapshot_tree(sub, Kind::Records)?,
            changes: Some(changes.iter()),
        })
    }

    /// After the commit that made `gen` current: applies its changes to the
    /// fingerprints and records, then drops them. Safe to repeat, so a kill
    /// anywhere in it is finished when the store is next opened.
    pub fn retire_snapshot(&self, sub: &str, gen: u64) -> Result<(), StoreError> {
        let Some(changes) = self.snapshot_tree(sub, Kind::Changes(gen))? else {
            return Ok(());
        };
        let mut snapshot = SnapshotUpdate::open(self, sub)?;
        for kv in changes.iter() {
            let (id, value) = kv.map_err(|e| self.storage(e))?;
            match value.split_first() {
                Some((&DELETED, _)) => snapshot.remove(id)?,
                Some((_, rest)) if rest.len() >= 16 => {
                    snapshot.put(id, &rest[..16], &rest[16..])?
                }
                _ => {
                    return Err(self.corrupt(
                        &format!("snapshot changes of {sub}"),
                        format!("entry {} is too short", String::from_utf8_lossy(&id)),
                    ))
                }
            }
        }
        snapshot.finish()?;
        // Applied changes must be on disk before the changes are gone.
        self.flush()?;
        drop(changes);
        self.clear_tree(sub, Kind::Changes(gen))?;
        self.flush()
    }

    /// Drops what a scan that failed wrote: its changes, and for a
    /// baseline (nothing committed yet) the snapshot it was building.
    pub fn drop_snapshot(&self, sub: &str, gen: u64) -> Result<(), StoreError> {
        self.clear_tree(sub, Kind::Changes(gen))?;
        if self.get(sub)?.and_then(|s| s.snapshot_gen).is_none() {
            self.clear_tree(sub, Kind::Fingerprints)?;
            self.clear_tree(sub, Kind::Records)?;
        }
        self.flush()
    }

    /// Records in the committed snapshot.
    pub fn snapshot_len(&self, sub: &str) -> Result<u64, StoreError> {
        Ok(self
            .snapshot_tree(sub, Kind::Fingerprints)?
            .map_or(0, |t| t.len() as u64))
    }

    /// Last known records stored for `sub`.
    pub fn snapshot_records_len(&self, sub: &str) -> Result<u64, StoreError> {
        Ok(self
            .snapshot_tree(sub, Kind::Records)?
            .map_or(0, |t| t.len() as u64))
    }

    /// Whether scan generation `gen` of `sub` left changes behind.
    pub fn snapshot_changes_exist(&self, sub: &str, gen: u64) -> Result<bool, StoreError> {
        Ok(self.snapshot_tree(sub, Kind::Changes(gen))?.is_some())
    }

    /// Turns a committed generation of the old layout into fingerprints and
    /// records (see [`LEGACY_PREFIX`]).
    pub(crate) fn convert_legacy(&self, sub: &str, gen: u64) -> Result<(), StoreError> {
        let Some(old) = self.snapshot_tree(sub, Kind::Legacy(gen))? else {
            return Ok(());
        };
        let mut snapshot = SnapshotUpdate::open(self, sub)?;
        for kv in old.iter() {
            let (id, value) = kv.map_err(|e| self.storage(e))?;
            if value.len() >= 16 {
                snapshot.put(id, &value[..16], &value[16..])?;
            }
        }
        snapshot.finish()?;
        self.flush()?;
        drop(old);
        self.clear_tree(sub, Kind::Legacy(gen))
    }
}

/// Writes to a subscription's fingerprints and records together, in
/// batches: applying a scan's changes, or converting the old layout.
struct SnapshotUpdate<'a> {
    store: &'a SledStore,
    fingerprints: sled::Tree,
    records: sled::Tree,
    fp_batch: sled::Batch,
    rec_batch: sled::Batch,
    n: usize,
    bytes: usize,
}

impl<'a> SnapshotUpdate<'a> {
    fn open(store: &'a SledStore, sub: &str) -> Result<Self, StoreError> {
        Ok(SnapshotUpdate {
            store,
            fingerprints: store.open_snapshot_tree(sub, Kind::Fingerprints)?,
            records: store.open_snapshot_tree(sub, Kind::Records)?,
            fp_batch: sled::Batch::default(),
            rec_batch: sled::Batch::default(),
            n: 0,
            bytes: 0,
        })
    }

    fn put(&mut self, id: sled::IVec, fingerprint: &[u8], record: &[u8]) -> Result<(), StoreError> {
        self.bytes += record.len();
        self.fp_batch.insert(id.clone(), fingerprint);
        self.rec_batch.insert(id, record);
        self.counted()
    }

    fn remove(&mut self, id: sled::IVec) -> Result<(), StoreError> {
        self.fp_batch.remove(id.clone());
        self.rec_batch.remove(id);
        self.counted()
    }

    fn counted(&mut self) -> Result<(), StoreError> {
        self.n += 1;
        if self.n >= BATCH_ENTRIES || self.bytes >= BATCH_BYTES {
            self.write()?;
        }
        Ok(())
    }

    fn write(&mut self) -> Result<(), StoreError> {
        (self.n, self.bytes) = (0, 0);
        let fp = std::mem::take(&mut self.fp_batch);
        let rec = std::mem::take(&mut self.rec_batch);
        self.fingerprints
            .apply_batch(fp)
            .and_then(|()| self.records.apply_batch(rec))
            .map_err(|e| self.store.storage(e))
    }

    /// Writes the last batch (flushing is the caller's).
    fn finish(mut self) -> Result<(), StoreError> {
        self.write()
    }
}

/// Compares one scan's records with the committed snapshot as they come,
/// writing only what changed. Nothing written here is seen by the
/// committed snapshot until the caller commits the new `snapshot_gen` and
/// retires it.
pub struct SnapshotWriter {
    db: sled::Db,
    dir: PathBuf,
    failed: Failure,
    current: sled::Tree,
    changes: sled::Tree,
    /// A baseline (nothing committed yet) writes the snapshot itself: the
    /// fingerprints into `current`, the records here. Nothing can diff
    /// against it before its commit, and a failed one is dropped.
    baseline: Option<sled::Tree>,
    /// xxh3-128 of every id seen: 16 bytes a record instead of the ids,
    /// sorted by `finish` (a hash set costs two to three times as much).
    seen: Vec<u128>,
    /// Hashes of the ids staged as created or updated: a later copy of the
    /// same id in this scan that matches the snapshot must unstage it.
    staged_ids: HashSet<u128>,
    batch: sled::Batch,
    records_batch: sled::Batch,
    batch_n: usize,
    batch_bytes: usize,
    puts: u64,
    staged: u64,
}

impl SnapshotWriter {
    /// Adds a record; a second record with the same id in one scan replaces
    /// the first.
    pub fn put(
        &mut self,
        record_id: &str,
        fingerprint: [u8; 16],
        record: &Value,
    ) -> Result<(), StoreError> {
        self.puts += 1;
        if self.baseline.is_some() {
            return self.put_baseline(record_id, fingerprint, record);
        }
        let hash = xxhash_rust::xxh3::xxh3_128(record_id.as_bytes());
        self.seen.push(hash);
        let old = self.current.get(record_id).map_err(|e| self.storage(e))?;
        let kind = match &old {
            None => CREATED,
            Some(fp) if fp.as_ref() != fingerprint.as_slice() => UPDATED,
            Some(_) => {
                if self.staged_ids.remove(&hash) {
                    // An earlier copy in this scan was staged; this one wins.
                    self.write_batch()?;
                    self.changes
                        .remove(record_id)
                        .map_err(|e| self.storage(e))?;
                    self.staged -= 1;
                }
                return Ok(());
            }
        };
        if !self.staged_ids.insert(hash) {
            // Staged before in this scan: this copy replaces that one.
            self.staged -= 1;
        }
        let mut value = Vec::with_capacity(256);
        value.push(kind);
        value.extend_from_slice(&fingerprint);
        let value = self.json(record_id, record, value)?;
        self.stage(record_id.as_bytes(), value)
    }

    fn put_baseline(
        &mut self,
        record_id: &str,
        fingerprint: [u8; 16],
        record: &Value,
    ) -> Result<(), StoreError> {
        let json = self.json(record_id, record, Vec::with_capacity(256))?;
        self.batch_bytes += record_id.len() + json.len();
        self.batch_n += 1;
        self.staged += 1;
        self.batch
            .insert(record_id.as_bytes(), fingerprint.as_slice());
        self.records_batch.insert(record_id.as_bytes(), json);
        if self.batch_n >= BATCH_ENTRIES || self.batch_bytes >= BATCH_BYTES {
            self.write_batch()?;
        }
        Ok(())
    }

    fn json(
        &self,
        record_id: &str,
        record: &Value,
        mut out: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        serde_json::to_writer(&mut out, record).map_err(|e| StoreError::Corrupt {
            at: crate::Place::Dir(self.dir.clone()),
            what: format!("snapshot record {record_id}"),
            detail: e.to_string(),
        })?;
        Ok(out)
    }

    fn stage(&mut self, id: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
        self.batch_bytes += id.len() + value.len();
        self.batch_n += 1;
        self.staged += 1;
        self.batch.insert(id, value);
        if self.batch_n >= BATCH_ENTRIES || self.batch_bytes >= BATCH_BYTES {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Records put so far, duplicates included.
    pub fn puts(&self) -> u64 {
        self.puts
    }

    /// Changes written: created and updated records so far, and after
    /// [`SnapshotWriter::finish`] the deleted ones too.
    pub fn staged(&self) -> u64 {
        self.staged
    }

    /// Marks every committed record this scan did not see as deleted, and
    /// flushes. Returns what the scan changed against the committed
    /// snapshot.
    pub fn finish(mut self) -> Result<Finished, StoreError> {
        let keys = match self.baseline {
            // A baseline's own records are all it holds.
            Some(_) => None,
            None => Some(self.current.iter().keys()),
        };
        self.seen.sort_unstable();
        let (mut previous, mut deleted) = (0u64, 0u64);
        for key in keys.into_iter().flatten() {
            let id = key.map_err(|e| self.storage(e))?;
            previous += 1;
            if self
                .seen
                .binary_search(&xxhash_rust::xxh3::xxh3_128(&id))
                .is_err()
            {
                deleted += 1;
                self.stage(&id, vec![DELETED])?;
            }
        }
        self.write_batch()?;
        self.db.flush().map_err(|e| self.storage(e))?;
        Ok(Finished {
            changes: self.staged,
            deleted,
            previous,
        })
    }

    fn write_batch(&mut self) -> Result<(), StoreError> {
        let batch = std::mem::take(&mut self.batch);
        self.batch_n = 0;
        self.batch_bytes = 0;
        match &self.baseline {
            None => self.changes.apply_batch(batch),
            Some(records) => {
                let done = self.current.apply_batch(batch);
                done.and_then(|()| records.apply_batch(std::mem::take(&mut self.records_batch)))
            }
        }
        .map_err(|e| self.storage(e))
    }

    fn storage(&self, source: sled::Error) -> StoreError {
        storage(&self.dir, &self.failed, source)
    }
}

fn storage(dir: &std::path::Path, failed: &Failure, source: sled::Error) -> StoreError {
    note_failure(failed, dir, &source);
    StoreError::Storage {
        dir: dir.to_path_buf(),
        source,
    }
}

/// What a finished scan changed, from [`SnapshotWriter::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// Created, updated and deleted records.
    pub changes: u64,
    /// Records of the committed snapshot the scan did not see.
    pub deleted: u64,
    /// Records in the committed snapshot (0 for a baseline).
    pub previous: u64,
}

/// Iterator of a scan's changes; see [`SledStore::snapshot_diff`].
pub struct SnapshotDiff {
    dir: PathBuf,
    failed: Failure,
    records: Option<sled::Tree>,
    changes: Option<sled::Iter>,
}

impl SnapshotDiff {
    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt {
            at: crate::Place::Dir(self.dir.clone()),
            what: "snapshot changes".into(),
            detail,
        }
    }

    fn next_event(&mut self) -> Result<Option<NewEvent>, StoreError> {
        let Some(changes) = &mut self.changes else {
            return Ok(None);
        };
        let (id, value) = match changes.next() {
            None => return Ok(None),
            Some(kv) => kv.map_err(|e| storage(&self.dir, &self.failed, e))?,
        };
        let record_id = String::from_utf8(id.to_vec())
            .map_err(|_| self.corrupt("record id is not UTF-8".into()))?;
        // Stored by `put` from a serialized value: only checked, not built.
        let parse = |json: &[u8]| {
            std::str::from_utf8(json)
                .map_err(|e| self.corrupt(format!("entry {record_id}: {e}")))
                .and_then(|text| {
                    RawValue::from_string(text.to_string())
                        .map_err(|e| self.corrupt(format!("entry {record_id}: {e}")))
                })
        };
        let (change, record) = match value.split_first() {
            Some((&DELETED, _)) => {
                let last = match &self.records {
                    Some(t) => t
                        .get(&id)
                        .map_err(|e| storage(&self.dir, &self.failed, e))?,
                    None => None,
                };
                let record = match last {
                    Some(json) => parse(&json)?,
                    // Never stored (a data dir older than kept records).
                    None => runtime_events::raw(&serde_json::json!({ "id": record_id })),
                };
                (ChangeType::Deleted, record)
            }
            Some((&kind, rest)) if rest.len() >= 16 && (kind == CREATED || kind == UPDATED) => {
                let change = if kind == CREATED {
                    ChangeType::Created
                } else {
                    ChangeType::Updated
                };
                (change, parse(&rest[16..])?)
            }
            _ => return Err(self.corrupt(format!("entry {record_id} is malformed"))),
        };
        Ok(Some(NewEvent {
            change,
            record_id,
            record,
        }))
    }
}

impl Iterator for SnapshotDiff {
    type Item = Result<NewEvent, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.next_event().transpose();
        if matches!(item, Some(Err(_))) {
            // An error ends the diff: a partial diff must not look complete.
            self.changes = None;
        }
        item
    }
}

//! Full-scan snapshots: one sled tree per (subscription, generation),
//! record id -> 16-byte fingerprint followed by the record's JSON. Trees are
//! sorted by key, so two generations are compared by walking both at once,
//! never holding either in memory.

use std::cmp::Ordering;
use std::path::PathBuf;

use runtime_events::{ChangeType, NewEvent};
use serde_json::Value;

use crate::sled_store::{note_failure, Failure};
use crate::{SledStore, StateStore, StoreError};

/// Records written per sled batch: large enough to amortise, small enough
/// that the pending batch stays a few MiB.
const BATCH_RECORDS: usize = 1000;
const PREFIX: &[u8] = b"snap\0";

fn tree_name(sub: &str, gen: u64) -> Vec<u8> {
    let mut name = PREFIX.to_vec();
    name.extend_from_slice(sub.as_bytes());
    name.push(0);
    name.extend_from_slice(gen.to_string().as_bytes());
    name
}

/// `(sub, generation)` of a snapshot tree name; `None` for other trees.
pub(crate) fn parse_tree_name(name: &[u8]) -> Option<(String, u64)> {
    let rest = name.strip_prefix(PREFIX)?;
    let split = rest.iter().rposition(|&b| b == 0)?;
    let sub = std::str::from_utf8(&rest[..split]).ok()?;
    let gen = std::str::from_utf8(&rest[split + 1..]).ok()?.parse().ok()?;
    Some((sub.to_string(), gen))
}

impl SledStore {
    fn snapshot_tree(&self, sub: &str, gen: u64) -> Result<Option<sled::Tree>, StoreError> {
        let name = tree_name(sub, gen);
        // open_tree would create a missing tree; a missing generation must
        // stay visible as missing.
        if !self
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == name.as_slice())
        {
            return Ok(None);
        }
        self.db
            .open_tree(name)
            .map(Some)
            .map_err(|e| self.storage(e))
    }

    fn require_snapshot(&self, sub: &str, gen: u64) -> Result<sled::Tree, StoreError> {
        self.snapshot_tree(sub, gen)?.ok_or_else(|| {
            self.corrupt(
                &format!("snapshots of {sub}"),
                format!("generation {gen} is missing"),
            )
        })
    }

    /// Starts writing generation `gen` of `sub`'s snapshot, discarding
    /// whatever an interrupted scan left under that generation. Refuses the
    /// generation the subscription's committed state points at.
    pub fn snapshot_writer(&self, sub: &str, gen: u64) -> Result<SnapshotWriter, StoreError> {
        if self.get(sub)?.and_then(|s| s.snapshot_gen) == Some(gen) {
            return Err(StoreError::CommittedSnapshot {
                dir: self.dir.clone(),
                sub: sub.to_string(),
                gen,
            });
        }
        let name = tree_name(sub, gen);
        self.db.drop_tree(&name).map_err(|e| self.storage(e))?;
        let tree = self.db.open_tree(&name).map_err(|e| self.storage(e))?;
        Ok(SnapshotWriter {
            db: self.db.clone(),
            dir: self.dir.clone(),
            failed: self.failed.clone(),
            tree,
            batch: sled::Batch::default(),
            batched: 0,
            puts: 0,
        })
    }

    /// Changes from generation `old_gen` to `new_gen`, in record id order.
    /// With no old generation (the baseline scan) there are none.
    pub fn snapshot_diff(
        &self,
        sub: &str,
        old_gen: Option<u64>,
        new_gen: u64,
    ) -> Result<SnapshotDiff, StoreError> {
        let new = self.require_snapshot(sub, new_gen)?;
        let (old, new) = match old_gen {
            None => (None, None),
            Some(g) => (
                Some(self.require_snapshot(sub, g)?.iter()),
                Some(new.iter()),
            ),
        };
        Ok(SnapshotDiff {
            dir: self.dir.clone(),
            failed: self.failed.clone(),
            old,
            new,
            old_head: None,
            new_head: None,
        })
    }

    pub fn drop_snapshot(&self, sub: &str, gen: u64) -> Result<(), StoreError> {
        self.db
            .drop_tree(tree_name(sub, gen))
            .map_err(|e| self.storage(e))?;
        self.flush()
    }

    /// Records in a generation; 0 when it does not exist.
    pub fn snapshot_len(&self, sub: &str, gen: u64) -> Result<u64, StoreError> {
        Ok(self.snapshot_tree(sub, gen)?.map_or(0, |t| t.len() as u64))
    }
}

/// Writes one scan's records. Nothing written here is visible to a diff's
/// old side until the caller commits the new `snapshot_gen`.
pub struct SnapshotWriter {
    db: sled::Db,
    dir: PathBuf,
    failed: Failure,
    tree: sled::Tree,
    batch: sled::Batch,
    batched: usize,
    puts: u64,
}

impl SnapshotWriter {
    /// Adds a record; a second record with the same id in one scan replaces
    /// the first (see [`SnapshotWriter::finish`]).
    pub fn put(
        &mut self,
        record_id: &str,
        fingerprint: [u8; 16],
        record: &Value,
    ) -> Result<(), StoreError> {
        let mut value = fingerprint.to_vec();
        serde_json::to_writer(&mut value, record).map_err(|e| StoreError::Corrupt {
            dir: self.dir.clone(),
            what: format!("snapshot record {record_id}"),
            detail: e.to_string(),
        })?;
        self.batch.insert(record_id.as_bytes(), value);
        self.puts += 1;
        self.batched += 1;
        if self.batched >= BATCH_RECORDS {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Records put so far, duplicates included.
    pub fn puts(&self) -> u64 {
        self.puts
    }

    /// Writes what is left and flushes; returns the number of distinct
    /// records, so `puts() - finish()` is the number of duplicate ids.
    /// Counting once here is cheaper than a lookup on every put.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.write_batch()?;
        self.db.flush().map_err(|e| self.storage(e))?;
        Ok(self.tree.len() as u64)
    }

    fn write_batch(&mut self) -> Result<(), StoreError> {
        let batch = std::mem::take(&mut self.batch);
        self.batched = 0;
        self.tree.apply_batch(batch).map_err(|e| self.storage(e))
    }

    fn storage(&self, source: sled::Error) -> StoreError {
        note_failure(&self.failed, &self.dir, &source);
        StoreError::Storage {
            dir: self.dir.clone(),
            source,
        }
    }
}

type Entry = (sled::IVec, sled::IVec);

/// Iterator of the changes between two generations; see
/// [`SledStore::snapshot_diff`].
pub struct SnapshotDiff {
    dir: PathBuf,
    failed: Failure,
    old: Option<sled::Iter>,
    new: Option<sled::Iter>,
    old_head: Option<Entry>,
    new_head: Option<Entry>,
}

impl SnapshotDiff {
    /// Refills an empty head from its iterator; drops the iterator at its end.
    fn fill(
        iter: &mut Option<sled::Iter>,
        head: &mut Option<Entry>,
        dir: &std::path::Path,
        failed: &Failure,
    ) -> Result<(), StoreError> {
        if head.is_none() {
            if let Some(it) = iter {
                match it.next() {
                    Some(Ok(kv)) => *head = Some(kv),
                    Some(Err(source)) => {
                        note_failure(failed, dir, &source);
                        return Err(StoreError::Storage {
                            dir: dir.to_path_buf(),
                            source,
                        });
                    }
                    None => *iter = None,
                }
            }
        }
        Ok(())
    }

    fn event(&self, change: ChangeType, (key, value): Entry) -> Result<NewEvent, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            dir: self.dir.clone(),
            what: "snapshot".into(),
            detail,
        };
        let record_id = String::from_utf8(key.to_vec())
            .map_err(|_| corrupt("record id is not UTF-8".into()))?;
        let json = value
            .get(16..)
            .ok_or_else(|| corrupt(format!("entry {record_id} is shorter than its fingerprint")))?;
        let record =
            serde_json::from_slice(json).map_err(|e| corrupt(format!("entry {record_id}: {e}")))?;
        Ok(NewEvent {
            change,
            record_id,
            record,
        })
    }

    fn step(&mut self) -> Result<Option<NewEvent>, StoreError> {
        loop {
            Self::fill(&mut self.old, &mut self.old_head, &self.dir, &self.failed)?;
            Self::fill(&mut self.new, &mut self.new_head, &self.dir, &self.failed)?;
            let order = match (&self.old_head, &self.new_head) {
                (None, None) => return Ok(None),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((o, _)), Some((n, _))) => o.cmp(n),
            };
            match order {
                Ordering::Less => {
                    let old = self.old_head.take();
                    return old.map(|e| self.event(ChangeType::Deleted, e)).transpose();
                }
                Ordering::Greater => {
                    let new = self.new_head.take();
                    return new.map(|e| self.event(ChangeType::Created, e)).transpose();
                }
                Ordering::Equal => {
                    let (old, new) = (self.old_head.take(), self.new_head.take());
                    if let (Some((_, ov)), Some(n)) = (old, new) {
                        if ov.get(..16) != n.1.get(..16) {
                            return self.event(ChangeType::Updated, n).map(Some);
                        }
                    }
                }
            }
        }
    }
}

impl Iterator for SnapshotDiff {
    type Item = Result<NewEvent, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.step().transpose();
        if matches!(item, Some(Err(_))) {
            // An error ends the diff: a partial diff must not look complete.
            self.old = None;
            self.new = None;
            self.old_head = None;
            self.new_head = None;
        }
        item
    }
}

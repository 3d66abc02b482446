use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use runtime_crash::crash_point;
use runtime_events::{Event, EventLine, LineRef, NewEvent};
use sled::transaction::{TransactionError, Transactional};

use crate::outbox::{self, Chunk, Item};
use crate::snapshot::{self, Kind};
use crate::{now_rfc3339, Claim, StoreError, SubId, SubscriptionState};

/// At most this much of the outbox is handed out at once (but always one
/// event), so a large `pending` limit cannot pull huge records into memory.
const PENDING_BYTES: usize = 8 << 20;
/// How long `open` waits for a lock just released in this process.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// Outbox bytes written per sled batch by a commit.
const COMMIT_BATCH_BYTES: usize = 1 << 20;

/// Keeps a full scan of a million records from pulling the whole snapshot
/// into sled's page cache (its default is 1 GiB). sled's real footprint is
/// several times the setting: an unchanged scan of 1,000,000 records
/// peaked at 208 MiB with 16 MiB, 164 MiB with 8 and 122-145 MiB with 4,
/// in about the same time (docs/benchmarks.md).
const CACHE_BYTES: u64 = 4 * 1024 * 1024;
const INSTANCE_KEY: &[u8] = b"instance";
const NEXT_SEQ_KEY: &[u8] = b"next_seq";
const CONNECTION_KEY: &[u8] = b"connection";

/// The store on sled: trees `meta` (instance id, event sequence), `subs`
/// (sub id -> JSON state), `outbox` (big-endian sequence of the first event
/// -> a run of events as their sink lines, see `outbox`), `connections`
/// (the records of `runtime serve`'s connections, as the caller gives them:
/// [`crate::Sled`] seals them), and the full-scan snapshot trees.
pub struct SledStore {
    pub(crate) db: sled::Db,
    pub(crate) dir: PathBuf,
    meta: sled::Tree,
    subs: sled::Tree,
    outbox: sled::Tree,
    connections: sled::Tree,
    instance: String,
    /// Events with a lower sequence are on disk. A commit's events sit in
    /// sled's memory from its transaction until its flush; `pending` hands
    /// out only durable ones, so a commit whose flush fails (a full disk)
    /// never reaches the sink.
    durable: AtomicU64,
    /// The first I/O error (see [`SledStore::failure`]).
    pub(crate) failed: Failure,
    /// Group commit: see [`SledStore::flush`].
    flushes: FlushGate,
    /// Held while a commit takes its sequence numbers and writes them.
    commits: Mutex<()>,
}

/// Concurrent commits share fsyncs: a writer takes a ticket after its
/// writes; whoever flushes next covers every ticket taken before it began,
/// and the writers holding those tickets return without flushing again.
#[derive(Default)]
struct FlushGate {
    tickets: AtomicU64,
    /// The highest ticket known to be on disk; held while flushing.
    flushed: Mutex<u64>,
}

/// Shared with snapshot writers and diffs, which hit the same disk.
pub(crate) type Failure = Arc<OnceLock<String>>;

/// Remembers the first error that means the database cannot be trusted to
/// write any more (sled makes such errors sticky).
pub(crate) fn note_failure(failed: &Failure, dir: &Path, source: &sled::Error) {
    let why = match source {
        sled::Error::Io(e) => format!("cannot write ({}): {e}", e.kind()),
        sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) => source.to_string(),
        sled::Error::CollectionNotFound(_) | sled::Error::Unsupported(_) => return,
    };
    let _ = failed.set(format!("data dir {}: {why}", dir.display()));
}

impl SledStore {
    /// Opens (creating if needed) the store in `dir`. Fails with
    /// [`StoreError::InUse`] when another process holds the directory.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        // A store dropped a moment ago in this process keeps its lock until
        // sled's flusher thread notices (up to its flush interval), so a
        // held lock is retried briefly before it counts as another process.
        let started = std::time::Instant::now();
        let db = loop {
            match sled::Config::new()
                .path(dir)
                .cache_capacity(CACHE_BYTES)
                .open()
                .map_err(|e| open_error(dir, e))
            {
                Err(StoreError::InUse { .. }) if started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        let dir = dir.to_path_buf();
        let tree = |name: &str| {
            db.open_tree(name).map_err(|source| StoreError::Open {
                dir: dir.clone(),
                source,
            })
        };
        let (meta, subs, outbox) = (tree("meta")?, tree("subs")?, tree("outbox")?);
        let connections = tree("connections")?;
        let mut store = SledStore {
            db,
            dir,
            meta,
            subs,
            outbox,
            connections,
            instance: String::new(),
            durable: AtomicU64::new(0),
            failed: Failure::default(),
            flushes: FlushGate::default(),
            commits: Mutex::new(()),
        };
        store.instance = store.instance_id_or_create()?;
        store.drop_uncommitted_events()?;
        store.recover_snapshots()?;
        // Everything found at open is on disk.
        store.durable = AtomicU64::new(store.next_seq()?);
        Ok(store)
    }

    /// The first write error of this store, naming the data dir. sled keeps
    /// failing every write after an I/O error (a full disk, a file size
    /// limit), even once the cause is gone: the process must stop and a
    /// new one reopen the directory, which then recovers the last flushed
    /// state.
    pub fn failure(&self) -> Option<String> {
        self.failed.get().cloned()
    }

    fn next_seq(&self) -> Result<u64, StoreError> {
        match self.meta.get(NEXT_SEQ_KEY).map_err(|e| self.storage(e))? {
            None => Ok(0),
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| self.corrupt("meta", "next_seq is not 8 bytes")),
        }
    }

    /// Binds the data dir to one connection. The first claim records
    /// `connection`; later claims by the same connection pass, and a claim
    /// by any other fails with [`StoreError::OtherConnection`]: its state,
    /// watermarks and snapshots belong to another customer's account.
    pub fn claim_connection(&self, connection: &str) -> Result<Claim, StoreError> {
        let had_state = !self.subs.is_empty();
        let swapped = self
            .meta
            .compare_and_swap(
                CONNECTION_KEY,
                None as Option<&[u8]>,
                Some(connection.as_bytes()),
            )
            .map_err(|e| self.storage(e))?;
        match swapped {
            Ok(()) => {
                self.flush()?;
                Ok(if had_state {
                    Claim::Adopted
                } else {
                    Claim::New
                })
            }
            Err(current) => {
                let owner = current
                    .current
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
                    .unwrap_or_default();
                if owner == connection {
                    Ok(Claim::Same)
                } else {
                    Err(StoreError::OtherConnection {
                        at: crate::Place::Dir(self.dir.clone()),
                        owner,
                        connection: connection.to_string(),
                    })
                }
            }
        }
    }

    /// The connection the data dir belongs to, if one claimed it.
    pub fn connection(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .meta
            .get(CONNECTION_KEY)
            .map_err(|e| self.storage(e))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Random id made once per data dir; prefixes every event id so ids
    /// stay unique even across data dirs.
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn instance_id_or_create(&self) -> Result<String, StoreError> {
        let fresh = format!("{:016x}", rand::random::<u64>());
        // Only the first open of a data dir stores an id; later ones keep it.
        self.meta
            .compare_and_swap(INSTANCE_KEY, None as Option<&[u8]>, Some(fresh.as_bytes()))
            .map_err(|e| self.storage(e))?
            .ok();
        self.flush()?;
        let stored = self.meta.get(INSTANCE_KEY).map_err(|e| self.storage(e))?;
        stored
            .and_then(|v| String::from_utf8(v.to_vec()).ok())
            .ok_or_else(|| self.corrupt("meta", "instance id is missing or not UTF-8"))
    }

    /// Events a commit wrote before it was killed short of its commit point
    /// (see `commit`): past next_seq, never handed out, and in the way of
    /// the next commit's numbers.
    fn drop_uncommitted_events(&self) -> Result<(), StoreError> {
        let next = self.next_seq()?.to_be_bytes();
        let mut batch = sled::Batch::default();
        let mut any = false;
        for key in self.outbox.range(next.as_slice()..).keys() {
            batch.remove(key.map_err(|e| self.storage(e))?);
            any = true;
        }
        if any {
            self.outbox
                .apply_batch(batch)
                .map_err(|e| self.storage(e))?;
            self.flush()?;
        }
        Ok(())
    }

    /// Snapshot trees left by a kill: a committed scan's changes not yet
    /// retired are applied, a generation of the old layout is converted,
    /// and whatever no committed state points at is dropped.
    fn recover_snapshots(&self) -> Result<(), StoreError> {
        let trees = || -> Vec<(String, Kind)> {
            self.db
                .tree_names()
                .iter()
                .filter_map(|name| snapshot::parse_tree_name(name))
                .collect()
        };
        for (sub, kind) in trees() {
            let current = self.get(&sub)?.and_then(|s| s.snapshot_gen);
            match kind {
                Kind::Changes(g) if Some(g) == current => self.retire_snapshot(&sub, g)?,
                Kind::Legacy(g) if Some(g) == current => self.convert_legacy(&sub, g)?,
                _ => {}
            }
        }
        for (sub, kind) in trees() {
            let current = self.get(&sub)?.and_then(|s| s.snapshot_gen);
            if matches!(kind, Kind::Changes(_) | Kind::Legacy(_)) || current.is_none() {
                self.clear_tree(&sub, kind)?;
            }
        }
        self.flush()
    }

    pub(crate) fn storage(&self, source: sled::Error) -> StoreError {
        note_failure(&self.failed, &self.dir, &source);
        StoreError::Storage {
            dir: self.dir.clone(),
            source,
        }
    }

    pub(crate) fn corrupt(&self, what: &str, detail: impl ToString) -> StoreError {
        StoreError::Corrupt {
            at: crate::Place::Dir(self.dir.clone()),
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }

    /// Makes everything written so far durable (one fsync shared with the
    /// writers flushing at the same moment).
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        let mine = self.flushes.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = self
            .flushes
            .flushed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *flushed >= mine {
            return Ok(());
        }
        // Every ticket up to here was taken after its writes were made.
        let covers = self.flushes.tickets.load(Ordering::SeqCst);
        self.db.flush().map_err(|e| self.storage(e))?;
        *flushed = covers;
        Ok(())
    }

    fn tx_error(&self, e: TransactionError<StoreError>) -> StoreError {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.storage(e),
        }
    }

    fn decode_state(&self, sub: &[u8], bytes: &[u8]) -> Result<SubscriptionState, StoreError> {
        serde_json::from_slice(bytes)
            .map_err(|e| self.corrupt(&format!("subs[{}]", String::from_utf8_lossy(sub)), e))
    }

    /// The events of an outbox entry.
    fn decode_entry<'a>(&self, key: &[u8], value: &'a [u8]) -> Result<Vec<Item<'a>>, StoreError> {
        outbox::decode(key, value).map_err(|e| self.corrupt("outbox", e))
    }

    /// Rewrites the entry under `key` with only `kept`, or removes it.
    fn keep_in_entry(&self, batch: &mut sled::Batch, key: &[u8], kept: &[Item]) {
        let first = <[u8; 8]>::try_from(key).map_or(0, u64::from_be_bytes);
        match Chunk::rebuild(first, kept) {
            Some(chunk) => batch.insert(key, chunk.bytes),
            None => batch.remove(key),
        }
    }

    fn event_id(&self, seq: u64) -> String {
        crate::view::event_id(&self.instance, seq)
    }

    fn seq_of(&self, id: &str) -> Option<u64> {
        crate::view::seq_of(&self.instance, id)
    }
}

fn open_error(dir: &Path, source: sled::Error) -> StoreError {
    // sled reports a held lock only as an io::Error of kind Other with this text.
    if let sled::Error::Io(e) = &source {
        if e.to_string().contains("could not acquire lock") {
            return StoreError::InUse {
                dir: dir.to_path_buf(),
            };
        }
    }
    StoreError::Open {
        dir: dir.to_path_buf(),
        source,
    }
}

/// The sled store's own (blocking) API; [`crate::Sled`] serves it as a
/// [`crate::Store`].
impl SledStore {
    pub fn get(&self, sub: &str) -> Result<Option<SubscriptionState>, StoreError> {
        match self.subs.get(sub).map_err(|e| self.storage(e))? {
            Some(bytes) => self.decode_state(sub.as_bytes(), &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub fn list(&self) -> Result<Vec<(SubId, SubscriptionState)>, StoreError> {
        self.list_where(b"", |_| true)
    }

    /// The subscriptions whose keys start with `prefix` and pass `keep`,
    /// decoded: a tenant's listing reads its own keys alone (decoding every
    /// tenant's state made creating connection N cost O(N): 10,000
    /// connections took minutes to create).
    pub fn list_where(
        &self,
        prefix: &[u8],
        keep: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<(SubId, SubscriptionState)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.subs.scan_prefix(prefix) {
            let (k, v) = kv.map_err(|e| self.storage(e))?;
            if !keep(&k) {
                continue;
            }
            let state = self.decode_state(&k, &v)?;
            out.push((String::from_utf8_lossy(&k).into_owned(), state));
        }
        Ok(out)
    }

    pub fn commit(
        &self,
        sub: &str,
        state: &SubscriptionState,
        events: Vec<NewEvent>,
    ) -> Result<Vec<String>, StoreError> {
        let state_json = serde_json::to_vec(state).map_err(|e| self.corrupt("subs", e))?;
        let emitted_at = now_rfc3339();
        let count = events.len() as u64;
        let (end, ids) = {
            // One commit at a time takes sequence numbers and writes them.
            let _turn = self
                .commits
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let next = self.next_seq()?;
            // The events go in first, in batches, under sequence numbers
            // past next_seq: nothing reads there (`pending` stops at the
            // durable mark, and opening the store deletes such leftovers).
            // A sled transaction holding them all would cost ~10 KB of
            // memory per event, 100 MB for a full scan's 10,000 changes.
            let mut ids = Vec::with_capacity(events.len());
            let mut batch = sled::Batch::default();
            let mut batched = 0usize;
            let mut chunk = Chunk::new(next);
            for (seq, e) in (next..).zip(events) {
                let id = self.event_id(seq);
                // The entry holds the sink line itself, so delivery only
                // copies it out.
                let line = LineRef {
                    id: &id,
                    connector: &state.connector,
                    connection: state.connection.as_deref(),
                    collection: &state.collection,
                    change: e.change,
                    record_id: &e.record_id,
                    record: &e.record,
                    strategy: &state.strategy,
                    emitted_at: &emitted_at,
                };
                chunk
                    .push(seq, sub, |b| serde_json::to_writer(b, &line))
                    .map_err(|e| self.corrupt("outbox", e))?;
                ids.push(id);
                if chunk.is_full() {
                    let full = std::mem::replace(&mut chunk, Chunk::new(seq + 1));
                    batched += full.bytes.len();
                    batch.insert(&full.first.to_be_bytes(), full.bytes);
                }
                if batched >= COMMIT_BATCH_BYTES {
                    self.outbox
                        .apply_batch(std::mem::take(&mut batch))
                        .map_err(|e| self.storage(e))?;
                    batched = 0;
                }
            }
            if chunk.first < next + count {
                batch.insert(&chunk.first.to_be_bytes(), chunk.bytes);
            }
            self.outbox
                .apply_batch(batch)
                .map_err(|e| self.storage(e))?;
            crash_point!("before-commit-point");
            // The commit point: the state and the sequence that makes the
            // events part of the store, atomically.
            (&self.subs, &self.meta)
                .transaction(|(subs, meta)| {
                    meta.insert(NEXT_SEQ_KEY, &(next + count).to_be_bytes())?;
                    subs.insert(sub.as_bytes(), state_json.as_slice())?;
                    Ok(())
                })
                .map_err(|e: TransactionError<StoreError>| self.tx_error(e))?;
            (next + count, ids)
        };
        crash_point!("after-commit-batch");
        self.flush()?;
        crash_point!("after-flush");
        // The flush covered every earlier commit too: they took lower
        // sequence numbers and finished their writes before this one began.
        self.durable.fetch_max(end, Ordering::SeqCst);
        Ok(ids)
    }

    pub fn pending_lines(&self, limit: usize) -> Result<Vec<EventLine>, StoreError> {
        let durable = self.durable.load(Ordering::SeqCst).to_be_bytes();
        let mut out = Vec::new();
        let mut bytes = 0;
        'entries: for kv in self.outbox.range(..durable.as_slice()) {
            let (k, v) = kv.map_err(|e| self.storage(e))?;
            for item in self.decode_entry(&k, &v)? {
                if out.len() >= limit
                    || (!out.is_empty() && bytes + item.line.len() > PENDING_BYTES)
                {
                    break 'entries;
                }
                bytes += item.line.len();
                out.push(EventLine {
                    id: self.event_id(item.seq),
                    json: item.line.into_owned(),
                });
            }
        }
        Ok(out)
    }

    pub fn pending(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.pending_lines(limit)?
            .iter()
            .map(|line| {
                line.decode()
                    .map_err(|e| self.corrupt("outbox", format!("event {}: {e}", line.id)))
            })
            .collect()
    }

    pub fn ack(&self, ids: &[String]) -> Result<(), StoreError> {
        let mut seqs: Vec<u64> = ids.iter().filter_map(|id| self.seq_of(id)).collect();
        seqs.sort_unstable();
        seqs.dedup();
        let mut batch = sled::Batch::default();
        let mut rest = seqs.as_slice();
        // Each entry holding an acknowledged event loses it: delivery acks
        // whole entries, except where a page of `pending` ended inside one.
        while let Some(&seq) = rest.first() {
            let found = self.outbox.range(..=seq.to_be_bytes()).next_back();
            let Some((k, v)) = found.transpose().map_err(|e| self.storage(e))? else {
                rest = &rest[1..];
                continue;
            };
            let items = self.decode_entry(&k, &v)?;
            let (held, last) = (items.len(), items.last().map_or(seq, |i| i.seq));
            // The acknowledged events up to this entry's last (at least
            // `seq`, which may be unknown: already gone, or never stored).
            let (mine, later) = rest.split_at(rest.partition_point(|&s| s <= last).max(1));
            let kept: Vec<Item> = items
                .into_iter()
                .filter(|i| mine.binary_search(&i.seq).is_err())
                .collect();
            if kept.len() != held {
                self.keep_in_entry(&mut batch, &k, &kept);
            }
            rest = later;
        }
        self.outbox
            .apply_batch(batch)
            .map_err(|e| self.storage(e))?;
        self.flush()
    }

    pub fn pending_count(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for v in self.outbox.iter().values() {
            n += outbox::count(&v.map_err(|e| self.storage(e))?);
        }
        Ok(n)
    }

    /// Undelivered events of the subscriptions `keep` selects (by stored
    /// sub id). A scan of the outbox: for status pages, not for hot paths.
    pub fn pending_count_where(&self, keep: impl Fn(&str) -> bool) -> Result<u64, StoreError> {
        let mut n = 0;
        for kv in self.outbox.iter() {
            let (k, v) = kv.map_err(|e| self.storage(e))?;
            n += self
                .decode_entry(&k, &v)?
                .iter()
                .filter(|i| keep(&i.sub))
                .count() as u64;
        }
        Ok(n)
    }

    /// Forgets a subscription's state and snapshots but keeps its
    /// undelivered events: they were committed, and will be delivered.
    pub fn forget(&self, sub: &str) -> Result<(), StoreError> {
        self.subs
            .remove(sub.as_bytes())
            .map_err(|e| self.storage(e))?;
        for name in self.db.tree_names() {
            if let Some((s, kind)) = snapshot::parse_tree_name(&name).filter(|(s, _)| s == sub) {
                self.clear_tree(&s, kind)?;
            }
        }
        self.flush()
    }

    /// A value of the `meta` tree, as stored.
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .meta
            .get(key.as_bytes())
            .map_err(|e| self.storage(e))?
            .map(|v| v.to_vec()))
    }

    /// Sets a value of the `meta` tree; durable when this returns.
    pub fn meta_put(&self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.meta
            .insert(key.as_bytes(), value)
            .map_err(|e| self.storage(e))?;
        self.flush()
    }

    /// Stores a connection record under `id`, replacing any; durable when
    /// this returns.
    pub fn put_connection(&self, id: &str, record: Vec<u8>) -> Result<(), StoreError> {
        self.connections
            .insert(id.as_bytes(), record)
            .map_err(|e| self.storage(e))?;
        self.flush()
    }

    /// Every connection record, by id.
    pub fn connection_records(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.connections.iter() {
            let (k, v) = kv.map_err(|e| self.storage(e))?;
            out.push((String::from_utf8_lossy(&k).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    /// Removes a connection record (absent: nothing happens).
    pub fn delete_connection(&self, id: &str) -> Result<(), StoreError> {
        self.connections
            .remove(id.as_bytes())
            .map_err(|e| self.storage(e))?;
        self.flush()
    }

    pub fn reset(&self, sub: &str) -> Result<(), StoreError> {
        let mut rewrites = sled::Batch::default();
        for kv in self.outbox.iter() {
            let (k, v) = kv.map_err(|e| self.storage(e))?;
            let items = self.decode_entry(&k, &v)?;
            if items.iter().any(|i| i.sub == sub) {
                let kept: Vec<Item> = items.into_iter().filter(|i| i.sub != sub).collect();
                self.keep_in_entry(&mut rewrites, &k, &kept);
            }
        }
        (&self.subs, &self.outbox)
            .transaction(|(subs, outbox)| {
                subs.remove(sub.as_bytes())?;
                outbox.apply_batch(&rewrites)?;
                Ok(())
            })
            .map_err(|e| self.tx_error(e))?;
        for name in self.db.tree_names() {
            if let Some((s, kind)) = snapshot::parse_tree_name(&name).filter(|(s, _)| s == sub) {
                self.clear_tree(&s, kind)?;
            }
        }
        self.flush()
    }
}

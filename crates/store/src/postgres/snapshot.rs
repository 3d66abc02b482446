//! Full-scan snapshots on PostgreSQL: the committed snapshot is rows of
//! `runtime_snapshot` (record id -> fingerprint, last known record), and a
//! scan writes its changes as rows of `runtime_snapshot_changes` under its
//! generation, which the commit making that generation current applies in
//! its own transaction ([`retire`]): no scan leaves a mix of two.
//!
//! [`crate::SnapshotSink::put`] is synchronous and called once per record
//! from the scan's blocking task, so the writer does no I/O there: records
//! go in batches over a bounded channel to a thread of its own (its own
//! connection on its own current-thread runtime, so it never blocks or
//! borrows the caller's), which looks up a batch's committed fingerprints
//! in one query and writes only what changed. Unchanged records cost one
//! lookup each and nothing written; the ids seen are kept as 16-byte
//! hashes so the committed records the scan did not see (the deleted) are
//! found by one pass over the committed ids at `finish`.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc;

use futures::TryStreamExt;
use runtime_events::{ChangeType, NewEvent};
use serde_json::value::RawValue;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use sqlx::{Connection, Row};

use crate::{Finished, Place, SnapshotSink, StoreError};

/// Records per lookup and write: one round trip amortised over many, and
/// statements that stay small.
const BATCH: usize = 1000;
const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight between the scan and the writer thread.
const QUEUE: usize = 2;

/// A record as the scan gave it.
struct Put {
    id: String,
    fingerprint: [u8; 16],
    record: String,
}

enum Job {
    Batch(Vec<Put>),
    Finish(mpsc::Sender<Result<Finished, StoreError>>),
}

/// A scan's generation being written (see the module doc).
pub(super) struct Writer {
    jobs: Option<mpsc::SyncSender<Job>>,
    batch: Vec<Put>,
    bytes: usize,
    /// Set by the thread when it failed; the next put or finish reports it.
    failed: std::sync::Arc<std::sync::Mutex<Option<StoreError>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    name: String,
    sub: String,
}

impl Writer {
    pub(super) fn start(
        options: PgConnectOptions,
        name: String,
        sub: String,
        gen: u64,
        baseline: bool,
    ) -> Result<Writer, StoreError> {
        let (jobs, queue) = mpsc::sync_channel(QUEUE);
        let failed = std::sync::Arc::new(std::sync::Mutex::new(None));
        let state = Thread {
            name: name.clone(),
            sub: sub.clone(),
            gen: gen as i64,
            baseline,
            seen: HashSet::new(),
            staged: HashSet::new(),
        };
        let slot = failed.clone();
        let thread = std::thread::Builder::new()
            .name("snapshot-writer".into())
            .spawn(move || state.run(options, queue, slot))
            .map_err(|e| StoreError::Task(format!("cannot start a scan's writer thread: {e}")))?;
        Ok(Writer {
            jobs: Some(jobs),
            batch: Vec::new(),
            bytes: 0,
            failed,
            thread: Some(thread),
            name,
            sub,
        })
    }

    fn failure(&self) -> Option<StoreError> {
        self.failed.lock().ok().and_then(|mut f| f.take())
    }

    fn gone(&self) -> StoreError {
        self.failure().unwrap_or_else(|| {
            StoreError::Task(format!(
                "database {}: the writer of a scan of {} stopped",
                self.name, self.sub
            ))
        })
    }

    fn send(&mut self) -> Result<(), StoreError> {
        let batch = std::mem::take(&mut self.batch);
        self.bytes = 0;
        let sent = self.jobs.as_ref().map(|j| j.send(Job::Batch(batch)));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.gone()),
        }
    }
}

impl SnapshotSink for Writer {
    fn put(
        &mut self,
        record_id: &str,
        fingerprint: [u8; 16],
        record: &Value,
    ) -> Result<(), StoreError> {
        if let Some(e) = self.failure() {
            return Err(e);
        }
        let record = record.to_string();
        self.bytes += record.len() + record_id.len();
        self.batch.push(Put {
            id: record_id.to_string(),
            fingerprint,
            record,
        });
        if self.batch.len() >= BATCH || self.bytes >= BATCH_BYTES {
            self.send()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Finished, StoreError> {
        if !self.batch.is_empty() {
            self.send()?;
        }
        let (reply, answer) = mpsc::channel();
        let jobs = self.jobs.take();
        if jobs.is_none_or(|j| j.send(Job::Finish(reply)).is_err()) {
            return Err(self.gone());
        }
        let result = answer.recv().unwrap_or_else(|_| Err(self.gone()));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        result
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // A scan dropped unfinished: the thread sees its queue close and
        // ends; what it wrote is dropped by the next scan or `drop_snapshot`.
        self.jobs.take();
    }
}

/// The writer thread's side.
struct Thread {
    name: String,
    sub: String,
    gen: i64,
    baseline: bool,
    /// Hashes of the ids the scan gave.
    seen: HashSet<u128>,
    /// Hashes of the ids written as created or updated: a later copy of
    /// the same record that is unchanged takes its change back.
    staged: HashSet<u128>,
}

fn id_hash(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
}

impl Thread {
    fn run(
        mut self,
        options: PgConnectOptions,
        queue: mpsc::Receiver<Job>,
        failed: std::sync::Arc<std::sync::Mutex<Option<StoreError>>>,
    ) {
        let fail = |e: StoreError| {
            if let Ok(mut slot) = failed.lock() {
                slot.get_or_insert(e);
            }
        };
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return fail(StoreError::Task(format!("a scan's writer runtime: {e}"))),
        };
        let name = self.name.clone();
        let err = |doing: &str| super::pg(&name, doing);
        let mut conn = match rt.block_on(PgConnection::connect_with(&options)) {
            Ok(c) => c,
            Err(e) => return fail(err("connecting a scan's writer")(e)),
        };
        while let Ok(job) = queue.recv() {
            match job {
                Job::Batch(batch) => {
                    let written = rt.block_on(self.write(&mut conn, batch));
                    if let Err(e) = written {
                        return fail(err("writing a scan's records")(e));
                    }
                }
                Job::Finish(reply) => {
                    let done = rt
                        .block_on(self.finish(&mut conn))
                        .map_err(err("finishing a scan"));
                    let _ = reply.send(done);
                    break;
                }
            }
        }
        let _ = rt.block_on(conn.close());
    }

    /// Compares a batch with the committed snapshot and writes its changes.
    async fn write(&mut self, conn: &mut PgConnection, batch: Vec<Put>) -> Result<(), sqlx::Error> {
        // The last of an id given twice wins, as a later put would.
        let mut by_id: HashMap<String, Put> = HashMap::with_capacity(batch.len());
        for put in batch {
            self.seen.insert(id_hash(&put.id));
            by_id.insert(put.id.clone(), put);
        }
        let kinds: Vec<(Put, i8)> = if self.baseline {
            by_id.into_values().map(|p| (p, b'b' as i8)).collect()
        } else {
            let ids: Vec<&str> = by_id.keys().map(String::as_str).collect();
            let rows = sqlx::query(
                "SELECT record_id, fingerprint FROM runtime_snapshot \
                 WHERE sub = $1 AND record_id = ANY($2)",
            )
            .bind(&self.sub)
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?;
            let mut committed: HashMap<String, Vec<u8>> = HashMap::with_capacity(rows.len());
            for row in rows {
                committed.insert(row.try_get(0)?, row.try_get(1)?);
            }
            let mut taken_back = Vec::new();
            let mut kinds = Vec::new();
            for p in by_id.into_values() {
                let hash = id_hash(&p.id);
                let kind = match committed.get(&p.id) {
                    None => b'c',
                    Some(fp) if fp.as_slice() != p.fingerprint => b'u',
                    Some(_) => {
                        if self.staged.remove(&hash) {
                            taken_back.push(p.id);
                        }
                        continue;
                    }
                };
                self.staged.insert(hash);
                kinds.push((p, kind as i8));
            }
            if !taken_back.is_empty() {
                sqlx::query(
                    "DELETE FROM runtime_snapshot_changes \
                     WHERE sub = $1 AND gen = $2 AND record_id = ANY($3)",
                )
                .bind(&self.sub)
                .bind(self.gen)
                .bind(&taken_back)
                .execute(&mut *conn)
                .await?;
            }
            kinds
        };
        if kinds.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(kinds.len());
        let mut kind = Vec::with_capacity(kinds.len());
        let mut fps = Vec::with_capacity(kinds.len());
        let mut records = Vec::with_capacity(kinds.len());
        for (p, k) in kinds {
            ids.push(p.id);
            kind.push(k);
            fps.push(p.fingerprint.to_vec());
            records.push(p.record);
        }
        sqlx::query(
            "INSERT INTO runtime_snapshot_changes (sub, gen, record_id, kind, fingerprint, record) \
             SELECT $1, $2, i, k, f, r FROM UNNEST($3::text[], $4::\"char\"[], $5::bytea[], $6::text[]) AS t(i, k, f, r) \
             ON CONFLICT (sub, gen, record_id) DO UPDATE \
             SET kind = EXCLUDED.kind, fingerprint = EXCLUDED.fingerprint, record = EXCLUDED.record",
        )
        .bind(&self.sub)
        .bind(self.gen)
        .bind(&ids)
        .bind(&kind)
        .bind(&fps)
        .bind(&records)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Marks the committed records the scan did not see as deleted.
    async fn finish(&mut self, conn: &mut PgConnection) -> Result<Finished, sqlx::Error> {
        if self.baseline {
            // A baseline's own records are all it holds.
            return Ok(Finished {
                changes: self.seen.len() as u64,
                deleted: 0,
                previous: 0,
            });
        }
        let mut unseen: Vec<String> = Vec::new();
        let mut previous = 0u64;
        {
            let mut ids = sqlx::query("SELECT record_id FROM runtime_snapshot WHERE sub = $1")
                .bind(&self.sub)
                .fetch(&mut *conn);
            while let Some(row) = ids.try_next().await? {
                previous += 1;
                let id: String = row.try_get(0)?;
                if !self.seen.contains(&id_hash(&id)) {
                    unseen.push(id);
                }
            }
        }
        let deleted = unseen.len() as u64;
        for chunk in unseen.chunks(BATCH) {
            sqlx::query(
                "INSERT INTO runtime_snapshot_changes (sub, gen, record_id, kind, fingerprint, record) \
                 SELECT sub, $2, record_id, 'd', NULL, record FROM runtime_snapshot \
                 WHERE sub = $1 AND record_id = ANY($3) \
                 ON CONFLICT (sub, gen, record_id) DO UPDATE \
                 SET kind = 'd', fingerprint = NULL, record = EXCLUDED.record",
            )
            .bind(&self.sub)
            .bind(self.gen)
            .bind(chunk)
            .execute(&mut *conn)
            .await?;
        }
        Ok(Finished {
            changes: self.staged.len() as u64 + deleted,
            deleted,
            previous,
        })
    }
}

/// The changes of generation `gen` in record id order (byte order: the
/// columns' "C" collation), each with its record; a baseline has none.
pub(super) async fn diff(
    pool: &PgPool,
    name: &str,
    sub: &str,
    gen: u64,
) -> Result<Vec<NewEvent>, StoreError> {
    let err = super::pg(name, "reading a scan's changes");
    let at = Place::Database(name.to_string());
    let rows = sqlx::query(
        "SELECT record_id, kind, record FROM runtime_snapshot_changes \
         WHERE sub = $1 AND gen = $2 AND kind <> 'b' ORDER BY record_id",
    )
    .bind(sub)
    .bind(gen as i64)
    .fetch_all(pool)
    .await
    .map_err(&err)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get(0).map_err(&err)?;
        let kind: i8 = row.try_get(1).map_err(&err)?;
        let record: String = row.try_get(2).map_err(&err)?;
        let change = match kind as u8 {
            b'c' => ChangeType::Created,
            b'u' => ChangeType::Updated,
            b'd' => ChangeType::Deleted,
            other => return Err(corrupt(&at, &id, format!("unknown change kind {other}"))),
        };
        let record = RawValue::from_string(record).map_err(|e| corrupt(&at, &id, e.to_string()))?;
        out.push(NewEvent {
            change,
            record_id: id,
            record,
        });
    }
    Ok(out)
}

fn corrupt(at: &Place, id: &str, detail: String) -> StoreError {
    StoreError::Corrupt {
        at: at.clone(),
        what: format!("snapshot change of record {id}"),
        detail,
    }
}

/// Makes generation `gen` of `sub` the committed snapshot, inside the
/// commit's transaction: its created and updated records replace the
/// committed ones, its deleted go, and every scan's changes of `sub` are
/// dropped. A baseline replaces whatever was there.
pub(super) async fn retire(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    sub: &str,
    gen: u64,
    baseline: bool,
) -> Result<(), sqlx::Error> {
    if baseline {
        sqlx::query("DELETE FROM runtime_snapshot WHERE sub = $1")
            .bind(sub)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO runtime_snapshot (sub, record_id, fingerprint, record) \
         SELECT sub, record_id, fingerprint, record FROM runtime_snapshot_changes \
         WHERE sub = $1 AND gen = $2 AND kind <> 'd' \
         ON CONFLICT (sub, record_id) DO UPDATE \
         SET fingerprint = EXCLUDED.fingerprint, record = EXCLUDED.record",
    )
    .bind(sub)
    .bind(gen as i64)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE FROM runtime_snapshot s USING runtime_snapshot_changes c \
         WHERE c.sub = $1 AND c.gen = $2 AND c.kind = 'd' AND s.sub = $1 AND s.record_id = c.record_id",
    )
    .bind(sub)
    .bind(gen as i64)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM runtime_snapshot_changes WHERE sub = $1")
        .bind(sub)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

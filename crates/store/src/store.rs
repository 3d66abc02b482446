//! The store interface: what the host and the strategies may ask of a
//! store, so a second implementation (PostgreSQL, for several machines)
//! can stand in for sled without either of them changing. Every
//! implementation passes the conformance suite in `tests/conformance/`.
//!
//! **Async.** A network store spends every call waiting on a round trip,
//! and the host calls the store from async tasks, so the interface is
//! async; [`Sled`] runs sled's writes (each ends in an fsync) on tokio's
//! blocking pool. The one exception is [`SnapshotSink::put`], called once
//! per record of a full scan from a blocking task that also fingerprints
//! the records: an await per record would cost more than the write, so the
//! sink is synchronous and an implementation batches (sled batches 1 MiB;
//! a network store would send a batch per flush, blocking that task).
//!
//! **The snapshot protocol lives here.** A full scan writes its records
//! into a new generation through a [`SnapshotSink`], reads its changes with
//! [`Store::snapshot_diff`], and commits a state whose `snapshot_gen` is
//! the new generation: that commit makes it current and retires the old
//! one itself. A scan that fails drops its generation
//! ([`Store::drop_snapshot`]); the committed one stays.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use runtime_secrets::Cipher;
use serde_json::Value;

use crate::view::{Sealer, View};
use crate::{
    Claim, EventLine, Finished, NewEvent, Place, RefreshedCredentials, SledStore, SnapshotWriter,
    StoreError, SubId, SubscriptionState,
};

#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, sub: &str) -> Result<Option<SubscriptionState>, StoreError>;
    async fn list(&self) -> Result<Vec<(SubId, SubscriptionState)>, StoreError>;
    /// The durability point of a cycle: the subscription's new state and the
    /// cycle's events are written in one atomic unit and durable before this
    /// returns; a state carrying a new `snapshot_gen` makes that generation
    /// current (and the old one is retired). Assigns each event its stable
    /// id and `emittedAt`, and returns the ids in order.
    async fn commit(
        &self,
        sub: &str,
        state: SubscriptionState,
        events: Vec<NewEvent>,
    ) -> Result<Vec<String>, StoreError>;
    /// Undelivered events in commit order as their sink lines, at most
    /// `limit` (and about 8 MiB of them, but at least one); only those whose
    /// commit is durable.
    async fn pending_lines(&self, limit: usize) -> Result<Vec<EventLine>, StoreError>;
    /// Marks events delivered; unknown ids are ignored, so a repeated ack
    /// is harmless. Durable before it returns.
    async fn ack(&self, ids: Vec<String>) -> Result<(), StoreError>;
    async fn pending_count(&self) -> Result<u64, StoreError>;
    /// Forgets a subscription: its state, snapshots and undelivered events.
    async fn reset(&self, sub: &str) -> Result<(), StoreError>;
    /// Starts scan generation `gen` of `sub` (see the module doc).
    async fn snapshot_writer(
        &self,
        sub: &str,
        gen: u64,
    ) -> Result<Box<dyn SnapshotSink>, StoreError>;
    /// The changes of generation `gen` against the committed snapshot, in
    /// record id order, each with its record (the last known one for
    /// `deleted`).
    async fn snapshot_diff(&self, sub: &str, gen: u64) -> Result<Vec<NewEvent>, StoreError>;
    /// Drops what a failed scan of generation `gen` wrote.
    async fn drop_snapshot(&self, sub: &str, gen: u64) -> Result<(), StoreError>;
    /// Records in the committed snapshot of `sub`.
    async fn snapshot_len(&self, sub: &str) -> Result<u64, StoreError>;
    /// Binds the store to one connection; refuses another
    /// ([`StoreError::OtherConnection`]).
    async fn claim_connection(&self, connection: &str) -> Result<Claim, StoreError>;
    /// The connection the store belongs to, if one claimed it.
    async fn connection(&self) -> Result<Option<String>, StoreError>;
    /// The credentials a refresh last returned, if any.
    async fn refreshed_credentials(&self) -> Result<Option<RefreshedCredentials>, StoreError>;
    /// Keeps refreshed credentials, replacing any kept before; durable when
    /// it returns.
    async fn save_refreshed_credentials(
        &self,
        credentials: RefreshedCredentials,
    ) -> Result<(), StoreError>;
    /// Why the store cannot write any more, if it cannot (a full disk): the
    /// run must stop rather than retry cycles that cannot commit.
    fn failure(&self) -> Option<String>;
    /// Why the store cannot be used right now, if it cannot (for
    /// `/readyz`): [`Store::failure`], or a network store that does not
    /// answer.
    async fn unready(&self) -> Option<String> {
        self.failure()
    }

    // ---- runtime serve: one store, many connections ----

    /// The store as one connection of `runtime serve` sees it: its own
    /// subscriptions (ids and `list` are the view's own), its own
    /// refreshed credentials, and states committed through it carry
    /// `connection`, so their events' lines do. The outbox is the whole
    /// store's: one deliverer delivers every connection's events in commit
    /// order. A view of a view is a view of the same store.
    fn tenant(&self, connection: &str) -> Arc<dyn Store>;
    /// Forgets a subscription's state and snapshots, keeping its
    /// undelivered events (they were committed: a deleted connection's
    /// events are still delivered).
    async fn forget(&self, sub: &str) -> Result<(), StoreError>;
    /// Undelivered events of one subscription.
    async fn pending_of(&self, sub: &str) -> Result<u64, StoreError>;
    /// Stores the record of a `runtime serve` connection (sealed at rest
    /// when the store has a cipher), replacing any; durable on return.
    async fn save_connection_record(&self, id: &str, record: &Value) -> Result<(), StoreError>;
    /// Every stored connection record, by id.
    async fn connection_records(&self) -> Result<Vec<(String, Value)>, StoreError>;
    /// Removes a connection record.
    async fn delete_connection_record(&self, id: &str) -> Result<(), StoreError>;
}

/// Where a full scan writes one generation's records (see the module doc).
pub trait SnapshotSink: Send {
    fn put(
        &mut self,
        record_id: &str,
        fingerprint: [u8; 16],
        record: &Value,
    ) -> Result<(), StoreError>;
    /// Marks every committed record the scan did not see as deleted; the
    /// generation is complete and durable when this returns.
    fn finish(self: Box<Self>) -> Result<Finished, StoreError>;
}

impl SnapshotSink for SnapshotWriter {
    fn put(
        &mut self,
        record_id: &str,
        fingerprint: [u8; 16],
        record: &Value,
    ) -> Result<(), StoreError> {
        SnapshotWriter::put(self, record_id, fingerprint, record)
    }

    fn finish(self: Box<Self>) -> Result<Finished, StoreError> {
        SnapshotWriter::finish(*self)
    }
}

/// [`Store`] on a sled data dir ([`SledStore`]): the whole store, or one
/// connection's view of it ([`Store::tenant`]), optionally sealing
/// credentials at rest ([`Sled::with_cipher`]).
#[derive(Clone)]
pub struct Sled {
    inner: Arc<SledStore>,
    view: View,
    /// Seals refreshed credentials and connection records.
    sealer: Sealer,
}

impl Sled {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Sled, StoreError> {
        Ok(Sled {
            inner: Arc::new(SledStore::open(dir)?),
            view: View::default(),
            sealer: Sealer::default(),
        })
    }

    /// Seals refreshed credentials and connection records with `cipher`
    /// from now on (values stored before stay readable: they open as they
    /// were written, sealed or not).
    pub fn with_cipher(mut self, cipher: Cipher) -> Sled {
        self.sealer.cipher = Some(cipher);
        self
    }

    /// The sled store itself, for what only it has (its data dir, tests).
    pub fn sled(&self) -> &SledStore {
        &self.inner
    }

    fn key(&self, sub: &str) -> String {
        self.view.key(sub)
    }

    fn place(&self) -> Place {
        Place::Dir(self.inner.dir.clone())
    }

    /// Runs `f` on the blocking pool: sled's writes end in an fsync.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&SledStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        match tokio::task::spawn_blocking(move || f(&inner)).await {
            Ok(result) => result,
            Err(e) => Err(StoreError::Task(e.to_string())),
        }
    }
}

#[async_trait]
impl Store for Sled {
    async fn get(&self, sub: &str) -> Result<Option<SubscriptionState>, StoreError> {
        self.inner.get(&self.key(sub))
    }

    async fn list(&self) -> Result<Vec<(SubId, SubscriptionState)>, StoreError> {
        // A view's keys share its prefix; the whole store's are the rest.
        let prefix = self.view.prefix().unwrap_or_default();
        let view = &self.view;
        Ok(self
            .inner
            .list_where(prefix.as_bytes(), |k| {
                view.own(&String::from_utf8_lossy(k)).is_some()
            })?
            .into_iter()
            .filter_map(|(id, s)| Some((view.own(&id)?, s)))
            .collect())
    }

    async fn commit(
        &self,
        sub: &str,
        mut state: SubscriptionState,
        events: Vec<NewEvent>,
    ) -> Result<Vec<String>, StoreError> {
        let sub = self.key(sub);
        if let Some(t) = &self.view.tenant {
            state.connection = Some(t.to_string());
        }
        self.blocking(move |s| {
            let before = s.get(&sub)?.and_then(|old| old.snapshot_gen);
            let ids = s.commit(&sub, &state, events)?;
            match state.snapshot_gen {
                // This commit made `gen` current: apply its changes.
                Some(gen) if before != Some(gen) => s.retire_snapshot(&sub, gen)?,
                _ => {}
            }
            Ok(ids)
        })
        .await
    }

    async fn pending_lines(&self, limit: usize) -> Result<Vec<EventLine>, StoreError> {
        self.inner.pending_lines(limit)
    }

    async fn ack(&self, ids: Vec<String>) -> Result<(), StoreError> {
        self.blocking(move |s| s.ack(&ids)).await
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        match self.view.prefix() {
            Some(prefix) => self
                .inner
                .pending_count_where(|sub| sub.starts_with(&prefix)),
            None => self.inner.pending_count(),
        }
    }

    async fn reset(&self, sub: &str) -> Result<(), StoreError> {
        let sub = self.key(sub);
        self.blocking(move |s| s.reset(&sub)).await
    }

    async fn snapshot_writer(
        &self,
        sub: &str,
        gen: u64,
    ) -> Result<Box<dyn SnapshotSink>, StoreError> {
        let sub = self.key(sub);
        let writer = self.blocking(move |s| s.snapshot_writer(&sub, gen)).await?;
        Ok(Box::new(writer))
    }

    async fn snapshot_diff(&self, sub: &str, gen: u64) -> Result<Vec<NewEvent>, StoreError> {
        let sub = self.key(sub);
        self.blocking(move |s| s.snapshot_diff(&sub, gen)?.collect())
            .await
    }

    async fn drop_snapshot(&self, sub: &str, gen: u64) -> Result<(), StoreError> {
        let sub = self.key(sub);
        self.blocking(move |s| s.drop_snapshot(&sub, gen)).await
    }

    async fn snapshot_len(&self, sub: &str) -> Result<u64, StoreError> {
        self.inner.snapshot_len(&self.key(sub))
    }

    async fn claim_connection(&self, connection: &str) -> Result<Claim, StoreError> {
        match self.view.claim(&self.place(), connection) {
            Some(claimed) => claimed,
            None => self.inner.claim_connection(connection),
        }
    }

    async fn connection(&self) -> Result<Option<String>, StoreError> {
        match &self.view.tenant {
            Some(t) => Ok(Some(t.to_string())),
            None => self.inner.connection(),
        }
    }

    async fn refreshed_credentials(&self) -> Result<Option<RefreshedCredentials>, StoreError> {
        let key = self.view.credentials_key();
        match self.inner.meta_get(&key)? {
            None => Ok(None),
            Some(bytes) => self.sealer.open(&self.place(), &key, &bytes).map(Some),
        }
    }

    async fn save_refreshed_credentials(
        &self,
        credentials: RefreshedCredentials,
    ) -> Result<(), StoreError> {
        let key = self.view.credentials_key();
        let bytes = self.sealer.seal(&self.place(), &key, &credentials)?;
        self.blocking(move |s| s.meta_put(&key, bytes)).await
    }

    fn failure(&self) -> Option<String> {
        self.inner.failure()
    }

    fn tenant(&self, connection: &str) -> Arc<dyn Store> {
        Arc::new(Sled {
            view: View::of(connection),
            ..self.clone()
        })
    }

    async fn forget(&self, sub: &str) -> Result<(), StoreError> {
        let sub = self.key(sub);
        self.blocking(move |s| s.forget(&sub)).await
    }

    async fn pending_of(&self, sub: &str) -> Result<u64, StoreError> {
        let sub = self.key(sub);
        self.inner.pending_count_where(|s| s == sub)
    }

    async fn save_connection_record(&self, id: &str, record: &Value) -> Result<(), StoreError> {
        let bytes = self
            .sealer
            .seal(&self.place(), &format!("connection/{id}"), record)?;
        let id = id.to_string();
        self.blocking(move |s| s.put_connection(&id, bytes)).await
    }

    async fn connection_records(&self) -> Result<Vec<(String, Value)>, StoreError> {
        let mut out = Vec::new();
        for (id, bytes) in self.inner.connection_records()? {
            let record = self
                .sealer
                .open(&self.place(), &format!("connection/{id}"), &bytes)?;
            out.push((id, record));
        }
        Ok(out)
    }

    async fn delete_connection_record(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_string();
        self.blocking(move |s| s.delete_connection(&id)).await
    }
}

//! [`Store`] on PostgreSQL (`--store postgres://USER[:PASS]@HOST:PORT/DB`),
//! for `runtime serve` on several machines sharing one database. Same
//! interface and conformance suite as sled; what differs is below.
//!
//! - **One transaction per write.** A commit's events, its state and (for
//!   a full scan's new generation) the snapshot's changes are applied in
//!   one transaction, so a failed call leaves nothing advanced: every
//!   PostgreSQL error is a [`StoreError::Postgres`] naming the database and
//!   what the store was doing, and the caller retries the whole cycle.
//! - **The outbox** is a table numbered by a sequence taken inside the
//!   commit, so event ids (`<instance>-<seq>`, the instance being the
//!   database's) are unique across every process sharing it. Concurrent
//!   commits may become visible out of sequence order; delivery reads every
//!   undelivered row each time and acks by id, so none is skipped.
//! - **Snapshots are rows** (`snapshot.rs`): a scan streams its records to
//!   a writer thread that compares them with the committed fingerprints a
//!   batch at a time and writes only the changes; memory is 16 bytes per
//!   record seen, not the snapshot.
//! - **Schema**: versioned migrations in `crates/store/migrations/`,
//!   embedded at build time and run at open (sqlx's migrator takes an
//!   advisory lock, so instances starting together migrate once).
//!
//! It owns the SQL; it must not run JavaScript, do HTTP or deliver.

mod snapshot;

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use futures::TryStreamExt;
use runtime_events::LineRef;
use runtime_secrets::Cipher;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Row};

use crate::view::{event_id, seq_of, Sealer, View};
use crate::{
    now_rfc3339, Claim, EventLine, NewEvent, Place, RefreshedCredentials, SnapshotSink, Store,
    StoreError, SubId, SubscriptionState,
};

/// At most this much of the outbox is handed out at once (but always one
/// event), as on sled.
const PENDING_BYTES: usize = 8 << 20;
/// Events per INSERT of a commit: one round trip for a cycle's usual
/// handful, bounded statements for a full scan's tens of thousands.
const INSERT_ROWS: usize = 1000;
/// Connections of the pool when the URL does not say (`?pool_size=N`).
const POOL_SIZE: u32 = 8;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL store: the whole store, or one connection's view of it.
#[derive(Clone)]
pub struct Postgres {
    inner: Arc<Shared>,
    view: View,
    sealer: Sealer,
}

struct Shared {
    pool: PgPool,
    /// How to open another connection (a scan's writer has its own).
    options: PgConnectOptions,
    /// `host:port/name`, for errors and logs.
    name: String,
    /// Random id made once per database; prefixes every event id.
    instance: String,
    /// The connection holding [`Postgres::claim_sole_instance`]'s lock.
    sole: tokio::sync::Mutex<Option<PgConnection>>,
}

/// The advisory lock key of the one instance on a database ("rtserve").
const SOLE_INSTANCE_LOCK: i64 = 0x0072_7473_6572_7665;

/// A failed call, named.
fn pg(database: &str, doing: &str) -> impl Fn(sqlx::Error) -> StoreError {
    let (database, doing) = (database.to_string(), doing.to_string());
    move |source| StoreError::Postgres {
        database: database.clone(),
        doing: doing.clone(),
        source,
    }
}

impl Postgres {
    /// Connects to the database at `url`, runs the migrations it lacks,
    /// and reads (or makes) the database's instance id. `?pool_size=N`
    /// sets the pool's connections (default 8).
    pub async fn open(url: &str) -> Result<Postgres, StoreError> {
        let (url, pool_size) = split_pool_size(url)?;
        let options = PgConnectOptions::from_str(&url).map_err(|source| StoreError::Postgres {
            database: redact(&url),
            doing: "reading the URL".into(),
            source,
        })?;
        let name = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("")
        );
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(pg(&name, "connecting"))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                database: name.clone(),
                source,
            })?;
        let fresh = format!("{:016x}", rand::random::<u64>());
        sqlx::query(
            "INSERT INTO runtime_meta (key, value) VALUES ('instance', $1) ON CONFLICT DO NOTHING",
        )
        .bind(fresh.as_bytes())
        .execute(&pool)
        .await
        .map_err(pg(&name, "making the instance id"))?;
        let stored: Vec<u8> =
            sqlx::query_scalar("SELECT value FROM runtime_meta WHERE key = 'instance'")
                .fetch_one(&pool)
                .await
                .map_err(pg(&name, "reading the instance id"))?;
        let instance = String::from_utf8(stored).map_err(|_| StoreError::Corrupt {
            at: Place::Database(name.clone()),
            what: "runtime_meta".into(),
            detail: "the instance id is not UTF-8".into(),
        })?;
        Ok(Postgres {
            inner: Arc::new(Shared {
                pool,
                options,
                name,
                instance,
                sole: tokio::sync::Mutex::new(None),
            }),
            view: View::default(),
            sealer: Sealer::default(),
        })
    }

    /// Seals refreshed credentials and connection records with `cipher`.
    pub fn with_cipher(mut self, cipher: Cipher) -> Postgres {
        self.sealer.cipher = Some(cipher);
        self
    }

    /// `host:port/name` of the database.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Makes this process the only `runtime serve` on the database for as
    /// long as it runs (a session advisory lock on a connection of its
    /// own, released when the process or the connection ends). Until
    /// subscriptions are leased, two instances on one database would both
    /// cycle every subscription and emit every change twice.
    pub async fn claim_sole_instance(&self) -> Result<(), StoreError> {
        let err = self.err("claiming the database for this instance");
        let mut conn = PgConnection::connect_with(&self.inner.options)
            .await
            .map_err(&err)?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(SOLE_INSTANCE_LOCK)
            .fetch_one(&mut conn)
            .await
            .map_err(&err)?;
        if !got {
            return Err(StoreError::DatabaseInUse {
                database: self.inner.name.clone(),
            });
        }
        *self.inner.sole.lock().await = Some(conn);
        Ok(())
    }

    fn err(&self, doing: &str) -> impl Fn(sqlx::Error) -> StoreError {
        pg(&self.inner.name, doing)
    }

    fn place(&self) -> Place {
        Place::Database(self.inner.name.clone())
    }

    fn decode(&self, sub: &str, text: &str) -> Result<SubscriptionState, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
            at: self.place(),
            what: format!("runtime_subscriptions[{sub}]"),
            detail: e.to_string(),
        })
    }

    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT value FROM runtime_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(self.err("reading runtime_meta"))
    }

    /// Counts outbox rows: `sql` is a `count(*)` with `arg` as `$1`.
    async fn count_pending(&self, sql: &'static str, arg: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sql)
            .bind(arg)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(self.err("counting the outbox"))?;
        Ok(n.max(0) as u64)
    }
}

/// The URL without a `pool_size` parameter, and that size.
fn split_pool_size(url: &str) -> Result<(String, u32), StoreError> {
    let bad = |detail: String| StoreError::Corrupt {
        at: Place::Database(redact(url)),
        what: "the --store URL".into(),
        detail,
    };
    let Ok(mut parsed) = url::Url::parse(url) else {
        return Ok((url.to_string(), POOL_SIZE));
    };
    let mut size = POOL_SIZE;
    let mut kept = Vec::new();
    for (k, v) in parsed.query_pairs() {
        if k == "pool_size" {
            size =
                v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    bad(format!("pool_size must be a positive number, not `{v}`"))
                })?;
        } else {
            kept.push((k.into_owned(), v.into_owned()));
        }
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((parsed.to_string(), size))
}

/// The URL with its password hidden.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(an unreadable URL)".into(),
    }
}

#[async_trait]
impl Store for Postgres {
    async fn get(&self, sub: &str) -> Result<Option<SubscriptionState>, StoreError> {
        let key = self.view.key(sub);
        let text: Option<String> =
            sqlx::query_scalar("SELECT state FROM runtime_subscriptions WHERE sub = $1")
                .bind(&key)
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(self.err("reading a subscription"))?;
        text.map(|t| self.decode(&key, &t)).transpose()
    }

    async fn list(&self) -> Result<Vec<(SubId, SubscriptionState)>, StoreError> {
        // A view reads its own prefix; the whole store every key no view
        // owns. `starts_with` on a "C" key is a range of the primary key.
        let prefix = self.view.prefix().unwrap_or_default();
        let rows = sqlx::query(
            "SELECT sub, state FROM runtime_subscriptions WHERE starts_with(sub, $1) ORDER BY sub",
        )
        .bind(&prefix)
        .fetch_all(&self.inner.pool)
        .await
        .map_err(self.err("listing subscriptions"))?;
        let mut out = Vec::new();
        let err = self.err("listing subscriptions");
        for row in rows {
            let key: String = row.try_get(0).map_err(&err)?;
            let text: String = row.try_get(1).map_err(&err)?;
            if let Some(id) = self.view.own(&key) {
                out.push((id, self.decode(&key, &text)?));
            }
        }
        Ok(out)
    }

    async fn commit(
        &self,
        sub: &str,
        mut state: SubscriptionState,
        events: Vec<NewEvent>,
    ) -> Result<Vec<String>, StoreError> {
        let key = self.view.key(sub);
        if let Some(t) = &self.view.tenant {
            state.connection = Some(t.to_string());
        }
        let state_json = serde_json::to_string(&state).map_err(|e| StoreError::Corrupt {
            at: self.place(),
            what: format!("the state of {key}"),
            detail: e.to_string(),
        })?;
        let err = self.err("committing a cycle");
        let mut tx = self.inner.pool.begin().await.map_err(&err)?;
        // The row lock orders this commit after any other of the same
        // subscription, and tells whether it changes the snapshot.
        let before: Option<String> =
            sqlx::query_scalar("SELECT state FROM runtime_subscriptions WHERE sub = $1 FOR UPDATE")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(&err)?;
        let before_gen = match before {
            Some(text) => self.decode(&key, &text)?.snapshot_gen,
            None => None,
        };
        let mut seqs: Vec<i64> = if events.is_empty() {
            Vec::new()
        } else {
            sqlx::query_scalar("SELECT nextval('runtime_outbox_seq') FROM generate_series(1, $1)")
                .bind(events.len() as i64)
                .fetch_all(&mut *tx)
                .await
                .map_err(&err)?
        };
        seqs.sort_unstable();
        let emitted_at = now_rfc3339();
        let mut ids = Vec::with_capacity(events.len());
        let mut batch: (Vec<i64>, Vec<String>) = (Vec::new(), Vec::new());
        for (seq, e) in seqs.iter().zip(&events) {
            let id = event_id(&self.inner.instance, *seq as u64);
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
            let json = serde_json::to_string(&line).map_err(|e| StoreError::Corrupt {
                at: self.place(),
                what: format!("event {id}"),
                detail: e.to_string(),
            })?;
            ids.push(id);
            batch.0.push(*seq);
            batch.1.push(json);
            if batch.0.len() >= INSERT_ROWS {
                insert_events(&mut tx, &key, std::mem::take(&mut batch), &err).await?;
            }
        }
        if !batch.0.is_empty() {
            insert_events(&mut tx, &key, batch, &err).await?;
        }
        sqlx::query(
            "INSERT INTO runtime_subscriptions (sub, state) VALUES ($1, $2) \
             ON CONFLICT (sub) DO UPDATE SET state = EXCLUDED.state",
        )
        .bind(&key)
        .bind(&state_json)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        if let Some(gen) = state.snapshot_gen.filter(|g| before_gen != Some(*g)) {
            // This commit makes `gen` current: apply its changes with it.
            snapshot::retire(&mut tx, &key, gen, before_gen.is_none())
                .await
                .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        Ok(ids)
    }

    async fn pending_lines(&self, limit: usize) -> Result<Vec<EventLine>, StoreError> {
        let err = self.err("reading the outbox");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = sqlx::query("SELECT seq, line FROM runtime_outbox ORDER BY seq LIMIT $1")
            .bind(limit)
            .fetch(&self.inner.pool);
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        while let Some(row) = rows.try_next().await.map_err(&err)? {
            let seq: i64 = row.try_get(0).map_err(&err)?;
            let json: String = row.try_get(1).map_err(&err)?;
            if !out.is_empty() && bytes + json.len() > PENDING_BYTES {
                break;
            }
            bytes += json.len();
            out.push(EventLine {
                id: event_id(&self.inner.instance, seq as u64),
                json,
            });
        }
        Ok(out)
    }

    async fn ack(&self, ids: Vec<String>) -> Result<(), StoreError> {
        let seqs: Vec<i64> = ids
            .iter()
            .filter_map(|id| seq_of(&self.inner.instance, id))
            .filter_map(|s| i64::try_from(s).ok())
            .collect();
        if seqs.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM runtime_outbox WHERE seq = ANY($1)")
            .bind(&seqs)
            .execute(&self.inner.pool)
            .await
            .map_err(self.err("acknowledging events"))?;
        Ok(())
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        match self.view.prefix() {
            Some(prefix) => {
                self.count_pending(
                    "SELECT count(*) FROM runtime_outbox WHERE starts_with(sub, $1)",
                    &prefix,
                )
                .await
            }
            None => {
                self.count_pending("SELECT count(*) FROM runtime_outbox WHERE $1 = $1", "")
                    .await
            }
        }
    }

    async fn reset(&self, sub: &str) -> Result<(), StoreError> {
        let key = self.view.key(sub);
        let err = self.err("resetting a subscription");
        let mut tx = self.inner.pool.begin().await.map_err(&err)?;
        for delete in [
            "DELETE FROM runtime_subscriptions WHERE sub = $1",
            "DELETE FROM runtime_outbox WHERE sub = $1",
            "DELETE FROM runtime_snapshot WHERE sub = $1",
            "DELETE FROM runtime_snapshot_changes WHERE sub = $1",
        ] {
            sqlx::query(delete)
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)
    }

    async fn snapshot_writer(
        &self,
        sub: &str,
        gen: u64,
    ) -> Result<Box<dyn SnapshotSink>, StoreError> {
        let key = self.view.key(sub);
        let committed = self.get(sub).await?.and_then(|s| s.snapshot_gen);
        if committed == Some(gen) {
            return Err(StoreError::CommittedSnapshot {
                at: self.place(),
                sub: key,
                gen,
            });
        }
        // What an earlier scan of this subscription left (it failed, or
        // its process died) is not any generation's any more.
        sqlx::query("DELETE FROM runtime_snapshot_changes WHERE sub = $1")
            .bind(&key)
            .execute(&self.inner.pool)
            .await
            .map_err(self.err("starting a scan"))?;
        let writer = snapshot::Writer::start(
            self.inner.options.clone(),
            self.inner.name.clone(),
            key,
            gen,
            committed.is_none(),
        )?;
        Ok(Box::new(writer))
    }

    async fn snapshot_diff(&self, sub: &str, gen: u64) -> Result<Vec<NewEvent>, StoreError> {
        snapshot::diff(&self.inner.pool, &self.inner.name, &self.view.key(sub), gen).await
    }

    async fn drop_snapshot(&self, sub: &str, gen: u64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM runtime_snapshot_changes WHERE sub = $1 AND gen = $2")
            .bind(self.view.key(sub))
            .bind(gen as i64)
            .execute(&self.inner.pool)
            .await
            .map_err(self.err("dropping a failed scan"))?;
        Ok(())
    }

    async fn snapshot_len(&self, sub: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM runtime_snapshot WHERE sub = $1")
            .bind(self.view.key(sub))
            .fetch_one(&self.inner.pool)
            .await
            .map_err(self.err("counting a snapshot"))?;
        Ok(n.max(0) as u64)
    }

    async fn claim_connection(&self, connection: &str) -> Result<Claim, StoreError> {
        if let Some(claimed) = self.view.claim(&self.place(), connection) {
            return claimed;
        }
        let err = self.err("claiming the store for a connection");
        let mut tx = self.inner.pool.begin().await.map_err(&err)?;
        let had_state: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM runtime_subscriptions)")
                .fetch_one(&mut *tx)
                .await
                .map_err(&err)?;
        let inserted = sqlx::query(
            "INSERT INTO runtime_meta (key, value) VALUES ('connection', $1) ON CONFLICT DO NOTHING",
        )
        .bind(connection.as_bytes())
        .execute(&mut *tx)
        .await
        .map_err(&err)?
        .rows_affected();
        let owner: Vec<u8> =
            sqlx::query_scalar("SELECT value FROM runtime_meta WHERE key = 'connection'")
                .fetch_one(&mut *tx)
                .await
                .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        let owner = String::from_utf8_lossy(&owner).into_owned();
        match () {
            _ if inserted == 1 && had_state => Ok(Claim::Adopted),
            _ if inserted == 1 => Ok(Claim::New),
            _ if owner == connection => Ok(Claim::Same),
            _ => Err(StoreError::OtherConnection {
                at: self.place(),
                owner,
                connection: connection.to_string(),
            }),
        }
    }

    async fn connection(&self) -> Result<Option<String>, StoreError> {
        if let Some(t) = &self.view.tenant {
            return Ok(Some(t.to_string()));
        }
        Ok(self
            .meta_get("connection")
            .await?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    async fn refreshed_credentials(&self) -> Result<Option<RefreshedCredentials>, StoreError> {
        let key = self.view.credentials_key();
        match self.meta_get(&key).await? {
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
        sqlx::query(
            "INSERT INTO runtime_meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(&key)
        .bind(&bytes)
        .execute(&self.inner.pool)
        .await
        .map_err(self.err("saving refreshed credentials"))?;
        Ok(())
    }

    fn failure(&self) -> Option<String> {
        // A database error is the call's, not the store's for good: the
        // next cycle retries (a restarted server, a network that is back).
        None
    }

    async fn unready(&self) -> Option<String> {
        let ping = sqlx::query("SELECT 1").execute(&self.inner.pool);
        match tokio::time::timeout(std::time::Duration::from_secs(2), ping).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(self.err("answering a ping")(e).to_string()),
            Err(_) => Some(format!(
                "database {}: no answer within 2 s",
                self.inner.name
            )),
        }
    }

    fn tenant(&self, connection: &str) -> Arc<dyn Store> {
        Arc::new(Postgres {
            view: View::of(connection),
            ..self.clone()
        })
    }

    async fn forget(&self, sub: &str) -> Result<(), StoreError> {
        let key = self.view.key(sub);
        let err = self.err("forgetting a subscription");
        let mut tx = self.inner.pool.begin().await.map_err(&err)?;
        for delete in [
            "DELETE FROM runtime_subscriptions WHERE sub = $1",
            "DELETE FROM runtime_snapshot WHERE sub = $1",
            "DELETE FROM runtime_snapshot_changes WHERE sub = $1",
        ] {
            sqlx::query(delete)
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)
    }

    async fn pending_of(&self, sub: &str) -> Result<u64, StoreError> {
        self.count_pending(
            "SELECT count(*) FROM runtime_outbox WHERE sub = $1",
            &self.view.key(sub),
        )
        .await
    }

    async fn save_connection_record(&self, id: &str, record: &Value) -> Result<(), StoreError> {
        let bytes = self
            .sealer
            .seal(&self.place(), &format!("connection/{id}"), record)?;
        sqlx::query(
            "INSERT INTO runtime_connections (id, record) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(id)
        .bind(&bytes)
        .execute(&self.inner.pool)
        .await
        .map_err(self.err("saving a connection"))?;
        Ok(())
    }

    async fn connection_records(&self) -> Result<Vec<(String, Value)>, StoreError> {
        let rows = sqlx::query("SELECT id, record FROM runtime_connections ORDER BY id")
            .fetch_all(&self.inner.pool)
            .await
            .map_err(self.err("reading connections"))?;
        let err = self.err("reading connections");
        let mut out = Vec::new();
        for row in rows {
            let id: String = row.try_get(0).map_err(&err)?;
            let bytes: Vec<u8> = row.try_get(1).map_err(&err)?;
            let record = self
                .sealer
                .open(&self.place(), &format!("connection/{id}"), &bytes)?;
            out.push((id, record));
        }
        Ok(out)
    }

    async fn delete_connection_record(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM runtime_connections WHERE id = $1")
            .bind(id)
            .execute(&self.inner.pool)
            .await
            .map_err(self.err("deleting a connection"))?;
        Ok(())
    }
}

/// One INSERT of a commit's events.
async fn insert_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    sub: &str,
    (seqs, lines): (Vec<i64>, Vec<String>),
    err: &impl Fn(sqlx::Error) -> StoreError,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO runtime_outbox (seq, sub, line) \
         SELECT s, $3, l FROM UNNEST($1::bigint[], $2::text[]) AS t(s, l)",
    )
    .bind(&seqs)
    .bind(&lines)
    .bind(sub)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

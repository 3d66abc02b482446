//! Durable state of `runtime run`: per subscription its state,
//! cursor/watermark and full-scan snapshots, plus the outbox of events not
//! yet delivered. This crate owns persistence and its atomicity and
//! durability (one cycle's state and events land together or not at all).
//! It must not run JavaScript, do HTTP or deliver events.
//!
//! Callers use it through the [`Store`] interface (`store.rs`, implemented
//! by [`Sled`] over [`SledStore`]); the conformance suite in `tests/`
//! holds any implementation to it.
//!
//! A full-scan cycle uses the store in this order, so a kill at any point
//! leaves either the old generation or the new one current, never a mix:
//! `snapshot_writer(sub, g + 1)` and `finish`, `snapshot_diff(sub, g + 1)`,
//! then `commit` with `snapshot_gen = Some(g + 1)` and the diff's events,
//! which retires the old generation (`retire_snapshot(sub, g + 1)`) itself.
//! Opening the store finishes a retire cut short and drops the changes of
//! scans that were never committed.

mod error;
mod outbox;
mod postgres;
mod sled_store;
mod snapshot;
mod store;
mod time;
mod view;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use error::{Place, StoreError};
pub use postgres::Postgres;
pub use runtime_events::{ChangeType, Event, EventLine, NewEvent};
pub use sled_store::SledStore;
pub use snapshot::{Finished, SnapshotDiff, SnapshotWriter};
pub use store::{Sled, SnapshotSink, Store};
pub use time::now_rfc3339;

/// `"<connector>/<collection>/<scope>"`.
pub type SubId = String;

/// Builds the id of a subscription.
pub fn sub_id(connector: &str, collection: &str, scope: &str) -> SubId {
    format!("{connector}/{collection}/{scope}")
}

/// What the runtime remembers about one subscription between cycles: a
/// header every strategy shares, and `data`, the strategy's own state
/// (each strategy's state type, serialized; opaque to the store).
///
/// Stored as JSON; `#[serde(default)]` lets older data dirs load after
/// fields are added. Data dirs from before `data` existed kept each
/// strategy's fields in the header (`state`, `watermark`, `next_refresh`,
/// `webhook_uri`): they are read into `data` under the same names, which
/// the strategies' state types read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(from = "StoredState")]
pub struct SubscriptionState {
    pub connector: String,
    /// The connection the subscription belongs to in `runtime serve` (set
    /// by the store's view of that connection, [`Store::tenant`]); its
    /// events' lines carry it. `None` in `runtime run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    pub collection: String,
    /// `"all"`, or an event type when per-type strategies split a collection.
    pub scope: String,
    /// The strategy's name (`runtime_connector::Strategy::as_str`).
    pub strategy: String,
    /// The first cycle (which emits nothing) has been committed.
    pub baseline_done: bool,
    /// The strategy's own state.
    pub data: Value,
    /// The committed full-scan snapshot generation: the store's snapshot
    /// protocol reads it (a commit that changes it retires the old one).
    pub snapshot_gen: Option<u64>,
    pub cycles: u64,
    pub last_cycle_at: Option<String>,
    pub last_error: Option<String>,
}

/// The stored form, old header fields included.
#[derive(Deserialize, Default)]
#[serde(default)]
struct StoredState {
    connector: String,
    connection: Option<String>,
    collection: String,
    scope: String,
    strategy: String,
    baseline_done: bool,
    data: Option<Value>,
    snapshot_gen: Option<u64>,
    cycles: u64,
    last_cycle_at: Option<String>,
    last_error: Option<String>,
    // Before `data`:
    state: Value,
    watermark: Value,
    next_refresh: Option<String>,
    webhook_uri: Option<String>,
}

impl From<StoredState> for SubscriptionState {
    fn from(s: StoredState) -> SubscriptionState {
        let data = s.data.unwrap_or_else(|| {
            let mut old = serde_json::Map::new();
            for (key, value) in [
                ("state", s.state),
                ("watermark", s.watermark),
                (
                    "next_refresh",
                    s.next_refresh.map_or(Value::Null, Value::String),
                ),
                (
                    "webhook_uri",
                    s.webhook_uri.map_or(Value::Null, Value::String),
                ),
            ] {
                if !value.is_null() {
                    old.insert(key.into(), value);
                }
            }
            Value::Object(old)
        });
        SubscriptionState {
            connector: s.connector,
            connection: s.connection,
            collection: s.collection,
            scope: s.scope,
            strategy: s.strategy,
            baseline_done: s.baseline_done,
            data,
            snapshot_gen: s.snapshot_gen,
            cycles: s.cycles,
            last_cycle_at: s.last_cycle_at,
            last_error: s.last_error,
        }
    }
}

impl SubscriptionState {
    pub fn new(connector: &str, collection: &str, scope: &str, strategy: &str) -> Self {
        SubscriptionState {
            connector: connector.to_string(),
            collection: collection.to_string(),
            scope: scope.to_string(),
            strategy: strategy.to_string(),
            ..Default::default()
        }
    }

    /// The id this state is stored under.
    pub fn id(&self) -> SubId {
        sub_id(&self.connector, &self.collection, &self.scope)
    }
}

/// Credentials a refresh returned (an OAuth2 token, a connector's
/// `refreshCredentials`), kept so the next run starts from them instead of
/// the connection's, whose refresh token the server may have rotated away.
/// `given` fingerprints the credentials the connection gave when they were
/// refreshed: once the connection gives others (the operator put new ones
/// in), those win.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshedCredentials {
    pub given: String,
    pub value: Value,
}

/// What [`SledStore::claim_connection`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// A new data dir, now bound to the connection.
    New,
    /// State written before data dirs recorded their connection, now bound
    /// to this one.
    Adopted,
    /// Already this connection's.
    Same,
}

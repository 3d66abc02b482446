//! Durable state of `runtime run`: per subscription its state,
//! cursor/watermark and full-scan snapshots, plus the outbox of events not
//! yet delivered. This crate owns persistence and its atomicity and
//! durability (one cycle's state and events land together or not at all).
//! It must not run JavaScript, do HTTP or deliver events.
//!
//! A full-scan cycle uses the store in this order, so a kill at any point
//! leaves either the old generation or the new one current, never a mix:
//! `snapshot_writer(sub, g + 1)` and `finish`, `snapshot_diff(sub, g + 1)`,
//! `commit` with `snapshot_gen = Some(g + 1)` and the diff's events, then
//! `retire_snapshot(sub, g + 1)`. Opening the store finishes a retire cut
//! short and drops the changes of scans that were never committed.

mod error;
mod outbox;
mod sled_store;
mod snapshot;
mod time;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use error::StoreError;
pub use runtime_events::{ChangeType, Event, EventLine, NewEvent};
pub use sled_store::SledStore;
pub use snapshot::{Finished, SnapshotDiff, SnapshotWriter};
pub use time::now_rfc3339;

/// `"<connector>/<collection>/<scope>"`.
pub type SubId = String;

/// Builds the id of a subscription.
pub fn sub_id(connector: &str, collection: &str, scope: &str) -> SubId {
    format!("{connector}/{collection}/{scope}")
}

/// What the runtime remembers about one subscription between cycles.
/// Stored as JSON; `#[serde(default)]` lets older data dirs load after
/// fields are added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SubscriptionState {
    pub connector: String,
    pub collection: String,
    /// `"all"`, or an event type when per-type strategies split a collection.
    pub scope: String,
    /// `webhook`, `pull-latest-records`, `custom-pull` or `full-scan`.
    pub strategy: String,
    /// The first cycle (which emits nothing) has been committed.
    pub baseline_done: bool,
    /// custom-pull / webhook state returned by the connector.
    pub state: Value,
    /// pull-latest-records position; opaque to the store.
    pub watermark: Value,
    /// full-scan: generation of the current snapshot.
    pub snapshot_gen: Option<u64>,
    /// webhook: when the subscription must be refreshed.
    pub next_refresh: Option<String>,
    /// webhook: the URL the registration points at, so a run with another
    /// public URL moves it instead of leaving it pointing nowhere.
    pub webhook_uri: Option<String>,
    pub cycles: u64,
    pub last_cycle_at: Option<String>,
    pub last_error: Option<String>,
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

/// Where subscription state and the outbox live. `SledStore` is the one
/// implementation today; the trait keeps callers independent of it.
pub trait StateStore: Send + Sync {
    fn get(&self, sub: &str) -> Result<Option<SubscriptionState>, StoreError>;
    fn list(&self) -> Result<Vec<(SubId, SubscriptionState)>, StoreError>;
    /// The durability point of a cycle: the subscription's new state and the
    /// cycle's events are written in one atomic transaction and flushed to
    /// disk before this returns. Assigns each event its stable id and
    /// `emittedAt`, and returns the ids in order.
    fn commit(
        &self,
        sub: &str,
        state: &SubscriptionState,
        events: Vec<NewEvent>,
    ) -> Result<Vec<String>, StoreError>;
    /// Undelivered events in commit order as their sink lines, at most
    /// `limit` (and about 8 MiB of them, but at least one); only those
    /// whose commit is on disk (flushed), never one a failed flush may lose.
    fn pending_lines(&self, limit: usize) -> Result<Vec<EventLine>, StoreError>;
    /// [`StateStore::pending_lines`], each read back into an [`Event`].
    fn pending(&self, limit: usize) -> Result<Vec<Event>, StoreError>;
    /// Marks events delivered (removes them from the outbox) and flushes.
    /// Unknown ids are ignored, so a repeated ack is harmless.
    fn ack(&self, ids: &[String]) -> Result<(), StoreError>;
    fn pending_count(&self) -> Result<u64, StoreError>;
    /// Forgets a subscription: its state, snapshots and undelivered events.
    /// Meant for when no cycle of that subscription is running: events a
    /// concurrent commit adds while it runs may survive.
    fn reset(&self, sub: &str) -> Result<(), StoreError>;
}

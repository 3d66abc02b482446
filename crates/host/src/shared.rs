//! What every part of a run shares: the connector, the store, the planned
//! subscriptions with their invokers, and the run's stop signal and
//! counters. Built once by `run`; read by the schedule, the cycle, the
//! server and delivery.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use runtime_connector::{Connection, Connector};
use runtime_engine::Engine;
use runtime_store::Store;
use runtime_strategies::{Ctx, Invoker};
use tokio::sync::{watch, Notify};

use crate::plan::Plan;
use crate::HostError;

/// One subscription with everything its cycles need.
pub(crate) struct Subscription {
    pub plan: Plan,
    pub invoker: Invoker,
    /// Where its webhook registration points (for webhook subscriptions).
    pub webhook_uri: String,
    /// Serializes cycles and webhook requests of one subscription, so two
    /// never read-modify-write its state at once. Pipelined pull cycles
    /// (see `schedule`) do without: their loop is the state's only writer.
    pub lock: tokio::sync::Mutex<()>,
    /// Rung to start a cycle now (the admin API's `run`).
    pub run_now: Notify,
    /// When the schedule's next cycle is due, for status pages.
    pub next_run: Mutex<Option<std::time::SystemTime>>,
}

pub(crate) struct Shared {
    pub connector: Arc<Connector>,
    pub store: Arc<dyn Store>,
    pub subs: Vec<Arc<Subscription>>,
    pub delivered: Arc<Notify>,
    /// Connector-level calls (global webhooks).
    pub base: Invoker,
    /// Stops the run like SIGTERM.
    pub stop: watch::Sender<bool>,
    /// Webhook requests answered 2xx, and the events they committed.
    pub webhook_requests: AtomicU64,
    pub webhook_events: AtomicU64,
    /// Refreshed credentials, kept in the store for the next run.
    pub credentials: crate::credentials::KeptCredentials,
}

impl Shared {
    /// After a failed write: if the store can no longer write (sled makes
    /// an I/O error permanent for the open database), stops the run. A
    /// process that went on would retry cycles that cannot commit and keep
    /// a state in memory that is not on disk. Returns whether it stopped.
    pub(crate) fn stop_if_store_failed(&self) -> bool {
        stop_if_failed(self.store.as_ref(), &self.stop)
    }

    /// The span of a call for `collection`: its log lines carry the
    /// connector, connection and collection.
    pub(crate) fn span(&self, collection: &str) -> tracing::Span {
        tracing::info_span!(
            "call",
            connector = %self.connector.spec.key,
            connection = self.connection_id(),
            collection = %collection,
        )
    }

    /// The connection's id in `runtime serve` (its invokers' tenant), `-`
    /// in `run`: for log lines.
    pub(crate) fn connection_id(&self) -> &str {
        self.base.tenant.as_deref().unwrap_or("-")
    }

    /// What `sub`'s strategy runs against.
    pub(crate) fn ctx<'a>(&'a self, sub: &'a Subscription) -> Ctx<'a> {
        Ctx {
            invoker: &sub.invoker,
            store: self.store.as_ref(),
            sub: &sub.plan.id,
            webhook_uri: &sub.webhook_uri,
        }
    }
}

/// [`Shared::stop_if_store_failed`] for any store and stop signal.
pub(crate) fn stop_if_failed(store: &dyn Store, stop: &watch::Sender<bool>) -> bool {
    let Some(failure) = store.failure() else {
        return false;
    };
    if !*stop.borrow() {
        tracing::error!("{failure}: stopping the run");
    }
    let _ = stop.send(true);
    true
}

/// An invoker for connector-level functions (no collection parameters).
pub(crate) fn base_invoker(
    connector: &Arc<Connector>,
    connection: &Connection,
    engine: Engine,
    tenant: Option<String>,
) -> Result<Invoker, HostError> {
    let connector_parameters = connector.connector_parameters(connection)?;
    Ok(Invoker {
        engine,
        connector: connector.clone(),
        collection: String::new(),
        parameters: connector_parameters.clone(),
        connector_parameters,
        credentials: Arc::new(Mutex::new(connection.credentials.clone())),
        record_builders: Default::default(),
        tenant,
    })
}

/// The same invoker for one collection: its merged parameters, the shared
/// engine and credentials.
pub(crate) fn collection_invoker(
    base: &Invoker,
    connection: &Connection,
    collection: &str,
) -> Result<Invoker, HostError> {
    Ok(Invoker {
        collection: collection.to_string(),
        parameters: base
            .connector
            .collection_parameters(collection, connection, None)?,
        ..base.clone()
    })
}

//! One connection's subscriptions, set up and run: what `runtime run` does
//! for its one connection, and what `runtime serve` does for each of its
//! connections (crates/service), which add, stop, trigger and remove them
//! while the service runs.
//!
//! [`prepare`] plans the subscriptions, restores kept credentials and
//! retires subscriptions no longer planned; [`ConnectionRun`] runs their
//! schedules until stopped and answers the service's questions (status,
//! run now, webhook requests). Delivery and the HTTP server are not here:
//! `run` and the service each own one for all their subscriptions.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use runtime_connector::{Connection, Connector};
use runtime_engine::Engine;
use runtime_store::Store;
use serde::Serialize;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::shared::{base_invoker, collection_invoker, Shared, Subscription};
use crate::{credentials, plan, registrations, schedule, server, HostError};

/// The base of every webhook URL: `--public-url` without a trailing `/`,
/// else `http://<listen>`.
pub fn public_url(given: Option<&str>, listen: std::net::SocketAddr) -> String {
    given
        .map(str::to_string)
        .unwrap_or_else(|| format!("http://{listen}"))
        .trim_end_matches('/')
        .to_string()
}

/// How a connection's subscriptions are set up.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    /// Base of every webhook registration's URL, without a trailing `/`;
    /// the path follows: `/webhooks/{collection}/{scope}` in `run`,
    /// `/webhooks/{connection}/{collection}/{scope}` with a `tenant`.
    pub public_url: String,
    /// Replaces every subscription's pull interval (demos, tests).
    pub interval_override: Option<Duration>,
    /// Pull intervals of single collections, by collection key.
    pub intervals: BTreeMap<String, Duration>,
    /// Woken after each commit that stored events: the deliverer's bell.
    pub delivered: Arc<Notify>,
    /// Tags log lines and the store view; `None` in `run`.
    pub tenant: Option<String>,
}

/// Plans `connection`'s subscriptions and makes everything their cycles
/// share; calls nothing yet but the unregistering of subscriptions that
/// are no longer planned.
pub(crate) async fn prepare(
    connector: Arc<Connector>,
    connection: &Connection,
    engine: Engine,
    store: Arc<dyn Store>,
    options: &ConnectionOptions,
    stop: watch::Sender<bool>,
) -> Result<Arc<Shared>, HostError> {
    let mut plans = plan::plan(&connector, connection);
    for p in &mut plans {
        if let Some(every) = options.intervals.get(&p.collection) {
            p.interval = *every;
        }
        if let Some(every) = options.interval_override {
            p.interval = every;
        }
    }
    let base = base_invoker(&connector, connection, engine, options.tenant.clone())?;
    // Before any call: unregistering removed subscriptions needs them too.
    let credentials =
        credentials::restore(connection, base.credentials.clone(), store.as_ref()).await?;
    let mut subs = Vec::new();
    for p in plans {
        tracing::info!(
            collection = %p.collection,
            scope = %p.scope,
            strategy = p.strategy.name(),
            interval_s = p.interval.as_secs_f64(),
            "subscription"
        );
        let path = match &options.tenant {
            Some(c) => runtime_webhook::connection_webhook_path(c, &p.collection, &p.scope),
            None => runtime_webhook::webhook_path(&p.collection, &p.scope),
        };
        subs.push(Arc::new(Subscription {
            invoker: collection_invoker(&base, connection, &p.collection)?,
            webhook_uri: format!("{}{path}", options.public_url),
            plan: p,
            lock: tokio::sync::Mutex::new(()),
            run_now: Notify::new(),
            next_run: std::sync::Mutex::new(None),
        }));
    }
    let removed = registrations::retire_removed(&base, connection, store.as_ref(), &subs).await?;
    if !removed.is_empty() {
        tracing::info!(
            ?removed,
            "subscriptions no longer enabled were unregistered at the app and reset"
        );
    }
    Ok(Arc::new(Shared {
        connector,
        store,
        subs,
        delivered: options.delivered.clone(),
        base,
        stop,
        webhook_requests: AtomicU64::new(0),
        webhook_events: AtomicU64::new(0),
        credentials,
    }))
}

/// A connection's subscriptions running on their schedules.
pub struct ConnectionRun {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    /// The schedules; empty once stopped (or when started paused).
    tasks: std::sync::Mutex<Vec<JoinHandle<(u64, u64)>>>,
}

/// One subscription as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionStatus {
    pub collection: String,
    pub event_types: Vec<String>,
    pub strategy: String,
    /// `baseline` (no baseline yet), `ok`, `failing` (the last cycle
    /// failed) or `paused` (the connection is disabled).
    pub status: String,
    pub cycles: u64,
    pub last_cycle_at: Option<String>,
    pub last_error: Option<String>,
    pub next_run_at: Option<String>,
    pub pending_events: u64,
}

impl ConnectionRun {
    /// Sets up `connection` and starts every subscription's schedule.
    pub async fn start(
        connector: Arc<Connector>,
        connection: &Connection,
        engine: Engine,
        store: Arc<dyn Store>,
        options: ConnectionOptions,
    ) -> Result<ConnectionRun, HostError> {
        let run = ConnectionRun::paused(connector, connection, engine, store, options).await?;
        let stop_rx = run.stop.subscribe();
        let tasks = run
            .shared
            .subs
            .iter()
            .map(|sub| {
                tokio::spawn(schedule::schedule(
                    run.shared.clone(),
                    sub.clone(),
                    stop_rx.clone(),
                ))
            })
            .collect();
        if let Ok(mut t) = run.tasks.lock() {
            *t = tasks;
        }
        Ok(run)
    }

    /// Sets up `connection` without starting its schedules: for undoing
    /// the registrations of a connection that is not running.
    pub async fn paused(
        connector: Arc<Connector>,
        connection: &Connection,
        engine: Engine,
        store: Arc<dyn Store>,
        options: ConnectionOptions,
    ) -> Result<ConnectionRun, HostError> {
        let (stop, _) = watch::channel(false);
        let shared = prepare(connector, connection, engine, store, &options, stop.clone()).await?;
        Ok(ConnectionRun {
            shared,
            stop,
            tasks: Default::default(),
        })
    }

    /// Stops taking new cycles, waits for those in flight to commit, and
    /// returns (cycles, events). Webhook requests are refused from now on.
    pub async fn stop(&self) -> (u64, u64) {
        let _ = self.stop.send(true);
        let tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => Vec::new(),
        };
        let (mut cycles, mut events) = (0, 0);
        for t in tasks {
            if let Ok((c, e)) = t.await {
                cycles += c;
                events += e;
            }
        }
        (cycles, events)
    }

    /// Stops, then undoes what its subscriptions registered at the app
    /// (webhooks) and forgets their state; events already committed stay
    /// in the outbox to be delivered.
    pub async fn retire(&self) -> Result<(), HostError> {
        let shared = self.shared.clone();
        self.stop().await;
        let store = shared.store.as_ref();
        for (id, state) in store.list().await? {
            if runtime_strategies::registers(&state) {
                if let Some(sub) = shared.subs.iter().find(|s| s.plan.id == id) {
                    if let Err(e) = runtime_strategies::retire(&sub.invoker, &state).await {
                        tracing::warn!(subscription = %id, "undoing the registration at the app failed (state forgotten anyway): {e}");
                    }
                }
            }
            store.forget(&id).await?;
        }
        shared.credentials.keep(store).await;
        Ok(())
    }

    /// Starts a cycle of `collection`'s subscriptions now (or right after
    /// the one running); false when the connection has none.
    pub fn trigger(&self, collection: &str) -> bool {
        let mut any = false;
        for sub in self
            .shared
            .subs
            .iter()
            .filter(|s| s.plan.collection == collection)
        {
            sub.run_now.notify_one();
            any = true;
        }
        any
    }

    /// A webhook request for `collection`/`scope` of this connection,
    /// answered once its events are committed.
    pub async fn webhook(
        &self,
        collection: &str,
        scope: &str,
        method: &Method,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Response {
        if *self.stop.borrow() {
            return server::error(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the connection is stopping or disabled; send again later".into(),
            );
        }
        server::receive_for(
            &self.shared,
            collection,
            scope,
            method,
            query,
            headers,
            body,
        )
        .await
    }

    /// Routes a global webhook's events to this connection's webhook
    /// subscriptions; the events committed, or the answer of a failure.
    pub async fn route_global(&self, handled: &server::GlobalRequest) -> Result<usize, Response> {
        if *self.stop.borrow() {
            return Ok(0);
        }
        server::route_global(&self.shared, handled).await
    }

    /// Every subscription's status.
    pub async fn statuses(&self) -> Result<Vec<SubscriptionStatus>, HostError> {
        let mut out = Vec::new();
        for sub in &self.shared.subs {
            let next = sub.next_run.lock().ok().and_then(|n| *n);
            out.push(status_of(self.shared.store.as_ref(), &sub.plan, next, false).await?);
        }
        Ok(out)
    }
}

/// The statuses of a connection that is not running (disabled): what its
/// subscriptions would be, from their stored state, all `paused`.
pub async fn paused_statuses(
    connector: &Connector,
    connection: &Connection,
    store: &dyn Store,
) -> Result<Vec<SubscriptionStatus>, HostError> {
    let mut out = Vec::new();
    for p in plan::plan(connector, connection) {
        out.push(status_of(store, &p, None, true).await?);
    }
    Ok(out)
}

async fn status_of(
    store: &dyn Store,
    plan: &plan::Plan,
    next: Option<SystemTime>,
    paused: bool,
) -> Result<SubscriptionStatus, HostError> {
    let state = store.get(&plan.id).await?;
    let state = state.filter(|s| plan.strategy.owns(s));
    let status = match &state {
        _ if paused => "paused",
        Some(s) if s.last_error.is_some() => "failing",
        Some(s) if s.baseline_done => "ok",
        _ => "baseline",
    };
    Ok(SubscriptionStatus {
        collection: plan.collection.clone(),
        event_types: plan.types.iter().map(|t| t.as_str().to_string()).collect(),
        strategy: plan.strategy.name().to_string(),
        status: status.to_string(),
        cycles: state.as_ref().map_or(0, |s| s.cycles),
        last_cycle_at: state.as_ref().and_then(|s| s.last_cycle_at.clone()),
        last_error: state.as_ref().and_then(|s| s.last_error.clone()),
        next_run_at: next.map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()),
        pending_events: store.pending_of(&plan.id).await?,
    })
}

/// The invoker of a connector's own functions in `runtime serve` (global
/// webhook handlers): no connection's credentials or parameters, only the
/// defaults of the connector's parameter schema.
pub fn connector_invoker(
    connector: &Arc<Connector>,
    engine: Engine,
    purpose: &str,
) -> Result<runtime_strategies::Invoker, HostError> {
    // Its own module instances, apart from every connection's (no
    // connection id can be spelt with parentheses).
    let tenant = Some("(connector)".to_string());
    let mut invoker = base_invoker(connector, &Connection::empty(), engine, tenant)?;
    invoker.collection = purpose.to_string();
    Ok(invoker)
}

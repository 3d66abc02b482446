//! `runtime run`: the host loop. Plans one subscription per enabled
//! collection (or event type), runs their cycles on their own schedules,
//! commits each cycle's state and events in one durable write, and delivers
//! the outbox to the sink in commit order, acknowledging only what the sink
//! accepted. Webhook subscriptions are served by an HTTP server.
//!
//! Data flows one way: strategy (which calls the engine) -> store -> sink.
//! The host owns scheduling, back-off, shutdown and the webhook endpoint; it
//! must not interpret connector results itself (strategies do).

/// A crash point of tests/run_failpoints.rs: with the `failpoints` feature
/// and `FAILPOINTS=<name>=return`, the process aborts here, as abruptly as a
/// SIGKILL (no destructors, no flush). Without the feature it is nothing.
macro_rules! crash_point {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name, |_| std::process::abort());
    };
}

mod data_dir;
pub mod plan;
mod schedule;
mod server;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runtime_connector::{Connection, Connector};
use runtime_engine::Engine;
use runtime_sinks::{Sink, SinkConfig};
use runtime_store::{SledStore, StateStore, SubscriptionState};
use runtime_strategies::{
    custom_pull, full_scan, pull_latest, webhook, Cycle, Invoker, StrategyError,
};
use serde_json::Value;
use tokio::sync::{watch, Notify};

pub use data_dir::{connection_identity, connector_data_root, default_data_dir, is_old_default};
use plan::{Plan, StrategyPlan};

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    Store(#[from] runtime_store::StoreError),
    #[error("{0}")]
    Sink(#[from] runtime_sinks::SinkError),
    #[error("{0}")]
    Params(#[from] runtime_connector::ParamError),
    #[error("webhook server: {0}")]
    Server(String),
    /// The store cannot write any more (a full disk): the run stopped.
    #[error("{0}; the run stopped. Nothing acknowledged is lost: undelivered events and the state before them are on disk. Free space (or fix the data dir) and start again")]
    StoreFailed(String),
}

/// How long a stopping run waits for the sink to take the last events.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Options of `runtime run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub sink: SinkConfig,
    pub once: bool,
    /// With `once`: subscribe webhook collections too. Off by default:
    /// nothing listens once the run exits, so the app's deliveries fail.
    pub once_webhooks: bool,
    /// Address of the webhook server (started only if a subscription uses webhooks).
    pub listen: SocketAddr,
    /// Public base URL external apps use to reach `listen`.
    pub public_url: Option<String>,
    /// Largest webhook body accepted (413 beyond it).
    pub max_webhook_body: usize,
    /// How long a webhook sender may take to deliver its body (408 beyond it).
    pub webhook_read_timeout: Duration,
    /// Replaces every subscription's pull interval (demos, tests).
    pub interval_override: Option<Duration>,
    /// Stops the run like SIGTERM when it turns true.
    pub stop: Option<watch::Receiver<bool>>,
}

/// The outcome of a run: failures by subscription (for `--once`).
#[derive(Debug, Default)]
pub struct RunReport {
    pub cycles: u64,
    /// Events of cycles and of webhook requests.
    pub events: u64,
    pub webhook_requests: u64,
    pub failures: Vec<(String, String)>,
}

/// One subscription with everything its cycles need.
pub(crate) struct Subscription {
    pub plan: Plan,
    pub invoker: Invoker,
    /// Serializes cycles and webhook requests of one subscription, so two
    /// never read-modify-write its state at once. Pipelined pull cycles
    /// (see `schedule`) do without: their loop is the state's only writer.
    pub lock: tokio::sync::Mutex<()>,
}

pub(crate) struct Shared {
    pub connector: Arc<Connector>,
    pub store: Arc<SledStore>,
    pub subs: Vec<Arc<Subscription>>,
    pub delivered: Notify,
    pub public_url: String,
    /// Connector-level calls (global webhooks).
    pub base: Invoker,
    /// Stops the run like SIGTERM.
    pub stop: watch::Sender<bool>,
    /// Webhook requests answered 2xx, and the events they committed.
    pub webhook_requests: AtomicU64,
    pub webhook_events: AtomicU64,
}

impl Shared {
    /// After a failed write: if the store can no longer write (sled makes
    /// an I/O error permanent for the open database), stops the run. A
    /// process that went on would retry cycles that cannot commit and keep
    /// a state in memory that is not on disk. Returns whether it stopped.
    pub(crate) fn stop_if_store_failed(&self) -> bool {
        let Some(failure) = self.store.failure() else {
            return false;
        };
        if !*self.stop.borrow() {
            tracing::error!("{failure}: stopping the run");
        }
        let _ = self.stop.send(true);
        true
    }
}

/// An invoker for connector-level functions (no collection parameters).
fn base_invoker(
    connector: &Arc<Connector>,
    connection: &Connection,
    engine: Engine,
) -> Result<Invoker, HostError> {
    let connector_parameters = connector.connector_parameters(connection)?;
    Ok(Invoker {
        engine,
        connector: connector.clone(),
        collection: String::new(),
        parameters: connector_parameters.clone(),
        connector_parameters,
        credentials: Arc::new(Mutex::new(connection.credentials.clone())),
    })
}

/// The same invoker for one collection: its merged parameters, the shared
/// engine and credentials.
fn collection_invoker(
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

/// Stored webhook subscriptions that are no longer planned (collection
/// disabled or removed) are unsubscribed at the external app and
/// forgotten, so it stops sending to an endpoint nobody serves.
async fn retire_removed(
    base: &Invoker,
    connection: &Connection,
    store: &Arc<SledStore>,
    subs: &[Arc<Subscription>],
) -> Result<Vec<String>, HostError> {
    let mut removed = Vec::new();
    for (id, state) in store.list()? {
        let planned = subs.iter().any(|s| s.plan.id == id);
        if planned
            || state.connector != base.connector.spec.key
            || state.strategy != StrategyPlan::Webhook.name()
        {
            continue;
        }
        unsubscribe_and_reset(base, connection, store, &id, &state).await?;
        removed.push(id);
    }
    Ok(removed)
}

async fn unsubscribe_and_reset(
    base: &Invoker,
    connection: &Connection,
    store: &Arc<SledStore>,
    id: &str,
    state: &SubscriptionState,
) -> Result<(), HostError> {
    let exists = base.connector.collections.contains_key(&state.collection);
    if state.strategy == StrategyPlan::Webhook.name() && state.baseline_done && exists {
        let invoker = collection_invoker(base, connection, &state.collection)?;
        if let Err(e) = webhook::unsubscribe(&invoker, state).await {
            tracing::warn!(subscription = %id, "webhook-unsubscribe failed (state reset anyway): {e}");
        }
    }
    store.reset(id)?;
    Ok(())
}

pub async fn run(
    connector: Arc<Connector>,
    connection: Connection,
    engine: Engine,
    store: Arc<SledStore>,
    options: RunOptions,
) -> Result<RunReport, HostError> {
    let mut plans = plan::plan(&connector, &connection);
    if let Some(every) = options.interval_override {
        for p in &mut plans {
            p.interval = every;
        }
    }
    let base = base_invoker(&connector, &connection, engine)?;
    let mut subs = Vec::new();
    for p in plans {
        subs.push(Arc::new(Subscription {
            invoker: collection_invoker(&base, &connection, &p.collection)?,
            plan: p,
            lock: tokio::sync::Mutex::new(()),
        }));
    }
    let public_url = options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", options.listen))
        .trim_end_matches('/')
        .to_string();
    for sub in &subs {
        let p = &sub.plan;
        tracing::info!(
            collection = %p.collection,
            scope = %p.scope,
            strategy = p.strategy.name(),
            interval_s = p.interval.as_secs_f64(),
            "subscription"
        );
    }
    if subs.iter().any(|s| s.plan.strategy.is_webhook()) {
        warn_unreachable(&public_url, options.public_url.is_none());
    }
    let removed = retire_removed(&base, &connection, &store, &subs).await?;
    if !removed.is_empty() {
        tracing::info!(
            ?removed,
            "webhook subscriptions no longer enabled were unsubscribed and reset"
        );
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        connector: connector.clone(),
        store,
        subs,
        delivered: Notify::new(),
        public_url,
        base,
        stop: stop_tx.clone(),
        webhook_requests: AtomicU64::new(0),
        webhook_events: AtomicU64::new(0),
    });
    let mut sink = runtime_sinks::build(&options.sink)?;
    tracing::info!(
        connector = %connector.spec.key,
        subscriptions = shared.subs.len(),
        sink = %sink.describe(),
        "starting"
    );
    if options.once {
        return run_once(&shared, sink.as_mut(), options.once_webhooks).await;
    }

    tokio::spawn(wait_for_signal(stop_tx, options.stop.clone()));
    let uses_webhooks = !connector.global_webhooks.is_empty()
        || shared.subs.iter().any(|s| s.plan.strategy.is_webhook());
    if uses_webhooks {
        server::start(
            shared.clone(),
            options.listen,
            server::Limits {
                max_body: options.max_webhook_body,
                read_timeout: options.webhook_read_timeout,
            },
            stop_rx.clone(),
        )
        .await?;
    }
    let mut tasks = Vec::new();
    for sub in &shared.subs {
        tasks.push(tokio::spawn(schedule::schedule(
            shared.clone(),
            sub.clone(),
            stop_rx.clone(),
        )));
    }
    // The deliverer outlives the subscriptions: it stops only after the
    // cycles in flight at a stop signal have committed, so it can deliver them.
    let (done_tx, done_rx) = watch::channel(false);
    let deliverer = tokio::spawn(deliver_loop(shared.clone(), sink, done_rx));
    let mut report = RunReport::default();
    for t in tasks {
        if let Ok((cycles, events)) = t.await {
            report.cycles += cycles;
            report.events += events;
        }
    }
    // Subscriptions are done: the deliverer drains what they committed.
    let _ = done_tx.send(true);
    // A sink that is down would hold the exit forever (HTTP sinks retry
    // without end); what is not delivered stays in the outbox for next time.
    match tokio::time::timeout(SHUTDOWN_GRACE, deliverer).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!(
            "delivery at shutdown failed; undelivered events stay in the outbox for the next start: {e}"
        ),
        Ok(Err(e)) => tracing::error!("delivery task failed: {e}"),
        Err(_) => tracing::warn!(
            "sink still not accepting after {} s; undelivered events stay in the outbox for the next start",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    let webhook_events = shared.webhook_events.load(Ordering::Relaxed);
    report.webhook_requests = shared.webhook_requests.load(Ordering::Relaxed);
    report.events += webhook_events;
    tracing::info!(
        cycles = report.cycles,
        events = report.events,
        webhook_requests = report.webhook_requests,
        webhook_events,
        "stopped"
    );
    match shared.store.failure() {
        Some(failure) => Err(HostError::StoreFailed(failure)),
        None => Ok(report),
    }
}

async fn run_once(
    shared: &Arc<Shared>,
    sink: &mut dyn Sink,
    webhooks: bool,
) -> Result<RunReport, HostError> {
    let mut report = RunReport::default();
    let mut runs = Vec::new();
    for sub in &shared.subs {
        if sub.plan.strategy.is_webhook() && !webhooks {
            tracing::info!(
                subscription = %sub.plan.id,
                "webhook collection not subscribed with --once: no server would receive the app's deliveries after this run exits (pass --once-webhooks to subscribe it anyway)"
            );
            continue;
        }
        let (shared, sub) = (shared.clone(), sub.clone());
        runs.push(async move { (sub.plan.id.clone(), run_cycle(&shared, &sub).await) });
    }
    for (id, result) in futures::future::join_all(runs).await {
        report.cycles += 1;
        match result {
            Ok(n) => report.events += n as u64,
            Err(e) => report.failures.push((id, e)),
        }
    }
    let drained = drain(&shared.store, sink).await;
    if let Some(failure) = shared.store.failure() {
        return Err(HostError::StoreFailed(failure));
    }
    drained?;
    Ok(report)
}

/// Warns when webhooks would be registered at an address the external app
/// cannot reach (loopback, unspecified, private): deliveries there fail.
fn warn_unreachable(public_url: &str, defaulted: bool) {
    let Ok(url) = url::Url::parse(public_url) else {
        return;
    };
    let unreachable = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified() || ip.is_private(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        None => true,
    };
    if unreachable {
        let how = if defaulted {
            " (--listen, as no --public-url was given)"
        } else {
            ""
        };
        tracing::warn!(
            "webhooks are registered at {public_url}{how}, which an external app cannot reach; pass --public-url with the address it can reach (a tunnel or your server's URL)"
        );
    }
}

async fn wait_for_signal(stop: watch::Sender<bool>, external: Option<watch::Receiver<bool>>) {
    let external = async move {
        match external {
            Some(mut rx) => {
                while !*rx.borrow() {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = os_signal() => {}
        _ = external => {}
    }
    tracing::info!("stopping: finishing cycles in flight, then delivering");
    let _ = stop.send(true);
}

async fn os_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        } else {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

pub(crate) fn load_state(shared: &Shared, sub: &Subscription) -> Result<SubscriptionState, String> {
    let plan = &sub.plan;
    let fresh = || {
        SubscriptionState::new(
            &shared.connector.spec.key,
            &plan.collection,
            &plan.scope,
            plan.strategy.name(),
        )
    };
    match shared.store.get(&plan.id).map_err(|e| e.to_string())? {
        Some(s) if s.strategy == plan.strategy.name() => Ok(s),
        Some(s) => {
            tracing::warn!(
                subscription = %plan.id,
                "strategy changed from {} to {}: starting a new baseline",
                s.strategy,
                plan.strategy.name()
            );
            Ok(fresh())
        }
        None => Ok(fresh()),
    }
}

pub(crate) fn webhook_uri(shared: &Shared, plan: &Plan) -> String {
    let path = runtime_webhook::webhook_path(&plan.collection, &plan.scope);
    format!("{}{path}", shared.public_url)
}

/// One cycle: run the strategy, commit its state and events durably, wake
/// the deliverer. On failure the stored state is unchanged except for
/// `lastError`.
pub(crate) async fn run_cycle(shared: &Arc<Shared>, sub: &Subscription) -> Result<usize, String> {
    let _guard = sub.lock.lock().await;
    let state = load_state(shared, sub)?;
    if sub.plan.strategy.is_webhook()
        && state.baseline_done
        && !refresh_due(&state)
        && !moved(shared, sub, &state)
    {
        return Ok(0);
    }
    match run_strategy(shared, sub, &state).await {
        Ok(cycle) => {
            crash_point!("after-js-result");
            let baseline = !state.baseline_done;
            let n = commit(shared, &sub.plan, cycle).await?;
            if baseline {
                note_baseline(shared, &sub.plan);
            }
            Ok(n)
        }
        Err(e) => Err(record_failure(shared, sub, state, e)),
    }
}

/// Whether a webhook registration points at another URL than this run's.
/// State from before the URL was recorded counts as not moved.
fn moved(shared: &Shared, sub: &Subscription, state: &SubscriptionState) -> bool {
    state
        .webhook_uri
        .as_deref()
        .is_some_and(|u| u != webhook_uri(shared, &sub.plan))
}

/// "baseline taken", with what the subscription now compares against.
pub(crate) fn note_baseline(shared: &Shared, plan: &Plan) {
    let Ok(Some(state)) = shared.store.get(&plan.id) else {
        return;
    };
    // Names, not values: a connector's state may hold secrets.
    let stored = match &plan.strategy {
        StrategyPlan::FullScan(_) => format!(
            "a snapshot of {} records",
            shared.store.snapshot_len(&plan.id).unwrap_or(0)
        ),
        StrategyPlan::PullLatest(_) => format!("the watermark {}", state.watermark),
        StrategyPlan::CustomPull(_) | StrategyPlan::Webhook => {
            format!("the state ({})", runtime_events::keys_of(&state.state))
        }
    };
    tracing::info!(subscription = %plan.id, "baseline taken: stored {stored}");
}

/// The subscription's strategy, one cycle from `state`.
pub(crate) async fn run_strategy(
    shared: &Arc<Shared>,
    sub: &Subscription,
    state: &SubscriptionState,
) -> Result<Cycle, StrategyError> {
    let plan = &sub.plan;
    match &plan.strategy {
        StrategyPlan::PullLatest(c) => pull_latest::cycle(&sub.invoker, c, state).await,
        StrategyPlan::CustomPull(c) => custom_pull::cycle(&sub.invoker, c, state).await,
        StrategyPlan::FullScan(c) => {
            full_scan::cycle(&sub.invoker, c, &shared.store, &plan.id, state).await
        }
        StrategyPlan::Webhook => {
            let uri = webhook_uri(shared, plan);
            match state.baseline_done && moved(shared, sub, state) {
                true => webhook::move_to(&sub.invoker, state, &uri).await,
                false => webhook::subscribe(&sub.invoker, state, &uri).await,
            }
        }
    }
}

/// Notes a failed cycle's error on the stored state (nothing else of it
/// changes) and returns the message.
pub(crate) fn record_failure(
    shared: &Shared,
    sub: &Subscription,
    state: SubscriptionState,
    e: StrategyError,
) -> String {
    let message = e.to_string();
    let mut failed = state;
    failed.last_error = Some(message.clone());
    // Only the error note changes; a store failure here is secondary.
    let _ = shared.store.commit(&sub.plan.id, &failed, Vec::new());
    message
}

fn refresh_due(state: &SubscriptionState) -> bool {
    let Some(at) = &state.next_refresh else {
        return false;
    };
    let now = chrono::Utc::now().timestamp_millis();
    match runtime_strategies::parse_time(&Value::String(at.clone())) {
        Some(t) => t <= now,
        None => false,
    }
}

pub(crate) async fn commit(
    shared: &Arc<Shared>,
    plan: &Plan,
    mut cycle: Cycle,
) -> Result<usize, String> {
    cycle.events.retain(|e| plan.types.contains(&e.change));
    let store = shared.store.clone();
    let id = plan.id.clone();
    let retire = cycle.retire_snapshot;
    // sled's flush is a blocking fsync: keep it off the async workers.
    let stored = tokio::task::spawn_blocking(move || {
        crash_point!("before-commit");
        let stored = store.commit(&id, &cycle.state, cycle.events)?;
        if let Some(gen) = retire {
            store.retire_snapshot(&id, gen)?;
        }
        Ok::<Vec<String>, runtime_store::StoreError>(stored)
    })
    .await
    .map_err(|e| format!("commit task failed: {e}"))?
    .map_err(|e| {
        // A webhook request ends here too: stop before answering it.
        shared.stop_if_store_failed();
        format!("commit failed: {e}")
    })?;
    if !stored.is_empty() {
        tracing::info!(subscription = %plan.id, events = stored.len(), "cycle committed");
        shared.delivered.notify_one();
    }
    Ok(stored.len())
}

/// Delivers the outbox in order: one batch at a time, acknowledged only
/// after the sink accepted it. A failing sink is retried with back-off;
/// events stay in the outbox meanwhile.
async fn deliver_loop(
    shared: Arc<Shared>,
    mut sink: Box<dyn Sink>,
    mut done: watch::Receiver<bool>,
) -> Result<(), HostError> {
    let mut failures = 0u32;
    loop {
        match drain(&shared.store, sink.as_mut()).await {
            Ok(_) => failures = 0,
            Err(_) if shared.stop_if_store_failed() => return Ok(()),
            Err(e) => {
                failures += 1;
                tracing::error!(failures, "delivery failed, will retry: {e}");
            }
        }
        if *done.borrow() {
            // Stopping: one last drain of whatever the final cycles committed.
            return drain(&shared.store, sink.as_mut()).await.map(|_| ());
        }
        let wait = if failures > 0 {
            Duration::from_millis(200u64.saturating_mul(1 << failures.min(8)))
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            _ = shared.delivered.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = done.changed() => {}
        }
    }
}

async fn drain(store: &Arc<SledStore>, sink: &mut dyn Sink) -> Result<usize, HostError> {
    let mut total = 0;
    loop {
        // Each batch costs the sink a write (and the file sink an fsync) and
        // the store a flush of its acknowledgement: batches of 5,000 (at
        // most ~8 MiB) keep those to a few per second at 50,000 events/s.
        let batch = store.pending_lines(5000)?;
        if batch.is_empty() {
            return Ok(total);
        }
        crash_point!("before-sink-deliver");
        sink.deliver(&batch).await?;
        crash_point!("after-sink-ack");
        let ids: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
        store.ack(&ids)?;
        crash_point!("after-store-ack");
        total += batch.len();
    }
}

/// `runtime state reset`: forgets subscriptions (calling
/// `webhook-unsubscribe` for webhook ones first). Returns the ids reset.
pub async fn reset(
    connector: Arc<Connector>,
    connection: Connection,
    engine: Engine,
    store: Arc<SledStore>,
    collection: Option<&str>,
) -> Result<Vec<String>, HostError> {
    let base = base_invoker(&connector, &connection, engine)?;
    let mut done = Vec::new();
    for (id, state) in store.list()? {
        if state.connector != connector.spec.key
            || collection.is_some_and(|c| c != state.collection)
        {
            continue;
        }
        unsubscribe_and_reset(&base, &connection, &store, &id, &state).await?;
        done.push(id);
    }
    Ok(done)
}

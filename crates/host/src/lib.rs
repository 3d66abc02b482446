//! `runtime run`: the host loop. Plans one subscription per enabled
//! collection (or event type), runs their cycles on their own schedules,
//! commits each cycle's state and events in one durable write, and delivers
//! the outbox to the sink in commit order, acknowledging only what the sink
//! accepted. Webhook subscriptions are served by an HTTP server.
//!
//! Data flows one way: strategy (which calls the engine) -> store -> sink.
//! The host owns scheduling, back-off, shutdown and the webhook endpoint; it
//! must not interpret connector results itself (strategies do), nor ask
//! which strategy a subscription has (it asks the strategy what it needs).
//!
//! Files, one job each: `plan` (which subscriptions), `connection` (one
//! connection's subscriptions set up and run: used by `run` and by
//! `runtime serve`), `shared` (what a connection's cycles share), `cycle` (the one cycle path), `schedule` (when cycles run),
//! `server` (webhook requests), `delivery` (outbox to sink), `stop`
//! (signals), `registrations` (undoing what subscribing left at the app),
//! `data_dir` (where a connection's state lives), `error`.

mod connection;
mod credentials;
mod cycle;
mod data_dir;
pub mod delivery;
mod error;
pub mod plan;
mod registrations;
mod schedule;
pub mod server;
mod shared;
mod stop;

pub use stop::wait_for_signal;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use runtime_connector::{Connection, Connector};
use runtime_engine::Engine;
use runtime_sinks::{Sink, SinkConfig};
use runtime_store::Store;
use tokio::sync::{watch, Notify};

pub use connection::{
    connector_invoker, paused_statuses, public_url, ConnectionOptions, ConnectionRun,
    SubscriptionStatus,
};
pub use data_dir::{connection_identity, connector_data_root, default_data_dir, is_old_default};
pub use error::{CycleError, HostError};
pub use registrations::reset;

use cycle::{Outcome, Work};
use shared::Shared;

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

pub async fn run(
    connector: Arc<Connector>,
    connection: Connection,
    engine: Engine,
    store: Arc<dyn Store>,
    options: RunOptions,
) -> Result<RunReport, HostError> {
    let public_url = connection::public_url(options.public_url.as_deref(), options.listen);
    let setup = ConnectionOptions {
        public_url: public_url.clone(),
        interval_override: options.interval_override,
        intervals: Default::default(),
        delivered: Arc::new(Notify::new()),
        tenant: None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = connection::prepare(
        connector.clone(),
        &connection,
        engine,
        store,
        &setup,
        stop_tx.clone(),
    )
    .await?;
    let serves_requests = !connector.global_webhooks.is_empty()
        || shared
            .subs
            .iter()
            .any(|s| s.plan.strategy.receives_requests());
    if serves_requests {
        registrations::warn_unreachable(&public_url, options.public_url.is_none());
    }
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

    tokio::spawn(stop::wait_for_signal(stop_tx.clone(), options.stop.clone()));
    if serves_requests {
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
    let deliverer = tokio::spawn(delivery::deliver_loop(
        shared.store.clone(),
        shared.delivered.clone(),
        stop_tx.clone(),
        sink,
        done_rx,
        Default::default(),
    ));
    let mut report = RunReport::default();
    for t in tasks {
        if let Ok((cycles, events)) = t.await {
            report.cycles += cycles;
            report.events += events;
        }
    }
    // Subscriptions are done: the deliverer drains what they committed.
    delivery::finish(done_tx, deliverer).await;
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
    requests_too: bool,
) -> Result<RunReport, HostError> {
    let mut report = RunReport::default();
    let mut runs = Vec::new();
    for sub in &shared.subs {
        if !sub.plan.strategy.runs_once() && !requests_too {
            tracing::info!(
                subscription = %sub.plan.id,
                "webhook collection not subscribed with --once: no server would receive the app's deliveries after this run exits (pass --once-webhooks to subscribe it anyway)"
            );
            continue;
        }
        let (shared, sub) = (shared.clone(), sub.clone());
        runs.push(async move {
            let result = cycle::run(&shared, &sub, Work::Scheduled).await;
            (sub.plan.id.clone(), result)
        });
    }
    for (id, result) in futures::future::join_all(runs).await {
        report.cycles += 1;
        match result {
            Ok(Outcome::Committed { events, .. }) => report.events += events as u64,
            Ok(_) => {}
            Err(e) => report.failures.push((id, e.to_string())),
        }
    }
    let drained = delivery::drain(shared.store.as_ref(), sink).await;
    if let Some(failure) = shared.store.failure() {
        return Err(HostError::StoreFailed(failure));
    }
    drained?;
    Ok(report)
}

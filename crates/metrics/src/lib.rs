//! Every metric of the runtime, declared in one place (the table below is
//! the list `docs/serve.md` documents), counted by the crates that see
//! the event, and encoded as Prometheus text by `runtime serve`'s
//! `/metrics`.
//!
//! Owns the names, labels, buckets and the encoding. It must not decide
//! what is counted (the host counts cycles, the API client requests, the
//! invoker limit hits): callers use the small functions here, so a name is
//! spelt once. Counting is a few atomic adds; `runtime run` counts too
//! and never encodes. Labels are the connector and collection, never the
//! connection: 10,000 connections must not mean 10,000 series per metric.
//!
//! Values only the service knows at scrape time (outbox depth, workers,
//! connections, leases) are passed to [`render`] as a [`Snapshot`].

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

struct Metrics {
    registry: Registry,
    cycles: Family<Labels, Counter>,
    cycle_failures: Family<Labels, Counter>,
    events: Family<Labels, Counter>,
    delivered: Counter,
    delivery_failures: Counter,
    schedule_lag: Histogram,
    api_requests: Family<Labels, Counter>,
    limit_hits: Family<Labels, Counter>,
    webhook_requests: Family<Labels, Counter>,
    outbox_depth: Gauge<i64, AtomicI64>,
    connections: Family<Labels, Gauge<i64, AtomicI64>>,
    workers_running: Gauge<i64, AtomicI64>,
    workers_restarted: Counter<u64, AtomicU64>,
    leases_held: Gauge<i64, AtomicI64>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("runtime");
    let m = Metrics {
        cycles: Family::default(),
        cycle_failures: Family::default(),
        events: Family::default(),
        delivered: Counter::default(),
        delivery_failures: Counter::default(),
        // 1 ms to ~65 s: a cycle due now starts within milliseconds; one
        // that waits for a busy engine or a back-off shows in the tail.
        schedule_lag: Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
            0.001, 2.0, 17,
        )),
        api_requests: Family::default(),
        limit_hits: Family::default(),
        webhook_requests: Family::default(),
        outbox_depth: Gauge::default(),
        connections: Family::default(),
        workers_running: Gauge::default(),
        workers_restarted: Counter::default(),
        leases_held: Gauge::default(),
        registry: Registry::default(),
    };
    let r = &mut registry;
    r.register(
        "cycles",
        "Cycles run, by connector and collection",
        m.cycles.clone(),
    );
    r.register(
        "cycle_failures",
        "Cycles that failed, by connector and collection",
        m.cycle_failures.clone(),
    );
    r.register("events", "Events committed, by type", m.events.clone());
    r.register(
        "delivered_events",
        "Events the sink accepted",
        m.delivered.clone(),
    );
    r.register(
        "delivery_failures",
        "Deliveries to the sink that failed (retried)",
        m.delivery_failures.clone(),
    );
    r.register(
        "schedule_lag_seconds",
        "How late a scheduled cycle started against its due time",
        m.schedule_lag.clone(),
    );
    r.register(
        "api_requests",
        "apiClient requests answered, by status class (2xx..5xx, or error)",
        m.api_requests.clone(),
    );
    r.register(
        "limit_hits",
        "Connector calls stopped by a limit, by kind",
        m.limit_hits.clone(),
    );
    r.register(
        "webhook_requests",
        "Webhook requests answered, by status class",
        m.webhook_requests.clone(),
    );
    r.register(
        "outbox_depth",
        "Events committed and not yet delivered",
        m.outbox_depth.clone(),
    );
    r.register(
        "connections",
        "Connections by state (running, paused)",
        m.connections.clone(),
    );
    r.register(
        "engine_workers_running",
        "Engine worker processes running",
        m.workers_running.clone(),
    );
    r.register(
        "engine_workers_restarted",
        "Engine worker processes replaced after they died or were killed",
        m.workers_restarted.clone(),
    );
    r.register(
        "leases_held",
        "Subscription leases this instance holds",
        m.leases_held.clone(),
    );
    Metrics { registry, ..m }
});

fn by(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// A scheduled cycle ran (`ok`: it committed or had nothing to do), `lag`
/// after it was due.
pub fn cycle(connector: &str, collection: &str, ok: bool, lag: Duration) {
    let m = &*METRICS;
    let labels = by(&[("connector", connector), ("collection", collection)]);
    m.cycles.get_or_create(&labels).inc();
    if !ok {
        m.cycle_failures.get_or_create(&labels).inc();
    }
    m.schedule_lag.observe(lag.as_secs_f64());
}

/// `n` events of `change` (`created`, `updated`, `deleted`) committed.
pub fn events(change: &str, n: u64) {
    METRICS
        .events
        .get_or_create(&by(&[("type", change)]))
        .inc_by(n);
}

/// A delivery to the sink: `n` events accepted, or a failure.
pub fn delivery(result: Result<u64, ()>) {
    match result {
        Ok(n) => {
            METRICS.delivered.inc_by(n);
        }
        Err(()) => {
            METRICS.delivery_failures.inc();
        }
    }
}

/// The class of an HTTP status: `2xx` ... `5xx`.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// An apiClient request's final answer (`None`: no answer, a network or
/// policy error).
pub fn api_request(status: Option<u16>) {
    let class = status.map_or("error", status_class);
    METRICS
        .api_requests
        .get_or_create(&by(&[("class", class)]))
        .inc();
}

/// A call stopped by a limit (`cpu`, `wall`, `heap`, ...).
pub fn limit_hit(kind: &str) {
    METRICS
        .limit_hits
        .get_or_create(&by(&[("kind", kind)]))
        .inc();
}

/// A webhook request answered with `status`.
pub fn webhook_request(status: u16) {
    let class = status_class(status);
    METRICS
        .webhook_requests
        .get_or_create(&by(&[("class", class)]))
        .inc();
}

/// What only the service knows when it is scraped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Snapshot {
    pub outbox_depth: u64,
    pub connections_running: u64,
    pub connections_paused: u64,
    pub workers_running: u64,
    /// Total replacements so far (a counter: only its increase is added).
    pub workers_restarted: u64,
    pub leases_held: u64,
}

/// Every metric as Prometheus (OpenMetrics) text.
pub fn render(snapshot: Snapshot) -> String {
    let m = &*METRICS;
    let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    m.outbox_depth.set(gauge(snapshot.outbox_depth));
    m.connections
        .get_or_create(&by(&[("state", "running")]))
        .set(gauge(snapshot.connections_running));
    m.connections
        .get_or_create(&by(&[("state", "paused")]))
        .set(gauge(snapshot.connections_paused));
    m.workers_running.set(gauge(snapshot.workers_running));
    let restarted = m.workers_restarted.get();
    if snapshot.workers_restarted > restarted {
        m.workers_restarted
            .inc_by(snapshot.workers_restarted - restarted);
    }
    m.leases_held.set(gauge(snapshot.leases_held));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &m.registry);
    out
}

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_values_appear_in_the_text() {
        cycle("acme", "deals", true, Duration::from_millis(3));
        cycle("acme", "deals", false, Duration::from_millis(3));
        events("created", 5);
        api_request(Some(429));
        api_request(None);
        limit_hit("cpu");
        let text = render(Snapshot {
            outbox_depth: 7,
            workers_restarted: 2,
            ..Snapshot::default()
        });
        for line in [
            r#"runtime_cycles_total{connector="acme",collection="deals"} 2"#,
            r#"runtime_cycle_failures_total{connector="acme",collection="deals"} 1"#,
            r#"runtime_events_total{type="created"} 5"#,
            r#"runtime_api_requests_total{class="4xx"} 1"#,
            r#"runtime_api_requests_total{class="error"} 1"#,
            r#"runtime_limit_hits_total{kind="cpu"} 1"#,
            "runtime_outbox_depth 7",
            "runtime_engine_workers_restarted_total 2",
            "runtime_schedule_lag_seconds_count 2",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}

//! Delivery: the outbox to the sink in commit order, one batch at a time,
//! acknowledged only after the sink accepted it. A failing sink is retried
//! with back-off; events stay in the outbox meanwhile.

use std::sync::Arc;
use std::time::Duration;

use runtime_retry::{Backoff, Jitter};
use runtime_sinks::Sink;
use runtime_store::Store;
use tokio::sync::{watch, Notify};

use runtime_crash::crash_point;

use crate::HostError;

/// A failing sink is tried again after 0.4 s, doubling up to 51 s.
const RETRY: Backoff = Backoff::new(Duration::from_millis(200), Duration::MAX)
    .with_max_exponent(8)
    .with_jitter(Jitter::None);

/// A delivery still unfinished after this long counts as failing: the
/// HTTP sink retries inside one delivery without end.
const STALLED: Duration = Duration::from_secs(5);

/// Whether the sink is taking events, for readiness checks.
#[derive(Debug, Default)]
pub struct DeliveryHealth {
    state: std::sync::Mutex<Health>,
}

#[derive(Debug, Default)]
struct Health {
    /// The last delivery failed with this.
    failed: Option<String>,
    /// A delivery of pending events began then and has not ended.
    busy_since: Option<std::time::Instant>,
}

impl DeliveryHealth {
    /// Why the sink does not take events, while it does not: the last
    /// delivery failed, or one has been retrying for [`STALLED`].
    pub fn failing(&self) -> Option<String> {
        let h = self.state.lock().ok()?;
        if let Some(e) = &h.failed {
            return Some(e.clone());
        }
        let busy = h.busy_since?.elapsed();
        (busy >= STALLED).then(|| {
            format!(
                "a delivery has not completed for {} s (the sink is retrying; see the log)",
                busy.as_secs()
            )
        })
    }

    fn update(&self, f: impl FnOnce(&mut Health)) {
        if let Ok(mut h) = self.state.lock() {
            f(&mut h);
        }
    }

    fn set(&self, error: Option<String>) {
        self.update(|h| {
            h.failed = error;
            h.busy_since = None;
        });
    }
}

/// Delivers until `done` turns true, then drains once more. `stop` is
/// the run's stop signal, set when the store can no longer write.
pub async fn deliver_loop(
    store: Arc<dyn Store>,
    delivered: Arc<Notify>,
    stop: watch::Sender<bool>,
    mut sink: Box<dyn Sink>,
    mut done: watch::Receiver<bool>,
    health: Arc<DeliveryHealth>,
) -> Result<(), HostError> {
    let mut failures = 0u32;
    loop {
        health.update(|h| {
            h.busy_since.get_or_insert_with(std::time::Instant::now);
        });
        match drain(store.as_ref(), sink.as_mut()).await {
            Ok(n) => {
                failures = 0;
                health.set(None);
                runtime_metrics::delivery(Ok(n as u64));
            }
            Err(_) if crate::shared::stop_if_failed(store.as_ref(), &stop) => return Ok(()),
            Err(e) => {
                failures += 1;
                health.set(Some(e.to_string()));
                runtime_metrics::delivery(Err(()));
                tracing::error!(failures, "delivery failed, will retry: {e}");
            }
        }
        if *done.borrow() {
            // Stopping: one last drain of whatever the final cycles committed.
            return drain(store.as_ref(), sink.as_mut()).await.map(|_| ());
        }
        let wait = if failures > 0 {
            RETRY.delay(failures.saturating_add(1))
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            _ = delivered.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = done.changed() => {}
        }
    }
}

/// How long a stopping run waits for the sink to take the last events.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Tells the deliverer of [`deliver_loop`] that the cycles are done and
/// waits for its last drain, at most [`SHUTDOWN_GRACE`]: a sink that is
/// down would hold the exit forever (HTTP sinks retry without end), and
/// what is not delivered stays in the outbox for the next start.
pub async fn finish(
    done: watch::Sender<bool>,
    deliverer: tokio::task::JoinHandle<Result<(), HostError>>,
) {
    let _ = done.send(true);
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
}

/// Delivers everything pending; returns how many events.
pub(crate) async fn drain(store: &dyn Store, sink: &mut dyn Sink) -> Result<usize, HostError> {
    let mut total = 0;
    loop {
        // Each batch costs the sink a write (and the file sink an fsync) and
        // the store a flush of its acknowledgement: batches of 5,000 (at
        // most ~8 MiB) keep those to a few per second at 50,000 events/s.
        let batch = store.pending_lines(5000).await?;
        if batch.is_empty() {
            return Ok(total);
        }
        crash_point!("before-sink-deliver");
        sink.deliver(&batch).await?;
        crash_point!("after-sink-ack");
        let ids: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
        store.ack(ids).await?;
        crash_point!("after-store-ack");
        total += batch.len();
    }
}

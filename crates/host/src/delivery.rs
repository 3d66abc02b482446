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

/// Whether the sink is taking events, for readiness checks.
#[derive(Debug, Default)]
pub struct DeliveryHealth {
    failing: std::sync::Mutex<Option<String>>,
}

impl DeliveryHealth {
    /// The last delivery error, while deliveries keep failing.
    pub fn failing(&self) -> Option<String> {
        self.failing.lock().ok().and_then(|f| f.clone())
    }

    fn set(&self, error: Option<String>) {
        if let Ok(mut f) = self.failing.lock() {
            *f = error;
        }
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
        match drain(store.as_ref(), sink.as_mut()).await {
            Ok(_) => {
                failures = 0;
                health.set(None);
            }
            Err(_) if crate::shared::stop_if_failed(store.as_ref(), &stop) => return Ok(()),
            Err(e) => {
                failures += 1;
                health.set(Some(e.to_string()));
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

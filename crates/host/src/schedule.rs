//! A subscription's schedule: its cycles one after another, each due an
//! interval (with jitter and back-off) after the previous one ended.
//!
//! Strategies that allow it ([`Strategy::pipelined`]: the pull ones) are
//! pipelined: the next cycle's connector call starts while the previous
//! cycle's commit is still being written, from the state that commit
//! stores. Their state is only ever touched by this loop (webhook requests
//! go to webhook subscriptions), and a cycle's result is used only after
//! the previous commit succeeded: if it failed, the result is dropped and
//! the next cycle starts again from the store.
//!
//! [`Strategy::pipelined`]: runtime_strategies::Strategy::pipelined

use std::sync::Arc;
use std::time::Duration;

use runtime_retry::{Backoff, Jitter};
use runtime_store::SubscriptionState;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::cycle::{self, Outcome, Produced, Work};
use crate::shared::{Shared, Subscription};
use crate::CycleError;

/// A commit still being written, and the state it stores.
struct InFlight {
    task: JoinHandle<Result<usize, CycleError>>,
    state: SubscriptionState,
}

/// Runs a subscription's cycles until stopped; returns (cycles, events).
pub(crate) async fn schedule(
    shared: Arc<Shared>,
    sub: Arc<Subscription>,
    mut stop: watch::Receiver<bool>,
) -> (u64, u64) {
    let (mut cycles, mut events, mut failures) = (0u64, 0u64, 0u32);
    let mut due = tokio::time::Instant::now();
    let mut in_flight = None;
    let pipelined = sub.plan.strategy.pipelined();
    loop {
        if *stop.borrow() {
            break;
        }
        cycles += 1;
        let started = tokio::time::Instant::now();
        let work = async {
            match pipelined {
                true => pipelined_cycle(&shared, &sub, &mut in_flight).await,
                false => cycle::run(&shared, &sub, Work::Scheduled)
                    .await
                    .map(|outcome| match outcome {
                        Outcome::Committed { events, .. } => events,
                        _ => 0,
                    }),
            }
        };
        // Every log line of the cycle (the engine's included) names it.
        let result = work.instrument(shared.span(&sub.plan.collection)).await;
        runtime_metrics::cycle(
            &shared.connector.spec.key,
            &sub.plan.collection,
            result.is_ok(),
            started.saturating_duration_since(due),
        );
        // For bench/subs.sh (`--log info,runtime_host::schedule=debug`):
        // how late the cycle started against its due time, and how long it
        // took (a pipelined cycle: until the previous commit was durable).
        tracing::debug!(
            target: "runtime_host::schedule",
            subscription = %sub.plan.id,
            first = cycles == 1,
            lag_ms = started.saturating_duration_since(due).as_secs_f64() * 1e3,
            cycle_ms = started.elapsed().as_secs_f64() * 1e3,
            connection = shared.connection_id(),
            "cycle"
        );
        let transient = matches!(&result, Err(e) if e.is_transient());
        match result {
            Ok(n) => {
                failures = 0;
                events += n as u64;
            }
            Err(e) => {
                failures += 1;
                tracing::error!(subscription = %sub.plan.id, failures, "cycle failed: {e}");
                shared.stop_if_store_failed();
            }
        }
        let every = sub.plan.strategy.wake_every(sub.plan.interval);
        let delay = match transient {
            true => retry_delay(every, failures),
            false => next_delay(every, failures),
        };
        due = tokio::time::Instant::now() + delay;
        if let Ok(mut next) = sub.next_run.lock() {
            *next = Some(std::time::SystemTime::now() + delay);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            // Asked to run now: the cycle counts as due now.
            _ = sub.run_now.notified() => due = tokio::time::Instant::now(),
            _ = stop.changed() => break,
        }
    }
    // The last commit lands before the run's final delivery.
    if let Some(last) = in_flight {
        match finish(last).await {
            Ok(n) => events += n as u64,
            Err(e) => tracing::error!(subscription = %sub.plan.id, "cycle failed: {e}"),
        }
    }
    (cycles, events)
}

/// One pipelined cycle: the strategy runs from the state of the commit in
/// flight (or the stored one), then waits for that commit, then starts
/// its own. Returns the events of the commit it waited for.
async fn pipelined_cycle(
    shared: &Arc<Shared>,
    sub: &Arc<Subscription>,
    in_flight: &mut Option<InFlight>,
) -> Result<usize, CycleError> {
    let state = match in_flight {
        Some(f) => f.state.clone(),
        None => cycle::load(shared, sub).await?,
    };
    let produced = cycle::produce(shared, sub, &state, Work::Scheduled).await;
    let committed = match in_flight.take() {
        Some(previous) => finish(previous).await?,
        None => 0,
    };
    let produced = match produced {
        Ok(p) => p,
        // Only now is the state it started from durable.
        Err(e) => return Err(cycle::failed(shared, sub, &state, e).await),
    };
    if let Produced::Cycle {
        cycle, baseline, ..
    } = produced
    {
        let (shared, sub) = (shared.clone(), sub.clone());
        let state = cycle.state.clone();
        // The commit logs as part of the cycle's span.
        let task = tokio::spawn(
            async move { cycle::commit(&shared, &sub, *cycle, baseline).await }.in_current_span(),
        );
        *in_flight = Some(InFlight { task, state });
    }
    Ok(committed)
}

async fn finish(f: InFlight) -> Result<usize, CycleError> {
    f.task.await.map_err(|e| CycleError::Task(e.to_string()))?
}

/// After a failure that was not the connector's (its engine worker was
/// lost under the call, or the engine failed): 1 s doubling per failure in
/// a row, never more than the interval, so a cycle a worker crash cost is
/// run again at once instead of an interval or more later.
fn retry_delay(interval: Duration, failures: u32) -> Duration {
    Backoff::new(TRANSIENT_RETRY, interval.max(TRANSIENT_RETRY))
        .with_jitter(Jitter::Equal)
        .delay(failures)
}

const TRANSIENT_RETRY: Duration = Duration::from_secs(1);

/// The interval with ±10% jitter (so many subscriptions do not fire in
/// lock-step); failing subscriptions back off exponentially up to 16x.
fn next_delay(interval: Duration, failures: u32) -> Duration {
    Backoff::new(interval, Duration::MAX)
        .with_max_exponent(4)
        .with_jitter(Jitter::Proportional(0.1))
        .delay(failures.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_worker_is_retried_within_seconds_and_never_later_than_the_interval() {
        let minute = Duration::from_secs(60);
        for _ in 0..100 {
            let first = retry_delay(minute, 1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            assert!(retry_delay(minute, 30) <= minute);
            // A connector's own failures back off past the interval.
            assert!(next_delay(minute, 1) >= Duration::from_secs(108));
        }
        // An interval under a second is not stretched to it.
        assert!(retry_delay(Duration::from_millis(200), 3) <= Duration::from_secs(1));
    }
}

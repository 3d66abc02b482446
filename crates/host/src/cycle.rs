//! The one cycle path, used by scheduled cycles, pipelined pulls, webhook
//! requests and global webhooks: lock, load, run (or handle), commit, and
//! on failure a note on the stored state. The steps are separate functions
//! so the pipelined schedule can start the next [`produce`] before the
//! previous [`commit`] is durable; [`run`] does them in order under the
//! subscription's lock.
//!
//! It must not interpret connector results (the strategies do) nor know
//! which strategy it runs: it asks the strategy.

use runtime_store::SubscriptionState;
use runtime_strategies::{Cycle, StrategyError, WebhookRequest};
use serde_json::Value;

use runtime_crash::crash_point;

use crate::shared::{Shared, Subscription};
use crate::CycleError;

/// What a cycle is asked to do.
pub(crate) enum Work<'a> {
    /// A scheduled cycle.
    Scheduled,
    /// A webhook request; `payload` and `selector` come from a global
    /// webhook that routed an event here.
    Request {
        request: &'a WebhookRequest,
        payload: Option<Value>,
        selector: Option<&'a Value>,
    },
}

/// What came of it.
pub(crate) enum Outcome {
    /// Committed: the events stored, and a request's handler `response`.
    Committed {
        events: usize,
        response: Option<Value>,
    },
    /// Nothing to do now (a webhook registration that is not due).
    Idle,
    /// A request before the subscription's baseline: not set up yet.
    NotReady,
    /// A routed event the subscription's state does not select.
    NotSelected,
}

/// What [`produce`] made: a cycle to commit, or an outcome without one.
pub(crate) enum Produced {
    Cycle {
        /// Boxed: a cycle is large beside the other outcomes.
        cycle: Box<Cycle>,
        response: Option<Value>,
        /// The subscription had no baseline before this cycle.
        baseline: bool,
    },
    Nothing(Outcome),
}

/// The whole path under the subscription's lock.
pub(crate) async fn run(
    shared: &Shared,
    sub: &Subscription,
    work: Work<'_>,
) -> Result<Outcome, CycleError> {
    let _guard = sub.lock.lock().await;
    let state = load(shared, sub).await?;
    let scheduled = matches!(work, Work::Scheduled);
    let produced = match produce(shared, sub, &state, work).await {
        Ok(p) => p,
        Err(e) if scheduled => return Err(failed(shared, sub, &state, e).await),
        Err(e) => return Err(e.into()),
    };
    match produced {
        Produced::Cycle {
            cycle,
            response,
            baseline,
        } => {
            let events = commit(shared, sub, *cycle, baseline).await?;
            Ok(Outcome::Committed { events, response })
        }
        Produced::Nothing(outcome) => Ok(outcome),
    }
}

/// The state a cycle starts from: the stored one, or a fresh one when
/// there is none or another strategy wrote it (a new baseline).
pub(crate) async fn load(
    shared: &Shared,
    sub: &Subscription,
) -> Result<SubscriptionState, CycleError> {
    let plan = &sub.plan;
    let strategy = &plan.strategy;
    let fresh = || {
        SubscriptionState::new(
            &shared.connector.spec.key,
            &plan.collection,
            &plan.scope,
            strategy.name(),
        )
    };
    match shared.store.get(&plan.id).await.map_err(CycleError::Load)? {
        Some(s) if strategy.owns(&s) => Ok(s),
        Some(s) => {
            tracing::warn!(
                subscription = %plan.id,
                "strategy changed from {} to {}: starting a new baseline",
                s.strategy,
                strategy.name()
            );
            Ok(fresh())
        }
        None => Ok(fresh()),
    }
}

/// Runs the strategy from `state`. Nothing is written: a scheduled cycle
/// that fails is noted by [`failed`], once whatever it started from is
/// durable; a request that fails is answered with the error.
pub(crate) async fn produce(
    shared: &Shared,
    sub: &Subscription,
    state: &SubscriptionState,
    work: Work<'_>,
) -> Result<Produced, StrategyError> {
    let produced = produce_inner(shared, sub, state, work).await;
    // A refresh during the call holds even when the cycle failed after it.
    shared.credentials.keep(shared.store.as_ref()).await;
    produced
}

async fn produce_inner(
    shared: &Shared,
    sub: &Subscription,
    state: &SubscriptionState,
    work: Work<'_>,
) -> Result<Produced, StrategyError> {
    let ctx = shared.ctx(sub);
    let strategy = &sub.plan.strategy;
    match work {
        Work::Scheduled => {
            if !strategy.due(ctx, state) {
                return Ok(Produced::Nothing(Outcome::Idle));
            }
            let cycle = strategy.cycle(ctx, state).await?;
            crash_point!("after-js-result");
            Ok(Produced::Cycle {
                cycle: Box::new(cycle),
                response: None,
                baseline: !state.baseline_done,
            })
        }
        Work::Request {
            request,
            payload,
            selector,
        } => {
            if !state.baseline_done {
                return Ok(Produced::Nothing(Outcome::NotReady));
            }
            if let Some(selector) = selector {
                if !strategy.selects(selector, &sub.plan.collection, state) {
                    return Ok(Produced::Nothing(Outcome::NotSelected));
                }
            }
            let handled = strategy.handle(ctx, state, request, payload).await?;
            Ok(Produced::Cycle {
                cycle: Box::new(handled.cycle),
                response: handled.response,
                baseline: false,
            })
        }
    }
}

/// Commits a cycle's state and events durably (only the event types the
/// subscription keeps) and wakes the deliverer; returns the events stored.
pub(crate) async fn commit(
    shared: &Shared,
    sub: &Subscription,
    mut cycle: Cycle,
    baseline: bool,
) -> Result<usize, CycleError> {
    let plan = &sub.plan;
    cycle.events.retain(|e| plan.types.contains(&e.change));
    let mut by_type = [0u64; 3];
    for e in &cycle.events {
        if let Some(i) = runtime_events::ChangeType::ALL
            .iter()
            .position(|t| *t == e.change)
        {
            by_type[i] += 1;
        }
    }
    crash_point!("before-commit");
    let stored = shared
        .store
        .commit(&plan.id, cycle.state, cycle.events)
        .await
        .map_err(|e| {
            // A webhook request ends here too: stop before answering it.
            shared.stop_if_store_failed();
            CycleError::Commit(e)
        })?;
    for (t, n) in runtime_events::ChangeType::ALL.iter().zip(by_type) {
        if n > 0 {
            runtime_metrics::events(t.as_str(), n);
        }
    }
    if !stored.is_empty() {
        tracing::info!(subscription = %plan.id, events = stored.len(), "cycle committed");
        shared.delivered.notify_one();
    }
    if baseline {
        note_baseline(shared, sub).await;
    }
    Ok(stored.len())
}

/// Notes a failed cycle's error on `state` (the state it started from,
/// which must be durable) and returns the error; only the note changes,
/// and a store failure here is secondary to the cycle's.
pub(crate) async fn failed(
    shared: &Shared,
    sub: &Subscription,
    state: &SubscriptionState,
    e: StrategyError,
) -> CycleError {
    let mut noted = state.clone();
    noted.last_error = Some(e.to_string());
    let _ = shared.store.commit(&sub.plan.id, noted, Vec::new()).await;
    CycleError::Strategy(e)
}

/// "baseline taken", with what the subscription now compares against.
async fn note_baseline(shared: &Shared, sub: &Subscription) {
    let Ok(Some(state)) = shared.store.get(&sub.plan.id).await else {
        return;
    };
    let stored = sub
        .plan
        .strategy
        .baseline_summary(shared.ctx(sub), &state)
        .await;
    tracing::info!(subscription = %sub.plan.id, "baseline taken: stored {stored}");
}

//! custom-pull: `subscribe` once and store its state; each cycle `pull`s
//! with the stored state and stores the state it returns.

use runtime_store::SubscriptionState;
use serde_json::{Map, Value};

use crate::{decode_events, now, Cycle, Invoker, StrategyError};

/// Function names, so per-type subscriptions can use
/// `events/created-subscribe` / `events/created-pull`.
#[derive(Debug, Clone)]
pub struct CustomPullConfig {
    pub subscribe: String,
    pub pull: String,
}

impl Default for CustomPullConfig {
    fn default() -> Self {
        Self {
            subscribe: "events/subscribe".into(),
            pull: "events/pull".into(),
        }
    }
}

pub async fn cycle(
    invoker: &Invoker,
    config: &CustomPullConfig,
    state: &SubscriptionState,
) -> Result<Cycle, StrategyError> {
    let mut next = state.clone();
    next.cycles += 1;
    next.last_cycle_at = Some(now());
    next.last_error = None;
    if !state.baseline_done {
        next.state = invoker.call(&config.subscribe, Map::new()).await?;
        next.baseline_done = true;
        return Ok(Cycle {
            events: Vec::new(),
            state: next,
            retire_snapshot: None,
        });
    }
    let mut input = Map::new();
    input.insert("state".into(), state.state.clone());
    let result = invoker.call(&config.pull, input).await?;
    if !result.is_object() {
        return Err(invoker.shape(
            &config.pull,
            format!("{} instead of {{events, state}}", crate::kind(&result)),
        ));
    }
    let events = decode_events(invoker, &config.pull, &result)?;
    // A pull that returns no state keeps the old one (Membrane does too).
    match result.get("state") {
        None | Some(Value::Null) => {}
        Some(s) => next.state = s.clone(),
    }
    Ok(Cycle {
        events,
        state: next,
        retire_snapshot: None,
    })
}

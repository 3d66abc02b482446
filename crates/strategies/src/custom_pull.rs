//! custom-pull: `subscribe` once and store its state; each cycle `pull`s
//! with the stored state and stores the state it returns.

use runtime_events::PullAnswer;
use runtime_store::SubscriptionState;
use serde_json::Map;

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
    let raw = invoker.call_raw(&config.pull, input).await?;
    // The common answer is read from its text, records kept as text; any
    // other is parsed whole, so its problem can be named.
    let answer = match runtime_events::decode_pull(raw.value_text()) {
        Some(answer) => answer,
        None => {
            let result = raw
                .parse()
                .map_err(|source| invoker.call_error(raw.function(), source))?;
            if !result.is_object() {
                return Err(invoker.shape(
                    &config.pull,
                    format!("{} instead of {{events, state}}", crate::kind(&result)),
                ));
            }
            PullAnswer {
                events: decode_events(invoker, &config.pull, &result)?,
                state: result.get("state").filter(|s| !s.is_null()).cloned(),
            }
        }
    };
    // Without a new state the next pull would start from the old one and
    // emit the same changes again, under new event ids.
    match answer.state {
        Some(state) => next.state = state,
        None => {
            return Err(invoker.shape(
                &config.pull,
                format!(
                    "an answer without `state` (events in it: {}): pull must return the new \
                     state, {{events, state}}, or the next pull repeats its changes; nothing \
                     was committed",
                    answer.events.len()
                ),
            ))
        }
    }
    Ok(Cycle {
        events: answer.events,
        state: next,
        retire_snapshot: None,
    })
}

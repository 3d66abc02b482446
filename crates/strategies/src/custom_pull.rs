//! custom-pull: `subscribe` once and store its state; each cycle `pull`s
//! with the stored state and stores the state it returns.

use runtime_connector::Connector;
use runtime_events::{ChangeType, PullAnswer};
use runtime_store::SubscriptionState;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{advanced, decode_events, read_data, Ctx, Cycle, Kind, StrategyError};

const NAME: &str = "custom-pull";

/// The functions a subscription calls: per-type subscriptions use
/// `events/created-subscribe` / `events/created-pull` when both exist.
#[derive(Debug, Clone)]
pub struct CustomPull {
    pub subscribe: String,
    pub pull: String,
}

impl Default for CustomPull {
    fn default() -> Self {
        Self {
            subscribe: "events/subscribe".into(),
            pull: "events/pull".into(),
        }
    }
}

/// The subscription's own state: what the connector's last `subscribe` or
/// `pull` returned as `state`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct CustomPullState {
    state: Value,
}

impl CustomPull {
    pub fn from_spec(connector: &Connector, collection: &str, only: Option<ChangeType>) -> Self {
        let mut c = CustomPull::default();
        if let Some(set) = connector.function_set(collection, Kind::CustomPull, only) {
            c.subscribe = set[0].clone();
            c.pull = set[1].clone();
        }
        c
    }

    pub async fn cycle(
        &self,
        ctx: Ctx<'_>,
        state: &SubscriptionState,
    ) -> Result<Cycle, StrategyError> {
        let invoker = ctx.invoker;
        if !state.baseline_done {
            let state_now = invoker.call(&self.subscribe, Map::new()).await?;
            return Ok(Cycle {
                events: Vec::new(),
                state: advanced(state, &CustomPullState { state: state_now }),
            });
        }
        let CustomPullState { state: stored } = read_data(invoker, NAME, state)?;
        let mut input = Map::new();
        input.insert("state".into(), stored);
        let raw = invoker.call_raw(&self.pull, input).await?;
        // The common answer is read from its text, records kept as text; any
        // other is parsed whole, so its problem can be named.
        let answer = match runtime_events::decode_pull(raw.value_text()) {
            Some(answer) => answer,
            None => {
                let result = raw
                    .parse()
                    .map(|out| out.value)
                    .map_err(|source| invoker.call_error(raw.function(), source))?;
                if !result.is_object() {
                    return Err(invoker.shape(
                        &self.pull,
                        format!("{} instead of {{events, state}}", crate::kind(&result)),
                    ));
                }
                PullAnswer {
                    events: decode_events(invoker, &self.pull, &result)?,
                    state: result.get("state").filter(|s| !s.is_null()).cloned(),
                }
            }
        };
        // Without a new state the next pull would start from the old one and
        // emit the same changes again, under new event ids.
        let Some(new_state) = answer.state else {
            return Err(invoker.shape(
                &self.pull,
                format!(
                    "an answer without `state` (events in it: {}): pull must return the new \
                     state, {{events, state}}, or the next pull repeats its changes; nothing \
                     was committed",
                    answer.events.len()
                ),
            ));
        };
        Ok(Cycle {
            events: answer.events,
            state: advanced(state, &CustomPullState { state: new_state }),
        })
    }
}

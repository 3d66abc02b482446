//! The event strategies: how one cycle of a subscription turns connector
//! function results into `created` / `updated` / `deleted` events and a
//! new subscription state.
//!
//! [`Strategy`] is one enum that only delegates (as mini-redis's `Command`
//! does): each strategy is a module of its own with its config (built from
//! the collection spec, in that module), its own state type (serialized in
//! the subscription's `data`), the names of the functions it calls, and its
//! cycle (and, for webhooks, the handling of a request). The host asks the
//! enum what it needs (is the cycle due, may it overlap its commit, does it
//! receive requests) and never matches on a strategy's kind or compares its
//! name.
//!
//! A strategy reads the stored state, calls connector functions through an
//! [`Invoker`], and returns a [`Cycle`]: the events and the state to commit.
//! It must not commit or deliver anything itself (the host commits a cycle
//! atomically, then delivers), and it never changes the stored state on
//! failure: an error leaves cursor, watermark, snapshot and state as they
//! were. The one thing a strategy writes to the store itself is a full
//! scan's snapshot generation, which the store keeps apart until the
//! cycle's commit makes it current.

pub mod custom_pull;
mod fingerprint;
pub mod full_scan;
mod invoker;
pub mod pull_latest;
mod setup;
mod time;
pub mod webhook;

use std::time::Duration;

use runtime_connector::Connector;
use runtime_events::{ChangeType, NewEvent};
use runtime_store::{Store, SubscriptionState};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub use fingerprint::{fingerprint, split_paths};
pub use invoker::{Invoker, RecordBuilderCache};
/// The strategy names of the connector spec: the one spelling of a name.
pub use runtime_connector::Strategy as Kind;
pub use runtime_events::MAX_EVENTS_PER_CALL;
#[cfg(unix)]
pub use setup::engine_in_workers;
pub use setup::{engine_for, engine_with_client, LimitOverrides, SetupError};
pub use time::parse_time;
pub use webhook::{Routed, WebhookRequest};

/// Why a cycle failed. Every variant names the collection.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    #[error("collection `{collection}`: {function} failed: {source}")]
    Call {
        collection: String,
        function: String,
        #[source]
        source: Box<runtime_engine::CallError>,
    },
    #[error("collection `{collection}`: {function} returned {problem}")]
    Shape {
        collection: String,
        function: String,
        problem: String,
    },
    #[error("collection `{collection}`: {message}")]
    Limit { collection: String, message: String },
    #[error("collection `{collection}`: no function file for {function}")]
    Missing {
        collection: String,
        function: String,
    },
    #[error("collection `{collection}`: state store: {source}")]
    Store {
        collection: String,
        #[source]
        source: runtime_store::StoreError,
    },
    #[error("collection `{collection}`: the stored state of its {strategy} subscription cannot be read ({problem}); `runtime state reset --collection {collection}` starts a new baseline")]
    State {
        collection: String,
        strategy: &'static str,
        problem: String,
    },
    #[error("collection `{collection}`: a {strategy} subscription receives no webhook requests")]
    NoRequests {
        collection: String,
        strategy: &'static str,
    },
}

impl StrategyError {
    /// The HTTP status the connector's code asked for by throwing an SDK
    /// error (`BadRequestError` 400, ...; `JsErrorInfo::status`), for a
    /// host answering the request the call served. `None` otherwise.
    pub fn status(&self) -> Option<u16> {
        match self {
            StrategyError::Call { source, .. } => match source.as_ref() {
                runtime_engine::CallError::Js(info) => info.status(),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the failure was the runtime's, not the connector's nor its
    /// API's (an engine worker process lost under the call, an engine
    /// fault: `CallError::is_retryable`): trying again
    /// soon may succeed, and nothing the connector did calls for waiting.
    pub fn is_transient(&self) -> bool {
        matches!(self, StrategyError::Call { source, .. } if source.is_retryable())
    }
}

/// What one cycle produced, to be committed in one atomic write.
#[derive(Debug)]
pub struct Cycle {
    pub events: Vec<NewEvent>,
    pub state: SubscriptionState,
}

/// What a webhook request produced: the cycle to commit, and the handler's
/// `response` ({status?, headers?, data?}), if any.
pub struct Handled {
    pub cycle: Cycle,
    pub response: Option<Value>,
}

/// What a cycle runs against.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub invoker: &'a Invoker,
    pub store: &'a dyn Store,
    /// The subscription's id in the store.
    pub sub: &'a str,
    /// The URL a webhook registration of this subscription points at.
    pub webhook_uri: &'a str,
}

/// One subscription's strategy, with its config.
#[derive(Debug, Clone)]
pub enum Strategy {
    PullLatest(pull_latest::PullLatest),
    CustomPull(custom_pull::CustomPull),
    FullScan(full_scan::FullScan),
    Webhook(webhook::Webhook),
}

impl Strategy {
    /// The strategy `kind` for `collection`, configured from its spec; `only`
    /// for a subscription of one event type.
    pub fn new(
        kind: Kind,
        connector: &Connector,
        collection: &str,
        only: Option<ChangeType>,
    ) -> Strategy {
        match kind {
            Kind::PullLatestRecords => Strategy::PullLatest(pull_latest::PullLatest::from_spec(
                connector, collection, only,
            )),
            Kind::CustomPull => Strategy::CustomPull(custom_pull::CustomPull::from_spec(
                connector, collection, only,
            )),
            Kind::FullScan => {
                Strategy::FullScan(full_scan::FullScan::from_spec(connector, collection))
            }
            Kind::Webhook => Strategy::Webhook(webhook::Webhook),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Strategy::PullLatest(_) => Kind::PullLatestRecords,
            Strategy::CustomPull(_) => Kind::CustomPull,
            Strategy::FullScan(_) => Kind::FullScan,
            Strategy::Webhook(_) => Kind::Webhook,
        }
    }

    /// The name stored with its state and carried by its events.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// Whether `state` was written by this strategy (a changed strategy
    /// starts a new baseline).
    pub fn owns(&self, state: &SubscriptionState) -> bool {
        state.strategy == self.name()
    }

    /// Whether the next cycle may start while the previous one's commit is
    /// still being written (the host's pipelined schedule): only for
    /// strategies whose state only their own cycles touch, and whose cycle
    /// writes nothing to the store itself.
    pub fn pipelined(&self) -> bool {
        matches!(self, Strategy::PullLatest(_) | Strategy::CustomPull(_))
    }

    /// Whether the subscription receives webhook requests.
    pub fn receives_requests(&self) -> bool {
        matches!(self, Strategy::Webhook(_))
    }

    /// Whether `runtime run --once` runs it without being asked: a webhook
    /// registration made by a process that exits points at nothing.
    pub fn runs_once(&self) -> bool {
        !self.receives_requests()
    }

    /// How long to sleep between cycles for a pull `interval`.
    pub fn wake_every(&self, interval: Duration) -> Duration {
        match self {
            // Only wakes to check whether a refresh is due.
            Strategy::Webhook(_) => interval.min(Duration::from_secs(60)),
            _ => interval,
        }
    }

    /// Whether a scheduled cycle has anything to do now.
    pub fn due(&self, ctx: Ctx<'_>, state: &SubscriptionState) -> bool {
        match self {
            Strategy::Webhook(w) => w.due(ctx, state),
            _ => true,
        }
    }

    /// One cycle from `state`.
    pub async fn cycle(
        &self,
        ctx: Ctx<'_>,
        state: &SubscriptionState,
    ) -> Result<Cycle, StrategyError> {
        match self {
            Strategy::PullLatest(s) => s.cycle(ctx, state).await,
            Strategy::CustomPull(s) => s.cycle(ctx, state).await,
            Strategy::FullScan(s) => s.cycle(ctx, state).await,
            Strategy::Webhook(s) => s.cycle(ctx, state).await,
        }
    }

    /// One webhook request; `payload` is what a global webhook routed here
    /// (else the request's own body is the data).
    pub async fn handle(
        &self,
        ctx: Ctx<'_>,
        state: &SubscriptionState,
        request: &WebhookRequest,
        payload: Option<Value>,
    ) -> Result<Handled, StrategyError> {
        match self {
            Strategy::Webhook(s) => s.handle(ctx, state, request, payload).await,
            _ => Err(StrategyError::NoRequests {
                collection: ctx.invoker.collection.clone(),
                strategy: self.name(),
            }),
        }
    }

    /// Whether a routed global webhook event's `selector` picks this
    /// subscription.
    pub fn selects(&self, selector: &Value, collection: &str, state: &SubscriptionState) -> bool {
        match self {
            Strategy::Webhook(_) => webhook::selects(selector, collection, state),
            _ => false,
        }
    }

    /// What a baseline stored, for the log (names and counts, never values:
    /// a connector's state may hold secrets).
    pub async fn baseline_summary(&self, ctx: Ctx<'_>, state: &SubscriptionState) -> String {
        match self {
            Strategy::PullLatest(_) => pull_latest::baseline_summary(state),
            Strategy::FullScan(_) => full_scan::baseline_summary(ctx).await,
            Strategy::CustomPull(_) | Strategy::Webhook(_) => {
                format!("the state ({})", runtime_events::keys_of(&state.data))
            }
        }
    }
}

/// Undoes at the external app what subscribing did, for a stored
/// subscription that is no longer planned or is being reset: a webhook
/// registration is unsubscribed; other strategies registered nothing.
pub async fn retire(invoker: &Invoker, state: &SubscriptionState) -> Result<(), StrategyError> {
    match state.strategy.parse::<Kind>() {
        Ok(Kind::Webhook) if state.baseline_done => webhook::unsubscribe(invoker, state).await,
        _ => Ok(()),
    }
}

/// Whether a stored subscription's strategy registers something at the
/// app, so a subscription that is no longer planned must be [`retire`]d.
pub fn registers(state: &SubscriptionState) -> bool {
    matches!(state.strategy.parse::<Kind>(), Ok(Kind::Webhook))
}

/// Whether a stored subscription did register something that [`retire`]
/// must undo (so `state reset` needs the connection's credentials).
pub fn registered(state: &SubscriptionState) -> bool {
    registers(state) && state.baseline_done
}

/// A strategy's own state, read from the subscription's `data`.
pub(crate) fn read_data<T: DeserializeOwned + Default>(
    invoker: &Invoker,
    strategy: &'static str,
    state: &SubscriptionState,
) -> Result<T, StrategyError> {
    if state.data.is_null() || state.data.as_object().is_some_and(|o| o.is_empty()) {
        return Ok(T::default());
    }
    serde_json::from_value(state.data.clone()).map_err(|e| StrategyError::State {
        collection: invoker.collection.clone(),
        strategy,
        problem: e.to_string(),
    })
}

/// The state after a successful cycle: one more cycle, no error, and the
/// strategy's own state `data`.
pub(crate) fn advanced(state: &SubscriptionState, data: &impl Serialize) -> SubscriptionState {
    let mut next = state.clone();
    next.cycles += 1;
    next.last_cycle_at = Some(runtime_store::now_rfc3339());
    next.last_error = None;
    next.baseline_done = true;
    next.data = serde_json::to_value(data).unwrap_or(Value::Null);
    next
}

/// [`runtime_events::decode_events`], its problem naming collection and function.
pub(crate) fn decode_events(
    invoker: &Invoker,
    function: &str,
    result: &Value,
) -> Result<Vec<NewEvent>, StrategyError> {
    runtime_events::decode_events(result).map_err(|p| invoker.shape(function, p))
}

/// [`runtime_events::records`] of page `page`, its problem naming
/// collection, function file and page.
pub(crate) fn page_records<'a>(
    invoker: &Invoker,
    function: &str,
    result: &'a Value,
    page: u64,
) -> Result<&'a [Value], StrategyError> {
    runtime_events::records(result).map_err(|p| invoker.shape(function, on_page(&p, page)))
}

/// A problem of page `page` of an answer, as every strategy says it.
pub(crate) fn on_page(problem: &str, page: u64) -> String {
    format!("{problem} (page {page})")
}

pub(crate) use runtime_events::{kind, next_cursor};

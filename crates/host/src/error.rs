//! The host's errors: [`HostError`] stops a run; [`CycleError`] fails one
//! cycle or request, which the schedule retries with back-off.

use runtime_store::StoreError;
use runtime_strategies::StrategyError;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Sink(#[from] runtime_sinks::SinkError),
    #[error("{0}")]
    Params(#[from] runtime_connector::ParamError),
    #[error("webhook server: {0}")]
    Server(String),
    /// The store cannot write any more (a full disk): the run stopped.
    #[error("{0}; the run stopped. Nothing acknowledged is lost: undelivered events and the state before them are on disk. Free space (or fix the data dir) and start again")]
    StoreFailed(String),
}

/// Why a cycle or a webhook request committed nothing.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    /// The strategy failed; its error is noted on the stored state.
    #[error("{0}")]
    Strategy(#[from] StrategyError),
    #[error("reading the stored state failed: {0}")]
    Load(#[source] StoreError),
    #[error("commit failed: {0}")]
    Commit(#[source] StoreError),
    #[error("commit task failed: {0}")]
    Task(String),
}

impl CycleError {
    /// The status to answer a webhook request this error failed: what an
    /// SDK error thrown by the handler stands for (BadRequestError 400,
    /// ...), else 500 so the sender retries. Nothing was stored either way.
    pub fn http_status(&self) -> u16 {
        match self {
            CycleError::Strategy(e) => e.status().unwrap_or(500),
            _ => 500,
        }
    }

    /// The runtime's fault, not the connector's or its API's: retried
    /// soon, not backed off past the interval. See
    /// [`StrategyError::is_transient`]; and a store that could not read or
    /// commit (a database restarting, a network blip) has nothing to do
    /// with the connector: waiting 16 intervals for it would only delay
    /// the events once it is back.
    pub fn is_transient(&self) -> bool {
        match self {
            CycleError::Strategy(e) => e.is_transient(),
            CycleError::Load(_) | CycleError::Commit(_) | CycleError::Task(_) => true,
        }
    }
}

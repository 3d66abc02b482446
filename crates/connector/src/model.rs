//! Strategies and the typed parts of the specs (the event types are
//! runtime-events' `ChangeType`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use runtime_events::ChangeType;

/// How a collection's events are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strategy {
    Webhook,
    PullLatestRecords,
    CustomPull,
    FullScan,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::Webhook,
        Strategy::PullLatestRecords,
        Strategy::CustomPull,
        Strategy::FullScan,
    ];

    /// The strategy's one spelling: in specs, in stored state, in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Webhook => "webhook",
            Strategy::PullLatestRecords => "pull-latest-records",
            Strategy::CustomPull => "custom-pull",
            Strategy::FullScan => "full-scan",
        }
    }

    /// The functions the strategy needs, as alternatives (any one complete
    /// set will do): the set for every type first, then, for one event type
    /// `ty`, that type's own. Validation, strategy inference and the
    /// strategies' own configs all read them here.
    pub fn functions(self, ty: Option<ChangeType>) -> Vec<Vec<String>> {
        let own = |names: &[&str]| -> Option<Vec<String>> {
            ty.map(|t| {
                names
                    .iter()
                    .map(|n| format!("events/{}-{n}", t.as_str()))
                    .collect()
            })
        };
        let (all, per_type): (Vec<String>, Option<Vec<String>>) = match self {
            Strategy::Webhook => (
                vec![
                    "events/webhook-subscribe".into(),
                    "events/webhook-handle".into(),
                ],
                None,
            ),
            Strategy::PullLatestRecords => (
                vec!["events/pull-latest-records".into()],
                own(&["pull-latest-records"]),
            ),
            Strategy::CustomPull => (
                vec!["events/subscribe".into(), "events/pull".into()],
                own(&["subscribe", "pull"]),
            ),
            Strategy::FullScan => (vec!["list".into()], None),
        };
        std::iter::once(all).chain(per_type).collect()
    }
}

/// Error of `Strategy::from_str`, listing the valid names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown strategy `{0}`; expected one of webhook, pull-latest-records, custom-pull, full-scan"
)]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;
    /// Kebab names, and the camelCase spellings a Membrane author may write.
    fn from_str(s: &str) -> Result<Strategy, UnknownStrategy> {
        let kebab = crate::names::to_kebab(s.trim());
        Strategy::ALL
            .into_iter()
            .find(|st| st.as_str() == kebab)
            .ok_or_else(|| UnknownStrategy(s.to_string()))
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Spec key `limits: {cpuMs, wallSeconds, heapMb, runtimes}`: bounds for one
/// function call, and how many calls may run at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitsSpec {
    pub cpu_ms: Option<u64>,
    pub wall_seconds: Option<u64>,
    pub heap_mb: Option<u64>,
    pub runtimes: Option<u64>,
}

/// Spec key `http: {maxAttempts, maxRetrySeconds, connectTimeoutSeconds,
/// requestTimeoutSeconds, maxResponseBytes}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpSpec {
    pub max_attempts: Option<u32>,
    pub max_retry_seconds: Option<u64>,
    pub connect_timeout_seconds: Option<u64>,
    pub request_timeout_seconds: Option<u64>,
    pub max_response_bytes: Option<u64>,
}

/// `events.fullScan: {maxRecords, maxPages, maxSeconds, maxDeletedShare,
/// deleteGuardMinRecords}`. `None`: the strategy's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FullScanLimits {
    pub max_records: Option<u64>,
    pub max_pages: Option<u64>,
    pub max_seconds: Option<u64>,
    /// `maxDeletedShare`, 0 to 1: the largest share of the previous snapshot
    /// one scan may delete.
    pub max_deleted_share: Option<f64>,
    /// `deleteGuardMinRecords`: snapshots smaller than this are not guarded.
    pub delete_guard_min_records: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventTypeSpec {
    pub strategy: Option<Strategy>,
    pub pull_interval_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventsSpec {
    pub strategy: Option<Strategy>,
    pub pull_interval_seconds: Option<u64>,
    pub ignored_fields: Vec<String>,
    pub per_type: BTreeMap<ChangeType, EventTypeSpec>,
    pub created_time_field: Option<String>,
    pub updated_time_field: Option<String>,
    pub deleted_time_field: Option<String>,
    pub full_scan: FullScanLimits,
}

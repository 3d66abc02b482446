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
    /// set will do), preferred first: for one event type `ty`, that type's
    /// own set, then the sets for every type. Validation, strategy inference
    /// and the strategies' own configs all read them here. Names are the
    /// ones [`Connector::function_file`](crate::Connector::function_file)
    /// takes; an event function (`events/<name>`, see [`EVENT_FUNCTIONS`])
    /// is found under each of its file spellings.
    pub fn functions(self, ty: Option<ChangeType>) -> Vec<Vec<String>> {
        let all = |names: &[&str]| -> Vec<String> {
            names.iter().map(|n| format!("events/{n}")).collect()
        };
        let own = |names: &[&str]| -> Option<Vec<String>> {
            ty.map(|t| {
                names
                    .iter()
                    .map(|n| format!("events/{}-{n}", t.as_str()))
                    .collect()
            })
        };
        let (per_type, every): (Option<Vec<String>>, Vec<Vec<String>>) = match self {
            Strategy::Webhook => (
                own(&["webhook-subscribe", "webhook-handle"]),
                vec![all(&["webhook-subscribe", "webhook-handle"])],
            ),
            Strategy::PullLatestRecords => (
                own(&["pull-latest-records"]),
                vec![all(&["pull-latest-records"])],
            ),
            Strategy::CustomPull => (
                own(&["subscribe", "pull"]),
                vec![all(&["subscribe", "pull"])],
            ),
            // Membrane's own default: `list`, else `find` called without a
            // query (a Pipedrive-style collection has no `list`).
            Strategy::FullScan => (None, vec![vec!["list".into()], vec!["find".into()]]),
        };
        per_type.into_iter().chain(every).collect()
    }
}

/// One event function as the strategies call it (`events/<name>`), and the
/// file keys it is found under, preferred first: Membrane's SDK names, then
/// the spellings of its docs. Each file key is looked for as
/// `events-<key>` (every type) or `events-<type>-<key>` / `<type>-<key>`
/// (one type) flat in the collection folder, then in the runtime's earlier
/// `events/` subfolder (`events/<key>`, `events/<type>-<key>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFunction {
    /// The name after `events/` (or `events/<type>-`).
    pub name: &'static str,
    /// `(file key, export)`: the export is the camelCase name looked for
    /// when the module has no default export.
    pub files: &'static [(&'static str, &'static str)],
}

/// The one table of event function names: [`Strategy::functions`] names
/// them, the function resolver finds their files, and the spec checks
/// accept their keys.
pub const EVENT_FUNCTIONS: [EventFunction; 7] = [
    EventFunction {
        name: "webhook-subscribe",
        files: &[("webhook-subscribe", "webhookSubscribe")],
    },
    EventFunction {
        name: "webhook-handle",
        files: &[("webhook-handle", "webhookHandle")],
    },
    EventFunction {
        name: "webhook-unsubscribe",
        files: &[("webhook-unsubscribe", "webhookUnsubscribe")],
    },
    EventFunction {
        name: "webhook-refresh",
        files: &[("webhook-refresh", "webhookRefresh")],
    },
    EventFunction {
        name: "pull-latest-records",
        files: &[("pull-latest-records", "pullLatestRecords")],
    },
    EventFunction {
        name: "subscribe",
        files: &[
            ("custom-pull-subscribe", "subscribe"),
            ("subscribe", "subscribe"),
        ],
    },
    // The SDK calls it `collectEvents`, the docs `pull`.
    EventFunction {
        name: "pull",
        files: &[
            ("custom-pull-collect-events", "collectEvents"),
            ("collect-events", "collectEvents"),
            ("pull", "pull"),
        ],
    },
];

/// The entry of [`EVENT_FUNCTIONS`] for a name in any spelling
/// (`pullLatestRecords`, `collect-events`, `custom-pull-subscribe`).
pub fn event_function(name: &str) -> Option<&'static EventFunction> {
    let kebab = crate::names::to_kebab(name);
    EVENT_FUNCTIONS
        .iter()
        .find(|f| f.name == kebab || f.files.iter().any(|(k, _)| *k == kebab))
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
        // Membrane's docs write `pull-latest` where its SDK says `pull-latest-records`.
        let kebab = if kebab == "pull-latest" {
            "pull-latest-records".to_string()
        } else {
            kebab
        };
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

/// Root spec key `rateLimit: {requests, perSeconds}`: at most `requests`
/// apiClient requests per `perSeconds` seconds, per connection and API host
/// (docs/connector-format.md, "Rate limits"). Checked when read: `requests`
/// is at least 1, `perSeconds` is above 0 and at most a year.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitSpec {
    pub requests: u64,
    pub per_seconds: f64,
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

//! Which subscriptions a connector and its connection give: one per enabled
//! collection, or one per event type when the types use different
//! strategies or intervals.

use std::collections::BTreeMap;
use std::time::Duration;

use runtime_connector::{Connection, Connector, EventType, Strategy};
use runtime_events::ChangeType;
use runtime_store::sub_id;
use runtime_strategies::custom_pull::CustomPullConfig;
use runtime_strategies::full_scan::FullScanConfig;
use runtime_strategies::pull_latest::PullLatestConfig;
use runtime_strategies::split_paths;

/// Default pull interval when the spec gives none (Membrane polls at most
/// every minute or so; a shorter default would hammer upstream APIs).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub enum StrategyPlan {
    PullLatest(PullLatestConfig),
    CustomPull(CustomPullConfig),
    FullScan(FullScanConfig),
    Webhook,
}

impl StrategyPlan {
    pub fn is_webhook(&self) -> bool {
        matches!(self, StrategyPlan::Webhook)
    }

    pub fn name(&self) -> &'static str {
        match self {
            StrategyPlan::PullLatest(_) => "pull-latest-records",
            StrategyPlan::CustomPull(_) => "custom-pull",
            StrategyPlan::FullScan(_) => "full-scan",
            StrategyPlan::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub collection: String,
    /// "all", or the one event type this subscription emits.
    pub scope: String,
    /// Event types kept from this subscription's output.
    pub types: Vec<ChangeType>,
    pub strategy: StrategyPlan,
    pub interval: Duration,
}

fn change(t: EventType) -> ChangeType {
    match t {
        EventType::Created => ChangeType::Created,
        EventType::Updated => ChangeType::Updated,
        EventType::Deleted => ChangeType::Deleted,
    }
}

/// Plans every enabled collection that has an event strategy; collections
/// without one (CRUD-only) are skipped with a log line.
pub fn plan(connector: &Connector, connection: &Connection) -> Vec<Plan> {
    let mut plans = Vec::new();
    for (key, collection) in &connector.collections {
        if !connection.is_enabled(key) {
            continue;
        }
        let strategies = connector.strategies(key);
        if strategies.is_empty() {
            tracing::info!(collection = %key, "no event strategy (no events files and no list.js): not subscribed");
            continue;
        }
        let events = &collection.events;
        let mut groups: BTreeMap<(Strategy, Option<u64>), Vec<EventType>> = BTreeMap::new();
        for (t, (s, interval)) in &strategies {
            groups.entry((*s, *interval)).or_default().push(*t);
        }
        let single = groups.len() == 1 && strategies.len() == 3;
        for ((strategy, interval), types) in groups {
            for t in if single {
                vec![None]
            } else {
                types.iter().copied().map(Some).collect()
            } {
                let scope = t.map_or("all".to_string(), |t| t.as_str().to_string());
                let strategy = match strategy {
                    Strategy::PullLatestRecords => {
                        let mut c = PullLatestConfig::default();
                        if let Some(f) = &events.created_time_field {
                            c.created_field = f.clone();
                        }
                        if let Some(f) = &events.updated_time_field {
                            c.updated_field = f.clone();
                        }
                        if let Some(f) = &events.deleted_time_field {
                            c.deleted_field = f.clone();
                        }
                        if let Some(t) = t {
                            c.only = Some(change(t));
                            let own = format!("events/{}-pull-latest-records", t.as_str());
                            if has(connector, key, &own) {
                                c.function = own;
                            }
                        }
                        StrategyPlan::PullLatest(c)
                    }
                    Strategy::CustomPull => {
                        let mut c = CustomPullConfig::default();
                        if let Some(t) = t {
                            let (s, p) = (
                                format!("events/{}-subscribe", t.as_str()),
                                format!("events/{}-pull", t.as_str()),
                            );
                            if has(connector, key, &s) && has(connector, key, &p) {
                                c.subscribe = s;
                                c.pull = p;
                            }
                        }
                        StrategyPlan::CustomPull(c)
                    }
                    Strategy::FullScan => {
                        let d = FullScanConfig::default();
                        let l = &events.full_scan;
                        StrategyPlan::FullScan(FullScanConfig {
                            ignored: split_paths(&events.ignored_fields),
                            max_records: l.max_records.unwrap_or(d.max_records),
                            max_pages: l.max_pages.unwrap_or(d.max_pages),
                            max_duration: l
                                .max_seconds
                                .map(Duration::from_secs)
                                .unwrap_or(d.max_duration),
                            max_deleted_share: l.max_deleted_share.unwrap_or(d.max_deleted_share),
                            delete_guard_min_records: l
                                .delete_guard_min_records
                                .unwrap_or(d.delete_guard_min_records),
                        })
                    }
                    Strategy::Webhook => StrategyPlan::Webhook,
                };
                plans.push(Plan {
                    id: sub_id(&connector.spec.key, key, &scope),
                    collection: key.clone(),
                    types: match t {
                        Some(t) => vec![change(t)],
                        None => vec![
                            ChangeType::Created,
                            ChangeType::Updated,
                            ChangeType::Deleted,
                        ],
                    },
                    scope,
                    strategy,
                    interval: interval
                        .or(events.pull_interval_seconds)
                        .map(Duration::from_secs)
                        .unwrap_or(DEFAULT_INTERVAL),
                });
            }
        }
    }
    plans
}

fn has(connector: &Connector, collection: &str, name: &str) -> bool {
    matches!(
        connector.function_file(&format!("data/{collection}/{name}")),
        Ok(Some(_))
    )
}

//! Which subscriptions a connector and its connection give: one per enabled
//! collection, or one per event type when the types use different
//! strategies or intervals. Each strategy builds its own config from the
//! collection spec ([`Strategy::new`]); this module only groups.

use std::collections::BTreeMap;
use std::time::Duration;

use runtime_connector::{Connection, Connector};
use runtime_events::ChangeType;
use runtime_store::sub_id;
use runtime_strategies::{Kind, Strategy};

/// Default pull interval when the spec gives none (Membrane polls at most
/// every minute or so; a shorter default would hammer upstream APIs).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub collection: String,
    /// "all", or the one event type this subscription emits.
    pub scope: String,
    /// Event types kept from this subscription's output.
    pub types: Vec<ChangeType>,
    pub strategy: Strategy,
    pub interval: Duration,
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
        let mut groups: BTreeMap<(Kind, Option<u64>), Vec<ChangeType>> = BTreeMap::new();
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
                let strategy = Strategy::new(strategy, connector, key, t);
                plans.push(Plan {
                    id: sub_id(&connector.spec.key, key, &scope),
                    collection: key.clone(),
                    types: match t {
                        Some(t) => vec![t],
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

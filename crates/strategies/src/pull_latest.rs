//! pull-latest-records: page newest-first from the start until a record
//! older than the stored watermark; everything newer is a change.
//!
//! The watermark is the newest record time seen plus the ids of the records
//! that carry exactly that time, so records sharing the watermark's
//! timestamp are neither lost nor emitted twice.

use std::collections::{BTreeSet, HashSet};

use runtime_connector::Connector;
use runtime_events::{record_id, ChangeType, NewEvent};
use runtime_store::SubscriptionState;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::{field, parse_time};
use crate::{
    advanced, next_cursor, page_records, read_data, Ctx, Cycle, Invoker, Kind, StrategyError,
};

const NAME: &str = "pull-latest-records";

/// How one pull-latest-records subscription reads its records.
#[derive(Debug, Clone)]
pub struct PullLatest {
    /// `events/pull-latest-records` or a per-type `events/created-pull-latest-records`.
    pub function: String,
    pub created_field: String,
    pub updated_field: String,
    pub deleted_field: String,
    /// Per-type subscription: only this type is emitted, ordered by its field.
    pub only: Option<ChangeType>,
    /// Pages one cycle may read before it fails (default 1,000).
    pub max_pages: u64,
}

impl Default for PullLatest {
    fn default() -> Self {
        Self {
            function: "events/pull-latest-records".into(),
            created_field: "createdTime".into(),
            updated_field: "updatedTime".into(),
            deleted_field: "deletedTime".into(),
            only: None,
            max_pages: 1_000,
        }
    }
}

impl PullLatest {
    /// The collection's `events` spec: its time field names; for a
    /// per-type subscription, the type's own function when it has one.
    pub fn from_spec(connector: &Connector, collection: &str, only: Option<ChangeType>) -> Self {
        let mut c = PullLatest::default();
        let Some(spec) = connector.collections.get(collection) else {
            return c;
        };
        let events = &spec.events;
        if let Some(f) = &events.created_time_field {
            c.created_field = f.clone();
        }
        if let Some(f) = &events.updated_time_field {
            c.updated_field = f.clone();
        }
        if let Some(f) = &events.deleted_time_field {
            c.deleted_field = f.clone();
        }
        c.only = only;
        if let Some(set) = connector.function_set(collection, Kind::PullLatestRecords, only) {
            c.function = set[0].clone();
        }
        c
    }
}

/// The subscription's own state.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct PullLatestState {
    watermark: Watermark,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct Watermark {
    time: Option<i64>,
    ids: BTreeSet<String>,
}

impl Watermark {
    /// Raises the watermark to the newest of `seen` (time, id) pairs.
    fn advance(&mut self, seen: impl Iterator<Item = (i64, String)>) {
        for (t, id) in seen {
            match self.time {
                Some(w) if t < w => {}
                Some(w) if t == w => {
                    self.ids.insert(id);
                }
                _ => {
                    self.time = Some(t);
                    self.ids = BTreeSet::from([id]);
                }
            }
        }
    }
}

/// The newest-first check: the last record read, across pages.
#[derive(Default)]
struct Order {
    last: Option<Sighting>,
}

struct Sighting {
    time: i64,
    id: String,
    page: u64,
    shown: String,
}

impl Order {
    /// Fails when `record` is newer than the one read before it: records
    /// on later pages would then be newer than the watermark check
    /// assumes, and a cycle stopping at the watermark would never see them.
    fn check(
        &mut self,
        config: &PullLatest,
        invoker: &Invoker,
        record: &Value,
        (time, id): (i64, &str),
        page: u64,
    ) -> Result<(), StrategyError> {
        let name = config.order_field(record);
        let shown = field(record, name).map_or_else(String::new, |v| v.to_string());
        if let Some(prev) = &self.last {
            if time > prev.time {
                let at = |p: u64| format!("page {p}");
                return Err(invoker.shape(
                    &config.function,
                    format!(
                        "records that are not newest first: record {id} ({at_page}, `{name}` {shown}) \
                         is newer than record {} before it ({}, {}). The function must return the \
                         newest records first (sort by `{name}` descending, e.g. a sort parameter \
                         of the API), or records on later pages are never emitted; nothing was \
                         committed",
                        prev.id,
                        at(prev.page),
                        prev.shown,
                        at_page = at(page),
                    ),
                ));
            }
        }
        self.last = Some(Sighting {
            time,
            id: id.to_string(),
            page,
            shown,
        });
        Ok(())
    }
}

impl PullLatest {
    fn order_field<'a>(&'a self, record: &Value) -> &'a str {
        match self.only {
            Some(ChangeType::Created) => &self.created_field,
            Some(ChangeType::Deleted) => &self.deleted_field,
            _ if field(record, &self.updated_field).is_some_and(|v| !v.is_null()) => {
                &self.updated_field
            }
            _ => &self.created_field,
        }
    }

    fn time_of(&self, invoker: &Invoker, record: &Value) -> Result<(i64, String), StrategyError> {
        let id = record_id(record).ok_or_else(|| {
            invoker.shape(&self.function, "a record without `id` (string or number)")
        })?;
        let name = self.order_field(record);
        let t = field(record, name).and_then(parse_time).ok_or_else(|| {
            invoker.shape(
                &self.function,
                format!("record {id} without a usable `{name}` (ISO-8601 or epoch); set createdTimeField/updatedTimeField in the collection's events spec if the API names it differently"),
            )
        })?;
        Ok((t, id))
    }

    /// `seen` holds the ids already known at the old watermark's exact
    /// time: a record created at that time but not among them is new, not
    /// an update (with a coarse clock many records share one timestamp).
    fn classify(
        &self,
        record: &Value,
        id: &str,
        watermark: Option<i64>,
        seen: &BTreeSet<String>,
    ) -> ChangeType {
        let after = |name: &str| {
            field(record, name)
                .and_then(parse_time)
                .is_some_and(|t| watermark.is_none_or(|w| t > w || (t == w && !seen.contains(id))))
        };
        if let Some(only) = self.only {
            return only;
        }
        if after(&self.deleted_field) {
            ChangeType::Deleted
        } else if after(&self.created_field) {
            ChangeType::Created
        } else {
            ChangeType::Updated
        }
    }
}

impl PullLatest {
    /// Runs one cycle. The first one only records the watermark (it reads
    /// page 2 too, but only to check that pages come newest first).
    pub async fn cycle(
        &self,
        ctx: Ctx<'_>,
        state: &SubscriptionState,
    ) -> Result<Cycle, StrategyError> {
        cycle(ctx.invoker, self, state).await
    }
}

/// "the watermark ..." of a baseline, for the log.
pub(crate) fn baseline_summary(state: &SubscriptionState) -> String {
    format!(
        "the watermark {}",
        state.data.get("watermark").unwrap_or(&Value::Null)
    )
}

async fn cycle(
    invoker: &Invoker,
    config: &PullLatest,
    state: &SubscriptionState,
) -> Result<Cycle, StrategyError> {
    let PullLatestState { mut watermark } = read_data(invoker, NAME, state)?;

    if !state.baseline_done {
        let result = invoker.call(&config.function, Map::new()).await?;
        let page = page_records(invoker, &config.function, &result, 1)?;
        let mut order = Order::default();
        let mut seen = Vec::with_capacity(page.len());
        for record in page {
            let (t, id) = config.time_of(invoker, record)?;
            order.check(config, invoker, record, (t, &id), 1)?;
            seen.push((t, id));
        }
        // Page 2 is read once, only to check the order across pages: with
        // pages oldest first a cycle stops at the watermark on page 1 and
        // would never see that the newer records are further on.
        if let Some(c) = next_cursor(&result) {
            let mut input = Map::new();
            input.insert("cursor".into(), c);
            let second = invoker.call(&config.function, input).await?;
            if let Some(record) = page_records(invoker, &config.function, &second, 2)?.first() {
                let (t, id) = config.time_of(invoker, record)?;
                order.check(config, invoker, record, (t, &id), 2)?;
            }
        }
        watermark.advance(seen.into_iter());
        return Ok(Cycle {
            events: Vec::new(),
            state: advanced(state, &PullLatestState { watermark }),
        });
    }

    let old = watermark.time;
    let old_ids = watermark.ids.clone();
    let mut found: Vec<(i64, String, Value)> = Vec::new();
    let mut ids = HashSet::new();
    let mut cursors = HashSet::new();
    let mut cursor: Option<Value> = None;
    let mut pages = 0u64;
    let mut order = Order::default();
    loop {
        let mut input = Map::new();
        if let Some(c) = &cursor {
            input.insert("cursor".into(), c.clone());
        }
        let result = invoker.call(&config.function, input).await?;
        pages += 1;
        let mut reached = false;
        for record in page_records(invoker, &config.function, &result, pages)? {
            let (t, id) = config.time_of(invoker, record)?;
            order.check(config, invoker, record, (t, &id), pages)?;
            if let Some(w) = old {
                if t < w {
                    reached = true;
                    continue;
                }
                if t == w && watermark.ids.contains(&id) {
                    continue;
                }
            }
            // A record that moved while we paged shows up twice: the
            // first (newest) sighting wins.
            if ids.insert(id.clone()) {
                found.push((t, id, record.clone()));
            }
        }
        if reached {
            break;
        }
        let Some(c) = next_cursor(&result) else { break };
        if !cursors.insert(c.to_string()) {
            return Err(invoker.shape(
                &config.function,
                format!("the cursor {c} twice in one cycle (pagination loop)"),
            ));
        }
        if pages >= config.max_pages {
            return Err(StrategyError::Limit {
                collection: invoker.collection.clone(),
                message: format!(
                    "{} read {pages} pages without reaching the stored watermark (maxPages {}); nothing was emitted",
                    config.function, config.max_pages
                ),
            });
        }
        cursor = Some(c);
    }

    // Oldest first, so a consumer applying events in order ends up current.
    found.sort_by_key(|(t, _, _)| *t);
    watermark.advance(found.iter().map(|(t, id, _)| (*t, id.clone())));
    let events = found
        .into_iter()
        .map(|(_, id, record)| {
            NewEvent::new(config.classify(&record, &id, old, &old_ids), id, &record)
        })
        .collect();
    Ok(Cycle {
        events,
        state: advanced(state, &PullLatestState { watermark }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_keeps_ids_sharing_the_newest_time() {
        let mut w = Watermark::default();
        w.advance(
            [
                (5, "a".to_string()),
                (7, "b".into()),
                (7, "c".into()),
                (6, "d".into()),
            ]
            .into_iter(),
        );
        assert_eq!(w.time, Some(7));
        assert_eq!(w.ids, BTreeSet::from(["b".to_string(), "c".to_string()]));
        let round: Watermark = serde_json::from_value(serde_json::to_value(&w).unwrap()).unwrap();
        assert_eq!(round, w);
        w.advance([(7, "e".to_string())].into_iter());
        assert_eq!(w.ids.len(), 3);
        w.advance([(8, "f".to_string())].into_iter());
        assert_eq!(w.ids, BTreeSet::from(["f".to_string()]));
    }
}

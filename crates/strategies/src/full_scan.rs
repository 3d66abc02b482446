//! full-scan: page `list` to the end, write every record's fingerprint into
//! a new snapshot generation in the store, and diff it against the previous
//! generation. Nothing is emitted and the snapshot is not switched unless
//! the scan completed: an interrupted scan can never produce false deletes.
//! The snapshot lives in sled, never wholly in memory.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use runtime_events::record_id;
use runtime_store::{SledStore, SubscriptionState};
use serde_json::Map;

use crate::{fingerprint, next_cursor, now, records, Cycle, Invoker, StrategyError};

#[derive(Debug, Clone)]
pub struct FullScanConfig {
    /// `ignoredFields`, split on dots.
    pub ignored: Vec<Vec<String>>,
    /// Membrane's limits are the defaults: 100,000 records, 1,000 pages, 20 minutes.
    pub max_records: u64,
    pub max_pages: u64,
    pub max_duration: Duration,
}

impl Default for FullScanConfig {
    fn default() -> Self {
        Self {
            ignored: Vec::new(),
            max_records: 100_000,
            max_pages: 1_000,
            max_duration: Duration::from_secs(20 * 60),
        }
    }
}

const LIST: &str = "list";

pub async fn cycle(
    invoker: &Invoker,
    config: &FullScanConfig,
    store: &SledStore,
    sub: &str,
    state: &SubscriptionState,
) -> Result<Cycle, StrategyError> {
    let store_err = |source| StrategyError::Store {
        collection: invoker.collection.clone(),
        source,
    };
    let gen = state.snapshot_gen.map_or(1, |g| g + 1);
    let scanned = scan(invoker, config, store, sub, gen).await;
    if let Err(e) = scanned {
        // The half-written generation is garbage; the old one stays current.
        let _ = store.drop_snapshot(sub, gen);
        return Err(e);
    }
    let events = match state.snapshot_gen.filter(|_| state.baseline_done) {
        None => Vec::new(),
        Some(old) => store
            .snapshot_diff(sub, Some(old), gen)
            .map_err(store_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_err)?,
    };
    let mut next = state.clone();
    next.cycles += 1;
    next.last_cycle_at = Some(now());
    next.last_error = None;
    next.baseline_done = true;
    next.snapshot_gen = Some(gen);
    Ok(Cycle {
        events,
        state: next,
        drop_snapshot: state.snapshot_gen,
    })
}

async fn scan(
    invoker: &Invoker,
    config: &FullScanConfig,
    store: &SledStore,
    sub: &str,
    gen: u64,
) -> Result<u64, StrategyError> {
    let store_err = |source| StrategyError::Store {
        collection: invoker.collection.clone(),
        source,
    };
    let limit = |message: String| StrategyError::Limit {
        collection: invoker.collection.clone(),
        message,
    };
    let started = Instant::now();
    let mut writer = store.snapshot_writer(sub, gen).map_err(store_err)?;
    let mut cursor = None;
    let mut cursors = HashSet::new();
    let (mut pages, mut count) = (0u64, 0u64);
    loop {
        let mut input = Map::new();
        if let Some(c) = &cursor {
            input.insert("cursor".into(), serde_json::Value::clone(c));
        }
        let result = invoker.call(LIST, input).await?;
        pages += 1;
        for record in records(invoker, LIST, &result)? {
            let id = record_id(record).ok_or_else(|| {
                invoker.shape(LIST, format!("a record without `id` on page {pages}"))
            })?;
            writer
                .put(&id, fingerprint(record, &config.ignored), record)
                .map_err(store_err)?;
            count += 1;
        }
        if count > config.max_records {
            return Err(limit(format!(
                "full scan stopped after {count} records (maxRecords {}); nothing was emitted",
                config.max_records
            )));
        }
        let Some(c) = next_cursor(&result) else { break };
        if !cursors.insert(c.to_string()) {
            return Err(invoker.shape(
                LIST,
                format!("the cursor {c} twice in one scan (pagination loop)"),
            ));
        }
        if pages >= config.max_pages {
            return Err(limit(format!(
                "full scan stopped after {pages} pages (maxPages {}); nothing was emitted",
                config.max_pages
            )));
        }
        if started.elapsed() > config.max_duration {
            return Err(limit(format!(
                "full scan stopped after {} s (maxSeconds {}); nothing was emitted",
                started.elapsed().as_secs(),
                config.max_duration.as_secs()
            )));
        }
        cursor = Some(c);
    }
    writer.finish().map_err(store_err)
}

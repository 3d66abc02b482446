//! full-scan: page `list` (or `find` without a query) to the end, write every record's fingerprint into
//! a new snapshot generation in the store, and diff it against the previous
//! generation. Nothing is emitted and the snapshot is not switched unless
//! the scan completed: an interrupted scan can never produce false deletes.
//! The snapshot lives in the store, never wholly in memory; the store
//! switches generations when the cycle's commit carries the new one.
//!
//! Fetching and storing overlap: a blocking task fingerprints and writes
//! page N while the engine already runs `list` for page N + 1.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_connector::Connector;
use runtime_engine::RawOutput;
use runtime_events::record_id;
use runtime_store::{Finished, SnapshotSink, StoreError, SubscriptionState};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::{
    advanced, fingerprint, next_cursor, on_page, page_records, split_paths, Ctx, Cycle, Invoker,
    StrategyError,
};

/// How a full-scan subscription scans; a full scan keeps no state of its
/// own beyond the snapshot generation, which the store owns.
#[derive(Debug, Clone)]
pub struct FullScan {
    /// `ignoredFields`, split on dots.
    pub ignored: Vec<Vec<String>>,
    /// Membrane's limits are the defaults: 100,000 records, 1,000 pages, 20 minutes.
    pub max_records: u64,
    pub max_pages: u64,
    pub max_duration: Duration,
    /// The largest share of the committed snapshot one scan may delete
    /// (`maxDeletedShare`, default 0.5): an API glitch answering an empty
    /// list must not turn into thousands of false `deleted` events.
    pub max_deleted_share: f64,
    /// Snapshots with fewer records are not guarded (`deleteGuardMinRecords`,
    /// default 10): deleting 3 of 4 records is ordinary.
    pub delete_guard_min_records: u64,
    /// The function paged: `list`, or `find` (called without a query)
    /// when the collection has no `list` (`Strategy::functions`).
    pub list: String,
}

impl Default for FullScan {
    fn default() -> Self {
        Self {
            ignored: Vec::new(),
            max_records: 100_000,
            max_pages: 1_000,
            max_duration: Duration::from_secs(20 * 60),
            max_deleted_share: 0.5,
            delete_guard_min_records: 10,
            list: LIST.into(),
        }
    }
}

const LIST: &str = "list";

/// How often a long scan says how far it got, at INFO.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

impl FullScan {
    /// `ignoredFields` and `events.fullScan` of the collection spec.
    pub fn from_spec(connector: &Connector, collection: &str) -> Self {
        let d = FullScan::default();
        let Some(spec) = connector.collections.get(collection) else {
            return d;
        };
        let events = &spec.events;
        let l = &events.full_scan;
        FullScan {
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
            list: connector
                .function_set(collection, crate::Kind::FullScan, None)
                .and_then(|set| set.into_iter().next())
                .unwrap_or(d.list),
        }
    }

    pub async fn cycle(
        &self,
        ctx: Ctx<'_>,
        state: &SubscriptionState,
    ) -> Result<Cycle, StrategyError> {
        let invoker = ctx.invoker;
        let store_err = |source| StrategyError::Store {
            collection: invoker.collection.clone(),
            source,
        };
        let gen = state.snapshot_gen.map_or(1, |g| g + 1);
        let checked = scan(ctx, self, gen)
            .await
            .and_then(|finished| guard_deletes(invoker, self, finished));
        if let Err(e) = checked {
            // The half-written generation is garbage; the old one stays current.
            let _ = ctx.store.drop_snapshot(ctx.sub, gen).await;
            return Err(e);
        }
        let events = match state.baseline_done && state.snapshot_gen.is_some() {
            false => Vec::new(),
            true => ctx
                .store
                .snapshot_diff(ctx.sub, gen)
                .await
                .map_err(store_err)?,
        };
        let mut next = advanced(state, &Value::Null);
        // The commit of this state makes `gen` current and retires the old.
        next.snapshot_gen = Some(gen);
        Ok(Cycle {
            events,
            state: next,
        })
    }
}

/// "a snapshot of N records" of a baseline, for the log.
pub(crate) async fn baseline_summary(ctx: Ctx<'_>) -> String {
    format!(
        "a snapshot of {} records",
        ctx.store.snapshot_len(ctx.sub).await.unwrap_or(0)
    )
}

/// Refuses a scan that would delete more of the committed snapshot than
/// the collection allows: deleting is only ever what the author allowed.
fn guard_deletes(
    invoker: &Invoker,
    config: &FullScan,
    finished: Finished,
) -> Result<(), StrategyError> {
    let Finished {
        deleted, previous, ..
    } = finished;
    if previous < config.delete_guard_min_records.max(1)
        || deleted as f64 <= config.max_deleted_share * previous as f64
    {
        return Ok(());
    }
    let spec = invoker
        .connector
        .collections
        .get(&invoker.collection)
        .and_then(|c| c.spec_file.as_ref())
        .map_or_else(
            || format!("data/{}/spec.yml", invoker.collection),
            |f| f.display().to_string(),
        );
    Err(StrategyError::Limit {
        collection: invoker.collection.clone(),
        message: format!(
            "full scan would delete {deleted} of the {previous} records of the last scan \
             ({:.0}%), more than `events.fullScan.maxDeletedShare` ({}) allows; refused: nothing \
             was emitted and the last snapshot is kept. If `list` returned too little (a wrong \
             key, an API glitch), fix it; if the records really are gone, raise \
             `maxDeletedShare` (1 allows any share) under `events.fullScan` in {spec}",
            deleted as f64 * 100.0 / previous as f64,
            config.max_deleted_share
        ),
    })
}

/// One page for the store task: its number and the `list` result, as
/// text when its shape checked out cheaply, else already parsed.
enum Page {
    Text(u64, RawOutput),
    Parsed(u64, Value),
}

/// Why the store task stopped.
enum StoreStop {
    NoId { page: u64 },
    Shape { page: u64, problem: String },
    TooMany { count: u64 },
    Store(StoreError),
}

async fn scan(ctx: Ctx<'_>, config: &FullScan, gen: u64) -> Result<Finished, StrategyError> {
    let invoker = ctx.invoker;
    let store_err = |source| StrategyError::Store {
        collection: invoker.collection.clone(),
        source,
    };
    let writer = ctx
        .store
        .snapshot_writer(ctx.sub, gen)
        .await
        .map_err(store_err)?;
    // Two pages in flight at most: enough to overlap, bounded in memory.
    let (tx, rx) = mpsc::channel::<Page>(1);
    let ignored = config.ignored.clone();
    let max_records = config.max_records;
    let stored_records = Arc::new(AtomicU64::new(0));
    let counter = stored_records.clone();
    let storing = tokio::task::spawn_blocking(move || {
        store_pages(writer, rx, &ignored, max_records, &counter)
    });
    let fetched = fetch_pages(invoker, config, tx, &stored_records).await;
    let stored = storing.await.map_err(|e| StrategyError::Limit {
        collection: invoker.collection.clone(),
        message: format!("full scan: the snapshot writer failed: {e}"),
    })?;
    // A store error can be why sending a page failed: report it first.
    match stored {
        Err(StoreStop::Store(source)) => Err(store_err(source)),
        Err(StoreStop::NoId { page }) => {
            Err(invoker.shape(&config.list, on_page("a record without `id`", page)))
        }
        Err(StoreStop::Shape { page, problem }) => {
            Err(invoker.shape(&config.list, on_page(&problem, page)))
        }
        Err(StoreStop::TooMany { count }) => Err(StrategyError::Limit {
            collection: invoker.collection.clone(),
            message: format!(
                "full scan stopped after {count} records (maxRecords {}); nothing was emitted",
                config.max_records
            ),
        }),
        Ok(writer) => {
            fetched?;
            writer.finish().map_err(store_err)
        }
    }
}

/// The cursor of a `list` result whose `records` are a list (or absent),
/// found without building the records; None when the text is not of that
/// shape, which the full parse then explains.
fn cursor_of(raw: &RawOutput) -> Option<Option<Value>> {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(borrow, default)]
        records: Option<&'a RawValue>,
        #[serde(default)]
        cursor: Value,
    }
    let text = raw.value_text();
    // serde would also read a struct from an array: require an object.
    if !text.starts_with('{') {
        return None;
    }
    let head: Head = serde_json::from_str(text).ok()?;
    if let Some(records) = head.records {
        let text = records.get();
        if !(text.starts_with('[') || text == "null") {
            return None;
        }
    }
    Some(next_cursor(&serde_json::json!({ "cursor": head.cursor })))
}

/// Pages `list` to the end, handing each page to the store task. Dropping
/// `tx` without a complete scan makes the task stop without finishing.
async fn fetch_pages(
    invoker: &Invoker,
    config: &FullScan,
    tx: mpsc::Sender<Page>,
    stored_records: &AtomicU64,
) -> Result<(), StrategyError> {
    let limit = |message: String| StrategyError::Limit {
        collection: invoker.collection.clone(),
        message,
    };
    let started = Instant::now();
    let mut reported = started;
    let mut cursor = None;
    let mut cursors = HashSet::new();
    let mut pages = 0u64;
    loop {
        let mut input = Map::new();
        if let Some(c) = &cursor {
            input.insert("cursor".into(), Value::clone(c));
        }
        let raw = invoker.call_raw(&config.list, input).await?;
        pages += 1;
        // The records are parsed by the store task, beside the next call.
        let (next, page) = match cursor_of(&raw) {
            Some(next) => (next, Page::Text(pages, raw)),
            None => {
                let result = raw
                    .parse()
                    .map(|out| out.value)
                    .map_err(|source| invoker.call_error(raw.function(), source))?;
                page_records(invoker, &config.list, &result, pages)?;
                (next_cursor(&result), Page::Parsed(pages, result))
            }
        };
        if tx.send(page).await.is_err() {
            // The store task stopped; its error is the one to report.
            return Ok(());
        }
        if reported.elapsed() >= PROGRESS_EVERY {
            reported = Instant::now();
            tracing::info!(
                collection = %invoker.collection,
                pages,
                records = stored_records.load(Ordering::Relaxed),
                seconds = started.elapsed().as_secs(),
                "full scan in progress"
            );
        }
        let Some(c) = next else {
            return Ok(());
        };
        if !cursors.insert(c.to_string()) {
            return Err(invoker.shape(
                &config.list,
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
}

/// The store task: parses, fingerprints and writes every page it is sent,
/// and hands the writer back once the channel closes.
fn store_pages(
    mut writer: Box<dyn SnapshotSink>,
    mut rx: mpsc::Receiver<Page>,
    ignored: &[Vec<String>],
    max_records: u64,
    stored_records: &AtomicU64,
) -> Result<Box<dyn SnapshotSink>, StoreStop> {
    let mut count = 0u64;
    while let Some(page) = rx.blocking_recv() {
        let (page, result) = match page {
            Page::Parsed(n, result) => (n, result),
            Page::Text(n, raw) => match serde_json::from_str(raw.value_text()) {
                Ok(value) => (n, value),
                Err(e) => {
                    return Err(StoreStop::Shape {
                        page: n,
                        problem: e.to_string(),
                    })
                }
            },
        };
        // Checked before the page was sent; never skip a page (its records
        // would turn into deletes).
        let records = runtime_events::records(&result)
            .map_err(|problem| StoreStop::Shape { page, problem })?;
        count += records.len() as u64;
        stored_records.store(count, Ordering::Relaxed);
        if count > max_records {
            return Err(StoreStop::TooMany { count });
        }
        for record in records {
            let id = record_id(record).ok_or(StoreStop::NoId { page })?;
            writer
                .put(&id, fingerprint(record, ignored), record)
                .map_err(StoreStop::Store)?;
        }
    }
    Ok(writer)
}

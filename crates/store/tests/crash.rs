//! A child process commits cycles in a loop and is killed with SIGKILL at
//! random moments; after each kill the store must hold every cycle the
//! child was told was committed, and no part of any other cycle.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use runtime_store::{sub_id, ChangeType, NewEvent, SledStore, SubscriptionState};
use serde_json::json;

const WRITER_ENV: &str = "RUNTIME_STORE_CRASH_WRITER";
const TEST_NAME: &str = "killed_writer_never_leaves_half_a_cycle";
const PULL_COLLECTIONS: [&str; 2] = ["contacts", "deals"];
const SCAN_COLLECTION: &str = "files";

fn events(cycle: u64, count: u64) -> Vec<NewEvent> {
    (0..count)
        .map(|i| {
            NewEvent::new(
                ChangeType::Created,
                format!("{cycle}-{i}"),
                &json!({"id": format!("{cycle}-{i}"), "cycle": cycle, "pad": "x".repeat(300)}),
            )
        })
        .collect()
}

fn load(store: &SledStore, collection: &str, strategy: &str) -> SubscriptionState {
    store
        .get(&sub_id("crash", collection, "all"))
        .unwrap()
        .unwrap_or_else(|| SubscriptionState::new("crash", collection, "all", strategy))
}

/// Runs in the child: commits forever, printing each commit that returned.
fn writer(dir: &Path) {
    let store = SledStore::open(dir).unwrap();
    let mut out = std::io::stdout();
    for i in 0u64.. {
        let (collection, count) = if i % 3 == 2 {
            (SCAN_COLLECTION, full_scan_cycle(&store))
        } else {
            let collection = PULL_COLLECTIONS[(i % 3) as usize];
            let mut st = load(&store, collection, "custom-pull");
            let count = 1 + i % 7;
            let total = st.data["events"].as_u64().unwrap_or(0) + count;
            st.cycles += 1;
            st.data = json!({"events": total});
            let sub = st.id();
            store.commit(&sub, &st, events(st.cycles, count)).unwrap();
            (collection, total)
        };
        writeln!(out, "COMMITTED {collection} {count}").unwrap();
        out.flush().unwrap();
    }
}

/// One full-scan cycle as the runtime does it: new generation, diff, commit
/// with the new generation, then retire it. Returns the event total.
fn full_scan_cycle(store: &SledStore) -> u64 {
    let mut st = load(store, SCAN_COLLECTION, "full-scan");
    let sub = st.id();
    let gen = st.snapshot_gen.map_or(1, |g| g + 1);
    let records = 40 + st.cycles % 20;
    let mut w = store.snapshot_writer(&sub, gen).unwrap();
    for r in 0..records {
        let rec = json!({"id": r, "seen": st.cycles});
        let mut fp = [0u8; 16];
        fp[..8].copy_from_slice(&st.cycles.to_be_bytes());
        w.put(&format!("{r:04}"), fp, &rec).unwrap();
    }
    w.finish().unwrap();
    let diff: Vec<NewEvent> = store
        .snapshot_diff(&sub, gen)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    st.snapshot_gen = Some(gen);
    let total = st.data["events"].as_u64().unwrap_or(0) + diff.len() as u64;
    st.cycles += 1;
    st.data = json!({"events": total, "records": records});
    store.commit(&sub, &st, diff).unwrap();
    store.retire_snapshot(&sub, gen).unwrap();
    total
}

/// Delivers everything pending the way the runtime's delivery loop does
/// (in pages, acking each), adding to `delivered` per collection, then
/// checks each subscription's counter against what was ever delivered.
/// Returns how many events this call delivered.
fn verify(
    dir: &Path,
    reported: &HashMap<String, u64>,
    delivered: &mut HashMap<String, u64>,
    last_id: &mut String,
) -> usize {
    let store = SledStore::open(dir).unwrap();
    let mut count = 0;
    loop {
        // `pending` caps a page at about 8 MiB, so one call does not see
        // everything once a few thousand full-scan events pile up.
        let page = store.pending(usize::MAX).unwrap();
        if page.is_empty() {
            break;
        }
        for e in &page {
            assert!(*last_id < e.id, "ids unique and in commit order");
            last_id.clone_from(&e.id);
            *delivered.entry(e.collection.clone()).or_default() += 1;
        }
        count += page.len();
        let ids: Vec<String> = page.into_iter().map(|e| e.id).collect();
        store.ack(&ids).unwrap();
    }
    for (sub, st) in store.list().unwrap() {
        let stored = st.data["events"].as_u64().unwrap();
        let present = delivered.get(&st.collection).copied().unwrap_or(0);
        assert_eq!(
            present, stored,
            "{sub}: events delivered vs counter in its state"
        );
        let told = reported.get(&st.collection).copied().unwrap_or(0);
        assert!(
            told <= stored,
            "{sub}: commit returned {told} events but only {stored} on disk"
        );
        if let Some(gen) = st.snapshot_gen {
            let records = st.data["records"].as_u64().unwrap();
            assert_eq!(
                store.snapshot_len(&sub).unwrap(),
                records,
                "{sub} gen {gen}"
            );
            assert_eq!(
                store.snapshot_records_len(&sub).unwrap(),
                records,
                "{sub}: last known records follow the committed gen"
            );
            assert!(
                !store.snapshot_changes_exist(&sub, gen + 1).unwrap(),
                "orphan scan dropped"
            );
            assert!(
                !store.snapshot_changes_exist(&sub, gen).unwrap(),
                "committed scan retired"
            );
        }
    }
    count
}

#[test]
fn killed_writer_never_leaves_half_a_cycle() {
    if let Some(dir) = std::env::var_os(WRITER_ENV) {
        writer(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let mut reported: HashMap<String, u64> = HashMap::new();
    let start = Instant::now();
    let mut kills = 0;
    let mut delivered: HashMap<String, u64> = HashMap::new();
    let mut last_id = String::new();
    let mut events = 0;
    while kills < 60 && start.elapsed() < Duration::from_secs(14) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(WRITER_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..250)));
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("COMMITTED ") {
                let (collection, total) = rest.split_once(' ').unwrap();
                let total: u64 = total.parse().unwrap();
                let slot = reported.entry(collection.to_string()).or_default();
                *slot = (*slot).max(total);
            }
        }
        events += verify(dir.path(), &reported, &mut delivered, &mut last_id);
    }
    println!(
        "{kills} SIGKILLs in {:.1}s; {events} events across {} subscriptions, reported commits {reported:?}",
        start.elapsed().as_secs_f64(),
        reported.len()
    );
    assert!(kills >= 10, "too few kills to mean anything");
    assert!(
        reported.len() == 3,
        "every subscription committed at least once"
    );
}

//! Author mistakes in the functions a strategy calls (issue 10, points 1, 2,
//! 4 and 5), each through the binary against the mock API: the cycle must
//! fail loudly, naming file, collection and what to do, and commit nothing
//! (no event in the sink, the stored state as it was).

mod support;

use mock_api::MockApi;
use serde_json::{json, Value};
use support::*;
use tempfile::TempDir;

/// A connector whose API client points at the connection's `baseUri`,
/// with `files` (relative path, text) on top.
fn connector(files: &[(&str, &str)]) -> TempDir {
    api_connector("mistakes", files)
}

/// What the store holds, less the failure note a failed cycle adds (and a
/// subscription that holds nothing but that note).
fn stored(work: &Work) -> Value {
    if !work.data.exists() {
        return Value::Null;
    }
    let (code, stdout, stderr) = work.state("show");
    assert_eq!(code, Some(0), "state show failed:\n{stderr}");
    let mut shown: Value = serde_json::from_str(&stdout).unwrap();
    let subs = shown["subscriptions"].as_array_mut().unwrap();
    subs.retain(|s| s["state"]["baseline_done"] == true);
    for sub in subs.iter_mut() {
        sub["state"].as_object_mut().unwrap().remove("last_error");
    }
    if subs.is_empty() {
        return Value::Null;
    }
    shown
}

/// `--once` must fail, emit nothing and leave the store as it was; returns
/// stderr.
fn fails_committing_nothing(work: &mut Work) -> String {
    let before = stored(work);
    let (code, events, stderr) = work.once();
    assert_ne!(code, Some(0), "the mistake went unnoticed:\n{stderr}");
    assert!(events.is_empty(), "events after a failed cycle: {events:?}");
    assert_eq!(stored(work), before, "the failed cycle changed the store");
    stderr
}

const LIST: &str = "export default async function list({ apiClient, cursor, parameters }) {\n  const response = await apiClient.get('/companies', { cursor, limit: 5 })\n  return { records: response.records, cursor: response.cursor }\n}\n";

#[test]
fn a_list_without_records_fails_instead_of_deleting_everything() {
    let mock = MockApi::start();
    mock.seed("companies", 12);
    let dir = connector(&[("data/companies/list.js", LIST)]);
    let mut work = Work::new(dir.path().into(), &mock.base_url(), &["companies"], None);
    assert!(work.once_ok().is_empty(), "the baseline");

    // The API's key under another name.
    let wrong_key = LIST.replace("records: response.records", "items: response.records");
    write(dir.path(), "data/companies/list.js", &wrong_key);
    let err = fails_committing_nothing(&mut work);
    for needle in [
        "collection `companies`",
        "data/companies/list.js",
        "without `records`",
        "keys: items, cursor",
        "(page 1)",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }

    // A forgotten `await`: the Promise crosses as `{}`.
    let no_await = "export default async function list({ apiClient }) {\n  return { records: apiClient.get('/companies') }\n}\n";
    write(dir.path(), "data/companies/list.js", no_await);
    let err = fails_committing_nothing(&mut work);
    assert!(err.contains("a missing `await`"), "{err}");

    // `invoke` reads a list's answer the same way.
    write(dir.path(), "data/companies/list.js", &wrong_key);
    let out = run_to_end(&[
        "invoke".into(),
        dir.path().display().to_string(),
        "data/companies/list".into(),
        "--connection".into(),
        work.connection.display().to_string(),
    ]);
    assert_ne!(out.0, Some(0), "invoke accepted {}", out.1);
    assert!(
        out.2
            .contains("data/companies/list.js returned an object without `records`"),
        "{}",
        out.2
    );

    // Fixed, the next scan sees no change at all: no false delete happened.
    write(dir.path(), "data/companies/list.js", LIST);
    assert!(work.once_ok().is_empty());
}

#[test]
fn a_scan_that_would_delete_most_records_is_refused_until_allowed() {
    let mock = MockApi::start();
    mock.seed("companies", 20);
    let dir = connector(&[("data/companies/list.js", LIST)]);
    let mut work = Work::new(dir.path().into(), &mock.base_url(), &["companies"], None);
    assert!(work.once_ok().is_empty(), "the baseline");
    let ids: Vec<String> = mock.records("companies").iter().map(id_of).collect();

    // A quarter gone: ordinary, allowed by default.
    for id in &ids[..5] {
        assert!(mock.delete("companies", id));
    }
    let events = work.once_ok();
    assert_eq!(events.len(), 5, "{events:?}");
    assert!(events.iter().all(|e| e["type"] == "deleted"));

    // 12 of the 15 left vanish at once (an API glitch, a wrong filter).
    for id in &ids[5..17] {
        assert!(mock.delete("companies", id));
    }
    let err = fails_committing_nothing(&mut work);
    for needle in [
        "collection `companies`",
        "would delete 12 of the 15 records",
        "maxDeletedShare",
        "data/companies/spec.yml",
        "nothing was emitted",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }

    // The author allows it: the deletes go out, once.
    write(
        dir.path(),
        "data/companies/spec.yml",
        "name: Companies\nevents:\n  fullScan:\n    maxDeletedShare: 1\n",
    );
    let events = work.once_ok();
    assert_eq!(events.len(), 12, "{events:?}");
    assert!(events.iter().all(|e| e["type"] == "deleted"));
    assert!(work.once_ok().is_empty());
}

const PULL_LATEST: &str = "export default async function pullLatestRecords({ apiClient, cursor }) {\n  const response = await apiClient.get('/contacts', { cursor, limit: 5 })\n  return { records: ORDER(response.records), cursor: response.cursor }\n}\n";

#[test]
fn pull_latest_records_not_newest_first_fails_the_cycle() {
    let mock = MockApi::start();
    mock.seed("contacts", 12);
    // `GET /contacts` pages oldest first: a forgotten sort parameter.
    let oldest_first = PULL_LATEST.replace("ORDER(response.records)", "response.records");
    let dir = connector(&[("data/contacts/events/pull-latest-records.js", &oldest_first)]);
    let mut work = Work::new(dir.path().into(), &mock.base_url(), &["contacts"], None);
    let err = fails_committing_nothing(&mut work);
    for needle in [
        "collection `contacts`",
        "data/contacts/events/pull-latest-records.js",
        "not newest first",
        "(page 1,",
        "newest records first",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }

    // Each page newest first, but the pages themselves oldest first: the
    // baseline reads page 2 too, to check the order across pages.
    let pages_reversed =
        PULL_LATEST.replace("ORDER(response.records)", "response.records.reverse()");
    write(
        dir.path(),
        "data/contacts/events/pull-latest-records.js",
        &pages_reversed,
    );
    let err = fails_committing_nothing(&mut work);
    assert!(err.contains("(page 2,"), "{err}");
    assert!(err.contains("not newest first"), "{err}");

    // Newest first, as the function must: changes across pages are emitted.
    write(
        dir.path(),
        "data/contacts/events/pull-latest-records.js",
        "export default async function pullLatestRecords({ apiClient, cursor }) {\n  const response = await apiClient.get(cursor || '/contacts/latest?limit=5')\n  return { records: response.records, cursor: response.nextPageLink }\n}\n",
    );
    assert!(work.once_ok().is_empty(), "the baseline");
    let created: Vec<String> = (0..7)
        .map(|i| id_of(&mock.create("contacts", json!({"name": format!("n{i}")}))))
        .collect();
    let events = work.once_ok();
    let mut got: Vec<String> = events
        .iter()
        .map(|e| e["recordId"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want = created.clone();
    want.sort();
    assert_eq!(got, want, "{events:?}");
}

#[test]
fn a_custom_pull_without_state_fails_instead_of_repeating_events() {
    let mock = MockApi::start();
    let dir = connector(&[
        (
            "data/deals/events/subscribe.js",
            "export default async () => ({ since: 1 })\n",
        ),
        (
            "data/deals/events/pull.js",
            "export default async ({ state }) => ({ events: [{ type: 'created', record: { id: 'd' + state.since } }] })\n",
        ),
    ]);
    let mut work = Work::new(dir.path().into(), &mock.base_url(), &["deals"], None);
    assert!(work.once_ok().is_empty(), "subscribe is the baseline");
    for _ in 0..2 {
        let err = fails_committing_nothing(&mut work);
        for needle in [
            "collection `deals`",
            "data/deals/events/pull.js",
            "pull must return the new state",
            "events in it: 1",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
        }
    }
    write(
        dir.path(),
        "data/deals/events/pull.js",
        "export default async ({ state }) => ({ events: [{ type: 'created', record: { id: 'd' + state.since } }], state: { since: state.since + 1 } })\n",
    );
    let events = work.once_ok();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["recordId"], "d1");
    assert_eq!(
        work.once_ok()[0]["recordId"],
        "d2",
        "the new state was kept"
    );
}

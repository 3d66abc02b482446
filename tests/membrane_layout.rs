//! Connectors in Membrane's own layouts, through the real binary against
//! the mock API: `tests/fixtures/membrane-2023` (a `src/` root, `extends`
//! with `$var` two levels deep, `events.yml`, flat webhook files, `find`
//! without `list`) and `tests/fixtures/membrane-2025` (root-spec auth with
//! `filePath`, `extends` lists, methods by key with `filePath` and
//! `not-supported`, full scan by default, a directory). Each must pass
//! `validate`, `invoke` by method key through inheritance, and give
//! exactly the expected events.

mod support;

use std::time::Duration;

use mock_api::MockApi;
use serde_json::{json, Value};
use support::*;

fn of(
    events: &[Value],
    connector: &str,
    collection: &str,
    strategy: &str,
) -> Vec<(String, String)> {
    let mine: Vec<Value> = events
        .iter()
        .filter(|e| e["collection"] == collection)
        .cloned()
        .collect();
    summary_of(&mine, connector, collection, strategy)
}

fn validate_clean(dir: &std::path::Path) {
    let r = runtime(&["validate", dir.to_str().unwrap()], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.trim_start().starts_with("ok"), "{r}");
}

fn invoke_in(work: &Work, function: &str, input: &Value) -> Run {
    let conn = work.connection.display().to_string();
    invoke_with(
        &[],
        &work.connector,
        function,
        input,
        &["--connection", &conn],
    )
}

#[test]
fn membrane_2023_layout_validates_invokes_and_scans() {
    let mock = MockApi::start();
    mock.seed("persons", 3);
    mock.seed("stages", 5);
    let fixture = fixture("membrane-2023", &mock.base_url());
    validate_clean(fixture.path());
    let mut work = Work::new(fixture.path().to_path_buf(), &mock.base_url(), &[], None);

    // `find` lives two bases up; it runs with persons' own parameters,
    // passed down through `$var`.
    let persons = mock.records("persons");
    let out = invoke_in(&work, "data/persons/find", &json!({})).json();
    let ids: Vec<String> = out["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    let want: Vec<String> = persons.iter().map(id_of).collect();
    assert_eq!(ids, want);
    assert_eq!(out["cursor"], Value::Null, "the last page's cursor is null");
    let first = &want[0];
    let out = invoke_in(&work, "data/persons/find-by-id", &json!({"id": first})).json();
    assert_eq!(id_of(&out["record"]), *first);
    let out = invoke_in(&work, "data/stages/find", &json!({})).json();
    assert_eq!(out["records"].as_array().unwrap().len(), 5, "{out}");
    // The flat webhook file is found by its Membrane name too; its record
    // is built by the inherited record-from-api.yml.
    let r = invoke_in(
        &work,
        "data/persons/events-webhook-handle",
        &json!({"body": {"type": "created", "record": {"id": "x", "name": "X", "email": "x@e"}},
                "subscription": {"id": "s", "events": {"created": {}}}}),
    );
    assert_eq!(
        r.json()["events"][0]["record"],
        json!({"id": "x", "name": "X", "updatedTime": null, "fields": {"name": "X", "email": "x@e", "phone": null}}),
        "{r}"
    );

    // First cycle: stages takes its baseline; persons is a webhook
    // collection (the `all` of its base replaced the inherited full
    // scans), which `--once` leaves alone.
    let sink = work.sink_path();
    let mut args = work.run_args(&format!("file:{}", sink.display()));
    args.push("--once".into());
    let (code, _, stderr) = run_to_end(&args);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(read_events(&sink).is_empty(), "baselines emit nothing");
    assert!(
        stderr.contains("webhook collection not subscribed with --once"),
        "{stderr}"
    );
    assert!(mock.webhooks().is_empty());

    let stages: Vec<String> = mock.records("stages").iter().map(id_of).collect();
    let created = id_of(&mock.create("stages", json!({"name": "Won"})));
    mock.update("stages", &stages[1], json!({"name": "Renamed"}))
        .unwrap();
    assert!(mock.delete("stages", &stages[2]));
    let events = work.once_ok();
    assert_eq!(
        of(&events, "pipeline", "stages", "full-scan"),
        pairs(&[
            ("created", &created),
            ("updated", &stages[1]),
            ("deleted", &stages[2]),
        ])
    );
    assert_eq!(events.len(), 3, "{events:?}");
}

#[test]
fn membrane_2023_webhooks_deliver_events() {
    let mock = MockApi::start();
    let fixture = fixture("membrane-2023", &mock.base_url());
    let mut work = Work::new(fixture.path().to_path_buf(), &mock.base_url(), &[], None);
    let port = free_port();
    let sink = work.sink_path();
    let mut args = work.run_args(&format!("file:{}", sink.display()));
    args.extend([
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--interval".into(),
        "0.3".into(),
    ]);
    let mut child = spawn(&args);
    let registered = wait_for(Duration::from_secs(20), || {
        let h = mock.webhooks();
        (!h.is_empty()).then_some(h)
    });
    if registered.is_none() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!("no registration:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    std::thread::sleep(Duration::from_millis(300));
    let person = id_of(&mock.create("persons", json!({"name": "Ada"})));
    let events = wait_for(Duration::from_secs(10), || {
        let e: Vec<Value> = read_events(&sink)
            .into_iter()
            .filter(|e| e["collection"] == "persons")
            .collect();
        (!e.is_empty()).then_some(e)
    })
    .expect("the delivery became an event");
    // A thrown BadRequestError answers 400 and stores nothing.
    let url = format!("http://127.0.0.1:{port}/webhooks/persons/all");
    let status = post(&url, r#"{"type": "exploded", "record": {"id": "z"}}"#, &[]);
    assert_eq!(status, 400);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, 15);
    let code = wait_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(
        of(&events, "pipeline", "persons", "webhook"),
        pairs(&[("created", &person)])
    );
    let all: Vec<Value> = read_events(&sink)
        .into_iter()
        .filter(|e| e["collection"] == "persons")
        .collect();
    assert_eq!(
        all.len(),
        1,
        "nothing stored for the refused request: {all:?}"
    );
    assert_eq!(all[0]["record"]["fields"]["name"], "Ada", "{all:?}");
}

#[test]
fn membrane_2025_layout_validates_invokes_and_scans() {
    let mock = MockApi::start();
    mock.seed("accounts", 10);
    mock.seed("invoices", 3);
    let fixture = fixture("membrane-2025", &mock.base_url());
    validate_clean(fixture.path());
    let mut work = Work::new(fixture.path().to_path_buf(), &mock.base_url(), &[], None);

    let out = invoke_in(&work, "data/accounts/list", &json!({})).json();
    assert_eq!(out["records"].as_array().unwrap().len(), 4, "a page of 4");
    assert!(out["cursor"].is_string(), "{out}");
    let some = id_of(&mock.records("accounts")[2]);
    let out = invoke_in(&work, "data/accounts/findById", &json!({"id": some})).json();
    assert_eq!(id_of(&out["record"]), some);
    let out = invoke_in(&work, "auth/test", &json!({})).json();
    assert_eq!(out, json!(true));
    // makeApiClient is the mapping the root spec points at (`args:` form).
    let requests = mock.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer test-token")),
        "{requests:?}"
    );
    // Declared not-supported: there is no such function, though the base
    // has a file for it.
    let r = invoke_in(&work, "data/accounts/create", &json!({"fields": {}}));
    let err = r.failure();
    assert!(
        err.contains("no function `data/accounts/create`") && err.contains("not-supported"),
        "{r}"
    );
    let r = invoke_in(
        &work,
        "data/invoices/create",
        &json!({"fields": {"name": "Inv"}}),
    );
    assert!(r.json()["id"].is_string(), "{r}");

    assert!(work.once_ok().is_empty(), "the first scans are baselines");
    let accounts: Vec<String> = mock.records("accounts").iter().map(id_of).collect();
    let created = id_of(&mock.create("accounts", json!({"name": "Globex"})));
    mock.update("accounts", &accounts[9], json!({"name": "Last, renamed"}))
        .unwrap();
    let invoices: Vec<String> = mock.records("invoices").iter().map(id_of).collect();
    // Voided: `list-open-invoices.js` (the declared `filePath`) drops it.
    mock.update("invoices", &invoices[0], json!({"status": "void"}))
        .unwrap();
    let events = work.once_ok();
    assert_eq!(
        of(&events, "ledger", "accounts", "full-scan"),
        pairs(&[("created", &created), ("updated", &accounts[9])])
    );
    assert_eq!(
        of(&events, "ledger", "invoices", "full-scan"),
        pairs(&[("deleted", &invoices[0])])
    );
    assert_eq!(
        events.len(),
        3,
        "the directory is never subscribed: {events:?}"
    );
}

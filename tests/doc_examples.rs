//! The three examples of the Membrane "Data collection events" page, run
//! verbatim against the mock API: pullLatestRecords works; subscribe and pull
//! as printed reference `response` out of its scope and must fail with a
//! ReferenceError at the right line; with `response` hoisted they work
//! against the Graph-style delta feed.

mod support;

use std::collections::HashSet;

use mock_api::MockApi;
use serde_json::{json, Value};
use support::{fixture, invoke, line_of, query_pairs};

fn ids(records: &Value) -> Vec<String> {
    records
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {records}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn pull_latest_records_as_printed_pages_newest_first_with_an_absolute_cursor() {
    let mock = MockApi::start();
    mock.seed("contacts", 15);
    let dir = fixture("doc-examples", &mock.base_url());
    let f = "data/contacts-latest/events/pull-latest-records";

    let first = invoke(dir.path(), f, &json!({})).json();
    let page1 = ids(&first["records"]);
    assert_eq!(page1.len(), 10, "{first}");
    // Newest first: the mock's ids follow creation order.
    let all: Vec<String> = ids(&Value::Array(mock.records("contacts")));
    let newest: Vec<String> = all.iter().rev().take(10).cloned().collect();
    assert_eq!(page1, newest);
    let cursor = first["cursor"]
        .as_str()
        .expect("a cursor on the first page");
    assert!(
        cursor.starts_with(&format!("{}/contacts/latest?", mock.base_url())),
        "cursor is the absolute nextPageLink: {cursor}"
    );

    // The space in `$orderby=createdDateTime desc` went out percent-encoded
    // and the server read it back as the documented value.
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/contacts/latest");
    assert!(!reqs[0].query.contains(' '), "{}", reqs[0].query);
    assert_eq!(
        query_pairs(&reqs[0].query),
        vec![("$orderby".to_string(), "createdDateTime desc".to_string())]
    );

    let second = invoke(dir.path(), f, &json!({ "cursor": cursor })).json();
    let page2 = ids(&second["records"]);
    assert_eq!(page2.len(), 5, "{second}");
    assert!(
        second.get("cursor").is_none(),
        "last page has no cursor: {second}"
    );
    let seen: HashSet<&String> = page1.iter().chain(&page2).collect();
    assert_eq!(seen.len(), 15, "pages overlap");

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].path, "/contacts/latest");
    let q = query_pairs(&reqs[1].query);
    assert!(
        q.contains(&("$orderby".into(), "createdDateTime desc".into())),
        "{q:?}"
    );
    assert!(q.contains(&("skip".into(), "10".into())), "{q:?}");
}

#[test]
fn subscribe_as_printed_fails_with_a_reference_error_at_its_return() {
    let mock = MockApi::start();
    mock.seed("contacts", 3);
    let dir = fixture("doc-examples", &mock.base_url());
    let rel = "data/contacts-delta/events/subscribe.js";
    let line = line_of(
        &dir.path().join(rel),
        "return { deltaLink: response.deltaLink }",
    );

    let run = invoke(
        dir.path(),
        "data/contacts-delta/events/subscribe",
        &json!({}),
    );
    let err = run.failure();
    assert!(err.contains("ReferenceError"), "{run}");
    assert!(err.contains("response"), "{run}");
    assert!(
        err.contains(&format!("{rel}:{line}:")),
        "expected {rel}:{line}: in {run}"
    );
    // The loop itself ran: the feed was read before the failing return.
    assert_eq!(mock.request_count("/contacts/delta"), 1);
}

#[test]
fn pull_as_printed_fails_with_a_reference_error_at_its_state() {
    let mock = MockApi::start();
    mock.seed("contacts", 3);
    let dir = fixture("doc-examples", &mock.base_url());
    let rel = "data/contacts-delta/events/pull.js";
    let line = line_of(&dir.path().join(rel), "deltaLink: response.deltaLink");
    let state = json!({ "deltaLink": format!("{}/contacts/delta?token=0", mock.base_url()) });

    let run = invoke(
        dir.path(),
        "data/contacts-delta/events/pull",
        &json!({ "state": state }),
    );
    let err = run.failure();
    assert!(err.contains("ReferenceError"), "{run}");
    assert!(
        err.contains(&format!("{rel}:{line}:")),
        "expected {rel}:{line}: in {run}"
    );
    assert_eq!(mock.request_count("/contacts/delta"), 1);
}

#[test]
fn hoisted_subscribe_and_pull_follow_the_delta_feed() {
    let mock = MockApi::start();
    // More than one page (10) so both functions follow nextPageLink.
    mock.seed("contacts", 23);
    let dir = fixture("doc-examples", &mock.base_url());

    let state = invoke(
        dir.path(),
        "data/contacts-delta-fixed/events/subscribe",
        &json!({}),
    )
    .json();
    let link = state["deltaLink"]
        .as_str()
        .expect("a deltaLink")
        .to_string();
    assert_eq!(link, format!("{}/contacts/delta?token=23", mock.base_url()));
    assert_eq!(
        mock.request_count("/contacts/delta"),
        3,
        "three pages of 10"
    );

    let records = mock.records("contacts");
    let updated = records[4]["id"].as_str().unwrap().to_string();
    let deleted = records[7]["id"].as_str().unwrap().to_string();
    mock.update("contacts", &updated, json!({ "title": "Chief Tester" }))
        .unwrap();
    assert!(mock.delete("contacts", &deleted));
    let created = mock.create("contacts", json!({ "name": "New Person" }));

    let out = invoke(
        dir.path(),
        "data/contacts-delta-fixed/events/pull",
        &json!({ "state": state }),
    )
    .json();
    let events = out["events"].as_array().expect("events");
    let got: Vec<&str> = events
        .iter()
        .map(|e| e["record"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        vec![
            updated.as_str(),
            deleted.as_str(),
            created["id"].as_str().unwrap()
        ]
    );
    // The printed example calls everything `created`; the records are the feed's.
    assert!(events.iter().all(|e| e["type"] == "created"));
    assert_eq!(events[0]["record"]["title"], "Chief Tester");
    assert!(
        events[1]["record"].get("@removed").is_some(),
        "{}",
        events[1]
    );
    assert_eq!(
        out["state"]["deltaLink"],
        format!("{}/contacts/delta?token=26", mock.base_url())
    );

    // Nothing changed since: the next pull is empty and keeps the link.
    let again = invoke(
        dir.path(),
        "data/contacts-delta-fixed/events/pull",
        &json!({ "state": out["state"] }),
    )
    .json();
    assert_eq!(again["events"], json!([]));
    assert_eq!(again["state"], out["state"]);
}

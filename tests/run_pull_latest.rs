//! `runtime run --once` with pull-latest-records, end to end against the
//! mock API: the baseline, created/updated/deleted, records sharing one
//! timestamp, and the documentation's own `pullLatestRecords` paging.

mod support;

use mock_api::{MockApi, MockOptions};
use serde_json::json;
use support::*;

const STRATEGY: &str = "pull-latest-records";

#[test]
fn changes_after_the_baseline_become_exactly_their_events() {
    let mock = MockApi::start();
    mock.seed("contacts", 5);
    let mut work = Work::new(demo_crm(), &mock.base_url(), &["contacts"], None);
    assert!(work.once_ok().is_empty(), "the first cycle is the baseline");

    let ids: Vec<String> = mock.records("contacts").iter().map(id_of).collect();
    let created = id_of(&mock.create("contacts", json!({"name": "New"})));
    mock.update("contacts", &ids[1], json!({"title": "CTO"}))
        .unwrap();
    assert!(mock.delete("contacts", &ids[2]));
    let events = work.once_ok();
    assert_eq!(
        summary(&events, "contacts", STRATEGY),
        pairs(&[
            ("created", &created),
            ("updated", &ids[1]),
            ("deleted", &ids[2]),
        ])
    );
    let updated = events.iter().find(|e| e["type"] == "updated").unwrap();
    assert_eq!(updated["record"]["title"], "CTO");
    unique_ids(&events);

    assert!(work.once_ok().is_empty(), "a quiet cycle emits nothing");
}

#[test]
fn records_sharing_one_timestamp_are_neither_lost_nor_repeated() {
    let mock = MockApi::start();
    mock.seed("contacts", 3);
    let mut work = Work::new(demo_crm(), &mock.base_url(), &["contacts"], None);
    assert!(work.once_ok().is_empty());

    mock.set_clock_step(0);
    let first: Vec<String> = (0..3)
        .map(|i| id_of(&mock.create("contacts", json!({"name": format!("a{i}")}))))
        .collect();
    let got = summary(&work.once_ok(), "contacts", STRATEGY);
    let want: Vec<(&str, &str)> = first.iter().map(|id| ("created", id.as_str())).collect();
    assert_eq!(got, pairs(&want));

    // Same timestamp as the watermark: only the two new ones, as created.
    let second: Vec<String> = (0..2)
        .map(|i| id_of(&mock.create("contacts", json!({"name": format!("b{i}")}))))
        .collect();
    let got = summary(&work.once_ok(), "contacts", STRATEGY);
    let want: Vec<(&str, &str)> = second.iter().map(|id| ("created", id.as_str())).collect();
    assert_eq!(got, pairs(&want));

    assert!(work.once_ok().is_empty(), "a quiet cycle emits nothing");
}

#[test]
fn the_documented_function_pages_through_next_page_links() {
    let mock = MockApi::start_with(MockOptions {
        page_size: 10,
        ..MockOptions::default()
    });
    mock.seed("contacts", 4);
    let mut work = Work::new(
        fixture_dir("run-doc-pull"),
        &mock.base_url(),
        &["contacts"],
        None,
    );
    assert!(work.once_ok().is_empty());

    let created: Vec<String> = (0..25)
        .map(|i| id_of(&mock.create("contacts", json!({"name": format!("n{i}")}))))
        .collect();
    mock.clear_requests();
    let events = work.once_ok();
    let want: Vec<(&str, &str)> = created.iter().map(|id| ("created", id.as_str())).collect();
    assert_eq!(summary(&events, "contacts", STRATEGY), pairs(&want));
    unique_ids(&events);
    let pages = mock.request_count("/contacts/latest");
    assert!(
        pages >= 3,
        "25 new records in pages of 10 need 3 pages, saw {pages}"
    );

    assert!(work.once_ok().is_empty());
}

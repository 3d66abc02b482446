//! The Graph-style delta feed: initial scan, then changes after a token.

mod common;

use common::{client, get_json, ids};
use mock_api::{MockApi, MockOptions};
use serde_json::{json, Value};

/// Walks one delta round from `url`; returns the items and the deltaLink.
async fn round(api: &MockApi, url: String) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut url = url;
    loop {
        let page = get_json(&url).await;
        items.extend(page["value"].as_array().unwrap().iter().cloned());
        if let Some(d) = page.get("deltaLink").and_then(Value::as_str) {
            assert!(page.get("nextPageLink").is_none());
            assert!(d.starts_with(&format!("{}/", api.base_url())));
            return (items, d.to_string());
        }
        url = page["nextPageLink"].as_str().unwrap().to_string();
    }
}

#[tokio::test]
async fn delta_scans_everything_then_reports_changes_and_removals() {
    let api = MockApi::start_with(MockOptions {
        page_size: 4,
        ..MockOptions::default()
    });
    api.seed("users", 10);
    let (first, link) = round(&api, format!("{}/users/delta", api.base_url())).await;
    assert_eq!(ids(&first), ids(&api.records("users")));
    assert_eq!(link, format!("{}/users/delta?token=10", api.base_url()));

    let recs = api.records("users");
    let (a, b) = (
        recs[2]["id"].as_str().unwrap(),
        recs[5]["id"].as_str().unwrap(),
    );
    api.update("users", a, json!({"name": "Renamed"})).unwrap();
    assert!(api.delete("users", b));
    let added = api.create("users", json!({"name": "New"}));
    // Another collection's changes are not in this feed.
    api.seed("other", 3);

    let (changes, link2) = round(&api, link).await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert_eq!(changes[0]["id"], a);
    assert_eq!(changes[0]["name"], "Renamed");
    assert_eq!(
        changes[1],
        json!({"id": b, "@removed": {"reason": "deleted"}})
    );
    assert_eq!(changes[2]["id"], added["id"]);
    assert_eq!(
        link2,
        format!("{}/users/delta?token={}", api.base_url(), api.seq())
    );

    let (none, link3) = round(&api, link2.clone()).await;
    assert!(none.is_empty());
    assert_eq!(link3, link2);
}

#[tokio::test]
async fn changes_page_and_each_record_appears_once_as_it_is_now() {
    let api = MockApi::start_with(MockOptions {
        page_size: 3,
        ..MockOptions::default()
    });
    api.seed("users", 8);
    let token = api.seq();
    for r in api.records("users") {
        let id = r["id"].as_str().unwrap();
        api.update("users", id, json!({"v": 1})).unwrap();
        api.update("users", id, json!({"v": 2})).unwrap();
    }
    let pages_before = api.request_count("/users/delta");
    let (changes, _) = round(
        &api,
        format!("{}/users/delta?token={token}", api.base_url()),
    )
    .await;
    assert_eq!(api.request_count("/users/delta") - pages_before, 3);
    assert_eq!(ids(&changes), ids(&api.records("users")));
    assert!(changes.iter().all(|c| c["v"] == 2));
}

#[tokio::test]
async fn a_change_during_the_initial_scan_shows_up_in_the_next_round() {
    let api = MockApi::start_with(MockOptions {
        page_size: 2,
        ..MockOptions::default()
    });
    api.seed("users", 4);
    let page1 = get_json(&format!("{}/users/delta", api.base_url())).await;
    let first_id = page1["value"][0]["id"].as_str().unwrap().to_string();
    api.update("users", &first_id, json!({"name": "Changed mid-scan"}))
        .unwrap();
    let (rest, link) = round(&api, page1["nextPageLink"].as_str().unwrap().to_string()).await;
    assert_eq!(rest.len(), 2);
    let (changes, _) = round(&api, link).await;
    assert_eq!(ids(&changes), vec![first_id]);
}

#[tokio::test]
async fn expired_and_malformed_tokens_are_refused() {
    let api = MockApi::start();
    api.seed("users", 2);
    let (_, link) = round(&api, format!("{}/users/delta", api.base_url())).await;
    api.expire_delta_tokens();
    api.seed("users", 1);
    let gone = client().get(&link).send().await.unwrap();
    assert_eq!(gone.status(), 410);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["error"]["code"], "resyncRequired");
    let bad = client()
        .get(format!("{}/users/delta?token=abc", api.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // A token issued after expiry works.
    let fresh = get_json(&format!(
        "{}/users/delta?token={}",
        api.base_url(),
        api.seq()
    ))
    .await;
    assert!(fresh["value"].as_array().unwrap().is_empty());
}

//! Every pagination style walks all records exactly once, in its order.

mod common;

use common::{get_json, ids};
use mock_api::MockApi;
use serde_json::{json, Value};

#[tokio::test]
async fn cursor_pages_walk_all_records_once_by_id() {
    let api = MockApi::start();
    api.seed("contacts", 25);
    let mut seen = Vec::new();
    let mut url = format!("{}/contacts?limit=7", api.base_url());
    let mut pages = 0;
    loop {
        let page = get_json(&url).await;
        pages += 1;
        let records = page["records"].as_array().unwrap();
        seen.extend(ids(records));
        match page.get("cursor").and_then(Value::as_str) {
            Some(c) => url = format!("{}/contacts?limit=7&cursor={c}", api.base_url()),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, ids(&api.records("contacts")));
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "ascending and without duplicates");
    // An exactly full last page must not advertise a cursor.
    let all = get_json(&format!("{}/contacts?limit=25", api.base_url())).await;
    assert_eq!(all["records"].as_array().unwrap().len(), 25);
    assert!(all.get("cursor").is_none());
}

#[tokio::test]
async fn seeded_records_have_realistic_fields_and_clock_times() {
    let api = MockApi::start();
    api.seed("contacts", 2);
    let r = api.records("contacts");
    for field in ["name", "email", "company"] {
        assert!(
            r[0][field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    assert!(r[0]["email"].as_str().unwrap().contains('@'));
    assert_eq!(r[0]["createdTime"], "2026-01-01T00:00:00.000Z");
    assert_eq!(r[1]["createdTime"], "2026-01-01T00:00:01.000Z");
    assert_eq!(r[1]["seq"], 2);
    api.set_clock_step(0);
    let a = api.create("contacts", json!({"name": "A"}));
    let b = api.create("contacts", json!({"name": "B"}));
    assert_eq!(a["createdTime"], b["createdTime"]);
    assert_eq!(b["seq"], 4);
    assert_eq!(api.seq(), 4);
}

#[tokio::test]
async fn page_numbers_walk_all_records_once() {
    let api = MockApi::start();
    api.seed("deals", 23);
    let first = get_json(&format!(
        "{}/deals/by-page?page=1&pageSize=5",
        api.base_url()
    ))
    .await;
    assert_eq!(first["totalPages"], 5);
    let mut seen = Vec::new();
    for page in 1..=5 {
        let p = get_json(&format!(
            "{}/deals/by-page?page={page}&pageSize=5",
            api.base_url()
        ))
        .await;
        assert_eq!(p["page"], page);
        seen.extend(ids(p["records"].as_array().unwrap()));
    }
    assert_eq!(seen, ids(&api.records("deals")));
    let past = get_json(&format!(
        "{}/deals/by-page?page=6&pageSize=5",
        api.base_url()
    ))
    .await;
    assert!(past["records"].as_array().unwrap().is_empty());
}

/// Follows absolute `nextPageLink`s from `first`; returns all records.
async fn walk_latest(api: &MockApi, first: String) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = first;
    loop {
        let page = get_json(&url).await;
        out.extend(page["records"].as_array().unwrap().iter().cloned());
        match page.get("nextPageLink").and_then(Value::as_str) {
            Some(next) => {
                assert!(next.starts_with(&api.base_url()), "absolute link: {next}");
                url = next.to_string();
            }
            None => return out,
        }
    }
}

#[tokio::test]
async fn latest_is_newest_first_by_updated_time_with_absolute_links() {
    let api = MockApi::start();
    api.seed("contacts", 24);
    let first_id = api.records("contacts")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.update("contacts", &first_id, json!({"title": "CTO"}))
        .unwrap();
    let all = walk_latest(&api, format!("{}/contacts/latest", api.base_url())).await;
    assert_eq!(all.len(), 24);
    assert_eq!(
        all[0]["id"],
        first_id.as_str(),
        "the updated record comes first"
    );
    assert_eq!(all[0]["title"], "CTO");
    let times: Vec<&str> = all
        .iter()
        .map(|r| r["updatedTime"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let mut unique = ids(&all);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 24);
}

#[tokio::test]
async fn latest_orders_by_created_time_with_graph_orderby_in_both_encodings() {
    let api = MockApi::start();
    api.seed("contacts", 15);
    let oldest = api.records("contacts")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.update("contacts", &oldest, json!({"title": "CEO"}))
        .unwrap();
    let base = api.base_url();
    for query in [
        "$orderby=createdDateTime%20desc",
        "$orderby=createdDateTime+desc",
        "%24orderby=createdDateTime%20desc",
        "orderBy=createdTime",
    ] {
        let all = walk_latest(&api, format!("{base}/contacts/latest?{query}")).await;
        assert_eq!(all.len(), 15, "{query}");
        let created: Vec<&str> = all
            .iter()
            .map(|r| r["createdTime"].as_str().unwrap())
            .collect();
        assert!(
            created.windows(2).all(|w| w[0] > w[1]),
            "{query}: {created:?}"
        );
        assert_eq!(
            all[14]["id"],
            oldest.as_str(),
            "{query}: updates do not move a record"
        );
    }
    // The next link keeps the client's own encoding of the other parameters.
    let page = get_json(&format!(
        "{base}/contacts/latest?$orderby=createdDateTime%20desc"
    ))
    .await;
    let next = page["nextPageLink"].as_str().unwrap();
    assert_eq!(
        next,
        format!("{base}/contacts/latest?$orderby=createdDateTime%20desc&skip=10")
    );
    let bad = common::client()
        .get(format!("{base}/contacts/latest?$orderby=color%20desc"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn latest_includes_tombstones_only_when_asked() {
    let api = MockApi::start();
    api.seed("contacts", 3);
    let gone = api.records("contacts")[1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(api.delete("contacts", &gone));
    assert!(
        !api.delete("contacts", &gone),
        "a tombstone cannot be deleted again"
    );
    let base = api.base_url();
    let live = get_json(&format!("{base}/contacts/latest")).await;
    assert_eq!(live["records"].as_array().unwrap().len(), 2);
    let with = get_json(&format!("{base}/contacts/latest?includeDeleted=true")).await;
    let recs = with["records"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(
        recs[0]["id"],
        gone.as_str(),
        "the deletion is the newest change"
    );
    assert_eq!(recs[0]["deletedTime"], recs[0]["updatedTime"]);
    assert!(api.get("contacts", &gone).is_none());
    assert_eq!(api.records_with_deleted("contacts").len(), 3);
}

//! The upstream and the reqwest loop against each other on real loopback HTTP.

use bench_upstream::{list_all, record, record_with, Changes, Upstream};

async fn serve(total: usize, page_size: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(bench_upstream::serve(
        listener,
        Upstream::new(total, page_size),
    ));
    format!("http://{addr}")
}

#[test]
fn records_are_about_one_kilobyte() {
    for i in [0, 1, 99, 12_345, 99_999] {
        let len = record(i).to_string().len();
        assert!((900..=1300).contains(&len), "record {i} is {len} bytes");
    }
}

#[tokio::test]
async fn list_all_reads_every_record_and_stops_at_the_last_page() {
    let base = serve(250, 100).await;
    let client = reqwest::Client::new();
    assert_eq!(list_all(&client, &base).await.unwrap(), 250);

    let last: serde_json::Value = client
        .get(format!("{base}/items?cursor=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(last["records"].as_array().unwrap().len(), 50);
    assert!(last.get("cursor").is_none());
    let first: serde_json::Value = client
        .get(format!("{base}/items"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["cursor"], "1");
    assert_eq!(first["records"][0]["id"], "item-00000000");
}

#[tokio::test]
async fn bad_cursors_are_client_errors_naming_the_url() {
    let base = serve(10, 100).await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{base}/items?cursor=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .get(format!("{base}/items?cursor=5"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let err = list_all(&client, &format!("{base}/nope"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/nope/items"), "{err}");
}

#[tokio::test]
async fn an_empty_collection_is_one_empty_last_page() {
    let base = serve(0, 100).await;
    assert_eq!(list_all(&reqwest::Client::new(), &base).await.unwrap(), 0);
}

async fn get_json(client: &reqwest::Client, url: String) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// Every record of the upstream, in order, as served now.
async fn all_records(client: &reqwest::Client, base: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut url = format!("{base}/items");
    loop {
        let page = get_json(client, url).await;
        out.extend(page["records"].as_array().unwrap().iter().cloned());
        match page["cursor"].as_str() {
            Some(c) => url = format!("{base}/items?cursor={c}"),
            None => return out,
        }
    }
}

#[tokio::test]
async fn admin_change_edits_the_reported_records_and_percent_zero_restores_them() {
    let base = serve(5_000, 100).await;
    let client = reqwest::Client::new();
    let original = all_records(&client, &base).await;

    let answer = client
        .post(format!("{base}/admin/change?percent=1&seed=7"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let changed = answer.json::<serde_json::Value>().await.unwrap()["changed"]
        .as_u64()
        .unwrap();
    let now = all_records(&client, &base).await;
    assert_eq!(now.len(), original.len());
    let differing: Vec<usize> = (0..now.len()).filter(|&i| now[i] != original[i]).collect();
    assert_eq!(differing.len() as u64, changed);
    // 1% of 5,000, give or take the hash's spread.
    assert!((25..=80).contains(&changed), "{changed} records changed");
    let changes = Changes {
        percent: 1.0,
        seed: 7,
    };
    assert_eq!(changes.count(5_000) as u64, changed);
    for &i in &differing {
        assert_eq!(now[i], record_with(i, &changes));
        assert_eq!(now[i]["id"], original[i]["id"], "a change keeps the id");
    }

    client
        .post(format!("{base}/admin/change?percent=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(all_records(&client, &base).await, original);
}

#[tokio::test]
async fn admin_change_refuses_bad_numbers() {
    let base = serve(10, 100).await;
    let client = reqwest::Client::new();
    for query in ["", "?percent=x", "?percent=101", "?percent=1&seed=-1"] {
        let r = client
            .post(format!("{base}/admin/change{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{query}");
    }
}

#[tokio::test]
async fn latest_is_one_small_page_newest_first() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(bench_upstream::serve(
        listener,
        Upstream::new(0, 100).with_latest(3),
    ));
    let page = get_json(&reqwest::Client::new(), format!("http://{addr}/latest")).await;
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert!(page.get("cursor").is_none());
    assert!(records[0]["updatedTime"].as_str() > records[2]["updatedTime"].as_str());
}

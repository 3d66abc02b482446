//! The upstream and the reqwest loop against each other on real loopback HTTP.

use bench_upstream::{list_all, pages, record};

async fn serve(total: usize, page_size: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(bench_upstream::serve(listener, pages(total, page_size)));
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

//! Writes over HTTP, `/echo`, unknown paths, and the `mock-api` binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{client, raw_get, read_all, split_response};
use mock_api::MockApi;
use serde_json::{json, Value};

#[tokio::test]
async fn records_can_be_written_over_http() {
    let api = MockApi::start();
    let base = api.base_url();
    let r = client()
        .post(format!("{base}/contacts"))
        .json(&json!({"name": "Ada", "seq": 99}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["seq"], 1, "system fields are the store's");
    let url = format!("{base}/contacts/{id}");

    let patched: Value = client()
        .patch(&url)
        .json(&json!({"email": "ada@x.example"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["name"], "Ada", "PATCH merges");
    assert_eq!(patched["email"], "ada@x.example");
    assert_eq!(patched["createdTime"], created["createdTime"]);
    assert!(patched["updatedTime"].as_str() > created["updatedTime"].as_str());

    let put: Value = client()
        .put(&url)
        .json(&json!({"name": "Grace"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(put.get("email").is_none(), "PUT replaces");
    let fetched: Value = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, put);

    let dup = client()
        .post(format!("{base}/contacts"))
        .json(&json!({"id": id, "name": "Clash"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 409);
    let not_obj = client()
        .post(format!("{base}/contacts"))
        .json(&json!([1]))
        .send()
        .await
        .unwrap();
    assert_eq!(not_obj.status(), 400);

    assert_eq!(client().delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(client().delete(&url).send().await.unwrap().status(), 404);
    let gone = client().get(&url).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    let err: Value = gone.json().await.unwrap();
    assert!(err["error"].as_str().unwrap().contains(&id));
    assert!(api.records("contacts").is_empty());
    assert_eq!(api.seq(), 4);
}

#[tokio::test]
async fn echo_returns_the_request_as_received() {
    let api = MockApi::start();
    let r: Value = client()
        .post(format!(
            "{}/echo/a%20b?x=1&y=a+b&z=%24top&x=2",
            api.base_url()
        ))
        .header("X-Custom", "Yes")
        .body("raw body")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["method"], "POST");
    assert_eq!(r["path"], "/echo/a%20b");
    assert_eq!(r["query"], "x=1&y=a+b&z=%24top&x=2");
    assert_eq!(r["headers"]["x-custom"], "Yes");
    assert_eq!(r["body"], "raw body");
    let recorded = api.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].header("X-CUSTOM"), Some("Yes"));
    assert_eq!(recorded[0].body, b"raw body");
    api.clear_requests();
    assert_eq!(api.request_count("/"), 0);
}

#[test]
fn unknown_paths_get_json_404_and_it_works_without_a_runtime() {
    let api = MockApi::start();
    for path in ["/", "/a/b/c"] {
        let mut s = raw_get(api.addr(), path);
        let (raw, _) = read_all(&mut s);
        let (head, body) = split_response(&raw);
        assert!(head.starts_with("HTTP/1.1 404"), "{path}: {head}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"].is_string());
    }
}

#[test]
fn the_binary_prints_its_url_and_serves_seeded_records() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-api"))
        .args(["--seed", "5", "--collection", "people"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let addr = url.trim_start_matches("http://").parse().unwrap();
    let mut s = raw_get(addr, "/people?limit=100");
    let (raw, _) = read_all(&mut s);
    child.kill().unwrap();
    child.wait().unwrap();
    let (_, body) = split_response(&raw);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["records"].as_array().unwrap().len(), 5);
}

#[test]
fn random_changes_move_the_sequence() {
    let api = MockApi::start();
    let mut kinds = std::collections::HashSet::new();
    for _ in 0..60 {
        if let Some((kind, record)) = api.random_change("c") {
            assert!(record["id"].is_string());
            kinds.insert(kind);
        }
    }
    assert_eq!(api.seq(), 60);
    assert!(kinds.contains("created") && kinds.len() >= 2, "{kinds:?}");
}

#[test]
fn the_binary_churns_when_asked() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-api"))
        .args(["--seed", "3", "--churn-ms", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().trim_start_matches("http://").parse().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Changes since seq 3 (the seeding) appear in the delta feed.
    let mut s = raw_get(addr, "/contacts/delta?token=3");
    let (raw, _) = read_all(&mut s);
    child.kill().unwrap();
    child.wait().unwrap();
    let (_, body) = split_response(&raw);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(!v["value"].as_array().unwrap().is_empty(), "{v}");
}

//! Each injected fault is observable on the wire.

mod common;

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use common::{client, header_value, raw_get, read_all, split_response};
use mock_api::{Fault, MockApi};
use serde_json::Value;

fn status(code: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status {
        code,
        retry_after: retry_after.map(str::to_string),
        body: None,
    }
}

#[tokio::test]
async fn status_faults_hit_only_matching_paths_and_count_down() {
    let api = MockApi::start();
    api.seed("contacts", 1);
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    api.inject("/contacts", 1, status(429, Some("1")));
    api.inject("/contacts", 1, status(503, Some(&date)));
    let url = format!("{}/contacts", api.base_url());
    let other = client()
        .get(format!("{}/deals", api.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "other paths are untouched");

    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], 429);
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"].to_str().unwrap(), date);
    assert_eq!(client().get(&url).send().await.unwrap().status(), 200);

    api.inject("/contacts", 5, status(500, None));
    api.clear_faults();
    assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
    assert_eq!(
        api.request_count("/contacts"),
        4,
        "faulted requests are recorded too"
    );
}

#[tokio::test]
async fn custom_status_body_is_sent_as_is() {
    let api = MockApi::start();
    api.inject(
        "/x",
        1,
        Fault::Status {
            code: 400,
            retry_after: None,
            body: Some("plain words".into()),
        },
    );
    let r = client()
        .get(format!("{}/x", api.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.text().await.unwrap(), "plain words");
}

#[test]
fn hang_sends_nothing_then_closes() {
    let api = MockApi::start();
    api.inject("/contacts", 1, Fault::Hang(Duration::from_millis(400)));
    let start = Instant::now();
    let mut s = raw_get(api.addr(), "/contacts");
    let (bytes, _) = read_all(&mut s);
    assert!(
        bytes.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(start.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn hang_makes_a_client_time_out() {
    let api = MockApi::start();
    api.inject("/contacts", 1, Fault::Hang(Duration::from_secs(5)));
    let err = client()
        .get(format!("{}/contacts", api.base_url()))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn slow_headers_delay_a_normal_answer() {
    let api = MockApi::start();
    api.seed("contacts", 2);
    api.inject(
        "/contacts",
        1,
        Fault::SlowHeaders(Duration::from_millis(300)),
    );
    let start = Instant::now();
    let r = client()
        .get(format!("{}/contacts", api.base_url()))
        .send()
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["records"].as_array().unwrap().len(), 2);
}

#[test]
fn stall_body_sends_part_then_stalls_then_the_rest() {
    let api = MockApi::start();
    api.seed("contacts", 3);
    api.inject(
        "/contacts",
        1,
        Fault::StallBody {
            after_bytes: 20,
            stall: Duration::from_millis(600),
        },
    );
    let mut s = raw_get(api.addr(), "/contacts");
    // Read until the head and the first 20 body bytes are in.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_len = loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
        if let Some(p) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            if got.len() >= p + 4 + 20 {
                break p + 4;
            }
        }
    };
    assert_eq!(
        got.len() - head_len,
        20,
        "exactly the first part before the stall"
    );
    s.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let e = s.read(&mut buf).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e}"
    );
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (rest, err) = read_all(&mut s);
    assert!(err.is_none());
    got.extend_from_slice(&rest);
    let (head, body) = split_response(&got);
    let len: usize = header_value(&head, "content-length")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(body.len(), len);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["records"].as_array().unwrap().len(), 3);
}

#[test]
fn truncate_announces_more_than_it_sends() {
    let api = MockApi::start();
    api.seed("contacts", 2);
    api.inject("/contacts", 1, Fault::Truncate);
    let mut s = raw_get(api.addr(), "/contacts");
    let (raw, _) = read_all(&mut s);
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let announced: usize = header_value(&head, "content-length")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        !body.is_empty() && body.len() < announced,
        "{} of {announced}",
        body.len()
    );
}

#[tokio::test]
async fn truncate_fails_a_client_body_read() {
    let api = MockApi::start();
    api.inject("/contacts", 1, Fault::Truncate);
    let r = client()
        .get(format!("{}/contacts", api.base_url()))
        .send()
        .await
        .unwrap();
    assert!(r.bytes().await.is_err());
}

#[test]
fn reset_closes_with_rst_and_no_response() {
    let api = MockApi::start();
    api.inject("/contacts", 1, Fault::Reset);
    let mut s = raw_get(api.addr(), "/contacts");
    let (bytes, err) = read_all(&mut s);
    assert!(bytes.is_empty());
    let err = err.expect("a reset, not a clean close");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn reset_is_a_request_error_for_a_client() {
    let api = MockApi::start();
    api.inject("/contacts", 1, Fault::Reset);
    let err = client()
        .get(format!("{}/contacts", api.base_url()))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout() && err.status().is_none(), "{err}");
}

#[tokio::test]
async fn non_json_claims_json() {
    let api = MockApi::start();
    api.inject("/contacts", 1, Fault::NonJson);
    let r = client()
        .get(format!("{}/contacts", api.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let bytes = r.bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
}

#[tokio::test]
async fn oversize_streams_exactly_that_many_bytes_of_json() {
    let api = MockApi::start();
    let n = 3_000_017;
    api.inject("/contacts", 1, Fault::Oversize(n));
    let r = client()
        .get(format!("{}/contacts", api.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.content_length(), Some(n as u64));
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes.len(), n);
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(v["records"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn redirect_points_at_the_given_url() {
    let api = MockApi::start();
    let target = format!("{}/echo/landed", api.base_url());
    api.inject("/contacts", 1, Fault::RedirectTo(target.clone()));
    let r = client()
        .get(format!("{}/contacts", api.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"].to_str().unwrap(), target);
}

#[tokio::test]
async fn faults_that_deliver_the_answer_still_perform_the_write() {
    let api = MockApi::start();
    api.inject("/contacts", 1, Fault::Truncate);
    let r = client()
        .post(format!("{}/contacts", api.base_url()))
        .json(&serde_json::json!({"name": "Written"}))
        .send()
        .await;
    assert!(r.is_err() || r.unwrap().bytes().await.is_err());
    assert_eq!(api.records("contacts").len(), 1);
    api.inject("/contacts", 1, status(500, None));
    let r = client()
        .post(format!("{}/contacts", api.base_url()))
        .json(&serde_json::json!({"name": "Refused"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        api.records("contacts").len(),
        1,
        "a status fault replaces the handling"
    );
}

#[tokio::test]
async fn rate_limit_mode_refuses_over_budget_and_counts() {
    let api = MockApi::start_with(mock_api::MockOptions {
        rate_limit_per_second: Some(3),
        ..Default::default()
    });
    let url = format!("{}/contacts", api.base_url());
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = client().get(&url).send().await.unwrap();
        if r.status() == 429 {
            assert_eq!(r.headers()["retry-after"], "1");
        }
        statuses.push(r.status().as_u16());
    }
    // Five requests within well under a second: the budget is 3.
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert_eq!(api.rate_limited(), 2);
    assert_eq!(api.rate_limited_at().len(), 2);
    assert_eq!(
        api.request_count("/contacts"),
        5,
        "refused ones are recorded too"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200, "a second later the budget is back");
    api.reset_rate_limited();
    api.set_rate_limit(None);
    for _ in 0..10 {
        assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
    }
    assert_eq!(api.rate_limited(), 0);
}

//! Webhook registration and delivery to a tiny local receiver.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::client;
use hmac::{Hmac, Mac};
use mock_api::{MockApi, MockOptions};
use serde_json::{json, Value};
use sha2::Sha256;

struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A one-request-per-connection HTTP receiver answering 200; returns its
/// URL and the requests it got.
fn receiver() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap(); // request line
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                let (k, v) = l.split_once(':').unwrap();
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .unwrap();
            if tx.send(Received { headers, body }).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

fn recv(rx: &mpsc::Receiver<Received>) -> Received {
    rx.recv_timeout(Duration::from_secs(5))
        .expect("a webhook delivery")
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_are_posted_in_order_with_a_valid_signature() {
    let api = MockApi::start_with(MockOptions {
        webhook_secret: Some("s3cret".into()),
        ..MockOptions::default()
    });
    let (url, rx) = receiver();
    let base = api.base_url();
    let reg: Value = client()
        .post(format!("{base}/webhooks"))
        .json(&json!({"url": url, "collection": "contacts"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = reg["id"].as_str().unwrap();
    api.seed("ignored", 1);
    let created: Value = client()
        .post(format!("{base}/contacts"))
        .json(&json!({"name": "Ada"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rid = created["id"].as_str().unwrap();
    api.update("contacts", rid, json!({"name": "Ada L."}))
        .unwrap();
    assert!(api.delete("contacts", rid));

    for expected in ["created", "updated", "deleted"] {
        let got = recv(&rx);
        let ts = got.header("x-mock-timestamp").unwrap();
        let sig = got.header("x-mock-signature").unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(format!("{ts}.").as_bytes());
        mac.update(&got.body);
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sig, want);
        assert_eq!(sig, mock_api::sign_webhook("s3cret", ts, &got.body));
        let event: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(event["type"], expected);
        assert_eq!(event["collection"], "contacts");
        assert_eq!(event["record"]["id"], rid);
    }
    let deliveries = api.wait_for_deliveries(3, Duration::from_secs(5));
    assert_eq!(deliveries.len(), 3, "the other collection is not delivered");
    assert!(deliveries
        .iter()
        .all(|d| d.status == Some(200) && d.webhook_id == id));
    assert_eq!(deliveries[2].event_type, "deleted");

    let del = client()
        .delete(format!("{base}/webhooks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let again = client()
        .delete(format!("{base}/webhooks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    api.seed("contacts", 1);
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "unregistered"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn event_filter_and_failed_deliveries_are_recorded() {
    let api = MockApi::start();
    let (url, rx) = receiver();
    let r = client()
        .post(format!("{}/webhooks", api.base_url()))
        .json(&json!({"url": url, "events": ["deleted"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Nothing listens on a port we bound and released.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dead_reg = api.register_webhook(&format!("http://{dead}/gone"), None);
    let listed: Value = client()
        .get(format!("{}/webhooks", api.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 2);
    assert_eq!(api.webhooks().len(), 2);

    let rec = api.create("contacts", json!({"name": "x"}));
    api.delete("contacts", rec["id"].as_str().unwrap());
    let got = recv(&rx);
    let event: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(event["type"], "deleted");
    assert!(
        got.header("x-mock-signature").is_none(),
        "no secret, no signature"
    );

    let all = api.wait_for_deliveries(3, Duration::from_secs(5));
    let failed: Vec<_> = all.iter().filter(|d| d.webhook_id == dead_reg.id).collect();
    assert_eq!(failed.len(), 2);
    assert!(failed
        .iter()
        .all(|d| d.status.is_none() && d.error.as_deref().is_some_and(|e| e.contains("/gone"))));

    let bad = client()
        .post(format!("{}/webhooks", api.base_url()))
        .json(&json!({"url": "not a url"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

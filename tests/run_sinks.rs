//! Sinks end to end: every `file:` line is a whole contract event, and an
//! `http://` receiver that fails requests with 500 still gets every event.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use mock_api::MockApi;
use serde_json::{json, Value};
use support::*;

#[test]
fn file_sink_lines_are_whole_contract_events() {
    let mock = MockApi::start();
    mock.seed("deals", 5);
    let mut work = Work::new(demo_crm(), &mock.base_url(), &["deals"], None);
    assert!(work.once_ok().is_empty());
    for i in 0..40 {
        mock.create("deals", json!({"name": format!("d{i}")}));
    }
    let sink = work.sink_path();
    let mut args = work.run_args(&format!("file:{}", sink.display()));
    args.push("--once".into());
    let (code, stdout, stderr) = run_to_end(&args);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.is_empty(), "a file sink prints nothing on stdout");
    let text = std::fs::read_to_string(&sink).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 40);
    lines.iter().for_each(assert_contract);
    unique_ids(&lines);
}

#[derive(Default)]
struct Receiver {
    requests: usize,
    failed: usize,
    by_id: HashMap<String, Vec<Value>>,
}

async fn receive(
    State(r): State<Arc<Mutex<Receiver>>>,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    let mut r = r.lock().unwrap();
    r.requests += 1;
    // Every other request fails after reading it, as a flaky receiver would.
    if r.requests % 2 == 1 {
        r.failed += 1;
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("retry-after", "0")],
            "boom",
        )
            .into_response();
    }
    for e in body["events"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap().to_string();
        r.by_id.entry(id).or_default().push(e.clone());
    }
    StatusCode::OK.into_response()
}

fn start_receiver(state: Arc<Mutex<Receiver>>) -> (String, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/events", post(receive))
        .with_state(state);
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rt)
}

#[test]
fn http_sink_retries_failed_requests_until_every_event_arrived() {
    let received = Arc::new(Mutex::new(Receiver::default()));
    let (url, _rt) = start_receiver(received.clone());
    let mock = MockApi::start();
    mock.seed("deals", 5);
    let mut work = Work::new(demo_crm(), &mock.base_url(), &["deals"], None);
    assert!(work.once_ok().is_empty());

    let mut args = work.run_args(&url);
    args.extend(["--interval".into(), "0.2".into()]);
    let mut child = spawn(&args);
    let mut created = Vec::new();
    for round in 0..5 {
        for i in 0..8 {
            created.push(id_of(
                &mock.create("deals", json!({"name": format!("r{round}-{i}")})),
            ));
        }
        std::thread::sleep(Duration::from_millis(350));
    }
    let all_in = wait_for(Duration::from_secs(20), || {
        let r = received.lock().unwrap();
        let ids: std::collections::HashSet<&str> = r
            .by_id
            .values()
            .map(|v| v[0]["recordId"].as_str().unwrap())
            .collect();
        created
            .iter()
            .all(|c| ids.contains(c.as_str()))
            .then_some(())
    });
    signal(&child, libc::SIGTERM);
    let code = wait_timeout(&mut child, Duration::from_secs(20));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        all_in.is_some(),
        "events missing at the receiver:\n{stderr}"
    );
    assert_eq!(code, Some(0), "{stderr}");

    let r = received.lock().unwrap();
    assert!(
        r.failed >= 2,
        "the receiver failed only {} requests",
        r.failed
    );
    let mut by_record: HashMap<String, usize> = HashMap::new();
    for copies in r.by_id.values() {
        assert!(
            copies.iter().all(|c| c == &copies[0]),
            "same id, other content: {copies:?}"
        );
        assert_contract(&copies[0]);
        assert_eq!(copies[0]["type"], "created");
        *by_record
            .entry(copies[0]["recordId"].as_str().unwrap().into())
            .or_default() += 1;
    }
    assert_eq!(by_record.len(), created.len(), "one event per created deal");
    assert!(
        by_record.values().all(|&n| n == 1),
        "one event id per change: {by_record:?}"
    );
    println!(
        "http sink: {} requests, {} failed with 500, {} events",
        r.requests,
        r.failed,
        r.by_id.len()
    );
}

//! Webhook subscriptions are refreshed at `nextRefreshTimestamp` (through
//! `webhook-refresh.js`, keeping the state it returns), and oversize
//! webhook bodies are refused with 413 before anything is stored.

mod support;

use std::time::Duration;

use mock_api::MockApi;
use serde_json::json;
use support::*;

#[test]
fn refreshes_at_next_refresh_timestamp_and_refuses_oversize_bodies() {
    let mock = MockApi::start();
    let tmp = tempfile::tempdir().unwrap();
    let conn = tmp.path().join("connection.json");
    std::fs::write(
        &conn,
        json!({"parameters": {"baseUri": mock.base_url()}}).to_string(),
    )
    .unwrap();
    let sink = tmp.path().join("events.jsonl");
    let data = tmp.path().join("data");
    let port = free_port();
    let mut child = spawn(&[
        "run".into(),
        fixture_dir("run-refresh").display().to_string(),
        "--connection".into(),
        conn.display().to_string(),
        "--data-dir".into(),
        data.display().to_string(),
        "--sink".into(),
        format!("file:{}", sink.display()),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--interval".into(),
        "0.2".into(),
        "--max-webhook-body".into(),
        "1000".into(),
    ]);
    // Registered once, then refreshed (not re-registered) at least twice.
    let refreshed = wait_for(Duration::from_secs(20), || {
        (mock.request_count("/echo/refresh") >= 2).then_some(())
    });
    let uri = format!("http://127.0.0.1:{port}/webhooks/hooks/all");
    let big =
        json!({"type": "created", "record": {"id": "big", "pad": "x".repeat(2000)}}).to_string();
    let oversize = post(&uri, &big, &[]);
    let small = json!({"type": "created", "record": {"id": "small"}}).to_string();
    let ok = post(&uri, &small, &[]);
    let events = wait_for(Duration::from_secs(10), || {
        let e = read_events(&sink);
        (!e.is_empty()).then_some(e)
    });
    signal(&child, libc::SIGTERM);
    let code = wait_timeout(&mut child, Duration::from_secs(20));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(refreshed.is_some(), "webhook-refresh never ran:\n{stderr}");
    assert_eq!(mock.webhooks().len(), 1, "refresh must not register again");
    assert_eq!(oversize, 413);
    assert_eq!(ok, 200);
    assert_eq!(code, Some(0), "{stderr}");
    let ids: Vec<String> = events
        .unwrap_or_default()
        .iter()
        .map(|e| e["recordId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["small"]);

    // The refreshed state was stored: `refreshes` counted up.
    let (code, show, err) = run_to_end(&[
        "state".into(),
        "show".into(),
        fixture_dir("run-refresh").display().to_string(),
        "--connection".into(),
        conn.display().to_string(),
        "--data-dir".into(),
        data.display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let show: serde_json::Value = serde_json::from_str(&show).unwrap();
    let refreshes = show["subscriptions"][0]["state"]["data"]["state"]["refreshes"]
        .as_u64()
        .unwrap();
    assert!(refreshes >= 2, "{show}");
}

//! `runtime run` (not `--once`) with the webhook strategy: registration at
//! the mock, signed deliveries becoming events, forged requests refused,
//! SIGTERM draining and exiting 0, and `state reset` unregistering.

mod support;

use std::time::Duration;

use mock_api::{MockApi, MockOptions};
use serde_json::json;
use support::*;

const SECRET: &str = "whsec-test";

#[test]
fn webhook_deliveries_become_events_and_sigterm_drains() {
    let mock = MockApi::start_with(MockOptions {
        webhook_secret: Some(SECRET.into()),
        ..MockOptions::default()
    });
    let mut work = Work::new(demo_crm(), &mock.base_url(), &["tickets"], Some(SECRET));
    let port = free_port();
    let sink = work.sink_path();
    let mut args = work.run_args(&format!("file:{}", sink.display()));
    args.extend([
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--interval".into(),
        "0.3".into(),
    ]);
    let mut child = spawn(&args);

    let uri = format!("http://127.0.0.1:{port}/webhooks/tickets/all");
    let hooks = wait_for(Duration::from_secs(20), || {
        let h = mock.webhooks();
        (!h.is_empty()).then_some(h)
    });
    let Some(hooks) = hooks else {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "no webhook registration; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0].url, uri);
    // The subscription is committed right after registering; give the
    // server that moment before the first delivery.
    std::thread::sleep(Duration::from_millis(300));

    let first = id_of(&mock.create("tickets", json!({"subject": "Printer on fire"})));
    let events = wait_for(Duration::from_secs(10), || {
        let e = read_events(&sink);
        (!e.is_empty()).then_some(e)
    })
    .expect("the delivery became an event in the sink");
    assert_eq!(
        summary(&events, "tickets", "webhook"),
        pairs(&[("created", &first)])
    );

    // Signed with the wrong secret: the handler answers 401, nothing stored.
    let body =
        json!({"type": "created", "collection": "tickets", "record": {"id": "forged"}}).to_string();
    let ts = "1700000000";
    let bad = mock_api::sign_webhook("not-the-secret", ts, body.as_bytes());
    let status = post(
        &uri,
        &body,
        &[("x-mock-timestamp", ts), ("x-mock-signature", &bad)],
    );
    assert_eq!(status, 401);

    // More changes, then SIGTERM right away: what the runtime acknowledged
    // must be in the sink when it exits.
    mock.update("tickets", &first, json!({"status": "closed"}))
        .unwrap();
    let more: Vec<String> = (0..5)
        .map(|i| id_of(&mock.create("tickets", json!({"subject": format!("t{i}")}))))
        .collect();
    let deliveries = mock.wait_for_deliveries(7, Duration::from_secs(10));
    signal(&child, libc::SIGTERM);
    let code = wait_timeout(&mut child, Duration::from_secs(20));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, Some(0), "SIGTERM must exit 0:\n{stderr}");
    assert!(out.stdout.is_empty(), "nothing but events on stdout");

    let acked = deliveries
        .iter()
        .filter(|d| d.status.is_some_and(|s| (200..300).contains(&s)))
        .count();
    assert_eq!(acked, 7, "every delivery acknowledged: {deliveries:?}");
    let events = read_events(&sink);
    unique_ids(&events);
    let mut want = vec![("created", first.as_str()), ("updated", first.as_str())];
    want.extend(more.iter().map(|id| ("created", id.as_str())));
    assert_eq!(summary(&events, "tickets", "webhook"), pairs(&want));
    assert!(
        events.iter().all(|e| e["recordId"] != "forged"),
        "a forged request became an event"
    );

    // Reset unsubscribes at the API.
    let (code, stdout, stderr) = work.state("reset");
    assert_eq!(code, Some(0), "state reset failed:\n{stderr}");
    assert!(stdout.contains("reset"), "{stdout}");
    assert!(
        mock.webhooks().is_empty(),
        "still registered: {:?}",
        mock.webhooks()
    );
}

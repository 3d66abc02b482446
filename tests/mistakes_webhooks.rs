//! Author mistakes around webhooks (issue 10, points 3 and 8), through the
//! binary against the mock API: a handler answer without `events` is
//! answered 500 and stores nothing; `--once` registers no hook unless asked;
//! a changed public URL moves the registration; requests are logged.

mod support;

use std::time::Duration;

use mock_api::MockApi;
use serde_json::json;
use support::*;
use tempfile::TempDir;

const SUBSCRIBE: &str = "export default async function subscribe({ apiClient, webhookUri }) {\n  const hook = await apiClient.post('/webhooks', { url: webhookUri, collection: 'tickets' })\n  return { state: { webhookId: hook.id } }\n}\n";
const UNSUBSCRIBE: &str = "export default async function unsubscribe({ apiClient, state }) {\n  await apiClient.delete(`/webhooks/${state.webhookId}`)\n}\n";

/// A webhook connector whose handler is `handle`.
fn connector(handle: &str) -> TempDir {
    api_connector(
        "hooks",
        &[
            ("data/tickets/events/webhook-subscribe.js", SUBSCRIBE),
            ("data/tickets/events/webhook-unsubscribe.js", UNSUBSCRIBE),
            ("data/tickets/events/webhook-handle.js", handle),
        ],
    )
}

/// Answers by what the body asks for: `{events}`, `null`, or the mistake
/// of returning the event itself.
const HANDLE: &str = "export default async function handle({ data }) {\n  if (data.mode === 'bare') return { type: 'created', record: data.record }\n  if (data.mode === 'none') return null\n  return { events: [{ type: 'created', record: data.record }] }\n}\n";

#[test]
fn a_handler_answer_without_events_is_a_500_and_stores_nothing() {
    let mock = MockApi::start();
    let dir = connector(HANDLE);
    let mut work = Work::new(dir.path().into(), &mock.base_url(), &["tickets"], None);
    let port = free_port();
    let sink = work.sink_path();
    let mut args = work.run_args(&format!("file:{}", sink.display()));
    args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
    let mut child = spawn(&args);
    let uri = format!("http://127.0.0.1:{port}/webhooks/tickets/all");
    let registered = wait_for(Duration::from_secs(20), || {
        (!mock.webhooks().is_empty()).then_some(())
    });
    if registered.is_none() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!("not registered:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    // 503 until the subscription is committed.
    wait_for(Duration::from_secs(10), || {
        (post(&uri, &json!({"mode": "none"}).to_string(), &[]) == 200).then_some(())
    })
    .expect("the subscription is served");

    let bare = json!({"mode": "bare", "record": {"id": "lost"}}).to_string();
    assert_eq!(post(&uri, &bare, &[]), 500, "the sender must retry");
    assert_eq!(
        post(
            &uri,
            &json!({"mode": "events", "record": {"id": "kept"}}).to_string(),
            &[]
        ),
        200
    );
    let events = wait_for(Duration::from_secs(10), || {
        let e = read_events(&sink);
        (!e.is_empty()).then_some(e)
    })
    .expect("the good request's event");
    signal(&child, libc::SIGTERM);
    assert_eq!(wait_timeout(&mut child, Duration::from_secs(20)), Some(0));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let events: Vec<_> = read_events(&sink).into_iter().chain(events).collect();
    assert!(
        events.iter().all(|e| e["recordId"] == "kept"),
        "only the good request's event: {events:?}"
    );
    for needle in [
        "data/tickets/events/webhook-handle.js",
        "without `events`",
        "keys: type, record",
        "status=500",
    ] {
        assert!(
            stderr.contains(needle),
            "{needle:?} missing from:\n{stderr}"
        );
    }
    // Every request logged at INFO, and counted at the end.
    assert!(
        stderr.contains("path=/webhooks/tickets/all status=200 events=1"),
        "{stderr}"
    );
    assert!(stderr.contains("webhook_events=1"), "{stderr}");
}

#[test]
fn once_registers_no_hook_unless_asked_and_a_new_public_url_moves_it() {
    let mock = MockApi::start();
    let dir = connector(HANDLE);
    let mut work = Work::new(dir.path().into(), &mock.base_url(), &["tickets"], None);
    let (code, events, stderr) = work.once();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(events.is_empty());
    assert!(mock.webhooks().is_empty(), "--once left a hook behind");
    assert!(stderr.contains("not subscribed with --once"), "{stderr}");
    assert!(stderr.contains("--once-webhooks"), "{stderr}");

    let once_at = |url: &str| {
        let sink = work.tmp.path().join("e.jsonl");
        let mut args = work.run_args(&format!("file:{}", sink.display()));
        args.extend([
            "--once".into(),
            "--once-webhooks".into(),
            "--public-url".into(),
            url.into(),
        ]);
        let (code, _, stderr) = run_to_end(&args);
        assert_eq!(code, Some(0), "{stderr}");
        stderr
    };
    let stderr = once_at("http://127.0.0.1:9");
    let urls = || -> Vec<String> { mock.webhooks().into_iter().map(|h| h.url).collect() };
    assert_eq!(urls(), ["http://127.0.0.1:9/webhooks/tickets/all"]);
    assert!(
        stderr.contains("which an external app cannot reach"),
        "a loopback public URL is warned about: {stderr}"
    );

    let stderr = once_at("https://hooks.example.com/rt");
    assert_eq!(
        urls(),
        ["https://hooks.example.com/rt/webhooks/tickets/all"],
        "the old hook is removed, the new one made: {stderr}"
    );
    assert!(
        stderr.contains("moving the webhook registration"),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot reach"), "{stderr}");

    // Same URL again: nothing moves.
    once_at("https://hooks.example.com/rt");
    assert_eq!(
        urls(),
        ["https://hooks.example.com/rt/webhooks/tickets/all"]
    );
}

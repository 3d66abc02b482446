//! Global webhooks: one endpoint whose `handle` routes `{selector, payload}`
//! events to the webhook subscriptions the selector picks; and webhook
//! subscriptions of collections that are no longer enabled are
//! unsubscribed at the next start.

mod support;

use std::time::Duration;

use mock_api::MockApi;
use serde_json::json;
use support::*;

fn post_to(port: u16, path: &str, body: &str) -> u16 {
    post(&format!("http://127.0.0.1:{port}{path}"), body, &[])
}

fn connection(dir: &std::path::Path, base_url: &str, orders_enabled: bool) -> std::path::PathBuf {
    let path = dir.join(format!("connection-{orders_enabled}.json"));
    // Two versions of one connection's file: the same `id`, so they share
    // its data dir.
    let conn = json!({
        "id": "shop-1",
        "credentials": {},
        "parameters": {"baseUri": base_url},
        "collections": {"orders": {"enabled": orders_enabled}},
    });
    std::fs::write(&path, conn.to_string()).unwrap();
    path
}

#[test]
fn global_webhook_routes_by_selector_and_removed_collections_unsubscribe() {
    let mock = MockApi::start();
    let tmp = tempfile::tempdir().unwrap();
    let connector = fixture_dir("run-global");
    let data = tmp.path().join("data");
    let sink = tmp.path().join("events.jsonl");
    let port = free_port();
    let args = |conn: &std::path::Path, sink: &std::path::Path| -> Vec<String> {
        vec![
            "run".into(),
            connector.display().to_string(),
            "--connection".into(),
            conn.display().to_string(),
            "--data-dir".into(),
            data.display().to_string(),
            "--sink".into(),
            format!("file:{}", sink.display()),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ]
    };
    let all = connection(tmp.path(), &mock.base_url(), true);
    let mut child = spawn(&args(&all, &sink));
    let hooks = wait_for(Duration::from_secs(20), || {
        let h = mock.webhooks();
        (h.len() == 2).then_some(h)
    });
    let Some(hooks) = hooks else {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "subscriptions did not register:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let mut urls: Vec<String> = hooks.iter().map(|h| h.url.clone()).collect();
    urls.sort();
    assert_eq!(
        urls,
        [
            format!("http://127.0.0.1:{port}/webhooks/orders/all"),
            format!("http://127.0.0.1:{port}/webhooks/refunds/all"),
        ]
    );
    std::thread::sleep(Duration::from_millis(300));

    let event = |account: &str, id: &str| {
        json!({"account": account, "type": "created", "record": {"id": id}}).to_string()
    };
    assert_eq!(
        post_to(port, "/global-webhooks/app", &event("a1", "o1")),
        202
    );
    assert_eq!(
        post_to(port, "/global-webhooks/app", &event("a2", "r1")),
        202
    );
    // No subscription has this account: answered, nothing stored.
    assert_eq!(
        post_to(port, "/global-webhooks/app", &event("zz", "x1")),
        202
    );
    assert_eq!(
        post_to(port, "/global-webhooks/nope", &event("a1", "o2")),
        404
    );

    let events = wait_for(Duration::from_secs(10), || {
        let e = read_events(&sink);
        (e.len() >= 2).then_some(e)
    })
    .expect("routed events reach the sink");
    signal(&child, libc::SIGTERM);
    let code = wait_timeout(&mut child, Duration::from_secs(20));
    assert_eq!(code, Some(0));
    let events = read_events(&sink)
        .into_iter()
        .chain(events)
        .collect::<Vec<_>>();
    let mut seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            assert_contract(e);
            (
                e["collection"].as_str().unwrap().to_string(),
                e["recordId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            ("orders".to_string(), "o1".to_string()),
            ("refunds".to_string(), "r1".to_string())
        ]
    );

    // `orders` is turned off: the next start unregisters it at the app.
    let without_orders = connection(tmp.path(), &mock.base_url(), false);
    let mut once = args(&without_orders, &tmp.path().join("events-2.jsonl"));
    once.push("--once".into());
    let (code, _, stderr) = run_to_end(&once);
    assert_eq!(code, Some(0), "{stderr}");
    let left: Vec<String> = mock.webhooks().iter().map(|h| h.url.clone()).collect();
    assert_eq!(
        left,
        [format!("http://127.0.0.1:{port}/webhooks/refunds/all")],
        "{stderr}"
    );
}

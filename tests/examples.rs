//! Keeps `examples/` true: each example connector passes `runtime
//! validate`, and `runtime run --once` with its own connection.example.json
//! (pointed at a mock API) makes a silent baseline, then emits exactly the
//! changes made at the mock in between. The webhook example is run for real:
//! `--once --once-webhooks` registers it at the mock, then a running
//! `runtime run` receives the mock's signed deliveries (and refuses a
//! forged one) and exits 0 on SIGTERM.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use mock_api::{MockApi, MockOptions};
use serde_json::{json, Value};
use support::*;
use tempfile::TempDir;

/// `examples/<name>`.
fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// One example connector with its connection file (the example's own, its
/// `baseUri` replaced by the mock's) and a data dir in a temp dir.
struct Example {
    name: &'static str,
    dir: PathBuf,
    tmp: TempDir,
    runs: usize,
}

impl Example {
    fn new(name: &'static str, mock: &MockApi) -> Example {
        let dir = example(name);
        let text = std::fs::read_to_string(dir.join("connection.example.json")).unwrap();
        let mut connection: Value = serde_json::from_str(&text).unwrap();
        connection["parameters"]["baseUri"] = json!(mock.base_url());
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("connection.json"), connection.to_string()).unwrap();
        Example {
            name,
            dir,
            tmp,
            runs: 0,
        }
    }

    /// `runtime validate` must pass.
    fn validate(&self) {
        let (code, stdout, stderr) =
            run_to_end(&["validate".into(), self.dir.display().to_string()]);
        assert_eq!(
            code,
            Some(0),
            "examples/{} does not validate:\n{stdout}\n{stderr}",
            self.name
        );
    }

    /// `runtime run` with this connection and data dir into a new file
    /// sink, plus `extra` arguments; returns the sink's path too.
    fn run_args(&mut self, extra: &[&str]) -> (Vec<String>, PathBuf) {
        self.runs += 1;
        let sink = self.tmp.path().join(format!("events-{}.jsonl", self.runs));
        let mut args: Vec<String> = vec![
            "run".into(),
            self.dir.display().to_string(),
            "--connection".into(),
            self.tmp
                .path()
                .join("connection.json")
                .display()
                .to_string(),
            "--data-dir".into(),
            self.tmp.path().join("data").display().to_string(),
            "--sink".into(),
            format!("file:{}", sink.display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        (args, sink)
    }

    /// `runtime run --once [extra]`, which must succeed; returns its events.
    fn once(&mut self, extra: &[&str]) -> Vec<Value> {
        let mut all = vec!["--once"];
        all.extend(extra);
        let (args, sink) = self.run_args(&all);
        let (code, _stdout, stderr) = run_to_end(&args);
        assert_eq!(
            code,
            Some(0),
            "examples/{}: run --once:\n{stderr}",
            self.name
        );
        read_events(&sink)
    }
}

/// (type, recordId) of each event, sorted, after checking each line is the
/// contract's and came from the example's connector, `collection` and
/// `strategy`.
fn changes(events: &[Value], collection: &str, strategy: &str) -> Vec<(String, String)> {
    unique_ids(events);
    summary_of(events, &format!("example-{strategy}"), collection, strategy)
}

/// Three records at the mock, then after the baseline one create, one
/// update and one delete; returns the expected (type, id) pairs.
fn change_three(mock: &MockApi, collection: &str) -> Vec<(String, String)> {
    let ids: Vec<String> = mock.records(collection).iter().map(id_of).collect();
    let created = id_of(&mock.create(collection, json!({"name": "New record"})));
    mock.update(collection, &ids[0], json!({"title": "Changed"}))
        .unwrap();
    assert!(mock.delete(collection, &ids[1]));
    pairs(&[
        ("created", &created),
        ("updated", &ids[0]),
        ("deleted", &ids[1]),
    ])
}

/// validate, a baseline `--once` (no events), changes at the mock, a second
/// `--once` with exactly those changes.
fn pull_example(name: &'static str, collection: &str) {
    let mock = MockApi::start();
    mock.seed(collection, 3);
    let mut ex = Example::new(name, &mock);
    ex.validate();
    let baseline = ex.once(&[]);
    assert!(
        baseline.is_empty(),
        "the baseline emits nothing: {baseline:?}"
    );
    let want = change_three(&mock, collection);
    let events = ex.once(&[]);
    assert_eq!(changes(&events, collection, name), want, "{events:#?}");
    // Nothing happened since: nothing more.
    assert!(ex.once(&[]).is_empty());
}

#[test]
fn pull_latest_records_example() {
    pull_example("pull-latest-records", "contacts");
}

#[test]
fn custom_pull_example() {
    pull_example("custom-pull", "deals");
}

#[test]
fn full_scan_example() {
    pull_example("full-scan", "companies");
}

/// The secret of examples/webhook/connection.example.json.
const SECRET: &str = "whsec-example";

#[test]
fn webhook_example() {
    let mock = MockApi::start_with(MockOptions {
        webhook_secret: Some(SECRET.into()),
        ..MockOptions::default()
    });
    let mut ex = Example::new("webhook", &mock);
    ex.validate();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let uri = format!("http://{listen}/webhooks/tickets/all");

    // `--once` alone leaves webhook collections alone; with
    // `--once-webhooks` the baseline registers at the app and emits nothing.
    assert!(ex.once(&["--listen", &listen]).is_empty());
    assert!(mock.webhooks().is_empty(), "{:?}", mock.webhooks());
    assert!(ex
        .once(&["--once-webhooks", "--listen", &listen])
        .is_empty());
    let urls: Vec<String> = mock.webhooks().into_iter().map(|h| h.url).collect();
    assert_eq!(urls, [uri.as_str()]);

    // A running `runtime run` on that address receives the deliveries; the
    // registration is already there, for the same URL, so it stays.
    let (mut args, sink) = ex.run_args(&["--listen", &listen]);
    args.extend(["--interval".into(), "0.3".into()]);
    let mut child = spawn(&args);
    let up = wait_for(Duration::from_secs(20), || {
        std::net::TcpStream::connect(&listen).ok()
    });
    if up.is_none() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "the webhook server did not start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A forged delivery (wrong secret) is refused by webhook-handle.js.
    let body = json!({"type": "created", "record": {"id": "forged"}}).to_string();
    let bad = mock_api::sign_webhook("not-the-secret", "1700000000", body.as_bytes());
    let status = post(
        &uri,
        &body,
        &[
            ("x-mock-timestamp", "1700000000"),
            ("x-mock-signature", &bad),
        ],
    );
    assert_eq!(status, 401);

    // Real changes: the mock signs and sends one delivery each.
    let first = id_of(&mock.create("tickets", json!({"subject": "Printer on fire"})));
    mock.update("tickets", &first, json!({"status": "closed"}))
        .unwrap();
    let second = id_of(&mock.create("tickets", json!({"subject": "Coffee machine"})));
    assert!(mock.delete("tickets", &second));
    let deliveries = mock.wait_for_deliveries(4, Duration::from_secs(10));
    let events = wait_for(Duration::from_secs(10), || {
        let e = read_events(&sink);
        (e.len() >= 4).then_some(e)
    });
    signal(&child, libc::SIGTERM);
    let code = wait_timeout(&mut child, Duration::from_secs(20));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, Some(0), "SIGTERM must exit 0:\n{stderr}");
    let events = events
        .unwrap_or_else(|| panic!("deliveries did not become events: {deliveries:?}\n{stderr}"));
    assert!(
        deliveries
            .iter()
            .all(|d| d.status.is_some_and(|s| (200..300).contains(&s))),
        "{deliveries:?}"
    );
    assert_eq!(
        changes(&events, "tickets", "webhook"),
        pairs(&[
            ("created", &first),
            ("updated", &first),
            ("created", &second),
            ("deleted", &second),
        ])
    );
    assert_eq!(mock.webhooks().len(), 1, "{:?}", mock.webhooks());
}

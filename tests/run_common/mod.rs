//! Helpers for the `runtime run` end-to-end tests (tests/run_*.rs): a
//! connection file pointing `connectors/demo-crm` (or a fixture) at a mock
//! API, running the real binary with a hard timeout, and reading the events
//! a `file:` sink wrote.
#![allow(dead_code)]

pub mod changes;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

/// The contract's event line keys, in order.
pub const EVENT_KEYS: [&str; 8] = [
    "id",
    "connector",
    "collection",
    "type",
    "recordId",
    "record",
    "strategy",
    "emittedAt",
];

/// Stops a hung binary from hanging the suite; no run should come close.
const HARD_TIMEOUT: Duration = Duration::from_secs(60);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_runtime")
}

pub fn demo_crm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/demo-crm")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A temp dir holding the connection file, the data dir and sink files.
pub struct Work {
    pub tmp: TempDir,
    pub connector: PathBuf,
    pub connection: PathBuf,
    pub data: PathBuf,
    runs: usize,
}

impl Work {
    /// Only the `enabled` collections of demo-crm run (the others are turned
    /// off in the connection file). `secret` becomes `webhookSecret`.
    pub fn new(connector: PathBuf, base_url: &str, enabled: &[&str], secret: Option<&str>) -> Work {
        let tmp = tempfile::tempdir().unwrap();
        let mut collections = serde_json::Map::new();
        for c in ["contacts", "deals", "companies", "tickets"] {
            if !connector.join("data").join(c).is_dir() {
                continue;
            }
            collections.insert(c.into(), json!({"enabled": enabled.contains(&c)}));
        }
        let mut credentials = json!({"accessToken": "test-token", "refreshToken": "r"});
        if let Some(s) = secret {
            credentials["webhookSecret"] = json!(s);
        }
        let conn = json!({
            "credentials": credentials,
            "parameters": {"baseUri": base_url},
            "collections": collections,
        });
        let connection = tmp.path().join("connection.json");
        std::fs::write(&connection, conn.to_string()).unwrap();
        let data = tmp.path().join("data");
        Work {
            connector,
            connection,
            data,
            tmp,
            runs: 0,
        }
    }

    /// A fresh sink file path for the next run.
    pub fn sink_path(&mut self) -> PathBuf {
        self.runs += 1;
        self.tmp.path().join(format!("events-{}.jsonl", self.runs))
    }

    /// The arguments of `runtime run` with this connector, connection and data dir.
    pub fn run_args(&self, sink: &str) -> Vec<String> {
        vec![
            "run".into(),
            self.connector.display().to_string(),
            "--connection".into(),
            self.connection.display().to_string(),
            "--data-dir".into(),
            self.data.display().to_string(),
            "--sink".into(),
            sink.into(),
        ]
    }

    /// `runtime run --once` into a new file sink: (exit code, events, stderr).
    pub fn once(&mut self) -> (Option<i32>, Vec<Value>, String) {
        let sink = self.sink_path();
        let mut args = self.run_args(&format!("file:{}", sink.display()));
        args.push("--once".into());
        let out = run_to_end(&args);
        (out.0, read_events(&sink), out.2)
    }

    /// `--once` that must succeed; returns its events.
    pub fn once_ok(&mut self) -> Vec<Value> {
        let (code, events, stderr) = self.once();
        assert_eq!(code, Some(0), "runtime run --once failed:\n{stderr}");
        events
    }

    /// `runtime state <cmd>` for this connector and data dir.
    pub fn state(&self, cmd: &str) -> (Option<i32>, String, String) {
        run_to_end(&[
            "state".into(),
            cmd.into(),
            self.connector.display().to_string(),
            "--connection".into(),
            self.connection.display().to_string(),
            "--data-dir".into(),
            self.data.display().to_string(),
        ])
    }
}

/// Runs the binary to its end: (exit code, stdout, stderr).
pub fn run_to_end(args: &[String]) -> (Option<i32>, String, String) {
    let mut child = spawn(args);
    let status = wait_timeout(&mut child, HARD_TIMEOUT);
    let out = child.wait_with_output().unwrap();
    (
        status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn spawn(args: &[String]) -> Child {
    Command::new(bin())
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the child; kills it (and fails the test) after `limit`.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("runtime did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn signal(child: &Child, sig: i32) {
    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0, "kill({}, {sig}) failed", child.id());
}

/// Every whole line of a file sink (a torn last line is skipped, as the
/// file sink documents); a missing file is no events.
pub fn read_events(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// Asserts the line has exactly the contract's keys, in order, and that
/// `recordId` is `record.id`.
pub fn assert_contract(e: &Value) {
    let keys: Vec<&str> = e
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {e}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, EVENT_KEYS, "line keys of {e}");
    let id = &e["record"]["id"];
    let id = id
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| id.to_string());
    assert_eq!(e["recordId"], json!(id), "recordId of {e}");
    assert!(e["id"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
    assert!(e["emittedAt"].as_str().is_some(), "{e}");
}

/// (type, recordId) of every event, sorted, after checking the contract and
/// that each came from `collection` with `strategy`.
pub fn summary(events: &[Value], collection: &str, strategy: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            assert_contract(e);
            assert_eq!(e["connector"], "demo-crm", "{e}");
            assert_eq!(e["collection"], collection, "{e}");
            assert_eq!(e["strategy"], strategy, "{e}");
            (
                e["type"].as_str().unwrap().to_string(),
                e["recordId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

pub fn id_of(record: &Value) -> String {
    record["id"].as_str().unwrap().to_string()
}

/// The event ids, which must be unique within one run's output.
pub fn unique_ids(events: &[Value]) -> HashSet<String> {
    let ids: HashSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), events.len(), "repeated event ids in one run");
    ids
}

/// Polls `f` until it returns `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A raw HTTP/1.1 POST; returns the status code.
pub fn post(url: &str, body: &str, headers: &[(&str, &str)]) -> u16 {
    let url = url::Url::parse(url).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        url.path(),
        url.host_str().unwrap(),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    std::io::Write::write_all(&mut s, req.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut s, &mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {answer:?}"))
}

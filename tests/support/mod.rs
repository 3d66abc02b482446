//! Helpers shared by every end-to-end test (tests/*.rs): copying fixture
//! connectors into temp dirs (pointed at a mock API), connection files,
//! running the real `runtime` binary with a hard timeout (to its end, or
//! spawned to be signalled), and reading what it printed or wrote to a
//! `file:` sink. `changes` is the oracle of the crash tests.
#![allow(dead_code)]

pub mod changes;
pub mod serve;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;
/// Fixture specs use this as their `baseUri`; [`fixture`] replaces it.
pub const MOCK_PLACEHOLDER: &str = "http://mock.invalid";

/// No test should ever need this long; it only stops a hung binary from
/// hanging the whole suite.
const HARD_TIMEOUT: Duration = Duration::from_secs(30);

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Copies `tests/fixtures/<name>` into a fresh temp dir, replacing
/// [`MOCK_PLACEHOLDER`] in its spec files with `base_url`.
pub fn fixture(name: &str, base_url: &str) -> TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&fixtures_dir().join(name), tmp.path(), base_url);
    tmp
}

/// Copies a fixture directory to `to`, replacing [`MOCK_PLACEHOLDER`].
pub fn copy_tree(from: &Path, to: &Path, base_url: &str) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target, base_url);
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            std::fs::write(&target, text.replace(MOCK_PLACEHOLDER, base_url)).unwrap();
        }
    }
}

/// A connector written by the test itself: `files` are (relative path, text).
pub fn connector(files: &[(&str, &str)]) -> TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        write(tmp.path(), rel, text);
    }
    tmp
}

/// The spec of a connector `key` whose `baseUri` is a parameter (the
/// connection file points it at a mock API).
pub fn api_spec(key: &str) -> String {
    format!("key: {key}\nname: {key}\nparametersSchema:\n  type: object\n  properties:\n    baseUri: {{type: string}}\n")
}

/// A connector written by the test: [`api_spec`], an API client on the
/// `baseUri` parameter, and `files` (relative path, text).
pub fn api_connector(key: &str, files: &[(&str, &str)]) -> TempDir {
    let tmp = connector(files);
    write(tmp.path(), "spec.yml", &api_spec(key));
    write(
        tmp.path(),
        "auth/make-api-client.js",
        "export default ({ parameters }) => ({ baseUri: parameters.baseUri })\n",
    );
    tmp
}

pub fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// The 1-based line of the first line of `file` containing `needle`.
pub fn line_of(file: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in {}", file.display()))
        + 1
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// `None` when a signal ended the process (a crash, or our timeout).
    pub code: Option<i32>,
    pub stdout: String,
    /// ANSI colour codes removed.
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Stdout parsed as one JSON value; panics with everything printed if not.
    pub fn json(&self) -> Value {
        assert!(self.ok(), "expected success, got {self}");
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {self}"))
    }

    /// Asserts a clean failure: a non-zero exit code (not a signal), nothing
    /// on stdout, and returns stderr.
    pub fn failure(&self) -> &str {
        match self.code {
            Some(c) if c != 0 => {}
            _ => panic!("expected a clean non-zero exit, got {self}"),
        }
        assert!(
            self.stdout.trim().is_empty(),
            "a failed call printed on stdout: {self}"
        );
        &self.stderr
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// The binary with `args` and extra environment `env`, its output piped.
pub fn command<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("RUNTIME_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `runtime` with `args`, extra environment `env`, and the hard timeout.
pub fn runtime(args: &[&str], env: &[(&str, &str)]) -> Run {
    to_end(command(args, env), HARD_TIMEOUT)
}

/// Runs the command to its end (killed after `limit`), reading its output
/// while it runs so a chatty process never blocks on a full pipe.
pub fn to_end(mut cmd: Command, limit: Duration) -> Run {
    let start = Instant::now();
    let mut child = cmd.spawn().expect("cannot start the runtime binary");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    Run {
        code: status.code(),
        stdout: out_reader.join().unwrap(),
        stderr: strip_ansi(&err_reader.join().unwrap()),
        elapsed,
    }
}

/// `runtime [flags] invoke DIR FUNCTION --input INPUT [extra]`.
pub fn invoke(dir: &Path, function: &str, input: &Value) -> Run {
    invoke_with(&[], dir, function, input, &[])
}

/// Like [`invoke`], with global flags before the subcommand and extra
/// arguments (such as `--connection FILE`) after it.
pub fn invoke_with(
    flags: &[&str],
    dir: &Path,
    function: &str,
    input: &Value,
    extra: &[&str],
) -> Run {
    let input = input.to_string();
    let dir = dir.to_str().unwrap();
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["invoke", dir, function, "--input", &input]);
    args.extend(extra);
    runtime(&args, &[])
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The query string of a recorded request, decoded into pairs.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

/// Appends `text` to the file `rel` of `dir` (to add spec keys to a copied fixture).
pub fn append(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    let mut old = std::fs::read_to_string(&path).unwrap();
    if !old.ends_with('\n') {
        old.push('\n');
    }
    old.push_str(text);
    std::fs::write(path, old).unwrap();
}

/// Writes `value` as `connection.json` in `dir` and returns its path.
pub fn connection_file(dir: &Path, value: &Value) -> PathBuf {
    let path = dir.join("connection.json");
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

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

/// `runtime run` may take longer than one call: its hard timeout.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_runtime")
}

pub fn demo_crm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/demo-crm")
}

/// A fixture connector in place (not copied).
pub fn fixture_dir(name: &str) -> PathBuf {
    fixtures_dir().join(name)
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
    let run = to_end(command(args, &[]), RUN_TIMEOUT);
    (run.code, run.stdout, run.stderr)
}

/// Starts the binary, to be signalled or waited for.
pub fn spawn(args: &[String]) -> Child {
    command(args, &[]).spawn().unwrap()
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

/// Asserts the line has exactly the contract's keys, in order (those of
/// `runtime serve` add `connection` after `connector`), and that
/// `recordId` is `record.id`.
pub fn assert_contract(e: &Value) {
    let keys: Vec<&str> = e
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {e}"))
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "connection" || e["connection"].is_string())
        .collect();
    let mut expected = EVENT_KEYS.to_vec();
    if e.get("connection").is_some() {
        expected.insert(2, "connection");
    }
    assert_eq!(keys, expected, "line keys of {e}");
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
/// that each came from demo-crm's `collection` with `strategy`.
pub fn summary(events: &[Value], collection: &str, strategy: &str) -> Vec<(String, String)> {
    summary_of(events, "demo-crm", collection, strategy)
}

/// [`summary`] for events of the connector `connector`.
pub fn summary_of(
    events: &[Value],
    connector: &str,
    collection: &str,
    strategy: &str,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            assert_contract(e);
            assert_eq!(e["connector"], connector, "{e}");
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

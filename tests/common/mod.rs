//! Helpers shared by the end-to-end tests: copying fixture connectors into
//! temp dirs (pointed at a mock API), running the real `runtime` binary with
//! a hard timeout, and reading what it printed.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
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

/// Runs `runtime` with `args`, extra environment `env`, and the hard timeout.
pub fn runtime(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runtime"));
    cmd.args(args)
        .env_remove("RUNTIME_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
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
        if start.elapsed() > HARD_TIMEOUT {
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

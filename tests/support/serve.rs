//! `runtime serve` for the end-to-end tests: a service on a free port
//! with its own store, token and key, a connectors dir, a file sink, and
//! a small HTTP client for its admin API and webhooks.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use mock_api::MockApi;
use serde_json::{json, Value};
use tempfile::TempDir;

use super::{read_events, signal, wait_for, wait_timeout};

pub const TOKEN: &str = "admin-token-for-tests-5b1f";
pub const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

pub struct Service {
    pub tmp: TempDir,
    pub connectors: PathBuf,
    pub store: PathBuf,
    pub sink: PathBuf,
    pub port: u16,
    pub child: Option<Child>,
    pub stderr: PathBuf,
    pub extra: Vec<String>,
    /// `--allow-private-networks`.
    pub guard: String,
    /// `--store` when not the sled dir `store` (a `postgres://` URL).
    pub store_spec: Option<String>,
}

impl Service {
    /// A service whose connectors dir holds `connectors` (name, dir),
    /// not started yet.
    pub fn new(connectors: &[(&str, &Path)]) -> Service {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("connectors");
        for (name, from) in connectors {
            super::copy_tree(from, &dir.join(name), super::MOCK_PLACEHOLDER);
        }
        std::fs::create_dir_all(&dir).unwrap();
        Service {
            store: tmp.path().join("store"),
            sink: tmp.path().join("events.jsonl"),
            stderr: tmp.path().join("stderr.log"),
            connectors: dir,
            port: super::free_port(),
            child: None,
            // The mock APIs are on loopback; tests of the guard replace it.
            guard: "127.0.0.0/8".into(),
            extra: Vec::new(),
            store_spec: None,
            tmp,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts it and waits for /healthz.
    pub fn start(&mut self) {
        let sink = format!("file:{}", self.sink.display());
        self.start_with_sink(&sink);
    }

    /// [`Service::start`] with another `--sink`.
    pub fn start_with_sink(&mut self, sink: &str) {
        let mut args = vec![
            "serve".to_string(),
            "--connectors".into(),
            self.connectors.display().to_string(),
            "--store".into(),
            self.store_spec
                .clone()
                .unwrap_or_else(|| format!("sled:{}", self.store.display())),
            "--listen".into(),
            format!("127.0.0.1:{}", self.port),
            "--sink".into(),
            sink.to_string(),
            "--allow-private-networks".into(),
            self.guard.clone(),
        ];
        args.extend(self.extra.iter().cloned());
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr)
            .unwrap();
        let child = std::process::Command::new(super::bin())
            .args(&args)
            .env("RUNTIME_ADMIN_TOKEN", TOKEN)
            .env("RUNTIME_SECRET_KEY", KEY)
            .env("RUNTIME_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_up();
    }

    /// Waits for /healthz.
    pub fn wait_up(&mut self) {
        let up = wait_for(Duration::from_secs(30), || {
            (try_request("GET", &format!("{}/healthz", self.base()), None, &[]).map(|r| r.0)
                == Some(200))
            .then_some(())
        });
        assert!(up.is_some(), "serve did not come up:\n{}", self.logs());
    }

    /// SIGTERM and wait: the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        signal(&child, libc::SIGTERM);
        let code = wait_timeout(&mut child, Duration::from_secs(40));
        if code.is_none() {
            let _ = child.kill();
        }
        code
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn events(&self) -> Vec<Value> {
        read_events(&self.sink)
    }

    /// An admin API call with the token: (status, JSON body or Null).
    pub fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let auth = format!("Bearer {TOKEN}");
        let text = body.map(|b| b.to_string());
        let (status, body) = request(
            method,
            &format!("{}{path}", self.base()),
            text.as_deref(),
            &[("Authorization", &auth)],
        );
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

impl Service {
    /// The subscriptions of connection `id`, as its admin route lists them.
    pub fn subscriptions(&self, id: &str) -> Vec<Value> {
        let (code, body) = self.admin("GET", &format!("/v1/connections/{id}/subscriptions"), None);
        assert_eq!(code, 200, "{body}");
        body["subscriptions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// A demo-crm connection (contacts only) against `mock`, with `token`.
pub fn tenant(id: Option<&str>, mock: &MockApi, token: &str) -> Value {
    let mut body = json!({
        "connector": "demo-crm",
        "credentials": {"accessToken": token, "refreshToken": "r"},
        "parameters": {"baseUri": mock.base_url()},
        "collections": {
            "contacts": {"enabled": true},
            "deals": {"enabled": false},
            "companies": {"enabled": false},
            "tickets": {"enabled": false},
        },
    });
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    body
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A raw HTTP/1.1 request: (status, body text).
pub fn request(
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    try_request(method, url, body, headers).unwrap_or_else(|| panic!("{method} {url}: no answer"))
}

pub fn try_request(
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let url = url::Url::parse(url).ok()?;
    let addr = format!("{}:{}", url.host_str()?, url.port()?);
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let body = body.unwrap_or("");
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        url.host_str()?,
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Some((status, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

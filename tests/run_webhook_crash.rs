//! A crash between a webhook's receipt and its answer: nothing the runtime
//! acknowledged may be lost. The fixture `hostile-wh-signed` verifies an
//! HMAC over `<ts>.<nonce>.<body>` and remembers nonces in the
//! subscription's state (committed with the events), answering 202 for a
//! new request and 409 for a replay.
//!
//! Senders behave like real webhook senders: a request that got no answer
//! (connection reset or refused) is sent again, unchanged, until it is
//! answered. The oracle: every request answered 2xx or 409 has its event in
//! the sink after the restarts (a 409 proves the first attempt was stored).
//!
//! - the crash points `webhook-after-receive` (before the handler runs) and
//!   `webhook-before-answer` (after the commit, before the response) abort
//!   the process at a random request; each is hit `CRASHES` times;
//! - a SIGKILL loop at random moments while a sender keeps posting
//!   (`RUNTIME_WEBHOOK_KILL_LOOPS` kills, default 5).

#![cfg(feature = "failpoints")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::json;
use support::*;

const SECRET: &str = "whsec-crash";
const PATH: &str = "/webhooks/tickets/all";
const CRASHES: usize = 3;

/// The runtime serving the fixture's webhook, on one data dir and sink
/// across restarts.
struct Receiver {
    work: Work,
    port: u16,
    sink: PathBuf,
}

impl Receiver {
    fn new() -> Receiver {
        // The fixture never calls its API; the address only satisfies the schema.
        let mut work = Work::new(
            fixture_dir("hostile-wh-signed"),
            "http://127.0.0.1:9",
            &["tickets"],
            Some(SECRET),
        );
        let sink = work.sink_path();
        Receiver {
            work,
            port: free_port(),
            sink,
        }
    }

    /// Starts `runtime run` (with `failpoints` as FAILPOINTS, if any) and
    /// waits until its handler answers.
    fn start(&self, failpoints: Option<&str>) -> Child {
        let mut args = self.work.run_args(&format!("file:{}", self.sink.display()));
        args.extend([
            "--listen".into(),
            format!("127.0.0.1:{}", self.port),
            "--interval".into(),
            "60".into(),
        ]);
        let mut cmd = Command::new(bin());
        cmd.args(&args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(f) = failpoints {
            cmd.env("FAILPOINTS", f);
        }
        let mut child = cmd.spawn().unwrap();
        // 503 until the subscription is set up; then this unsigned probe
        // gets the handler's 401.
        let start = Instant::now();
        loop {
            if let Ok(401) = send(self.port, &request(&[], b"{}")) {
                return child;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("runtime exited early ({status}):\n{}", stderr_of(child));
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!(
                    "the webhook server never became ready:\n{}",
                    stderr_of(child)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn delivered(&self) -> Delivered {
        let mut out = Delivered::default();
        let mut lines: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        for e in read_events(&self.sink) {
            assert_contract(&e);
            let id = e["id"].as_str().unwrap().to_string();
            match lines.get(&id) {
                // A delivery whose acknowledgement did not reach the store.
                Some(first) => {
                    assert_eq!(first, &e, "event {id} redelivered with other content");
                    out.redelivered += 1;
                }
                None => {
                    out.records
                        .entry(e["recordId"].as_str().unwrap().to_string())
                        .or_default()
                        .insert(id.clone());
                    lines.insert(id, e);
                }
            }
        }
        out
    }

    /// Waits until every id in `acked` is in the sink (the deliverer runs
    /// after the answer), then stops the run with SIGTERM.
    fn drain_and_stop(&self, mut child: Child, acked: &BTreeSet<String>) -> Delivered {
        let all = wait_for(Duration::from_secs(30), || {
            let d = self.delivered();
            acked
                .iter()
                .all(|id| d.records.contains_key(id))
                .then_some(d)
        });
        signal(&child, libc::SIGTERM);
        let _ = wait_timeout(&mut child, Duration::from_secs(40));
        let delivered = self.delivered();
        if all.is_none() {
            let lost: Vec<&String> = acked
                .iter()
                .filter(|id| !delivered.records.contains_key(*id))
                .collect();
            panic!(
                "acknowledged but not delivered: {lost:?}\n{}",
                stderr_of(child)
            );
        }
        delivered
    }
}

fn stderr_of(mut child: Child) -> String {
    let _ = child.kill();
    let mut err = String::new();
    if let Some(e) = child.stderr.as_mut() {
        let _ = e.read_to_string(&mut err);
    }
    let _ = child.wait();
    err
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signed ticket webhook for record `id` (its nonce), sent unchanged on
/// every retry, as real senders do.
fn signed_ticket(id: &str) -> Vec<u8> {
    let body = json!({"type": "created", "record": {"id": id, "subject": "crash"}}).to_string();
    let ts = now();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.{id}.").as_bytes());
    mac.update(body.as_bytes());
    let signature: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    request(
        &[
            ("x-timestamp", ts.to_string()),
            ("x-nonce", id.to_string()),
            ("x-signature", signature),
        ],
        body.as_bytes(),
    )
}

fn request(headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut raw = req.into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// The answer's status, or an error when there was none (refused, reset,
/// closed without a status line).
fn send(port: u16, raw: &[u8]) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.write_all(raw)?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))
}

/// What reached the sink.
#[derive(Default)]
struct Delivered {
    /// Record id -> the distinct event ids carrying it (more than one: the
    /// request was accepted twice).
    records: BTreeMap<String, BTreeSet<String>>,
    /// Lines repeating an event id already seen.
    redelivered: usize,
}

impl Delivered {
    fn accepted_twice(&self) -> usize {
        self.records.values().map(|ids| ids.len() - 1).sum()
    }
}

/// What one sender saw.
#[derive(Default)]
struct Sent {
    /// Answered 2xx (stored now) or 409 (stored by an earlier attempt).
    acked: BTreeSet<String>,
    /// Attempts that got no answer and were sent again.
    retries: usize,
    /// Answered 409: the attempt before had been stored but not answered.
    replays: usize,
}

impl Sent {
    /// Handles one attempt's outcome; `true` when the request is done.
    fn record(&mut self, id: &str, outcome: std::io::Result<u16>) -> bool {
        match outcome {
            Ok(s) if (200..300).contains(&s) => {
                self.acked.insert(id.to_string());
                true
            }
            Ok(409) => {
                self.replays += 1;
                self.acked.insert(id.to_string());
                true
            }
            Ok(s) if s >= 500 => {
                self.retries += 1;
                false
            }
            Ok(s) => panic!("{id}: unexpected status {s}"),
            Err(_) => {
                self.retries += 1;
                false
            }
        }
    }
}

fn crash_point_run(point: &str) {
    let receiver = Receiver::new();
    let mut sent = Sent::default();
    let mut rng = rand::thread_rng();
    let mut next = 0usize;
    let mut unanswered: Vec<String> = Vec::new();
    for crash in 0..CRASHES {
        // Abort at hit `skip + 1`: the readiness probe is the first hit.
        let skip = 1 + rng.gen_range(0..8);
        let mut child = receiver.start(Some(&format!("{point}={skip}*off->return")));
        let died = loop {
            let id = unanswered.pop().unwrap_or_else(|| {
                next += 1;
                format!("{point}-{next:04}")
            });
            if sent.record(&id, send(receiver.port, &signed_ticket(&id))) {
                continue;
            }
            unanswered.push(id);
            if let Some(status) = wait_for(Duration::from_secs(10), || child.try_wait().unwrap()) {
                break status;
            }
            panic!(
                "{point}: no answer but the runtime is alive:\n{}",
                stderr_of(child)
            );
        };
        assert_eq!(
            died.signal(),
            Some(libc::SIGABRT),
            "{point} crash {crash}: expected the failpoint's abort, got {died}"
        );
    }
    // Without failpoints: the unanswered requests are sent again.
    let child = receiver.start(None);
    for id in unanswered.drain(..) {
        let outcome = send(receiver.port, &signed_ticket(&id));
        assert!(sent.record(&id, outcome), "{id}: still no answer");
    }
    let delivered = receiver.drain_and_stop(child, &sent.acked);
    println!(
        "{point}: {} crashes, {} requests acknowledged, {} retried after no answer, {} answered 409 (stored before the crash), {} delivered, {} redelivered, {} accepted twice, 0 lost",
        CRASHES,
        sent.acked.len(),
        sent.retries,
        sent.replays,
        delivered.records.len(),
        delivered.redelivered,
        delivered.accepted_twice()
    );
    if point == "webhook-before-answer" {
        // Stored, then killed before answering: the retry finds it stored
        // (a retry may crash too, at the same point, without storing more).
        assert!(
            (1..=CRASHES).contains(&sent.replays),
            "{point}: {} requests answered 409",
            sent.replays
        );
    } else {
        assert_eq!(
            sent.replays, 0,
            "{point}: nothing was stored before the crash"
        );
    }
    assert_eq!(
        delivered.accepted_twice(),
        0,
        "{point}: the nonce guard lets no request in twice"
    );
}

#[test]
fn a_crash_before_the_handler_runs_loses_nothing() {
    crash_point_run("webhook-after-receive");
}

#[test]
fn a_crash_after_the_commit_before_the_answer_loses_nothing() {
    crash_point_run("webhook-before-answer");
}

#[test]
fn sigkill_while_webhooks_arrive_loses_no_acknowledged_request() {
    let loops: usize = std::env::var("RUNTIME_WEBHOOK_KILL_LOOPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let receiver = Arc::new(Receiver::new());
    let mut child = receiver.start(None);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Sent::default()));
    // Two senders, each with its own ids, each retrying until answered.
    let senders: Vec<_> = (0..2)
        .map(|s| {
            let (receiver, stop, sent) = (receiver.clone(), stop.clone(), sent.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let id = format!("kill-{s}-{n:05}");
                    let raw = signed_ticket(&id);
                    loop {
                        let outcome = send(receiver.port, &raw);
                        if sent.lock().unwrap().record(&id, outcome) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        })
        .collect();
    let mut rng = rand::thread_rng();
    let started = Instant::now();
    for _ in 0..loops {
        std::thread::sleep(Duration::from_millis(rng.gen_range(200..=1500)));
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "runtime exited on its own ({status}):\n{}",
                stderr_of(child)
            );
        }
        signal(&child, libc::SIGKILL);
        let _ = child.wait();
        child = receiver.start(None);
    }
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    let delivered = receiver.drain_and_stop(child, &sent.acked);
    println!(
        "SIGKILL x{loops} in {:?}: {} requests acknowledged, {} attempts without an answer retried, {} answered 409, {} delivered, {} redelivered (same id), {} accepted twice, 0 lost",
        started.elapsed(),
        sent.acked.len(),
        sent.retries,
        sent.replays,
        delivered.records.len(),
        delivered.redelivered,
        delivered.accepted_twice()
    );
    assert!(sent.acked.len() > loops, "too few requests got through");
    assert_eq!(
        delivered.accepted_twice(),
        0,
        "the nonce guard lets no request in twice"
    );
}

//! Hostile webhook senders against `runtime run --listen`, with fixture
//! `hostile-wh-signed` (a handler that checks HMAC-SHA256 over the raw body
//! with Web Crypto and refuses stale timestamps and replayed nonces, kept in
//! the subscription's state). Requests go over raw TCP so a test can lie
//! about Content-Length, stall mid-body, or open hundreds at once. Every
//! test ends by checking the sink holds exactly the events of the requests
//! that were acknowledged.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use support::*;

const SECRET: &str = "whsec-hostile";
const PATH: &str = "/webhooks/tickets/all";

/// `runtime run` serving the fixture's webhook on a free port; killed on drop.
struct Server {
    _work: Work,
    child: Child,
    port: u16,
    sink: std::path::PathBuf,
}

impl Server {
    fn start(flags: &[&str]) -> Server {
        // The fixture never calls its API; the address only satisfies the schema.
        let mut work = Work::new(
            fixture_dir("hostile-wh-signed"),
            "http://127.0.0.1:9",
            &["tickets"],
            Some(SECRET),
        );
        let port = free_port();
        let sink = work.sink_path();
        let mut args = work.run_args(&format!("file:{}", sink.display()));
        args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
        args.extend(["--interval".into(), "60".into()]);
        args.extend(flags.iter().map(|f| f.to_string()));
        let child = spawn(&args);
        let mut server = Server {
            _work: work,
            child,
            port,
            sink,
        };
        // 503 until the subscription is set up; then the handler refuses
        // this unsigned probe with 401.
        let start = Instant::now();
        loop {
            let probe = request(PATH, &[], b"{}");
            if let Ok((401, _)) = send(port, &probe, Duration::from_secs(5)) {
                break;
            }
            if server.child.try_wait().unwrap().is_some() {
                server.fail("runtime run exited early");
            }
            if start.elapsed() > Duration::from_secs(30) {
                server.fail("the webhook server never became ready");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn send(&self, raw: &[u8]) -> (u16, Value) {
        let (status, body) = send(self.port, raw, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("no answer: {e}"));
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Kills the run and panics with its stderr.
    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let mut err = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut err);
        }
        panic!("{why}; stderr:\n{err}");
    }

    /// The record ids in the sink once `n` arrived, after a pause that lets
    /// any unexpected extra event show up too.
    fn events(&mut self, n: usize) -> Vec<String> {
        let sink = self.sink.clone();
        let got = wait_for(Duration::from_secs(20), || {
            let e = read_events(&sink);
            (e.len() >= n).then_some(())
        });
        if got.is_none() {
            let have = read_events(&sink).len();
            self.fail(&format!("{have} events in the sink, expected {n}"));
        }
        std::thread::sleep(Duration::from_millis(500));
        let events = read_events(&sink);
        unique_ids(&events);
        let mut ids: Vec<String> = events
            .iter()
            .map(|e| {
                assert_contract(e);
                assert_eq!(e["collection"], "tickets", "{e}");
                e["recordId"].as_str().unwrap().to_string()
            })
            .collect();
        ids.sort();
        ids
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(secret: &str, ts: u64, nonce: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{nonce}.").as_bytes());
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ticket(id: &str) -> Vec<u8> {
    json!({"type": "created", "record": {"id": id, "subject": "help"}})
        .to_string()
        .into_bytes()
}

/// Signature headers for `body` at `ts` with `nonce`, under `secret`.
fn signed(secret: &str, ts: u64, nonce: &str, body: &[u8]) -> Vec<(String, String)> {
    vec![
        ("x-timestamp".into(), ts.to_string()),
        ("x-nonce".into(), nonce.into()),
        ("x-signature".into(), sign(secret, ts, nonce, body)),
    ]
}

/// A whole HTTP/1.1 POST with an honest Content-Length.
fn request(path: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut head = head(path, headers, &format!("Content-Length: {}", body.len()));
    head.extend_from_slice(body);
    head
}

fn head(path: &str, headers: &[(String, String)], framing: &str) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{framing}\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// Writes `raw` and reads the answer to EOF: (status, body).
fn send(port: u16, raw: &[u8], limit: Duration) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(limit))?;
    s.write_all(raw)?;
    read_answer(&mut s)
}

fn read_answer(s: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut answer = Vec::new();
    // A reset after a complete answer (the server closing on an unread
    // body) still leaves the answer we read.
    if let Err(e) = s.read_to_end(&mut answer) {
        if answer.is_empty() {
            return Err(e);
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_string()))
}

#[test]
fn forged_stale_and_replayed_requests_are_all_refused() {
    let mut server = Server::start(&[]);
    let body = ticket("genuine-1");
    let genuine = request(PATH, &signed(SECRET, now(), "n-1", &body), &body);
    assert_eq!(server.send(&genuine).0, 202);

    let t = now();
    let forged_body = ticket("forged");
    let mut tampered = signed(SECRET, t, "n-2", &body);
    tampered[2].1 = sign(SECRET, t, "n-2", &body);
    let mut hostile: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a replay", genuine.clone(), 409),
        ("a second replay", genuine, 409),
        (
            "the wrong secret",
            request(PATH, &signed("guess", t, "n-3", &forged_body), &forged_body),
            401,
        ),
        (
            "a body swapped under a genuine signature",
            request(PATH, &tampered, &forged_body),
            401,
        ),
        (
            "a genuine body with a new nonce but the old signature",
            {
                let mut h = signed(SECRET, t, "n-1", &body);
                h[1].1 = "n-4".into();
                request(PATH, &h, &body)
            },
            401,
        ),
        (
            "a stale timestamp",
            request(
                PATH,
                &signed(SECRET, t - 600, "n-5", &forged_body),
                &forged_body,
            ),
            401,
        ),
        (
            "a timestamp from the future",
            request(
                PATH,
                &signed(SECRET, t + 3600, "n-6", &forged_body),
                &forged_body,
            ),
            401,
        ),
        ("no signature", request(PATH, &[], &forged_body), 401),
    ];
    let mut not_hex = signed(SECRET, t, "n-7", &forged_body);
    not_hex[2].1 = "z".repeat(64);
    hostile.push((
        "a signature that is not hex",
        request(PATH, &not_hex, &forged_body),
        401,
    ));
    for (what, raw, want) in &hostile {
        let (status, answer) = server.send(raw);
        assert_eq!(status, *want, "{what}: {answer}");
    }

    let body = ticket("genuine-2");
    let raw = request(PATH, &signed(SECRET, now(), "n-8", &body), &body);
    assert_eq!(server.send(&raw).0, 202, "a fresh genuine request");
    assert_eq!(
        server.events(2),
        ["genuine-1", "genuine-2"],
        "0 hostile accepted"
    );
}

#[test]
fn malformed_json_reaches_the_handler_as_null_with_its_raw_body() {
    let mut server = Server::start(&[]);
    let broken = br#"{"type": "created", "record": {"id": "#;
    let raw = request(PATH, &signed(SECRET, now(), "m-1", broken), broken);
    let (status, answer) = server.send(&raw);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["dataWasNull"], true, "{answer}");
    assert_eq!(answer["rawBody"], std::str::from_utf8(broken).unwrap());

    let not_utf8 = b"\xff\xfe{\x00";
    let raw = request(PATH, &signed(SECRET, now(), "m-2", b"x"), not_utf8);
    assert_eq!(server.send(&raw).0, 401, "bytes that are not text");

    let body = ticket("after");
    let raw = request(PATH, &signed(SECRET, now(), "m-3", &body), &body);
    assert_eq!(server.send(&raw).0, 202, "the server still serves");
    assert_eq!(server.events(1), ["after"]);
}

#[test]
fn unknown_paths_get_404_and_store_nothing() {
    let mut server = Server::start(&[]);
    let body = ticket("misrouted");
    let headers = signed(SECRET, now(), "u-1", &body);
    for path in [
        "/webhooks/tickets/created",
        "/webhooks/nope/all",
        "/webhooks/tickets",
        "/webhooks/tickets/all/extra",
        "/global-webhooks/none",
        "/elsewhere",
    ] {
        let (status, answer) = server.send(&request(path, &headers, &body));
        assert_eq!(status, 404, "{path}: {answer}");
    }
    // The nonce was not consumed by any of them: nothing was stored.
    let (status, answer) = server.send(&request(PATH, &headers, &body));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(server.events(1), ["misrouted"]);
}

#[test]
fn an_oversize_body_is_refused_without_being_read() {
    let mut server = Server::start(&["--max-webhook-body", "4096"]);
    // Announce 10 GB, send a few bytes, keep the connection open.
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    s.write_all(&head(PATH, &[], "Content-Length: 10000000000"))
        .unwrap();
    s.write_all(b"{\"type\": \"created\"").unwrap();
    let (status, _) = read_answer(&mut s).unwrap();
    assert_eq!(status, 413);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );

    // Chunked, no length announced: refused once the limit is crossed.
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&head(PATH, &[], "Transfer-Encoding: chunked"))
        .unwrap();
    let chunk = format!("1000\r\n{}\r\n", " ".repeat(0x1000));
    let start = Instant::now();
    for _ in 0..2 {
        s.write_all(chunk.as_bytes()).unwrap();
    }
    let (status, _) = read_answer(&mut s).unwrap();
    assert_eq!(status, 413);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );

    // Just under the limit, genuine: accepted.
    let mut body = ticket("big-enough");
    body.truncate(body.len() - 1);
    let pad = 4096 - body.len() - 20;
    body.extend_from_slice(format!(", \"pad\": \"{}\"}}", "p".repeat(pad)).as_bytes());
    assert!(body.len() <= 4096, "{}", body.len());
    let raw = request(PATH, &signed(SECRET, now(), "o-1", &body), &body);
    assert_eq!(server.send(&raw).0, 202);
    assert_eq!(server.events(1), ["big-enough"]);
}

#[test]
fn a_slow_sender_is_timed_out() {
    let mut server = Server::start(&["--webhook-read-timeout", "1"]);
    let body = ticket("slow");
    let headers = signed(SECRET, now(), "s-1", &body);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    s.write_all(&head(
        PATH,
        &headers,
        &format!("Content-Length: {}", body.len()),
    ))
    .unwrap();
    s.write_all(&body[..10]).unwrap();
    let (status, _) = read_answer(&mut s).expect("the server answered");
    let took = start.elapsed();
    assert_eq!(status, 408);
    assert!(took >= Duration::from_millis(900), "too early: {took:?}");
    assert!(took < Duration::from_secs(4), "not timed out: {took:?}");

    // The same request sent whole is accepted: the stalled one stored nothing.
    assert_eq!(server.send(&request(PATH, &headers, &body)).0, 202);
    assert_eq!(server.events(1), ["slow"]);
}

#[test]
fn a_flood_is_all_answered_and_every_acknowledged_event_is_stored() {
    const N: usize = 500;
    // Each request is logged at INFO; 500 of those lines would fill the
    // stderr pipe this test reads only at the end, and block the server.
    let mut server = Server::start(&["--log", "warn"]);
    let port = server.port;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    // Every fifth request is forged: refused even in the crowd.
    let answers: Vec<(String, Answer)> = rt.block_on(async move {
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let id = format!("flood-{i:03}");
                let body = ticket(&id);
                let secret = if i % 5 == 4 { "forger" } else { SECRET };
                let raw = request(PATH, &signed(secret, now(), &id, &body), &body);
                tokio::spawn(async move { (id, flood_one(port, raw).await) })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let took = start.elapsed();
    let mut acked = BTreeSet::new();
    for (id, answer) in &answers {
        let forged = id.ends_with(['4', '9']);
        match answer {
            Ok((s, _)) if (200..300).contains(s) => {
                assert!(!forged, "forged {id} accepted");
                acked.insert(id.clone());
            }
            Ok((401, _)) if forged => {}
            other => panic!("{id}: {other:?}"),
        }
    }
    assert_eq!(acked.len(), N * 4 / 5, "every genuine request acknowledged");
    assert!(took < Duration::from_secs(40), "flood took {took:?}");
    let stored: BTreeSet<String> = server.events(acked.len()).into_iter().collect();
    assert_eq!(
        stored, acked,
        "stored events are exactly the acknowledged ones"
    );
}

/// (status, body), or why there was none.
type Answer = Result<(u16, String), String>;

async fn flood_one(port: u16, raw: Vec<u8>) -> Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(&raw).await?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(45), io)
        .await
        .map_err(|_| "no answer within 45 s".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {text:?}"))?;
    Ok((
        status,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    ))
}

#[test]
fn concurrency_is_bounded_and_stalled_senders_give_their_turn_back() {
    // The server's MAX_CONCURRENT: that many stalled senders take every turn.
    const TURNS: usize = 64;
    let mut server = Server::start(&["--webhook-read-timeout", "2"]);
    let stalled: Vec<TcpStream> = (0..TURNS)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(&head(PATH, &[], "Content-Length: 100"))
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let body = ticket("waited");
    let raw = request(PATH, &signed(SECRET, now(), "c-1", &body), &body);
    let start = Instant::now();
    assert_eq!(server.send(&raw).0, 202);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1200),
        "no bound: served in {took:?}"
    );
    assert!(took < Duration::from_secs(6), "{took:?}");
    for mut s in stalled {
        assert_eq!(read_answer(&mut s).unwrap().0, 408);
    }
    assert_eq!(server.events(1), ["waited"]);
}

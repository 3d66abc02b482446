//! Injected faults: which request gets one, and how each goes on the wire.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use hyper::{Response, StatusCode};
use serde_json::json;

use crate::reply::{response, streamed, Body, Reply};
use crate::Fault;

pub(crate) struct FaultRule {
    prefix: String,
    remaining: usize,
    fault: Fault,
}

/// First-injected, first-served: the oldest rule whose prefix matches
/// gives its fault and counts down.
pub(crate) fn take(rules: &mut Vec<FaultRule>, path: &str) -> Option<Fault> {
    let i = rules.iter().position(|r| path.starts_with(&r.prefix))?;
    let fault = rules[i].fault.clone();
    rules[i].remaining -= 1;
    if rules[i].remaining == 0 {
        rules.remove(i);
    }
    Some(fault)
}

pub(crate) fn rule(prefix: &str, times: usize, fault: Fault) -> Option<FaultRule> {
    (times > 0).then(|| FaultRule {
        prefix: prefix.to_string(),
        remaining: times,
        fault,
    })
}

/// A second handle on a connection's socket, so `Reset` can set
/// SO_LINGER 0: when hyper then drops the connection the kernel sends RST.
pub(crate) struct ConnCtl {
    dup: Mutex<Option<socket2::Socket>>,
}

impl ConnCtl {
    pub(crate) fn new(dup: Option<socket2::Socket>) -> ConnCtl {
        ConnCtl {
            dup: Mutex::new(dup),
        }
    }

    fn arm_reset(&self) {
        let dup = self.dup.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(dup) = dup {
            // Best effort: without it the close is a FIN, still no response.
            let _ = dup.set_linger(Some(Duration::ZERO));
        }
    }
}

fn closed(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        format!("mock-api fault: {why}"),
    )
}

/// Answers a request under `fault`; `real` computes the normal answer (and
/// performs its side effects) for the faults that deliver it. An `Err`
/// makes hyper close the connection without a response.
pub(crate) async fn apply(
    fault: Fault,
    real: impl FnOnce() -> Reply,
    conn: &ConnCtl,
) -> io::Result<Response<Body>> {
    match fault {
        Fault::Status {
            code,
            retry_after,
            body,
        } => Ok(status(code, retry_after, body).into_response()),
        Fault::Hang(d) => {
            tokio::time::sleep(d).await;
            Err(closed("hang"))
        }
        Fault::SlowHeaders(d) => {
            let r = real();
            tokio::time::sleep(d).await;
            Ok(r.into_response())
        }
        Fault::StallBody { after_bytes, stall } => Ok(stall_body(real(), after_bytes, stall)),
        Fault::Truncate => Ok(truncate(real())),
        Fault::Reset => {
            conn.arm_reset();
            Err(closed("reset"))
        }
        Fault::NonJson => Ok(Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from_static(
                b"<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>",
            ),
        }
        .into_response()),
        Fault::Oversize(n) => Ok(oversize(n)),
        Fault::RedirectTo(url) => Ok(Reply::empty(302)
            .with_header("location", url)
            .with_header("content-length", "0")
            .into_response()),
    }
}

fn status(code: u16, retry_after: Option<String>, body: Option<String>) -> Reply {
    let reason = StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("injected fault");
    let body = body.unwrap_or_else(|| json!({"error": reason, "status": code}).to_string());
    let ctype = if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
        "application/json"
    } else {
        "text/plain"
    };
    let mut r = Reply {
        status: code,
        headers: vec![("content-type".into(), ctype.into())],
        body: Bytes::from(body),
    };
    if let Some(ra) = retry_after {
        r = r.with_header("retry-after", ra);
    }
    r
}

/// A body-less answer (204) cannot carry the partial body these faults
/// need, so it becomes a 200 with an (empty-object) body.
fn with_body(mut r: Reply) -> Reply {
    if r.body.is_empty() {
        r.status = 200;
        r.body = Bytes::from_static(b"{}");
    }
    r
}

fn stall_body(r: Reply, after_bytes: usize, stall: Duration) -> Response<Body> {
    let mut r = with_body(r);
    if r.body.len() <= after_bytes {
        // Pad with JSON whitespace so the stall really falls after
        // `after_bytes` bytes and the body stays valid JSON.
        let mut padded = r.body.to_vec();
        padded.resize(after_bytes + 1, b' ');
        r.body = Bytes::from(padded);
    }
    let len = r.body.len();
    let head = r.body.slice(..after_bytes);
    let tail = r.body.slice(after_bytes..);
    let body = stream::iter([Ok(head)]).chain(stream::once(async move {
        tokio::time::sleep(stall).await;
        Ok(tail)
    }));
    let mut headers = r.headers;
    headers.push(("content-length".into(), len.to_string()));
    response(r.status, &headers, streamed(body))
}

fn truncate(r: Reply) -> Response<Body> {
    let r = with_body(r);
    let announced = r.body.len() * 2 + 16;
    // The pause lets hyper flush what was sent: an error in the same poll
    // would abort the connection with the head still in its buffer.
    let body = stream::iter([Ok(r.body)]).chain(stream::once(async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(closed("truncate"))
    }));
    let mut headers = r.headers;
    headers.push(("content-length".into(), announced.to_string()));
    response(r.status, &headers, streamed(body))
}

const PREFIX: &[u8] = br#"{"records":[],"padding":""#;
const SUFFIX: &[u8] = br#""}"#;
const CHUNK: usize = 64 * 1024;
static PAD: [u8; CHUNK] = [b'x'; CHUNK];

/// Exactly `n` bytes of valid JSON (never less than prefix + suffix),
/// produced chunk by chunk from a static buffer.
fn oversize(n: usize) -> Response<Body> {
    let pad = n.saturating_sub(PREFIX.len() + SUFFIX.len());
    let len = PREFIX.len() + pad + SUFFIX.len();
    let middle = stream::unfold(pad, |left| async move {
        (left > 0).then(|| {
            let k = left.min(CHUNK);
            (Ok(Bytes::from_static(&PAD[..k])), left - k)
        })
    });
    let body = stream::iter([Ok(Bytes::from_static(PREFIX))])
        .chain(middle)
        .chain(stream::iter([Ok(Bytes::from_static(SUFFIX))]));
    let headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("content-length".to_string(), len.to_string()),
    ];
    response(200, &headers, streamed(body))
}

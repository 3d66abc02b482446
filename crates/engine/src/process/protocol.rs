//! The channel between the service and an engine worker process: the
//! worker's stdin (service to worker) and stdout (worker to service),
//! carrying frames. The worker's stderr is not part of it: it is the
//! service's own stderr, where the worker's log lines go.
//!
//! A frame is `u32 LE length of the rest`, `u32 LE length of the header`,
//! the header (a message, as JSON) and a payload (UTF-8 text, often empty).
//! The payload carries the one large string of a message unescaped: a
//! call's result text (already JSON, made by `JSON.stringify`) and an HTTP
//! answer's body. Inside a JSON string they would be escaped on one side
//! and unescaped on the other, for every page of records.
//!
//! Why JSON and not bincode: a call's input and credentials are
//! `serde_json::Value`, which bincode cannot read back (it has no
//! self-describing `deserialize_any`); results are JSON text already; and a
//! frame stays readable in a debugger or a capture. Its cost is measured in
//! docs/benchmarks.md ("Engine worker processes").
//!
//! This module owns the frame format and the messages; it must not act on
//! them. Everything read from a worker is untrusted: a frame that does not
//! parse is a [`ProtocolError`], and the service kills that worker.

use std::io::{Read, Write};
use std::path::PathBuf;

use runtime_api_client::ApiRequest;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::http::RawSettings;
use crate::process::harden::Hardening;
use crate::{Call, CallError, FunctionFile, LimitKind, Limits};

/// The largest frame either side accepts (a result of up to 1 GiB; a
/// QuickJS string cannot be much longer).
pub(crate) const MAX_FRAME: usize = 1 << 30;

/// What a frame could not be.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtocolError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("a frame of {0} bytes is over the limit of {MAX_FRAME}")]
    TooLarge(usize),
    #[error("a frame's header length is past its end")]
    BadLength,
    #[error("a frame's header is not a message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a frame's payload is not UTF-8")]
    Utf8,
}

/// The serializable part of an `EngineConfig`, sent first. The HTTP client
/// and its config stay in the service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Init {
    pub name: String,
    pub root: PathBuf,
    pub limits: Limits,
    /// Only for makeApiClient's result to be refused in the worker with
    /// the same message as in-process; the service resolves every request
    /// with its own.
    pub spec_base_uri: Option<String>,
    pub allowed_hosts: Vec<String>,
    pub make_api_client: Option<FunctionFile>,
    pub refresh_credentials: Option<FunctionFile>,
    pub oauth_config: Option<FunctionFile>,
    pub harden: Hardening,
}

/// Service to worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToWorker {
    Init(Box<Init>),
    Call {
        id: u64,
        call: Box<Call>,
    },
    Check {
        id: u64,
        function: FunctionFile,
    },
    /// The answer to [`ToService::Request`] or [`ToService::Refresh`]: the
    /// envelope api_client.js reads, its body text in the payload.
    Answer {
        id: u64,
        result: Result<Value, String>,
    },
}

/// [`ToWorker::Call`] and [`ToWorker::Check`] written from borrowed
/// values (the same JSON), so that a call is not copied to be sent.
#[derive(Serialize)]
pub(crate) enum Sent<'a> {
    Call { id: u64, call: &'a Call },
    Check { id: u64, function: &'a FunctionFile },
}

/// Worker to service.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToService {
    /// Hardened, its engine started: calls may come.
    Ready,
    /// A call's result; when `Ok`, its text is the payload.
    Called {
        id: u64,
        function: String,
        result: Result<(), CallError>,
    },
    Checked {
        id: u64,
        result: Result<(), CallError>,
    },
    /// An apiClient request of one of the worker's calls.
    Request {
        id: u64,
        settings: RawSettings,
        request: WireRequest,
    },
    /// An OAuth2 refresh_token grant.
    Refresh {
        id: u64,
        config: Value,
        refresh_token: String,
    },
    /// A call of `function` could not be stopped after `kind` tripped; the
    /// worker exits (status 70) right after this.
    Stuck { function: String, kind: LimitKind },
}

/// `runtime_api_client::ApiRequest` on the channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WireRequest {
    pub method: String,
    pub path: String,
    pub query: Option<Value>,
    pub data: Option<Value>,
    pub headers: Vec<(String, String)>,
}

impl From<ApiRequest> for WireRequest {
    fn from(r: ApiRequest) -> Self {
        WireRequest {
            method: r.method,
            path: r.path,
            query: r.query,
            data: r.data,
            headers: r.headers,
        }
    }
}

impl From<WireRequest> for ApiRequest {
    fn from(r: WireRequest) -> Self {
        ApiRequest {
            method: r.method,
            path: r.path,
            query: r.query,
            data: r.data,
            headers: r.headers,
        }
    }
}

/// A frame ready to be written: its prefix and header, then its payload.
pub(crate) struct Frame {
    head: Vec<u8>,
    payload: String,
}

impl Frame {
    pub(crate) fn new(message: &impl Serialize, payload: String) -> Result<Frame, ProtocolError> {
        let header = serde_json::to_vec(message)?;
        let total = 4 + header.len() + payload.len();
        if total > MAX_FRAME {
            return Err(ProtocolError::TooLarge(total));
        }
        let mut head = Vec::with_capacity(8 + header.len());
        head.extend_from_slice(&(total as u32).to_le_bytes());
        head.extend_from_slice(&(header.len() as u32).to_le_bytes());
        head.extend_from_slice(&header);
        Ok(Frame { head, payload })
    }

    pub(crate) fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&self.head)?;
        out.write_all(self.payload.as_bytes())?;
        out.flush()
    }

    pub(crate) async fn write_async(
        &self,
        out: &mut (impl tokio::io::AsyncWrite + Unpin),
    ) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        out.write_all(&self.head).await?;
        out.write_all(self.payload.as_bytes()).await?;
        out.flush().await
    }
}

fn lengths(prefix: [u8; 8]) -> Result<(usize, usize), ProtocolError> {
    let [a, b, c, d, e, f, g, h] = prefix;
    let total = u32::from_le_bytes([a, b, c, d]) as usize;
    let header = u32::from_le_bytes([e, f, g, h]) as usize;
    if total > MAX_FRAME {
        return Err(ProtocolError::TooLarge(total));
    }
    if total < 4 || header > total - 4 {
        return Err(ProtocolError::BadLength);
    }
    Ok((header, total - 4 - header))
}

fn decode<T: DeserializeOwned>(
    header: &[u8],
    payload: Vec<u8>,
) -> Result<(T, String), ProtocolError> {
    let message = serde_json::from_slice(header)?;
    let payload = String::from_utf8(payload).map_err(|_| ProtocolError::Utf8)?;
    Ok((message, payload))
}

/// The next frame of a blocking reader; `None` at a clean end of input.
pub(crate) fn read_blocking<T: DeserializeOwned>(
    input: &mut impl Read,
) -> Result<Option<(T, String)>, ProtocolError> {
    let mut prefix = [0u8; 8];
    match input.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let (header_len, payload_len) = lengths(prefix)?;
    let mut header = vec![0u8; header_len];
    input.read_exact(&mut header)?;
    let mut payload = vec![0u8; payload_len];
    input.read_exact(&mut payload)?;
    decode(&header, payload).map(Some)
}

/// The next frame of an async reader; `None` at a clean end of input.
pub(crate) async fn read_async<T: DeserializeOwned>(
    input: &mut (impl AsyncRead + Unpin),
) -> Result<Option<(T, String)>, ProtocolError> {
    let mut prefix = [0u8; 8];
    match input.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let (header_len, payload_len) = lengths(prefix)?;
    let mut header = vec![0u8; header_len];
    input.read_exact(&mut header).await?;
    let mut payload = vec![0u8; payload_len];
    input.read_exact(&mut payload).await?;
    decode(&header, payload).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn round_trip(message: &ToService, payload: &str) -> (ToService, String) {
        let mut buf = Vec::new();
        Frame::new(message, payload.to_string())
            .unwrap()
            .write_to(&mut buf)
            .unwrap();
        read_blocking(&mut buf.as_slice()).unwrap().unwrap()
    }

    #[test]
    fn every_error_the_host_inspects_crosses_unchanged() {
        let mut info = crate::JsErrorInfo::plain("BadRequestError", "no");
        info.data = Some(Box::new(serde_json::json!({"type": "bad_request"})));
        info.location = Some(crate::Location {
            file: "data/x.js".into(),
            line: 3,
            column: 7,
        });
        let errors = [
            CallError::Js(info),
            CallError::Limit {
                kind: LimitKind::Cpu(Duration::from_millis(300)),
                function: "data/spin.js".into(),
                worker_killed: false,
            },
            CallError::Limit {
                kind: LimitKind::Heap(64 << 20),
                function: "f".into(),
                worker_killed: true,
            },
            CallError::MissingExport {
                file: "a".into(),
                export: "b".into(),
            },
            CallError::Mapping {
                file: "m.yml".into(),
                problem: "bad".into(),
            },
            CallError::Stopped,
            CallError::WorkerLost("gone".into()),
            CallError::Internal("x".into()),
        ];
        for e in errors {
            let text = e.to_string();
            let (back, _) = round_trip(
                &ToService::Checked {
                    id: 1,
                    result: Err(e),
                },
                "",
            );
            let ToService::Checked {
                result: Err(back), ..
            } = back
            else {
                panic!("not a Checked error")
            };
            assert_eq!(back.to_string(), text);
            if let CallError::Js(info) = &back {
                assert_eq!(info.status(), Some(400));
                assert_eq!(info.location.as_ref().unwrap().line, 3);
            }
        }
    }

    #[test]
    fn a_call_written_from_a_borrow_reads_as_a_call() {
        let call = Call {
            function: FunctionFile {
                path: "/c/data/f.js".into(),
                rel: "data/f.js".into(),
                export: "f".into(),
            },
            collection: Some("deals".into()),
            input: serde_json::json!({"a": [1, {"b": null}]}),
            credentials: serde_json::json!({"token": "t"}),
            connector_parameters: serde_json::json!({}),
            records: Default::default(),
            tenant: Some("acme-7".into()),
        };
        let mut buf = Vec::new();
        Frame::new(&Sent::Call { id: 9, call: &call }, String::new())
            .unwrap()
            .write_to(&mut buf)
            .unwrap();
        let (back, _) = read_blocking::<ToWorker>(&mut buf.as_slice())
            .unwrap()
            .unwrap();
        let ToWorker::Call { id: 9, call: back } = back else {
            panic!("not a Call")
        };
        assert_eq!(back.input, call.input);
        assert_eq!(back.function, call.function);
        assert_eq!(back.collection, call.collection);
    }

    #[test]
    fn a_payload_crosses_unescaped() {
        let text = r#"{"value":{"a":"\"quoted\" \u00e9"}}"#;
        let (back, payload) = round_trip(
            &ToService::Called {
                id: 7,
                function: "data/f.js".into(),
                result: Ok(()),
            },
            text,
        );
        assert!(matches!(back, ToService::Called { id: 7, .. }));
        assert_eq!(payload, text);
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let cases: Vec<Vec<u8>> = vec![
            vec![1, 2, 3],                                                  // cut short
            [u32::MAX.to_le_bytes(), 0u32.to_le_bytes()].concat(),          // too large
            [8u32.to_le_bytes(), 9u32.to_le_bytes()].concat(),              // header past the end
            [&6u32.to_le_bytes()[..], &2u32.to_le_bytes(), b"{x"].concat(), // not JSON
        ];
        for bytes in cases {
            let got = read_blocking::<ToService>(&mut bytes.as_slice());
            assert!(!matches!(got, Ok(Some(_))), "{bytes:?} read as a message");
        }
        let mut utf8 = Vec::new();
        Frame::new(&ToService::Ready, String::new())
            .unwrap()
            .write_to(&mut utf8)
            .unwrap();
        utf8[0] += 1;
        utf8.push(0xff);
        assert!(matches!(
            read_blocking::<ToService>(&mut utf8.as_slice()),
            Err(ProtocolError::Utf8)
        ));
    }
}

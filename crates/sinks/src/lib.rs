//! Delivery of events to one destination — stdout, an append-only file, an
//! HTTP receiver or a NATS JetStream subject — and that destination's
//! acknowledgement semantics: a
//! successful `deliver` means the events are durably out and the caller may
//! mark them delivered; an error means none of them may be.
//!
//! Modeled on Vector's sinks: each sink has its own config struct. This crate
//! must not know about strategies, JavaScript or storage; it receives plain
//! events, already encoded as their JSON lines by the store
//! ([`EventLine`]), and reports success or failure.
//!
//! Delivery is at least once: after an error the caller redelivers, so a
//! receiver may see an event twice (same `id`; for HTTP, the same
//! `x-idempotency-key` when the batch is the same). A file may end in one torn
//! line after a crash; readers of the file should skip a line that is not
//! valid JSON. NATS JetStream drops a redelivery whose `Nats-Msg-Id` (the
//! event id) it stored within the stream's duplicate window, so there it is
//! exactly once inside that window and at least once outside it.

mod error;
mod file;
mod http;
mod lines;
mod nats;
mod stdout;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;

use runtime_events::EventLine;
use url::Url;

pub use error::SinkError;
pub use file::{FileSink, FileSinkConfig};
pub use http::{HttpSink, HttpSinkConfig, IDEMPOTENCY_HEADER};
pub use lines::json_line;
pub use nats::{NatsSink, NatsSinkConfig, NATS_DEFAULT_PORT, NATS_MSG_ID_HEADER};
pub use stdout::StdoutSink;

/// The `--sink` value: `stdout`, `file:PATH`, an `http(s)://` URL or
/// `nats://HOST[:PORT]/SUBJECT[?stream=NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    Stdout,
    File(FileSinkConfig),
    Http(HttpSinkConfig),
    Nats(NatsSinkConfig),
}

impl FromStr for SinkConfig {
    type Err = SinkError;

    fn from_str(s: &str) -> Result<SinkConfig, SinkError> {
        let fail = |reason: &str| SinkError::Parse {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        if s == "stdout" {
            return Ok(SinkConfig::Stdout);
        }
        if s.starts_with("file://") {
            let path = Url::parse(s)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .ok_or_else(|| fail("not a local file URL"))?;
            return Ok(SinkConfig::File(FileSinkConfig { path }));
        }
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err(fail("`file:` needs a path after it"));
            }
            return Ok(SinkConfig::File(FileSinkConfig {
                path: PathBuf::from(path),
            }));
        }
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let url = Url::parse(s).map_err(|e| fail(&format!("not a valid URL: {e}")))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(fail("the URL has no host"));
            }
            return Ok(SinkConfig::Http(HttpSinkConfig::new(url)));
        }
        if lower.starts_with("nats://") {
            return nats::parse(s).map(SinkConfig::Nats);
        }
        Err(fail("unknown sink"))
    }
}

/// One destination for events.
pub trait Sink: Send {
    /// Delivers the events in order. Ok(()) = acknowledged: the caller may
    /// then mark them delivered. Err = none of them may be considered
    /// delivered (the caller will redeliver later, same ids).
    fn deliver<'a>(
        &'a mut self,
        events: &'a [EventLine],
    ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

    /// A short name for logs and errors, with credentials hidden.
    fn describe(&self) -> String;
}

/// Opens the destination; for a file this creates it and repairs a torn
/// last line, so a bad path fails here rather than at the first event.
/// NATS is connected by the first delivery instead (this is synchronous and
/// a NATS that is down must hold delivery back, not fail the start).
pub fn build(config: &SinkConfig) -> Result<Box<dyn Sink>, SinkError> {
    Ok(match config {
        SinkConfig::Stdout => Box::new(StdoutSink::new()),
        SinkConfig::File(c) => Box::new(FileSink::open(c)?),
        SinkConfig::Http(c) => Box::new(HttpSink::new(c)?),
        SinkConfig::Nats(c) => Box::new(NatsSink::new(c)?),
    })
}

//! `--sink nats://HOST[:PORT]/SUBJECT[?stream=NAME]`: each event published
//! to NATS JetStream with `Nats-Msg-Id: <event id>`, delivered once its
//! PubAck arrived. The stream's duplicate window makes a redelivery inside
//! it a no-op (the PubAck says `duplicate`), see docs/sinks.md.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::context::{CreateStreamErrorKind, PublishError, PublishErrorKind};
use async_nats::jetstream::{self, stream};
use async_nats::{header, ConnectOptions, HeaderMap, ServerAddr, Subject};
use bytes::Bytes;
use percent_encoding::percent_decode_str;
use runtime_events::EventLine;
use runtime_retry::{Backoff, Jitter};
use url::Url;

use crate::http::redacted_url;
use crate::{Sink, SinkError};

/// The port of `nats://HOST/...` when the URL names none.
pub const NATS_DEFAULT_PORT: u16 = 4222;

/// The header JetStream deduplicates on; its value is the event id.
pub const NATS_MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// Where `--sink nats://...` publishes, and how long it waits.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsSinkConfig {
    /// `nats://[user[:password]@]host:port`, without path or query. A user
    /// without a password is a token (the NATS URL convention). The
    /// credentials live only here and are never shown.
    pub server: Url,
    /// One literal subject (no wildcards) every event is published to.
    pub subject: String,
    /// Create this stream on `subject` at the first connection if missing.
    pub stream: Option<String>,
    /// For each window of `max_in_flight` events: publishing them and
    /// receiving every PubAck. Also bounds connecting and stream requests.
    pub timeout: Duration,
    /// Publishes sent before their PubAcks are awaited.
    pub max_in_flight: usize,
    /// Reconnect delays: none for the first attempt, then `base` doubling
    /// up to `max`, with equal jitter. `max` is kept below `timeout` so a
    /// delivery after NATS came back finds the client reconnected in time.
    pub reconnect_base: Duration,
    pub reconnect_max: Duration,
}

impl NatsSinkConfig {
    /// The config of a `nats://` URL with the defaults: a 10 s timeout,
    /// 1,000 publishes in flight, reconnects from 100 ms up to 5 s.
    pub fn new(server: Url, subject: String, stream: Option<String>) -> NatsSinkConfig {
        NatsSinkConfig {
            server,
            subject,
            stream,
            timeout: Duration::from_secs(10),
            max_in_flight: 1000,
            reconnect_base: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
        }
    }

    /// The sink as a URL, credentials replaced by `***`.
    pub fn redacted(&self) -> String {
        let mut url = self.server.clone();
        url.set_path(&self.subject);
        if let Some(stream) = &self.stream {
            url.query_pairs_mut().append_pair("stream", stream);
        }
        redacted_url(&url)
    }

    fn host_port(&self) -> String {
        let host = self.server.host_str().unwrap_or_default();
        format!("{host}:{}", self.server.port().unwrap_or(NATS_DEFAULT_PORT))
    }
}

// The server URL may carry a password: keep it out of debug output.
impl fmt::Debug for NatsSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsSinkConfig")
            .field("server", &redacted_url(&self.server))
            .field("subject", &self.subject)
            .field("stream", &self.stream)
            .field("timeout", &self.timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("reconnect_base", &self.reconnect_base)
            .field("reconnect_max", &self.reconnect_max)
            .finish()
    }
}

/// Parses `nats://[user[:password]@]HOST[:PORT]/SUBJECT[?stream=NAME]`.
/// Errors show the input with its credentials replaced by `***`.
pub(crate) fn parse(input: &str) -> Result<NatsSinkConfig, SinkError> {
    let fail = |shown: String, reason: String| SinkError::Parse {
        input: shown,
        reason,
    };
    let url = Url::parse(input)
        .map_err(|e| fail(redact_userinfo(input), format!("not a valid URL: {e}")))?;
    let shown = redacted_url(&url);
    let fail = |reason: String| fail(shown.clone(), reason);
    if url.scheme() != "nats" {
        return Err(fail("the scheme is not nats://".into()));
    }
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(fail("the URL has no host".into()));
    }
    let port = url.port().unwrap_or(NATS_DEFAULT_PORT);
    if port == 0 {
        return Err(fail("port 0 is not a port to connect to".into()));
    }
    if url.username().is_empty() && url.password().is_some() {
        return Err(fail("the URL has a password but no user".into()));
    }
    if url.fragment().is_some() {
        return Err(fail("a NATS sink URL has no `#` fragment".into()));
    }
    let path = url.path().strip_prefix('/').unwrap_or(url.path());
    let subject = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| fail("the subject is not valid UTF-8".into()))?
        .into_owned();
    subject_problem(&subject).map_or(Ok(()), |p| Err(fail(p)))?;

    let mut stream = None;
    let mut unknown = Vec::new();
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "stream" if stream.is_some() => return Err(fail("`stream` is given twice".into())),
            "stream" => {
                stream_problem(&value).map_or(Ok(()), |p| Err(fail(p)))?;
                stream = Some(value.into_owned());
            }
            _ => unknown.push(format!("`{key}`")),
        }
    }
    if !unknown.is_empty() {
        return Err(fail(format!(
            "unknown query parameter{} {}; the only one accepted is `stream`",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", ")
        )));
    }

    // The server's address alone: the subject and stream are the sink's,
    // and an explicit port makes describe() say where it connects.
    let mut server = url.clone();
    server.set_path("");
    server.set_query(None);
    if server.set_port(Some(port)).is_err() {
        return Err(fail("the URL cannot take a port".into()));
    }
    Ok(NatsSinkConfig::new(server, subject, stream))
}

/// `s` with everything between `://` and the authority's last `@` replaced
/// by `***`: for input that is not even a URL, which may still hold a
/// password.
fn redact_userinfo(s: &str) -> String {
    let Some(start) = s.find("://").map(|i| i + 3) else {
        return s.to_string();
    };
    let rest = &s[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &s[..start], &rest[at..]),
        None => s.to_string(),
    }
}

/// Why `subject` cannot be published to, if it cannot: NATS subjects are
/// `.`-separated non-empty tokens without whitespace, and a publish goes
/// to one subject, so the wildcards `*` and `>` are refused too.
fn subject_problem(subject: &str) -> Option<String> {
    if subject.is_empty() {
        return Some("the URL needs a subject as its path: nats://HOST[:PORT]/SUBJECT".into());
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(format!(
            "subject {subject:?} contains whitespace or a control character"
        ));
    }
    if subject.contains(['*', '>']) {
        return Some(format!(
            "subject {subject:?} has a wildcard (`*` or `>`); events are published to one subject"
        ));
    }
    if subject.contains('/') {
        return Some(format!(
            "subject {subject:?} contains `/`; NATS subjects separate their tokens with `.`"
        ));
    }
    if subject.split('.').any(str::is_empty) {
        return Some(format!(
            "subject {subject:?} has an empty token (a leading, trailing or doubled `.`)"
        ));
    }
    None
}

/// Why `name` cannot name a JetStream stream, if it cannot (the server's
/// rule: no whitespace, `.`, `*`, `>`, nor path separators).
fn stream_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("`stream=` needs a stream name".into());
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        return Some(format!(
            "stream name {name:?} may not contain whitespace, `.`, `*`, `>`, `/` or `\\`"
        ));
    }
    None
}

/// Whether the stream subject `filter` (which may hold `*` and `>`)
/// covers the literal `subject`.
fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for pattern in filter.split('.') {
        match (pattern, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (p, Some(t)) if p == t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

/// Publishes each event to JetStream with `Nats-Msg-Id: <id>`, pipelined
/// (a window of publishes, then their PubAcks), and acknowledges a
/// delivery only when every PubAck arrived.
///
/// Connects on the first delivery (so a NATS that is down at start holds
/// delivery back instead of failing the start), then keeps the client,
/// which reconnects by itself with back-off; a delivery while it is
/// disconnected fails after `timeout` and is redelivered by the caller.
pub struct NatsSink {
    config: NatsSinkConfig,
    describe: String,
    subject: Subject,
    connection: Option<Connection>,
    /// The config's `stream` was found or created and covers the subject;
    /// false again after a publish found no stream on the subject.
    stream_ready: bool,
    /// What the client last reported about its connection (an error, a
    /// disconnect), cleared when it connects: said when a delivery times out.
    last_problem: Arc<Mutex<Option<String>>>,
    duplicates: u64,
}

struct Connection {
    client: async_nats::Client,
    jetstream: jetstream::Context,
}

impl fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsSink")
            .field("config", &self.config)
            .field("connected", &self.connection.is_some())
            .field("stream_ready", &self.stream_ready)
            .field("duplicates", &self.duplicates)
            .finish()
    }
}

impl NatsSink {
    /// Checks the config; does no I/O (the connection is made by the first
    /// delivery, inside the caller's tokio runtime).
    pub fn new(config: &NatsSinkConfig) -> Result<NatsSink, SinkError> {
        let describe = format!("nats sink {}", config.redacted());
        let bad = |reason: String| SinkError::Config {
            sink: describe.clone(),
            reason,
        };
        if config.server.scheme() != "nats" {
            return Err(bad(format!(
                "scheme {:?} is not nats",
                config.server.scheme()
            )));
        }
        if config.server.host_str().is_none_or(str::is_empty) {
            return Err(bad("the server URL has no host".into()));
        }
        if let Some(problem) = subject_problem(&config.subject) {
            return Err(bad(problem));
        }
        if let Some(problem) = config.stream.as_deref().and_then(stream_problem) {
            return Err(bad(problem));
        }
        if config.max_in_flight == 0 {
            return Err(bad("max_in_flight must be at least 1".into()));
        }
        if config.timeout.is_zero() || config.reconnect_base.is_zero() {
            return Err(bad("timeout and reconnect_base must be above zero".into()));
        }
        if config.reconnect_max < config.reconnect_base {
            return Err(bad("reconnect_max must not be below reconnect_base".into()));
        }
        Ok(NatsSink {
            config: config.clone(),
            subject: Subject::from(config.subject.as_str()),
            describe,
            connection: None,
            stream_ready: false,
            last_problem: Arc::new(Mutex::new(None)),
            duplicates: 0,
        })
    }

    /// PubAcks that said `duplicate` (a redelivery JetStream dropped), over
    /// the sink's life.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    fn error(&self, reason: String) -> SinkError {
        SinkError::Nats {
            sink: self.describe.clone(),
            reason,
        }
    }

    /// The client, made on first use. With `retry_on_initial_connect` this
    /// returns at once and the client connects in the background, retrying
    /// with back-off for as long as it takes.
    async fn connection(&mut self) -> Result<jetstream::Context, SinkError> {
        if let Some(c) = &self.connection {
            return Ok(c.jetstream.clone());
        }
        let backoff = Backoff::new(self.config.reconnect_base, self.config.reconnect_max)
            .with_jitter(Jitter::Equal);
        let last_problem = Arc::clone(&self.last_problem);
        let sink = self.describe.clone();
        let mut options = ConnectOptions::new()
            .name("runtime")
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(self.config.timeout)
            .request_timeout(Some(self.config.timeout))
            .reconnect_delay_callback(move |attempts| reconnect_delay(&backoff, attempts))
            .event_callback(move |event| {
                note_event(&sink, &last_problem, event);
                async {}
            });
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = self.config.server.username();
        match (user.is_empty(), self.config.server.password()) {
            (false, Some(password)) => {
                options = options.user_and_password(decode(user), decode(password));
            }
            (false, None) => options = options.token(decode(user)),
            (true, Some(_)) => return Err(self.error("the URL has a password but no user".into())),
            (true, None) => {}
        }
        // The client is given the address without credentials, so none of
        // its errors can show them.
        let mut address = self.config.server.clone();
        let _ = address.set_username("");
        let _ = address.set_password(None);
        let address = ServerAddr::from_url(address)
            .map_err(|e| self.error(format!("not a NATS server address: {e}")))?;
        let client = options
            .connect(address)
            .await
            .map_err(|e| self.error(format!("cannot start the NATS client: {e}")))?;
        // Room for the PubAcks of a window that failed (their futures wait
        // out `timeout` in the client's acker) beside a full new window.
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(self.config.timeout)
            .ack_timeout(self.config.timeout)
            .max_ack_inflight(self.config.max_in_flight.saturating_mul(4))
            .backpressure_on_inflight(true)
            .build(client.clone());
        self.connection = Some(Connection {
            client,
            jetstream: jetstream.clone(),
        });
        Ok(jetstream)
    }

    /// When NATS is not connected: that, and the client's last word on why.
    fn unreachable(&self) -> Option<String> {
        let connection = self.connection.as_ref()?;
        if connection.client.connection_state() == async_nats::connection::State::Connected {
            return None;
        }
        let last = self.last_problem.lock().ok().and_then(|p| p.clone());
        Some(format!(
            "not connected to NATS at {}{}; the client keeps reconnecting",
            self.config.host_port(),
            last.map(|l| format!(" (last: {l})")).unwrap_or_default()
        ))
    }

    /// Finds or creates the configured stream once per sink (again after a
    /// delivery found no stream on the subject), and checks it listens on
    /// the subject: publishes to it would fail with "no responders".
    async fn ensure_stream(&mut self, js: &jetstream::Context) -> Result<(), SinkError> {
        let Some(name) = self.config.stream.clone() else {
            return Ok(());
        };
        if self.stream_ready {
            return Ok(());
        }
        let subject = self.config.subject.clone();
        // duplicate_window is left at the server's default (2 minutes):
        // docs/sinks.md says what that window gives.
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        };
        let stream = js.get_or_create_stream(config).await.map_err(|e| {
            let why = match e.kind() {
                CreateStreamErrorKind::JetStreamUnavailable => {
                    "JetStream is not enabled on the server (nats-server -js)".to_string()
                }
                _ => e.to_string(),
            };
            let reason =
                format!("finding or creating stream {name:?} on subject {subject:?}: {why}");
            self.error(match self.unreachable() {
                Some(down) => format!("{reason}: {down}"),
                None => reason,
            })
        })?;
        let config = &stream.cached_info().config;
        let listens = if config.subjects.is_empty() {
            subject_matches(&config.name, &subject)
        } else {
            config.subjects.iter().any(|f| subject_matches(f, &subject))
        };
        if !listens {
            return Err(self.error(format!(
                "stream {name:?} exists but listens on {:?}, not on subject {subject:?}; \
                 add the subject to the stream or name another one",
                config.subjects
            )));
        }
        self.stream_ready = true;
        Ok(())
    }

    async fn deliver_all(&mut self, events: &[EventLine]) -> Result<(), SinkError> {
        if events.is_empty() {
            return Ok(());
        }
        // A header value cannot hold a line break (the client would turn it
        // into a space, and then the id JetStream dedupes on is not the
        // event's).
        if let Some(bad) = events
            .iter()
            .find(|e| e.id.is_empty() || e.id.chars().any(char::is_control))
        {
            return Err(SinkError::Config {
                sink: self.describe.clone(),
                reason: format!(
                    "event id {:?} cannot be sent as {NATS_MSG_ID_HEADER}",
                    bad.id
                ),
            });
        }
        let js = self.connection().await?;
        self.ensure_stream(&js).await?;
        for window in events.chunks(self.config.max_in_flight) {
            let published = tokio::time::timeout(
                self.config.timeout,
                publish_window(&js, &self.subject, window),
            )
            .await;
            match published {
                Ok(Ok(duplicates)) => {
                    if duplicates > 0 {
                        tracing::debug!(
                            sink = %self.describe,
                            duplicates,
                            "JetStream had some events already (a redelivery inside the duplicate window)"
                        );
                    }
                    self.duplicates += duplicates;
                }
                Ok(Err((index, e))) => {
                    return Err(self.publish_error(&window[index], window.len(), &e))
                }
                Err(_) => return Err(self.timed_out(window.len())),
            }
        }
        Ok(())
    }

    fn timed_out(&self, count: usize) -> SinkError {
        let reason = format!(
            "no PubAck for a window of {count} events within {:?}",
            self.config.timeout
        );
        self.error(match self.unreachable() {
            Some(down) => format!("{reason}: {down}"),
            None => reason,
        })
    }

    fn publish_error(&mut self, event: &EventLine, window: usize, e: &PublishError) -> SinkError {
        let subject = &self.config.subject;
        match e.kind() {
            PublishErrorKind::TimedOut => self.timed_out(window),
            PublishErrorKind::StreamNotFound => {
                // Find or create it again at the next delivery: it may
                // have been deleted since.
                self.stream_ready = false;
                let hint = match &self.config.stream {
                    None => "; create a stream on it, or add ?stream=NAME to the sink URL to have the sink create one".to_string(),
                    Some(name) => format!(
                        "; stream {name:?} was found or created at connect, so it was deleted \
                         or changed since (the next delivery looks for it again)"
                    ),
                };
                self.error(format!(
                    "no JetStream stream listens on subject {subject:?} (JetStream answered \
                     \"no responders\"){hint}"
                ))
            }
            PublishErrorKind::MaxPayloadExceeded => self.error(format!(
                "event {:?} ({} bytes) is larger than the server's max_payload: {e}; \
                 raise max_payload in the server's configuration",
                event.id,
                event.json.len()
            )),
            _ => self.error(format!(
                "publishing event {:?} to {subject:?}: {e}",
                event.id
            )),
        }
    }
}

/// Publishes a window of events, then awaits their PubAcks in order: one
/// round trip for the window, not one per event. Returns how many were
/// duplicates, or the index of the event whose publish or PubAck failed.
async fn publish_window(
    js: &jetstream::Context,
    subject: &Subject,
    window: &[EventLine],
) -> Result<u64, (usize, PublishError)> {
    let mut acks = Vec::with_capacity(window.len());
    for (i, event) in window.iter().enumerate() {
        let mut headers = HeaderMap::new();
        headers.insert(header::NATS_MESSAGE_ID, event.id.as_str());
        headers.insert("Content-Type", "application/json");
        let payload = Bytes::copy_from_slice(event.json.as_bytes());
        let ack = js
            .publish_with_headers(subject.clone(), headers, payload)
            .await
            .map_err(|e| (i, e))?;
        acks.push(ack);
    }
    let mut duplicates = 0;
    for (i, ack) in acks.into_iter().enumerate() {
        // A duplicate PubAck is a success: JetStream has the event already.
        if ack.await.map_err(|e| (i, e))?.duplicate {
            duplicates += 1;
        }
    }
    Ok(duplicates)
}

/// The client's delay before reconnect attempt `attempts` (1 is the first
/// attempt after a loss, tried at once).
fn reconnect_delay(backoff: &Backoff, attempts: usize) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let failures = u32::try_from(attempts - 1).unwrap_or(u32::MAX);
    backoff.delay(failures)
}

fn note_event(sink: &str, last: &Mutex<Option<String>>, event: async_nats::Event) {
    let problem = match event {
        async_nats::Event::Connected => {
            tracing::info!(sink, "connected to NATS");
            None
        }
        async_nats::Event::Disconnected => {
            tracing::warn!(sink, "disconnected from NATS; reconnecting");
            Some("disconnected".to_string())
        }
        async_nats::Event::ClientError(e) => {
            tracing::warn!(sink, "NATS client: {e}");
            Some(e.to_string())
        }
        async_nats::Event::ServerError(e) => {
            tracing::warn!(sink, "NATS server: {e}");
            Some(format!("server error: {e}"))
        }
        other => {
            tracing::debug!(sink, "NATS: {other}");
            return;
        }
    };
    if let Ok(mut last) = last.lock() {
        *last = problem;
    }
}

impl Sink for NatsSink {
    fn deliver<'a>(
        &'a mut self,
        events: &'a [EventLine],
    ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>> {
        Box::pin(self.deliver_all(events))
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Result<NatsSinkConfig, String> {
        parse(s).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_host_port_subject_and_stream() {
        let c = parsed("nats://127.0.0.1:4333/events.acme?stream=EVENTS").unwrap();
        assert_eq!(c.server.as_str(), "nats://127.0.0.1:4333");
        assert_eq!(c.subject, "events.acme");
        assert_eq!(c.stream.as_deref(), Some("EVENTS"));
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.max_in_flight, 1000);

        let c = parsed("NATS://nats.internal/events").unwrap();
        assert_eq!(
            c.server.as_str(),
            "nats://nats.internal:4222",
            "port 4222 by default"
        );
        assert_eq!(c.subject, "events");
        assert_eq!(c.stream, None);
        assert_eq!(c.redacted(), "nats://nats.internal:4222/events");

        let c = parsed("nats://[::1]:4222/a.b-c_d?stream=S-1").unwrap();
        assert_eq!(c.host_port(), "[::1]:4222");
        assert_eq!(c.redacted(), "nats://[::1]:4222/a.b-c_d?stream=S-1");
    }

    #[test]
    fn credentials_are_kept_but_never_shown() {
        let c = parsed("nats://user:s%40cret@host:5000/subj?stream=S").unwrap();
        assert_eq!(c.server.username(), "user");
        assert_eq!(c.server.password(), Some("s%40cret"));
        let shown = format!("{} {c:?}", c.redacted());
        assert!(!shown.contains("cret"), "{shown}");
        assert!(
            shown.contains("nats://***:***@host:5000/subj?stream=S"),
            "{shown}"
        );

        for bad in [
            "nats://user:secret@host:99999/subj",
            "nats://user:secret@host/subj?nope=1",
            "nats://user:secret@host/a b",
            "nats://user:secret@host/",
        ] {
            let err = parsed(bad).unwrap_err();
            assert!(!err.contains("secret"), "{bad}: {err}");
            assert!(err.contains("***"), "{bad}: {err}");
        }
    }

    #[test]
    fn rejects_what_cannot_be_published_to() {
        for (input, expected) in [
            ("nats://host", "needs a subject"),
            ("nats://host/", "needs a subject"),
            ("nats:///subj", "no host"),
            ("nats://host/a%20b", "whitespace"),
            ("nats://host/a*", "wildcard"),
            ("nats://host/a.*.c", "wildcard"),
            ("nats://host/a.>", "wildcard"),
            ("nats://host/a..b", "empty token"),
            ("nats://host/.a", "empty token"),
            ("nats://host/a.", "empty token"),
            ("nats://host/a/b", "`/`"),
            ("nats://host:0/a", "port 0"),
            ("nats://:pw@host/a", "password but no user"),
            ("nats://host/a#frag", "fragment"),
            ("nats://host/a?stream=", "needs a stream name"),
            ("nats://host/a?stream=a.b", "stream name \"a.b\""),
            ("nats://host/a?stream=S&stream=T", "twice"),
            ("nats://host/a?strem=S", "unknown query parameter `strem`"),
            ("nats://host/a?x=1&y=2", "unknown query parameters `x`, `y`"),
        ] {
            let err = parsed(input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
            assert!(err.contains("nats://HOST[:PORT]/SUBJECT"), "{input}: {err}");
        }
    }

    #[test]
    fn raw_input_loses_its_userinfo() {
        assert_eq!(redact_userinfo("nats://u:p@h:x/s"), "nats://***@h:x/s");
        assert_eq!(redact_userinfo("nats://h/s@x"), "nats://h/s@x");
        assert_eq!(redact_userinfo("nats:h"), "nats:h");
    }

    #[test]
    fn stream_subjects_cover_the_subject() {
        assert!(subject_matches("events", "events"));
        assert!(subject_matches("events.*", "events.acme"));
        assert!(subject_matches("events.>", "events.acme.contacts"));
        assert!(subject_matches(">", "x"));
        assert!(!subject_matches("events.*", "events"));
        assert!(!subject_matches("events.*", "events.a.b"));
        assert!(!subject_matches("events", "events.acme"));
        assert!(!subject_matches("other", "events"));
    }

    #[test]
    fn reconnects_back_off_from_an_immediate_first_attempt() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
            .with_jitter(Jitter::None);
        assert_eq!(reconnect_delay(&b, 0), Duration::ZERO);
        assert_eq!(reconnect_delay(&b, 1), Duration::ZERO);
        assert_eq!(reconnect_delay(&b, 2), Duration::from_millis(100));
        assert_eq!(reconnect_delay(&b, 3), Duration::from_millis(200));
        assert_eq!(reconnect_delay(&b, 100), Duration::from_secs(5));
    }

    #[test]
    fn new_checks_the_settings() {
        let mut c = parsed("nats://host/subj").unwrap();
        assert!(NatsSink::new(&c).is_ok());
        c.max_in_flight = 0;
        let err = NatsSink::new(&c).unwrap_err().to_string();
        assert!(
            err.contains("max_in_flight") && err.contains("nats sink nats://host:4222/subj"),
            "{err}"
        );
        c.max_in_flight = 1;
        c.subject = "a.>".into();
        assert!(NatsSink::new(&c)
            .unwrap_err()
            .to_string()
            .contains("wildcard"));
    }
}

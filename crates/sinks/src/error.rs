use std::io;

/// Every variant names the sink (its `describe()`) or, for parsing, the
/// text that was given, so a user can tell which destination failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(
        "invalid sink {input:?}: {reason}; accepted forms are `stdout`, `file:PATH`, \
         an `http://` or `https://` URL and `nats://HOST[:PORT]/SUBJECT[?stream=NAME]`"
    )]
    /// `input` is the text given, with any user and password of a URL
    /// replaced by `***`.
    Parse { input: String, reason: String },

    #[error("{sink}: {reason}")]
    Config { sink: String, reason: String },

    #[error("{sink}: {action}: {source}")]
    Io {
        sink: String,
        action: String,
        #[source]
        source: io::Error,
    },

    #[error("{sink}: receiver refused a batch of {count} events with HTTP {status}: {body}")]
    Rejected {
        sink: String,
        status: u16,
        count: usize,
        body: String,
    },

    #[error("{sink}: gave up after {attempts} attempts; last failure: {last}")]
    GaveUp {
        sink: String,
        attempts: u32,
        last: String,
    },

    /// NATS refused, timed out or is unreachable. `sink` is the sink's
    /// `describe()`, `reason` is made from the client's error kinds and the
    /// server's answers, neither of which sees the URL's password (the
    /// client is given the server's address without it).
    #[error("{sink}: {reason}")]
    Nats { sink: String, reason: String },
}

use std::path::PathBuf;

/// Every variant names the data directory, since that is what a user can
/// fix (permissions, a second `runtime` on the same dir, a damaged dir).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("data dir {dir}: cannot open the store: {source}")]
    Open {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("data dir {dir} is in use by another runtime process (its lock is held); stop it or use another --data-dir")]
    InUse { dir: PathBuf },
    #[error("data dir {dir}: storage error: {source}")]
    Storage {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("data dir {dir}: damaged entry in {what}: {detail}")]
    Corrupt {
        dir: PathBuf,
        what: String,
        detail: String,
    },
    #[error("data dir {dir}: snapshot generation {gen} of {sub} is the committed one and cannot be rewritten")]
    CommittedSnapshot { dir: PathBuf, sub: String, gen: u64 },
    #[error("data dir {dir} holds the state of connection `{owner}`, not of `{connection}`; a second connection on it would take the first one's state for its own and emit false events. Drop --data-dir to use this connection's own default dir, or pass another; if `{owner}` is this same connection (its file was moved or renamed), add \"id\": \"{owner}\" to the connection file")]
    OtherConnection {
        dir: PathBuf,
        owner: String,
        connection: String,
    },
    /// A sealed value that cannot be opened: the key differs, or it was
    /// altered. Names the value, never its content.
    #[error("cannot open the sealed {what}: {detail}")]
    Sealed { what: String, detail: String },
    #[error("the store's worker task failed: {0}")]
    Task(String),
}

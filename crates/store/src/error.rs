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
}

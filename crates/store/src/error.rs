use std::fmt;
use std::path::PathBuf;

/// Where a store keeps its data, as its errors name it: what a user can
/// fix (permissions, a second `runtime` on the same dir, a damaged dir, a
/// database that is down).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A sled data dir.
    Dir(PathBuf),
    /// A PostgreSQL database, as `host:port/name` (never its password).
    Database(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Dir(dir) => write!(f, "data dir {}", dir.display()),
            Place::Database(db) => write!(f, "database {db}"),
        }
    }
}

/// Every variant names the data directory or database, since that is what
/// a user can fix.
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
    #[error("{at}: damaged entry in {what}: {detail}")]
    Corrupt {
        at: Place,
        what: String,
        detail: String,
    },
    #[error(
        "{at}: snapshot generation {gen} of {sub} is the committed one and cannot be rewritten"
    )]
    CommittedSnapshot { at: Place, sub: String, gen: u64 },
    #[error("{at} holds the state of connection `{owner}`, not of `{connection}`; a second connection on it would take the first one's state for its own and emit false events. Drop --data-dir to use this connection's own default dir, or pass another; if `{owner}` is this same connection (its file was moved or renamed), add \"id\": \"{owner}\" to the connection file")]
    OtherConnection {
        at: Place,
        owner: String,
        connection: String,
    },
    /// A sealed value that cannot be opened: the key differs, or it was
    /// altered. Names the value, never its content.
    #[error("cannot open the sealed {what}: {detail}")]
    Sealed { what: String, detail: String },
    #[error("the store's worker task failed: {0}")]
    Task(String),
    /// A PostgreSQL call failed: nothing it was to write was written (every
    /// write is one transaction). `doing` says what the store was doing.
    #[error("database {database}: {doing}: {source}")]
    Postgres {
        database: String,
        doing: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database {database} is in use by another `runtime serve`: this version runs one instance per database (subscriptions are not leased between instances yet, so two would cycle each one twice); stop the other, or give this one its own database")]
    DatabaseInUse { database: String },
    #[error("database {database}: cannot migrate the schema: {source}")]
    Migrate {
        database: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

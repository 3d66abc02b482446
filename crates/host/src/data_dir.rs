//! Which data dir a connection's state lives in, and the identity the
//! store records for it (`Store::claim_connection`). One data dir holds
//! exactly one connection: two customers sharing one would each take the
//! other's watermarks and snapshots for their own and emit false events.
//!
//! The identity is the connection file's `id` when it has one, else the
//! file's canonical path; a run without a connection file is `default`.
//! The default data dir is `.runtime/<connector key>/<slug>` with a slug
//! made from that identity, so it never changes between runs of the same
//! connection and never collides between two.

use std::path::{Path, PathBuf};

use runtime_connector::{Connection, Connector};

/// The identity recorded in the store for `connection`.
pub fn connection_identity(connection: &Connection) -> String {
    if let Some(id) = &connection.id {
        return id.clone();
    }
    match &connection.source {
        Some(path) => path
            .canonicalize()
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string(),
        None => "default".to_string(),
    }
}

/// `.runtime/<connector key>/<slug>` under the current directory: per
/// connector and per connection.
pub fn default_data_dir(connector: &Connector, connection: &Connection) -> PathBuf {
    connector_data_root(connector).join(slug(connection))
}

/// `.runtime/<connector key>`: where the default data dirs of every
/// connection of a connector live.
pub fn connector_data_root(connector: &Connector) -> PathBuf {
    PathBuf::from(".runtime").join(&connector.spec.key)
}

/// A directory name for the connection: its `id` (made safe), or the
/// connection file's name and a hash of its path (stable across builds:
/// xxh3 is specified, unlike std's hasher).
fn slug(connection: &Connection) -> String {
    if let Some(id) = &connection.id {
        return safe(id);
    }
    let Some(path) = &connection.source else {
        return "default".to_string();
    };
    let stem = path
        .file_stem()
        .map(|s| safe(&s.to_string_lossy()))
        .unwrap_or_default();
    let hash = xxhash_rust::xxh3::xxh3_64(connection_identity(connection).as_bytes());
    format!("{stem}-{:08x}", hash >> 32)
}

fn safe(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    match cleaned.trim_matches('.') {
        "" => "_".to_string(),
        s => s.to_string(),
    }
}

/// Whether `dir` is a data dir of the layout before per-connection dirs
/// (sled's files right in `.runtime/<connector key>`).
pub fn is_old_default(dir: &Path) -> bool {
    dir.join("conf").is_file() && dir.join("db").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_directory_names() {
        assert_eq!(safe("acme/customer 7"), "acme_customer_7");
        assert_eq!(safe(".."), "_");
        assert_eq!(safe("c-1.prod"), "c-1.prod");
    }
}

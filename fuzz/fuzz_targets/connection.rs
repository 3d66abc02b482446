//! The connection file: the first input byte picks the file name (and so
//! JSON, YAML or "by its first character"), the rest is its text. It is
//! loaded with `${VAR}` expansion, then its parameters are checked against
//! connectors/demo-crm, as `runtime run` does. Every error must name the
//! file; nothing may panic.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use runtime_connector::{load_connection, Connector};

const NAMES: [&str; 5] = [
    "connection.json",
    "connection.yml",
    "connection.yaml",
    "connection",
    "connection.conf",
];

fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| runtime_fuzz::scratch_dir("connection"))
}

fn connector() -> &'static Connector {
    static C: OnceLock<Connector> = OnceLock::new();
    C.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors/demo-crm");
        runtime_connector::load(&dir).expect("connectors/demo-crm loads")
    })
}

/// Some variables are set, with values that look like more variables
/// (expansion must not recurse) or are empty.
fn env(var: &str) -> Option<String> {
    match var {
        "EMPTY" => Some(String::new()),
        "NESTED" => Some("${HOME}$${x}".into()),
        "NUMBER" => Some("42".into()),
        v if v.starts_with('U') => Some(format!("value of {v}")),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((first, text)) = data.split_first() else {
        return;
    };
    let path = dir().join(NAMES[usize::from(*first) % NAMES.len()]);
    std::fs::write(&path, text).unwrap();
    let shown = path.display().to_string();
    let conn = match load_connection(&path, &env) {
        Ok(conn) => conn,
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(&shown), "error without the file: {msg}");
            return;
        }
    };
    assert_eq!(conn.source.as_deref(), Some(path.as_path()));
    assert!(conn.credentials.is_object() && conn.parameters.is_object());
    let c = connector();
    let _ = conn.unknown_collections(c);
    if let Err(e) = c.connector_parameters(&conn) {
        let msg = e.to_string();
        assert!(
            msg.contains(&shown),
            "parameter error without the file: {msg}"
        );
    }
    for key in c.collections.keys() {
        let _ = conn.is_enabled(key);
        if let Err(e) = c.collection_parameters(key, &conn, None) {
            let msg = e.to_string();
            assert!(
                msg.contains(&shown),
                "parameter error without the file: {msg}"
            );
        }
    }
});

//! Connector specs: the input is up to five spec files separated by NUL
//! bytes (root, data/a, data/b, data/_base, global-webhooks/g), written
//! into a fixed connector directory that also has a few function files.
//! A part that starts with `{` is written as spec.json, else spec.yml.
//! Everything `runtime validate` and `runtime run` do with the specs
//! before running JavaScript must return problems, never panic.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use runtime_connector::{load_lenient, Connection};

const SPEC_DIRS: [&str; 5] = ["", "data/a", "data/b", "data/_base", "global-webhooks/g"];

/// Function files, so strategy inference and `filePath` checks find some.
const FILES: [&str; 9] = [
    "auth/test.js",
    "data/a/list.js",
    "data/a/events/webhook-handle.js",
    "data/a/events/created-pull.js",
    "data/b/events/pull.js",
    "data/b/events/subscribe.js",
    "data/_base/list.js",
    "global-webhooks/g/handle.js",
    "lib/shared.mjs",
];

/// Beyond those `layout_problems` looks up: spellings and per-type names.
const FUNCTIONS: [&str; 4] = [
    "events/created-pull",
    "events/pullLatestRecords",
    "methods/get.js",
    "../x",
];

/// The connector directory; its spec files are rewritten for every input.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let top = runtime_fuzz::scratch_dir("spec");
        let root = top.join("connector");
        for f in FILES {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "export default async function () {}\n").unwrap();
        }
        for d in SPEC_DIRS {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        // Targets outside the connector, reachable only through `..` or a symlink.
        std::fs::write(top.join("outside.js"), "export default 1;\n").unwrap();
        std::os::unix::fs::symlink(top.join("outside.js"), root.join("data/a/escape.js")).unwrap();
        root
    })
}

fn write_specs(root: &Path, data: &[u8]) {
    let mut parts = data.split(|b| *b == 0);
    for dir in SPEC_DIRS {
        let dir = root.join(dir);
        for name in ["spec.yml", "spec.json"] {
            let _ = std::fs::remove_file(dir.join(name));
        }
        if let Some(part) = parts.next() {
            let name = if part.starts_with(b"{") {
                "spec.json"
            } else {
                "spec.yml"
            };
            std::fs::write(dir.join(name), part).unwrap();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    write_specs(root, data);
    let (connector, problems) = load_lenient(root);
    for p in &problems {
        let _ = p.to_string();
        assert!(p.file.is_relative(), "problem with an absolute path: {p}");
    }
    let Some(c) = connector else {
        panic!("the directory exists, yet no connector: {problems:?}");
    };
    for p in c.layout_problems() {
        let _ = p.to_string();
        assert!(
            p.file.is_relative(),
            "layout problem with an absolute path: {p}"
        );
    }
    let _ = c.all_function_files();
    let conn = Connection::empty();
    let _ = c.connector_parameters(&conn).map_err(|e| e.to_string());
    for key in [
        "auth/test",
        "auth/make-api-client",
        "global-webhooks/g/handle",
    ] {
        let _ = c.function_file(key);
    }
    for (key, col) in &c.collections {
        let _ = col.base_dirs();
        for f in FUNCTIONS {
            if let Ok(Some(file)) = c.function_file(&format!("data/{key}/{f}")) {
                assert!(
                    file.path.starts_with(&c.dir),
                    "{} resolves outside the connector",
                    file.rel
                );
            }
        }
        let _ = c
            .collection_parameters(key, &conn, Some(&serde_json::json!({"x": 1})))
            .map_err(|e| e.to_string());
    }
});

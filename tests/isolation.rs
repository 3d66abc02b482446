//! What connector code can reach: no `Deno`, no deno_core internals through
//! any global, and `import` confined to the connector directory.

mod support;

use std::path::PathBuf;

use serde_json::json;
use support::{copy_tree, fixtures_dir, invoke};
use tempfile::TempDir;

/// `<tmp>/conn` is the connector; `<tmp>/outside.js` exists next to it, so
/// refusals are about confinement, not a missing file.
fn setup() -> (TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let conn = tmp.path().join("conn");
    copy_tree(&fixtures_dir().join("isolation"), &conn, "");
    std::fs::write(tmp.path().join("outside.js"), "export default 'secret'\n").unwrap();
    (tmp, conn)
}

#[test]
fn no_deno_and_no_route_to_the_ops_from_any_global() {
    let (_tmp, conn) = setup();
    let out = invoke(&conn, "data/probe/globals", &json!({})).json();
    for key in [
        "typeofDeno",
        "bootstrap",
        "viaFunction",
        "viaEval",
        "fetch",
        "process",
        "require",
    ] {
        assert_eq!(out[key], "undefined", "{key}: {out}");
    }
    assert_eq!(out["hits"], json!([]), "reachable internals: {out}");
    // The walk really walked (console, apiClient, crypto, built-ins...).
    assert!(out["visited"].as_u64().unwrap() > 200, "{out}");
}

#[test]
fn relative_imports_inside_the_connector_work() {
    let (_tmp, conn) = setup();
    let out = invoke(&conn, "data/probe/relative", &json!({})).json();
    assert_eq!(
        out,
        json!({"doubled": 42, "greeting": "hello connector", "settings": {"pageSize": 50}})
    );
}

#[test]
fn imports_of_anything_outside_fail_naming_the_import() {
    let (_tmp, conn) = setup();
    for (function, specifier) in [
        ("import-parent", "../../../outside.js"),
        ("import-absolute", "/etc/passwd"),
        ("import-http", "http://127.0.0.1:9/evil.js"),
        ("import-npm", "npm:lodash"),
        ("import-node", "node:fs"),
    ] {
        let r = invoke(&conn, &format!("data/probe/{function}"), &json!({}));
        let err = r.failure();
        assert!(err.contains(&format!("\"{specifier}\"")), "{function}: {r}");
        assert!(err.contains("refused"), "{function}: {r}");
        assert!(
            err.contains(&format!("data/probe/{function}.js")),
            "{function}: {r}"
        );
        assert!(!err.contains("secret"), "{function}: {r}");
    }
}

#[test]
fn dynamic_import_is_confined_too() {
    let (_tmp, conn) = setup();
    let ok = invoke(
        &conn,
        "data/probe/import-dynamic",
        &json!({"specifier": "./helpers/math.js"}),
    );
    assert_eq!(ok.json(), json!(["double"]));
    let r = invoke(
        &conn,
        "data/probe/import-dynamic",
        &json!({"specifier": "../../../outside.js"}),
    );
    let err = r.failure();
    assert!(
        err.contains("\"../../../outside.js\"") && err.contains("refused"),
        "{r}"
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_pointing_outside_is_refused() {
    let (tmp, conn) = setup();
    std::os::unix::fs::symlink(
        tmp.path().join("outside.js"),
        conn.join("data/probe/link.js"),
    )
    .unwrap();

    let r = invoke(&conn, "data/probe/import-link", &json!({}));
    let err = r.failure();
    assert!(
        err.contains("\"./link.js\"") && err.contains("refused"),
        "{r}"
    );

    // Nor can the link itself be run as a function.
    let r = invoke(&conn, "data/probe/link", &json!({}));
    let err = r.failure();
    assert!(err.contains("outside the connector directory"), "{r}");
    assert!(!err.contains("secret"), "{r}");
}

//! TypeScript connectors through the binary: `invoke` of `.ts` functions
//! (SDK imports, a `RestApiClient` from makeApiClient, a helper imported
//! without its extension, a CommonJS auth test), a throw in a `.ts` file
//! named by its file, line and column, and `validate` clean on a TypeScript
//! connector and locating a `.ts` syntax error.

mod support;

use mock_api::MockApi;
use serde_json::json;
use support::{connection_file, fixture, fixtures_dir, invoke_with, line_of, runtime};

#[test]
fn a_typescript_function_runs_through_invoke() {
    let mock = MockApi::start();
    mock.seed("items", 3);
    let dir = fixture("ts-crm", &mock.base_url());
    let conn = connection_file(dir.path(), &json!({"credentials": {"apiKey": "key-ts"}}));
    let r = invoke_with(
        &[],
        dir.path(),
        "data/contacts/list",
        &json!({}),
        &["--connection", conn.to_str().unwrap()],
    );
    let out = r.json();
    let records = out["records"].as_array().unwrap();
    assert_eq!(records.len(), 3, "{r}");
    let ids: Vec<String> = mock
        .records("items")
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    for record in records {
        assert!(
            ids.contains(&record["id"].as_str().unwrap().to_string()),
            "{r}"
        );
        assert!(record["fields"].is_object(), "{r}");
    }
    assert_eq!(out["cursor"], json!(null));
    // makeApiClient's RestApiClient set the header.
    let sent = mock.requests();
    let header = sent[0]
        .headers
        .iter()
        .find(|(k, _)| k == "x-api-key")
        .map(|(_, v)| v.as_str());
    assert_eq!(header, Some("key-ts"));

    // A CommonJS file (auth/test.js) in the same connector.
    let r = invoke_with(
        &[],
        dir.path(),
        "auth/test",
        &json!({}),
        &["--connection", conn.to_str().unwrap()],
    );
    assert_eq!(r.json(), json!(true));
}

#[test]
fn a_throw_in_a_ts_file_names_its_file_line_and_column() {
    let mock = MockApi::start();
    let dir = fixture("ts-crm", &mock.base_url());
    let file = dir.path().join("data/contacts/find-by-id.ts");
    let line = line_of(&file, "throw new NotFoundError");
    let r = invoke_with(
        &[],
        dir.path(),
        "data/contacts/find-by-id",
        &json!({"id": "c-9"}),
        &[],
    );
    let err = r.failure();
    assert!(err.contains("NotFoundError"), "{r}");
    assert!(err.contains("no contact c-9"), "{r}");
    // `throw` is at column 3 of its line; the engine may point at its `new`.
    assert!(
        err.contains(&format!("data/contacts/find-by-id.ts:{line}:3"))
            || err.contains(&format!("data/contacts/find-by-id.ts:{line}:9")),
        "{r}"
    );
}

#[test]
fn validate_is_clean_on_a_typescript_connector() {
    let mock = MockApi::start();
    let dir = fixture("ts-crm", &mock.base_url());
    let r = runtime(&["validate", dir.path().to_str().unwrap()], &[]);
    assert!(r.ok(), "{r}");
    assert!(r.stdout.contains("ok: ts-crm"), "{r}");
}

#[test]
fn validate_locates_a_typescript_syntax_error() {
    let dir = fixtures_dir().join("ts-bad");
    let r = runtime(&["validate", dir.to_str().unwrap()], &[]);
    assert!(matches!(r.code, Some(c) if c != 0), "{r}");
    let out = format!("{}\n{}", r.stdout, r.stderr);
    assert!(
        out.lines()
            .any(|l| l.contains("data/contacts/list.ts:4:18") && l.contains("SyntaxError")),
        "{r}"
    );
}

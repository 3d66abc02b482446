//! `runtime invoke` details: input merging, parameters (defaults, layers,
//! validation), connection files with `${VAR}`, clear errors, and stdout
//! carrying only the result.

mod support;

use std::path::{Path, PathBuf};

use serde_json::json;
use support::{fixtures_dir, invoke, invoke_with, runtime, write};

fn dir() -> PathBuf {
    fixtures_dir().join("invoke")
}

fn conn(tmp: &Path, name: &str, text: &str) -> String {
    write(tmp, name, text).to_str().unwrap().to_string()
}

#[test]
fn input_is_merged_into_the_argument_with_defaults_applied() {
    let r = invoke(
        &dir(),
        "data/contacts/echo-args",
        &json!({"cursor": "c-1", "extra": [1, 2]}),
    );
    let out = r.json();
    assert_eq!(out["cursor"], "c-1");
    assert_eq!(out["extra"], json!([1, 2]));
    assert_eq!(out["hasApiClient"], true);
    assert_eq!(out["credentials"], json!({}));
    assert_eq!(
        out["parameters"],
        json!({"region": "eu", "path": "/contacts", "limit": 25})
    );
}

#[test]
fn parameters_layer_connection_then_collection_then_call() {
    let tmp = tempfile::tempdir().unwrap();
    let c = conn(
        tmp.path(),
        "connection.yml",
        "parameters:\n  region: us\ncollections:\n  contacts:\n    parameters:\n      path: /people\n      limit: 10\n",
    );
    let r = invoke_with(
        &[],
        &dir(),
        "data/contacts/echo-args",
        &json!({"parameters": {"limit": 50}}),
        &["--connection", &c],
    );
    assert_eq!(
        r.json()["parameters"],
        json!({"region": "us", "path": "/people", "limit": 50})
    );
}

#[test]
fn invalid_parameters_fail_naming_each_field() {
    let r = invoke(
        &dir(),
        "data/contacts/echo-args",
        &json!({"parameters": {"limit": 0, "path": 5}}),
    );
    let err = r.failure();
    assert!(err.contains("/limit"), "{r}");
    assert!(err.contains("/path"), "{r}");
    assert!(err.contains("contacts"), "{r}");
    assert!(
        !err.contains("noise on stderr"),
        "the function must not run: {r}"
    );
}

#[test]
fn connection_file_variables_come_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let c = conn(
        tmp.path(),
        "connection.json",
        r#"{"credentials": {"apiKey": "${E2E_INVOKE_KEY}"}, "parameters": {"region": "ap"}}"#,
    );
    let d = dir();
    let args = [
        "invoke",
        d.to_str().unwrap(),
        "auth/test",
        "--connection",
        &c,
    ];
    let r = runtime(&args, &[("E2E_INVOKE_KEY", "k-from-env")]);
    assert_eq!(r.json(), json!({"apiKey": "k-from-env", "region": "ap"}));

    let r = runtime(&args, &[]);
    let err = r.failure();
    assert!(err.contains("E2E_INVOKE_KEY"), "{r}");
    assert!(err.contains("connection.json"), "{r}");
}

#[test]
fn unknown_functions_and_collections_are_clear_errors() {
    let r = invoke(&dir(), "data/contacts/no-such-function", &json!({}));
    let err = r.failure();
    assert!(
        err.contains("no function") && err.contains("data/contacts/no-such-function"),
        "{r}"
    );

    let r = invoke(&dir(), "data/deals/list", &json!({}));
    let err = r.failure();
    assert!(
        err.contains("no collection `deals`") && err.contains("contacts"),
        "{r}"
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let d = dir();
    for (input, expect) in [("[1]", "must be a JSON object"), ("{bad", "not valid JSON")] {
        let args = [
            "invoke",
            d.to_str().unwrap(),
            "data/contacts/echo-args",
            "--input",
            input,
        ];
        let r = runtime(&args, &[]);
        assert!(r.failure().contains(expect), "{input}: {r}");
    }
}

#[test]
fn stdout_carries_only_the_result() {
    let r = invoke_with(
        &[],
        &dir(),
        "data/contacts/echo-args",
        &json!({"cursor": "x"}),
        &["--compact"],
    );
    assert!(r.ok(), "{r}");
    assert_eq!(r.stdout.lines().count(), 1, "{r}");
    assert_eq!(r.json()["cursor"], "x");
    assert!(r.stderr.contains("noise on stderr, never stdout"), "{r}");

    let pretty = invoke(&dir(), "data/contacts/echo-args", &json!({"cursor": "x"}));
    assert!(pretty.stdout.lines().count() > 1, "{pretty}");
    assert_eq!(pretty.json(), r.json());
}

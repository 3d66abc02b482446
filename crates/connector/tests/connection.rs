mod common;

use std::collections::HashMap;

use common::*;
use runtime_connector::{load_connection, ConnectionError};
use serde_json::json;

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn json_with_env_substitution() {
    let tmp = dir_with(&[(
        "conn.json",
        r#"{"credentials": {"apiKey": "${ACME_KEY}", "note": "a \"${QUOTE}\" b $${LITERAL} $5"},
            "parameters": {"region": "eu"},
            "collections": {"contacts": {"parameters": {"path": "/contacts"}}, "deals": {"enabled": false}}}"#,
    )]);
    let c = load_connection(
        &tmp.path().join("conn.json"),
        &env(&[("ACME_KEY", "k\"}1"), ("QUOTE", "q")]),
    )
    .unwrap();
    assert_eq!(
        c.credentials,
        json!({"apiKey": "k\"}1", "note": "a \"q\" b ${LITERAL} $5"})
    );
    assert_eq!(c.parameters, json!({"region": "eu"}));
    assert_eq!(
        c.collections["contacts"].parameters,
        json!({"path": "/contacts"})
    );
    assert!(c.is_enabled("contacts"));
    assert!(!c.is_enabled("deals"));
    assert!(c.is_enabled("unnamed"));
    assert_eq!(
        c.source.as_deref(),
        Some(tmp.path().join("conn.json").as_path())
    );
}

#[test]
fn yaml_and_missing_variable() {
    let tmp = dir_with(&[
        (
            "conn.yml",
            "credentials:\n  token: ${TOKEN}\ncollections:\n  contacts:\n    enabled: false\n",
        ),
        ("conn", "parameters:\n  list: [\"${A}\", x]\n"),
    ]);
    let c = load_connection(&tmp.path().join("conn.yml"), &env(&[("TOKEN", "t: {0}")])).unwrap();
    assert_eq!(c.credentials, json!({"token": "t: {0}"}));
    assert!(!c.is_enabled("contacts"));
    assert_eq!(c.collections["contacts"].parameters, json!({}));
    let err = load_connection(&tmp.path().join("conn"), &env(&[])).unwrap_err();
    assert!(
        matches!(&err, ConnectionError::MissingVar { var, pointer, .. } if var == "A" && pointer == "/parameters/list/0")
    );
    let msg = err.to_string();
    assert!(
        msg.contains("conn:") && msg.contains("environment variable A is not set"),
        "{msg}"
    );
}

#[test]
fn bad_files_name_file_and_field() {
    let tmp = dir_with(&[
        ("syntax.json", "{\n  \"credentials\": {\n}}}\n"),
        ("typo.yml", "paramaters: {}\n"),
        ("enabled.yml", "collections:\n  c: {enabled: \"no\"}\n"),
        ("unterminated.yml", "credentials: {a: \"${A\"}\n"),
    ]);
    let e = |f: &str| {
        load_connection(&tmp.path().join(f), &env(&[]))
            .unwrap_err()
            .to_string()
    };
    let msg = e("syntax.json");
    assert!(msg.contains("syntax.json:3:3: JSON syntax error"), "{msg}");
    assert!(e("typo.yml").contains("`/paramaters`: unknown key"));
    assert!(e("enabled.yml").contains("`/collections/c/enabled`: must be true or false"));
    assert!(e("unterminated.yml").contains("`/credentials/a`: `${` without a closing `}`"));
    assert!(e("none.yml").contains("cannot read connection file"));
}

#[test]
fn unknown_collections_are_reported() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/contacts/list.js", JS),
        ("conn.yml", "collections:\n  contacts: {}\n  contcts: {}\n"),
    ]);
    let connector = load_ok(tmp.path());
    let c = load_connection(&tmp.path().join("conn.yml"), &env(&[])).unwrap();
    assert_eq!(c.unknown_collections(&connector), ["contcts"]);
}

#[test]
fn connection_id() {
    let tmp = dir_with(&[
        ("plain.json", r#"{"id": "acme-prod", "credentials": {}}"#),
        ("env.yml", "id: ${CONN_ID}\n"),
        ("none.yml", "parameters: {}\n"),
        ("null.yml", "id:\n"),
        ("number.yml", "id: 42\n"),
        ("empty.json", r#"{"id": ""}"#),
        ("blank.yml", "id: '  '\n"),
    ]);
    let load = |f: &str| load_connection(&tmp.path().join(f), &env(&[("CONN_ID", "from-env")]));
    assert_eq!(load("plain.json").unwrap().id.as_deref(), Some("acme-prod"));
    assert_eq!(load("env.yml").unwrap().id.as_deref(), Some("from-env"));
    assert_eq!(load("none.yml").unwrap().id, None);
    assert_eq!(load("null.yml").unwrap().id, None);
    assert_eq!(runtime_connector::Connection::empty().id, None);
    for f in ["number.yml", "empty.json", "blank.yml"] {
        let err = load(f).unwrap_err();
        assert!(
            matches!(&err, ConnectionError::Invalid { pointer, .. } if pointer == "/id"),
            "{f}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("`/id`: must be a non-empty string"),
            "{err}"
        );
    }
    assert!(load("number.yml")
        .unwrap_err()
        .to_string()
        .ends_with("must be a non-empty string, not a number"));
}

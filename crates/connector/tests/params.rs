mod common;

use common::*;
use runtime_connector::{Connection, ParamError};
use serde_json::json;

fn connector() -> (tempfile::TempDir, runtime_connector::Connector) {
    let tmp = dir_with(&[
        (
            "spec.yml",
            "key: acme\nname: Acme\nparametersSchema:\n  type: object\n  properties:\n    region: {type: string, default: eu}\n    clientSecret: {type: string}\n",
        ),
        MAKE_CLIENT,
        (
            "data/contacts/spec.yml",
            "name: Contacts\nparametersSchema:\n  type: object\n  required: [path]\n  properties:\n    path: {type: string}\n    limit: {type: integer, default: 50, maximum: 100}\n    paging:\n      type: object\n      default: {}\n      properties:\n        size: {type: integer, default: 20}\n    filter:\n      type: object\n      properties:\n        status: {type: string, default: active}\n",
        ),
        ("data/contacts/list.js", JS),
        ("data/plain/list.js", JS),
    ]);
    let c = load_ok(tmp.path());
    (tmp, c)
}

fn conn(v: serde_json::Value) -> Connection {
    let mut c = Connection::empty();
    c.parameters = v["parameters"].clone();
    if let Some(p) = v.get("contacts") {
        c.collections.insert(
            "contacts".into(),
            runtime_connector::CollectionConnection {
                enabled: true,
                parameters: p.clone(),
            },
        );
    }
    c
}

#[test]
fn defaults_then_merge_order() {
    let (_tmp, c) = connector();
    let connection = conn(
        json!({"parameters": {"region": "us", "path": "/from-connector"}, "contacts": {"path": "/contacts", "limit": 10, "filter": {}}}),
    );
    assert_eq!(
        c.connector_parameters(&connection).unwrap(),
        json!({"region": "us", "path": "/from-connector"})
    );
    let got = c
        .collection_parameters("contacts", &connection, Some(&json!({"limit": 99})))
        .unwrap();
    assert_eq!(
        got,
        json!({"region": "us", "path": "/contacts", "limit": 99, "paging": {"size": 20}, "filter": {"status": "active"}})
    );
    // Connector defaults reach collections; absent objects without a default are not invented.
    let got = c
        .collection_parameters("contacts", &conn(json!({"contacts": {"path": "/c"}})), None)
        .unwrap();
    assert_eq!(
        got,
        json!({"region": "eu", "path": "/c", "limit": 50, "paging": {"size": 20}})
    );
    let got = c
        .collection_parameters("plain", &Connection::empty(), None)
        .unwrap();
    assert_eq!(got, json!({"region": "eu"}));
}

#[test]
fn validation_errors_name_collection_and_fields() {
    let (_tmp, c) = connector();
    let mut connection = conn(
        json!({"parameters": {"clientSecret": 42}, "contacts": {"limit": "many", "paging": {"size": "x"}}}),
    );
    connection.source = Some("conn.yml".into());
    let err = c.connector_parameters(&connection).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "invalid parameters for connector `acme` (connection file conn.yml): /clientSecret: "
        ),
        "{err}"
    );
    assert!(!err.contains("42"), "values are masked: {err}");
    let err = c
        .collection_parameters(
            "contacts",
            &conn(json!({"contacts": {"limit": "many", "paging": {"size": "x"}}})),
            None,
        )
        .unwrap_err();
    let ParamError::Invalid { target, errors, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(target, "collection `contacts`");
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert!(
        pointers.contains(&"/limit")
            && pointers.contains(&"/paging/size")
            && pointers.contains(&""),
        "{err}"
    );
    let text = err.to_string();
    assert_eq!(
        text,
        "invalid parameters for collection `contacts`: /: \"path\" is a required property; \
         /limit: value is not of type \"integer\"; /paging/size: value is not of type \"integer\""
    );
    let err = c.collection_parameters(
        "contacts",
        &conn(json!({"contacts": {"path": "/c"}})),
        Some(&json!({"limit": 500})),
    );
    assert!(err.unwrap_err().to_string().contains("/limit: "));
    let err = c
        .collection_parameters("nope", &Connection::empty(), None)
        .unwrap_err();
    assert!(matches!(err, ParamError::UnknownCollection(_)));
    let err = c
        .collection_parameters("plain", &Connection::empty(), Some(&json!([1])))
        .unwrap_err();
    assert!(
        err.to_string().contains("must be a mapping, not a list"),
        "{err}"
    );
}

#[test]
fn defaults_that_fail_their_own_schema_fail_load() {
    let tmp = dir_with(&[
        (
            "spec.yml",
            "key: acme\nname: Acme\nparametersSchema:\n  type: object\n  properties:\n    pageSize:\n      type: integer\n      minimum: 1\n      default: 0\n    region: {type: string, enum: [eu, us], default: eu}\n",
        ),
        MAKE_CLIENT,
        (
            "data/_object/spec.yml",
            "parametersSchema:\n  type: object\n  properties:\n    limit: {type: integer, maximum: 100}\n    path: {type: string, default: 5}\n",
        ),
        (
            "data/deals/spec.yml",
            "extends: _object\nparametersSchema:\n  properties:\n    limit:\n      default: 500\n",
        ),
        ("data/deals/list.js", JS),
        ("data/tasks/spec.yml", "extends: _object\n"),
        ("data/tasks/list.js", JS),
        (
            "data/nested/spec.yml",
            "parametersSchema:\n  allOf:\n    - properties:\n        mode: {enum: [a, b], default: c}\n  properties:\n    paging:\n      type: object\n      default: {}\n      required: [size]\n      properties:\n        size: {type: integer, default: 20}\n    filter:\n      type: object\n      properties:\n        status: {type: string, default: false}\n",
        ),
        ("data/nested/list.js", JS),
    ]);
    let problems = runtime_connector::load(tmp.path()).unwrap_err();
    let mut got = messages(&problems);
    got.sort();
    let pre = "does not satisfy its own schema";
    assert_eq!(
        got,
        [
            format!("data/_object/spec.yml:5:26: `parametersSchema.properties.path.default`: the default 5 {pre}: 5 is not of type \"string\""),
            format!("data/deals/spec.yml:5:7: `parametersSchema.properties.limit.default`: the default 500 {pre}: 500 is greater than the maximum of 100"),
            format!("data/nested/spec.yml:15:32: `parametersSchema.properties.filter.properties.status.default`: the default false {pre}: false is not of type \"string\""),
            format!("data/nested/spec.yml:4:30: `parametersSchema.allOf.0.properties.mode.default`: the default \"c\" {pre}: \"c\" is not one of \"a\" or \"b\""),
            format!("spec.yml:9:7: `parametersSchema.properties.pageSize.default`: the default 0 {pre}: 0 is less than the minimum of 1"),
        ]
    );
}

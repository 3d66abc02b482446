//! Mapping files as functions: a `record-from-api.yml` reaches connector
//! code as an async `recordFromApi`, a `record-from-fields.map.yml` builds
//! each record a function returns, a `make-api-client.yml` makes the
//! client, and a mapping's mistakes fail the call naming file and key path.

use std::path::Path;

mod common;

use runtime_engine::{Call, CallError, Engine, FunctionFile, Limits, RecordBuilders};
use serde_json::{json, Value};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn file(root: &Path, rel: &str) -> FunctionFile {
    let root = std::fs::canonicalize(root).unwrap();
    FunctionFile {
        path: root.join(rel),
        rel: rel.into(),
        export: String::new(),
    }
}

fn call(root: &Path, name: &str, records: RecordBuilders) -> Call {
    let mut call = common::call(root, name, json!({}));
    call.records = records;
    call
}

const FROM_API: &str = "id: {$var: $.Id}\nname: {$concat: [{$var: $.First}, ' ', {$var: $.Last}]}\nfields:\n  phone: {$var: '$.phones[0].value'}\n";

#[tokio::test]
async fn record_from_api_is_an_async_function_of_the_raw_record() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "data/c/record-from-api.yml", FROM_API);
    write(
        root,
        "data/find.js",
        "export default async function find({ recordFromApi }) {\n  const raw = [{ Id: 7, First: 'Ada', Last: 'L', phones: [{ value: '+1' }] }, { Id: 8, First: 'B', Last: 'C' }]\n  return { records: await Promise.all(raw.map(recordFromApi)) }\n}\n",
    );
    let e = common::engine(root, "mappings", Limits::default(), false);
    let records = RecordBuilders {
        from_api: Some(file(root, "data/c/record-from-api.yml")),
        from_fields: None,
    };
    let out = e.call(call(root, "find", records)).await.unwrap().value;
    assert_eq!(
        out,
        json!({"records": [
            {"id": 7, "name": "Ada L", "fields": {"phone": "+1"}},
            {"id": 8, "name": "B C", "fields": {"phone": null}},
        ]})
    );
}

#[tokio::test]
async fn record_from_fields_builds_each_returned_record() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "data/c/record-from-fields.map.yml",
        "id: {$var: $.fields.Id}\nname: {$var: $.fields.DisplayName}\nupdatedTime: {$var: $.fields.MetaData.LastUpdatedTime}\nfields: {$var: $.fields}\n",
    );
    write(
        root,
        "data/list.js",
        "export default () => ({ records: [{ Id: '1', DisplayName: 'One', MetaData: { LastUpdatedTime: '2025-01-01' } }], cursor: null })\n",
    );
    write(
        root,
        "data/get.js",
        "export default async () => ({ record: { Id: '2', DisplayName: 'Two' } })\n",
    );
    let e = common::engine(root, "mappings", Limits::default(), false);
    let records = || RecordBuilders {
        from_api: None,
        from_fields: Some(file(root, "data/c/record-from-fields.map.yml")),
    };
    let out = e.call(call(root, "list", records())).await.unwrap().value;
    assert_eq!(out["records"][0]["id"], "1");
    assert_eq!(out["records"][0]["name"], "One");
    assert_eq!(out["records"][0]["updatedTime"], "2025-01-01");
    assert_eq!(out["records"][0]["fields"]["DisplayName"], "One");
    assert_eq!(out["cursor"], Value::Null);
    let one = e.call(call(root, "get", records())).await.unwrap().value;
    assert_eq!(one["record"]["id"], "2");
}

#[tokio::test]
async fn an_unknown_formula_fails_the_call_naming_file_and_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "data/c/record-from-fields.map.yml",
        "id: {$var: $.fields.Id}\nname: {$concatt: [{$var: $.fields.A}]}\n",
    );
    write(
        root,
        "data/list.js",
        "export default () => ({ records: [{ Id: 1 }] })\n",
    );
    let e = common::engine(root, "mappings", Limits::default(), false);
    let records = RecordBuilders {
        from_api: None,
        from_fields: Some(file(root, "data/c/record-from-fields.map.yml")),
    };
    let err = e.call(call(root, "list", records)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("data/c/record-from-fields.map.yml")
            && text.contains("name")
            && text.contains("$concatt")
            && text.contains("did you mean `$concat`"),
        "{text}"
    );
}

#[tokio::test]
async fn a_mapping_that_is_not_yaml_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "data/c/record-from-api.yml", "id: [unclosed\n");
    write(
        root,
        "data/list.js",
        "export default () => ({ records: [] })\n",
    );
    let e = common::engine(root, "mappings", Limits::default(), false);
    let records = RecordBuilders {
        from_api: Some(file(root, "data/c/record-from-api.yml")),
        from_fields: None,
    };
    match e.call(call(root, "list", records)).await {
        Err(CallError::Mapping { file, problem }) => {
            assert_eq!(file, "data/c/record-from-api.yml");
            assert!(problem.contains("YAML"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
}

/// makeApiClient as a mapping over `{credentials, parameters}`, in the
/// `args:` form: the client it makes is the one requests use (a request to
/// a closed port names the URL built from its `baseUri`).
#[tokio::test]
async fn make_api_client_as_a_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "auth/make-api-client.yml",
        "args:\n  baseUri: {$concat: ['http://127.0.0.1:9/', {$var: $.credentials.realmId}]}\n  headers:\n    Authorization: {$concat: ['Bearer ', {$var: $.credentials.access_token}]}\n",
    );
    write(
        root,
        "data/get.js",
        "export default async ({ apiClient }) => { try { await apiClient.get('items') } catch (e) { return { message: e.message } } }\n",
    );
    let root_c = std::fs::canonicalize(root).unwrap();
    let mut config = common::config(root, "mappings", Limits::default());
    config.make_api_client = Some(file(&root_c, "auth/make-api-client.yml"));
    let e = Engine::start(config).unwrap();
    let mut c = call(root, "get", RecordBuilders::default());
    c.credentials = json!({"access_token": "tok-1", "realmId": "r42"});
    let out = e.call(c).await.unwrap().value;
    let message = out["message"].as_str().unwrap_or_default();
    assert!(message.contains("127.0.0.1:9/r42/items"), "{out}");
    assert!(!message.contains("tok-1"), "{out}");
}

/// `recordFromApi` as code (`record-from-api.js`) reaches the function the
/// same way: an async function of the raw record.
#[tokio::test]
async fn record_from_api_as_code() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "data/c/record-from-api.js",
        "export default function recordFromApi(raw) { return { id: String(raw.Id), name: raw.First } }\n",
    );
    write(
        root,
        "data/find.js",
        "export default async ({ recordFromApi }) => ({ records: await Promise.all([{ Id: 1, First: 'A' }].map(recordFromApi)) })\n",
    );
    let e = common::engine(root, "mappings", Limits::default(), false);
    let mut code = file(root, "data/c/record-from-api.js");
    code.export = "recordFromApi".into();
    let records = RecordBuilders {
        from_api: Some(code),
        from_fields: None,
    };
    let out = e.call(call(root, "find", records)).await.unwrap().value;
    assert_eq!(out, json!({"records": [{"id": "1", "name": "A"}]}));
}

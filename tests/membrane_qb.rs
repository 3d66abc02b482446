//! A connector in the shape of Membrane's 2025 store exports of an
//! accounting API (`tests/fixtures/membrane-qb`), through the binary
//! against the mock API's QuickBooks-shaped `/{c}/query`: makeApiClient and
//! getOAuthConfig as mappings the root spec points at, OAuth2 credentials
//! refreshed on a 401 and kept, records built by `record-from-fields.map.yml`
//! from rows keyed `Id`, and full scans by default giving exactly the
//! changes.

mod support;

use mock_api::{MockApi, MockOptions};
use serde_json::{json, Value};
use support::*;

fn of(events: &[Value], collection: &str) -> Vec<(String, String)> {
    let mine: Vec<Value> = events
        .iter()
        .filter(|e| e["collection"] == collection)
        .cloned()
        .collect();
    summary_of(&mine, "books", collection, "full-scan")
}

fn setup() -> (MockApi, tempfile::TempDir, Work) {
    let mock = MockApi::start_with(MockOptions {
        require_auth: true,
        token: "old-token".into(),
        refresh_token: Some("refresh-1".into()),
        ..MockOptions::default()
    });
    mock.seed("customers", 9);
    mock.seed("vendors", 2);
    let fixture = fixture("membrane-qb", &mock.base_url());
    let work = Work::new(fixture.path().to_path_buf(), &mock.base_url(), &[], None);
    let conn = json!({
        "credentials": {
            "access_token": "old-token", "refresh_token": "refresh-1",
            "realmId": "9130", "isSandbox": false, "expires_in": 3600,
        },
        "parameters": {
            "baseUri": mock.base_url(), "sandboxUri": "http://127.0.0.1:9",
            "clientId": "books-client", "clientSecret": "books-secret",
        },
    });
    std::fs::write(&work.connection, conn.to_string()).unwrap();
    (mock, fixture, work)
}

fn invoke_in(work: &Work, function: &str) -> Run {
    let conn = work.connection.display().to_string();
    invoke_with(
        &[],
        &work.connector,
        function,
        &json!({}),
        &["--connection", &conn],
    )
}

#[test]
fn an_exported_accounting_connector_runs_unchanged() {
    let (mock, fixture, mut work) = setup();
    let r = runtime(&["validate", fixture.path().to_str().unwrap()], &[]);
    assert_eq!(r.code, Some(0), "{r}");

    // A page of rows becomes DataRecords through the mapping.
    let out = invoke_in(&work, "data/customers/list").json();
    let records = out["records"].as_array().expect("records");
    assert_eq!(records.len(), 4, "{out}");
    let first = &mock.records("customers")[0];
    assert_eq!(records[0]["id"], first["id"], "{out}");
    assert_eq!(records[0]["name"], first["name"]);
    assert_eq!(records[0]["updatedTime"], first["updatedTime"]);
    assert_eq!(records[0]["fields"]["email"], first["email"]);
    assert_eq!(out["cursor"], "5");
    // The client from the mapping: the $case picked the production URI,
    // the realm and the minor version ride on every request.
    let sent = mock.requests().pop().unwrap();
    assert_eq!(sent.header("x-realm"), Some("9130"));
    assert!(sent.query.contains("minorversion=65"), "{}", sent.query);

    // The access token expires: the first run refreshes it through the
    // OAuth config mapping, and its scans are the baselines.
    mock.expire_token();
    assert!(work.once_ok().is_empty(), "the first scans are baselines");
    assert_eq!(mock.request_count("/auth/token"), 1);

    let ids: Vec<String> = mock.records("customers").iter().map(id_of).collect();
    let created = id_of(&mock.create("customers", json!({"name": "Globex Books"})));
    mock.update("customers", &ids[4], json!({"name": "Renamed"}))
        .unwrap();
    assert!(mock.delete("customers", &ids[8]));
    let events = work.once_ok();
    assert_eq!(
        of(&events, "customers"),
        pairs(&[
            ("created", &created),
            ("deleted", &ids[8]),
            ("updated", &ids[4]),
        ])
    );
    assert!(of(&events, "vendors").is_empty());
    // The refreshed token was kept: no second refresh in the second run.
    assert_eq!(mock.request_count("/auth/token"), 1);
    let record = events
        .iter()
        .find(|e| e["recordId"] == created.as_str())
        .map(|e| e["record"].clone())
        .unwrap();
    assert_eq!(record["name"], "Globex Books", "{record}");
    assert_eq!(record["fields"]["displayName"], "Globex Books");
}

#[test]
fn an_unknown_formula_in_the_mapping_names_file_and_key() {
    let (_mock, fixture, work) = setup();
    let path = fixture
        .path()
        .join("data/_objects/record-from-fields.map.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("$firstNotEmpty", "$firstNonEmpty")).unwrap();
    // `validate` finds it without calling anything, at its line.
    let v = runtime(&["validate", fixture.path().to_str().unwrap()], &[]);
    assert_ne!(v.code, Some(0), "{v}");
    // The line of the key whose value is the unknown formula.
    let line = line_of(&path, "email:");
    assert!(
        v.stdout
            .contains(&format!("data/_objects/record-from-fields.map.yml:{line}:"))
            || v.stderr
                .contains(&format!("data/_objects/record-from-fields.map.yml:{line}:")),
        "{v}"
    );
    let r = invoke_in(&work, "data/customers/list");
    let err = r.failure();
    assert!(
        err.contains("data/_objects/record-from-fields.map.yml")
            && err.contains("fields.email")
            && err.contains("did you mean `$firstNotEmpty`"),
        "{r}"
    );
}

/// `invoke` of a mapping evaluates it over the argument a function would
/// get: `--input`, `parameters`, `credentials`, `connectorParameters`.
#[test]
fn invoke_evaluates_a_mapping() {
    let (mock, _fixture, work) = setup();
    let conn = work.connection.display().to_string();
    let out = invoke_with(
        &[],
        &work.connector,
        "auth/make-api-client",
        &json!({}),
        &["--connection", &conn],
    )
    .json();
    assert_eq!(out["args"]["baseUri"], mock.base_url());
    assert_eq!(out["args"]["headers"]["Authorization"], "Bearer old-token");
    assert_eq!(out["args"]["headers"]["X-Realm"], "9130");
    let sandbox = invoke_with(
        &[],
        &work.connector,
        "auth/make-api-client",
        &json!({"credentials": {"isSandbox": true}}),
        &["--connection", &conn],
    )
    .json();
    assert_eq!(
        sandbox["args"]["baseUri"], "http://127.0.0.1:9",
        "the $case"
    );
    let record = invoke_with(
        &[],
        &work.connector,
        "data/customers/record-from-fields",
        &json!({"fields": {"Id": "42", "DisplayName": "Ada", "PrimaryEmailAddr": {"Address": "a@x"}}}),
        &["--connection", &conn],
    )
    .json();
    assert_eq!(record["id"], "42");
    assert_eq!(record["fields"]["email"], "a@x", "the $firstNotEmpty");
}

//! The shapes real Membrane connectors use (see
//! ../shared/reference/membrane-in-the-wild.md): a makeApiClient mapping
//! with an `args:` wrapper, a `$case` choosing a Basic or Bearer header,
//! `extends` parameters passed down, and recordFromFields over raw records
//! with the raw record as `$.fields`.

use runtime_formulas::evaluate;
use serde_json::{json, Value};

/// QuickBooks' `auth/make-api-client.yml` in shape: the sandbox host by
/// `$case`, the base URI a `$concat` with a delimiter, the token a bare
/// `$var`.
fn make_api_client() -> Value {
    json!({"args": {
        "baseUri": {"$case": {
            "cases": [{
                "filter": {"$eval": {"$var": "$.credentials.isSandbox"}, "is": true},
                "value": {"$concat": {
                    "values": ["https://sandbox-quickbooks.api.intuit.com/v3/company", {"$var": "$.credentials.realmId"}],
                    "delimiter": "/"
                }}
            }],
            "default": {"$concat": {
                "values": ["https://quickbooks.api.intuit.com/v3/company", {"$var": "credentials.realmId"}],
                "delimiter": "/"
            }}
        }},
        "headers": {
            "Authorization": {"$concat": {"values": ["Bearer ", {"$var": "credentials.access_token"}]}},
            "Accept": "application/json"
        }
    }})
}

#[test]
fn make_api_client_for_sandbox_and_production() {
    let sandbox = json!({"credentials": {"access_token": "tok", "realmId": "123", "isSandbox": true}, "parameters": {}});
    assert_eq!(
        evaluate(&make_api_client(), &sandbox).unwrap(),
        json!({"args": {
            "baseUri": "https://sandbox-quickbooks.api.intuit.com/v3/company/123",
            "headers": {"Authorization": "Bearer tok", "Accept": "application/json"}
        }})
    );
    let production = json!({"credentials": {"access_token": "tok", "realmId": "9"}});
    assert_eq!(
        evaluate(&make_api_client(), &production).unwrap()["args"]["baseUri"],
        json!("https://quickbooks.api.intuit.com/v3/company/9")
    );
}

/// An Authorization header by `$case`: Basic from a stored basic token when
/// there is one, else Bearer from the access token, else none.
fn authorization() -> Value {
    json!({"headers": {"Authorization": {"$case": {
        "cases": [
            {
                "filter": {"$eval": {"$var": "$.credentials.basicToken"}, "isNotEmpty": true},
                "value": {"$concat": ["Basic ", {"$var": "$.credentials.basicToken"}]}
            },
            {
                "filter": {"$eval": {"$var": "credentials.access_token"}, "isNotEmpty": true},
                "value": {"$concat": [{"$var": "credentials.token_type"}, " ", {"$var": "credentials.access_token"}]}
            }
        ]
    }}}})
}

#[test]
fn basic_or_bearer_authorization_from_credentials() {
    let basic = json!({"credentials": {"basicToken": "dXNlcjpwYXNz", "access_token": "ignored"}});
    assert_eq!(
        evaluate(&authorization(), &basic).unwrap(),
        json!({"headers": {"Authorization": "Basic dXNlcjpwYXNz"}})
    );
    let bearer =
        json!({"credentials": {"basicToken": "", "token_type": "Bearer", "access_token": "abc"}});
    assert_eq!(
        evaluate(&authorization(), &bearer).unwrap(),
        json!({"headers": {"Authorization": "Bearer abc"}})
    );
    // No token_type: the null part is skipped, the delimiter-free list keeps the space.
    let untyped = json!({"credentials": {"access_token": "abc"}});
    assert_eq!(
        evaluate(&authorization(), &untyped).unwrap(),
        json!({"headers": {"Authorization": " abc"}})
    );
    assert_eq!(
        evaluate(&authorization(), &json!({"credentials": {}})).unwrap(),
        json!({"headers": {"Authorization": null}})
    );
}

#[test]
fn an_unknown_formula_in_make_api_client_names_the_header() {
    let mut mapping = make_api_client();
    mapping["args"]["headers"]["Authorization"] =
        json!({"$concatt": ["Bearer ", {"$var": "credentials.access_token"}]});
    let err = evaluate(&mapping, &json!({"credentials": {}})).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "`args.headers.Authorization`: unknown formula `$concatt` (did you mean `$concat`?); known: $var, $concat,"
        ),
        "{err}"
    );
}

#[test]
fn extends_parameters_are_passed_down() {
    // Pipedrive's `_object-with-webhooks/spec.yml` passes its own
    // parameters on to `_object`.
    let extends = json!({"path": "_object", "parameters": {
        "path": {"$var": "$.parameters.path"},
        "customFieldsPath": {"$var": "$.parameters.customFieldsPath"}
    }});
    let context = json!({"parameters": {"path": "persons", "eventObject": "person"}});
    assert_eq!(
        evaluate(&extends, &context).unwrap(),
        json!({"path": "_object", "parameters": {"path": "persons", "customFieldsPath": null}})
    );
}

/// QuickBooks' `record-from-fields.map.yml` in shape, plus a phone list as
/// Pipedrive's `record-from-api.yml` builds it.
fn record_from_fields() -> Value {
    json!({
        "id": {"$var": "$.fields.Id"},
        "name": {"$firstNotEmpty": [{"$var": "fields.DisplayName"}, {"$var": "fields.CompanyName"}, {"$var": "fields.Id"}]},
        "createdTime": {"$var": "$.fields.MetaData.CreateTime"},
        "updatedTime": {"$var": "fields.MetaData.LastUpdatedTime"},
        "fields": {
            "phones": {"$iterate": {"source": {"$var": "$.fields.phone"}, "item": {"$var": "item.value"}}},
            "firstPhone": {"$var": "$.fields.phone[0].value"},
            "raw": {"$var": "$.fields"}
        }
    })
}

fn raw_records() -> Value {
    json!([
        {"Id": "1", "DisplayName": "Ada", "MetaData": {"CreateTime": "2025-01-01T00:00:00Z", "LastUpdatedTime": "2025-01-02T00:00:00Z"},
         "phone": [{"value": "+1"}, {"value": "+2"}]},
        {"Id": "2", "DisplayName": "", "CompanyName": "Acme", "MetaData": {"CreateTime": "2025-02-01T00:00:00Z"}},
        {"Id": "3"}
    ])
}

#[test]
fn record_from_fields_over_each_raw_record() {
    let mapping = record_from_fields();
    let records: Vec<Value> = raw_records()
        .as_array()
        .unwrap()
        .iter()
        .map(|raw| evaluate(&mapping, &json!({"fields": raw})).unwrap())
        .collect();
    assert_eq!(records[0]["id"], json!("1"));
    assert_eq!(records[0]["name"], json!("Ada"));
    assert_eq!(records[0]["updatedTime"], json!("2025-01-02T00:00:00Z"));
    assert_eq!(records[0]["fields"]["phones"], json!(["+1", "+2"]));
    assert_eq!(records[0]["fields"]["firstPhone"], json!("+1"));
    assert_eq!(records[0]["fields"]["raw"], raw_records()[0]);
    assert_eq!(records[1]["name"], json!("Acme"));
    assert_eq!(records[1]["updatedTime"], Value::Null);
    assert_eq!(records[1]["fields"]["phones"], Value::Null);
    assert_eq!(records[2]["name"], json!("3"));
    assert_eq!(records[2]["createdTime"], Value::Null);
}

#[test]
fn iterate_over_raw_records_builds_every_record() {
    // The same record shape built for a whole list at once: each raw
    // record is `$.item`, and the connection's parameters stay reachable.
    let mapping = json!({"records": {"$iterate": {
        "source": {"$var": "$.fields.QueryResponse.Customer"},
        "item": {
            "id": {"$var": "item.Id"},
            "name": {"$firstNotEmpty": [{"$var": "item.DisplayName"}, {"$var": "item.CompanyName"}]},
            "url": {"$concat": {"values": [{"$var": "parameters.appUri"}, "customer", {"$var": "item.Id"}], "delimiter": "/"}}
        }
    }}});
    let context = json!({
        "fields": {"QueryResponse": {"Customer": raw_records()}},
        "parameters": {"appUri": "https://app.example"}
    });
    assert_eq!(
        evaluate(&mapping, &context).unwrap(),
        json!({"records": [
            {"id": "1", "name": "Ada", "url": "https://app.example/customer/1"},
            {"id": "2", "name": "Acme", "url": "https://app.example/customer/2"},
            {"id": "3", "name": null, "url": "https://app.example/customer/3"}
        ]})
    );
}

//! `$var`: paths, indexes, the whole context, missing paths as null.

use runtime_formulas::{evaluate, FormulaError};
use serde_json::{json, Value};

fn var(path: &str, context: &Value) -> Value {
    evaluate(&json!({"$var": path}), context).unwrap()
}

#[test]
fn rooted_and_bare_paths_read_the_same_value() {
    let context = json!({"credentials": {"access_token": "t0k", "nested": {"x": 1}}});
    assert_eq!(var("$.credentials.access_token", &context), json!("t0k"));
    assert_eq!(var("credentials.access_token", &context), json!("t0k"));
    assert_eq!(var("$.credentials.nested.x", &context), json!(1));
}

#[test]
fn indexes_read_list_elements() {
    let context =
        json!({"fields": {"phone": [{"value": "+1"}, {"value": "+2"}]}, "items": [[0, 7]]});
    assert_eq!(var("$.fields.phone[0].value", &context), json!("+1"));
    assert_eq!(var("fields.phone[1].value", &context), json!("+2"));
    assert_eq!(var("fields.phone.1.value", &context), json!("+2"));
    assert_eq!(var("$.items[0][1]", &context), json!(7));
}

#[test]
fn dollar_alone_is_the_whole_context() {
    let context = json!({"a": [1, 2], "b": null});
    assert_eq!(var("$", &context), context);
    assert_eq!(var("$[0]", &json!(["first"])), json!("first"));
}

#[test]
fn quoted_keys_may_hold_dots_and_spaces() {
    let context = json!({"fields": {"First Name": "Ada", "a.b": 2}});
    assert_eq!(var("$.fields[\"a.b\"]", &context), json!(2));
    assert_eq!(var("$.fields['First Name']", &context), json!("Ada"));
    assert_eq!(var("$.fields.First Name", &context), json!("Ada"));
}

#[test]
fn missing_paths_are_null() {
    let context = json!({"fields": {"id": 1, "tags": ["x"]}});
    for path in [
        "$.nothing",
        "fields.nothing.deeper",
        "fields.id.below_a_number",
        "fields.tags[5]",
        "fields.tags.first",
        "$.fields[0]",
    ] {
        assert_eq!(var(path, &context), Value::Null, "{path}");
    }
    assert_eq!(var("$.a", &Value::Null), Value::Null);
}

#[test]
fn values_found_are_data_not_formulas() {
    let context = json!({"raw": {"$concat": ["not", "evaluated"]}});
    assert_eq!(
        var("raw", &context),
        json!({"$concat": ["not", "evaluated"]})
    );
}

#[test]
fn a_path_must_be_a_well_formed_string() {
    let err = evaluate(&json!({"id": {"$var": 3}}), &json!({})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`id`: `$var` needs a path, a string such as `$.fields.id`; got a number"
    );
    let err = evaluate(&json!({"id": {"$var": "$.items[0"}}), &json!({})).unwrap_err();
    assert!(matches!(
        err,
        FormulaError::BadArgument {
            formula: "$var",
            ..
        }
    ));
    assert!(err.to_string().contains("unclosed `[`"), "{err}");
    let err = evaluate(&json!({"id": {"$var": " "}}), &json!({})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`id`: `$var` needs a path; got an empty string (`$` is the whole context)"
    );
    let err = evaluate(&json!({"id": {"$var": "a..b"}}), &json!({})).unwrap_err();
    assert!(err.to_string().contains("empty key"), "{err}");
}

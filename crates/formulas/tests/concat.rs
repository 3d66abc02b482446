//! `$concat`: a list, or `{values, delimiter}`; null parts skipped.

use runtime_formulas::evaluate;
use serde_json::json;

#[test]
fn a_list_joins_without_a_delimiter() {
    let context = json!({"credentials": {"access_token": "abc"}});
    let mapping = json!({"$concat": ["Bearer ", {"$var": "credentials.access_token"}]});
    assert_eq!(evaluate(&mapping, &context).unwrap(), json!("Bearer abc"));
}

#[test]
fn values_and_delimiter() {
    let context = json!({"p": {"host": "api.example", "version": "v2"}});
    let mapping = json!({"$concat": {
        "values": ["https:/", {"$var": "$.p.host"}, {"$var": "$.p.version"}],
        "delimiter": "/"
    }});
    assert_eq!(
        evaluate(&mapping, &context).unwrap(),
        json!("https://api.example/v2")
    );
}

#[test]
fn null_parts_are_skipped_with_their_delimiter() {
    let context = json!({"first": "Ada", "last": "Lovelace"});
    let mapping = json!({"$concat": {
        "values": [{"$var": "first"}, {"$var": "middle"}, {"$var": "last"}],
        "delimiter": " "
    }});
    assert_eq!(evaluate(&mapping, &context).unwrap(), json!("Ada Lovelace"));
    let all_null = json!({"$concat": [{"$var": "x"}, null]});
    assert_eq!(evaluate(&all_null, &context).unwrap(), json!(""));
}

#[test]
fn scalars_join_as_json_text() {
    let mapping =
        json!({"$concat": {"values": ["n", 42, true, 1.5, [1], {"a": 1}], "delimiter": ","}});
    assert_eq!(
        evaluate(&mapping, &json!({})).unwrap(),
        json!("n,42,true,1.5,[1],{\"a\":1}")
    );
}

#[test]
fn the_delimiter_may_be_a_formula() {
    let mapping = json!({"$concat": {"values": ["a", "b"], "delimiter": {"$var": "sep"}}});
    assert_eq!(
        evaluate(&mapping, &json!({"sep": "-"})).unwrap(),
        json!("a-b")
    );
}

#[test]
fn wrong_shapes_name_their_path() {
    let bad = |mapping: serde_json::Value| evaluate(&mapping, &json!({})).unwrap_err().to_string();
    assert_eq!(
        bad(json!({"h": {"$concat": "x"}})),
        "`h`: `$concat` needs a list, or `{values, delimiter}`; got a string"
    );
    assert_eq!(
        bad(json!({"h": {"$concat": {"delimiter": ","}}})),
        "`h`: `$concat` needs `values`, a list"
    );
    assert_eq!(
        bad(json!({"h": {"$concat": {"values": "x"}}})),
        "`h.$concat.values`: `$concat` needs `values`, a list; got a string"
    );
    assert_eq!(
        bad(json!({"h": {"$concat": {"values": [], "separator": ","}}})),
        "`h`: `$concat` takes `values` and `delimiter`, not `separator`"
    );
    assert_eq!(
        bad(json!({"h": {"$concat": {"values": [], "delimiter": 1}}})),
        "`h.$concat.delimiter`: `$concat` needs `delimiter` to be a string; got a number"
    );
}

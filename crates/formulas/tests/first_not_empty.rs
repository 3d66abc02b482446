//! `$firstNotEmpty`: the first value that is not null, "", [] or {}.

use runtime_formulas::evaluate;
use serde_json::json;

#[test]
fn the_first_non_empty_value_wins() {
    let context = json!({"fields": {"nick": "", "tags": [], "name": "Ada", "zero": 0}});
    let mapping = json!({"$firstNotEmpty": [
        {"$var": "fields.missing"}, {"$var": "fields.nick"}, {"$var": "fields.tags"},
        {"$var": "fields.name"}, "fallback"
    ]});
    assert_eq!(evaluate(&mapping, &context).unwrap(), json!("Ada"));
    let zero = json!({"$firstNotEmpty": [null, {"$var": "fields.zero"}, 1]});
    assert_eq!(evaluate(&zero, &context).unwrap(), json!(0));
    let f = json!({"$firstNotEmpty": [{}, false]});
    assert_eq!(evaluate(&f, &context).unwrap(), json!(false));
}

#[test]
fn all_empty_is_null() {
    let mapping = json!({"$firstNotEmpty": [null, "", {"$var": "x"}]});
    assert_eq!(evaluate(&mapping, &json!({})).unwrap(), json!(null));
    assert_eq!(
        evaluate(&json!({"$firstNotEmpty": []}), &json!({})).unwrap(),
        json!(null)
    );
}

#[test]
fn later_values_are_not_evaluated() {
    // The second value would be an error; the first is not empty.
    let mapping = json!({"$firstNotEmpty": ["ok", {"$nope": 1}]});
    assert_eq!(evaluate(&mapping, &json!({})).unwrap(), json!("ok"));
}

#[test]
fn it_needs_a_list() {
    let err = evaluate(&json!({"name": {"$firstNotEmpty": "x"}}), &json!({})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`name`: `$firstNotEmpty` needs a list; got a string"
    );
}

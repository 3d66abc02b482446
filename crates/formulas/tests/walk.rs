//! The walk: formulas vs plain objects, scalars, unknown formulas.

use runtime_formulas::{evaluate, formula_name, known_formulas, FormulaError, PathSegment};
use serde_json::json;

#[test]
fn plain_values_come_back_unchanged() {
    let mapping = json!({"a": [1, "two", null, true, {"b": 2.5}], "c": {}, "d": []});
    assert_eq!(evaluate(&mapping, &json!({})).unwrap(), mapping);
    assert_eq!(evaluate(&json!("s"), &json!({})).unwrap(), json!("s"));
}

#[test]
fn formulas_are_evaluated_inside_objects_and_lists() {
    let context = json!({"x": 1});
    let mapping = json!({"a": [{"$var": "x"}, {"deep": {"$var": "$.x"}}], "b": {"$var": "x"}});
    assert_eq!(
        evaluate(&mapping, &context).unwrap(),
        json!({"a": [1, {"deep": 1}], "b": 1})
    );
}

#[test]
fn an_object_with_more_keys_is_not_a_formula() {
    let mapping = json!({"$var": "x", "other": {"$var": "x"}});
    assert_eq!(
        evaluate(&mapping, &json!({"x": 1})).unwrap(),
        json!({"$var": "x", "other": 1})
    );
    assert_eq!(formula_name(&mapping), None);
    assert_eq!(formula_name(&json!({"$x": 1})), Some("$x"));
    assert_eq!(formula_name(&json!({"x": 1})), None);
}

#[test]
fn an_unknown_formula_names_its_path_and_the_known_ones() {
    let mapping = json!({"args": {"headers": {"Authorization": {"$concatt": ["Bearer ", "t"]}}}});
    let err = evaluate(&mapping, &json!({})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`args.headers.Authorization`: unknown formula `$concatt` (did you mean `$concat`?); \
         known: $var, $concat, $case, $iterate, $firstNotEmpty"
    );
    assert_eq!(
        err.path().segments(),
        &[
            PathSegment::Key("args".into()),
            PathSegment::Key("headers".into()),
            PathSegment::Key("Authorization".into())
        ]
    );
    assert!(matches!(
        err,
        FormulaError::UnknownFormula {
            suggestion: Some("$concat"),
            ..
        }
    ));
}

#[test]
fn a_far_name_gets_no_suggestion_and_list_indexes_show() {
    let mapping = json!({"udm": [0, {"$jsonata": "$GlobalScope"}]});
    let err = evaluate(&mapping, &json!({})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`udm[1]`: unknown formula `$jsonata`; known: $var, $concat, $case, $iterate, $firstNotEmpty"
    );
    let top = evaluate(&json!({"$FirstNotEmpty": []}), &json!({})).unwrap_err();
    assert_eq!(
        top.to_string(),
        "`(top level)`: unknown formula `$FirstNotEmpty` (did you mean `$firstNotEmpty`?); \
         known: $var, $concat, $case, $iterate, $firstNotEmpty"
    );
}

#[test]
fn known_formulas_lists_each_once() {
    let names: Vec<_> = known_formulas().collect();
    assert_eq!(
        names,
        ["$var", "$concat", "$case", "$iterate", "$firstNotEmpty"]
    );
}

#[test]
fn a_formula_leaves_the_path_as_it_found_it() {
    // Each formula, then a sibling with an error: the error's path must
    // not carry the keys the formula walked through.
    let context = json!({"list": [1], "flag": true});
    for formula in [
        json!({"$var": "x"}),
        json!({"$concat": {"values": ["a"], "delimiter": ","}}),
        json!({"$case": {"cases": [{"filter": {"$eval": {"$var": "flag"}, "is": true}, "value": 1}]}}),
        json!({"$case": {"cases": [{"filter": {"$eval": 1, "is": 2}, "value": 1}], "default": 2}}),
        json!({"$iterate": {"source": {"$var": "list"}, "item": {"$var": "item"}}}),
        json!({"$firstNotEmpty": [null, "x"]}),
    ] {
        let mapping = json!({"a": {"b": formula.clone(), "c": {"$nope": 1}}});
        let err = evaluate(&mapping, &context).unwrap_err();
        assert_eq!(err.path().to_string(), "a.c", "after {formula}");
    }
}

//! `$case`: the first matching case, each condition, default, errors.

use runtime_formulas::{evaluate, FormulaError};
use serde_json::{json, Value};

/// `$case` with one case testing `subject` by `condition: operand`:
/// "yes" when it holds, "no" when not.
fn holds(subject: Value, condition: &str, operand: Value) -> bool {
    let mut filter = serde_json::Map::new();
    filter.insert("$eval".into(), json!({"$var": "subject"}));
    filter.insert(condition.into(), operand);
    let mapping =
        json!({"$case": {"cases": [{"filter": filter, "value": "yes"}], "default": "no"}});
    match evaluate(&mapping, &json!({"subject": subject})).unwrap() {
        Value::String(s) => s == "yes",
        other => panic!("{other}"),
    }
}

#[test]
fn is_and_is_not() {
    assert!(holds(json!(true), "is", json!(true)));
    assert!(!holds(json!("true"), "is", json!(true)));
    assert!(holds(json!(1), "is", json!(1.0)));
    assert!(holds(json!({"a": [1]}), "is", json!({"a": [1.0]})));
    assert!(holds(json!(null), "is", json!(null)));
    assert!(holds(json!("a"), "isNot", json!("b")));
    assert!(!holds(json!("a"), "isNot", json!("a")));
    // A missing path is null, which is not `false`.
    assert!(holds(json!(null), "isNot", json!(false)));
}

#[test]
fn empty_and_not_empty() {
    for empty in [json!(null), json!(""), json!([]), json!({})] {
        assert!(holds(empty.clone(), "isEmpty", json!(true)), "{empty}");
        assert!(!holds(empty.clone(), "isNotEmpty", json!(true)), "{empty}");
        assert!(holds(empty.clone(), "isNotEmpty", json!(false)), "{empty}");
    }
    for full in [
        json!(0),
        json!(false),
        json!(" "),
        json!([null]),
        json!({"a": null}),
    ] {
        assert!(holds(full.clone(), "isNotEmpty", json!(true)), "{full}");
        assert!(holds(full.clone(), "isEmpty", json!(false)), "{full}");
    }
}

#[test]
fn numeric_comparisons() {
    assert!(holds(json!(3), "gt", json!(2)));
    assert!(!holds(json!(2), "gt", json!(2)));
    assert!(holds(json!(2), "gte", json!(2)));
    assert!(holds(json!(1.5), "lt", json!(2)));
    assert!(holds(json!(2), "lte", json!(2)));
    assert!(!holds(json!(3), "lte", json!(2)));
    // Numeric strings (as APIs often send) compare as numbers: 10 > 9.
    assert!(holds(json!("10"), "gt", json!(9)));
    assert!(holds(json!("10"), "gt", json!("9")));
    // Other strings compare as text, so ISO dates order.
    assert!(holds(
        json!("2025-01-02T00:00:00Z"),
        "gt",
        json!("2024-12-31T00:00:00Z")
    ));
    // Anything else does not hold, either way round.
    assert!(!holds(json!(null), "gt", json!(0)));
    assert!(!holds(json!(null), "lte", json!(0)));
    assert!(!holds(json!([1]), "lt", json!(2)));
}

#[test]
fn contains_for_strings_and_lists() {
    assert!(holds(json!("sandbox.api"), "contains", json!("sandbox")));
    assert!(!holds(json!("api"), "contains", json!("sandbox")));
    assert!(holds(json!(["a", 2]), "contains", json!(2)));
    assert!(!holds(json!(["a"]), "contains", json!("b")));
    assert!(!holds(json!(null), "contains", json!("a")));
    assert!(!holds(json!(12), "contains", json!("1")));
}

#[test]
fn the_first_matching_case_wins_and_default_otherwise() {
    let mapping = json!({"$case": {
        "cases": [
            {"filter": {"$eval": {"$var": "n"}, "gt": 10}, "value": "big"},
            {"filter": {"$eval": {"$var": "n"}, "gt": 0}, "value": "positive"},
            {"filter": {"$eval": {"$var": "n"}, "gt": -100}, "value": "not reached for 5"}
        ],
        "default": "small"
    }});
    let at = |n: Value| evaluate(&mapping, &json!({"n": n})).unwrap();
    assert_eq!(at(json!(50)), json!("big"));
    assert_eq!(at(json!(5)), json!("positive"));
    assert_eq!(at(json!(-50)), json!("not reached for 5"));
    assert_eq!(at(json!(-500)), json!("small"));
}

#[test]
fn no_default_is_null_and_a_case_without_value_is_null() {
    let mapping = json!({"$case": {"cases": [{"filter": {"$eval": 1, "is": 2}, "value": 1}]}});
    assert_eq!(evaluate(&mapping, &json!({})).unwrap(), Value::Null);
    let mapping = json!({"$case": {"cases": [{"filter": {"$eval": 1, "is": 1}}], "default": 3}});
    assert_eq!(evaluate(&mapping, &json!({})).unwrap(), Value::Null);
}

#[test]
fn all_conditions_of_a_filter_must_hold() {
    let mapping = json!({"$case": {
        "cases": [{"filter": {"$eval": {"$var": "n"}, "gte": 1, "lte": 9}, "value": "digit"}],
        "default": "other"
    }});
    assert_eq!(
        evaluate(&mapping, &json!({"n": 5})).unwrap(),
        json!("digit")
    );
    assert_eq!(
        evaluate(&mapping, &json!({"n": 12})).unwrap(),
        json!("other")
    );
}

#[test]
fn a_list_of_filters_must_all_hold() {
    let mapping = json!({"$case": {
        "cases": [{"filter": [
            {"$eval": {"$var": "a"}, "is": 1},
            {"$eval": {"$var": "b"}, "isNotEmpty": true}
        ], "value": "both"}],
        "default": "not both"
    }});
    assert_eq!(
        evaluate(&mapping, &json!({"a": 1, "b": "x"})).unwrap(),
        json!("both")
    );
    assert_eq!(
        evaluate(&mapping, &json!({"a": 1})).unwrap(),
        json!("not both")
    );
    assert_eq!(
        evaluate(&mapping, &json!({"b": "x"})).unwrap(),
        json!("not both")
    );
}

#[test]
fn operands_are_evaluated() {
    let mapping = json!({"$case": {
        "cases": [{"filter": {"$eval": {"$var": "fields.kind"}, "is": {"$var": "parameters.kind"}}, "value": "same"}],
        "default": "different"
    }});
    let context = json!({"fields": {"kind": "deal"}, "parameters": {"kind": "deal"}});
    assert_eq!(evaluate(&mapping, &context).unwrap(), json!("same"));
}

#[test]
fn only_the_winning_branch_is_evaluated() {
    let mapping = json!({"$case": {
        "cases": [
            {"filter": {"$eval": 1, "is": 2}, "value": {"$broken": 1}},
            {"filter": {"$eval": 1, "is": 1}, "value": "ok"}
        ],
        "default": {"$broken": 2}
    }});
    assert_eq!(evaluate(&mapping, &json!({})).unwrap(), json!("ok"));
}

#[test]
fn wrong_shapes_name_their_path() {
    let bad = |mapping: Value| evaluate(&mapping, &json!({})).unwrap_err().to_string();
    assert_eq!(
        bad(json!({"baseUri": {"$case": {"default": 1}}})),
        "`baseUri`: `$case` needs `cases`, a list"
    );
    assert_eq!(
        bad(json!({"baseUri": {"$case": {"cases": {"filter": 1}}}})),
        "`baseUri.$case.cases`: `$case` needs `cases`, a list; got an object"
    );
    assert_eq!(
        bad(json!({"baseUri": {"$case": {"cases": [], "otherwise": 1}}})),
        "`baseUri`: `$case` takes `cases` and `default`, not `otherwise`"
    );
    assert_eq!(
        bad(json!({"baseUri": {"$case": {"cases": ["x"]}}})),
        "`baseUri.$case.cases[0]`: `$case` needs each case to be `{filter, value}`; got a string"
    );
    assert_eq!(
        bad(json!({"baseUri": {"$case": {"cases": [{"value": 1}]}}})),
        "`baseUri.$case.cases[0]`: `$case` needs `filter` in each case"
    );
    assert_eq!(
        bad(json!({"b": {"$case": {"cases": [{"filter": {"is": 1}, "value": 1}]}}})),
        "`b.$case.cases[0].filter`: `$case` needs `$eval` in a filter: the value to test"
    );
    assert!(bad(json!({"b": {"$case": {"cases": [{"filter": {"$eval": 1}, "value": 1}]}}}))
        .starts_with("`b.$case.cases[0].filter`: `$case` needs a condition beside `$eval` in a filter: is, isNot,"));
    assert_eq!(
        bad(json!({"b": {"$case": {"cases": [{"filter": {"$eval": 1, "isNotEmpty": "yes"}}]}}})),
        "`b.$case.cases[0].filter.isNotEmpty`: `$case` needs `isNotEmpty` to be true or false; got a string"
    );
}

#[test]
fn an_unknown_condition_suggests_the_close_one() {
    let mapping = json!({"b": {"$case": {"cases": [
        {"filter": {"$eval": 1, "is": 2}, "value": 1},
        {"filter": {"$eval": 1, "isNotEmty": true}, "value": 2}
    ]}}});
    let err = evaluate(&mapping, &json!({})).unwrap_err();
    assert!(matches!(
        err,
        FormulaError::UnknownCondition {
            suggestion: Some("isNotEmpty"),
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "`b.$case.cases[1].filter.isNotEmty`: unknown condition `isNotEmty` (did you mean `isNotEmpty`?); \
         known: is, isNot, isEmpty, isNotEmpty, gt, gte, lt, lte, contains"
    );
}

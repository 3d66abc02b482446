//! `$iterate`: `item` per element of `source`, with `$.item`, `$.index`,
//! `$.parent` and the outer context reachable.

use runtime_formulas::evaluate;
use serde_json::{json, Value};

#[test]
fn item_is_evaluated_per_element() {
    let context = json!({"fields": {"phone": [{"value": "+1", "primary": true}, {"value": "+2"}]}});
    let mapping = json!({"phones": {"$iterate": {
        "source": {"$var": "$.fields.phone"},
        "item": {"number": {"$var": "item.value"}, "at": {"$var": "$.index"}, "primary": {"$var": "$.item.primary"}}
    }}});
    assert_eq!(
        evaluate(&mapping, &context).unwrap(),
        json!({"phones": [
            {"number": "+1", "at": 0, "primary": true},
            {"number": "+2", "at": 1, "primary": null}
        ]})
    );
}

#[test]
fn the_outer_context_is_reachable_directly_and_as_parent() {
    let context =
        json!({"parameters": {"prefix": "id-"}, "fields": {"ids": [1, 2]}, "item": "outer item"});
    let mapping = json!({"$iterate": {
        "source": {"$var": "fields.ids"},
        "item": [
            {"$concat": [{"$var": "parameters.prefix"}, {"$var": "item"}]},
            {"$var": "$.parent.parameters.prefix"},
            // `item` is the element; the outer `item` is under `parent`.
            {"$var": "$.parent.item"}
        ]
    }});
    assert_eq!(
        evaluate(&mapping, &context).unwrap(),
        json!([["id-1", "id-", "outer item"], ["id-2", "id-", "outer item"]])
    );
}

#[test]
fn nested_iterates_see_each_level() {
    let context =
        json!({"groups": [{"name": "a", "members": [1, 2]}, {"name": "b", "members": [3]}]});
    let mapping = json!({"$iterate": {
        "source": {"$var": "groups"},
        "item": {"$iterate": {
            "source": {"$var": "item.members"},
            "item": {"$concat": {"values": [{"$var": "parent.item.name"}, {"$var": "item"}], "delimiter": ":"}}
        }}
    }});
    assert_eq!(
        evaluate(&mapping, &context).unwrap(),
        json!([["a:1", "a:2"], ["b:3"]])
    );
}

#[test]
fn dollar_inside_item_is_the_layered_context() {
    let context = json!({"k": 1});
    let mapping = json!({"$iterate": {"source": ["x"], "item": {"$var": "$"}}});
    assert_eq!(
        evaluate(&mapping, &context).unwrap(),
        json!([{"k": 1, "item": "x", "index": 0, "parent": {"k": 1}}])
    );
}

#[test]
fn a_missing_source_is_null_and_an_empty_one_an_empty_list() {
    let mapping = json!({"$iterate": {"source": {"$var": "nothing"}, "item": 1}});
    assert_eq!(evaluate(&mapping, &json!({})).unwrap(), Value::Null);
    let mapping = json!({"$iterate": {"source": [], "item": {"$broken": 1}}});
    assert_eq!(evaluate(&mapping, &json!({})).unwrap(), json!([]));
}

#[test]
fn wrong_shapes_name_their_path() {
    let bad = |mapping: Value| {
        evaluate(&mapping, &json!({"o": {"a": 1}}))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        bad(json!({"x": {"$iterate": [1]}})),
        "`x`: `$iterate` needs `{source, item}`; got a list"
    );
    assert_eq!(
        bad(json!({"x": {"$iterate": {"source": []}}})),
        "`x`: `$iterate` needs `item` (it takes `{source, item}`)"
    );
    assert_eq!(
        bad(json!({"x": {"$iterate": {"item": 1}}})),
        "`x`: `$iterate` needs `source` (it takes `{source, item}`)"
    );
    assert_eq!(
        bad(json!({"x": {"$iterate": {"source": [], "item": 1, "as": "y"}}})),
        "`x`: `$iterate` takes `source` and `item`, not `as`"
    );
    assert_eq!(
        bad(json!({"x": {"$iterate": {"source": {"$var": "o"}, "item": 1}}})),
        "`x.$iterate.source`: `$iterate` needs `source` to be a list; got an object"
    );
    assert_eq!(
        bad(json!({"x": {"$iterate": {"source": [1], "item": {"y": {"$vr": "item"}}}}})),
        "`x.$iterate.item.y`: unknown formula `$vr` (did you mean `$var`?); \
         known: $var, $concat, $case, $iterate, $firstNotEmpty"
    );
}

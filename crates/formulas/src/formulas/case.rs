//! `$case: {cases: [{filter: {$eval: <value>, <condition>: <operand>}, value}], default}`:
//! the `value` of the first case whose filter holds (only that one is
//! evaluated), else `default` (null when absent).
//!
//! A filter evaluates `$eval` and tests it with one or more conditions
//! (all must hold), each from [`CONDITIONS`]:
//!
//! - `is` / `isNot`: equal or not (numbers compare by value, `1` is `1.0`);
//! - `isEmpty` / `isNotEmpty`: `true` or `false`; empty is null, `""`,
//!   `[]`, `{}`;
//! - `gt` / `gte` / `lt` / `lte`: numbers (numeric strings count as numbers),
//!   or else two strings compared as text (ISO dates order so); any other
//!   pair does not hold;
//! - `contains`: a string containing a string, or a list holding an equal
//!   element; anything else does not hold.
//!
//! Operands are evaluated too, so `is: {$var: $.parameters.kind}` works.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::{eval_key, is_empty};
use crate::error::{closest, type_name, FormulaError, KeyPath};
use crate::scope::Scope;

pub(crate) const NAME: &str = "$case";

type Test = fn(&Value, &Value, &KeyPath) -> Result<bool, FormulaError>;

/// Every condition a filter may use, by name.
static CONDITIONS: &[(&str, Test)] = &[
    ("is", |v, o, _| Ok(equal(v, o))),
    ("isNot", |v, o, _| Ok(!equal(v, o))),
    ("isEmpty", |v, o, p| {
        Ok(is_empty(v) == flag("isEmpty", o, p)?)
    }),
    ("isNotEmpty", |v, o, p| {
        Ok(is_empty(v) != flag("isNotEmpty", o, p)?)
    }),
    ("gt", |v, o, _| Ok(order(v, o) == Some(Ordering::Greater))),
    ("gte", |v, o, _| {
        Ok(matches!(
            order(v, o),
            Some(Ordering::Greater | Ordering::Equal)
        ))
    }),
    ("lt", |v, o, _| Ok(order(v, o) == Some(Ordering::Less))),
    ("lte", |v, o, _| {
        Ok(matches!(
            order(v, o),
            Some(Ordering::Less | Ordering::Equal)
        ))
    }),
    ("contains", |v, o, _| Ok(contains(v, o))),
];

pub(crate) fn eval(arg: &Value, scope: &Scope, path: &mut KeyPath) -> Result<Value, FormulaError> {
    let Value::Object(map) = arg else {
        return Err(FormulaError::bad(
            path,
            NAME,
            format!("needs `{{cases, default}}`; got {}", type_name(arg)),
        ));
    };
    if let Some(key) = map.keys().find(|k| *k != "cases" && *k != "default") {
        return Err(FormulaError::bad(
            path,
            NAME,
            format!("takes `cases` and `default`, not `{key}`"),
        ));
    }
    let cases = match map.get("cases") {
        Some(Value::Array(cases)) => cases,
        Some(other) => {
            path.push_key(NAME);
            path.push_key("cases");
            return Err(FormulaError::bad(
                path,
                NAME,
                format!("needs `cases`, a list; got {}", type_name(other)),
            ));
        }
        None => return Err(FormulaError::bad(path, NAME, "needs `cases`, a list")),
    };
    path.push_key(NAME);
    path.push_key("cases");
    for (i, case) in cases.iter().enumerate() {
        path.push_index(i);
        let Value::Object(case) = case else {
            return Err(FormulaError::bad(
                path,
                NAME,
                format!(
                    "needs each case to be `{{filter, value}}`; got {}",
                    type_name(case)
                ),
            ));
        };
        if let Some(key) = case.keys().find(|k| *k != "filter" && *k != "value") {
            return Err(FormulaError::bad(
                path,
                NAME,
                format!("takes `filter` and `value` in a case, not `{key}`"),
            ));
        }
        let Some(filter) = case.get("filter") else {
            return Err(FormulaError::bad(path, NAME, "needs `filter` in each case"));
        };
        path.push_key("filter");
        let holds = filter_holds(filter, scope, path)?;
        path.pop();
        if holds {
            return match case.get("value") {
                Some(value) => eval_key(value, "value", scope, path),
                None => Ok(Value::Null),
            };
        }
        path.pop();
    }
    path.pop();
    match map.get("default") {
        Some(default) => eval_key(default, "default", scope, path),
        None => Ok(Value::Null),
    }
}

/// Whether a filter (at `path`) holds.
fn filter_holds(filter: &Value, scope: &Scope, path: &mut KeyPath) -> Result<bool, FormulaError> {
    let filter = match filter {
        Value::Object(map) => map,
        // A list of filters: all must hold.
        Value::Array(filters) => {
            for (i, f) in filters.iter().enumerate() {
                path.push_index(i);
                let holds = filter_holds(f, scope, path)?;
                path.pop();
                if !holds {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        other => {
            return Err(FormulaError::bad(
                path,
                NAME,
                format!(
                    "needs `filter` to be `{{$eval, <condition>}}`; got {}",
                    type_name(other)
                ),
            ))
        }
    };
    let Some(subject) = filter.get("$eval") else {
        return Err(FormulaError::bad(
            path,
            NAME,
            "needs `$eval` in a filter: the value to test",
        ));
    };
    let subject = eval_key(subject, "$eval", scope, path)?;
    let conditions: Vec<(&String, &Value)> = filter.iter().filter(|(k, _)| *k != "$eval").collect();
    if conditions.is_empty() {
        return Err(FormulaError::bad(
            path,
            NAME,
            format!(
                "needs a condition beside `$eval` in a filter: {}",
                condition_names().join(", ")
            ),
        ));
    }
    for (name, operand) in conditions {
        let Some((_, test)) = CONDITIONS.iter().find(|(n, _)| n == name) else {
            path.push_key(name);
            return Err(unknown_condition(name, path));
        };
        let operand = eval_key(operand, name, scope, path)?;
        path.push_key(name);
        let holds = test(&subject, &operand, path)?;
        path.pop();
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

fn condition_names() -> Vec<&'static str> {
    CONDITIONS.iter().map(|(n, _)| *n).collect()
}

fn unknown_condition(name: &str, path: &KeyPath) -> FormulaError {
    let known = condition_names();
    FormulaError::UnknownCondition {
        path: path.clone(),
        name: name.to_owned(),
        suggestion: closest(name, &known),
        known,
    }
}

/// `isEmpty: true` and the like: the operand must be a boolean.
fn flag(condition: &str, operand: &Value, path: &KeyPath) -> Result<bool, FormulaError> {
    operand.as_bool().ok_or_else(|| {
        FormulaError::bad(
            path,
            NAME,
            format!(
                "needs `{condition}` to be true or false; got {}",
                type_name(operand)
            ),
        )
    })
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => objects_equal(x, y),
        _ => a == b,
    }
}

fn objects_equal(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// How `a` orders against `b`: as numbers when both are, else as two
/// strings, else not at all.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.partial_cmp(&y);
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match (haystack, needle) {
        (Value::String(h), Value::String(n)) => h.contains(n.as_str()),
        (Value::Array(list), needle) => list.iter().any(|e| equal(e, needle)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_is_listed_once() {
        let mut names = condition_names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CONDITIONS.len());
    }
}

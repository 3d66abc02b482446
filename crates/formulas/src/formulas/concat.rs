//! `$concat: [<value>, ...]` or `$concat: {values: [...], delimiter: ","}`:
//! the values joined as one string. Null parts are skipped (and take no
//! delimiter); strings join as they are, numbers and booleans as JSON, lists
//! and objects as compact JSON. The result is always a string (`""` when
//! every part is null).

use serde_json::Value;

use super::{eval_index, eval_key};
use crate::error::{type_name, FormulaError, KeyPath};
use crate::scope::Scope;

pub(crate) const NAME: &str = "$concat";

pub(crate) fn eval(arg: &Value, scope: &Scope, path: &mut KeyPath) -> Result<Value, FormulaError> {
    let (values, delimiter) = match arg {
        Value::Array(values) => {
            path.push_key(NAME);
            (values, String::new())
        }
        Value::Object(map) => {
            let values = match map.get("values") {
                Some(Value::Array(values)) => values,
                Some(other) => {
                    path.push_key(NAME);
                    path.push_key("values");
                    return Err(FormulaError::bad(
                        path,
                        NAME,
                        format!("needs `values`, a list; got {}", type_name(other)),
                    ));
                }
                None => return Err(FormulaError::bad(path, NAME, "needs `values`, a list")),
            };
            if let Some(key) = map.keys().find(|k| *k != "values" && *k != "delimiter") {
                return Err(FormulaError::bad(
                    path,
                    NAME,
                    format!("takes `values` and `delimiter`, not `{key}`"),
                ));
            }
            path.push_key(NAME);
            let delimiter = match map.get("delimiter") {
                None => String::new(),
                Some(d) => match eval_key(d, "delimiter", scope, path)? {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => {
                        path.push_key("delimiter");
                        return Err(FormulaError::bad(
                            path,
                            NAME,
                            format!(
                                "needs `delimiter` to be a string; got {}",
                                type_name(&other)
                            ),
                        ));
                    }
                },
            };
            path.push_key("values");
            (values, delimiter)
        }
        other => {
            return Err(FormulaError::bad(
                path,
                NAME,
                format!(
                    "needs a list, or `{{values, delimiter}}`; got {}",
                    type_name(other)
                ),
            ))
        }
    };
    let mut out = String::new();
    let mut first = true;
    for (i, value) in values.iter().enumerate() {
        let part = eval_index(value, i, scope, path)?;
        if part.is_null() {
            continue;
        }
        if !first {
            out.push_str(&delimiter);
        }
        first = false;
        match part {
            Value::String(s) => out.push_str(&s),
            other => out.push_str(&other.to_string()),
        }
    }
    Ok(Value::String(out))
}

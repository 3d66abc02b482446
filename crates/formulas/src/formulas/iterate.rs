//! `$iterate: {source: <list>, item: <mapping>}`: `item` evaluated once per
//! element of `source`, giving a list. Inside `item`, `$.item` is the
//! element, `$.index` its position, `$.parent` the outer context (for
//! nested `$iterate`s: `$.parent.item`), and any other path reads the outer
//! context as it is (`$.fields.x` still works). A null (missing) source
//! gives null; any other non-list source is an error.

use serde_json::Value;

use super::eval_key;
use crate::error::{type_name, FormulaError, KeyPath};
use crate::scope::Scope;

pub(crate) const NAME: &str = "$iterate";

pub(crate) fn eval(arg: &Value, scope: &Scope, path: &mut KeyPath) -> Result<Value, FormulaError> {
    let Value::Object(map) = arg else {
        return Err(FormulaError::bad(
            path,
            NAME,
            format!("needs `{{source, item}}`; got {}", type_name(arg)),
        ));
    };
    let (Some(source), Some(item)) = (map.get("source"), map.get("item")) else {
        let missing = if map.contains_key("source") {
            "item"
        } else {
            "source"
        };
        return Err(FormulaError::bad(
            path,
            NAME,
            format!("needs `{missing}` (it takes `{{source, item}}`)"),
        ));
    };
    if let Some(key) = map.keys().find(|k| *k != "source" && *k != "item") {
        return Err(FormulaError::bad(
            path,
            NAME,
            format!("takes `source` and `item`, not `{key}`"),
        ));
    }
    path.push_key(NAME);
    let elements = match eval_key(source, "source", scope, path)? {
        Value::Array(elements) => elements,
        Value::Null => return Ok(Value::Null),
        other => {
            path.push_key("source");
            return Err(FormulaError::bad(
                path,
                NAME,
                format!("needs `source` to be a list; got {}", type_name(&other)),
            ));
        }
    };
    let mut out = Vec::with_capacity(elements.len());
    for (index, element) in elements.iter().enumerate() {
        let inner = Scope::Item {
            item: element,
            index,
            parent: scope,
        };
        out.push(eval_key(item, "item", &inner, path)?);
    }
    Ok(Value::Array(out))
}

//! `$var: <path>`: the value at a path of the context, null when missing.
//! Paths: `$.a.b`, bare `a.b`, `$.items[0].id`, `$` for the whole context
//! (see `crate::scope`).

use serde_json::Value;

use crate::error::{type_name, FormulaError, KeyPath};
use crate::scope::{parse_path, Scope};

pub(crate) const NAME: &str = "$var";

pub(crate) fn eval(arg: &Value, scope: &Scope, path: &mut KeyPath) -> Result<Value, FormulaError> {
    let Value::String(text) = arg else {
        return Err(FormulaError::bad(
            path,
            NAME,
            format!(
                "needs a path, a string such as `$.fields.id`; got {}",
                type_name(arg)
            ),
        ));
    };
    let steps = parse_path(text).map_err(|message| FormulaError::bad(path, NAME, message))?;
    Ok(scope
        .resolve(&steps)
        .map(|value| value.into_owned())
        .unwrap_or(Value::Null))
}

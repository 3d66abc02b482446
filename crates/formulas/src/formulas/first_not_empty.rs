//! `$firstNotEmpty: [<value>, ...]`: the first value that is not empty
//! (null, `""`, `[]`, `{}`), evaluated in order and no further; null when
//! every one is empty.

use serde_json::Value;

use super::{eval_index, is_empty};
use crate::error::{type_name, FormulaError, KeyPath};
use crate::scope::Scope;

pub(crate) const NAME: &str = "$firstNotEmpty";

pub(crate) fn eval(arg: &Value, scope: &Scope, path: &mut KeyPath) -> Result<Value, FormulaError> {
    let Value::Array(values) = arg else {
        return Err(FormulaError::bad(
            path,
            NAME,
            format!("needs a list; got {}", type_name(arg)),
        ));
    };
    path.push_key(NAME);
    for (i, value) in values.iter().enumerate() {
        let value = eval_index(value, i, scope, path)?;
        if !is_empty(&value) {
            return Ok(value);
        }
    }
    Ok(Value::Null)
}

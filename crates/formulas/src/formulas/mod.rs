//! The formula table: a name and the function that evaluates it. Each
//! formula (or family) is one module; adding one is a module and a line in
//! [`FORMULAS`].
//!
//! A formula function gets its argument (the value under its `$`-key)
//! unevaluated, the scope, and the key path of the object holding the
//! formula; it evaluates what it needs (so `$case` evaluates only the
//! winning branch), pushing `$name` and its own keys on the path as it goes
//! (the walk restores the path after a formula succeeds; on an error the
//! path at that moment is the one reported).

use serde_json::Value;

use crate::error::{FormulaError, KeyPath};
use crate::scope::Scope;

mod case;
mod concat;
mod first_not_empty;
mod iterate;
mod var;

/// A formula's evaluation function.
pub(crate) type Eval = fn(&Value, &Scope, &mut KeyPath) -> Result<Value, FormulaError>;

pub(crate) struct Formula {
    pub(crate) name: &'static str,
    pub(crate) eval: Eval,
}

/// Every formula, by name.
pub(crate) static FORMULAS: &[Formula] = &[
    Formula {
        name: var::NAME,
        eval: var::eval,
    },
    Formula {
        name: concat::NAME,
        eval: concat::eval,
    },
    Formula {
        name: case::NAME,
        eval: case::eval,
    },
    Formula {
        name: iterate::NAME,
        eval: iterate::eval,
    },
    Formula {
        name: first_not_empty::NAME,
        eval: first_not_empty::eval,
    },
];

pub(crate) fn find(name: &str) -> Option<&'static Formula> {
    FORMULAS.iter().find(|f| f.name == name)
}

/// Empty: null, `""`, `[]` or `{}` (not `0`, not `false`). Shared by
/// `$case`'s `isEmpty`/`isNotEmpty` and `$firstNotEmpty`.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(list) => list.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Evaluates `value`, the child of the current path at `key`.
pub(crate) fn eval_key(
    value: &Value,
    key: &str,
    scope: &Scope,
    path: &mut KeyPath,
) -> Result<Value, FormulaError> {
    path.push_key(key);
    let out = crate::eval(value, scope, path)?;
    path.pop();
    Ok(out)
}

/// Evaluates `value`, the child of the current path at `index`.
pub(crate) fn eval_index(
    value: &Value,
    index: usize,
    scope: &Scope,
    path: &mut KeyPath,
) -> Result<Value, FormulaError> {
    path.push_index(index);
    let out = crate::eval(value, scope, path)?;
    path.pop();
    Ok(out)
}

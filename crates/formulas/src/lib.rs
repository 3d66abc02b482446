//! Membrane's mapping formulas, evaluated over a JSON context.
//!
//! A Membrane connector writes some of its functions as YAML mappings
//! (`auth/make-api-client.yml`, `record-from-fields.map.yml`, the
//! parameters an `extends` passes down): plain values in which an object
//! with a single `$`-key is a formula, such as
//! `{$concat: ['Bearer ', {$var: credentials.access_token}]}`.
//! [`evaluate`] walks such a mapping (already parsed into a
//! [`serde_json::Value`]) and replaces every formula by its value, read from
//! a context such as `{"credentials": {...}, "parameters": {...}}` or
//! `{"fields": <raw record>}`.
//!
//! This crate owns:
//!
//! - the walk ([`evaluate`]): formulas are evaluated, other objects and
//!   lists are walked, scalars stay;
//! - the formulas, one module each under `formulas/`, found by name in one
//!   table (`formulas::FORMULAS`; [`known_formulas`] lists them): `$var`,
//!   `$concat`, `$case` (with its filter conditions), `$iterate`,
//!   `$firstNotEmpty`;
//! - [`FormulaError`]: what is wrong, at which key path, with a
//!   did-you-mean for a misspelt formula or condition.
//!
//! It must not do I/O, run JavaScript (or JSONata: `$jsonata` is an unknown
//! formula here), know connector files, specs or strategies, or decide what
//! a mapping's result means: its callers read files, build the context,
//! and name the file in their own errors. Evaluation is pure: the same
//! mapping and context give the same value.
//!
//! Adding a formula: a module under `formulas/` with a
//! `fn(&Value, &Scope, &mut KeyPath) -> Result<Value, FormulaError>`, and
//! one line in `formulas::FORMULAS`.

mod error;
mod formulas;
mod scope;

pub use error::{FormulaError, KeyPath, PathSegment};

use serde_json::{Map, Value};

use scope::Scope;

/// Evaluates every formula in `value` against `context`.
///
/// ```
/// use serde_json::json;
/// let mapping = json!({"args": {"headers": {"Authorization":
///     {"$concat": ["Bearer ", {"$var": "credentials.access_token"}]}}}});
/// let context = json!({"credentials": {"access_token": "t0k"}});
/// assert_eq!(
///     runtime_formulas::evaluate(&mapping, &context).unwrap(),
///     json!({"args": {"headers": {"Authorization": "Bearer t0k"}}})
/// );
/// ```
///
/// An object whose single key starts with `$` is a formula (an unknown name
/// is an error); other objects and lists are walked recursively, and
/// scalars are returned as they are. `$var` paths read `context`: `$.a.b`,
/// bare `a.b`, `$.items[0].id`, `$` for all of it; a missing path is null.
pub fn evaluate(value: &Value, context: &Value) -> Result<Value, FormulaError> {
    eval(value, &Scope::Root(context), &mut KeyPath::new())
}

/// The names of the formulas [`evaluate`] knows, in the order error
/// messages list them.
pub fn known_formulas() -> impl Iterator<Item = &'static str> {
    formulas::FORMULAS.iter().map(|f| f.name)
}

/// The formula name of `value` if it is a formula: an object with a single
/// key starting with `$` (known or not).
pub fn formula_name(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) if map.len() == 1 => map
            .keys()
            .next()
            .map(String::as_str)
            .filter(|k| k.starts_with('$')),
        _ => None,
    }
}

/// The walk: `value` is at `path` and reads `scope`.
pub(crate) fn eval(
    value: &Value,
    scope: &Scope,
    path: &mut KeyPath,
) -> Result<Value, FormulaError> {
    match value {
        Value::Object(map) => {
            if let Some(name) = formula_name(value) {
                let formula = formulas::find(name).ok_or_else(|| unknown_formula(name, path))?;
                // A formula pushes its own keys as it descends; on success
                // the path is restored here, so it need not pop them.
                let depth = path.len();
                let out = (formula.eval)(&map[name], scope, path)?;
                path.truncate(depth);
                return Ok(out);
            }
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map {
                path.push_key(key);
                out.insert(key.clone(), eval(item, scope, path)?);
                path.pop();
            }
            Ok(Value::Object(out))
        }
        Value::Array(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (i, item) in list.iter().enumerate() {
                path.push_index(i);
                out.push(eval(item, scope, path)?);
                path.pop();
            }
            Ok(Value::Array(out))
        }
        scalar => Ok(scalar.clone()),
    }
}

fn unknown_formula(name: &str, path: &KeyPath) -> FormulaError {
    let known: Vec<&'static str> = known_formulas().collect();
    FormulaError::UnknownFormula {
        path: path.clone(),
        name: name.to_owned(),
        suggestion: error::closest(name, &known),
        known,
    }
}

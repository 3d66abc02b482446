//! Parameters: merging, JSON-Schema `default`s, and validation.

use std::fmt;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::typed::kind;
use crate::{Connection, Connector};

/// One failing field: its JSON pointer in the parameters and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("no collection `{0}` in this connector")]
    UnknownCollection(String),
    #[error(
        "parameters for {target}{}: must be a mapping, not {found}",
        from_file(file)
    )]
    NotAMapping {
        target: String,
        file: Option<PathBuf>,
        found: &'static str,
    },
    #[error("{}: `parametersSchema` of {target} is not a valid JSON Schema: {message}", file.display())]
    Schema {
        target: String,
        file: PathBuf,
        message: String,
    },
    /// An `extends.parameters` formula that failed over the collection's
    /// own parameters.
    #[error("{}{}: `{key}` (parameters for {target}): {message}", file.display(), location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Formula {
        target: String,
        file: PathBuf,
        location: Option<(usize, usize)>,
        key: String,
        message: String,
    },
    #[error("invalid parameters for {target}{}: {}", from_file(file), list(errors))]
    Invalid {
        target: String,
        file: Option<PathBuf>,
        errors: Vec<FieldError>,
    },
}

fn from_file(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map(|f| format!(" (connection file {})", f.display()))
        .unwrap_or_default()
}

fn list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Fills in `default`s of `properties`, recursing into objects present or
/// just created from a default (and through `allOf`).
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for sub in all {
            apply_defaults(sub, value);
        }
    }
    let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object_mut(),
    ) else {
        return;
    };
    for (key, sub) in props {
        if !obj.contains_key(key) {
            if let Some(default) = sub.get("default") {
                obj.insert(key.clone(), default.clone());
            }
        }
        if let Some(v) = obj.get_mut(key) {
            apply_defaults(sub, v);
        }
    }
}

/// Each `default` that [`apply_defaults`] would use and that fails the schema
/// of its own property (after its own nested defaults are applied, as at run
/// time): the key path below `schema`, ending in `default`, and why.
/// A property schema that cannot be compiled on its own (a `$ref` to the
/// root) is not checked.
pub(crate) fn bad_defaults(schema: &Value) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    walk_defaults(schema, &mut Vec::new(), &mut out);
    out
}

fn walk_defaults(schema: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for (i, sub) in all.iter().enumerate() {
            path.extend(["allOf".to_string(), i.to_string()]);
            walk_defaults(sub, path, out);
            path.truncate(path.len() - 2);
        }
    }
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, sub) in props {
        path.extend(["properties".to_string(), key.clone()]);
        if let (Some(default), Ok(validator)) = (sub.get("default"), jsonschema::validator_for(sub))
        {
            let mut filled = default.clone();
            apply_defaults(sub, &mut filled);
            let reasons: Vec<String> = validator
                .iter_errors(&filled)
                .map(|e| match e.instance_path().to_string() {
                    at if at.is_empty() => e.to_string(),
                    at => format!("{at}: {e}"),
                })
                .collect();
            if !reasons.is_empty() {
                let mut at = path.clone();
                at.push("default".into());
                let message = format!(
                    "the default {} does not satisfy its own schema: {}",
                    brief(default),
                    reasons.join("; ")
                );
                out.push((at, message));
            }
        }
        walk_defaults(sub, path, out);
        path.truncate(path.len() - 2);
    }
}

/// A spec value for a message (spec defaults are not secrets).
fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= 60 {
        s
    } else {
        format!("{}...", s.chars().take(57).collect::<String>())
    }
}

fn as_mapping(
    v: &Value,
    target: &str,
    file: &Option<PathBuf>,
) -> Result<Map<String, Value>, ParamError> {
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m.clone()),
        other => Err(ParamError::NotAMapping {
            target: target.into(),
            file: file.clone(),
            found: kind(other),
        }),
    }
}

/// The collection's own parameters (`own`: connector, connection and call
/// parameters), then what each `extends` passes down, nearest first: each
/// level's `parameters` evaluated as formulas over the parameters so far
/// (`{$var: $.parameters.path}` reads the extending collection's own), and
/// merged over them, so a base sees what its extender passed it. Defaults
/// of the collection's schema are applied first, so formulas see them.
fn passed_down(
    c: &crate::Collection,
    own: Map<String, Value>,
    target: &str,
) -> Result<Map<String, Value>, ParamError> {
    let mut acc = Value::Object(own);
    if let Some(schema) = &c.parameters_schema {
        apply_defaults(schema, &mut acc);
    }
    for level in c.levels.iter().skip(1) {
        let Some(given) = &level.given else {
            continue;
        };
        let context = serde_json::json!({ "parameters": acc });
        let value = runtime_formulas::evaluate(&given.value, &context).map_err(|e| {
            ParamError::Formula {
                target: target.to_string(),
                file: given.file.clone(),
                location: given.location,
                key: given.key.join("."),
                message: e.to_string(),
            }
        })?;
        if let (Value::Object(into), Value::Object(from)) = (&mut acc, value) {
            into.extend(from);
        }
    }
    match acc {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

/// Defaults, then validation; messages are masked because parameters may hold
/// secrets (OAuth client secrets are connector parameters in Membrane).
fn check(
    schema: Option<&Value>,
    mut value: Value,
    target: &str,
    spec_file: PathBuf,
    file: &Option<PathBuf>,
) -> Result<Value, ParamError> {
    let Some(schema) = schema else {
        return Ok(value);
    };
    apply_defaults(schema, &mut value);
    let validator = jsonschema::validator_for(schema).map_err(|e| ParamError::Schema {
        target: target.into(),
        file: spec_file,
        message: e.to_string(),
    })?;
    let errors: Vec<FieldError> = validator
        .iter_errors(&value)
        .map(|e| FieldError {
            pointer: e.instance_path().to_string(),
            message: e.masked().to_string(),
        })
        .collect();
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(ParamError::Invalid {
            target: target.into(),
            file: file.clone(),
            errors,
        })
    }
}

impl Connector {
    /// The connection's `parameters` with the connector schema's defaults, validated.
    pub fn connector_parameters(&self, conn: &Connection) -> Result<Value, ParamError> {
        let target = format!("connector `{}`", self.spec.key);
        let value = Value::Object(as_mapping(&conn.parameters, &target, &conn.source)?);
        check(
            self.spec.parameters_schema.as_ref(),
            value,
            &target,
            self.spec.spec_file.clone(),
            &conn.source,
        )
    }

    /// Connector parameters, then the connection's collection parameters, then
    /// `call` (a shallow merge, later wins); collection defaults applied and
    /// the result validated against the collection's `parametersSchema`.
    pub fn collection_parameters(
        &self,
        collection: &str,
        conn: &Connection,
        call: Option<&Value>,
    ) -> Result<Value, ParamError> {
        let c = self
            .collections
            .get(collection)
            .ok_or_else(|| ParamError::UnknownCollection(collection.to_string()))?;
        let target = format!("collection `{collection}`");
        let mut merged = as_mapping(&self.connector_parameters(conn)?, &target, &conn.source)?;
        if let Some(cc) = conn.collections.get(collection) {
            merged.extend(as_mapping(&cc.parameters, &target, &conn.source)?);
        }
        if let Some(call) = call {
            merged.extend(as_mapping(call, &format!("{target} (call input)"), &None)?);
        }
        let merged = passed_down(c, merged, &target)?;
        let spec_file = c
            .spec_file
            .clone()
            .unwrap_or_else(|| format!("data/{collection}").into());
        check(
            c.parameters_schema.as_ref(),
            Value::Object(merged),
            &target,
            spec_file,
            &conn.source,
        )
    }
}

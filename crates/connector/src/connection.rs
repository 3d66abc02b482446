//! The connection file: credentials, parameters and per-collection settings,
//! with `${VAR}` taken from the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::specfile::parse_text;
use crate::typed::kind;
use crate::Connector;

#[derive(Debug, Clone, PartialEq)]
pub struct CollectionConnection {
    pub enabled: bool,
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Top-level `id`: which connection this is, so the state store can
    /// record the connection it belongs to and the default data directory can
    /// be per connection. `None` when the file has none.
    pub id: Option<String>,
    pub credentials: Value,
    pub parameters: Value,
    pub collections: BTreeMap<String, CollectionConnection>,
    /// The file it came from, for messages.
    pub source: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("cannot read connection file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{}: {message}", path.display(), location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Syntax {
        path: PathBuf,
        location: Option<(usize, usize)>,
        message: String,
    },
    #[error("{}: `{pointer}` uses ${{{var}}} but the environment variable {var} is not set", path.display())]
    MissingVar {
        path: PathBuf,
        var: String,
        pointer: String,
    },
    #[error("{}: `{pointer}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        pointer: String,
        message: String,
    },
}

impl Connection {
    /// No credentials, no parameters, every collection enabled.
    pub fn empty() -> Connection {
        Connection {
            id: None,
            credentials: Value::Object(Map::new()),
            parameters: Value::Object(Map::new()),
            collections: BTreeMap::new(),
            source: None,
        }
    }

    /// A collection the file does not name is enabled.
    pub fn is_enabled(&self, collection: &str) -> bool {
        self.collections.get(collection).is_none_or(|c| c.enabled)
    }

    /// Collections named in the file that the connector does not have.
    pub fn unknown_collections(&self, connector: &Connector) -> Vec<String> {
        self.collections
            .keys()
            .filter(|k| !connector.collections.contains_key(*k))
            .cloned()
            .collect()
    }
}

/// Reads a connection file (JSON or YAML by extension, else by its first
/// character). `${VAR}` in string values comes from `env`; `$${` is a literal `${`.
/// Top-level keys: `id`, `credentials`, `parameters`, `collections`.
pub fn load_connection(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Connection, ConnectionError> {
    let p = path.to_path_buf();
    let text = std::fs::read_to_string(path).map_err(|source| ConnectionError::Io {
        path: p.clone(),
        source,
    })?;
    let json = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => true,
        Some("yml" | "yaml") => false,
        _ => text.trim_start().starts_with('{'),
    };
    let value = parse_text(&text, json).map_err(|(message, location)| ConnectionError::Syntax {
        path: p.clone(),
        location,
        message,
    })?;
    // Substituting after parsing: a value cannot break the file's syntax.
    let value = substitute(value, "", path, env)?;
    let invalid = |pointer: &str, message: String| ConnectionError::Invalid {
        path: p.clone(),
        pointer: pointer.to_string(),
        message,
    };
    let mut top = match value {
        Value::Null => Map::new(),
        Value::Object(m) => m,
        other => {
            return Err(invalid(
                "",
                format!("must be a mapping, not {}", kind(&other)),
            ))
        }
    };
    if let Some(key) = top
        .keys()
        .find(|k| !["id", "credentials", "parameters", "collections"].contains(&k.as_str()))
    {
        return Err(invalid(
            &format!("/{key}"),
            "unknown key; expected id, credentials, parameters or collections".into(),
        ));
    }
    let id = match top.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        Some(Value::String(_)) => {
            return Err(invalid("/id", "must be a non-empty string".into()));
        }
        Some(other) => {
            return Err(invalid(
                "/id",
                format!("must be a non-empty string, not {}", kind(&other)),
            ))
        }
    };
    let credentials = take_object(&mut top, "credentials", "", &invalid)?;
    let parameters = take_object(&mut top, "parameters", "", &invalid)?;
    let mut collections = BTreeMap::new();
    let cols = take_object(&mut top, "collections", "", &invalid)?;
    if let Value::Object(cols) = cols {
        for (key, v) in cols {
            let ptr = format!("/collections/{key}");
            let mut entry = match v {
                Value::Null => Map::new(),
                Value::Object(m) => m,
                other => {
                    return Err(invalid(
                        &ptr,
                        format!("must be a mapping, not {}", kind(&other)),
                    ))
                }
            };
            if let Some(k) = entry
                .keys()
                .find(|k| !["enabled", "parameters"].contains(&k.as_str()))
            {
                return Err(invalid(
                    &format!("{ptr}/{k}"),
                    "unknown key; expected enabled or parameters".into(),
                ));
            }
            let enabled = match entry.remove("enabled") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => b,
                Some(other) => {
                    return Err(invalid(
                        &format!("{ptr}/enabled"),
                        format!("must be true or false, not {}", kind(&other)),
                    ))
                }
            };
            let parameters = take_object(&mut entry, "parameters", &ptr, &invalid)?;
            collections.insert(
                key,
                CollectionConnection {
                    enabled,
                    parameters,
                },
            );
        }
    }
    Ok(Connection {
        id,
        credentials,
        parameters,
        collections,
        source: Some(p),
    })
}

fn take_object(
    map: &mut Map<String, Value>,
    key: &str,
    ptr: &str,
    invalid: &dyn Fn(&str, String) -> ConnectionError,
) -> Result<Value, ConnectionError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(other) => Err(invalid(
            &format!("{ptr}/{key}"),
            format!("must be a mapping, not {}", kind(&other)),
        )),
    }
}

fn substitute(
    value: Value,
    pointer: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, ConnectionError> {
    Ok(match value {
        Value::String(s) => Value::String(expand(&s, pointer, path, env)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| substitute(v, &format!("{pointer}/{i}"), path, env))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let ptr = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    substitute(v, &ptr, path, env).map(|v| (k, v))
                })
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

fn expand(
    s: &str,
    pointer: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConnectionError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or_else(|| ConnectionError::Invalid {
                path: path.to_path_buf(),
                pointer: pointer.to_string(),
                message: "`${` without a closing `}` (write `$${` for a literal `${`)".into(),
            })?;
            let var = &tail[..end];
            let value = env(var).ok_or_else(|| ConnectionError::MissingVar {
                path: path.to_path_buf(),
                var: var.to_string(),
                pointer: pointer.to_string(),
            })?;
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

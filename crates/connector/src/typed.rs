//! Typed reads of spec keys; a wrong type becomes a Problem naming the key.

use serde_json::Value;

use crate::problem::Reporter;
use crate::suggest::closest;

pub(crate) fn lookup<'v>(root: &'v Value, path: &[&str]) -> Option<&'v Value> {
    // YAML `key:` with nothing after it is null: treat it as absent.
    path.iter()
        .try_fold(root, |v, k| v.get(*k))
        .filter(|v| !v.is_null())
}

/// The entry of the mapping at `container` whose key names `name` in any
/// spelling (case, `-` and `_` ignored: `getOAuthConfig` is
/// `get-oauth-config`), with its actual key.
pub(crate) fn lookup_loose<'v>(
    root: &'v Value,
    container: &[&str],
    name: &str,
) -> Option<(&'v str, &'v Value)> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let want = norm(name);
    let map = if container.is_empty() {
        root.as_object()?
    } else {
        lookup(root, container)?.as_object()?
    };
    map.iter()
        .find(|(k, v)| norm(k) == want && !v.is_null())
        .map(|(k, v)| (k.as_str(), v))
}

impl Reporter<'_> {
    pub fn string(&mut self, root: &Value, path: &[&str]) -> Option<String> {
        match lookup(root, path)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.report(path, format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    pub fn uint(&mut self, root: &Value, path: &[&str], min: u64) -> Option<u64> {
        let v = lookup(root, path)?;
        match v.as_u64() {
            Some(n) if n >= min => Some(n),
            _ => {
                let what = if min > 0 {
                    "a positive integer"
                } else {
                    "a non-negative integer"
                };
                self.report(path, format!("must be {what}, not {}", show(v)));
                None
            }
        }
    }

    pub fn strings(&mut self, root: &Value, path: &[&str]) -> Vec<String> {
        let Some(v) = lookup(root, path) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            self.report(path, format!("must be a list of strings, not {}", kind(v)));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) => out.push(s.to_string()),
                None => self.report(
                    path,
                    format!("item {i} must be a string, not {}", show(item)),
                ),
            }
        }
        out
    }

    /// A JSON Schema: an object (or boolean) that `jsonschema` accepts.
    pub fn schema(&mut self, root: &Value, path: &[&str]) -> Option<Value> {
        let v = lookup(root, path)?;
        if !v.is_object() && !v.is_boolean() {
            self.report(
                path,
                format!("must be a JSON Schema object, not {}", kind(v)),
            );
            return None;
        }
        if let Err(e) = jsonschema::validator_for(v) {
            self.report(path, format!("is not a valid JSON Schema: {e}"));
            return None;
        }
        Some(v.clone())
    }

    /// A number from 0 to 1 inclusive (a share of something).
    pub fn share(&mut self, root: &Value, path: &[&str]) -> Option<f64> {
        let v = lookup(root, path)?;
        match v.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => Some(x),
            _ => {
                self.report(
                    path,
                    format!("must be a number from 0 to 1, not {}", show(v)),
                );
                None
            }
        }
    }

    /// A `parametersSchema`: a valid JSON Schema whose `default`s satisfy the
    /// schema they sit in (they are applied before validation, so a bad one
    /// would otherwise be blamed on the connection file at run time).
    pub fn parameters_schema(&mut self, root: &Value, path: &[&str]) -> Option<Value> {
        let schema = self.schema(root, path)?;
        for (at, message) in crate::params::bad_defaults(&schema) {
            let mut p = path.to_vec();
            p.extend(at.iter().map(String::as_str));
            self.report(&p, message);
        }
        Some(schema)
    }

    /// Our own sections (`limits`, `http`, `fullScan`, `events`) are closed: a
    /// key that is not in `allowed` (or accepted by `also`) is a typo, reported
    /// with the closest allowed key, unlike Membrane's many top-level keys.
    /// `false` when the section is absent or not a mapping.
    pub fn mapping_with(&mut self, root: &Value, path: &[&str], allowed: &[&str]) -> bool {
        self.closed_mapping(root, path, allowed, &|_| false)
    }

    /// [`Reporter::mapping_with`], also accepting the keys `also` accepts
    /// (spellings of function names, which are too many to list).
    pub fn closed_mapping(
        &mut self,
        root: &Value,
        path: &[&str],
        allowed: &[&str],
        also: &dyn Fn(&str) -> bool,
    ) -> bool {
        let Some(v) = lookup(root, path) else {
            return false;
        };
        let Some(map) = v.as_object() else {
            self.report(path, format!("must be a mapping, not {}", kind(v)));
            return false;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) && !also(key) {
                let mut p = path.to_vec();
                p.push(key);
                let known = allowed.join(", ");
                let message = match closest(key, allowed) {
                    Some(s) => format!("unknown key; did you mean `{s}`? (known: {known})"),
                    None => format!("unknown key (known: {known})"),
                };
                self.report(&p, message);
            }
        }
        true
    }

    /// Open sections (Membrane's method declarations): only a key that is a
    /// near miss of a `known` one, and neither known nor accepted by `also`,
    /// is reported. Nothing is reported when it is not a mapping.
    pub fn near_misses(
        &mut self,
        root: &Value,
        path: &[&str],
        known: &[&str],
        also: &dyn Fn(&str) -> bool,
    ) {
        let Some(map) = lookup(root, path).and_then(Value::as_object) else {
            return;
        };
        for key in map.keys() {
            if known.contains(&key.as_str()) || also(key) {
                continue;
            }
            if let Some(s) = closest(key, known) {
                let mut p = path.to_vec();
                p.push(key);
                self.report(&p, format!("unknown key; did you mean `{s}`?"));
            }
        }
    }

    /// A string naming one of `allowed` (`what` says what it names).
    pub fn one_of(
        &mut self,
        root: &Value,
        path: &[&str],
        what: &str,
        allowed: &[&str],
    ) -> Option<String> {
        let s = self.string(root, path)?;
        if allowed.contains(&s.as_str()) {
            return Some(s);
        }
        let known = allowed.join(", ");
        let message = match closest(&s, allowed) {
            Some(near) => format!("unknown {what} `{s}`; did you mean `{near}`? (known: {known})"),
            None => format!("unknown {what} `{s}`; expected one of {known}"),
        };
        self.report(path, message);
        None
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.len() <= 40 => format!("{s:?}"),
        other => kind(other).to_string(),
    }
}

//! Finding and parsing spec files (YAML or JSON) into JSON values.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::problem::{Problem, Source};

pub(crate) const SPEC_NAMES: [&str; 3] = ["spec.yml", "spec.yaml", "spec.json"];

/// The spec file of a directory, if any (first of `spec.yml`, `spec.yaml`, `spec.json`).
pub(crate) fn find_spec(dir: &Path) -> Option<PathBuf> {
    SPEC_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

pub(crate) fn rel_to(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// Reads a spec file; it must hold a mapping (an empty file counts as `{}`).
pub(crate) fn read_spec(root: &Path, path: &Path) -> Result<Source, Problem> {
    let rel = rel_to(root, path);
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(&rel, format!("cannot read: {e}")))?;
    let json = path.extension().is_some_and(|e| e == "json");
    let value = parse_text(&text, json).map_err(|(msg, loc)| Problem::new(&rel, msg).at(loc))?;
    let value = match value {
        Value::Null => Value::Object(Default::default()),
        v @ Value::Object(_) => v,
        _ => {
            return Err(Problem::new(
                &rel,
                "a spec must be a mapping of keys to values",
            ))
        }
    };
    Ok(Source {
        rel,
        text,
        value,
        mount: Vec::new(),
    })
}

type ParseError = (String, Option<(usize, usize)>);

/// Parses YAML or JSON; the error carries the parser's line and column.
pub(crate) fn parse_text(text: &str, json: bool) -> Result<Value, ParseError> {
    if json {
        serde_json::from_str(text).map_err(|e| {
            let msg = strip_location(&e.to_string());
            (
                format!("JSON syntax error: {msg}"),
                Some((e.line(), e.column())),
            )
        })
    } else if text.trim().is_empty() {
        Ok(Value::Null)
    } else {
        let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
            let loc = e.location().map(|l| (l.line(), l.column()));
            let msg = strip_location(&e.to_string());
            (format!("YAML syntax error: {msg}"), loc)
        })?;
        // `<<: *base` merge keys are common in hand-written YAML specs.
        yaml.apply_merge()
            .map_err(|e| (format!("YAML merge key error: {e}"), None))?;
        serde_json::to_value(yaml)
            .map_err(|e| (format!("YAML value not representable as JSON: {e}"), None))
    }
}

/// Parser messages end with " at line N column M"; we print those as `file:N:M`.
fn strip_location(msg: &str) -> String {
    let Some(i) = msg.find(" at line ") else {
        return msg.to_string();
    };
    let rest = &msg[i + " at line ".len()..];
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(rest) = rest.strip_prefix(" column ") else {
        return msg.to_string();
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    format!("{}{rest}", &msg[..i])
}

/// Deep merge: objects merge key by key, anything else in `over` replaces `base`.
pub(crate) fn deep_merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match b.get(k) {
                    Some(bv) => deep_merge(bv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        _ => over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_quirks_become_json() {
        let v = parse_text(
            "a: &x {b: 1}\nc: *x\n200: ok\nt: yes\nm:\n  <<: *x\n  d: 2\n",
            false,
        )
        .unwrap();
        assert_eq!(v["m"], serde_json::json!({"b": 1, "d": 2}));
        assert_eq!(v["c"]["b"], 1);
        assert_eq!(v["200"], "ok");
        assert_eq!(parse_text("", false).unwrap(), Value::Null);
    }

    #[test]
    fn merge_replaces_lists_and_keeps_base_keys() {
        let base = serde_json::json!({"a": {"x": 1, "l": [1, 2]}, "b": 1});
        let over = serde_json::json!({"a": {"y": 2, "l": [3]}});
        let want = serde_json::json!({"a": {"x": 1, "l": [3], "y": 2}, "b": 1});
        assert_eq!(deep_merge(&base, &over), want);
    }
}

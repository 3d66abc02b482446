//! What `$var` paths read: the context, and the layers `$iterate` adds.
//!
//! A path is parsed into [`Step`]s: `$` or nothing is the whole context,
//! `.key` or a bare leading `key` an object key, `[n]` a list index and
//! `["key"]` / `['key']` a key that may hold dots. A missing step gives
//! `None` (which `$var` turns into null); only a malformed path is an error.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// One step of a `$var` path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// Parses a `$var` path. `Err` says what is wrong with it.
pub(crate) fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let mut rest = path.trim();
    if rest.is_empty() {
        return Err("needs a path; got an empty string (`$` is the whole context)".into());
    }
    if rest == "$" {
        return Ok(Vec::new());
    }
    if let Some(after) = rest.strip_prefix('$') {
        if after.starts_with('.') || after.starts_with('[') {
            rest = after;
        }
    }
    let mut steps = Vec::new();
    let mut first = true;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let close = after
                .find(']')
                .ok_or_else(|| format!("path `{path}` has an unclosed `[`"))?;
            let inside = after[..close].trim();
            steps.push(bracket_step(inside).ok_or_else(|| {
                format!("path `{path}`: `[{inside}]` is neither an index nor a quoted key")
            })?);
            rest = &after[close + 1..];
        } else {
            let body = match rest.strip_prefix('.') {
                Some(body) => body,
                None if first => rest,
                None => {
                    return Err(format!(
                        "path `{path}`: expected `.` or `[` before `{rest}`"
                    ))
                }
            };
            let end = body.find(['.', '[']).unwrap_or(body.len());
            let key = &body[..end];
            if key.is_empty() {
                return Err(format!("path `{path}` has an empty key"));
            }
            steps.push(Step::Key(key.to_owned()));
            rest = &body[end..];
        }
        first = false;
    }
    Ok(steps)
}

fn bracket_step(inside: &str) -> Option<Step> {
    if let Ok(index) = inside.parse::<usize>() {
        return Some(Step::Index(index));
    }
    let quoted = |q: char| inside.strip_prefix(q)?.strip_suffix(q);
    quoted('"')
        .or_else(|| quoted('\''))
        .map(|key| Step::Key(key.to_owned()))
}

/// Follows `steps` from `value`. A key step on a list takes a numeric key
/// as an index (`items.0.id`).
fn walk<'v>(mut value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    for step in steps {
        value = match (step, value) {
            (Step::Key(key), Value::Object(map)) => map.get(key)?,
            (Step::Key(key), Value::Array(list)) => list.get(key.parse::<usize>().ok()?)?,
            (Step::Index(index), Value::Array(list)) => list.get(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The context a formula reads. `$iterate` layers an element over its
/// outer scope without copying it: inside `item`, `$.item` is the element,
/// `$.index` its position, `$.parent` the outer context, and every other key
/// reads through to the outer context.
pub(crate) enum Scope<'a> {
    Root(&'a Value),
    Item {
        item: &'a Value,
        index: usize,
        parent: &'a Scope<'a>,
    },
}

impl Scope<'_> {
    /// The value at `steps`, or `None` when any step is missing.
    pub(crate) fn resolve(&self, steps: &[Step]) -> Option<Cow<'_, Value>> {
        match self {
            Scope::Root(value) => walk(value, steps).map(Cow::Borrowed),
            Scope::Item {
                item,
                index,
                parent,
            } => match steps.split_first() {
                None => Some(Cow::Owned(self.materialize())),
                Some((Step::Key(key), rest)) => match key.as_str() {
                    "item" => walk(item, rest).map(Cow::Borrowed),
                    "index" if rest.is_empty() => Some(Cow::Owned(Value::from(*index))),
                    "index" => None,
                    "parent" => parent.resolve(rest),
                    _ => parent.resolve(steps),
                },
                Some((Step::Index(_), _)) => None,
            },
        }
    }

    /// The whole context as one value (for a `$var` of `$` inside
    /// `$iterate`, the only case that copies).
    fn materialize(&self) -> Value {
        match self {
            Scope::Root(value) => (*value).clone(),
            Scope::Item {
                item,
                index,
                parent,
            } => {
                let outer = parent.materialize();
                let mut map = match &outer {
                    Value::Object(map) => map.clone(),
                    _ => Map::new(),
                };
                map.insert("item".into(), (*item).clone());
                map.insert("index".into(), Value::from(*index));
                map.insert("parent".into(), outer);
                Value::Object(map)
            }
        }
    }
}

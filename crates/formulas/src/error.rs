//! [`FormulaError`] and the [`KeyPath`] every error names.

use std::fmt;

use thiserror::Error;

/// Where in a mapping something happened: keys joined by `.`, list indexes
/// as `[n]`, a formula's own name as a key (`args.baseUri.$case.cases[0]`).
/// The empty path (the mapping itself) displays as `(top level)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<PathSegment>);

/// One step of a [`KeyPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// An object key (or a formula's name, such as `$case`).
    Key(String),
    /// A list index.
    Index(usize),
}

impl KeyPath {
    /// The empty path: the mapping itself.
    pub fn new() -> Self {
        Self::default()
    }

    /// The steps, outermost first.
    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    pub(crate) fn push_key(&mut self, key: &str) {
        self.0.push(PathSegment::Key(key.to_owned()));
    }

    pub(crate) fn push_index(&mut self, index: usize) {
        self.0.push(PathSegment::Index(index));
    }

    pub(crate) fn pop(&mut self) {
        self.0.pop();
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if i == 0 => f.write_str(key)?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Why a mapping could not be evaluated. Every variant names the
/// [`KeyPath`] of the value at fault; the message reads
/// "`<path>`: what is wrong", e.g. "`args.baseUri`: `$case` needs `cases`, a list".
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FormulaError {
    /// An object with a single `$`-key whose name is not a known formula.
    #[error("`{path}`: unknown formula `{name}`{}; known: {}", did_you_mean(*.suggestion), .known.join(", "))]
    UnknownFormula {
        path: KeyPath,
        name: String,
        /// The known formula closest to `name`, when close enough.
        suggestion: Option<&'static str>,
        known: Vec<&'static str>,
    },
    /// A `$case` filter key that is not a known condition.
    #[error("`{path}`: unknown condition `{name}`{}; known: {}", did_you_mean(*.suggestion), .known.join(", "))]
    UnknownCondition {
        path: KeyPath,
        name: String,
        suggestion: Option<&'static str>,
        known: Vec<&'static str>,
    },
    /// A formula's argument has the wrong shape, such as
    /// "`$case` needs `cases`, a list".
    #[error("`{path}`: `{formula}` {message}")]
    BadArgument {
        path: KeyPath,
        formula: &'static str,
        message: String,
    },
}

impl FormulaError {
    /// Where it happened.
    pub fn path(&self) -> &KeyPath {
        match self {
            FormulaError::UnknownFormula { path, .. }
            | FormulaError::UnknownCondition { path, .. }
            | FormulaError::BadArgument { path, .. } => path,
        }
    }

    pub(crate) fn bad(path: &KeyPath, formula: &'static str, message: impl Into<String>) -> Self {
        FormulaError::BadArgument {
            path: path.clone(),
            formula,
            message: message.into(),
        }
    }
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// The candidate closest to `name` (ignoring case), if it is within a third
/// of `name`'s length in edits (at least one edit).
pub(crate) fn closest(name: &str, candidates: &[&'static str]) -> Option<&'static str> {
    let name = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&name, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A short name for a JSON value's type, for messages.
pub(crate) fn type_name(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

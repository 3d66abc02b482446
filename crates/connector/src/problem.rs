use std::fmt;
use std::path::{Path, PathBuf};

/// Something wrong with the connector, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Relative to the connector directory.
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Problem {
        Problem {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, location: Option<(usize, usize)>) -> Problem {
        if let Some((line, column)) = location {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Problem {}

/// Where a spec value came from, so a problem can point at its file and line.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub rel: PathBuf,
    pub text: String,
    /// The file's own value, before any `extends` merge, at `mount`.
    pub value: serde_json::Value,
    /// The key path the file's content sits at in the spec: empty for a
    /// spec file, `["events"]` for an `events.yml` beside it.
    pub mount: Vec<String>,
}

impl Source {
    /// Line and column of the key at `path` (a path in the spec, so
    /// through `mount`) in this file's text.
    pub fn location(&self, path: &[&str]) -> Option<(usize, usize)> {
        if path.len() < self.mount.len() || self.mount.iter().zip(path).any(|(m, p)| m != p) {
            return None;
        }
        key_location(&self.text, &path[self.mount.len()..])
    }
}

/// Reports problems about keys of a (possibly merged) spec, attributing each to
/// the first source file that really contains the key.
pub(crate) struct Reporter<'a> {
    pub sources: &'a [Source],
    pub fallback: &'a Path,
    pub problems: &'a mut Vec<Problem>,
}

impl Reporter<'_> {
    pub fn report(&mut self, path: &[&str], message: impl fmt::Display) {
        let dotted = path.join(".");
        let found = self
            .sources
            .iter()
            .find(|s| lookup(&s.value, path).is_some());
        let problem = match found.or(self.sources.first()) {
            Some(src) => {
                Problem::new(&src.rel, format!("`{dotted}`: {message}")).at(src.location(path))
            }
            None => Problem::new(self.fallback, format!("`{dotted}`: {message}")),
        };
        self.problems.push(problem);
    }
}

/// Keys of mappings, and indices of lists (`allOf.0`).
fn lookup<'v>(value: &'v serde_json::Value, path: &[&str]) -> Option<&'v serde_json::Value> {
    path.iter().try_fold(value, |v, k| match v {
        serde_json::Value::Array(items) => k.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => v.get(*k),
    })
}

/// Best-effort line and column of a nested key in YAML or JSON text: each key
/// is searched below the previous one, inside its indented block.
pub(crate) fn key_location(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    for key in path {
        if let Ok(index) = key.parse::<usize>() {
            // A list item: the `index`-th `- ` line of the parent's block
            // (in a flow list, `[{...}]`, the parent's line stands for it).
            let flow = found.is_some_and(|(line_no, _): (usize, usize)| {
                lines
                    .get(line_no - 1)
                    .and_then(|l| l.split_once(':'))
                    .is_some_and(|(_, tail)| tail.trim_start().starts_with('['))
            });
            if flow {
                continue;
            }
            let mut seen = 0;
            let mut hit = None;
            for (i, line) in lines.iter().enumerate().skip(start) {
                let trimmed = line.trim_start();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                let indent = line.len() - trimmed.len();
                let dash = trimmed.starts_with("- ") || trimmed == "-";
                // YAML lets a list sit at its key's own indent.
                if parent_indent.is_some_and(|p| indent < p || (indent == p && !dash)) {
                    break;
                }
                if dash {
                    if seen == index {
                        hit = Some((i, indent));
                        break;
                    }
                    seen += 1;
                }
            }
            let (i, col) = hit?;
            found = Some((i + 1, col + 1));
            parent_indent = Some(col);
            // The item's first key is on the dash line (found above, as in
            // a flow mapping); its others below it.
            start = i + 1;
            continue;
        }
        // A flow mapping (`a: {b: 1}`) keeps the child on the parent's line.
        let mut hit = found.and_then(|(line_no, col): (usize, usize)| {
            let line = lines.get(line_no - 1)?;
            let from = (col - 1).min(line.len());
            let tail = line.get(from..)?;
            [
                format!("{{{key}:"),
                format!(" {key}:"),
                format!(",{key}:"),
                format!("\"{key}\""),
            ]
            .iter()
            .filter_map(|p| {
                tail.find(p.as_str())
                    .map(|at| (line_no - 1, from + at + usize::from(!p.starts_with('"'))))
            })
            .min_by_key(|(_, c)| *c)
        });
        let skip = if hit.is_some() { lines.len() } else { start };
        for (i, line) in lines.iter().enumerate().skip(skip) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            if let Some(p) = parent_indent {
                if indent <= p {
                    break;
                }
            }
            let body = trimmed.trim_start_matches(['{', ',', ' ']);
            let matches = [format!("{key}:"), format!("\"{key}\""), format!("'{key}'")]
                .iter()
                .any(|p| body.starts_with(p.as_str()));
            if matches {
                hit = Some((i, indent + (trimmed.len() - body.len())));
                break;
            }
        }
        let (i, col) = hit?;
        found = Some((i + 1, col + 1));
        parent_indent = Some(col);
        start = i + 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_yaml_key() {
        let text = "name: x\nevents:\n  # c\n  strategy: web\nother:\n  strategy: y\n";
        assert_eq!(key_location(text, &["events", "strategy"]), Some((4, 3)));
        assert_eq!(key_location(text, &["other", "strategy"]), Some((6, 3)));
        assert_eq!(key_location(text, &["name", "strategy"]), None);
        let list = "extends:\n  - key: _a\n  - key: _b\n    parameters:\n      x: 1\n";
        assert_eq!(key_location(list, &["extends", "1", "key"]), Some((3, 5)));
        assert_eq!(
            key_location(list, &["extends", "1", "parameters", "x"]),
            Some((5, 7))
        );
        let flow = "events:\n  fullScan: {maxRecords: 10, maxPage: 1}\n";
        assert_eq!(
            key_location(flow, &["events", "fullScan", "maxPage"]),
            Some((2, 30))
        );
    }

    #[test]
    fn display_omits_missing_parts() {
        let p = Problem::new("spec.yml", "bad");
        assert_eq!(p.to_string(), "spec.yml: bad");
        let p = Problem::new("data/c/spec.yml", "bad").at(Some((3, 5)));
        assert_eq!(p.to_string(), "data/c/spec.yml:3:5: bad");
    }
}

//! Which file implements a function, in the order a Membrane author expects:
//! `filePath` in the spec, then the kebab-case file, then the camelCase file,
//! then the same in each spec the collection `extends`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::names::{to_camel, to_kebab};
use crate::problem::{key_location, Problem, Source};
use crate::specfile::rel_to;
use crate::Connector;

/// A JavaScript file implementing one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFile {
    /// Absolute.
    pub path: PathBuf,
    /// Relative to the connector directory (`/`-separated), for messages
    /// and logs.
    pub rel: String,
    /// The camelCase name to look for when the module has no default export.
    pub export: String,
}

/// Code files, in the order a function's file is looked for: JavaScript
/// first (as before TypeScript was accepted), then TypeScript, which the
/// engine strips of its types at load. `.d.ts` files are types only and
/// never a function (see `walk_js`).
const EXTENSIONS: [&str; 6] = ["js", "mjs", "cjs", "ts", "mts", "cts"];

/// A place to look: a directory of files and the spec that may hold `filePath`s.
struct Place<'a> {
    dir: &'a Path,
    source: Option<&'a Source>,
    /// Spec entries that may hold this function's `filePath`, e.g. `methods.list`.
    containers: Vec<Vec<String>>,
}

/// Every `filePath` string in a spec, with its key path.
pub(crate) fn file_path_entries(
    value: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Value)>,
) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                if k == "filePath" {
                    out.push((path.clone(), v.clone()));
                } else {
                    file_path_entries(v, path, out);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                file_path_entries(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

impl Connector {
    /// Whether collection `collection` has a file implementing `name`
    /// ("list", "events/pull", "events/webhook-subscribe"; any spelling
    /// [`function_file`](Connector::function_file) accepts): the one
    /// "does this function exist" check of layout checks, plans and
    /// strategies. An unknown collection or a bad name is `false`.
    pub fn has_function(&self, collection: &str, name: &str) -> bool {
        matches!(
            self.function_file(&format!("data/{collection}/{name}")),
            Ok(Some(_))
        )
    }

    /// Resolves `function` as the CLI names it ("auth/make-api-client",
    /// "data/contacts/events/pull", "global-webhooks/<key>/handle"; kebab or
    /// camelCase, `.js` tolerated). `Ok(None)`: no file implements it.
    pub fn function_file(&self, function: &str) -> Result<Option<FunctionFile>, Problem> {
        let bad = |msg: String| Problem::new(function, msg);
        let trimmed = function.trim().trim_start_matches("./");
        let trimmed = EXTENSIONS
            .iter()
            .find_map(|ext| trimmed.strip_suffix(&format!(".{ext}")))
            .unwrap_or(trimmed);
        let segs: Vec<&str> = trimmed.split('/').collect();
        if segs
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == ".." || s.contains('\\'))
        {
            return Err(bad(
                "not a function name: expected e.g. auth/test or data/<collection>/list".into(),
            ));
        }
        let root_source = self.root_source.as_ref();
        let auth_dir = self.dir.join("auth");
        let (places, rest): (Vec<Place>, &[&str]) = match segs.as_slice() {
            ["auth", rest @ ..] if !rest.is_empty() => {
                let containers = entries(rest, &[&["auth"], &["auth", "methods"]]);
                (vec![Place { dir: &auth_dir, source: root_source, containers }], rest)
            }
            ["data", key, rest @ ..] if !rest.is_empty() => {
                let Some(c) = self.collections.get(*key) else {
                    let known: Vec<&str> = self.collections.keys().map(String::as_str).collect();
                    return Err(bad(format!("no collection `{key}` (collections: {})", known.join(", "))));
                };
                let mut containers = entries(rest, &[&["methods"], &["events"]]);
                // Per-type event functions may also sit under their event type.
                let last = to_kebab(rest.last().copied().unwrap_or_default());
                if let (["events", _], Some(ty)) = (rest, per_type_prefix(&last)) {
                    let func = &last[ty.len() + 1..];
                    containers.extend(entries(&[func], &[&["events", ty]]));
                }
                let places = c
                    .levels
                    .iter()
                    .map(|l| Place { dir: &l.dir, source: l.source.as_ref(), containers: containers.clone() })
                    .collect();
                (places, rest)
            }
            ["global-webhooks", key, rest @ ..] if !rest.is_empty() => {
                let Some(g) = self.global_webhooks.get(*key) else {
                    return Err(bad(format!("no global webhook `{key}` under global-webhooks/")));
                };
                let containers = entries(rest, &[&[], &["methods"]]);
                let place = Place { dir: &g.dir, source: g.source.as_ref(), containers };
                return self.resolve_in(&[place], rest);
            }
            _ => {
                return Err(bad(
                    "unknown function: expected auth/<name>, data/<collection>/<name> or global-webhooks/<key>/<name>"
                        .into(),
                ))
            }
        };
        self.resolve_in(&places, rest)
    }

    fn resolve_in(&self, places: &[Place], rest: &[&str]) -> Result<Option<FunctionFile>, Problem> {
        let Some((name, subdirs)) = rest.split_last() else {
            return Ok(None);
        };
        let (kebab, camel) = (to_kebab(name), to_camel(name));
        for place in places {
            if let Some(src) = place.source {
                for entry in &place.containers {
                    let mut path: Vec<&str> = entry.iter().map(String::as_str).collect();
                    path.push("filePath");
                    if let Some(v) = crate::typed::lookup(&src.value, &path) {
                        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
                        return self.file_path_target(src, &path, v, &camel).map(Some);
                    }
                }
            }
            let dir = subdirs
                .iter()
                .fold(place.dir.to_path_buf(), |d, s| d.join(s));
            for stem in [&kebab, &camel] {
                for ext in EXTENSIONS {
                    let candidate = dir.join(format!("{stem}.{ext}"));
                    if candidate.is_file() {
                        return self.inside(&candidate, None, &camel).map(Some);
                    }
                }
            }
        }
        Ok(None)
    }

    /// Resolves a `filePath` value of `src`: relative to the connector root when
    /// it starts with `data/`, `auth/` or `global-webhooks/`, else to the spec's directory.
    pub(crate) fn file_path_target(
        &self,
        src: &Source,
        key: &[String],
        value: &Value,
        export: &str,
    ) -> Result<FunctionFile, Problem> {
        let keys: Vec<&str> = key.iter().map(String::as_str).collect();
        let at = |msg: String| {
            Problem::new(&src.rel, format!("`{}`: {msg}", keys.join(".")))
                .at(key_location(&src.text, &keys))
        };
        let Some(fp) = value.as_str() else {
            return Err(at("must be a string".into()));
        };
        if Path::new(fp).is_absolute() {
            return Err(at(format!(
                "`{fp}` must be relative to the connector directory"
            )));
        }
        let from_root = ["data/", "auth/", "global-webhooks/"]
            .iter()
            .any(|p| fp.starts_with(p));
        let spec_dir = self.dir.join(src.rel.parent().unwrap_or(Path::new("")));
        let target = if from_root {
            self.dir.join(fp)
        } else {
            spec_dir.join(fp)
        };
        self.inside(&target, Some(&at), export)
    }

    /// Canonicalizes and refuses anything outside the connector directory
    /// (`..`, symlinks), since the engine must not read other files.
    pub(crate) fn inside(
        &self,
        path: &Path,
        at: Option<&dyn Fn(String) -> Problem>,
        export: &str,
    ) -> Result<FunctionFile, Problem> {
        let rel = rel_to(&self.dir, path);
        let make = |msg: String| match at {
            Some(at) => at(msg),
            None => Problem::new(&rel, msg),
        };
        let canonical = path
            .canonicalize()
            .map_err(|_| make(format!("`{}` does not exist", rel.display())))?;
        if !canonical.starts_with(&self.dir) {
            return Err(make(format!(
                "`{}` is outside the connector directory",
                rel.display()
            )));
        }
        if !canonical.is_file() {
            return Err(make(format!("`{}` is not a file", rel.display())));
        }
        Ok(FunctionFile {
            rel: rel_to(&self.dir, &canonical).to_string_lossy().into_owned(),
            path: canonical,
            export: export.to_string(),
        })
    }

    /// Every JavaScript file under `auth/`, `data/` and `global-webhooks/`, and
    /// every valid `filePath` target, for module parse checks.
    pub fn all_function_files(&self) -> Vec<FunctionFile> {
        let mut out: Vec<FunctionFile> = Vec::new();
        for top in ["auth", "data", "global-webhooks"] {
            self.walk_into(&self.dir.join(top), &mut out);
        }
        for (src, key, value) in self.file_paths(&|_| true) {
            self.push_target(src, &key, &value, &mut out);
        }
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        out
    }

    /// The files [`Connector::all_function_files`] lists outside collections:
    /// JavaScript under `auth/` and `global-webhooks/`, and the `filePath`
    /// targets of the root spec and of global webhook specs.
    pub fn connector_function_files(&self) -> Vec<FunctionFile> {
        let mut out: Vec<FunctionFile> = Vec::new();
        for top in ["auth", "global-webhooks"] {
            self.walk_into(&self.dir.join(top), &mut out);
        }
        for (src, key, value) in self.file_paths(&|_| false) {
            self.push_target(src, &key, &value, &mut out);
        }
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        out
    }

    /// The function files of one collection, for module parse checks of the
    /// collections a run uses: JavaScript in its directory and in the
    /// directories of the specs it extends, and the valid `filePath` targets
    /// of those specs. Empty for an unknown collection.
    pub fn collection_function_files(&self, collection: &str) -> Vec<FunctionFile> {
        let Some(c) = self.collections.get(collection) else {
            return Vec::new();
        };
        let data = self.dir.join("data");
        let mut out: Vec<FunctionFile> = Vec::new();
        for level in &c.levels {
            // A base spec at the connector root (or `data/` itself) would
            // bring in every other collection's files.
            if !data.starts_with(&level.dir) {
                self.walk_into(&level.dir, &mut out);
            }
            if let Some(src) = &level.source {
                let mut found = Vec::new();
                file_path_entries(&src.value, &mut Vec::new(), &mut found);
                for (key, value) in found {
                    self.push_target(src, &key, &value, &mut out);
                }
            }
        }
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        out
    }

    /// Every JavaScript file under `dir` that stays inside the connector.
    fn walk_into(&self, dir: &Path, out: &mut Vec<FunctionFile>) {
        walk_js(dir, &mut |p| {
            if let Ok(f) = self.inside(p, None, &export_of(p)) {
                if !out.iter().any(|o| o.path == f.path) {
                    out.push(f);
                }
            }
        });
    }

    /// The target of a `filePath`, when it is valid and not listed yet.
    fn push_target(
        &self,
        src: &Source,
        key: &[String],
        value: &Value,
        out: &mut Vec<FunctionFile>,
    ) {
        let export = key
            .iter()
            .rev()
            .nth(1)
            .map(|k| to_camel(k))
            .unwrap_or_default();
        if let Ok(f) = self.file_path_target(src, key, value, &export) {
            if !out.iter().any(|o| o.path == f.path) {
                out.push(f);
            }
        }
    }

    /// Every `filePath` in the root spec, the global webhook specs and the
    /// specs (own and extended) of the collections `include` accepts, with
    /// the spec it is in.
    pub(crate) fn file_paths(
        &self,
        include: &dyn Fn(&str) -> bool,
    ) -> Vec<(&Source, Vec<String>, Value)> {
        let mut sources: Vec<&Source> = self.root_source.iter().collect();
        for c in self.collections.values().filter(|c| include(&c.key)) {
            for l in &c.levels {
                if let Some(s) = &l.source {
                    if !sources.iter().any(|o| o.rel == s.rel) {
                        sources.push(s);
                    }
                }
            }
        }
        sources.extend(
            self.global_webhooks
                .values()
                .filter_map(|g| g.source.as_ref()),
        );
        let mut out = Vec::new();
        for src in sources {
            let mut found = Vec::new();
            file_path_entries(&src.value, &mut Vec::new(), &mut found);
            out.extend(found.into_iter().map(|(k, v)| (src, k, v)));
        }
        out
    }
}

/// Spec entry paths for a function: each container, with its camel and kebab name.
fn entries(rest: &[&str], containers: &[&[&str]]) -> Vec<Vec<String>> {
    let Some(name) = rest.last() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for container in containers {
        for key in [to_camel(name), to_kebab(name)] {
            let mut path: Vec<String> = container.iter().map(|s| s.to_string()).collect();
            path.push(key);
            out.push(path);
        }
    }
    out
}

/// "created-pull-latest-records" -> Some("created").
pub(crate) fn per_type_prefix(name: &str) -> Option<&'static str> {
    ["created", "updated", "deleted"].into_iter().find(|t| {
        name.len() > t.len() + 1 && name.starts_with(t) && name.as_bytes()[t.len()] == b'-'
    })
}

fn export_of(path: &Path) -> String {
    to_camel(
        &path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

pub(crate) fn walk_js(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk_js(&p, f);
        } else if p
            .extension()
            .is_some_and(|e| EXTENSIONS.iter().any(|x| e == *x))
            && !p.to_string_lossy().ends_with(".d.ts")
        {
            f(&p);
        }
    }
}

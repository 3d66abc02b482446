//! Which file implements a function, in the order a Membrane author expects:
//! `filePath` in the spec, then the kebab-case file, then the camelCase file,
//! then the same in each spec the collection `extends`; event functions
//! under each spelling of [`EVENT_FUNCTIONS`](crate::model::EVENT_FUNCTIONS).
//! A method declared `not-supported` has no file, and an empty file is as
//! if absent. Code (`.js`) and mappings (`.map.yml`, `.yml`) are found by the
//! same rules: [`Connector::function_file`] returns code only,
//! [`Connector::implementation`] either.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::names::{to_camel, to_kebab};
use crate::problem::{Problem, Source};
use crate::specfile::rel_to;
use crate::Connector;

/// A JavaScript file implementing one function.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Suffixes of a mapping file (Membrane's `mapping` implementation type),
/// preferred first.
const MAPPING_EXTENSIONS: [&str; 3] = ["map.yml", "yml", "yaml"];

/// A YAML mapping implementing one function (`auth/make-api-client.yml`,
/// `data/<c>/record-from-fields.map.yml`): formulas to evaluate, not code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingFile {
    /// Absolute.
    pub path: PathBuf,
    /// Relative to the connector directory (`/`-separated), for messages.
    pub rel: String,
}

impl MappingFile {
    /// The mapping's value: YAML (or JSON); a problem names the file, and
    /// the line and column of a syntax error. The one reader of mapping
    /// files (`validate`, the engine, `invoke`).
    pub fn read(&self) -> Result<Value, Problem> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| Problem::new(&self.rel, format!("cannot read: {e}")))?;
        let json = self.path.extension().is_some_and(|e| e == "json");
        crate::specfile::parse_text(&text, json)
            .map_err(|(msg, loc)| Problem::new(&self.rel, msg).at(loc))
    }
}

/// What implements a function: a code file or a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Implementation {
    JavaScript(FunctionFile),
    Mapping(MappingFile),
}

impl Implementation {
    /// The file as the engine takes a helper function (makeApiClient,
    /// refreshCredentials, the OAuth config, a record builder): the engine
    /// tells a mapping from code by its suffix. `export` is the camelCase
    /// name for code, empty for a mapping.
    pub fn into_function_file(self) -> FunctionFile {
        match self {
            Implementation::JavaScript(f) => f,
            Implementation::Mapping(m) => FunctionFile {
                path: m.path,
                rel: m.rel,
                export: String::new(),
            },
        }
    }
}

/// A method's declared `implementationType` (`methods.<key>`,
/// `auth.<key>`, `auth.methods.<key>`, or a collection's top-level
/// `recordFromFields: {...}`; the nearest spec of an `extends` chain wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImplementationType {
    JavaScript,
    Mapping,
    /// The function does not exist, even if a file of its name does.
    NotSupported,
    /// Another of Membrane's types (`rest-api-mapping`, ...), which the
    /// runtime does not run.
    Other(String),
}

impl ImplementationType {
    fn parse(s: &str) -> ImplementationType {
        match s {
            "javascript" => ImplementationType::JavaScript,
            "mapping" => ImplementationType::Mapping,
            "not-supported" => ImplementationType::NotSupported,
            other => ImplementationType::Other(other.to_string()),
        }
    }
}

/// Which kind of file a lookup wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Code,
    Mapping,
}

impl Want {
    fn extensions(self) -> &'static [&'static str] {
        match self {
            Want::Code => &EXTENSIONS,
            Want::Mapping => &MAPPING_EXTENSIONS,
        }
    }
}

/// Whether `path` names a mapping file (by its suffix).
pub(crate) fn is_mapping_path(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yml" || e == "yaml")
}

/// An empty (or whitespace-only) file: Membrane's exports leave empty
/// per-type files beside the real ones, which must not shadow them.
fn is_blank(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(m) if m.len() == 0 => true,
        Ok(m) if m.len() <= 4096 => {
            std::fs::read_to_string(path).is_ok_and(|t| t.trim().is_empty())
        }
        _ => false,
    }
}

/// One spelling of a function's file: a path below a place's directory,
/// without suffix, and the export to look for.
#[derive(Debug, Clone)]
struct Stem {
    path: Vec<String>,
    export: String,
}

/// The spellings of `rest` (the segments after `data/<c>/` or `auth/`):
/// an event function (`events/<name>`, `events/<type>-<name>`) under each
/// of its file keys, flat then in the `events/` subfolder; anything else
/// as kebab-case, then camelCase.
fn stems(rest: &[&str]) -> Vec<Stem> {
    let Some((name, subdirs)) = rest.split_last() else {
        return Vec::new();
    };
    let dirs: Vec<String> = subdirs.iter().map(|s| s.to_string()).collect();
    let at = |extra: &[&str], stem: String, export: String| {
        let mut path = dirs.clone();
        path.extend(extra.iter().map(|s| s.to_string()));
        path.push(stem);
        Stem { path, export }
    };
    let kebab = to_kebab(name);
    if subdirs == ["events"] {
        let (ty, func) = match per_type_prefix(&kebab) {
            Some(t) => (Some(t), &kebab[t.len() + 1..]),
            None => (None, kebab.as_str()),
        };
        if let Some(f) = crate::model::event_function(func) {
            let mut out = Vec::new();
            for (key, export) in f.files {
                let (flat, nested, export) = match ty {
                    None => (
                        vec![format!("events-{key}")],
                        key.to_string(),
                        export.to_string(),
                    ),
                    Some(t) => (
                        vec![format!("events-{t}-{key}"), format!("{t}-{key}")],
                        format!("{t}-{key}"),
                        to_camel(&format!("{t}-{}", to_kebab(export))),
                    ),
                };
                // Flat in the collection folder (Membrane), then `events/`.
                for stem in flat {
                    out.push(Stem {
                        path: vec![stem],
                        export: export.clone(),
                    });
                }
                out.push(at(&[], nested.clone(), export.clone()));
                out.push(at(&[], to_camel(&nested), export.clone()));
            }
            return out;
        }
    }
    let camel = to_camel(name);
    vec![at(&[], kebab, camel.clone()), at(&[], camel.clone(), camel)]
}

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

/// [`Connector::function_file`]'s answers by function name; clones of a
/// connector share them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Found(Arc<Mutex<HashMap<String, Option<FunctionFile>>>>);

impl Found {
    fn get(&self, function: &str) -> Option<Option<FunctionFile>> {
        self.0.lock().ok()?.get(function).cloned()
    }

    fn put(&self, function: &str, found: Option<FunctionFile>) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(function.to_string(), found);
        }
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
    /// camelCase, `.js` tolerated) to its code file. `Ok(None)`: no code
    /// implements it (none exists, it is declared `not-supported`, or it is
    /// a mapping: see [`Connector::implementation`]).
    pub fn function_file(&self, function: &str) -> Result<Option<FunctionFile>, Problem> {
        if let Some(found) = self.found.get(function) {
            return Ok(found);
        }
        let found = self.find_function_file(function)?;
        self.found.put(function, found.clone());
        Ok(found)
    }

    fn find_function_file(&self, function: &str) -> Result<Option<FunctionFile>, Problem> {
        match self.implementation_type(function) {
            None | Some(ImplementationType::JavaScript) => {}
            Some(_) => return Ok(None),
        }
        match self.locate(function, Want::Code)? {
            Some(Implementation::JavaScript(f)) => Ok(Some(f)),
            _ => Ok(None),
        }
    }

    /// The mapping file implementing `function` (named as for
    /// [`Connector::function_file`]): `auth/make-api-client.yml`,
    /// `data/<c>/record-from-fields.map.yml`, or a `filePath` to a `.yml`.
    /// `Ok(None)` when there is none, or the method is declared with
    /// another implementation type.
    pub fn mapping_file(&self, function: &str) -> Result<Option<MappingFile>, Problem> {
        match self.implementation_type(function) {
            None | Some(ImplementationType::Mapping) => {}
            Some(_) => return Ok(None),
        }
        match self.locate(function, Want::Mapping)? {
            Some(Implementation::Mapping(m)) => Ok(Some(m)),
            _ => Ok(None),
        }
    }

    /// What implements `function`: as declared (`implementationType`),
    /// else code when a code file exists, else a mapping file. `Ok(None)`
    /// for a method declared `not-supported` or of a type the runtime does
    /// not run, and for one with no file.
    pub fn implementation(&self, function: &str) -> Result<Option<Implementation>, Problem> {
        match self.implementation_type(function) {
            Some(ImplementationType::JavaScript) => Ok(self
                .function_file(function)?
                .map(Implementation::JavaScript)),
            Some(ImplementationType::Mapping) => {
                Ok(self.mapping_file(function)?.map(Implementation::Mapping))
            }
            Some(_) => Ok(None),
            None => match self.function_file(function)? {
                Some(f) => Ok(Some(Implementation::JavaScript(f))),
                None => Ok(self.mapping_file(function)?.map(Implementation::Mapping)),
            },
        }
    }

    /// The `implementationType` declared for `function`, if any: in the
    /// root spec's `auth.<key>` / `auth.methods.<key>` for `auth/<key>`;
    /// in the collection's `methods.<key>` or top-level `<key>` (Membrane
    /// declares `recordFromFields` there) for `data/<c>/<key>`, the
    /// nearest spec of its `extends` chain winning. Event functions and
    /// global webhooks are not declared this way (`None`).
    pub fn implementation_type(&self, function: &str) -> Option<ImplementationType> {
        let trimmed = function.trim().trim_start_matches("./");
        let segs: Vec<&str> = trimmed.split('/').collect();
        let (spec, name, containers): (&Value, &str, &[&[&str]]) = match segs.as_slice() {
            ["auth", name] => (&self.spec.raw, name, &[&["auth"], &["auth", "methods"]]),
            ["data", key, name] => (&self.collections.get(*key)?.raw, name, &[&["methods"], &[]]),
            _ => return None,
        };
        let name = name
            .strip_suffix(".js")
            .or_else(|| name.strip_suffix(".mjs"))
            .unwrap_or(name);
        for container in containers {
            let Some((_, decl)) = crate::typed::lookup_loose(spec, container, name) else {
                continue;
            };
            // Membrane's newest form writes `type:` (not at a collection's
            // top level, where `type` is its kind).
            let mut keys = vec!["implementationType"];
            if !container.is_empty() {
                keys.push("type");
            }
            if let Some(t) = keys
                .iter()
                .find_map(|k| decl.get(*k).and_then(Value::as_str))
            {
                return Some(ImplementationType::parse(t));
            }
        }
        None
    }

    /// The file implementing `function`, of the kind `want`, by the rules
    /// of the module doc.
    fn locate(&self, function: &str, want: Want) -> Result<Option<Implementation>, Problem> {
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
                let containers = event_entries(rest);
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
                return self.resolve_in(&[place], rest, want);
            }
            _ => {
                return Err(bad(
                    "unknown function: expected auth/<name>, data/<collection>/<name> or global-webhooks/<key>/<name>"
                        .into(),
                ))
            }
        };
        self.resolve_in(&places, rest, want)
    }

    fn resolve_in(
        &self,
        places: &[Place],
        rest: &[&str],
        want: Want,
    ) -> Result<Option<Implementation>, Problem> {
        let stems = stems(rest);
        let Some(first) = stems.first() else {
            return Ok(None);
        };
        for place in places {
            if let Some(src) = place.source {
                for entry in &place.containers {
                    let Some((name, container)) = entry.split_last() else {
                        continue;
                    };
                    let container: Vec<&str> = container.iter().map(String::as_str).collect();
                    let Some((key, _)) = crate::typed::lookup_loose(&src.value, &container, name)
                    else {
                        continue;
                    };
                    let mut path = container.clone();
                    path.extend([key, "filePath"]);
                    if let Some(v) = crate::typed::lookup(&src.value, &path) {
                        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
                        let f = self.file_path_target(src, &path, v, &first.export)?;
                        // A filePath names the one file: of the other kind,
                        // or empty, the function has none.
                        let mapping = is_mapping_path(&f.path);
                        return Ok(match (want, mapping) {
                            _ if is_blank(&f.path) => None,
                            (Want::Code, false) => Some(Implementation::JavaScript(f)),
                            (Want::Mapping, true) => Some(Implementation::Mapping(MappingFile {
                                path: f.path,
                                rel: f.rel,
                            })),
                            _ => None,
                        });
                    }
                }
            }
            for stem in &stems {
                let mut dir = place.dir.to_path_buf();
                let Some((file, subdirs)) = stem.path.split_last() else {
                    continue;
                };
                for s in subdirs {
                    dir.push(s);
                }
                for ext in want.extensions() {
                    let candidate = dir.join(format!("{file}.{ext}"));
                    if candidate.is_file() && !is_blank(&candidate) {
                        let f = self.inside(&candidate, None, &stem.export)?;
                        return Ok(Some(match want {
                            Want::Code => Implementation::JavaScript(f),
                            Want::Mapping => Implementation::Mapping(MappingFile {
                                path: f.path,
                                rel: f.rel,
                            }),
                        }));
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
            Problem::new(&src.rel, format!("`{}`: {msg}", keys.join("."))).at(src.location(&keys))
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

    /// Every JavaScript file under `dir` that stays inside the connector
    /// and is not empty (an empty file is absent, so it has no exports to
    /// check).
    fn walk_into(&self, dir: &Path, out: &mut Vec<FunctionFile>) {
        walk_js(dir, &mut |p| {
            if is_blank(p) {
                return;
            }
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
            // A mapping is not a module: the parse checks must not load it.
            if !is_mapping_path(&f.path) && !out.iter().any(|o| o.path == f.path) {
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

/// Spec entries that may hold the `filePath` of `rest` in a collection:
/// `methods.<fn>` and `events.<fn>`; for an event function also under each
/// of its exports and in Membrane's nested `events[.<type>].methods.<fn>`,
/// and for a per-type one `events.<type>.<fn>`.
fn event_entries(rest: &[&str]) -> Vec<Vec<String>> {
    let mut out = entries(rest, &[&["methods"], &["events"]]);
    let last = to_kebab(rest.last().copied().unwrap_or_default());
    let ["events", _] = rest else {
        return out;
    };
    let (ty, func) = match per_type_prefix(&last) {
        Some(t) => (Some(t), &last[t.len() + 1..]),
        None => (None, last.as_str()),
    };
    let mut names = vec![func.to_string()];
    if let Some(f) = crate::model::event_function(func) {
        names.extend(f.files.iter().map(|(_, e)| e.to_string()));
    }
    let containers: Vec<Vec<&str>> = match ty {
        Some(t) => vec![vec!["events", t], vec!["events", t, "methods"]],
        None => vec![vec!["events", "methods"], vec!["events"]],
    };
    for name in &names {
        for c in &containers {
            let c: &[&str] = c;
            for e in entries(&[name.as_str()], &[c]) {
                if !out.contains(&e) {
                    out.push(e);
                }
            }
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

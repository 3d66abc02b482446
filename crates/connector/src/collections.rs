//! Collections under `data/` and global webhooks, with `extends` resolved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::problem::{Problem, Reporter, Source};
use crate::specfile::{deep_merge, find_spec, read_spec, rel_to};
use crate::typed::lookup;
use crate::{parse, Collection, GlobalWebhook};

/// One spec in an `extends` chain, with the directory its files live in.
/// Levels are in order of precedence: the collection, then its bases depth
/// first.
#[derive(Debug, Clone)]
pub(crate) struct Level {
    pub dir: PathBuf,
    pub source: Option<Source>,
    /// `events.yml` beside the spec, mounted at `events`.
    pub events: Option<Source>,
    /// The `parameters` the extending spec passes to this one.
    pub given: Option<Given>,
}

/// `extends: {..., parameters: {...}}`: values (formulas allowed) over the
/// extending collection's own parameters, and where they are written.
#[derive(Debug, Clone)]
pub(crate) struct Given {
    pub value: Value,
    /// The extending spec file, relative to the connector directory.
    pub file: PathBuf,
    /// `extends.parameters` or `extends.<i>.parameters`.
    pub key: Vec<String>,
    pub location: Option<(usize, usize)>,
}

/// The events config of a collection in a file of its own (Pipedrive's
/// 2023 layout): `data/<c>/events.yml`.
const EVENTS_FILES: [&str; 2] = ["events.yml", "events.yaml"];

/// Subdirectories of `dir`, sorted, skipping hidden ones.
pub(crate) fn subdirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}

fn read_level(
    root: &Path,
    dir: &Path,
    spec: Option<PathBuf>,
    given: Option<Given>,
    problems: &mut Vec<Problem>,
) -> Level {
    let source = spec.and_then(|p| read_spec(root, &p).map_err(|e| problems.push(e)).ok());
    let events = EVENTS_FILES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .and_then(|p| read_spec(root, &p).map_err(|e| problems.push(e)).ok())
        .map(|mut s| {
            let mut mounted = serde_json::Map::new();
            mounted.insert("events".into(), s.value);
            s.value = Value::Object(mounted);
            s.mount = vec!["events".into()];
            s
        });
    Level {
        dir: dir.to_path_buf(),
        source,
        events,
        given,
    }
}

/// One base named by `extends`: the target as written, the key path of
/// that value (for messages), and the `parameters` passed to it.
struct Base {
    target: String,
    key: Vec<String>,
    parameters: Option<(Value, Vec<String>)>,
}

/// The bases `extends` names, in every form Membrane has written it: a
/// collection key or path (`extends: _object`), `{path | key, parameters}`
/// (2023), or a list of those (`[{key: _objects, parameters}]`, 2025).
fn bases(value: &Value) -> Result<Vec<Base>, (Vec<String>, String)> {
    let one = |v: &Value, at: Vec<String>| -> Result<Base, (Vec<String>, String)> {
        match v {
            Value::String(s) => Ok(Base {
                target: s.clone(),
                key: at,
                parameters: None,
            }),
            Value::Object(map) => {
                let (name, target) = ["path", "key"]
                    .iter()
                    .find_map(|k| map.get(*k).map(|t| (*k, t)))
                    .ok_or_else(|| {
                        (
                            at.clone(),
                            "needs `path` (or `key`): the collection it extends".to_string(),
                        )
                    })?;
                let mut key = at.clone();
                key.push(name.to_string());
                let Some(target) = target.as_str() else {
                    return Err((key, "must be a string".into()));
                };
                let parameters = match map.get("parameters") {
                    None | Some(Value::Null) => None,
                    Some(p @ Value::Object(_)) => {
                        let mut pk = at.clone();
                        pk.push("parameters".into());
                        Some((p.clone(), pk))
                    }
                    Some(_) => {
                        let mut pk = at.clone();
                        pk.push("parameters".into());
                        return Err((pk, "must be a mapping of parameter names to values".into()));
                    }
                };
                Ok(Base {
                    target: target.to_string(),
                    key,
                    parameters,
                })
            }
            _ => Err((
                at,
                "must be a collection key, `{path, parameters}` or a list of `{key, parameters}`"
                    .into(),
            )),
        }
    };
    let at = vec!["extends".to_string()];
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut k = at.clone();
                k.push(i.to_string());
                one(v, k)
            })
            .collect(),
        v => one(v, at).map(|b| vec![b]),
    }
}

/// Where `extends: <value>` points: a collection key (also `_base` ones) or a
/// path to a spec file or directory, relative to the extending spec.
fn resolve_extends(
    root: &Path,
    from: &Level,
    value: &str,
) -> Result<(PathBuf, Option<PathBuf>), String> {
    let looks_like_path = value.contains('/')
        || value.ends_with(".yml")
        || value.ends_with(".yaml")
        || value.ends_with(".json");
    let target = if !looks_like_path {
        root.join("data").join(value)
    } else if value.starts_with("data/") {
        root.join(value)
    } else {
        from.dir.join(value)
    };
    let target = target.canonicalize().map_err(|_| {
        format!("`{value}` is neither a collection under data/ nor an existing spec file")
    })?;
    if !target.starts_with(root) {
        return Err(format!("`{value}` is outside the connector directory"));
    }
    if target.is_dir() {
        Ok((target.clone(), find_spec(&target)))
    } else {
        let dir = target.parent().unwrap_or(root).to_path_buf();
        Ok((dir, Some(target)))
    }
}

/// Appends the bases of `levels[at]` (and theirs, depth first) to
/// `levels`. `chain` holds the specs from the collection down to
/// `levels[at]`: meeting one of them again is a cycle.
fn push_bases(
    root: &Path,
    levels: &mut Vec<Level>,
    at: usize,
    chain: &mut Vec<PathBuf>,
    problems: &mut Vec<Problem>,
) {
    let Some(src) = levels[at].source.clone() else {
        return;
    };
    let Some(ext) = lookup(&src.value, &["extends"]) else {
        return;
    };
    let report = |problems: &mut Vec<Problem>, key: &[String], msg: String| {
        let keys: Vec<&str> = key.iter().map(String::as_str).collect();
        let loc = src.location(&keys).or_else(|| src.location(&["extends"]));
        problems.push(Problem::new(&src.rel, format!("`{}`: {msg}", keys.join("."))).at(loc));
    };
    let bases = match bases(ext) {
        Ok(b) => b,
        Err((key, msg)) => return report(problems, &key, msg),
    };
    for base in bases {
        let (base_dir, spec) = match resolve_extends(root, &levels[at], &base.target) {
            Ok(found) => found,
            Err(msg) => {
                report(problems, &base.key, msg);
                continue;
            }
        };
        let id = spec.clone().unwrap_or_else(|| base_dir.clone());
        if chain.contains(&id) {
            let names: Vec<String> = chain
                .iter()
                .map(|p| rel_to(root, p).display().to_string())
                .collect();
            let msg = format!(
                "makes a cycle: {} -> {}",
                names.join(" -> "),
                rel_to(root, &id).display()
            );
            report(problems, &base.key, msg);
            continue;
        }
        let given = base.parameters.map(|(value, key)| {
            let keys: Vec<&str> = key.iter().map(String::as_str).collect();
            // A misspelt formula is wrong whatever the parameters are: say
            // so at load (and in `validate`), not at the first call.
            let empty = serde_json::json!({"parameters": {}});
            if let Err(
                e @ (runtime_formulas::FormulaError::UnknownFormula { .. }
                | runtime_formulas::FormulaError::UnknownCondition { .. }),
            ) = runtime_formulas::evaluate(&value, &empty)
            {
                report(problems, &key, e.to_string());
            }
            Given {
                location: src.location(&keys),
                value,
                file: src.rel.clone(),
                key,
            }
        });
        levels.push(read_level(root, &base_dir, spec, given, problems));
        let next = levels.len() - 1;
        chain.push(id);
        push_bases(root, levels, next, chain, problems);
        chain.pop();
    }
}

/// The specs of an `extends` chain merged, bases first: mappings merge key
/// by key, the extending spec wins. A spec whose `events` has `all`
/// replaces the per-type entries it inherits (Pipedrive's
/// `_object-with-webhooks` turns `_object`'s full scans into webhooks).
fn merge_levels(levels: &[Level]) -> Value {
    let mut acc = Value::Object(Default::default());
    for level in levels.iter().rev() {
        let own = [&level.source, &level.events]
            .into_iter()
            .flatten()
            .fold(Value::Object(Default::default()), |a, s| {
                deep_merge(&a, &s.value)
            });
        let has_all = lookup(&own, &["events", "all"]).is_some();
        if has_all {
            if let Some(events) = acc.get_mut("events").and_then(Value::as_object_mut) {
                for ty in ["created", "updated", "deleted"] {
                    events.remove(ty);
                }
            }
        }
        acc = deep_merge(&acc, &own);
    }
    if let Some(obj) = acc.as_object_mut() {
        obj.remove("extends");
    }
    acc
}

pub(crate) fn load_collection(
    root: &Path,
    key: &str,
    dir: &Path,
    problems: &mut Vec<Problem>,
) -> Collection {
    let own_spec = find_spec(dir);
    let mut chain: Vec<PathBuf> = vec![own_spec.clone().unwrap_or_else(|| dir.to_path_buf())];
    let mut levels = vec![read_level(root, dir, own_spec, None, problems)];
    push_bases(root, &mut levels, 0, &mut chain, problems);
    let merged = merge_levels(&levels);
    let sources: Vec<Source> = levels
        .iter()
        .flat_map(|l| [l.events.clone(), l.source.clone()])
        .flatten()
        .collect();
    let own = levels.first().and_then(|l| l.source.clone());
    // Kept even when the spec did not parse, so messages can still name it.
    let spec_file = own
        .as_ref()
        .map(|s| s.rel.clone())
        .or_else(|| find_spec(dir).map(|p| rel_to(root, &p)));
    let fallback = rel_to(root, dir);
    let mut rep = Reporter {
        sources: &sources,
        fallback: &fallback,
        problems,
    };
    // `name` is not inherited: a shared base's name would mislabel every collection.
    let name = match &own {
        Some(src) => rep.string(&src.value, &["name"]),
        None => None,
    };
    crate::keys::methods(&mut rep, &merged, &["methods"]);
    Collection {
        key: key.to_string(),
        name: name.unwrap_or_else(|| key.to_string()),
        directory: lookup(&merged, &["type"]).and_then(Value::as_str) == Some("directory"),
        dir: dir.to_path_buf(),
        spec_file,
        parameters_schema: rep.parameters_schema(&merged, &["parametersSchema"]),
        fields_schema: rep.schema(&merged, &["fieldsSchema"]),
        events: parse::events_spec(&mut rep, &merged),
        raw: merged,
        levels,
    }
}

pub(crate) fn load_collections(
    root: &Path,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Collection> {
    subdirs(&root.join("data"))
        .into_iter()
        .filter(|(name, _)| !name.starts_with('_'))
        .map(|(key, dir)| {
            let c = load_collection(root, &key, &dir, problems);
            (key, c)
        })
        .collect()
}

pub(crate) fn load_global_webhooks(
    root: &Path,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, GlobalWebhook> {
    subdirs(&root.join("global-webhooks"))
        .into_iter()
        .map(|(key, dir)| {
            let level = read_level(root, &dir, find_spec(&dir), None, problems);
            let (spec_file, raw) = match &level.source {
                Some(s) => (Some(s.rel.clone()), s.value.clone()),
                None => (None, Value::Object(Default::default())),
            };
            let source = level.source;
            (
                key.clone(),
                GlobalWebhook {
                    key,
                    dir,
                    spec_file,
                    raw,
                    source,
                },
            )
        })
        .collect()
}

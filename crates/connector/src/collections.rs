//! Collections under `data/` and global webhooks, with `extends` resolved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::problem::{Problem, Reporter, Source};
use crate::specfile::{deep_merge, find_spec, read_spec, rel_to};
use crate::typed::lookup;
use crate::{parse, Collection, GlobalWebhook};

/// One spec in an `extends` chain, with the directory its files live in.
#[derive(Debug, Clone)]
pub(crate) struct Level {
    pub dir: PathBuf,
    pub source: Option<Source>,
}

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
    problems: &mut Vec<Problem>,
) -> Level {
    let source = spec.and_then(|p| read_spec(root, &p).map_err(|e| problems.push(e)).ok());
    Level {
        dir: dir.to_path_buf(),
        source,
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

pub(crate) fn load_collection(
    root: &Path,
    key: &str,
    dir: &Path,
    problems: &mut Vec<Problem>,
) -> Collection {
    let own_spec = find_spec(dir);
    let mut seen: Vec<PathBuf> = vec![own_spec.clone().unwrap_or_else(|| dir.to_path_buf())];
    let mut levels = vec![read_level(root, dir, own_spec, problems)];
    while let Some(current) = levels.last() {
        let Some(src) = &current.source else { break };
        let Some(ext) = lookup(&src.value, &["extends"]) else {
            break;
        };
        let loc = crate::problem::key_location(&src.text, &["extends"]);
        let Some(ext) = ext.as_str() else {
            problems.push(Problem::new(&src.rel, "`extends` must be a string").at(loc));
            break;
        };
        match resolve_extends(root, current, ext) {
            Err(msg) => {
                problems.push(Problem::new(&src.rel, format!("`extends`: {msg}")).at(loc));
                break;
            }
            Ok((base_dir, spec)) => {
                let id = spec.clone().unwrap_or_else(|| base_dir.clone());
                if seen.contains(&id) {
                    let chain: Vec<String> = seen
                        .iter()
                        .map(|p| rel_to(root, p).display().to_string())
                        .collect();
                    let msg = format!(
                        "`extends` makes a cycle: {} -> {}",
                        chain.join(" -> "),
                        rel_to(root, &id).display()
                    );
                    problems.push(Problem::new(&src.rel, msg).at(loc));
                    break;
                }
                seen.push(id);
                levels.push(read_level(root, &base_dir, spec, problems));
            }
        }
    }
    let merged = levels
        .iter()
        .rev()
        .filter_map(|l| l.source.as_ref())
        .fold(Value::Object(Default::default()), |acc, s| {
            deep_merge(&acc, &s.value)
        });
    let mut merged = merged;
    if let Some(obj) = merged.as_object_mut() {
        obj.remove("extends");
    }
    let sources: Vec<Source> = levels.iter().filter_map(|l| l.source.clone()).collect();
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
            let level = read_level(root, &dir, find_spec(&dir), problems);
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

//! The keys of the spec sections the runtime reads, and their typo checks.
//!
//! Closed sections (`limits`, `http`, `events`, `events.fullScan`, per-type
//! entries such as `events.created`) are ours or read whole: any other key is
//! a problem. Method declarations (`methods`, `auth`, `auth.methods`) are
//! Membrane's open set: only a near miss of a known name is reported there.

use serde_json::Value;

use crate::functions::per_type_prefix;
use crate::names::{to_camel, to_kebab};
use crate::problem::Reporter;

/// Keys of a collection's `events`, besides event function names.
pub(crate) const EVENTS_KEYS: [&str; 14] = [
    "strategy",
    "implementationType",
    "method",
    "pullIntervalSeconds",
    "ignoredFields",
    "createdTimeField",
    "updatedTimeField",
    "deletedTimeField",
    "fullScan",
    "created",
    "updated",
    "deleted",
    "all",
    "methods",
];

/// Keys of `events.<type>` and `events.all` when they are mappings, besides
/// event function names.
pub(crate) const PER_TYPE_KEYS: [&str; 11] = [
    "strategy",
    "implementationType",
    "method",
    "type",
    "pullIntervalSeconds",
    "ignoredFields",
    "methods",
    "isFullScan",
    "createdTimeField",
    "updatedTimeField",
    "deletedTimeField",
];

/// Event function names a spec key may use (for a `filePath` at
/// `events.<fn>` or `events.<type>.<fn>`): the camelCase name and the
/// exports of each entry of the one table, `model::EVENT_FUNCTIONS`.
fn event_function_names() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for f in crate::model::EVENT_FUNCTIONS.iter() {
        for (_, export) in f.files {
            if !out.contains(export) {
                out.push(export);
            }
        }
    }
    out
}

/// Method names a `methods` or `auth` mapping may declare.
pub(crate) const METHOD_NAMES: [&str; 25] = [
    "list",
    "find",
    "findById",
    "match",
    "search",
    "create",
    "update",
    "delete",
    "recordFromFields",
    "recordFromApi",
    "fieldsFromApi",
    "recordToApi",
    "fieldsToApi",
    "makeApiClient",
    "refreshCredentials",
    "test",
    "getOAuthConfig",
    "subscribe",
    "pull",
    "collectEvents",
    "pullLatestRecords",
    "webhookSubscribe",
    "webhookHandle",
    "webhookUnsubscribe",
    "webhookRefresh",
];

/// Keys of one method declaration (`methods.list: {...}`).
pub(crate) const DECLARATION_KEYS: [&str; 5] = [
    "implementationType",
    "filePath",
    "parametersSchema",
    "type",
    "mapping",
];

/// Values of a method declaration's `implementationType`.
pub(crate) const IMPLEMENTATION_TYPES: [&str; 6] = [
    "javascript",
    "mapping",
    "operation-mapping",
    "rest-api-mapping",
    "graphql-api-mapping",
    "not-supported",
];

/// `key` names one of `names` the way functions.rs looks it up: in camelCase
/// or kebab-case.
fn names_function(key: &str, names: &[&str]) -> bool {
    names.iter().any(|n| key == *n || key == to_kebab(n))
}

/// `key` names a per-type event function such as `createdPullLatestRecords`
/// or `created-pull-latest-records`.
fn names_per_type_function(key: &str) -> bool {
    let kebab = to_kebab(key);
    let Some(ty) = per_type_prefix(&kebab) else {
        return false;
    };
    let rest = &kebab[ty.len() + 1..];
    (key == kebab || key == to_camel(&kebab)) && event_function_key(rest)
}

fn event_function_key(key: &str) -> bool {
    names_function(key, &event_function_names()) || crate::model::event_function(key).is_some()
}

fn child<'a>(path: &[&'a str], key: &'a str) -> Vec<&'a str> {
    let mut p = path.to_vec();
    p.push(key);
    p
}

/// `events` of a collection (merged through `extends`): every key checked,
/// then its per-type entries, method declarations and event functions.
pub(crate) fn check_events(rep: &mut Reporter, raw: &Value) {
    let mut allowed: Vec<&str> = EVENTS_KEYS.to_vec();
    allowed.extend(event_function_names());
    let accept = |k: &str| event_function_key(k) || names_per_type_function(k);
    if !rep.closed_mapping(raw, &["events"], &allowed, &accept) {
        return;
    }
    methods(rep, raw, &["events", "methods"]);
    declarations(rep, raw, &["events"], &accept);
    for ty in ["created", "updated", "deleted", "all"] {
        let path = ["events", ty];
        if !crate::typed::lookup(raw, &path).is_some_and(Value::is_object) {
            continue;
        }
        let mut allowed: Vec<&str> = PER_TYPE_KEYS.to_vec();
        allowed.extend(event_function_names());
        rep.closed_mapping(raw, &path, &allowed, &event_function_key);
        methods(rep, raw, &["events", ty, "methods"]);
        declarations(rep, raw, &path, &event_function_key);
    }
}

/// A `methods` mapping: near misses of method names, then each declaration.
pub(crate) fn methods(rep: &mut Reporter, raw: &Value, path: &[&str]) {
    let also = |k: &str| names_function(k, &METHOD_NAMES) || names_per_type_function(k);
    rep.near_misses(raw, path, &METHOD_NAMES, &also);
    declarations(rep, raw, path, &also);
}

/// The root spec's `auth`: flat (`auth.makeApiClient`) or under `auth.methods`.
pub(crate) fn auth(rep: &mut Reporter, raw: &Value) {
    let mut known: Vec<&str> = METHOD_NAMES.to_vec();
    known.push("methods");
    let also = |k: &str| names_function(k, &METHOD_NAMES);
    rep.near_misses(raw, &["auth"], &known, &also);
    declarations(rep, raw, &["auth"], &also);
    methods(rep, raw, &["auth", "methods"]);
}

/// Each entry of the mapping at `path` that `is_function` accepts and that is
/// a mapping: a method declaration, checked for near misses of its keys and
/// for its `implementationType`.
fn declarations(
    rep: &mut Reporter,
    raw: &Value,
    path: &[&str],
    is_function: &dyn Fn(&str) -> bool,
) {
    let Some(map) = crate::typed::lookup(raw, path).and_then(Value::as_object) else {
        return;
    };
    for (key, v) in map {
        if !is_function(key) || !v.is_object() {
            continue;
        }
        let decl = child(path, key);
        rep.near_misses(raw, &decl, &DECLARATION_KEYS, &|_| false);
        rep.one_of(
            raw,
            &child(&decl, "implementationType"),
            "implementation type",
            &IMPLEMENTATION_TYPES,
        );
    }
}

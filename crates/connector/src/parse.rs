//! Typed views of the connector spec and of a collection's `events`.

use std::path::Path;

use runtime_events::ChangeType;
use serde_json::Value;

use crate::model::*;
use crate::problem::Reporter;
use crate::typed::{kind, lookup, show};
use crate::ConnectorSpec;

pub(crate) fn connector_spec(
    rep: &mut Reporter,
    raw: &Value,
    dir: &Path,
    spec_file: &Path,
) -> ConnectorSpec {
    let key = rep.string(raw, &["key"]);
    if lookup(raw, &["key"]).is_none() {
        rep.report(&["key"], "missing: the connector spec needs a `key`");
    }
    let fallback = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = key.unwrap_or(fallback);
    let name = rep.string(raw, &["name"]).unwrap_or_else(|| key.clone());
    let base_uri = rep.string(raw, &["baseUri"]);
    if let Some(uri) = &base_uri {
        match url::Url::parse(uri) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            _ => rep.report(
                &["baseUri"],
                format!("must be an absolute http(s) URL, not {uri:?}"),
            ),
        }
    }
    let mut limits = LimitsSpec::default();
    if rep.mapping_with(
        raw,
        &["limits"],
        &["cpuMs", "wallSeconds", "heapMb", "runtimes"],
    ) {
        limits.cpu_ms = rep.uint(raw, &["limits", "cpuMs"], 1);
        limits.wall_seconds = rep.uint(raw, &["limits", "wallSeconds"], 1);
        limits.heap_mb = rep.uint(raw, &["limits", "heapMb"], 1);
        limits.runtimes = rep.uint(raw, &["limits", "runtimes"], 1);
    }
    let mut http = HttpSpec::default();
    let http_keys = [
        "maxAttempts",
        "maxRetrySeconds",
        "connectTimeoutSeconds",
        "requestTimeoutSeconds",
        "maxResponseBytes",
    ];
    if rep.mapping_with(raw, &["http"], &http_keys) {
        http.max_attempts = rep
            .uint(raw, &["http", "maxAttempts"], 1)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        http.max_retry_seconds = rep.uint(raw, &["http", "maxRetrySeconds"], 0);
        http.connect_timeout_seconds = rep.uint(raw, &["http", "connectTimeoutSeconds"], 1);
        http.request_timeout_seconds = rep.uint(raw, &["http", "requestTimeoutSeconds"], 1);
        http.max_response_bytes = rep.uint(raw, &["http", "maxResponseBytes"], 1);
    }
    let rate_limit = rate_limit(rep, raw);
    crate::keys::auth(rep, raw);
    ConnectorSpec {
        key,
        name,
        base_uri,
        parameters_schema: rep.parameters_schema(raw, &["parametersSchema"]),
        allowed_hosts: rep.strings(raw, &["allowedHosts"]),
        limits,
        http,
        rate_limit,
        spec_file: spec_file.to_path_buf(),
        raw: raw.clone(),
    }
}

/// The longest `rateLimit.perSeconds` accepted: a year of 366 days.
const MAX_RATE_WINDOW_SECONDS: f64 = 366.0 * 86_400.0;

/// `rateLimit: {requests, perSeconds}`: both keys, `requests` a positive
/// integer, `perSeconds` a number above 0 (fractions allowed) and at most a
/// year. Anything else is a problem naming the key, and no limit.
fn rate_limit(rep: &mut Reporter, raw: &Value) -> Option<RateLimitSpec> {
    if !rep.mapping_with(raw, &["rateLimit"], &["requests", "perSeconds"]) {
        return None;
    }
    let requests = rep.uint(raw, &["rateLimit", "requests"], 1);
    let per_seconds = match lookup(raw, &["rateLimit", "perSeconds"]) {
        None => None,
        Some(v) => match v.as_f64() {
            Some(x) if x > 0.0 && x <= MAX_RATE_WINDOW_SECONDS => Some(x),
            _ => {
                rep.report(
                    &["rateLimit", "perSeconds"],
                    format!(
                        "must be a number of seconds above 0 and at most {MAX_RATE_WINDOW_SECONDS} (366 days), not {}",
                        show(v)
                    ),
                );
                None
            }
        },
    };
    for key in ["requests", "perSeconds"] {
        if lookup(raw, &["rateLimit", key]).is_none() {
            rep.report(
                &["rateLimit"],
                format!("missing `{key}`: `rateLimit` needs both `requests` and `perSeconds`"),
            );
        }
    }
    Some(RateLimitSpec {
        requests: requests?,
        per_seconds: per_seconds?,
    })
}

fn strategy(rep: &mut Reporter, raw: &Value, prefix: &[&str]) -> Option<Strategy> {
    let mut found = None;
    // Membrane calls it `implementationType` (`method` in a 2023
    // `events.yml`); the runtime first called it `strategy`.
    for key in ["strategy", "implementationType", "method"] {
        let mut path = prefix.to_vec();
        path.push(key);
        let Some(name) = rep.string(raw, &path) else {
            continue;
        };
        match name.parse::<Strategy>() {
            Ok(s) => match found {
                Some(prev) if prev != s => rep.report(
                    &path,
                    format!("says `{s}` but `strategy` says `{prev}`; keep one of them"),
                ),
                _ => found = Some(s),
            },
            Err(e) => rep.report(&path, e),
        }
    }
    found
}

pub(crate) fn events_spec(rep: &mut Reporter, raw: &Value) -> EventsSpec {
    let mut spec = EventsSpec::default();
    let Some(events) = lookup(raw, &["events"]) else {
        return spec;
    };
    if !events.is_object() {
        rep.report(
            &["events"],
            format!("must be a mapping, not {}", kind(events)),
        );
        return spec;
    }
    crate::keys::check_events(rep, raw);
    spec.strategy = strategy(rep, raw, &["events"]);
    spec.pull_interval_seconds = rep.uint(raw, &["events", "pullIntervalSeconds"], 1);
    spec.ignored_fields = rep.strings(raw, &["events", "ignoredFields"]);
    spec.created_time_field = rep.string(raw, &["events", "createdTimeField"]);
    spec.updated_time_field = rep.string(raw, &["events", "updatedTimeField"]);
    spec.deleted_time_field = rep.string(raw, &["events", "deletedTimeField"]);
    let limits = [
        "maxRecords",
        "maxPages",
        "maxSeconds",
        "maxDeletedShare",
        "deleteGuardMinRecords",
    ];
    let scan = |key| ["events", "fullScan", key];
    if rep.mapping_with(raw, &["events", "fullScan"], &limits) {
        spec.full_scan = FullScanLimits {
            max_records: rep.uint(raw, &scan("maxRecords"), 1),
            max_pages: rep.uint(raw, &scan("maxPages"), 1),
            max_seconds: rep.uint(raw, &scan("maxSeconds"), 1),
            max_deleted_share: rep.share(raw, &scan("maxDeletedShare")),
            delete_guard_min_records: rep.uint(raw, &scan("deleteGuardMinRecords"), 0),
        };
    }
    for ty in ChangeType::ALL {
        // A type's own entry, else `all` (every type at once).
        let Some((name, v)) = [ty.as_str(), "all"]
            .into_iter()
            .find_map(|k| lookup(raw, &["events", k]).map(|v| (k, v)))
        else {
            continue;
        };
        let path = ["events", name];
        // Membrane's `{implementationType: full-scan, ignoredFields}`: the
        // scan is one per collection, so its ignored fields are too.
        for f in rep.strings(raw, &["events", name, "ignoredFields"]) {
            if !spec.ignored_fields.contains(&f) {
                spec.ignored_fields.push(f);
            }
        }
        let per = match v {
            // Shorthand: `created: webhook`.
            Value::String(s) => match s.parse::<Strategy>() {
                Ok(st) => EventTypeSpec {
                    strategy: Some(st),
                    pull_interval_seconds: None,
                },
                Err(e) => {
                    rep.report(&path, e);
                    continue;
                }
            },
            Value::Object(_) => EventTypeSpec {
                strategy: strategy(rep, raw, &path),
                pull_interval_seconds: rep.uint(raw, &["events", name, "pullIntervalSeconds"], 1),
            },
            other => {
                rep.report(
                    &path,
                    format!("must be a mapping or a strategy name, not {}", kind(other)),
                );
                continue;
            }
        };
        spec.per_type.insert(ty, per);
    }
    spec
}

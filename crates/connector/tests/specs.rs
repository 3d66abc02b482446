mod common;

use common::*;
use runtime_connector::{ChangeType, Strategy};

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        (
            "data/contacts/spec.yml",
            "name: Contacts\nevents:\n  strategy: [webhook\n",
        ),
        (
            "data/deals/spec.json",
            "{\n  \"name\": \"Deals\",\n  \"events\": {,}\n}\n",
        ),
    ]);
    let problems = runtime_connector::load(tmp.path()).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    let yaml = problems
        .iter()
        .find(|p| p.file.ends_with("contacts/spec.yml"))
        .unwrap();
    assert_eq!(yaml.line, Some(4), "{yaml}");
    assert!(yaml.message.starts_with("YAML syntax error"), "{yaml}");
    assert!(
        !yaml.message.contains("at line 4 column 1"),
        "location printed twice: {yaml}"
    );
    let json = problems
        .iter()
        .find(|p| p.file.ends_with("deals/spec.json"))
        .unwrap();
    assert_eq!((json.line, json.column), (Some(3), Some(14)), "{json}");
    // The lenient load still has both collections.
    let (c, again) = runtime_connector::load_lenient(tmp.path());
    assert_eq!(again, problems);
    assert_eq!(c.unwrap().collections.len(), 2);
}

#[test]
fn json_root_spec_with_runtime_sections() {
    let tmp = dir_with(&[
        (
            "spec.json",
            r#"{"key": "acme", "name": "Acme", "logoUri": "https://x/logo.png", "allowedHosts": ["files.acme.com"],
                "limits": {"cpuMs": 500, "wallSeconds": 30, "heapMb": 64, "runtimes": 2},
                "http": {"maxAttempts": 4, "maxRetrySeconds": 0, "requestTimeoutSeconds": 10, "maxResponseBytes": 1000000},
                "parametersSchema": {"type": "object", "properties": {"region": {"type": "string", "default": "eu"}}}}"#,
        ),
        MAKE_CLIENT,
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(c.spec.key, "acme");
    assert_eq!(c.spec.spec_file.display().to_string(), "spec.json");
    assert_eq!(c.spec.allowed_hosts, ["files.acme.com"]);
    assert_eq!(c.spec.limits.cpu_ms, Some(500));
    assert_eq!(c.spec.limits.heap_mb, Some(64));
    assert_eq!(c.spec.limits.runtimes, Some(2));
    assert_eq!(c.spec.http.max_attempts, Some(4));
    assert_eq!(c.spec.http.max_retry_seconds, Some(0));
    assert_eq!(c.spec.http.connect_timeout_seconds, None);
    assert_eq!(c.spec.raw["logoUri"], "https://x/logo.png");
    assert!(c.collections.is_empty());
}

#[test]
fn rate_limit_is_read_from_the_root_spec() {
    let tmp = dir_with(&[
        (
            "spec.yml",
            "key: acme\nrateLimit:\n  requests: 100\n  perSeconds: 10\n",
        ),
        MAKE_CLIENT,
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(
        c.spec.rate_limit,
        Some(runtime_connector::RateLimitSpec {
            requests: 100,
            per_seconds: 10.0
        })
    );
    let tmp = dir_with(&[
        (
            "spec.yml",
            "key: acme\nrateLimit: {requests: 5, perSeconds: 0.5}\n",
        ),
        MAKE_CLIENT,
    ]);
    assert_eq!(
        load_ok(tmp.path()).spec.rate_limit.map(|r| r.per_seconds),
        Some(0.5)
    );
    let tmp = dir_with(&[("spec.yml", "key: acme\n"), MAKE_CLIENT]);
    assert_eq!(load_ok(tmp.path()).spec.rate_limit, None);
}

#[test]
fn rate_limit_problems_name_the_file_and_field() {
    let cases = [
        (
            "key: a\nrateLimit:\n  requests: 0\n  perSeconds: 1\n",
            "spec.yml:3:3: `rateLimit.requests`: must be a positive integer, not 0",
        ),
        (
            "key: a\nrateLimit:\n  requests: 10\n  perSeconds: 0\n",
            "spec.yml:4:3: `rateLimit.perSeconds`: must be a number of seconds above 0 and at most 31622400 (366 days), not 0",
        ),
        (
            "key: a\nrateLimit:\n  requests: 10\n  perSeconds: -2\n",
            "spec.yml:4:3: `rateLimit.perSeconds`: must be a number of seconds above 0 and at most 31622400 (366 days), not -2",
        ),
        (
            "key: a\nrateLimit:\n  requests: 10\n  perSeconds: soon\n",
            "spec.yml:4:3: `rateLimit.perSeconds`: must be a number of seconds above 0 and at most 31622400 (366 days), not \"soon\"",
        ),
        (
            "key: a\nrateLimit:\n  requests: 10\n",
            "spec.yml:2:1: `rateLimit`: missing `perSeconds`: `rateLimit` needs both `requests` and `perSeconds`",
        ),
        (
            "key: a\nrateLimit:\n  requests: 10\n  perSecond: 1\n",
            "spec.yml:4:3: `rateLimit.perSecond`: unknown key; did you mean `perSeconds`? (known: requests, perSeconds)",
        ),
        (
            "key: a\nrateLimit: 10\n",
            "spec.yml:2:1: `rateLimit`: must be a mapping, not a number",
        ),
    ];
    for (spec, want) in cases {
        let tmp = dir_with(&[("spec.yml", spec), MAKE_CLIENT]);
        let (c, problems) = runtime_connector::load_lenient(tmp.path());
        let got = messages(&problems);
        assert!(
            got.iter().any(|g| g == want),
            "missing {want:?} in {got:#?}"
        );
        assert_eq!(c.map(|c| c.spec.rate_limit), Some(None), "{spec}");
    }
}

#[test]
fn wrong_types_name_the_key_all_at_once() {
    let tmp = dir_with(&[
        ("spec.yml", "name: [A]\nbaseUri: not a url\nallowedHosts: [ok.com, 3]\nlimits:\n  cpuMs: -1\n  heapMB: 10\nhttp: 5\nparametersSchema:\n  type: 12\n"),
        (
            "data/c/spec.yml",
            "name: C\nevents:\n  strategy: polling\n  ignoredFields: [a, 1]\n  pullIntervalSeconds: 0\n  created: {implementationType: webhook, strategy: full-scan}\n  fullScan: {maxRecords: 10, maxPage: 1}\n",
        ),
    ]);
    let (c, problems) = runtime_connector::load_lenient(tmp.path());
    let got = messages(&problems);
    let expected = [
        "spec.yml:1:1: `name`: must be a string, not a list",
        "spec.yml: `key`: missing: the connector spec needs a `key`",
        "spec.yml:2:1: `baseUri`: must be an absolute http(s) URL, not \"not a url\"",
        "spec.yml:6:3: `limits.heapMB`: unknown key; did you mean `heapMb`? (known: cpuMs, wallSeconds, heapMb, runtimes)",
        "spec.yml:5:3: `limits.cpuMs`: must be a positive integer, not -1",
        "spec.yml:7:1: `http`: must be a mapping, not a number",
        "spec.yml:3:1: `allowedHosts`: item 1 must be a string, not 3",
        "data/c/spec.yml:3:3: `events.strategy`: unknown strategy `polling`; expected one of webhook, pull-latest-records, custom-pull, full-scan",
        "data/c/spec.yml:5:3: `events.pullIntervalSeconds`: must be a positive integer, not 0",
        "data/c/spec.yml:4:3: `events.ignoredFields`: item 1 must be a string, not 1",
        "data/c/spec.yml:7:30: `events.fullScan.maxPage`: unknown key; did you mean `maxPages`? (known: maxRecords, maxPages, maxSeconds, maxDeletedShare, deleteGuardMinRecords)",
    ];
    for e in expected {
        assert!(got.iter().any(|g| g == e), "missing {e:?} in {got:#?}");
    }
    assert!(
        got.iter()
            .any(|g| g.starts_with("spec.yml:8:1: `parametersSchema`: is not a valid JSON Schema")),
        "{got:#?}"
    );
    assert!(
        got.iter().any(|g| g.contains(
            "`events.created.implementationType`: says `webhook` but `strategy` says `full-scan`"
        )),
        "{got:#?}"
    );
    assert_eq!(got.len(), expected.len() + 2, "{got:#?}");
    let c = c.unwrap();
    assert_eq!(
        c.spec.key,
        tmp.path().file_name().unwrap().to_string_lossy()
    );
    let events = &c.collections["c"].events;
    assert_eq!(events.strategy, None);
    assert_eq!(events.ignored_fields, ["a"]);
    assert_eq!(events.full_scan.max_records, Some(10));
    assert_eq!(
        events.per_type[&ChangeType::Created].strategy,
        Some(Strategy::FullScan)
    );
}

#[test]
fn missing_root_spec_and_missing_dir() {
    let tmp = dir_with(&[("data/c/list.js", JS)]);
    let problems = runtime_connector::load(tmp.path()).unwrap_err();
    assert_eq!(
        messages(&problems),
        ["spec.yml: no connector spec: expected spec.yml, spec.yaml or spec.json"]
    );
    let (c, problems) = runtime_connector::load_lenient(&tmp.path().join("nope"));
    assert!(c.is_none());
    assert!(problems[0]
        .message
        .contains("cannot open connector directory"));
}

#[test]
fn event_spec_fields() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/c/list.js", JS),
        (
            "data/c/spec.yaml",
            "name: C\nfieldsSchema: {type: object}\nevents:\n  strategy: full-scan\n  ignoredFields: [downloadUrl, meta.lastViewedAt]\n  updatedTimeField: modifiedAt\n  fullScan: {maxRecords: 5, maxPages: 2, maxSeconds: 9}\n  deleted: {pullIntervalSeconds: 3600}\n",
        ),
        ("data/_shared/list.js", JS),
        ("data/.hidden/list.js", JS),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(c.collections.keys().collect::<Vec<_>>(), ["c"]);
    let col = &c.collections["c"];
    assert_eq!(
        col.spec_file.as_ref().unwrap().display().to_string(),
        "data/c/spec.yaml"
    );
    assert!(col.dir.is_absolute());
    assert_eq!(col.fields_schema.as_ref().unwrap()["type"], "object");
    assert_eq!(
        col.events.ignored_fields,
        ["downloadUrl", "meta.lastViewedAt"]
    );
    assert_eq!(col.events.updated_time_field.as_deref(), Some("modifiedAt"));
    assert_eq!(col.events.full_scan.max_seconds, Some(9));
    assert_eq!(
        col.events.per_type[&ChangeType::Deleted].pull_interval_seconds,
        Some(3600)
    );
    assert_eq!(
        c.strategies("c")[&ChangeType::Deleted],
        (Strategy::FullScan, Some(3600))
    );
}

#[test]
fn full_scan_delete_guard_keys() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/a/list.js", JS),
        (
            "data/a/spec.yml",
            "events:\n  fullScan: {maxDeletedShare: 0.25, deleteGuardMinRecords: 0}\n",
        ),
        ("data/b/list.js", JS),
        (
            "data/b/spec.yml",
            "events:\n  fullScan:\n    maxDeletedShare: 1\n    deleteGuardMinRecords: 10\n",
        ),
        ("data/c/list.js", JS),
        ("data/c/spec.yml", "events:\n  fullScan: {maxRecords: 3}\n"),
    ]);
    let c = load_ok(tmp.path());
    let scan = |k: &str| c.collections[k].events.full_scan.clone();
    assert_eq!(scan("a").max_deleted_share, Some(0.25));
    assert_eq!(scan("a").delete_guard_min_records, Some(0));
    assert_eq!(scan("b").max_deleted_share, Some(1.0));
    assert_eq!(scan("b").delete_guard_min_records, Some(10));
    assert_eq!(scan("c").max_deleted_share, None);
    assert_eq!(scan("c").delete_guard_min_records, None);
    assert_eq!(scan("c").max_records, Some(3));
}

#[test]
fn full_scan_delete_guard_wrong_values() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        (
            "data/a/spec.yml",
            "events:\n  fullScan:\n    maxDeletedShare: 1.5\n    deleteGuardMinRecords: -1\n",
        ),
        (
            "data/b/spec.yml",
            "events:\n  fullScan:\n    maxDeletedShare: half\n    deleteGuardMinRecords: 2.5\n",
        ),
        (
            "data/c/spec.yml",
            "events:\n  fullScan: {maxDeletedShare: -0.1}\n",
        ),
    ]);
    let (c, problems) = runtime_connector::load_lenient(tmp.path());
    let mut got = messages(&problems);
    got.sort();
    assert_eq!(
        got,
        [
            "data/a/spec.yml:3:5: `events.fullScan.maxDeletedShare`: must be a number from 0 to 1, not 1.5",
            "data/a/spec.yml:4:5: `events.fullScan.deleteGuardMinRecords`: must be a non-negative integer, not -1",
            "data/b/spec.yml:3:5: `events.fullScan.maxDeletedShare`: must be a number from 0 to 1, not \"half\"",
            "data/b/spec.yml:4:5: `events.fullScan.deleteGuardMinRecords`: must be a non-negative integer, not 2.5",
            "data/c/spec.yml:2:14: `events.fullScan.maxDeletedShare`: must be a number from 0 to 1, not -0.1",
        ]
    );
    let c = c.unwrap();
    assert_eq!(c.collections["a"].events.full_scan.max_deleted_share, None);
    assert_eq!(
        c.collections["a"].events.full_scan.delete_guard_min_records,
        None
    );
}

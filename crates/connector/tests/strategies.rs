mod common;

use common::*;
use runtime_connector::{ChangeType, Strategy};

fn strategies(files: &[(&str, &str)]) -> Vec<(ChangeType, Strategy, Option<u64>)> {
    let mut all = vec![ROOT_SPEC, MAKE_CLIENT];
    all.extend_from_slice(files);
    let tmp = dir_with(&all);
    let c = load_ok(tmp.path());
    c.strategies("c")
        .into_iter()
        .map(|(t, (s, i))| (t, s, i))
        .collect()
}

fn all3(s: Strategy) -> Vec<(ChangeType, Strategy, Option<u64>)> {
    ChangeType::ALL.iter().map(|t| (*t, s, None)).collect()
}

#[test]
fn inference_order() {
    let every = [
        ("data/c/list.js", JS),
        ("data/c/events/subscribe.js", JS),
        ("data/c/events/pull.js", JS),
        ("data/c/events/pull-latest-records.js", JS),
        ("data/c/events/webhook-subscribe.js", JS),
        ("data/c/events/webhook-handle.js", JS),
    ];
    assert_eq!(strategies(&every), all3(Strategy::Webhook));
    // webhook-subscribe alone is not enough for webhook.
    assert_eq!(strategies(&every[..5]), all3(Strategy::PullLatestRecords));
    assert_eq!(strategies(&every[..3]), all3(Strategy::CustomPull));
    assert_eq!(strategies(&every[..2]), all3(Strategy::FullScan));
    assert_eq!(strategies(&every[..1]), all3(Strategy::FullScan));
    assert_eq!(strategies(&[("data/c/spec.yml", "name: C\n")]), vec![]);
}

#[test]
fn per_type_files_and_settings() {
    let got = strategies(&[
        ("data/c/list.js", JS),
        ("data/c/events/created-pull-latest-records.js", JS),
        ("data/c/events/deleted-subscribe.js", JS),
        ("data/c/events/deleted-pull.js", JS),
    ]);
    assert_eq!(
        got,
        vec![
            (ChangeType::Created, Strategy::PullLatestRecords, None),
            (ChangeType::Updated, Strategy::FullScan, None),
            (ChangeType::Deleted, Strategy::CustomPull, None),
        ]
    );
    let got = strategies(&[
        ("data/c/list.js", JS),
        ("data/c/events/webhook-subscribe.js", JS),
        ("data/c/events/webhook-handle.js", JS),
        (
            "data/c/spec.yml",
            "events:\n  implementationType: fullScan\n  pullIntervalSeconds: 60\n  created: webhook\n  deleted:\n    strategy: full-scan\n    pullIntervalSeconds: 3600\n",
        ),
    ]);
    assert_eq!(
        got,
        vec![
            (ChangeType::Created, Strategy::Webhook, Some(60)),
            (ChangeType::Updated, Strategy::FullScan, Some(60)),
            (ChangeType::Deleted, Strategy::FullScan, Some(3600)),
        ]
    );
}

#[test]
fn strategy_names() {
    assert_eq!(
        "pull-latest-records".parse::<Strategy>().unwrap(),
        Strategy::PullLatestRecords
    );
    assert_eq!(
        "customPull".parse::<Strategy>().unwrap(),
        Strategy::CustomPull
    );
    assert_eq!(Strategy::FullScan.to_string(), "full-scan");
    let err = "polling".parse::<Strategy>().unwrap_err().to_string();
    assert!(
        err.contains("`polling`")
            && err.contains("webhook, pull-latest-records, custom-pull, full-scan")
    );
}

#[test]
fn every_layout_problem_at_once() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        (
            "data/hooks/spec.yml",
            "name: Hooks\nevents:\n  strategy: webhook\n",
        ),
        ("data/hooks/events/webhook-subscribe.js", JS),
        (
            "data/pulls/spec.yml",
            "events:\n  strategy: custom-pull\n  deleted:\n    strategy: pull-latest-records\n",
        ),
        ("data/scans/spec.yml", "events:\n  strategy: full-scan\n"),
        ("data/scans/events/pull.js", JS),
        ("data/fine/list.js", JS),
    ]);
    let c = load_ok(tmp.path());
    let got = messages(&c.layout_problems());
    let expected = [
        "auth/make-api-client.js: missing: it builds the API client, and the connector spec has no `baseUri` to use instead",
        "data/hooks/spec.yml:3:3: collection `hooks`: strategy `webhook` (for created, updated, deleted) needs data/hooks/events/webhook-handle.js, which is missing",
        "data/pulls/spec.yml:4:5: collection `pulls`: strategy `pull-latest-records` (for deleted) needs data/pulls/events/pull-latest-records.js, which is missing (or events/<type>-pull-latest-records.js per type)",
        "data/pulls/spec.yml:2:3: collection `pulls`: strategy `custom-pull` (for created, updated) needs data/pulls/events/subscribe.js and data/pulls/events/pull.js, which are missing (or events/<type>-subscribe.js and events/<type>-pull.js per type)",
        "data/scans/spec.yml:2:3: collection `scans`: strategy `full-scan` (for created, updated, deleted) needs data/scans/list.js, which is missing (or find.js, called without a query)",
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut exp_sorted: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    exp_sorted.sort();
    assert_eq!(got_sorted, exp_sorted);
}

#[test]
fn base_uri_replaces_make_api_client() {
    let tmp = dir_with(&[
        (
            "spec.yml",
            "key: a\nname: A\nbaseUri: https://api.example.com/v1\n",
        ),
        ("data/c/list.js", JS),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(c.layout_problems(), vec![]);
    assert_eq!(
        c.spec.base_uri.as_deref(),
        Some("https://api.example.com/v1")
    );
}

//! Membrane's own layouts and spec forms (the 2023 file-based connectors
//! and the 2025 store exports), each next to the runtime's earlier spelling.

mod common;

use common::*;
use runtime_connector::{ChangeType, Connection, Implementation, ImplementationType, Strategy};
use serde_json::json;

fn rel(c: &runtime_connector::Connector, f: &str) -> Option<String> {
    c.function_file(f).unwrap().map(|f| f.rel)
}

fn strategies(c: &runtime_connector::Connector, key: &str) -> Vec<(ChangeType, Strategy)> {
    c.strategies(key)
        .into_iter()
        .map(|(t, (s, _))| (t, s))
        .collect()
}

fn all(s: Strategy) -> Vec<(ChangeType, Strategy)> {
    ChangeType::ALL.into_iter().map(|t| (t, s)).collect()
}

#[test]
fn a_root_holding_only_src_is_entered() {
    let tmp = dir_with(&[
        ("package.json", "{}"),
        (
            "src/spec.yml",
            "key: acme\nname: Acme\nconnectionMode: popup\nlogoUri: x\n",
        ),
        ("src/auth/make-api-client.js", JS),
        ("src/data/deals/list.js", JS),
    ]);
    let c = load_ok(tmp.path());
    assert!(c.dir.ends_with("src"));
    assert_eq!(
        rel(&c, "data/deals/list").as_deref(),
        Some("data/deals/list.js")
    );
    assert!(c.layout_problems().is_empty(), "{:?}", c.layout_problems());
}

#[test]
fn event_files_flat_per_type_and_in_the_events_folder() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/a/events-webhook-subscribe.js", JS),
        ("data/a/events-webhook-handle.js", JS),
        // An empty per-type file (Membrane's exports leave them) is absent.
        ("data/a/updated-webhook-handle.js", ""),
        ("data/b/events-created-pull-latest-records.js", JS),
        ("data/b/updated-pull-latest-records.js", JS),
        ("data/b/events/deleted-pull-latest-records.js", JS),
        ("data/c/events-custom-pull-subscribe.js", JS),
        ("data/c/events-custom-pull-collect-events.js", JS),
        ("data/d/created-subscribe.js", JS),
        ("data/d/created-pull.js", JS),
        ("data/e/events/subscribe.js", JS),
        ("data/e/events/collect-events.js", JS),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(
        rel(&c, "data/a/events/webhook-subscribe").as_deref(),
        Some("data/a/events-webhook-subscribe.js")
    );
    assert_eq!(
        rel(&c, "data/a/events/updated-webhook-handle"),
        None,
        "an empty file is absent"
    );
    assert_eq!(strategies(&c, "a"), all(Strategy::Webhook));
    assert_eq!(
        rel(&c, "data/b/events/createdPullLatestRecords").as_deref(),
        Some("data/b/events-created-pull-latest-records.js")
    );
    assert_eq!(strategies(&c, "b"), all(Strategy::PullLatestRecords));
    assert_eq!(
        c.function_set("b", Strategy::PullLatestRecords, Some(ChangeType::Updated)),
        Some(vec!["events/updated-pull-latest-records".to_string()])
    );
    let f = c.function_file("data/c/events/pull").unwrap().unwrap();
    assert_eq!(f.rel, "data/c/events-custom-pull-collect-events.js");
    assert_eq!(f.export, "collectEvents");
    assert_eq!(strategies(&c, "c"), all(Strategy::CustomPull));
    assert_eq!(
        strategies(&c, "d"),
        vec![(ChangeType::Created, Strategy::CustomPull)]
    );
    assert_eq!(
        rel(&c, "data/e/events/pull").as_deref(),
        Some("data/e/events/collect-events.js")
    );
    assert!(c.layout_problems().is_empty(), "{:?}", c.layout_problems());
}

#[test]
fn events_config_in_spec_in_events_yml_and_as_strategy() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        (
            "data/_object/spec.yml",
            "name: Object\nparametersSchema: {type: object}\n",
        ),
        (
            "data/_object/events.yml",
            "created: {method: full-scan}\nupdated: {method: full-scan}\ndeleted: {method: full-scan}\n",
        ),
        ("data/_object/list.js", JS),
        (
            "data/_hooked/spec.yml",
            "extends: {path: _object}\n",
        ),
        ("data/_hooked/events.yml", "all:\n  method: webhook\n"),
        ("data/_hooked/events-webhook-subscribe.js", JS),
        ("data/_hooked/events-webhook-handle.js", JS),
        ("data/persons/spec.yml", "extends: {path: _hooked}\n"),
        ("data/stages/spec.yml", "extends: {path: _object}\n"),
        (
            "data/membrane/spec.yml",
            "events:\n  created: {implementationType: webhook}\n  updated: {implementationType: pull-latest}\n  deleted: {implementationType: full-scan, ignoredFields: [downloadUrl]}\n",
        ),
        ("data/membrane/list.js", JS),
        ("data/membrane/events-webhook-subscribe.js", JS),
        ("data/membrane/events-webhook-handle.js", JS),
        ("data/membrane/events-pull-latest-records.js", JS),
        ("data/legacy/spec.yml", "events:\n  strategy: full-scan\n"),
        ("data/legacy/list.js", JS),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(
        strategies(&c, "persons"),
        all(Strategy::Webhook),
        "a child's `all` replaces the per-type entries it inherits"
    );
    assert_eq!(strategies(&c, "stages"), all(Strategy::FullScan));
    assert_eq!(
        strategies(&c, "membrane"),
        vec![
            (ChangeType::Created, Strategy::Webhook),
            (ChangeType::Updated, Strategy::PullLatestRecords),
            (ChangeType::Deleted, Strategy::FullScan),
        ]
    );
    assert_eq!(
        c.collections["membrane"].events.ignored_fields,
        ["downloadUrl"]
    );
    assert_eq!(strategies(&c, "legacy"), all(Strategy::FullScan));
    // `_` bases are not collections, so they are never subscribed.
    assert!(!c.collections.contains_key("_object"));
    assert!(c.layout_problems().is_empty(), "{:?}", c.layout_problems());
}

#[test]
fn a_problem_in_events_yml_names_that_file_and_line() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/c/list.js", JS),
        ("data/c/events.yml", "created:\n  method: fullscan\n"),
    ]);
    let problems = runtime_connector::load(tmp.path()).unwrap_err();
    assert_eq!(
        messages(&problems),
        ["data/c/events.yml:2:3: `events.created.method`: unknown strategy `fullscan`; expected one of webhook, pull-latest-records, custom-pull, full-scan"]
    );
}

#[test]
fn full_scan_by_default_over_list_or_find() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/lists/list.js", JS),
        ("data/lists/find.js", JS),
        ("data/finds/find.js", JS),
        ("data/crud/find-by-id.js", JS),
        ("data/folders/spec.yml", "type: directory\n"),
        ("data/folders/list.js", JS),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(
        c.function_set("lists", Strategy::FullScan, None),
        Some(vec!["list".to_string()])
    );
    assert_eq!(
        c.function_set("finds", Strategy::FullScan, None),
        Some(vec!["find".to_string()])
    );
    assert_eq!(strategies(&c, "finds"), all(Strategy::FullScan));
    assert!(strategies(&c, "crud").is_empty());
    assert!(c.collections["folders"].directory);
    assert!(
        strategies(&c, "folders").is_empty(),
        "directories never subscribe"
    );
}

#[test]
fn methods_by_key_with_file_path_and_not_supported() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        (
            "data/_objects/spec.yml",
            "name: Objects\ntype: collection\nmethods:\n  list: {implementationType: javascript}\n  findById: {implementationType: javascript}\n  create: {implementationType: javascript}\n",
        ),
        ("data/_objects/list.js", JS),
        ("data/_objects/find-by-id.js", JS),
        ("data/_objects/create.js", JS),
        (
            "data/accounts/spec.yml",
            "name: Accounts\nextends: [{key: _objects, parameters: {objectName: Account}}]\nmethods:\n  create: {implementationType: not-supported}\n  update: {implementationType: javascript, filePath: write.js}\nrecordFromFields: {implementationType: mapping}\n",
        ),
        ("data/accounts/write.js", JS),
        ("data/accounts/record-from-fields.map.yml", "id: {$var: $.fields.Id}\n"),
        (
            "data/reports/spec.yml",
            "extends: [{key: _objects}]\nmethods:\n  list: {implementationType: not-supported}\nevents:\n  strategy: full-scan\n",
        ),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(
        rel(&c, "data/accounts/find-by-id").as_deref(),
        Some("data/_objects/find-by-id.js")
    );
    assert_eq!(
        rel(&c, "data/accounts/findById").as_deref(),
        Some("data/_objects/find-by-id.js")
    );
    assert_eq!(
        rel(&c, "data/accounts/update").as_deref(),
        Some("data/accounts/write.js")
    );
    assert_eq!(
        c.implementation_type("data/accounts/create"),
        Some(ImplementationType::NotSupported)
    );
    assert_eq!(
        rel(&c, "data/accounts/create"),
        None,
        "not-supported wins over the base's file"
    );
    assert!(!c.has_function("accounts", "create"));
    assert_eq!(rel(&c, "data/accounts/record-from-fields"), None);
    let m = c
        .mapping_file("data/accounts/recordFromFields")
        .unwrap()
        .unwrap();
    assert_eq!(m.rel, "data/accounts/record-from-fields.map.yml");
    assert!(matches!(
        c.implementation("data/accounts/record-from-fields")
            .unwrap(),
        Some(Implementation::Mapping(_))
    ));
    // The mapping is not handed to the JavaScript parse checks.
    assert!(c
        .all_function_files()
        .iter()
        .all(|f| !f.rel.ends_with(".yml")));
    assert_eq!(strategies(&c, "accounts"), all(Strategy::FullScan));
    let problems: Vec<String> = messages(&c.layout_problems());
    assert_eq!(
        problems,
        ["data/reports/spec.yml:5:3: collection `reports`: strategy `full-scan` (for created, updated, deleted) needs data/reports/list.js, which is missing (`list` declared `implementationType: not-supported` under `methods`) (or find.js, called without a query)"]
    );
}

#[test]
fn auth_functions_with_file_path_and_implementation_type() {
    let tmp = dir_with(&[
        (
            "spec.yml",
            "key: qb\nname: QB\nauth:\n  type: oauth2\n  makeApiClient: {implementationType: mapping, filePath: auth/make-api-client.yml}\n  getOAuthConfig: {implementationType: mapping, filePath: auth/oauth-config.yml}\n  test: {implementationType: javascript, filePath: auth/test.js}\n",
        ),
        ("auth/make-api-client.yml", "args: {baseUri: 'http://x'}\n"),
        ("auth/oauth-config.yml", "tokenUri: http://x/token\n"),
        ("auth/test.js", JS),
        ("data/c/list.js", JS),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(
        c.implementation_type("auth/make-api-client"),
        Some(ImplementationType::Mapping)
    );
    assert_eq!(c.function_file("auth/make-api-client").unwrap(), None);
    let m = c.mapping_file("auth/makeApiClient").unwrap().unwrap();
    assert_eq!(m.rel, "auth/make-api-client.yml");
    assert_eq!(
        c.mapping_file("auth/get-oauth-config")
            .unwrap()
            .map(|m| m.rel)
            .as_deref(),
        Some("auth/oauth-config.yml")
    );
    assert_eq!(rel(&c, "auth/test").as_deref(), Some("auth/test.js"));
    // A mapping makeApiClient is a client builder: no "missing" problem.
    assert!(c.layout_problems().is_empty(), "{:?}", c.layout_problems());
    assert!(c
        .connector_function_files()
        .iter()
        .all(|f| f.rel.ends_with(".js")));

    // Undeclared, the mapping file is found by its name too.
    let tmp = dir_with(&[
        ROOT_SPEC,
        ("auth/make-api-client.yml", "baseUri: http://x\n"),
        ("data/c/list.js", JS),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(c.implementation_type("auth/make-api-client"), None);
    assert!(matches!(
        c.implementation("auth/make-api-client").unwrap(),
        Some(Implementation::Mapping(m)) if m.rel == "auth/make-api-client.yml"
    ));
}

#[test]
fn extends_both_forms_with_formula_parameters_any_depth() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        (
            "data/_object/spec.yml",
            "parametersSchema:\n  type: object\n  properties:\n    path: {type: string}\n    customFieldsPath: {type: string}\n",
        ),
        ("data/_object/find.js", JS),
        (
            "data/_object-with-webhooks/spec.yml",
            "extends:\n  path: _object\n  parameters:\n    path: {$var: $.parameters.path}\n    customFieldsPath: {$var: $.parameters.customFieldsPath}\n",
        ),
        ("data/_object-with-webhooks/events.yml", "all: {method: webhook}\n"),
        ("data/_object-with-webhooks/events-webhook-subscribe.js", JS),
        ("data/_object-with-webhooks/events-webhook-handle.js", JS),
        (
            "data/persons/spec.yml",
            "name: Persons\nextends:\n  path: _object-with-webhooks\n  parameters:\n    path: persons\n    customFieldsPath: personFields\n    eventObject: person\n",
        ),
        (
            "data/_objects/spec.yml",
            "parametersSchema: {type: object, properties: {objectName: {type: string}}}\n",
        ),
        ("data/_objects/list.js", JS),
        (
            "data/accounts/spec.yml",
            "extends:\n  - key: _objects\n    parameters:\n      objectName: Account\n",
        ),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(
        rel(&c, "data/persons/find").as_deref(),
        Some("data/_object/find.js")
    );
    assert_eq!(strategies(&c, "persons"), all(Strategy::Webhook));
    let conn = Connection::empty();
    assert_eq!(
        c.collection_parameters("persons", &conn, None).unwrap(),
        json!({"path": "persons", "customFieldsPath": "personFields", "eventObject": "person"})
    );
    assert_eq!(
        c.collection_parameters("accounts", &conn, None).unwrap(),
        json!({"objectName": "Account"})
    );
    // The inherited schema applies to the child.
    assert!(c.collections["persons"].parameters_schema.is_some());
    assert_eq!(
        c.collections["accounts"]
            .base_dirs()
            .iter()
            .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
        ["_objects"]
    );
}

#[test]
fn a_formula_passed_down_reads_the_child_s_own_parameters() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/_base/list.js", JS),
        (
            "data/deals/spec.yml",
            "parametersSchema:\n  type: object\n  properties:\n    kind: {type: string, default: open}\nextends:\n  path: _base\n  parameters:\n    filter: {$concat: [status=, {$var: $.parameters.kind}]}\n",
        ),
    ]);
    let c = load_ok(tmp.path());
    let mut conn = Connection::empty();
    assert_eq!(
        c.collection_parameters("deals", &conn, None).unwrap()["filter"],
        "status=open"
    );
    conn.collections.insert(
        "deals".into(),
        runtime_connector::CollectionConnection {
            enabled: true,
            parameters: json!({"kind": "won"}),
        },
    );
    assert_eq!(
        c.collection_parameters("deals", &conn, None).unwrap()["filter"],
        "status=won"
    );
}

#[test]
fn a_formula_failing_on_real_values_names_file_line_and_key() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/_base/list.js", JS),
        (
            "data/deals/spec.yml",
            "name: Deals\nextends:\n  path: _base\n  parameters:\n    filter: {$concat: 5}\n",
        ),
    ]);
    let c = load_ok(tmp.path());
    let err = c
        .collection_parameters("deals", &Connection::empty(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("data/deals/spec.yml:4:3: `extends.parameters` (parameters for collection `deals`): `filter`: `$concat` needs a list"),
        "{err}"
    );
}

#[test]
fn bad_extends_name_file_line_and_key() {
    let got = messages(
        &runtime_connector::load(
            dir_with(&[
                ROOT_SPEC,
                MAKE_CLIENT,
                ("data/_base/list.js", JS),
                ("data/a/spec.yml", "name: A\nextends:\n  path: _nowhere\n"),
                (
                    "data/b/spec.yml",
                    "name: B\nextends:\n  - key: _base\n  - key: _gone\n",
                ),
                ("data/c/spec.yml", "extends: {parameters: {x: 1}}\n"),
                ("data/d/spec.yml", "extends: 3\n"),
                (
                    "data/e/spec.yml",
                    "extends:\n  path: _base\n  parameters:\n    x: {$vr: $.parameters.y}\n",
                ),
                (
                    "data/f/spec.yml",
                    "extends: [{key: _base, parameters: [1]}]\n",
                ),
            ])
            .path(),
        )
        .unwrap_err(),
    );
    let mut got = got;
    got.sort();
    assert_eq!(
        got,
        [
            "data/a/spec.yml:3:3: `extends.path`: `_nowhere` is neither a collection under data/ nor an existing spec file",
            "data/b/spec.yml:4:5: `extends.1.key`: `_gone` is neither a collection under data/ nor an existing spec file",
            "data/c/spec.yml:1:1: `extends`: needs `path` (or `key`): the collection it extends",
            "data/d/spec.yml:1:1: `extends`: must be a collection key, `{path, parameters}` or a list of `{key, parameters}`",
            "data/e/spec.yml:3:3: `extends.parameters`: `x`: unknown formula `$vr` (did you mean `$var`?); known: $var, $concat, $case, $iterate, $firstNotEmpty",
            "data/f/spec.yml:1:24: `extends.0.parameters`: must be a mapping of parameter names to values",
        ]
    );
}

/// A collection whose only webhook files are one type's
/// (`events-created-webhook-*`) gets a webhook for that type, and
/// `validate` has nothing to say about it.
#[test]
fn per_type_webhook_files_alone_give_that_type_a_webhook() {
    let tmp = dir_with(&[
        ("spec.yml", "key: acme\nname: Acme\nbaseUri: https://api.example.com\n"),
        (
            "data/deals/spec.yml",
            "name: Deals\nevents:\n  created: {implementationType: webhook}\n  updated: {implementationType: full-scan}\n  deleted: {implementationType: full-scan}\n",
        ),
        ("data/deals/events-created-webhook-subscribe.js", JS),
        ("data/deals/events-created-webhook-handle.js", JS),
        ("data/deals/list.js", JS),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(
        strategies(&c, "deals"),
        [
            (ChangeType::Created, Strategy::Webhook),
            (ChangeType::Updated, Strategy::FullScan),
            (ChangeType::Deleted, Strategy::FullScan),
        ]
    );
    assert_eq!(c.layout_problems(), []);
}

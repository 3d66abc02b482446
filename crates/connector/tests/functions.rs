mod common;

use common::*;

fn rel(c: &runtime_connector::Connector, f: &str) -> Option<String> {
    c.function_file(f).unwrap().map(|f| f.rel.clone())
}

#[test]
fn kebab_then_camel_then_mjs() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/contacts/list.js", JS),
        ("data/contacts/events/pullLatestRecords.js", JS),
        ("data/contacts/events/pull-latest-records.js", JS),
        ("data/contacts/find-by-id.mjs", JS),
        ("data/contacts/events/webhookSubscribe.js", JS),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(
        rel(&c, "data/contacts/list").as_deref(),
        Some("data/contacts/list.js")
    );
    // Kebab wins over camel when both exist, whatever spelling the caller uses.
    assert_eq!(
        rel(&c, "data/contacts/events/pullLatestRecords").as_deref(),
        Some("data/contacts/events/pull-latest-records.js")
    );
    assert_eq!(
        rel(&c, "data/contacts/find-by-id").as_deref(),
        Some("data/contacts/find-by-id.mjs")
    );
    assert_eq!(
        rel(&c, "data/contacts/findById.js").as_deref(),
        Some("data/contacts/find-by-id.mjs")
    );
    assert_eq!(
        rel(&c, "data/contacts/events/webhook-subscribe").as_deref(),
        Some("data/contacts/events/webhookSubscribe.js")
    );
    assert_eq!(rel(&c, "data/contacts/create"), None);
    let f = c.function_file("auth/make-api-client").unwrap().unwrap();
    assert_eq!(f.export, "makeApiClient");
    assert!(f.path.is_absolute() && f.path.ends_with("auth/make-api-client.js"));
    let f = c
        .function_file("data/contacts/events/pull-latest-records")
        .unwrap()
        .unwrap();
    assert_eq!(f.export, "pullLatestRecords");
}

#[test]
fn file_path_relative_to_spec_or_root() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        ("auth/make-api-client.js", JS),
        (
            "data/contacts/spec.yml",
            "name: Contacts\nmethods:\n  list:\n    filePath: impl/all.js\n  findById:\n    filePath: data/shared/find.js\nevents:\n  pull-latest-records:\n    filePath: ../../lib/pull.mjs\n",
        ),
        ("data/contacts/impl/all.js", JS),
        ("data/contacts/list.js", JS),
        ("data/shared/find.js", JS),
        ("lib/pull.mjs", JS),
    ]);
    let c = load_ok(tmp.path());
    // filePath beats the conventional file name.
    assert_eq!(
        rel(&c, "data/contacts/list").as_deref(),
        Some("data/contacts/impl/all.js")
    );
    assert_eq!(
        rel(&c, "data/contacts/find-by-id").as_deref(),
        Some("data/shared/find.js")
    );
    let f = c
        .function_file("data/contacts/events/pullLatestRecords")
        .unwrap()
        .unwrap();
    assert_eq!(f.rel.clone(), "lib/pull.mjs");
    assert_eq!(f.export, "pullLatestRecords");
    assert!(c.layout_problems().is_empty(), "{:?}", c.layout_problems());
}

#[test]
fn file_path_outside_or_missing_is_a_problem() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("evil.js"), JS).unwrap();
    let root = outer.path().join("conn");
    write(
        &root,
        &[
            ROOT_SPEC,
            MAKE_CLIENT,
            (
                "data/contacts/spec.yml",
                "name: Contacts\nmethods:\n  list:\n    filePath: ../../../evil.js\n  create:\n    filePath: nothing.js\n",
            ),
        ],
    );
    let c = load_ok(&root);
    let err = c.function_file("data/contacts/list").unwrap_err();
    assert_eq!(err.file.display().to_string(), "data/contacts/spec.yml");
    assert_eq!(err.line, Some(4));
    assert!(
        err.message.contains("outside the connector directory"),
        "{err}"
    );
    let err = c.function_file("data/contacts/create").unwrap_err();
    assert!(err.message.contains("does not exist"), "{err}");
    let problems = messages(&c.layout_problems());
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems
        .iter()
        .all(|p| p.starts_with("data/contacts/spec.yml:")));
    // Not listed for parse checks either.
    assert!(
        c.all_function_files().is_empty()
            || c.all_function_files()
                .iter()
                .all(|f| f.path.starts_with(&c.dir))
    );
}

#[test]
fn absolute_file_path_and_bad_names_are_refused() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        (
            "data/contacts/spec.yml",
            "methods:\n  list:\n    filePath: /etc/passwd\n",
        ),
    ]);
    let c = load_ok(tmp.path());
    assert!(c
        .function_file("data/contacts/list")
        .unwrap_err()
        .message
        .contains("must be relative"));
    assert!(c.function_file("data/contacts/../../x").is_err());
    assert!(c
        .function_file("data/nope/list")
        .unwrap_err()
        .message
        .contains("no collection `nope`"));
    assert!(c.function_file("lib/x").is_err());
}

#[test]
fn extends_falls_back_to_base_files() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        (
            "data/_object/spec.yml",
            "name: Object\nparametersSchema:\n  type: object\n  properties:\n    path: {type: string}\n    limit: {type: integer, default: 10}\nevents:\n  strategy: full-scan\n  pullIntervalSeconds: 300\nmethods:\n  findById:\n    filePath: shared/find.js\n",
        ),
        ("data/_object/list.js", JS),
        ("data/_object/shared/find.js", JS),
        ("data/_object/events/pull.js", JS),
        (
            "data/deals/spec.yml",
            "name: Deals\nextends: _object\nparametersSchema:\n  properties:\n    path: {default: /deals}\nevents:\n  pullIntervalSeconds: 60\n",
        ),
        ("data/deals/events/pull.js", JS),
        ("data/tasks/spec.json", "{\"extends\": \"../_object/spec.yml\"}"),
    ]);
    let c = load_ok(tmp.path());
    assert_eq!(c.collections.keys().collect::<Vec<_>>(), ["deals", "tasks"]);
    let deals = &c.collections["deals"];
    assert_eq!(deals.name, "Deals");
    assert_eq!(
        c.collections["tasks"].name, "tasks",
        "name is not inherited"
    );
    assert_eq!(
        rel(&c, "data/deals/list").as_deref(),
        Some("data/_object/list.js")
    );
    assert_eq!(
        rel(&c, "data/deals/events/pull").as_deref(),
        Some("data/deals/events/pull.js")
    );
    // A base's filePath is relative to the base's spec.
    assert_eq!(
        rel(&c, "data/tasks/find-by-id").as_deref(),
        Some("data/_object/shared/find.js")
    );
    let schema = deals.parameters_schema.as_ref().unwrap();
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["path"]["type"], "string");
    assert_eq!(schema["properties"]["path"]["default"], "/deals");
    assert_eq!(deals.events.pull_interval_seconds, Some(60));
    assert_eq!(deals.raw.get("extends"), None);
    assert_eq!(deals.base_dirs().len(), 1);
    let strategies = c.strategies("tasks");
    assert_eq!(strategies.len(), 3);
    assert!(strategies
        .values()
        .all(|s| *s == (runtime_connector::Strategy::FullScan, Some(300))));
}

#[test]
fn extends_cycles_and_missing_bases_are_problems() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/a/spec.yml", "extends: b\n"),
        ("data/b/spec.yml", "name: B\nextends: a\n"),
        ("data/c/spec.yml", "name: C\n\nextends: _nowhere\n"),
    ]);
    let problems = runtime_connector::load(tmp.path()).unwrap_err();
    let msgs = messages(&problems);
    assert_eq!(
        msgs.iter().filter(|m| m.contains("cycle")).count(),
        2,
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("data/c/spec.yml:3:1: `extends`: `_nowhere`")),
        "{msgs:?}"
    );
}

#[test]
fn per_type_names_global_webhooks_and_all_files() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("auth/test.js", JS),
        ("data/contacts/events/created-pull-latest-records.js", JS),
        ("data/contacts/events/deletedPull.js", JS),
        (
            "data/contacts/spec.yml",
            "events:\n  updated:\n    pullLatestRecords:\n      filePath: upd.js\n",
        ),
        ("data/contacts/upd.js", JS),
        ("global-webhooks/main/handle.js", JS),
        ("data/_base/helper.js", JS),
    ]);
    let c = load_ok(tmp.path());
    let f = c
        .function_file("data/contacts/events/createdPullLatestRecords")
        .unwrap()
        .unwrap();
    assert_eq!(
        f.rel.clone(),
        "data/contacts/events/created-pull-latest-records.js"
    );
    assert_eq!(f.export, "createdPullLatestRecords");
    assert_eq!(
        rel(&c, "data/contacts/events/updated-pull-latest-records").as_deref(),
        Some("data/contacts/upd.js")
    );
    assert_eq!(
        rel(&c, "data/contacts/events/deleted-pull").as_deref(),
        Some("data/contacts/events/deletedPull.js")
    );
    let f = c
        .function_file("global-webhooks/main/handle.js")
        .unwrap()
        .unwrap();
    assert_eq!(f.export, "handle");
    assert!(c.function_file("global-webhooks/other/handle").is_err());
    let all: Vec<String> = c
        .all_function_files()
        .iter()
        .map(|f| f.rel.clone())
        .collect();
    assert_eq!(
        all,
        [
            "auth/make-api-client.js",
            "auth/test.js",
            "data/_base/helper.js",
            "data/contacts/events/created-pull-latest-records.js",
            "data/contacts/events/deletedPull.js",
            "data/contacts/upd.js",
            "global-webhooks/main/handle.js",
        ]
    );
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_connector_is_refused() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret.js"), JS).unwrap();
    let root = outer.path().join("conn");
    write(
        &root,
        &[ROOT_SPEC, MAKE_CLIENT, ("data/c/spec.yml", "name: C\n")],
    );
    std::os::unix::fs::symlink(outer.path().join("secret.js"), root.join("data/c/list.js"))
        .unwrap();
    let c = load_ok(&root);
    let err = c.function_file("data/c/list").unwrap_err();
    assert_eq!(
        err.to_string(),
        "data/c/list.js: `data/c/list.js` is outside the connector directory"
    );
    assert_eq!(messages(&c.layout_problems()), [err.to_string()]);
    assert!(c
        .all_function_files()
        .iter()
        .all(|f| f.rel.starts_with("auth")));
}

#[test]
fn has_function_is_whether_a_collection_file_implements_a_name() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/contacts/list.js", JS),
        ("data/contacts/events/pullLatestRecords.js", JS),
        (
            "data/deals/spec.yml",
            "methods:\n  list:\n    filePath: /etc/passwd\n",
        ),
    ]);
    let c = load_ok(tmp.path());
    assert!(c.has_function("contacts", "list"));
    assert!(c.has_function("contacts", "events/pull-latest-records"));
    assert!(c.has_function("contacts", "events/pullLatestRecords.js"));
    assert!(!c.has_function("contacts", "events/pull"));
    assert!(!c.has_function("nope", "list"), "unknown collection");
    assert!(!c.has_function("contacts", "../contacts/list"), "bad name");
    assert!(!c.has_function("deals", "list"), "a refused file path");
}

//! Layout checks and function files limited to some collections (the enabled
//! ones), so a disabled broken collection does not block a run.

mod common;

use common::*;

fn broken_connector() -> tempfile::TempDir {
    dir_with(&[
        // No baseUri and no auth/make-api-client.js: a connector-level problem.
        ROOT_SPEC,
        ("data/good/list.js", JS),
        ("data/hooks/spec.yml", "events:\n  strategy: webhook\n"),
        ("data/hooks/events/webhook-subscribe.js", JS),
        (
            "data/paths/spec.yml",
            "methods:\n  list:\n    filePath: nothing.js\n",
        ),
        (
            "data/_base/spec.yml",
            "methods:\n  findById:\n    filePath: gone.js\n",
        ),
        ("data/child/spec.yml", "extends: _base\n"),
        ("data/child/list.js", JS),
    ])
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn layout_problems_for_checks_only_included_collections() {
    let tmp = broken_connector();
    let c = load_ok(tmp.path());
    let auth = "auth/make-api-client.js: missing: it builds the API client, and the connector spec has no `baseUri` to use instead";
    let hooks = "data/hooks/spec.yml:2:3: collection `hooks`: strategy `webhook` (for created, updated, deleted) needs data/hooks/events/webhook-handle.js, which is missing";
    let paths =
        "data/paths/spec.yml:3:5: `methods.list.filePath`: `data/paths/nothing.js` does not exist";
    let base =
        "data/_base/spec.yml:3:5: `methods.findById.filePath`: `data/_base/gone.js` does not exist";
    let all = sorted(messages(&c.layout_problems()));
    assert_eq!(
        all,
        sorted(vec![auth.into(), hooks.into(), paths.into(), base.into()])
    );
    assert_eq!(sorted(messages(&c.layout_problems_for(|_| true))), all);
    // Connector-level checks stay when every collection is left out.
    assert_eq!(messages(&c.layout_problems_for(|_| false)), [auth]);
    assert_eq!(messages(&c.layout_problems_for(|k| k == "good")), [auth]);
    assert_eq!(
        sorted(messages(
            &c.layout_problems_for(|k| k == "hooks" || k == "paths")
        )),
        sorted(vec![auth.into(), hooks.into(), paths.into()])
    );
    // A shared base is checked through the collections that extend it.
    assert_eq!(
        sorted(messages(&c.layout_problems_for(|k| k == "child"))),
        sorted(vec![auth.into(), base.into()])
    );
}

#[cfg(unix)]
#[test]
fn escaping_symlink_in_an_excluded_collection_is_not_checked() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret.js"), JS).unwrap();
    let root = outer.path().join("conn");
    write(
        &root,
        &[
            ROOT_SPEC,
            MAKE_CLIENT,
            ("data/ok/list.js", JS),
            ("data/evil/spec.yml", "name: E\n"),
        ],
    );
    std::os::unix::fs::symlink(
        outer.path().join("secret.js"),
        root.join("data/evil/list.js"),
    )
    .unwrap();
    let c = load_ok(&root);
    let problem = "data/evil/list.js: `data/evil/list.js` is outside the connector directory";
    assert_eq!(messages(&c.layout_problems()), [problem]);
    assert_eq!(
        messages(&c.layout_problems_for(|k| k != "evil")),
        Vec::<String>::new()
    );
    assert!(c.collection_function_files("evil").is_empty());
}

#[test]
fn function_files_per_collection() {
    let tmp = dir_with(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("auth/test.js", JS),
        ("global-webhooks/main/handle.js", JS),
        (
            "data/_object/spec.yml",
            "methods:\n  findById:\n    filePath: ../../lib/find.js\n",
        ),
        ("data/_object/list.js", JS),
        (
            "data/deals/spec.yml",
            "extends: _object\nmethods:\n  create:\n    filePath: impl/create.js\n",
        ),
        ("data/deals/events/pull.js", JS),
        ("data/deals/impl/create.js", JS),
        ("data/contacts/list.js", JS),
        ("lib/find.js", JS),
        ("lib/unrelated.js", JS),
    ]);
    let c = load_ok(tmp.path());
    let rels = |files: Vec<runtime_connector::FunctionFile>| -> Vec<(String, String)> {
        files
            .into_iter()
            .map(|f| (f.rel.clone(), f.export))
            .collect()
    };
    let pair = |r: &str, e: &str| (r.to_string(), e.to_string());
    assert_eq!(
        rels(c.collection_function_files("deals")),
        [
            pair("data/_object/list.js", "list"),
            pair("data/deals/events/pull.js", "pull"),
            pair("data/deals/impl/create.js", "create"),
            pair("lib/find.js", "findById"),
        ]
    );
    assert_eq!(
        rels(c.collection_function_files("contacts")),
        [pair("data/contacts/list.js", "list")]
    );
    assert!(c.collection_function_files("nope").is_empty());
    assert_eq!(
        rels(c.connector_function_files()),
        [
            pair("auth/make-api-client.js", "makeApiClient"),
            pair("auth/test.js", "test"),
            pair("global-webhooks/main/handle.js", "handle"),
        ]
    );
    // Together they cover every function file a run may load.
    let mut union: Vec<String> = c
        .connector_function_files()
        .into_iter()
        .chain(c.collection_function_files("deals"))
        .chain(c.collection_function_files("contacts"))
        .map(|f| f.rel.clone())
        .collect();
    union.sort();
    union.dedup();
    let all: Vec<String> = c
        .all_function_files()
        .into_iter()
        .map(|f| f.rel.clone())
        .collect();
    assert_eq!(union, all);
}

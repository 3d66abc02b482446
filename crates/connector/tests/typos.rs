//! Typos in the sections the runtime reads: closed sections report every
//! unknown key, open ones (method declarations) only near misses; each with a
//! did-you-mean and the file, line and column of the key.

mod common;

use common::*;

fn problems(files: &[(&str, &str)]) -> Vec<String> {
    let tmp = dir_with(files);
    let problems = runtime_connector::load(tmp.path()).expect_err("load should fail");
    messages(&problems)
}

fn assert_same(mut got: Vec<String>, expected: &[&str]) {
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
}

const EVENTS_KNOWN: &str = "strategy, implementationType, method, pullIntervalSeconds, ignoredFields, createdTimeField, updatedTimeField, deletedTimeField, fullScan, created, updated, deleted, all, methods, webhookSubscribe, webhookHandle, webhookUnsubscribe, webhookRefresh, pullLatestRecords, subscribe, collectEvents, pull";

const PER_TYPE_KNOWN: &str = "strategy, implementationType, method, type, pullIntervalSeconds, ignoredFields, methods, isFullScan, createdTimeField, updatedTimeField, deletedTimeField, webhookSubscribe, webhookHandle, webhookUnsubscribe, webhookRefresh, pullLatestRecords, subscribe, collectEvents, pull";

#[test]
fn unknown_event_keys_fail_load_with_a_suggestion() {
    let got = problems(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/c/list.js", JS),
        (
            "data/c/spec.yml",
            "name: C\nevents:\n  strategy: full-scan\n  pullIntervalSecond: 60\n  ignoreFields: [a]\n  somethingElse: 1\n  pull-latest-records: {filePath: list.js}\n  createdPullLatestRecords: {filePath: list.js}\n  created:\n    strategy: full-scan\n    pullIntervalSecond: 5\n    pull: {filePath: list.js}\n  all: {ignoreFields: [b], isFullScan: true}\n",
        ),
    ]);
    assert_same(
        got,
        &[
            &format!("data/c/spec.yml:4:3: `events.pullIntervalSecond`: unknown key; did you mean `pullIntervalSeconds`? (known: {EVENTS_KNOWN})"),
            &format!("data/c/spec.yml:5:3: `events.ignoreFields`: unknown key; did you mean `ignoredFields`? (known: {EVENTS_KNOWN})"),
            &format!("data/c/spec.yml:6:3: `events.somethingElse`: unknown key (known: {EVENTS_KNOWN})"),
            &format!("data/c/spec.yml:11:5: `events.created.pullIntervalSecond`: unknown key; did you mean `pullIntervalSeconds`? (known: {PER_TYPE_KNOWN})"),
            &format!("data/c/spec.yml:13:9: `events.all.ignoreFields`: unknown key; did you mean `ignoredFields`? (known: {PER_TYPE_KNOWN})"),
        ],
    );
}

#[test]
fn known_event_keys_and_membrane_top_level_keys_load() {
    let tmp = dir_with(&[
        (
            "spec.yml",
            "key: acme\nname: Acme\nconnectionMode: x\nlogoUri: https://x/logo.png\nui: {schema: {}}\napi: {type: rest}\nauth:\n  type: oauth2\n  credentialsSchema: {type: object}\n  makeApiClient: {implementationType: javascript}\n  getOAuthConfig: {implementationType: mapping, mapping: {}}\n",
        ),
        MAKE_CLIENT,
        ("data/c/list.js", JS),
        (
            "data/c/spec.yml",
            "name: C\nfieldsSchema: {type: object}\nudm: contacts\nevents:\n  implementationType: full-scan\n  method: full-scan\n  pullIntervalSeconds: 60\n  ignoredFields: [a]\n  createdTimeField: c\n  updatedTimeField: u\n  deletedTimeField: d\n  fullScan: {maxRecords: 5}\n  methods: {pull: {filePath: list.js}}\n  created: {type: created, isFullScan: true, methods: {}, ignoredFields: [], createdTimeField: c}\n  updated: webhook\n  all: {method: full-scan}\nmethods:\n  list: {implementationType: javascript, parametersSchema: {}, type: list}\n  find-by-id: {filePath: list.js}\n  myCustomOperation: {implementationType: javascript, whatever: 1}\n",
        ),
    ]);
    load_ok(tmp.path());
}

#[test]
fn method_near_misses_only() {
    let got = problems(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/c/list.js", JS),
        (
            "data/c/spec.yml",
            "name: C\nmethods:\n  lsit: {filePath: list.js}\n  list:\n    filepath: list.js\n    implementationType: javscript\n    somethingOfMembrane: true\n  create:\n    implementationType: soap\n  update:\n    implementationType: 3\n  findById_: {}\n  exportAll: {}\n",
        ),
    ]);
    let types = "javascript, mapping, operation-mapping, rest-api-mapping, graphql-api-mapping, not-supported";
    assert_same(
        got,
        &[
            "data/c/spec.yml:3:3: `methods.lsit`: unknown key; did you mean `list`?",
            "data/c/spec.yml:5:5: `methods.list.filepath`: unknown key; did you mean `filePath`?",
            &format!("data/c/spec.yml:6:5: `methods.list.implementationType`: unknown implementation type `javscript`; did you mean `javascript`? (known: {types})"),
            &format!("data/c/spec.yml:9:5: `methods.create.implementationType`: unknown implementation type `soap`; expected one of {types}"),
            "data/c/spec.yml:11:5: `methods.update.implementationType`: must be a string, not a number",
            "data/c/spec.yml:12:3: `methods.findById_`: unknown key; did you mean `findById`?",
        ],
    );
}

#[test]
fn auth_methods_flat_and_nested() {
    let got = problems(&[
        (
            "spec.yml",
            "key: acme\nname: Acme\nauth:\n  type: oauth2\n  makeApiClient:\n    file-path: auth/make-api-client.js\n  refreshCredential: {}\n  methods:\n    tset: {implementationType: javascript}\n    test: {implementationType: JavaScript}\n",
        ),
        MAKE_CLIENT,
    ]);
    assert_same(
        got,
        &[
            "spec.yml:6:5: `auth.makeApiClient.file-path`: unknown key; did you mean `filePath`?",
            "spec.yml:7:3: `auth.refreshCredential`: unknown key; did you mean `refreshCredentials`?",
            "spec.yml:9:5: `auth.methods.tset`: unknown key; did you mean `test`?",
            "spec.yml:10:12: `auth.methods.test.implementationType`: unknown implementation type `JavaScript`; did you mean `javascript`? (known: javascript, mapping, operation-mapping, rest-api-mapping, graphql-api-mapping, not-supported)",
        ],
    );
}

#[test]
fn typo_in_a_base_points_at_the_base_once() {
    let got = problems(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        (
            "data/_object/spec.yml",
            "name: Object\n# shared\nevents:\n  strategy: full-scan\n  fullScan:\n    maxRecord: 10\n  pullIntervalSecond: 300\nmethods:\n  lsit: {filePath: list.js}\n",
        ),
        ("data/_object/list.js", JS),
        (
            "data/deals/spec.yml",
            "name: Deals\nextends: _object\nevents:\n  ignoredFields: [x]\n  deleted: {stratgy: full-scan}\n",
        ),
        ("data/tasks/spec.json", "{\"extends\": \"_object\"}"),
    ]);
    let full = "maxRecords, maxPages, maxSeconds, maxDeletedShare, deleteGuardMinRecords";
    assert_same(
        got,
        &[
            &format!("data/_object/spec.yml:6:5: `events.fullScan.maxRecord`: unknown key; did you mean `maxRecords`? (known: {full})"),
            &format!("data/_object/spec.yml:7:3: `events.pullIntervalSecond`: unknown key; did you mean `pullIntervalSeconds`? (known: {EVENTS_KNOWN})"),
            "data/_object/spec.yml:9:3: `methods.lsit`: unknown key; did you mean `list`?",
            &format!("data/deals/spec.yml:5:13: `events.deleted.stratgy`: unknown key; did you mean `strategy`? (known: {PER_TYPE_KNOWN})"),
        ],
    );
}

#[test]
fn typo_in_a_json_spec_has_its_line() {
    let got = problems(&[
        ROOT_SPEC,
        MAKE_CLIENT,
        ("data/c/list.js", JS),
        (
            "data/c/spec.json",
            "{\n  \"name\": \"C\",\n  \"events\": {\n    \"ignoredField\": [\"a\"]\n  }\n}\n",
        ),
    ]);
    assert_same(
        got,
        &[&format!("data/c/spec.json:4:5: `events.ignoredField`: unknown key; did you mean `ignoredFields`? (known: {EVENTS_KNOWN})")],
    );
}

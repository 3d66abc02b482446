//! Author and operator mistakes before any cycle runs (issue 10, points 6
//! and 7, and the "loud but unhelpful" list), through the binary: typos in
//! the sections the runtime reads, two connections on one data dir, broken
//! functions of enabled and disabled collections, the `state` commands,
//! error messages that repeat themselves, and `demo` from anywhere.

mod support;

use std::path::Path;
use std::time::Duration;

use mock_api::{Fault, MockApi};
use serde_json::{json, Value};
use support::*;
use tempfile::TempDir;

const LIST: &str = "export default async function list({ apiClient, cursor }) {\n  const response = await apiClient.get('/companies', { cursor, limit: 5 })\n  return { records: response.records, cursor: response.cursor }\n}\n";

fn connector(files: &[(&str, &str)]) -> TempDir {
    api_connector("setup", files)
}

/// The binary with `args` in the working directory `cwd`: (code, stdout, stderr).
fn run_in(cwd: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = command(args, &[]);
    cmd.current_dir(cwd);
    let run = to_end(cmd, Duration::from_secs(60));
    (run.code, run.stdout, run.stderr)
}

#[test]
fn typos_in_the_sections_the_runtime_reads_fail_with_a_suggestion() {
    let dir = connector(&[
        ("data/companies/list.js", LIST),
        (
            "data/companies/spec.yml",
            "name: Companies\nevents:\n  strategy: full-scan\n  ignoreFields: [updatedTime]\n  pullIntervalSecond: 5\n",
        ),
    ]);
    let d = dir.path().display().to_string();
    let (code, stdout, _) = run_to_end(&["validate".into(), d.clone()]);
    assert_ne!(code, Some(0), "{stdout}");
    for needle in [
        "data/companies/spec.yml:4:3: `events.ignoreFields`",
        "did you mean `ignoredFields`?",
        "data/companies/spec.yml:5:3: `events.pullIntervalSecond`",
        "did you mean `pullIntervalSeconds`?",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
    let mock = MockApi::start();
    let mut work = Work::new(dir.path().into(), &mock.base_url(), &["companies"], None);
    let (code, events, stderr) = work.once();
    assert_ne!(code, Some(0));
    assert!(events.is_empty());
    assert!(stderr.contains("did you mean `ignoredFields`?"), "{stderr}");

    // Membrane's own keys elsewhere stay ignored.
    write(
        dir.path(),
        "data/companies/spec.yml",
        "name: Companies\nlogoUri: x.png\nevents:\n  strategy: full-scan\n",
    );
    write(
        dir.path(),
        "spec.yml",
        &format!(
            "{}    pageSize: {{type: integer, minimum: 1, default: 0}}\nconnectionMode: optional\nlimits:\n  cpuMS: 100\nhttp:\n  maxAttemps: 3\n",
            api_spec("setup")
        ),
    );
    let (code, stdout, _) = run_to_end(&["validate".into(), d]);
    assert_ne!(code, Some(0));
    for needle in [
        "`limits.cpuMS`: unknown key; did you mean `cpuMs`?",
        "`http.maxAttemps`: unknown key; did you mean `maxAttempts`?",
        // A default that fails its own schema is the spec's fault, at its line.
        "spec.yml:7:",
        "`parametersSchema.properties.pageSize.default`",
        "does not satisfy its own schema",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("logoUri") && !stdout.contains("connectionMode"),
        "{stdout}"
    );
}

/// The stored subscriptions as `state show` prints them.
fn subscriptions(work: &Work) -> Value {
    let (code, stdout, stderr) = work.state("show");
    assert_eq!(code, Some(0), "{stderr}");
    serde_json::from_str::<Value>(&stdout).unwrap()["subscriptions"].clone()
}

#[test]
fn a_data_dir_belongs_to_one_connection() {
    let mock = MockApi::start();
    mock.seed("companies", 8);
    let dir = connector(&[("data/companies/list.js", LIST)]);
    let mut first = Work::new(dir.path().into(), &mock.base_url(), &["companies"], None);
    assert!(first.once_ok().is_empty(), "the baseline");
    let before = subscriptions(&first);

    // A second customer's connection pointed at the same data dir.
    let mut second = Work::new(dir.path().into(), &mock.base_url(), &["companies"], None);
    second.data = first.data.clone();
    let (code, events, stderr) = second.once();
    assert_ne!(code, Some(0), "a second connection used the data dir");
    assert!(events.is_empty(), "{events:?}");
    assert!(stderr.contains("holds the state of connection"), "{stderr}");
    assert!(
        stderr.contains(
            &first
                .connection
                .canonicalize()
                .unwrap()
                .display()
                .to_string()
        ),
        "{stderr}"
    );
    assert!(stderr.contains("Drop --data-dir"), "{stderr}");
    assert_eq!(subscriptions(&first), before);

    // Without --data-dir each connection gets its own, under .runtime/.
    let cwd = tempfile::tempdir().unwrap();
    let run = |work: &Work| {
        let sink = work.tmp.path().join("default.jsonl");
        let (code, _, stderr) = run_in(
            cwd.path(),
            &[
                "run",
                &dir.path().display().to_string(),
                "--connection",
                &work.connection.display().to_string(),
                "--once",
                "--sink",
                &format!("file:{}", sink.display()),
            ],
        );
        assert_eq!(code, Some(0), "{stderr}");
        read_events(&sink)
    };
    assert!(run(&first).is_empty(), "a baseline in its own dir");
    mock.create("companies", json!({"name": "New"}));
    assert!(run(&second).is_empty(), "a baseline, not the first's state");
    assert_eq!(run(&first).len(), 1, "the first connection's change");
    let dirs = std::fs::read_dir(cwd.path().join(".runtime/setup"))
        .unwrap()
        .count();
    assert_eq!(dirs, 2, "one data dir per connection");

    // An `id` in the connection file names its data dir.
    let with_id = json!({"id": "customer-42", "parameters": {"baseUri": mock.base_url()}});
    std::fs::write(&second.connection, with_id.to_string()).unwrap();
    run(&second);
    assert!(cwd.path().join(".runtime/setup/customer-42").is_dir());
}

#[test]
fn run_checks_enabled_collections_at_start_and_ignores_disabled_ones() {
    let mock = MockApi::start();
    mock.seed("companies", 3);
    let broken = "export default async function findById({ apiClient, id }) {\n  return { record: await apiClient.get(`/companies/${id}`) \n}\n";
    let dir = connector(&[
        ("data/companies/list.js", LIST),
        ("data/companies/find-by-id.js", broken),
        (
            "data/broken/list.js",
            "export default async function list( {\n",
        ),
    ]);
    // The broken collection disabled: the run goes ahead...
    let mut work = Work::new(dir.path().into(), &mock.base_url(), &["companies"], None);
    let conn: Value =
        serde_json::from_str(&std::fs::read_to_string(&work.connection).unwrap()).unwrap();
    let mut conn = conn;
    conn["collections"]["broken"] = json!({"enabled": false});
    std::fs::write(&work.connection, conn.to_string()).unwrap();
    // ...except that `find-by-id.js` of the enabled collection does not
    // parse, which the baseline would never have noticed.
    let (code, events, stderr) = work.once();
    assert_ne!(code, Some(0), "{stderr}");
    assert!(events.is_empty());
    assert!(
        stderr.contains("data/companies/find-by-id.js:4:1: SyntaxError"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("data/broken"),
        "a disabled collection: {stderr}"
    );
    write(
        dir.path(),
        "data/companies/find-by-id.js",
        &broken.replace(") \n}", ") }\n}"),
    );
    assert!(
        work.once_ok().is_empty(),
        "the disabled broken collection is ignored"
    );
}

#[test]
fn state_commands_say_what_is_wrong_and_hide_secrets() {
    let mock = MockApi::start();
    let dir = connector(&[
        ("data/companies/list.js", LIST),
        (
            "data/tickets/events/webhook-subscribe.js",
            "export default async ({ apiClient, webhookUri }) => {\n  const hook = await apiClient.post('/webhooks', { url: webhookUri })\n  return { state: { webhookId: hook.id, signingSecret: 'whsec-very-secret' } }\n}\n",
        ),
        (
            "data/tickets/events/webhook-handle.js",
            "export default async ({ data }) => ({ events: [{ type: 'created', record: data }] })\n",
        ),
    ]);
    let mut work = Work::new(
        dir.path().into(),
        &mock.base_url(),
        &["companies", "tickets"],
        None,
    );
    let sink = work.sink_path();
    let mut args = work.run_args(&format!("file:{}", sink.display()));
    args.extend(["--once".into(), "--once-webhooks".into()]);
    let (code, _, stderr) = run_to_end(&args);
    assert_eq!(code, Some(0), "{stderr}");

    let (code, stdout, stderr) = work.state("show");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.contains("whsec-very-secret"), "{stdout}");
    assert!(stdout.contains("[redacted]"), "{stdout}");

    let d = dir.path().display().to_string();
    let data = work.data.display().to_string();
    // An unknown collection is an error, not "nothing to reset".
    let (code, _, stderr) = run_to_end(&[
        "state".into(),
        "reset".into(),
        d.clone(),
        "--data-dir".into(),
        data.clone(),
        "--connection".into(),
        work.connection.display().to_string(),
        "--collection".into(),
        "tickts".into(),
    ]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("no collection `tickts`"), "{stderr}");
    assert!(stderr.contains("companies, tickets"), "{stderr}");
    // A webhook reset needs the credentials to unsubscribe.
    let (code, _, stderr) = run_to_end(&[
        "state".into(),
        "reset".into(),
        d.clone(),
        "--data-dir".into(),
        data.clone(),
    ]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("pass --connection"), "{stderr}");
    assert_eq!(mock.webhooks().len(), 1, "nothing was unsubscribed");
    // A mistyped data dir is reported and not created.
    let typo = work.tmp.path().join("dta");
    let (code, _, stderr) = run_to_end(&[
        "state".into(),
        "show".into(),
        d,
        "--data-dir".into(),
        typo.display().to_string(),
    ]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("no data dir at"), "{stderr}");
    assert!(!typo.exists(), "state show created {}", typo.display());
}

#[test]
fn errors_say_things_once_and_api_errors_show_the_answer() {
    let mock = MockApi::start();
    let dir = connector(&[("data/companies/list.js", LIST)]);
    let mut work = Work::new(dir.path().into(), &mock.base_url(), &["companies"], None);
    // A data dir that is a file.
    std::fs::write(&work.data, "not a directory").unwrap();
    let (code, _, stderr) = work.once();
    assert_ne!(code, Some(0));
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let words: Vec<&str> = line.split(": ").collect();
    let mut seen = std::collections::HashSet::new();
    for w in &words {
        assert!(seen.insert(*w), "{w:?} said twice in {line:?}");
    }
    std::fs::remove_file(&work.data).unwrap();

    // The API's answer, secrets redacted, in the ApiError's message.
    mock.inject(
        "/companies",
        1,
        Fault::Status {
            code: 422,
            retry_after: None,
            body: Some(
                json!({"error": "limit must be at most 3", "apiKey": "sk-live-123"}).to_string(),
            ),
        },
    );
    let (code, _, stderr) = work.once();
    assert_ne!(code, Some(0));
    assert!(stderr.contains("limit must be at most 3"), "{stderr}");
    assert!(!stderr.contains("sk-live-123"), "{stderr}");
}

#[test]
fn a_run_says_what_it_does() {
    let mock = MockApi::start();
    mock.seed("companies", 7);
    let dir = connector(&[("data/companies/list.js", LIST)]);
    let mut work = Work::new(dir.path().into(), &mock.base_url(), &["companies"], None);
    let (code, _, stderr) = work.once();
    assert_eq!(code, Some(0), "{stderr}");
    for needle in [
        "collection=companies",
        "strategy=\"full-scan\"",
        "interval_s=",
        "baseline taken: stored a snapshot of 7 records",
    ] {
        assert!(
            stderr.contains(needle),
            "{needle:?} missing from:\n{stderr}"
        );
    }
}

#[test]
fn demo_runs_from_any_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) =
        run_in(cwd.path(), &["demo", "--seconds", "4", "--interval", "0.5"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.lines().any(|l| l.contains("\"type\"")),
        "no events:\n{stdout}\n{stderr}"
    );
}

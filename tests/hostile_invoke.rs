//! Hostile connector code through `runtime invoke`: endless loops of every
//! kind, memory bombs (heap, strings, ArrayBuffers, typed arrays), deep
//! recursion, results and errors that run code when the host reads them,
//! built-ins replaced under the host glue, credentials it must not reach,
//! and auth functions that throw. Every one ends in a clean error exit that
//! names the file and the limit or problem, quickly, with bounded memory.

mod support;

use std::time::Duration;

use mock_api::{Fault, MockApi};
use serde_json::{json, Value};
use support::{connection_file, fixture, invoke_with, Run};

const LIMITS: &[&str] = &["--cpu-limit-ms", "300", "--heap-limit-mb", "64"];

/// Peak resident memory of any child this test binary has waited for, in
/// MiB (Linux reports `ru_maxrss` in KiB). Every child runs with a 64 MiB
/// heap, so one bound holds for all of them.
fn peak_child_rss_mib() -> u64 {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_maxrss as u64 / 1024
}

/// An idle runtime is ~40 MiB; 64 MiB of heap plus the engine's slack
/// must stay far below what an unbounded allocation would reach.
const RSS_BOUND_MIB: u64 = 320;

fn call(function: &str, input: Value) -> (Run, MockApi) {
    let mock = MockApi::start();
    let dir = fixture("hostile-invoke", &mock.base_url());
    let r = invoke_with(
        LIMITS,
        dir.path(),
        &format!("data/work/{function}"),
        &input,
        &[],
    );
    (r, mock)
}

/// A clean, quick failure naming the function's file and `what`.
fn assert_stopped(function: &str, what: &str) -> Run {
    assert_stopped_by_any(function, &[what])
}

/// The same, where any of `whats` is a right answer: a flood that also
/// allocates may reach the heap limit before the CPU limit, depending on
/// how fast the machine is at the moment.
fn assert_stopped_by_any(function: &str, whats: &[&str]) -> Run {
    let (r, _m) = call(function, json!({}));
    let err = r.failure();
    assert!(
        err.contains(&format!("data/work/{function}.js")),
        "{function}: {r}"
    );
    assert!(
        whats.iter().any(|w| err.contains(w)),
        "{function}: expected one of {whats:?}: {r}"
    );
    assert!(
        r.elapsed < Duration::from_secs(6),
        "{function} took {:?}",
        r.elapsed
    );
    let peak = peak_child_rss_mib();
    assert!(peak < RSS_BOUND_MIB, "{function}: peak RSS {peak} MiB");
    r
}

#[test]
fn loops_that_keep_yielding_are_stopped_by_the_cpu_limit() {
    for f in ["await-null", "then-flood", "timer-storm", "timer-fork"] {
        assert_stopped_by_any(
            f,
            &[
                "stopped by the CPU time limit of 300 ms",
                "stopped by the heap limit of 64 MiB",
            ],
        );
    }
}

#[test]
fn memory_bombs_end_in_a_clean_error() {
    // Growing objects and typed arrays reach the heap limit; QuickJS counts
    // ArrayBuffer storage in the same malloc limit, so buffers do too.
    for f in ["object-bomb", "typed-bomb", "buffer-bomb"] {
        let r = call(f, json!({})).0;
        let err = r.failure();
        assert!(err.contains(&format!("data/work/{f}.js")), "{f}: {r}");
        assert!(
            err.contains("heap limit of 64 MiB") || err.contains("CPU time limit of 300 ms"),
            "{f}: {r}"
        );
    }
    // A single allocation larger than what is left fails at once inside
    // the engine, as a catchable error at the line that asked for it.
    let r = assert_stopped("huge-buffers", "out of memory");
    assert!(r.stderr.contains("data/work/huge-buffers.js:4:"), "{r}");
    assert_stopped("string-bomb", "string too long");
    let peak = peak_child_rss_mib();
    assert!(peak < RSS_BOUND_MIB, "peak RSS {peak} MiB");
}

#[test]
fn deep_recursion_and_deep_results_fail_cleanly() {
    let r = assert_stopped("deep-recursion", "RangeError");
    assert!(r.stderr.contains("data/work/deep-recursion.js:2:"), "{r}");
    let (r, _m) = call("deep-result", json!({"depth": 100_000}));
    let err = r.failure();
    assert!(
        err.contains("data/work/deep-result.js returned a value that is not JSON"),
        "{r}"
    );
    // Deep enough for the host's parser to refuse, shallow enough for JS.
    let (r, _m) = call("deep-result", json!({"depth": 1000}));
    let err = r.failure();
    assert!(
        err.contains("data/work/deep-result.js returned a value the host cannot read"),
        "{r}"
    );
    assert!(!err.contains("internal error"), "{r}");
    let (r, _m) = call("deep-result", json!({"depth": 100}));
    assert!(r.json().pointer("/o/o/o/o/o/o/o/o/o/o").is_some(), "{r}");
}

#[test]
fn code_run_while_reading_the_result_or_the_error_is_limited_too() {
    assert_stopped("to-json-loop", "CPU time limit of 300 ms");
    assert_stopped("throw-getter", "CPU time limit of 300 ms");
}

#[test]
fn built_ins_cannot_be_replaced_so_the_result_cannot_be_forged() {
    let (r, _m) = call("pollute", json!({}));
    assert_eq!(
        r.json(),
        json!({"records": [{"id": "real"}], "refused": [
            "JSON.stringify", "JSON.parse", "Array.prototype.map",
            "Object.prototype.toString", "Object.prototype.polluted",
            "globalThis.JSON", "setPrototypeOf(Array.prototype)",
        ]})
    );
}

#[test]
fn assigning_inherited_names_on_ordinary_objects_still_works() {
    let (r, _m) = call("override", json!({}));
    assert_eq!(
        r.json(),
        json!({
            "error": "MyError: boom",
            "legacy": "legacy",
            "legacyIsError": true,
            "string": "mine",
            "number": 42,
            "assigned": "assigned",
            "ownState": 1,
        })
    );
}

#[test]
fn only_the_connections_own_credentials_are_reachable() {
    let mock = MockApi::start();
    let tmp = tempfile::tempdir().unwrap();
    let conn_dir = tmp.path().join("conn");
    support::copy_tree(
        &support::fixtures_dir().join("hostile-invoke"),
        &conn_dir,
        &mock.base_url(),
    );
    // Another connection's file next to the connector, and a secret in the
    // runtime's own environment: neither may reach connector code.
    std::fs::write(
        tmp.path().join("other.json"),
        r#"{"credentials": {"accessToken": "OTHER-CONNECTION-TOKEN"}}"#,
    )
    .unwrap();
    let own = connection_file(
        tmp.path(),
        &json!({"credentials": {"accessToken": "OWN-TOKEN"}}),
    );
    let input = json!({"imports": ["../../../other.json", "/proc/self/environ"]});
    let args_input = input.to_string();
    let dir = conn_dir.to_str().unwrap();
    let r = support::runtime(
        &[
            "invoke",
            dir,
            "data/work/snoop",
            "--input",
            &args_input,
            "--connection",
            own.to_str().unwrap(),
        ],
        &[("HOSTILE_ENV_SECRET", "ENV-SECRET-VALUE")],
    );
    let out = r.json();
    let found: Vec<&str> = out["found"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The walk really ran and reaches what the connection legitimately gives.
    assert!(out["count"].as_u64().unwrap() > 100, "{out}");
    assert!(found.contains(&"OWN-TOKEN"), "{out}");
    assert!(found.contains(&"refused: ../../../other.json"), "{out}");
    assert!(found.contains(&"refused: /proc/self/environ"), "{out}");
    for secret in ["OTHER-CONNECTION-TOKEN", "ENV-SECRET-VALUE"] {
        assert!(
            !found.iter().any(|s| s.contains(secret)),
            "{secret} leaked: {out}"
        );
    }
}

#[test]
fn a_throwing_make_api_client_names_its_file() {
    let mock = MockApi::start();
    let dir = fixture("hostile-invoke", &mock.base_url());
    let conn = connection_file(
        dir.path(),
        &json!({"credentials": {"accessToken": "t", "breakMake": true}}),
    );
    let r = invoke_with(
        LIMITS,
        dir.path(),
        "data/work/ok",
        &json!({}),
        &["--connection", conn.to_str().unwrap()],
    );
    let err = r.failure();
    assert!(
        err.contains("makeApiClient refuses these credentials"),
        "{r}"
    );
    assert!(err.contains("auth/make-api-client.js:2:"), "{r}");
}

#[test]
fn a_throwing_refresh_credentials_names_its_file() {
    let mock = MockApi::start();
    mock.seed("contacts", 1);
    mock.inject(
        "/contacts",
        5,
        Fault::Status {
            code: 401,
            retry_after: None,
            body: None,
        },
    );
    let dir = fixture("hostile-invoke", &mock.base_url());
    let conn = connection_file(dir.path(), &json!({"credentials": {"accessToken": "t"}}));
    let r = invoke_with(
        LIMITS,
        dir.path(),
        "data/work/fetch",
        &json!({"path": "/contacts"}),
        &["--connection", conn.to_str().unwrap()],
    );
    let err = r.failure();
    assert!(
        err.contains("refreshCredentials cannot reach the token endpoint"),
        "{r}"
    );
    assert!(err.contains("auth/refresh-credentials.js:2:"), "{r}");
    // The refresh ran once and the request was not retried in a loop.
    assert_eq!(mock.request_count("/contacts"), 1, "{r}");
}

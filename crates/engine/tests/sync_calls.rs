//! A synchronous connector function returns without a promise for the host
//! to wait on (the fast path of runtime-js/invoke.js's `invoke`). What it left
//! behind must still belong to its own call: the microtasks it queued run
//! before the call ends, and a rejection nobody handles fails that call.

use std::path::Path;

mod common;

use runtime_engine::{Call, CallError, Engine, Limits};
use serde_json::{json, Value};

fn connector(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(format!("data/{name}.js")), body).unwrap();
    }
    dir
}

fn engine(root: &Path) -> Engine {
    common::engine(root, "sync-calls", Limits::default(), false)
}

fn call(root: &Path, name: &str) -> Call {
    common::call(root, name, json!({}))
}

async fn value(e: &Engine, root: &Path, name: &str) -> Value {
    e.call(call(root, name)).await.unwrap().value
}

#[tokio::test]
async fn microtasks_queued_by_a_synchronous_function_run_within_its_call() {
    let dir = connector(&[
        (
            "queue",
            "export default function queue() {\n  Promise.resolve().then(() => { globalThis.ran = (globalThis.ran || 0) + 1 })\n  return { queued: true }\n}\n",
        ),
        ("peek", "export default function peek() { return { ran: globalThis.ran ?? null } }\n"),
    ]);
    let e = engine(dir.path());
    // Loaded first: loading a module runs the event loop.
    assert_eq!(value(&e, dir.path(), "peek").await, json!({"ran": null}));
    assert_eq!(
        value(&e, dir.path(), "queue").await,
        json!({"queued": true})
    );
    // `peek` runs before any event-loop turn of its own call.
    assert_eq!(value(&e, dir.path(), "peek").await, json!({"ran": 1}));
}

#[tokio::test]
async fn an_unhandled_rejection_fails_the_synchronous_call_that_left_it() {
    let dir = connector(&[
        (
            "leak",
            "export default function leak() {\n  Promise.reject(new Error('nobody handles this'))\n  return { ok: true }\n}\n",
        ),
        ("fine", "export default function fine() { return { fine: true } }\n"),
    ]);
    let e = engine(dir.path());
    assert_eq!(value(&e, dir.path(), "fine").await, json!({"fine": true}));
    match e.call(call(dir.path(), "leak")).await {
        Err(CallError::Js(info)) => {
            assert!(info.message.contains("nobody handles this"), "{info:?}")
        }
        other => panic!("expected the rejection, got {:?}", other.map(|o| o.value)),
    }
    assert_eq!(value(&e, dir.path(), "fine").await, json!({"fine": true}));
}

#[tokio::test]
async fn results_that_are_thenables_are_awaited() {
    let dir = connector(&[
        (
            "thenable",
            "export default function thenable() {\n  return { then(resolve) { setTimeout(() => resolve({ late: true }), 10) } }\n}\n",
        ),
        ("promise", "export default function promise() { return Promise.resolve({ p: 1 }) }\n"),
        ("nothing", "export default function nothing() {}\n"),
    ]);
    let e = engine(dir.path());
    assert_eq!(
        value(&e, dir.path(), "thenable").await,
        json!({"late": true})
    );
    assert_eq!(value(&e, dir.path(), "promise").await, json!({"p": 1}));
    assert_eq!(value(&e, dir.path(), "nothing").await, Value::Null);
}

#[tokio::test]
async fn a_synchronous_throw_is_the_calls_error_and_the_runtime_stays_usable() {
    let dir = connector(&[
        (
            "boom",
            "export default function boom() {\n  throw new RangeError('out of range')\n}\n",
        ),
        (
            "fine",
            "export default function fine() { return { fine: true } }\n",
        ),
    ]);
    let e = engine(dir.path());
    match e.call(call(dir.path(), "boom")).await {
        Err(CallError::Js(info)) => {
            assert_eq!(info.class, "RangeError");
            assert_eq!(info.message, "out of range");
            assert_eq!(
                info.location.as_ref().map(|l| (l.file.as_str(), l.line)),
                Some(("data/boom.js", 2))
            );
        }
        other => panic!("expected the throw, got {:?}", other.map(|o| o.value)),
    }
    assert_eq!(value(&e, dir.path(), "fine").await, json!({"fine": true}));
}

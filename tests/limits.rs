//! Per-call limits through the CLI flags: CPU time (sync and async loops),
//! heap, stack depth and wall-clock time; and that time spent waiting on
//! HTTP is not CPU time. A tripped limit is a clean error exit, never a crash.

mod support;

use std::time::Duration;

use mock_api::{Fault, MockApi};
use serde_json::json;
use support::{fixture, invoke_with, Run};

/// The default CPU limit is 10 s; a 300 ms limit must stop far sooner.
const CPU_FLAGS: &[&str] = &["--cpu-limit-ms", "300"];

fn run(flags: &[&str], function: &str) -> (Run, MockApi) {
    let mock = MockApi::start();
    let dir = fixture("limits", &mock.base_url());
    let r = invoke_with(
        flags,
        dir.path(),
        &format!("data/work/{function}"),
        &json!({}),
        &[],
    );
    (r, mock)
}

fn assert_cpu_stop(r: &Run, file: &str) {
    let err = r.failure();
    assert!(err.contains("CPU time limit of 300 ms"), "{r}");
    assert!(err.contains(file), "the error names the function: {r}");
    assert!(r.elapsed < Duration::from_secs(4), "took {:?}", r.elapsed);
}

#[test]
fn a_busy_loop_is_stopped_by_the_cpu_limit() {
    let (r, _m) = run(CPU_FLAGS, "spin");
    assert_cpu_stop(&r, "data/work/spin.js");
    assert!(
        r.elapsed >= Duration::from_millis(300),
        "stopped before the limit: {r}"
    );
}

#[test]
fn an_async_loop_between_awaits_is_stopped_by_the_cpu_limit() {
    let (r, _m) = run(CPU_FLAGS, "spin-async");
    assert_cpu_stop(&r, "data/work/spin-async.js");
}

#[test]
fn a_loop_yielding_through_timers_is_stopped_by_the_cpu_limit() {
    let (r, _m) = run(CPU_FLAGS, "spin-timers");
    assert_cpu_stop(&r, "data/work/spin-timers.js");
}

#[test]
fn a_memory_bomb_is_stopped_by_the_heap_limit_cleanly() {
    for f in ["memory-bomb", "array-bomb"] {
        let (r, _m) = run(&["--heap-limit-mb", "64"], f);
        let err = r.failure();
        assert!(err.contains("heap limit of 64 MiB"), "{f}: {r}");
        assert!(err.contains(&format!("data/work/{f}.js")), "{r}");
        // Growing the heap on every near-limit callback once let a single
        // native allocation run for minutes through gigabytes.
        assert!(
            r.elapsed < Duration::from_secs(10),
            "{f} took {:?}",
            r.elapsed
        );
    }
}

#[test]
fn deep_recursion_is_a_range_error() {
    let (r, _m) = run(&[], "recurse");
    let err = r.failure();
    assert!(err.contains("RangeError"), "{r}");
    assert!(err.contains("data/work/recurse.js:2:"), "{r}");
}

#[test]
fn a_hanging_upstream_is_bounded_by_the_wall_limit() {
    let mock = MockApi::start();
    mock.inject("/hang", 1, Fault::Hang(Duration::from_secs(20)));
    let dir = fixture("limits", &mock.base_url());
    let r = invoke_with(
        &["--wall-limit-s", "1"],
        dir.path(),
        "data/work/fetch",
        &json!({"path": "/hang"}),
        &[],
    );
    let err = r.failure();
    assert!(err.contains("wall-clock limit of 1 s"), "{r}");
    assert!(err.contains("data/work/fetch.js"), "{r}");
    assert!(r.elapsed >= Duration::from_secs(1), "{r}");
    assert!(r.elapsed < Duration::from_secs(5), "took {:?}", r.elapsed);
    assert_eq!(mock.request_count("/hang"), 1);
}

#[test]
fn waiting_on_http_is_not_cpu_time() {
    let mock = MockApi::start();
    mock.seed("slow", 1);
    mock.inject("/slow", 1, Fault::SlowHeaders(Duration::from_millis(1500)));
    let dir = fixture("limits", &mock.base_url());
    let r = invoke_with(
        CPU_FLAGS,
        dir.path(),
        "data/work/fetch",
        &json!({"path": "/slow"}),
        &[],
    );
    let out = r.json();
    assert_eq!(out["data"]["records"].as_array().unwrap().len(), 1, "{r}");
    assert!(out["waitedMs"].as_u64().unwrap() >= 1400, "{r}");
    assert!(r.elapsed >= Duration::from_millis(1500), "{r}");
}

#[test]
fn a_long_timer_wait_is_bounded_by_the_wall_limit() {
    let (r, _m) = run(&["--wall-limit-s", "1"], "sleep");
    let err = r.failure();
    assert!(err.contains("wall-clock limit of 1 s"), "{r}");
    assert!(err.contains("data/work/sleep.js"), "{r}");
    assert!(r.elapsed < Duration::from_secs(5), "took {:?}", r.elapsed);
}

#[test]
fn timers_left_running_do_not_keep_a_finished_call_alive() {
    let (r, _m) = run(&[], "interval-left");
    assert_eq!(r.json(), json!({"returned": true}));
    assert!(r.elapsed < Duration::from_secs(5), "took {:?}", r.elapsed);
}

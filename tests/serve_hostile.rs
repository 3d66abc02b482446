//! The hostile corpus of docs/reliability.md replayed in `runtime serve`:
//! every misbehaviour of tests/fixtures/hostile-run (runaway loops, promise
//! and timer floods, memory bombs, wrong shapes, built-in pollution) as its
//! own connection of one service, beside a healthy tenant. The service
//! never crashes, `/healthz` answers throughout, each hostile subscription
//! is `failing` with its reason, and the healthy tenant keeps committing
//! events with untouched built-ins.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::serve::{request, Service};
use support::*;

const MODES: &[&str] = &[
    "spin",
    "awaitNull",
    "thenFlood",
    "timerFork",
    "recursion",
    "strings",
    "typed",
    "heap",
    "buffers",
    "recordsNotList",
    "noId",
    "cyclic",
    "bigint",
    "undefined",
    "stuckCursor",
    "pollute",
    "freeze",
];

#[test]
fn the_hostile_corpus_cannot_take_the_service_down() {
    let mut service = Service::new(&[("hostile-run", &fixture_dir("hostile-run"))]);
    service.extra = [
        "--interval",
        "1",
        "--cpu-limit-ms",
        "300",
        "--heap-limit-mb",
        "64",
    ]
    .map(String::from)
    .to_vec();
    service.start();
    let base = service.base();
    let healthy = json!({
        "id": "healthy", "connector": "hostile-run", "credentials": {},
        "collections": {"hostile": {"enabled": false}, "flood": {"enabled": false}},
    });
    assert_eq!(
        service.admin("POST", "/v1/connections", Some(&healthy)).0,
        201
    );
    for mode in MODES {
        let body = json!({
            "id": format!("m-{mode}"), "connector": "hostile-run", "credentials": {},
            "collections": {
                "hostile": {"parameters": {"mode": mode}},
                "healthy": {"enabled": false}, "flood": {"enabled": false},
            },
        });
        let (code, answer) = service.admin("POST", "/v1/connections", Some(&body));
        assert_eq!(code, 201, "{mode}: {answer}");
    }
    // Every hostile subscription fails (or, for the shapes a scan accepts,
    // at least runs); the service answers all along.
    let started = Instant::now();
    let mut pending: Vec<&str> = MODES.to_vec();
    while !pending.is_empty() && started.elapsed() < Duration::from_secs(120) {
        let (code, _) = request("GET", &format!("{base}/healthz"), None, &[]);
        assert_eq!(
            code,
            200,
            "healthz while hostile calls run:\n{}",
            service.logs()
        );
        pending.retain(|mode| {
            let subs = service.subscriptions(&format!("m-{mode}"));
            // Failing, or (for what a scan accepts) past its baseline.
            !subs.iter().any(|s| s["status"] != "baseline")
        });
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        pending.is_empty(),
        "never cycled: {pending:?}\n{}",
        service.logs()
    );
    let mut failing = 0;
    for mode in MODES {
        let sub = &service.subscriptions(&format!("m-{mode}"))[0];
        if sub["status"] == "failing" {
            failing += 1;
            let error = sub["lastError"].as_str().unwrap_or_default();
            assert!(error.contains("hostile"), "{mode}: {error}");
        }
    }
    assert!(
        failing >= MODES.len() - 3,
        "only {failing} of {} failing",
        MODES.len()
    );
    // The healthy tenant kept its schedule: cycles after the storm, and its
    // records saw pristine built-ins.
    let before = service.subscriptions("healthy")[0]["cycles"]
        .as_u64()
        .unwrap();
    let after = wait_for(Duration::from_secs(30), || {
        let now = service.subscriptions("healthy")[0]["cycles"]
            .as_u64()
            .unwrap();
        (now >= before + 2).then_some(now)
    });
    assert!(
        after.is_some(),
        "the healthy tenant stopped cycling:\n{}",
        service.logs()
    );
    let events = service.events();
    let healthy_events: Vec<&Value> = events
        .iter()
        .filter(|e| e["connection"] == "healthy")
        .collect();
    assert!(
        !healthy_events.is_empty(),
        "no healthy events:\n{}",
        service.logs()
    );
    assert!(
        healthy_events
            .iter()
            .all(|e| e["record"]["pristine"] == true),
        "{healthy_events:?}"
    );
    assert!(events.iter().all(|e| e["recordId"] != "forged"));
    let (_, metrics) = request("GET", &format!("{base}/metrics"), None, &[]);
    for kind in ["cpu", "heap"] {
        let line = format!("runtime_limit_hits_total{{kind=\"{kind}\"}}");
        assert!(
            metrics.contains(&line),
            "{line} not in /metrics:\n{metrics}"
        );
    }
    assert!(metrics
        .contains(r#"runtime_cycle_failures_total{connector="hostile-run",collection="hostile"}"#));
    assert_eq!(
        service.stop(),
        Some(0),
        "the service did not stop cleanly:\n{}",
        service.logs()
    );
}

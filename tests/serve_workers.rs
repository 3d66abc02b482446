//! `runtime serve`'s engine worker processes through the binary: a call no
//! in-process limit can stop ends only its worker (killed at its hard
//! deadline) while another tenant of the same connector keeps its events
//! flowing and `/healthz` answers; a worker killed with SIGKILL in the
//! middle of a call costs a retried cycle, never an event.

mod support;

use std::time::{Duration, Instant};

use mock_api::{Fault, MockApi};
use serde_json::{json, Value};
use support::serve::{request, tenant, Service};
use support::*;

fn subscription(service: &Service, id: &str) -> Value {
    service.subscriptions(id).swap_remove(0)
}

fn cycles(service: &Service, id: &str) -> u64 {
    subscription(service, id)["cycles"].as_u64().unwrap_or(0)
}

fn metric(service: &Service, name: &str) -> f64 {
    let (_, text) = request("GET", &format!("{}/metrics", service.base()), None, &[]);
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The pids whose parent is `pid` (the service's engine workers).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

#[test]
fn a_call_only_a_worker_kill_stops_leaves_the_other_tenants_flowing() {
    let mut service = Service::new(&[("hostile-run", &fixture_dir("hostile-run"))]);
    // Two runtimes in one worker: the runaway holds one, the healthy
    // tenant's calls run on the other until the worker is killed.
    service.extra = [
        "--interval",
        "0.5",
        "--wall-limit-s",
        "2",
        "--runtimes",
        "2",
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
    assert!(
        wait_for(Duration::from_secs(30), || (cycles(&service, "healthy")
            >= 2)
            .then_some(()))
        .is_some(),
        "the healthy tenant never cycled:\n{}",
        service.logs()
    );
    let first_workers = children(service.child.as_ref().unwrap().id());
    assert_eq!(first_workers.len(), 1, "{first_workers:?}");

    let runaway = json!({
        "id": "runaway", "connector": "hostile-run", "credentials": {},
        "collections": {
            "hostile": {"parameters": {"mode": "block"}},
            "healthy": {"enabled": false}, "flood": {"enabled": false},
        },
    });
    let started = Instant::now();
    assert_eq!(
        service.admin("POST", "/v1/connections", Some(&runaway)).0,
        201
    );
    // While the runaway's call blocks its runtime (2 s of wall clock, then
    // 2 s of grace before the kill) the healthy tenant keeps cycling and
    // the service keeps answering.
    let before = cycles(&service, "healthy");
    let mut during = before;
    let failed = loop {
        let (code, _) = request("GET", &format!("{base}/healthz"), None, &[]);
        assert_eq!(code, 200, "healthz while the runaway runs");
        let sub = subscription(&service, "runaway");
        if sub["status"] == "failing" {
            break sub;
        }
        during = cycles(&service, "healthy");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the runaway call was never stopped: {sub}\n{}",
            service.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(4),
        "stopped after {took:?}, before its hard deadline"
    );
    assert!(
        during >= before + 2,
        "the healthy tenant stalled while the runaway ran ({before} -> {during} cycles)\n{}",
        service.logs()
    );
    let error = failed["lastError"].as_str().unwrap_or_default();
    assert!(
        error.contains("wall-clock limit") && error.contains("killed"),
        "{error}"
    );

    // The worker was replaced; the healthy tenant goes on, its events all
    // made with untouched built-ins, none forged.
    let replaced = wait_for(Duration::from_secs(30), || {
        let now = children(service.child.as_ref().unwrap().id());
        (now.len() == 1 && now != first_workers).then_some(now)
    });
    assert!(replaced.is_some(), "no replacement worker");
    let after = cycles(&service, "healthy");
    assert!(
        wait_for(Duration::from_secs(30), || (cycles(&service, "healthy")
            >= after + 2)
            .then_some(()))
        .is_some(),
        "the healthy tenant stopped after the kill:\n{}",
        service.logs()
    );
    let events = service.events();
    assert!(events.iter().any(|e| e["connection"] == "healthy"));
    assert!(events.iter().all(|e| e["connection"] == "healthy"));
    assert!(events.iter().all(|e| e["record"]["pristine"] == true));
    assert!(metric(&service, "runtime_engine_workers_restarted_total") >= 1.0);
    assert!(metric(&service, r#"runtime_limit_hits_total{kind="wall"}"#) >= 1.0);
    assert_eq!(
        service.stop(),
        Some(0),
        "the service did not stop cleanly:\n{}",
        service.logs()
    );
}

#[test]
fn a_worker_killed_mid_call_costs_a_retried_cycle_not_an_event() {
    let mock = MockApi::start();
    mock.seed("contacts", 3);
    let mut service = Service::new(&[("demo-crm", &demo_crm())]);
    service.start();
    let body = tenant(Some("tenant"), &mock, "tok");
    assert_eq!(service.admin("POST", "/v1/connections", Some(&body)).0, 201);
    assert!(
        wait_for(Duration::from_secs(30), || (subscription(
            &service, "tenant"
        )["status"]
            == "ok")
            .then_some(()))
        .is_some(),
        "no baseline:\n{}",
        service.logs()
    );

    // Changes, then a cycle whose pull the API holds for 5 s: the worker
    // is killed while its call waits for that answer.
    let created: Vec<String> = (0..4)
        .map(|i| id_of(&mock.create("contacts", json!({"name": format!("new-{i}")}))))
        .collect();
    mock.inject(
        "/contacts/latest",
        1,
        Fault::SlowHeaders(Duration::from_secs(5)),
    );
    let pulls = mock.request_count("/contacts/latest");
    let workers = children(service.child.as_ref().unwrap().id());
    assert_eq!(workers.len(), 1, "{workers:?}");
    let (code, _) = service.admin(
        "POST",
        "/v1/connections/tenant/subscriptions/contacts/run",
        None,
    );
    assert_eq!(code, 202);
    assert!(
        wait_for(Duration::from_secs(30), || (mock
            .request_count("/contacts/latest")
            > pulls)
            .then_some(()))
        .is_some(),
        "the cycle never pulled"
    );
    let rc = unsafe { libc::kill(workers[0] as i32, libc::SIGKILL) };
    assert_eq!(rc, 0);

    // The lost call fails its cycle as retryable; the retry (on a new
    // worker) delivers every change exactly once.
    let events = wait_for(Duration::from_secs(60), || {
        let events = service.events();
        created
            .iter()
            .all(|id| events.iter().any(|e| e["recordId"] == id.as_str()))
            .then_some(events)
    })
    .unwrap_or_else(|| {
        panic!(
            "changes lost after the worker was killed: {:?}\n{}",
            service.events(),
            service.logs()
        )
    });
    for id in &created {
        let of_it: Vec<&Value> = events
            .iter()
            .filter(|e| e["recordId"] == id.as_str())
            .collect();
        assert_eq!(of_it.len(), 1, "{id}: {of_it:?}");
        assert_eq!(of_it[0]["type"], "created");
        assert_contract(of_it[0]);
    }
    let logs = service.logs();
    assert!(logs.contains("killed by SIGKILL"), "{logs}");
    assert!(metric(&service, "runtime_engine_workers_restarted_total") >= 1.0);
    assert!(
        metric(
            &service,
            r#"runtime_cycle_failures_total{connector="demo-crm",collection="contacts"}"#
        ) >= 1.0,
        "the killed cycle was not counted as failed"
    );
    assert_ne!(children(service.child.as_ref().unwrap().id()), workers);
    assert_eq!(service.stop(), Some(0), "{}", service.logs());
}

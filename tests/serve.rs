//! `runtime serve` through the binary: the admin API (every route, auth
//! failures, 400/404/409 naming the field), two tenants' events kept apart
//! (records, `connection`, the credentials each upstream saw), restart
//! persistence, and no token or credential in the store or the logs.

mod support;

use std::time::Duration;

use mock_api::MockApi;
use serde_json::{json, Value};
use support::serve::{request, tenant, Service, KEY, TOKEN};
use support::*;

fn wait_status(service: &Service, id: &str, status: &str) -> Value {
    let path = format!("/v1/connections/{id}/subscriptions");
    wait_for(Duration::from_secs(30), || {
        let (code, body) = service.admin("GET", &path, None);
        (code == 200 && body["subscriptions"][0]["status"] == status).then_some(body)
    })
    .unwrap_or_else(|| {
        panic!(
            "{id} never reached {status}: {:?}\n{}",
            service.admin("GET", &path, None),
            service.logs()
        )
    })
}

#[test]
fn the_admin_api_runs_two_tenants_apart_and_survives_a_restart() {
    let (mock_a, mock_b) = (MockApi::start(), MockApi::start());
    mock_a.seed("contacts", 3);
    mock_b.seed("contacts", 3);
    let mut service = Service::new(&[("demo-crm", &demo_crm())]);
    service.extra = vec![
        "--interval".into(),
        "0.3".into(),
        "--log-format".into(),
        "json".into(),
    ];
    service.start();
    let base = service.base();

    // Authentication: nothing without the token, and no detail.
    for auth in [None, Some("Bearer wrong"), Some(TOKEN)] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let (code, body) = request("GET", &format!("{base}/v1/connections"), None, &headers);
        assert_eq!(code, 401, "{auth:?}");
        assert_eq!(body, r#"{"error":"unauthorized"}"#);
    }

    // Bad requests name the field at fault.
    let mut unknown_field = tenant(Some("x"), &mock_a, "t");
    unknown_field["colections"] = json!({});
    let mut bad_collection = tenant(Some("x"), &mock_a, "t");
    bad_collection["collections"]["nope"] = json!({"enabled": true});
    let mut bad_parameters = tenant(Some("x"), &mock_a, "t");
    bad_parameters["parameters"]["baseUri"] = json!(7);
    let mut bad_type = tenant(Some("x"), &mock_a, "t");
    bad_type["collections"]["contacts"]["enabled"] = json!("yes");
    let mut bad_id = tenant(Some("a/b"), &mock_a, "t");
    bad_id["id"] = json!("a/b");
    let mut bad_interval = tenant(Some("x"), &mock_a, "t");
    bad_interval["collections"]["contacts"]["pullIntervalSeconds"] = json!(-1);
    let mut no_connector = tenant(Some("x"), &mock_a, "t");
    no_connector["connector"] = json!("not-loaded");
    for (body, field) in [
        (&unknown_field, "colections"),
        (&bad_collection, "collections.nope"),
        (&bad_parameters, "parameters"),
        (&bad_type, "collections.contacts.enabled"),
        (&bad_id, "id"),
        (&bad_interval, "collections.contacts.pullIntervalSeconds"),
        (&no_connector, "connector"),
    ] {
        let (code, answer) = service.admin("POST", "/v1/connections", Some(body));
        assert_eq!(code, 400, "{field}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{field}: {message}");
    }
    let (code, answer) = request(
        "POST",
        &format!("{base}/v1/connections"),
        Some("{not json"),
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(code, 400, "{answer}");

    // Two tenants, one with a generated id.
    let (code, a) = service.admin(
        "POST",
        "/v1/connections",
        Some(&tenant(Some("tenant-a"), &mock_a, "tok-a-secret")),
    );
    assert_eq!(code, 201, "{a}");
    assert_eq!(a["id"], "tenant-a");
    assert_eq!(a["subscriptions"][0]["collection"], "contacts");
    let (code, taken) = service.admin(
        "POST",
        "/v1/connections",
        Some(&tenant(Some("tenant-a"), &mock_b, "t")),
    );
    assert_eq!(code, 409, "{taken}");
    assert!(taken["error"].as_str().unwrap().contains("tenant-a"));
    let (code, b) = service.admin(
        "POST",
        "/v1/connections",
        Some(&tenant(None, &mock_b, "tok-b-secret")),
    );
    assert_eq!(code, 201, "{b}");
    let b_id = b["id"].as_str().unwrap().to_string();
    assert!(b_id.starts_with("conn-"), "{b_id}");

    let (code, list) = service.admin("GET", "/v1/connections", None);
    assert_eq!(code, 200);
    let ids: Vec<&str> = list["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"tenant-a") && ids.contains(&b_id.as_str()));
    let (code, shown) = service.admin("GET", "/v1/connections/tenant-a", None);
    assert_eq!(code, 200);
    assert_eq!(shown["parameters"]["baseUri"], mock_a.base_url());
    assert!(shown.get("credentials").is_none(), "{shown}");
    assert!(!shown.to_string().contains("tok-a-secret"));
    assert_eq!(service.admin("GET", "/v1/connections/nobody", None).0, 404);

    wait_status(&service, "tenant-a", "ok");
    wait_status(&service, &b_id, "ok");

    // Changes at each tenant's app become that tenant's events only.
    let created = mock_a.create("contacts", json!({"name": "only-in-a"}));
    let a_record = id_of(&created);
    let b_target = id_of(&mock_b.records("contacts")[0]);
    mock_b.update("contacts", &b_target, json!({"name": "only-in-b"}));
    let (code, started) = service.admin(
        "POST",
        "/v1/connections/tenant-a/subscriptions/contacts/run",
        None,
    );
    assert_eq!(code, 202, "{started}");
    assert_eq!(
        service
            .admin(
                "POST",
                "/v1/connections/tenant-a/subscriptions/nope/run",
                None
            )
            .0,
        404
    );
    let events = wait_for(Duration::from_secs(30), || {
        let e = service.events();
        (e.iter().any(|e| e["connection"] == "tenant-a")
            && e.iter().any(|e| e["connection"] == b_id.as_str()))
        .then_some(e)
    })
    .unwrap_or_else(|| {
        panic!(
            "no events of both tenants: {:?}\n{}",
            service.events(),
            service.logs()
        )
    });
    for e in &events {
        assert_contract(e);
        match e["connection"].as_str() {
            Some("tenant-a") => {
                assert_eq!(
                    (e["type"].as_str(), e["recordId"].as_str()),
                    (Some("created"), Some(a_record.as_str()))
                );
                assert_eq!(e["record"]["name"], "only-in-a");
            }
            Some(other) if other == b_id => {
                assert_eq!(
                    (e["type"].as_str(), e["recordId"].as_str()),
                    (Some("updated"), Some(b_target.as_str()))
                );
                assert_eq!(e["record"]["name"], "only-in-b");
            }
            other => panic!("event of no tenant: {other:?} {e}"),
        }
    }
    assert_eq!(unique_ids(&events).len(), events.len());
    // Each app saw only its own tenant's token.
    for (mock, own, other) in [
        (&mock_a, "tok-a-secret", "tok-b-secret"),
        (&mock_b, "tok-b-secret", "tok-a-secret"),
    ] {
        let auth: Vec<String> = mock
            .requests()
            .iter()
            .flat_map(|r| {
                r.headers
                    .iter()
                    .filter(|(k, _)| k == "authorization")
                    .map(|(_, v)| v.clone())
            })
            .collect();
        assert!(!auth.is_empty());
        assert!(
            auth.iter().all(|v| v == &format!("Bearer {own}")),
            "{auth:?} (not {other})"
        );
    }
    // Health, readiness and metrics need no token.
    assert_eq!(request("GET", &format!("{base}/healthz"), None, &[]).0, 200);
    assert_eq!(request("GET", &format!("{base}/readyz"), None, &[]).0, 200);
    let (code, metrics) = request("GET", &format!("{base}/metrics"), None, &[]);
    assert_eq!(code, 200);
    for needle in [
        r#"runtime_cycles_total{connector="demo-crm",collection="contacts"}"#,
        r#"runtime_events_total{type="created"}"#,
        r#"runtime_events_total{type="updated"}"#,
        "runtime_schedule_lag_seconds_bucket",
        "runtime_outbox_depth",
        r#"runtime_connections{state="running"} 2"#,
        r#"runtime_api_requests_total{class="2xx"}"#,
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} not in /metrics:\n{metrics}"
        );
    }
    assert!(!metrics.contains("tok-a-secret") && !metrics.contains("tenant-a"));
    // JSON logs: each line of a cycle names connector, connection, collection.
    let logs = service.logs();
    let tagged = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["span"]["connection"] == "tenant-a")
        .unwrap_or_else(|| panic!("no JSON log line of tenant-a's calls:\n{logs}"));
    assert_eq!(tagged["span"]["connector"], "demo-crm", "{tagged}");
    assert_eq!(tagged["span"]["collection"], "contacts", "{tagged}");

    let subs = wait_status(&service, "tenant-a", "ok");
    let sub = &subs["subscriptions"][0];
    assert_eq!(sub["strategy"], "pull-latest-records");
    assert_eq!(sub["eventTypes"], json!(["created", "updated", "deleted"]));
    assert!(sub["cycles"].as_u64().unwrap() >= 2, "{sub}");
    assert!(
        sub["nextRunAt"].is_string() && sub["lastCycleAt"].is_string(),
        "{sub}"
    );
    assert_eq!(sub["pendingEvents"], 0);

    // PATCH: disabled pauses; a run is refused while paused.
    let (code, patched) = service.admin(
        "PATCH",
        &format!("/v1/connections/{b_id}"),
        Some(&json!({"enabled": false})),
    );
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["subscriptions"][0]["status"], "paused");
    assert_eq!(
        service
            .admin(
                "POST",
                &format!("/v1/connections/{b_id}/subscriptions/contacts/run"),
                None
            )
            .0,
        409
    );
    assert_eq!(
        service
            .admin(
                "PATCH",
                &format!("/v1/connections/{b_id}"),
                Some(&json!({"enabeld": true}))
            )
            .0,
        400
    );

    // DELETE, then a restart keeps what is left.
    assert_eq!(
        service.admin("DELETE", "/v1/connections/tenant-a", None).0,
        204
    );
    assert_eq!(
        service.admin("GET", "/v1/connections/tenant-a", None).0,
        404
    );
    assert_eq!(
        service.admin("DELETE", "/v1/connections/tenant-a", None).0,
        404
    );
    assert_eq!(service.stop(), Some(0), "{}", service.logs());
    service.start();
    let (_, list) = service.admin("GET", "/v1/connections", None);
    assert_eq!(
        list["connections"],
        json!([{"id": b_id, "connector": "demo-crm", "enabled": false, "createdAt": b_created(&list)}])
    );
    let (code, _) = service.admin(
        "PATCH",
        &format!("/v1/connections/{b_id}"),
        Some(&json!({"enabled": true})),
    );
    assert_eq!(code, 200);
    wait_status(&service, &b_id, "ok");
    assert_eq!(service.stop(), Some(0), "{}", service.logs());

    // Nothing secret at rest or in the logs.
    let logs = service.logs();
    for secret in ["tok-a-secret", "tok-b-secret", TOKEN, KEY] {
        assert!(!logs.contains(secret), "the logs hold {secret}");
        for file in files_under(&service.store) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds {secret}",
                file.display()
            );
        }
    }
}

fn b_created(list: &Value) -> Value {
    list["connections"][0]["createdAt"].clone()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn serve_refuses_to_start_without_its_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display().to_string();
    let store = format!("sled:{}/store", dir);
    let args = [
        "serve",
        "--connectors",
        &dir,
        "--store",
        &store,
        "--listen",
        "127.0.0.1:1",
    ];
    let out = runtime(&args, &[("RUNTIME_SECRET_KEY", KEY)]);
    assert!(!out.ok());
    assert!(
        out.failure().contains("RUNTIME_ADMIN_TOKEN"),
        "{}",
        out.failure()
    );
    let out = runtime(&args, &[("RUNTIME_ADMIN_TOKEN", TOKEN)]);
    assert!(
        out.failure().contains("RUNTIME_SECRET_KEY"),
        "{}",
        out.failure()
    );
    let out = runtime(
        &args,
        &[
            ("RUNTIME_ADMIN_TOKEN", TOKEN),
            ("RUNTIME_SECRET_KEY", "short"),
        ],
    );
    assert!(
        out.failure().contains("RUNTIME_SECRET_KEY") && out.failure().contains("32 bytes"),
        "{}",
        out.failure()
    );
    assert!(!out.failure().contains("short"), "{}", out.failure());
}

fn webhook_tenant(id: &str, mock: &MockApi, secret: &str) -> Value {
    json!({
        "id": id,
        "connector": "demo-crm",
        "credentials": {"accessToken": format!("tok-{id}"), "webhookSecret": secret},
        "parameters": {"baseUri": mock.base_url()},
        "collections": {
            "contacts": {"enabled": false},
            "deals": {"enabled": false},
            "companies": {"enabled": false},
            "tickets": {"enabled": true},
        },
    })
}

/// Webhooks by connection: each tenant's registration points at its own
/// path, deliveries become that tenant's events, unknown paths are 404
/// and store nothing, and deleting a connection unsubscribes it.
#[test]
fn webhooks_are_routed_by_connection_and_delete_unsubscribes() {
    let secrets = ["whsec-a", "whsec-b"];
    let mocks: Vec<MockApi> = secrets
        .iter()
        .map(|s| {
            MockApi::start_with(mock_api::MockOptions {
                webhook_secret: Some(s.to_string()),
                ..Default::default()
            })
        })
        .collect();
    let mut service = Service::new(&[("demo-crm", &demo_crm())]);
    service.start();
    let base = service.base();
    for (i, id) in ["wa", "wb"].iter().enumerate() {
        let (code, body) = service.admin(
            "POST",
            "/v1/connections",
            Some(&webhook_tenant(id, &mocks[i], secrets[i])),
        );
        assert_eq!(code, 201, "{body}");
    }
    for (i, id) in ["wa", "wb"].iter().enumerate() {
        let hooks = wait_for(Duration::from_secs(20), || {
            let h = mocks[i].webhooks();
            (!h.is_empty()).then_some(h)
        })
        .unwrap_or_else(|| panic!("{id} never registered:\n{}", service.logs()));
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].url, format!("{base}/webhooks/{id}/tickets/all"));
        wait_status(&service, id, "ok");
    }
    let a_ticket = id_of(&mocks[0].create("tickets", json!({"subject": "for a"})));
    let b_ticket = id_of(&mocks[1].create("tickets", json!({"subject": "for b"})));
    let events = wait_for(Duration::from_secs(20), || {
        let e = service.events();
        (e.len() >= 2).then_some(e)
    })
    .unwrap_or_else(|| {
        panic!(
            "no webhook events: {:?}\n{}",
            service.events(),
            service.logs()
        )
    });
    let mut seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["connection"].as_str().unwrap().to_string(),
                e["recordId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![("wa".to_string(), a_ticket), ("wb".to_string(), b_ticket)]
    );
    assert!(events.iter().all(|e| e["strategy"] == "webhook"));

    // Unknown connection, collection or scope: 404, nothing stored. A
    // delivery signed for one tenant is refused at the other's path.
    let body =
        json!({"type": "created", "collection": "tickets", "record": {"id": "x"}}).to_string();
    let ts = "1700000000";
    let sig = mock_api::sign_webhook("whsec-a", ts, body.as_bytes());
    let signed = [("x-mock-timestamp", ts), ("x-mock-signature", sig.as_str())];
    for path in [
        "/webhooks/nobody/tickets/all",
        "/webhooks/wa/nope/all",
        "/webhooks/wa/tickets/nope",
    ] {
        assert_eq!(
            post(&format!("{base}{path}"), &body, &signed),
            404,
            "{path}"
        );
    }
    assert_eq!(
        post(&format!("{base}/webhooks/wb/tickets/all"), &body, &signed),
        401
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(service.events().len(), 2, "{:?}", service.events());

    // Delete unsubscribes at that tenant's app only.
    assert_eq!(service.admin("DELETE", "/v1/connections/wa", None).0, 204);
    assert!(mocks[0].webhooks().is_empty(), "{:?}", mocks[0].webhooks());
    assert_eq!(mocks[1].webhooks().len(), 1);
    assert_eq!(
        post(&format!("{base}/webhooks/wa/tickets/all"), &body, &signed),
        404
    );
    assert_eq!(service.stop(), Some(0), "{}", service.logs());
}

/// `/readyz` answers 503 naming the sink while deliveries fail, and 200
/// again once the sink takes them (nothing lost meanwhile).
#[test]
fn readiness_names_a_failing_sink() {
    let mock = MockApi::start();
    mock.seed("contacts", 2);
    let mut service = Service::new(&[("demo-crm", &demo_crm())]);
    let port = free_port();
    service.extra = vec!["--interval".into(), "0.3".into()];
    // An HTTP sink nobody listens on yet.
    let sink_arg = format!("http://127.0.0.1:{port}/events");
    service.start_with_sink(&sink_arg);
    let base = service.base();
    let (code, _) = service.admin(
        "POST",
        "/v1/connections",
        Some(&tenant(Some("r1"), &mock, "t")),
    );
    assert_eq!(code, 201);
    wait_status(&service, "r1", "ok");
    mock.create("contacts", json!({"name": "waits in the outbox"}));
    let answer = wait_for(Duration::from_secs(30), || {
        let (code, body) = request("GET", &format!("{base}/readyz"), None, &[]);
        (code == 503).then_some(body)
    })
    .unwrap_or_else(|| panic!("readyz never 503:\n{}", service.logs()));
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert!(
        answer["error"].as_str().unwrap().contains("sink"),
        "{answer}"
    );
    assert!(answer["sink"].is_string(), "{answer}");
    assert_eq!(request("GET", &format!("{base}/healthz"), None, &[]).0, 200);
    let (_, metrics) = request("GET", &format!("{base}/metrics"), None, &[]);
    assert!(
        metrics.contains("runtime_delivery_failures_total"),
        "{metrics}"
    );
    assert!(!metrics.contains("runtime_outbox_depth 0\n"), "{metrics}");
    assert_eq!(service.stop(), Some(0), "{}", service.logs());
}

/// The outbound address guard in serve: a connector pointed at a name
/// resolving to loopback is refused while loopback is not allowed; with
/// only 127.0.0.1 allowed, a redirect to the cloud metadata address is
/// refused at the hop. Each failure is the subscription's `lastError`.
#[test]
fn the_address_guard_refuses_loopback_names_and_metadata_redirects() {
    let mock = MockApi::start();
    mock.seed("contacts", 2);
    let mut service = Service::new(&[("demo-crm", &demo_crm())]);
    service.guard = String::new();
    service.start();
    let mut by_name = tenant(Some("by-name"), &mock, "t");
    by_name["parameters"]["baseUri"] = json!(format!("http://localhost:{}", mock.addr().port()));
    assert_eq!(
        service.admin("POST", "/v1/connections", Some(&by_name)).0,
        201
    );
    let failing = wait_status(&service, "by-name", "failing");
    let error = failing["subscriptions"][0]["lastError"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("127.0.0.1") && error.contains("--allow-private-networks"),
        "{error}"
    );
    assert_eq!(
        mock.request_count("/contacts"),
        0,
        "the guard let a request through"
    );
    assert_eq!(service.stop(), Some(0));

    // The connector allows the metadata host itself: only the guard
    // stands between it and the redirect.
    append(
        &service.connectors.join("demo-crm"),
        "spec.yml",
        "allowedHosts: [\"169.254.169.254\"]\n",
    );
    service.guard = "127.0.0.1/32".into();
    service.start();
    mock.inject(
        "/contacts",
        1000,
        mock_api::Fault::RedirectTo("http://169.254.169.254/latest/meta-data".into()),
    );
    assert_eq!(
        service
            .admin(
                "POST",
                "/v1/connections",
                Some(&tenant(Some("redirected"), &mock, "t"))
            )
            .0,
        201
    );
    let failing = wait_status(&service, "redirected", "failing");
    let error = failing["subscriptions"][0]["lastError"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("169.254.169.254") && error.contains("link-local"),
        "{error}"
    );
    assert_eq!(service.stop(), Some(0), "{}", service.logs());
}

/// Global webhooks in serve: one URL per connector and key; the handler
/// runs once and each routed event reaches only the connections whose
/// subscription state its selector picks.
#[test]
fn global_webhooks_reach_the_connections_their_selector_picks() {
    let mock = MockApi::start();
    let mut service = Service::new(&[("run-global", &fixture_dir("run-global"))]);
    // Each connection registers its orders under its own account.
    write(
        &service.connectors.join("run-global"),
        "data/orders/events/webhook-subscribe.js",
        "import { register } from '../../../lib/hooks.js'\n\
         export default function subscribe({ apiClient, webhookUri, parameters }) {\n\
           return register(apiClient, webhookUri, 'orders', parameters.account)\n\
         }\n",
    );
    service.start();
    let base = service.base();
    for (id, account) in [("g1", "acct-1"), ("g2", "acct-2")] {
        let body = json!({
            "id": id, "connector": "run-global", "credentials": {},
            "parameters": {"baseUri": mock.base_url()},
            "collections": {"orders": {"parameters": {"account": account}}, "refunds": {"enabled": false}},
        });
        let (code, answer) = service.admin("POST", "/v1/connections", Some(&body));
        assert_eq!(code, 201, "{answer}");
        wait_status(&service, id, "ok");
    }
    let event = |account: &str, id: &str| {
        json!({"account": account, "type": "created", "record": {"id": id}}).to_string()
    };
    let url = format!("{base}/global-webhooks/run-global/app");
    assert_eq!(post(&url, &event("acct-2", "o-for-g2"), &[]), 202);
    assert_eq!(post(&url, &event("zz", "o-for-nobody"), &[]), 202);
    assert_eq!(
        post(
            &format!("{base}/global-webhooks/run-global/nope"),
            &event("acct-1", "x"),
            &[]
        ),
        404
    );
    assert_eq!(
        post(
            &format!("{base}/global-webhooks/nobody/app"),
            &event("acct-1", "x"),
            &[]
        ),
        404
    );
    let events = wait_for(Duration::from_secs(10), || {
        let e = service.events();
        (!e.is_empty()).then_some(e)
    })
    .unwrap_or_else(|| panic!("no routed event:\n{}", service.logs()));
    std::thread::sleep(Duration::from_millis(300));
    let events: Vec<Value> = service.events().into_iter().chain(events).collect();
    let mut seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["connection"].as_str().unwrap().to_string(),
                e["recordId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, vec![("g2".to_string(), "o-for-g2".to_string())]);
    assert_eq!(service.stop(), Some(0), "{}", service.logs());
}

/// A connector written to leak: it keeps every token it sees at module
/// scope, tries to stash them on the global object and in a CommonJS
/// module's cache, and reports what it holds to its own tenant's API on
/// every call. Each tenant's API only ever hears of its own token.
#[test]
fn a_connector_written_to_leak_sees_only_its_own_connection() {
    let leaky = connector(&[
        ("spec.yml", "key: leaky\nname: Leaky\nparametersSchema:\n  type: object\n  properties:\n    baseUri: {type: string}\n"),
        (
            "auth/make-api-client.js",
            "export default ({ parameters, credentials }) => ({ baseUri: parameters.baseUri, headers: { Authorization: `Bearer ${credentials.token}` } })\n",
        ),
        ("lib/cache.cjs", "module.exports = { tokens: [] }\n"),
        ("data/probe/spec.yml", "name: Probe\nevents:\n  strategy: full-scan\n"),
        (
            "data/probe/list.js",
            r#"import { createRequire } from "node:module"
const seen = new Set()
let first = null
export default async function list({ apiClient, credentials }) {
  seen.add(credentials.token)
  if (first === null) first = credentials.token
  let global = "refused"
  try { globalThis.leak = credentials.token; global = "stored" } catch (_) {}
  const report = { seen: [...seen].join(","), first, global, leak: String(globalThis.leak) }
  await apiClient.get("/contacts", report)
  return { records: [] }
}
"#,
        ),
    ]);
    // No createRequire in the runtime: the CommonJS probe goes through a
    // plain import of the .cjs file instead.
    write(
        leaky.path(),
        "data/probe/list.js",
        &std::fs::read_to_string(leaky.path().join("data/probe/list.js"))
            .unwrap()
            .replace(
                "import { createRequire } from \"node:module\"\n",
                "import cache from \"../../lib/cache.cjs\"\n",
            )
            .replace(
                "seen.add(credentials.token)",
                "seen.add(credentials.token)\n  cache.tokens.push(credentials.token)",
            )
            .replace(
                "first, global,",
                "first, global, cached: [...new Set(cache.tokens)].join(\",\"),",
            ),
    );
    let mocks = [MockApi::start(), MockApi::start()];
    let mut service = Service::new(&[("leaky", leaky.path())]);
    service.extra = vec!["--interval".into(), "0.2".into()];
    service.start();
    for (i, mock) in mocks.iter().enumerate() {
        let body = json!({
            "id": format!("tenant-{i}"), "connector": "leaky",
            "credentials": {"token": format!("secret-of-{i}")},
            "parameters": {"baseUri": mock.base_url()},
        });
        let (code, answer) = service.admin("POST", "/v1/connections", Some(&body));
        assert_eq!(code, 201, "{answer}");
    }
    // Enough calls, interleaved on the shared runtimes.
    let calls = |mock: &MockApi| mock.request_count("/contacts");
    wait_for(Duration::from_secs(30), || {
        (calls(&mocks[0]) >= 10 && calls(&mocks[1]) >= 10).then_some(())
    })
    .unwrap_or_else(|| panic!("too few calls:\n{}", service.logs()));
    assert_eq!(service.stop(), Some(0), "{}", service.logs());
    for (i, mock) in mocks.iter().enumerate() {
        let own = format!("secret-of-{i}");
        let other = format!("secret-of-{}", 1 - i);
        for r in mock.requests().iter().filter(|r| r.path == "/contacts") {
            let q: std::collections::HashMap<String, String> =
                query_pairs(&r.query).into_iter().collect();
            assert_eq!(q["seen"], own, "tenant {i}'s module scope: {q:?}");
            assert_eq!(q["first"], own, "{q:?}");
            assert_eq!(q["cached"], own, "tenant {i}'s CommonJS cache: {q:?}");
            assert_eq!(
                q["global"], "refused",
                "the global object took a property: {q:?}"
            );
            assert_eq!(q["leak"], "undefined", "{q:?}");
            assert!(!r.query.contains(&other), "{}", r.query);
            let auth = r
                .headers
                .iter()
                .find(|(k, _)| k == "authorization")
                .map(|(_, v)| v.clone());
            assert_eq!(auth, Some(format!("Bearer {own}")));
        }
    }
}

fn burst_connector(rate_limit: Option<&str>) -> tempfile::TempDir {
    let key = if rate_limit.is_some() {
        "burst-limited"
    } else {
        "burst"
    };
    let spec = format!(
        "key: {key}\nname: Burst\n{}parametersSchema:\n  type: object\n  properties:\n    baseUri: {{type: string}}\n",
        rate_limit.map(|r| format!("rateLimit: {r}\n")).unwrap_or_default()
    );
    let dir = connector(&[
        ("auth/make-api-client.js", "export default ({ parameters }) => ({ baseUri: parameters.baseUri })\n"),
        ("data/burst/spec.yml", "name: Burst\nevents:\n  strategy: full-scan\n"),
        (
            "data/burst/list.js",
            "export default async function list({ apiClient }) {\n  for (let i = 0; i < 15; i++) await apiClient.get('/contacts')\n  return { records: [] }\n}\n",
        ),
    ]);
    write(dir.path(), "spec.yml", &spec);
    dir
}

/// `rateLimit` in serve: against an API that answers 429 above 10
/// requests a second, a connector declaring 8 a second draws none, while
/// the same connector without it draws 429s.
#[test]
fn rate_limits_hold_against_an_api_that_429s_above_its_budget() {
    let limited = burst_connector(Some("{requests: 8, perSeconds: 1}"));
    let unlimited = burst_connector(None);
    let mock = |_: ()| {
        MockApi::start_with(mock_api::MockOptions {
            rate_limit_per_second: Some(10),
            ..Default::default()
        })
    };
    let (mock_limited, mock_unlimited) = (mock(()), mock(()));
    let mut service = Service::new(&[
        ("burst-limited", limited.path()),
        ("burst", unlimited.path()),
    ]);
    service.extra = vec!["--interval".into(), "0.1".into()];
    service.start();
    for (id, connector, m) in [
        ("l", "burst-limited", &mock_limited),
        ("u", "burst", &mock_unlimited),
    ] {
        let body = json!({"id": id, "connector": connector, "credentials": {}, "parameters": {"baseUri": m.base_url()}});
        let (code, answer) = service.admin("POST", "/v1/connections", Some(&body));
        assert_eq!(code, 201, "{answer}");
    }
    let started = std::time::Instant::now();
    wait_for(Duration::from_secs(60), || {
        (mock_limited.request_count("/contacts") >= 45).then_some(())
    })
    .unwrap_or_else(|| panic!("too few requests:\n{}", service.logs()));
    // 45 requests at 8 a second take at least 5 s.
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    wait_for(Duration::from_secs(30), || {
        (mock_unlimited.rate_limited() > 0).then_some(())
    })
    .unwrap_or_else(|| panic!("the unlimited connector drew no 429"));
    assert_eq!(service.stop(), Some(0), "{}", service.logs());
    assert_eq!(
        mock_limited.rate_limited(),
        0,
        "the declared budget drew 429s"
    );
}

/// Request bodies are capped (413), admin API and webhooks alike.
#[test]
fn request_bodies_are_capped() {
    let mut service = Service::new(&[("demo-crm", &demo_crm())]);
    service.extra = vec!["--max-body".into(), "2048".into()];
    service.start();
    let big =
        json!({"connector": "demo-crm", "credentials": {"pad": "x".repeat(4096)}}).to_string();
    let auth = format!("Bearer {TOKEN}");
    let (code, body) = request(
        "POST",
        &format!("{}/v1/connections", service.base()),
        Some(&big),
        &[("Authorization", &auth)],
    );
    assert_eq!(code, 413, "{body}");
    let (code, _) = request(
        "POST",
        &format!("{}/webhooks/x/tickets/all", service.base()),
        Some(&big),
        &[],
    );
    assert_eq!(code, 413);
    let (_, list) = service.admin("GET", "/v1/connections", None);
    assert_eq!(list["connections"], json!([]));
    assert_eq!(service.stop(), Some(0));
}

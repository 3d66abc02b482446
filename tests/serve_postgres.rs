//! `runtime serve --store postgres://` through the binary, on a real
//! PostgreSQL server the test starts (`test-servers`; skipped loudly by
//! hand without PostgreSQL, a failure under CI): connections and events
//! survive a restart of the service and an outage of the database (the
//! service waits, `/readyz` says why, nothing is lost), and a second
//! instance on the same database is refused while subscriptions are not
//! leased between instances; with `--sink nats://`, every event reaches the
//! JetStream stream once under its id, a NATS outage included.

mod support;

use std::time::Duration;

use mock_api::MockApi;
use serde_json::{json, Value};
use support::serve::{request, tenant, Service, KEY, TOKEN};
use support::*;

fn created_ids(service: &Service) -> Vec<String> {
    service
        .events()
        .iter()
        .filter(|e| e["type"] == "created")
        .map(|e| e["recordId"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn wait_created(service: &Service, id: &str, what: &str) {
    wait_for(Duration::from_secs(60), || {
        created_ids(service).iter().any(|r| r == id).then_some(())
    })
    .unwrap_or_else(|| panic!("no created event for {id} ({what}):\n{}", service.logs()));
}

fn readyz(service: &Service) -> (u16, Value) {
    let (code, body) = request("GET", &format!("{}/readyz", service.base()), None, &[]);
    (code, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn serve_on_postgres_survives_restarts_of_itself_and_of_the_database() {
    let Some(mut pg) = test_servers::PgServer::start() else {
        return;
    };
    let url = pg.create_database("serve").unwrap();
    let mock = MockApi::start();
    mock.seed("contacts", 3);
    let mut service = Service::new(&[("demo-crm", &demo_crm())]);
    service.store_spec = Some(url.clone());
    service.extra = vec!["--interval".into(), "0.3".into()];
    service.start();
    assert_eq!(readyz(&service).0, 200);

    let (code, body) = service.admin(
        "POST",
        "/v1/connections",
        Some(&tenant(Some("t1"), &mock, "tok-pg-secret-77")),
    );
    assert_eq!(code, 201, "{body}");
    // Changes count from the baseline on.
    wait_for(Duration::from_secs(30), || {
        let subs = service.subscriptions("t1");
        (subs.first().map(|s| s["status"] == "ok") == Some(true)).then_some(())
    })
    .unwrap_or_else(|| panic!("no baseline:\n{}", service.logs()));
    let first = mock.create("contacts", json!({"name": "First"}));
    wait_created(&service, &id_of(&first), "while all is well");

    // A second instance on the same database is refused, naming it.
    let other = command(
        &[
            "serve",
            "--connectors",
            &service.connectors.display().to_string(),
            "--store",
            &url,
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ],
        &[("RUNTIME_ADMIN_TOKEN", TOKEN), ("RUNTIME_SECRET_KEY", KEY)],
    );
    let refused = to_end(other, Duration::from_secs(60));
    assert!(!refused.ok(), "{refused}");
    assert!(
        refused
            .failure()
            .contains("in use by another `runtime serve`")
            && refused
                .failure()
                .contains(&format!("127.0.0.1:{}/serve", pg.port())),
        "{refused}"
    );

    // The database goes away: the service keeps serving and says why it
    // is not ready; a change made meanwhile arrives once it is back.
    pg.stop();
    let down = wait_for(Duration::from_secs(30), || {
        let (code, body) = readyz(&service);
        (code == 503).then_some(body)
    })
    .expect("/readyz stays 200 with the database down");
    assert!(
        down["store"]
            .as_str()
            .unwrap_or_default()
            .contains("database"),
        "{down}"
    );
    let during = mock.create("contacts", json!({"name": "During the outage"}));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        request("GET", &format!("{}/healthz", service.base()), None, &[]).0,
        200
    );
    pg.start_server().unwrap();
    wait_for(Duration::from_secs(30), || {
        (readyz(&service).0 == 200).then_some(())
    })
    .expect("/readyz back to 200 after the database");
    wait_created(
        &service,
        &id_of(&during),
        "made while the database was down",
    );

    // The service restarts: its connection is still there, and it goes on
    // from its stored watermark (nothing emitted twice).
    assert_eq!(service.stop(), Some(0), "{}", service.logs());
    service.start();
    let (code, one) = service.admin("GET", "/v1/connections/t1", None);
    assert_eq!(code, 200, "{one}");
    assert!(!one.to_string().contains("tok-pg-secret-77"), "{one}");
    let after = mock.create("contacts", json!({"name": "After the restart"}));
    wait_created(&service, &id_of(&after), "after the service restarted");
    let created = created_ids(&service);
    for record in [&first, &during, &after] {
        let id = id_of(record);
        assert_eq!(
            created.iter().filter(|r| **r == id).count(),
            1,
            "{id}: {created:?}"
        );
    }
    let events = service.events();
    assert_eq!(unique_ids(&events).len(), events.len(), "event ids repeat");
    assert!(events.iter().all(|e| e["connection"] == "t1"));
    assert!(!service.logs().contains("tok-pg-secret-77"));
}

/// What the stream holds, in order: (Nats-Msg-Id, line).
fn stream_messages(server: &test_servers::NatsServer, stream: &str) -> Vec<(String, Value)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let Ok(stream) = js.get_stream(stream).await else {
            return Vec::new();
        };
        let state = stream.get_info().await.unwrap().state;
        let mut out = Vec::new();
        for seq in state.first_sequence..=state.last_sequence {
            if state.messages == 0 {
                break;
            }
            let m = stream.get_raw_message(seq).await.unwrap();
            let id = m
                .headers
                .get("Nats-Msg-Id")
                .map(|v| v.to_string())
                .unwrap_or_default();
            out.push((id, serde_json::from_slice(&m.payload).unwrap()));
        }
        out
    })
}

#[test]
fn serve_on_postgres_delivers_each_event_once_to_jetstream_across_a_nats_outage() {
    let Some(pg) = test_servers::PgServer::start() else {
        return;
    };
    let Some(mut nats) = test_servers::NatsServer::start() else {
        return;
    };
    let url = pg.create_database("nats").unwrap();
    let mock = MockApi::start();
    mock.seed("contacts", 2);
    let mut service = Service::new(&[("demo-crm", &demo_crm())]);
    service.store_spec = Some(url);
    service.extra = vec!["--interval".into(), "0.3".into()];
    service.start_with_sink(&format!("{}/runtime.events?stream=EVENTS", nats.url()));
    let (code, body) = service.admin(
        "POST",
        "/v1/connections",
        Some(&tenant(Some("n1"), &mock, "t")),
    );
    assert_eq!(code, 201, "{body}");
    wait_for(Duration::from_secs(30), || {
        let subs = service.subscriptions("n1");
        (subs.first().map(|s| s["status"] == "ok") == Some(true)).then_some(())
    })
    .unwrap_or_else(|| panic!("no baseline:\n{}", service.logs()));
    let mut made = vec![id_of(&mock.create("contacts", json!({"name": "One"})))];
    let arrived = |nats: &test_servers::NatsServer, made: &[String]| {
        let got = stream_messages(nats, "EVENTS");
        made.iter()
            .all(|id| got.iter().any(|(_, l)| l["recordId"] == id.as_str()))
            .then_some(got)
    };
    wait_for(Duration::from_secs(30), || arrived(&nats, &made))
        .unwrap_or_else(|| panic!("not in the stream:\n{}", service.logs()));

    // NATS goes away; changes meanwhile wait in the outbox.
    nats.stop();
    made.push(id_of(&mock.create("contacts", json!({"name": "Two"}))));
    made.push(id_of(&mock.create("contacts", json!({"name": "Three"}))));
    std::thread::sleep(Duration::from_secs(2));
    nats.restart();
    let got = wait_for(Duration::from_secs(60), || arrived(&nats, &made))
        .unwrap_or_else(|| panic!("lost across the outage:\n{}", service.logs()));
    for (id, line) in &got {
        assert_eq!(line["id"], id.as_str(), "Nats-Msg-Id is the event id");
        assert_eq!(line["connection"], "n1");
    }
    let ids: std::collections::HashSet<&String> = got.iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids.len(),
        got.len(),
        "an event twice in the stream: {got:?}"
    );
    assert_eq!(got.len(), made.len(), "{got:?}");
}

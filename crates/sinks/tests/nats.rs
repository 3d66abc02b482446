//! The NATS JetStream sink against a real nats-server (one per test, see
//! test-servers): what the stream holds is read back with the
//! client, not assumed from the sink's answers.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use runtime_events::EventLine;
use runtime_sinks::{build, NatsSink, NatsSinkConfig, Sink, SinkConfig, NATS_MSG_ID_HEADER};
use test_servers::NatsServer;

fn config(url: &str) -> NatsSinkConfig {
    match url.parse::<SinkConfig>() {
        Ok(SinkConfig::Nats(c)) => c,
        other => panic!("{url}: {other:?}"),
    }
}

/// What the stream holds, in sequence order: (Nats-Msg-Id, payload).
async fn stored(server: &NatsServer, stream: &str) -> Vec<(String, String)> {
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let stream = js.get_stream(stream).await.unwrap();
    let state = stream.get_info().await.unwrap().state;
    let mut messages = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        let m = stream.get_raw_message(seq).await.unwrap();
        let id = m
            .headers
            .get(NATS_MSG_ID_HEADER)
            .map(|v| v.to_string())
            .unwrap_or_default();
        messages.push((id, String::from_utf8(m.payload.to_vec()).unwrap()));
    }
    assert_eq!(messages.len() as u64, state.messages);
    messages
}

fn as_stored(lines: &[EventLine]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|l| (l.id.clone(), l.json.clone()))
        .collect()
}

/// Redelivers, as the deliverer does after a failure, until the sink
/// takes the events or `within` is over.
async fn deliver_until_ok(sink: &mut NatsSink, lines: &[EventLine], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        match sink.deliver(lines).await {
            Ok(()) => return,
            Err(e) if Instant::now() < deadline => {
                eprintln!("retrying: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("not delivered within {within:?}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_1000_events_in_batches_into_the_stream_it_creates() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let lines = common::lines(&common::events(1000));
    let config = SinkConfig::Nats(config(&format!(
        "{}/events.acme?stream=EVENTS",
        server.url()
    )));
    let mut sink = build(&config).unwrap();
    for batch in lines.chunks(128) {
        sink.deliver(batch).await.unwrap();
    }

    let client = async_nats::connect(server.url()).await.unwrap();
    let info = jetstream::new(client)
        .get_stream("EVENTS")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!(info.config.subjects, vec!["events.acme".to_string()]);
    assert_eq!(
        info.config.duplicate_window,
        Duration::from_secs(120),
        "the server's default, which docs/sinks.md describes"
    );
    assert_eq!(stored(&server, "EVENTS").await, as_stored(&lines));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_batch_is_acknowledged_as_duplicate_and_not_stored_twice() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let lines = common::lines(&common::events(1000));
    let mut sink =
        NatsSink::new(&config(&format!("{}/events?stream=EVENTS", server.url()))).unwrap();
    sink.deliver(&lines).await.unwrap();
    assert_eq!(sink.duplicates(), 0);

    // The same ids again, in other batches, as after a lost acknowledgement.
    sink.deliver(&lines[..300]).await.unwrap();
    sink.deliver(&lines).await.unwrap();
    assert_eq!(sink.duplicates(), 1300);
    assert_eq!(stored(&server, "EVENTS").await, as_stored(&lines));

    // A new sink (a restarted runtime) is deduplicated by the server too.
    let mut again =
        NatsSink::new(&config(&format!("{}/events?stream=EVENTS", server.url()))).unwrap();
    again.deliver(&lines[990..]).await.unwrap();
    assert_eq!(again.duplicates(), 10);
    assert_eq!(stored(&server, "EVENTS").await.len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_fails_delivery_in_time_and_after_a_restart_each_id_is_stored_once() {
    let Some(mut server) = NatsServer::start() else {
        return;
    };
    let lines = common::lines(&common::events(200));
    let mut config = config(&format!("{}/events?stream=EVENTS", server.url()));
    config.timeout = Duration::from_secs(2);
    config.reconnect_max = Duration::from_millis(500);
    let mut sink = NatsSink::new(&config).unwrap();
    sink.deliver(&lines[..100]).await.unwrap();

    server.stop();
    for _ in 0..2 {
        let started = Instant::now();
        let err = sink.deliver(&lines).await.unwrap_err().to_string();
        eprintln!("as expected: {err}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "took {took:?}: {err}");
        assert!(
            err.contains("not connected to NATS at 127.0.0.1:") && err.contains("reconnecting"),
            "{err}"
        );
    }

    // Same port, same store: the stream and its dedup state are back.
    server.restart();
    deliver_until_ok(&mut sink, &lines, Duration::from_secs(30)).await;
    let stored = stored(&server, "EVENTS").await;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (id, _) in &stored {
        *seen.entry(id).or_default() += 1;
    }
    assert_eq!(seen.len(), 200, "every id stored");
    assert!(
        seen.values().all(|&n| n == 1),
        "an id stored twice: {seen:?}"
    );
    assert_eq!(stored[..100], as_stored(&lines[..100]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_at_start_holds_delivery_back_until_it_is_up() {
    let Some(mut server) = NatsServer::start() else {
        return;
    };
    server.stop();
    let mut config = config(&format!("{}/events?stream=EVENTS", server.url()));
    config.timeout = Duration::from_secs(1);
    config.reconnect_max = Duration::from_millis(500);
    // build() does not connect, so a NATS that is down does not fail it.
    let mut sink = NatsSink::new(&config).unwrap();
    let lines = common::lines(&common::events(10));
    let started = Instant::now();
    let err = sink.deliver(&lines).await.unwrap_err().to_string();
    eprintln!("as expected: {err}");
    assert!(started.elapsed() < Duration::from_secs(4), "{err}");
    assert!(
        err.contains("EVENTS") && err.contains("not connected"),
        "{err}"
    );

    server.restart();
    deliver_until_ok(&mut sink, &lines, Duration::from_secs(30)).await;
    assert_eq!(stored(&server, "EVENTS").await, as_stored(&lines));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_stream_on_the_subject_delivery_says_so() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let mut sink = NatsSink::new(&config(&format!("{}/orders.created", server.url()))).unwrap();
    let lines = common::lines(&common::events(3));
    let started = Instant::now();
    let err = sink.deliver(&lines).await.unwrap_err().to_string();
    eprintln!("as expected: {err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{err}");
    assert!(
        err.contains("no JetStream stream listens on subject \"orders.created\"")
            && err.contains("no responders")
            && err.contains("?stream=NAME"),
        "{err}"
    );

    // A stream made by someone else afterwards is used as it is.
    let client = async_nats::connect(server.url()).await.unwrap();
    jetstream::new(client)
        .create_stream(jetstream::stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    sink.deliver(&lines).await.unwrap();
    assert_eq!(stored(&server, "ORDERS").await, as_stored(&lines));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_stream_that_does_not_cover_the_subject_is_an_error() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let client = async_nats::connect(server.url()).await.unwrap();
    jetstream::new(client)
        .create_stream(jetstream::stream::Config {
            name: "OTHER".into(),
            subjects: vec!["other.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut sink =
        NatsSink::new(&config(&format!("{}/events?stream=OTHER", server.url()))).unwrap();
    let err = sink
        .deliver(&common::lines(&common::events(1)))
        .await
        .unwrap_err()
        .to_string();
    eprintln!("as expected: {err}");
    assert!(
        err.contains(
            "stream \"OTHER\" exists but listens on [\"other.>\"], not on subject \"events\""
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_password_authenticates_and_is_never_shown() {
    let Some(server) = NatsServer::start_with_auth("runtime", "s3cret-pw") else {
        return;
    };
    let authority = server.url().replace("nats://", "nats://runtime:s3cret-pw@");
    let url = format!("{authority}/events?stream=EVENTS");
    let parsed: SinkConfig = url.parse().unwrap();
    assert!(!format!("{parsed:?}").contains("s3cret"), "{parsed:?}");
    let mut sink = build(&parsed).unwrap();
    assert!(!sink.describe().contains("s3cret"), "{}", sink.describe());
    assert!(
        sink.describe().contains("nats://***:***@127.0.0.1:"),
        "{}",
        sink.describe()
    );
    let lines = common::lines(&common::events(5));
    sink.deliver(&lines).await.unwrap();

    // A wrong password: the delivery fails in time and says why, without it.
    let mut wrong = config(&url.replace("s3cret-pw", "wrong-pw"));
    wrong.timeout = Duration::from_secs(1);
    let mut sink = NatsSink::new(&wrong).unwrap();
    let err = sink.deliver(&lines).await.unwrap_err().to_string();
    eprintln!("as expected: {err}");
    assert!(!err.contains("wrong-pw"), "{err}");
    assert!(err.contains("not connected"), "{err}");
    assert!(err.to_lowercase().contains("authorization"), "{err}");
}

#[test]
fn the_password_appears_in_neither_describe_nor_debug() {
    let parsed: SinkConfig = "nats://user:secret@nats.internal/subj".parse().unwrap();
    let SinkConfig::Nats(config) = &parsed else {
        panic!("{parsed:?}")
    };
    assert_eq!(config.subject, "subj");
    let sink = NatsSink::new(config).unwrap();
    for shown in [
        sink.describe(),
        format!("{parsed:?}"),
        format!("{config:?}"),
        format!("{sink:?}"),
    ] {
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("nats.internal:4222"), "{shown}");
    }
}

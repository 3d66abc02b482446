mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use runtime_events::Event;
use runtime_sinks::{HttpSink, HttpSinkConfig, Sink, SinkError};
use url::Url;

#[derive(Clone, Copy)]
enum Reply {
    Accept,
    Status(u16, Option<&'static str>, &'static str),
    Stall(Duration),
}

struct Request {
    key: Option<String>,
    content_type: Option<String>,
    authorization: Option<String>,
    ids: Vec<String>,
    at: Instant,
    accepted: bool,
}

#[derive(Default)]
struct Receiver {
    script: VecDeque<Reply>,
    requests: Vec<Request>,
}

type Shared = Arc<Mutex<Receiver>>;

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_string());
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let events: Vec<Event> = serde_json::from_value(parsed["events"].clone()).unwrap();
    let reply = shared.lock().unwrap().script.pop_front();
    let accepted = matches!(reply, None | Some(Reply::Accept));
    shared.lock().unwrap().requests.push(Request {
        key: header("x-idempotency-key"),
        content_type: header("content-type"),
        authorization: header("authorization"),
        ids: events.into_iter().map(|e| e.id).collect(),
        at: Instant::now(),
        accepted,
    });
    match reply {
        None | Some(Reply::Accept) => StatusCode::OK.into_response(),
        Some(Reply::Stall(d)) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
        Some(Reply::Status(code, retry_after, body)) => {
            let mut resp = (StatusCode::from_u16(code).unwrap(), body).into_response();
            if let Some(ra) = retry_after {
                resp.headers_mut()
                    .insert("retry-after", ra.parse().unwrap());
            }
            resp
        }
    }
}

async fn receiver(script: Vec<Reply>) -> (Url, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Receiver {
        script: script.into(),
        requests: Vec::new(),
    }));
    let app = Router::new()
        .route("/events", post(receive))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/events").parse().unwrap(), shared)
}

fn fast_config(url: Url) -> HttpSinkConfig {
    HttpSinkConfig {
        max_batch: 3,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..HttpSinkConfig::new(url)
    }
}

#[tokio::test]
async fn every_event_arrives_in_order_through_500s_and_429s() {
    use Reply::{Accept, Status};
    let (url, shared) = receiver(vec![
        Status(500, None, "boom"),
        Accept,
        Status(429, Some("1"), "slow down"),
        Accept,
        Status(503, None, ""),
        Status(502, None, ""),
    ])
    .await;
    let mut config = fast_config(url);
    config.headers = vec![("authorization".into(), "Bearer t0ken".into())];
    let mut sink = HttpSink::new(&config).unwrap();
    let all = common::events(7);

    sink.deliver(&common::lines(&all)).await.unwrap();

    let rx = shared.lock().unwrap();
    let accepted: Vec<&String> = rx
        .requests
        .iter()
        .filter(|r| r.accepted)
        .flat_map(|r| &r.ids)
        .collect();
    let expected: Vec<&String> = all.iter().map(|e| &e.id).collect();
    assert_eq!(accepted, expected, "every event once, batches in order");
    assert_eq!(rx.requests.len(), 7);
    assert_eq!(sink.retries(), 4);
    let keys: Vec<&str> = rx
        .requests
        .iter()
        .map(|r| r.key.as_deref().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "evt-0000:3",
            "evt-0000:3",
            "evt-0003:3",
            "evt-0003:3",
            "evt-0006:1",
            "evt-0006:1",
            "evt-0006:1"
        ]
    );
    for r in &rx.requests {
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert_eq!(r.authorization.as_deref(), Some("Bearer t0ken"));
    }
    let after_429 = rx.requests[3].at - rx.requests[2].at;
    assert!(
        after_429 >= Duration::from_millis(950),
        "Retry-After ignored: {after_429:?}"
    );
}

#[tokio::test]
async fn a_400_is_an_error_at_once_even_when_retrying_forever() {
    let (url, shared) = receiver(vec![Reply::Status(
        400,
        None,
        "field `events` is malformed",
    )])
    .await;
    let mut sink = HttpSink::new(&fast_config(url.clone())).unwrap();
    assert_eq!(sink.describe(), format!("http sink {url}"));

    let err = tokio::time::timeout(
        Duration::from_secs(10),
        sink.deliver(&common::lines(&common::events(2))),
    )
    .await
    .expect("a 400 must not be retried forever")
    .unwrap_err();

    assert!(
        matches!(
            err,
            SinkError::Rejected {
                status: 400,
                count: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(url.as_str()) && msg.contains("400"), "{msg}");
    assert!(msg.contains("field `events` is malformed"), "{msg}");
    assert_eq!(shared.lock().unwrap().requests.len(), 1);
    assert_eq!(sink.retries(), 0);
}

#[tokio::test]
async fn redirects_are_not_followed_as_acknowledgements() {
    let (url, shared) = receiver(vec![Reply::Status(303, None, "")]).await;
    let mut sink = HttpSink::new(&fast_config(url)).unwrap();
    let err = sink
        .deliver(&common::lines(&common::events(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SinkError::Rejected { status: 303, .. }),
        "{err:?}"
    );
    assert_eq!(shared.lock().unwrap().requests.len(), 1);
}

#[tokio::test]
async fn a_refused_later_batch_fails_the_whole_delivery() {
    let (url, shared) = receiver(vec![Reply::Accept, Reply::Status(422, None, "nope")]).await;
    let mut sink = HttpSink::new(&fast_config(url)).unwrap();
    let err = sink
        .deliver(&common::lines(&common::events(5)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SinkError::Rejected {
                status: 422,
                count: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let rx = shared.lock().unwrap();
    assert_eq!(rx.requests.len(), 2);
    assert_eq!(rx.requests[1].key.as_deref(), Some("evt-0003:2"));
}

#[tokio::test]
async fn connection_errors_are_retried_up_to_max_attempts() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url: Url = format!("http://{}/events", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    drop(listener);
    let mut config = fast_config(url.clone());
    config.max_attempts = 3;
    let mut sink = HttpSink::new(&config).unwrap();

    let err = sink
        .deliver(&common::lines(&common::events(1)))
        .await
        .unwrap_err();

    assert!(
        matches!(err, SinkError::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(url.as_str()), "{err}");
    assert_eq!(sink.retries(), 2);
}

#[tokio::test]
async fn a_timeout_is_retried_with_the_same_key() {
    let (url, shared) = receiver(vec![Reply::Stall(Duration::from_secs(3))]).await;
    let mut config = fast_config(url);
    config.timeout = Duration::from_millis(300);
    let mut sink = HttpSink::new(&config).unwrap();

    let started = Instant::now();
    sink.deliver(&common::lines(&common::events(2)))
        .await
        .unwrap();

    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sink.retries(), 1);
    let rx = shared.lock().unwrap();
    assert_eq!(rx.requests.len(), 2);
    assert_eq!(rx.requests[0].key, rx.requests[1].key);
    assert!(rx.requests[1].accepted);
}

#[tokio::test]
async fn nothing_is_sent_for_no_events() {
    let (url, shared) = receiver(vec![]).await;
    let mut sink = HttpSink::new(&fast_config(url)).unwrap();
    sink.deliver(&[]).await.unwrap();
    assert!(shared.lock().unwrap().requests.is_empty());
}

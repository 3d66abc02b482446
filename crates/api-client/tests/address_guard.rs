//! The outbound address guard against real servers on loopback: IP
//! literals, names resolving to loopback, redirects to link-local and to
//! another loopback address, allowed ranges, and no guard at all.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use common::{fast, raw, reply, serve, settings_for, RawServer};
use runtime_api_client::{AddressGuard, ApiRequest, ClientSettings, HttpClient};
use serde_json::json;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";

fn guarded(allowed: &str) -> HttpClient {
    HttpClient::with_address_guard(AddressGuard::parse_allowed(allowed).unwrap()).unwrap()
}

/// Lets the server see any connection that was (wrongly) attempted.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn ip_literal_loopback_is_refused_without_connecting() {
    let server = raw(reply(OK)).await;
    let client = guarded("");
    let base = format!("http://{}", server.addr);
    let s = settings_for(&base);
    let started = Instant::now();
    let err = client
        .send(&s, &fast(), ApiRequest::new("GET", "/x?token=hunter22"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "blocked", "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("GET {base}/x")), "{msg}");
    assert!(
        msg.contains("127.0.0.1 (in 127.0.0.0/8: loopback)"),
        "{msg}"
    );
    assert!(
        msg.contains("add 127.0.0.0/8 to --allow-private-networks"),
        "{msg}"
    );
    assert!(
        !msg.contains("hunter22"),
        "query secrets are redacted: {msg}"
    );
    assert_eq!(err.attempts(), None, "nothing was sent");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not retried with back-off"
    );
    settle().await;
    assert_eq!(server.accepted(), 0);
}

#[tokio::test]
async fn other_spellings_of_loopback_are_literals_too() {
    let server = raw(reply(OK)).await;
    let port = server.addr.port();
    let client = guarded("");
    // URL parsing turns these into 127.0.0.1: never a name to resolve.
    for host in ["2130706433", "0x7f.1", "127.1", "0177.0.0.1"] {
        let base = format!("http://{host}:{port}");
        let err = client
            .send(&settings_for(&base), &fast(), ApiRequest::new("GET", "/"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "blocked", "{base}: {err}");
        assert!(err.to_string().contains("127.0.0.0/8"), "{err}");
    }
    settle().await;
    assert_eq!(server.accepted(), 0);
}

#[tokio::test]
async fn ipv4_mapped_ipv6_literal_is_refused() {
    let client = guarded("");
    let base = "http://[::ffff:127.0.0.1]:9";
    let err = client
        .send(&settings_for(base), &fast(), ApiRequest::new("GET", "/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "blocked", "{err}");
    assert!(
        err.to_string()
            .contains("IPv4-mapped 127.0.0.1, in 127.0.0.0/8"),
        "{err}"
    );
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_on_its_resolved_address() {
    let server = raw(reply(OK)).await;
    let client = guarded("");
    let base = format!("http://localhost:{}", server.addr.port());
    let err = client
        .send(&settings_for(&base), &fast(), ApiRequest::new("GET", "/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "blocked", "{err}");
    let msg = err.to_string();
    assert!(msg.contains("localhost resolves to "), "{msg}");
    assert!(msg.contains("loopback"), "{msg}");
    assert!(msg.contains("--allow-private-networks"), "{msg}");
    settle().await;
    assert_eq!(server.accepted(), 0);
}

/// A server on loopback whose `/go` answers 302 to `target`.
async fn redirecting_to(target: String) -> SocketAddr {
    serve(Router::new().route(
        "/go",
        get(move || {
            let target = target.clone();
            async move { (StatusCode::FOUND, [(LOCATION, target)]) }
        }),
    ))
    .await
}

fn settings_allowing(home: SocketAddr, hosts: &[&str]) -> ClientSettings {
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    ClientSettings::from_make_api_client(
        &json!({ "baseUri": format!("http://{home}") }),
        None,
        &hosts,
    )
    .unwrap()
}

#[tokio::test]
async fn redirect_to_link_local_metadata_is_refused_at_the_hop() {
    let home = redirecting_to("http://169.254.169.254/latest/meta-data".into()).await;
    // Loopback is allowed (the home server answers); link-local is not.
    let client = guarded("127.0.0.0/8");
    let s = settings_allowing(home, &["169.254.169.254"]);
    let started = Instant::now();
    let err = client
        .send(&s, &fast(), ApiRequest::new("GET", "/go"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "blocked", "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("GET http://169.254.169.254/latest/meta-data (redirected from http://"),
        "{msg}"
    );
    assert!(msg.contains("in 169.254.0.0/16"), "{msg}");
    assert!(
        msg.contains("add 169.254.0.0/16 to --allow-private-networks"),
        "{msg}"
    );
    // Refused before connecting: a connect to 169.254.169.254 from here
    // would hang until the connect timeout (2 s) or fail as "connect".
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// A counting server on 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux).
async fn raw_on_127_0_0_2() -> Option<RawServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.ok()?;
    let addr = listener.local_addr().ok()?;
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(reply(OK)(stream));
        }
    });
    Some(RawServer::counting(addr, accepted))
}

#[tokio::test]
async fn redirect_to_an_address_outside_the_allowed_range_never_connects() {
    let Some(other) = raw_on_127_0_0_2().await else {
        eprintln!("skipped: cannot bind 127.0.0.2 here");
        return;
    };
    let home = redirecting_to(format!("http://{}/inside", other.addr)).await;
    let s = settings_allowing(home, &["127.0.0.2"]);
    let err = guarded("127.0.0.1/32")
        .send(&s, &fast(), ApiRequest::new("GET", "/go"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "blocked", "{err}");
    assert!(err.to_string().contains("redirected from"), "{err}");
    settle().await;
    assert_eq!(other.accepted(), 0);
    // Allowed, the same redirect is followed.
    let ok = guarded("127.0.0.1/32,127.0.0.2")
        .send(&s, &fast(), ApiRequest::new("GET", "/go"))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(other.accepted(), 1);
}

#[tokio::test]
async fn allowed_loopback_passes_by_literal_and_by_name() {
    let server = raw(reply(OK)).await;
    let client = guarded("127.0.0.0/8,::1/128");
    assert_eq!(client.address_guard().map(|g| g.allowed().len()), Some(2));
    for base in [
        format!("http://{}", server.addr),
        format!("http://localhost:{}", server.addr.port()),
    ] {
        let res = client
            .send(&settings_for(&base), &fast(), ApiRequest::new("GET", "/"))
            .await
            .unwrap_or_else(|e| panic!("{base}: {e}"));
        assert_eq!(res.status, 200);
    }
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn without_a_guard_everything_passes_as_before() {
    let server = raw(reply(OK)).await;
    let client = HttpClient::new().unwrap();
    assert!(client.address_guard().is_none());
    for base in [
        format!("http://{}", server.addr),
        format!("http://localhost:{}", server.addr.port()),
    ] {
        let res = client
            .send(&settings_for(&base), &fast(), ApiRequest::new("GET", "/"))
            .await
            .unwrap_or_else(|e| panic!("{base}: {e}"));
        assert_eq!(res.status, 200);
    }
    if let Some(other) = raw_on_127_0_0_2().await {
        let home = redirecting_to(format!("http://{}/x", other.addr)).await;
        let s = settings_allowing(home, &["127.0.0.2"]);
        let res = client
            .send(&s, &fast(), ApiRequest::new("GET", "/go"))
            .await
            .unwrap();
        assert_eq!(res.status, 200);
        assert_eq!(other.accepted(), 1);
    }
}

#[tokio::test]
async fn a_guarded_and_an_unguarded_client_do_not_share_connections() {
    // Keep-alive server reached by name: a pooled connection would be
    // reused without a new lookup if the pools were shared.
    let home = serve(Router::new().route("/", get(|| async { "ok" }))).await;
    let s = settings_for(&format!("http://localhost:{}", home.port()));
    let open = HttpClient::new().unwrap();
    open.send(&s, &fast(), ApiRequest::new("GET", "/"))
        .await
        .unwrap();
    let err = guarded("")
        .send(&s, &fast(), ApiRequest::new("GET", "/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "blocked");
}

//! The URL the host hands out for a subscription, sent as a raw HTTP
//! request to a loopback axum server with the host's routes, must reach
//! the route with the same collection and scope, whatever the collection's
//! directory is called.

use axum::extract::Path;
use axum::routing::any;
use axum::Router;
use runtime_webhook::{webhook_path, GLOBAL_WEBHOOK_ROUTE, WEBHOOK_ROUTE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `POST <path>` and returns the status line and the body.
async fn post(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn subscription_urls_route_back_to_their_collection() {
    let app = Router::new()
        .route(
            WEBHOOK_ROUTE,
            any(|Path((c, s)): Path<(String, String)>| async move { format!("{c}|{s}") }),
        )
        .route(
            GLOBAL_WEBHOOK_ROUTE,
            any(|Path(k): Path<String>| async move { format!("global {k}") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Each of these is a valid directory name under data/. Before
    // `webhook_path` escaped them, the first made an invalid request line
    // (400), `?` and `#` cut the path short (404) and `%41` arrived as `A`.
    let names = [
        "my contacts",
        "a?b=1",
        "c#d",
        "100%",
        "x%41",
        "a+b",
        "semi;colon",
        "ünïcödé",
        "tab\there",
        "contacts",
        "deal-stages_v2.~",
    ];
    for name in names {
        for scope in ["all", "created"] {
            let path = webhook_path(name, scope);
            let (status, body) = post(addr, &path).await;
            assert!(status.contains(" 200 "), "{name:?} via {path}: {status}");
            assert_eq!(body, format!("{name}|{scope}"), "{name:?} via {path}");
        }
    }
    // Plain names keep the URL they always had.
    assert_eq!(webhook_path("contacts", "all"), "/webhooks/contacts/all");
    assert_eq!(
        webhook_path("deal-stages_v2.~", "deleted"),
        "/webhooks/deal-stages_v2.~/deleted"
    );
}

//! The origin allow-list, for direct URLs and redirects, checked before connecting.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::routing::{any, get};
use axum::Router;
use common::{fast, raw, reply, serve, settings_for};
use runtime_api_client::{ApiRequest, ClientSettings, HttpClient};
use serde_json::json;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

#[tokio::test]
async fn absolute_url_to_foreign_origin_is_refused_without_connecting() {
    let home = serve(Router::new().route("/", get(|| async { "home" }))).await;
    let foreign = raw(reply(OK)).await;
    let client = HttpClient::new().unwrap();
    let s = settings_for(&format!("http://{home}"));
    let url = format!("http://{}/steal?token=abc", foreign.addr);
    let err = client
        .send(&s, &fast(), ApiRequest::new("GET", &url))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "not_allowed");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("origin http://{} is not allowed", foreign.addr)),
        "{msg}"
    );
    assert!(
        msg.contains("allowedHosts") && msg.contains("spec.yml"),
        "{msg}"
    );
    assert!(!msg.contains("abc"), "{msg}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(foreign.accepted(), 0);
}

#[tokio::test]
async fn redirect_to_another_port_is_refused_without_connecting() {
    let foreign = raw(reply(OK)).await;
    let target = format!("http://{}/steal", foreign.addr);
    let home = serve(Router::new().route(
        "/go",
        get(move || {
            let target = target.clone();
            async move { (StatusCode::FOUND, [(LOCATION, target)]) }
        }),
    ))
    .await;
    let client = HttpClient::new().unwrap();
    let s = settings_for(&format!("http://{home}"));
    let err = client
        .send(&s, &fast(), ApiRequest::new("GET", "/go"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "not_allowed");
    assert!(
        err.to_string()
            .contains(&format!("redirected from http://{home}/go")),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(foreign.accepted(), 0);
}

#[tokio::test]
async fn redirects_within_allowed_origins_are_followed() {
    let other = serve(Router::new().route(
        "/echo",
        any(|req: axum::extract::Request| async move {
            let auth = req.headers().get("authorization").is_some();
            axum::Json(json!({"method": req.method().as_str(), "auth": auth, "uri": req.uri().to_string()}))
        }),
    ))
    .await;
    let elsewhere = format!("http://{other}/echo");
    let home = serve(
        Router::new()
            .route(
                "/same",
                get(|| async { (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, "/dest?x=1")]) }),
            )
            .route("/dest", get(|| async { "arrived" }))
            .route(
                "/see-other",
                any(move || {
                    let to = elsewhere.clone();
                    async move { (StatusCode::SEE_OTHER, [(LOCATION, to)]) }
                }),
            ),
    )
    .await;
    let client = HttpClient::new().unwrap();
    // A bare host in allowedHosts allows any port of it.
    let s = ClientSettings::from_make_api_client(
        &json!({"baseUri": format!("http://{home}"), "headers": {"Authorization": "Bearer s"}}),
        None,
        &["127.0.0.1".to_string()],
    )
    .unwrap();
    let same = client
        .send(&s, &fast(), ApiRequest::new("GET", "/same"))
        .await
        .unwrap();
    assert_eq!(same.data(), json!("arrived"));
    let req = ApiRequest {
        data: Some(json!({"a": 1})),
        ..ApiRequest::new("POST", "/see-other")
    };
    let moved = client.send(&s, &fast(), req).await.unwrap();
    // 303 turns POST into GET; credentials are not carried to another origin.
    assert_eq!(
        moved.data(),
        json!({"method": "GET", "auth": false, "uri": "/echo"})
    );
    let absolute = client
        .send(
            &s,
            &fast(),
            ApiRequest::new("GET", &format!("http://{other}/echo")),
        )
        .await
        .unwrap();
    assert_eq!(absolute.data()["method"], "GET");
}

#[tokio::test]
async fn redirect_loops_stop_after_ten_hops() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let home = serve(Router::new().route(
        "/loop",
        get(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { (StatusCode::FOUND, [(LOCATION, "/loop")]) }
        }),
    ))
    .await;
    let client = HttpClient::new().unwrap();
    let s = settings_for(&format!("http://{home}"));
    let err = client
        .send(&s, &fast(), ApiRequest::new("GET", "/loop"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than 10 redirects"), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 11);
}

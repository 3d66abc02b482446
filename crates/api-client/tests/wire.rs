//! What goes on the wire and how responses come back, against a loopback server.

mod common;

use axum::body::Body;
use axum::http::{header, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use common::{fast, serve, settings_for};
use runtime_api_client::{ApiRequest, ClientSettings, HttpClient};
use serde_json::{json, Map, Value};

async fn echo(req: axum::extract::Request) -> axum::Json<Value> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let headers: Map<String, Value> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    axum::Json(json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "headers": headers,
        "body": String::from_utf8_lossy(&bytes),
    }))
}

async fn echo_server() -> std::net::SocketAddr {
    serve(Router::new().fallback(echo)).await
}

#[tokio::test]
async fn orderby_path_query_keeps_dollar_and_encodes_space() {
    let addr = echo_server().await;
    let client = HttpClient::new().unwrap();
    let s = settings_for(&format!("http://{addr}/v1"));
    let req = ApiRequest::new("GET", "/contacts?$orderby=createdDateTime desc");
    let resp = client.send(&s, &fast(), req).await.unwrap();
    assert_eq!(
        resp.data()["uri"],
        "/v1/contacts?$orderby=createdDateTime%20desc"
    );
}

#[tokio::test]
async fn base_path_join_and_query_merge() {
    let addr = echo_server().await;
    let client = HttpClient::new().unwrap();
    let s = ClientSettings::from_make_api_client(
        &json!({"baseUri": format!("http://{addr}/v1/"), "query": {"api_key": "K", "limit": 5}}),
        None,
        &[],
    )
    .unwrap();
    let req = ApiRequest {
        query: Some(json!({"tag": ["a", "b c"], "skip": null, "on": true})),
        ..ApiRequest::new("get", "contacts?limit=10")
    };
    let resp = client.send(&s, &fast(), req).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.data()["uri"],
        "/v1/contacts?limit=10&api_key=K&tag=a&tag=b%20c&on=true"
    );
}

#[tokio::test]
async fn request_headers_override_settings_and_body_defaults_to_json() {
    let addr = echo_server().await;
    let client = HttpClient::new().unwrap();
    let s = ClientSettings::from_make_api_client(
        &json!({"baseUri": format!("http://{addr}"), "headers": {"Authorization": "Bearer settings", "X-App": "1"}}),
        None,
        &[],
    )
    .unwrap();
    let req = ApiRequest {
        data: Some(json!({"a": 1})),
        headers: vec![("authorization".into(), "Bearer request".into())],
        ..ApiRequest::new("post", "/things")
    };
    let resp = client.send(&s, &fast(), req).await.unwrap();
    let h = &resp.data()["headers"];
    assert_eq!(h["authorization"], "Bearer request");
    assert_eq!(h["x-app"], "1");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(resp.data()["method"], "POST");
    assert_eq!(resp.data()["body"], r#"{"a":1}"#);
}

#[tokio::test]
async fn text_and_form_bodies_follow_the_content_type() {
    let addr = echo_server().await;
    let client = HttpClient::new().unwrap();
    let s = settings_for(&format!("http://{addr}"));
    let text = ApiRequest {
        data: Some(json!("hello {not json}")),
        headers: vec![("Content-Type".into(), "text/plain".into())],
        ..ApiRequest::new("PUT", "/t")
    };
    let resp = client.send(&s, &fast(), text).await.unwrap();
    assert_eq!(resp.data()["body"], "hello {not json}");
    let form = ApiRequest {
        data: Some(json!({"grant_type": "refresh_token", "refresh_token": "a b&c"})),
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        ..ApiRequest::new("POST", "/token")
    };
    let resp = client.send(&s, &fast(), form).await.unwrap();
    assert_eq!(
        resp.data()["body"],
        "grant_type=refresh_token&refresh_token=a+b%26c"
    );
}

fn raw_response(status: u16, headers: &[(&str, &str)], body: &'static str) -> Response<Body> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body)).unwrap()
}

async fn response_server() -> std::net::SocketAddr {
    let app = Router::new()
        .route(
            "/json",
            get(|| async {
                raw_response(
                    200,
                    &[("content-type", "application/json")],
                    r#"{"ok":true}"#,
                )
            }),
        )
        .route(
            "/text",
            get(|| async { raw_response(200, &[("content-type", "text/plain")], "hi") }),
        )
        .route(
            "/sniff",
            get(|| async { raw_response(200, &[], r#"[1,2]"#) }),
        )
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/bad-json",
            get(|| async { raw_response(200, &[("content-type", "application/json")], "{nope") }),
        )
        .route(
            "/missing",
            get(|| async {
                raw_response(
                    404,
                    &[("content-type", "application/json")],
                    r#"{"error":"nope"}"#,
                )
            }),
        )
        .route(
            "/multi",
            get(|| async {
                raw_response(
                    200,
                    &[
                        ("X-Multi", "a"),
                        ("X-Multi", "b"),
                        (header::CONTENT_TYPE.as_str(), "text/plain"),
                    ],
                    "",
                )
            }),
        );
    serve(app).await
}

#[tokio::test]
async fn responses_are_decoded_by_content_type_or_sniffing() {
    let addr = response_server().await;
    let client = HttpClient::new().unwrap();
    let s = settings_for(&format!("http://{addr}"));
    let config = fast();
    let get = |p: &str| client.send(&s, &config, ApiRequest::new("GET", p));
    assert_eq!(get("/json").await.unwrap().data(), json!({"ok": true}));
    assert_eq!(get("/text").await.unwrap().data(), json!("hi"));
    assert_eq!(get("/sniff").await.unwrap().data(), json!([1, 2]));
    let empty = get("/empty").await.unwrap();
    assert_eq!((empty.status, empty.data()), (204, Value::Null));
    let multi = get("/multi").await.unwrap();
    assert_eq!(multi.headers["x-multi"], "a, b");
    assert_eq!(multi.headers["content-type"], "text/plain");
    let head = client
        .send(&s, &fast(), ApiRequest::new("HEAD", "/json"))
        .await
        .unwrap();
    assert_eq!(head.data(), Value::Null);
}

#[tokio::test]
async fn declared_json_that_does_not_parse_is_a_body_error() {
    let addr = response_server().await;
    let client = HttpClient::new().unwrap();
    let s = settings_for(&format!("http://{addr}"));
    let err = client
        .send(&s, &fast(), ApiRequest::new("GET", "/bad-json"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "body");
    assert!(
        err.to_string().contains(&format!("http://{addr}/bad-json")),
        "{err}"
    );
    assert!(err.to_string().contains("declared JSON"), "{err}");
}

#[tokio::test]
async fn non_2xx_is_an_http_error_with_the_response() {
    let addr = response_server().await;
    let client = HttpClient::new().unwrap();
    let s = settings_for(&format!("http://{addr}"));
    let err = client
        .send(&s, &fast(), ApiRequest::new("GET", "/missing"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "http");
    assert_eq!(
        err.to_string(),
        format!("GET http://{addr}/missing returned 404 Not Found: {{\"error\":\"nope\"}}")
    );
    let resp = err.response().unwrap();
    assert_eq!(resp.status, 404);
    assert_eq!(resp.data(), json!({"error": "nope"}));
    assert_eq!(resp.headers["content-type"], "application/json");
    assert_eq!(err.attempts(), Some(1));
}

#[tokio::test]
async fn bad_requests_fail_before_sending() {
    let client = HttpClient::new().unwrap();
    let none = ClientSettings::from_make_api_client(&Value::Null, None, &[]).unwrap();
    let err = client
        .send(&none, &fast(), ApiRequest::new("GET", "/contacts"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_request");
    assert!(err.to_string().contains("\"/contacts\""), "{err}");
    let s = settings_for("http://127.0.0.1:9");
    let err = client
        .send(&s, &fast(), ApiRequest::new("TRACE", "/x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_request");
    assert!(err.to_string().contains("TRACE"), "{err}");
    let bad_header = ApiRequest {
        headers: vec![("X-Token".into(), "sec\nret".into())],
        ..ApiRequest::new("GET", "/x")
    };
    let err = client.send(&s, &fast(), bad_header).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_request");
    assert!(
        err.to_string().contains("X-Token") && !err.to_string().contains("sec"),
        "{err}"
    );
}

#[tokio::test]
async fn secret_query_values_are_redacted_in_errors() {
    let addr = response_server().await;
    let client = HttpClient::new().unwrap();
    let s = ClientSettings::from_make_api_client(
        &json!({"baseUri": format!("http://{addr}"), "query": {"tenant": "T-SECRET"}}),
        None,
        &[],
    )
    .unwrap();
    let err = client
        .send(
            &s,
            &fast(),
            ApiRequest::new("GET", "/missing?access_token=TOK&page=2"),
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("access_token=***&page=2&tenant=***"), "{msg}");
    assert!(!msg.contains("TOK") && !msg.contains("T-SECRET"), "{msg}");
}

/// Membrane's mapping form `{args: {...}}` and its JavaScript example's
/// `baseUrl` make the same client as the flat `{baseUri, ...}`.
#[tokio::test]
async fn the_args_form_and_base_url_are_read_as_the_flat_form() {
    let addr = echo_server().await;
    let client = HttpClient::new().unwrap();
    for options in [
        json!({"args": {"baseUri": format!("http://{addr}/v2"), "query": {"minorversion": "65"}}}),
        json!({"baseUrl": format!("http://{addr}/v2"), "query": {"minorversion": "65"}}),
    ] {
        let s = ClientSettings::from_make_api_client(&options, None, &[]).unwrap();
        let resp = client
            .send(&s, &fast(), ApiRequest::new("get", "query"))
            .await
            .unwrap();
        assert_eq!(resp.data()["uri"], "/v2/query?minorversion=65", "{options}");
    }
}

/// `auth: {username, password}` is HTTP Basic, unless the headers already
/// set Authorization; a malformed `auth` names the field.
#[test]
fn auth_is_basic_unless_headers_say_otherwise() {
    let basic = ClientSettings::from_make_api_client(
        &json!({"baseUri": "https://api.example.com", "auth": {"username": "id", "password": "pw"}}),
        None,
        &[],
    )
    .unwrap();
    assert_eq!(
        basic.headers,
        [("Authorization".to_string(), "Basic aWQ6cHc=".to_string())]
    );
    let own = ClientSettings::from_make_api_client(
        &json!({"baseUri": "https://api.example.com", "auth": {"username": "id"}, "headers": {"authorization": "Bearer t"}}),
        None,
        &[],
    )
    .unwrap();
    assert_eq!(
        own.headers,
        [("authorization".to_string(), "Bearer t".to_string())]
    );
    let bad = ClientSettings::from_make_api_client(
        &json!({"baseUri": "https://api.example.com", "auth": {"username": ["x"]}}),
        None,
        &[],
    )
    .unwrap_err();
    assert!(bad.to_string().contains("auth.username"), "{bad}");
}

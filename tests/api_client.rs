//! `apiClient` as connector JavaScript sees it, against the mock API: what
//! makeApiClient sets reaches the wire, the allow-list, retries, ApiError,
//! credential refresh on 401, `request()`, and the response size cap.

mod support;

use std::path::Path;
use std::time::Duration;

use mock_api::{Fault, MockApi, MockOptions};
use serde_json::{json, Value};
use support::{append, connection_file, fixture, invoke_with, query_pairs, Run};

fn status(code: u16, retry_after: Option<&str>, body: Option<&str>) -> Fault {
    Fault::Status {
        code,
        retry_after: retry_after.map(str::to_string),
        body: body.map(str::to_string),
    }
}

/// Invokes `data/probe/<f>` with a connection file holding `connection`.
fn probe(dir: &Path, connection: &Value, f: &str, input: Value) -> Run {
    let conn = connection_file(dir, connection);
    invoke_with(
        &[],
        dir,
        &format!("data/probe/{f}"),
        &input,
        &["--connection", conn.to_str().unwrap()],
    )
}

#[test]
fn make_api_client_headers_query_and_base_path_reach_the_server() {
    let mock = MockApi::start();
    let dir = fixture("api", &mock.base_url());
    let connection = json!({
        "credentials": {"token": "tok-1", "apiKey": "key-1"},
        "parameters": {"baseUri": format!("{}/echo/v2", mock.base_url())},
    });

    for path in ["/items/7", "items/7"] {
        mock.clear_requests();
        let echo = probe(
            dir.path(),
            &connection,
            "get",
            json!({"path": path, "query": {"q": "a b&c", "n": 3}}),
        )
        .json();
        assert_eq!(echo["method"], "GET");
        assert_eq!(
            echo["path"], "/echo/v2/items/7",
            "{path} joined with the base path"
        );
        assert_eq!(echo["headers"]["authorization"], "Bearer tok-1");
        assert_eq!(echo["headers"]["x-api-key"], "key-1");
        let q = query_pairs(echo["query"].as_str().unwrap());
        assert!(q.contains(&("api_version".into(), "2".into())), "{q:?}");
        assert!(q.contains(&("q".into(), "a b&c".into())), "{q:?}");
        assert!(q.contains(&("n".into(), "3".into())), "{q:?}");
        // What the server recorded, not just what it echoed.
        let reqs = mock.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].header("x-api-key"), Some("key-1"));
    }
}

#[test]
fn a_foreign_origin_is_refused_before_anything_is_sent() {
    let mock = MockApi::start();
    let foreign = MockApi::start();
    let dir = fixture("api", &mock.base_url());
    let conn = json!({"credentials": {"token": "secret-token-123"}});
    let url = format!("{}/echo/steal", foreign.base_url());

    let caught = probe(
        dir.path(),
        &conn,
        "catch",
        json!({"method": "get", "path": url}),
    )
    .json();
    assert_eq!(caught["threw"], true);
    assert_eq!(caught["name"], "ApiClientError", "{caught}");
    assert_eq!(caught["kind"], "not_allowed");
    assert_eq!(caught["isError"], true);
    assert_eq!(caught["isApiError"], false);
    assert!(
        caught["message"].as_str().unwrap().contains("allowedHosts"),
        "{caught}"
    );

    let run = probe(dir.path(), &conn, "get", json!({"path": url}));
    let err = run.failure();
    assert!(err.contains("not allowed"), "{run}");
    assert!(
        !err.contains("secret-token-123"),
        "credentials leaked: {run}"
    );
    assert!(
        foreign.requests().is_empty(),
        "the foreign server was contacted"
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn allowed_hosts_lets_another_origin_through() {
    let mock = MockApi::start();
    let other = MockApi::start();
    let dir = fixture("api", &mock.base_url());
    append(
        dir.path(),
        "spec.yml",
        &format!("allowedHosts: [\"{}\"]\n", other.base_url()),
    );
    let echo = probe(
        dir.path(),
        &json!({}),
        "get",
        json!({"path": format!("{}/echo/files/1", other.base_url())}),
    )
    .json();
    assert_eq!(echo["path"], "/echo/files/1");
    assert_eq!(other.request_count("/echo/files/1"), 1);
}

#[test]
fn a_429_is_retried_after_retry_after() {
    let mock = MockApi::start();
    mock.seed("items", 2);
    mock.inject("/items", 1, status(429, Some("1"), None));
    let dir = fixture("api", &mock.base_url());
    let run = probe(dir.path(), &json!({}), "get", json!({"path": "/items"}));
    let out = run.json();
    assert_eq!(out["records"].as_array().unwrap().len(), 2);
    assert_eq!(mock.request_count("/items"), 2);
    let reqs = mock.requests();
    let gap = reqs[1].received_at - reqs[0].received_at;
    assert!(
        gap >= Duration::from_millis(950),
        "retried after {gap:?}, not after Retry-After: 1"
    );
}

#[test]
fn a_500_is_retried_for_get_but_not_for_post() {
    let mock = MockApi::start();
    mock.inject("/items", 2, status(500, None, None));
    let dir = fixture("api", &mock.base_url());
    let out = probe(dir.path(), &json!({}), "get", json!({"path": "/items"})).json();
    assert_eq!(out["records"], json!([]));
    assert_eq!(mock.request_count("/items"), 3);

    mock.clear_requests();
    mock.inject("/items", 1, status(500, None, None));
    let caught = probe(
        dir.path(),
        &json!({}),
        "catch",
        json!({"method": "post", "path": "/items", "data": {"name": "x"}}),
    )
    .json();
    assert_eq!(caught["status"], 500, "{caught}");
    assert_eq!(mock.request_count("/items"), 1, "a POST was sent twice");
    assert!(mock.records("items").is_empty());
}

#[test]
fn api_error_carries_status_data_and_headers() {
    let mock = MockApi::start();
    mock.inject(
        "/items",
        1,
        status(422, None, Some(r#"{"error":"invalid","field":"email"}"#)),
    );
    let dir = fixture("api", &mock.base_url());
    let caught = probe(
        dir.path(),
        &json!({}),
        "catch",
        json!({"method": "get", "path": "/items"}),
    )
    .json();
    assert_eq!(caught["name"], "ApiError");
    assert_eq!(caught["isApiError"], true);
    assert_eq!(caught["isError"], true);
    assert_eq!(caught["status"], 422);
    assert_eq!(
        caught["data"],
        json!({"error": "invalid", "field": "email"})
    );
    assert!(
        caught["headers"]["content-type"]
            .as_str()
            .is_some_and(|c| c.contains("json")),
        "{caught}"
    );
    let message = caught["message"].as_str().unwrap();
    assert!(
        message.contains("GET") && message.contains("/items") && message.contains("422"),
        "message must name method, URL and status: {message}"
    );
    assert_eq!(mock.request_count("/items"), 1, "a 422 is not retried");

    // Uncaught, the call fails naming the same, without the API key that
    // makeApiClient put in the query.
    mock.inject("/items", 1, status(404, None, None));
    let conn = json!({"credentials": {"queryKey": "query-secret-42"}});
    let run = probe(dir.path(), &conn, "get", json!({"path": "/items"}));
    let err = run.failure();
    assert!(err.contains("ApiError") && err.contains("404"), "{run}");
    assert!(err.contains("/items"), "{run}");
    assert!(
        !err.contains("query-secret-42"),
        "credential in the message: {run}"
    );
    let sent = mock.requests().pop().unwrap();
    assert!(query_pairs(&sent.query).contains(&("key".into(), "query-secret-42".into())));
}

fn auth_mock() -> MockApi {
    let mock = MockApi::start_with(MockOptions {
        require_auth: true,
        token: "old-token".into(),
        refresh_token: Some("refresh-1".into()),
        ..MockOptions::default()
    });
    mock.seed("contacts", 2);
    mock
}

#[test]
fn a_401_runs_refresh_credentials_once_and_retries() {
    let mock = auth_mock();
    let dir = fixture("api", &mock.base_url());
    let conn = json!({"credentials": {"token": "old-token", "refreshToken": "refresh-1"}});

    // Still valid: no refresh.
    let out = probe(dir.path(), &conn, "get", json!({"path": "/contacts"})).json();
    assert_eq!(out["records"].as_array().unwrap().len(), 2);
    assert_eq!(mock.request_count("/auth/refresh"), 0);

    mock.expire_token();
    mock.clear_requests();
    let run = probe(dir.path(), &conn, "get", json!({"path": "/contacts"}));
    let out = run.json();
    assert_eq!(out["records"].as_array().unwrap().len(), 2);
    assert_eq!(mock.request_count("/auth/refresh"), 1);
    let calls: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/contacts")
        .collect();
    assert_eq!(calls.len(), 2, "one 401, one retry");
    assert_eq!(calls[0].header("authorization"), Some("Bearer old-token"));
    assert_eq!(calls[1].header("authorization"), Some("Bearer token-1"));
    assert!(run.stderr.contains("refreshing credentials"), "{run}");
    assert!(!run.stderr.contains("token-1"), "new token logged: {run}");
}

#[test]
fn a_401_that_stays_401_after_refresh_fails_without_looping() {
    let mock = auth_mock();
    mock.inject("/contacts", 100, status(401, None, None));
    let dir = fixture("api", &mock.base_url());
    let conn = json!({"credentials": {"token": "old-token", "refreshToken": "refresh-1"}});
    let run = probe(dir.path(), &conn, "get", json!({"path": "/contacts"}));
    let err = run.failure();
    assert!(err.contains("401"), "{run}");
    assert_eq!(mock.request_count("/auth/refresh"), 1);
    assert_eq!(mock.request_count("/contacts"), 2);
}

#[test]
fn request_returns_status_headers_and_data() {
    let mock = MockApi::start();
    let dir = fixture("api", &mock.base_url());
    let out = probe(
        dir.path(),
        &json!({}),
        "request",
        json!({"req": {"method": "post", "path": "/items", "data": {"name": "Ada"}}}),
    )
    .json();
    assert_eq!(out["status"], 201);
    let id = out["data"]["id"]
        .as_str()
        .expect("created record")
        .to_string();
    assert_eq!(out["data"]["name"], "Ada");
    assert_eq!(
        out["headers"]["location"],
        format!("{}/items/{id}", mock.base_url())
    );
    assert_eq!(mock.get("items", &id).unwrap()["name"], "Ada");
    let req = &mock.requests()[0];
    assert_eq!(req.body_json(), Some(json!({"name": "Ada"})));
}

#[test]
fn responses_over_max_response_bytes_are_refused() {
    let mock = MockApi::start();
    let dir = fixture("api", &mock.base_url());
    append(dir.path(), "spec.yml", "http:\n  maxResponseBytes: 2000\n");
    mock.inject("/big", 1, Fault::Oversize(1500));
    let ok = probe(dir.path(), &json!({}), "get", json!({"path": "/big"}));
    assert!(ok.ok(), "1500 bytes fit under 2000: {ok}");

    mock.inject("/big", 1, Fault::Oversize(50_000));
    let run = probe(dir.path(), &json!({}), "get", json!({"path": "/big"}));
    let err = run.failure();
    assert!(err.contains("exceeds"), "{run}");
    assert!(err.contains("2000"), "{run}");
}

#[test]
fn concurrent_401s_share_one_refresh() {
    let mock = auth_mock();
    mock.expire_token();
    let dir = fixture("api", &mock.base_url());
    let conn = json!({"credentials": {"token": "old-token", "refreshToken": "refresh-1"}});
    let out = probe(
        dir.path(),
        &conn,
        "parallel",
        json!({"paths": ["/contacts", "/contacts?limit=1", "/contacts?limit=2"]}),
    )
    .json();
    assert_eq!(out.as_array().unwrap().len(), 3, "{out}");
    assert_eq!(mock.request_count("/auth/refresh"), 1);
    assert_eq!(
        mock.request_count("/contacts"),
        6,
        "three 401s, three retries"
    );
}

#[test]
fn a_401_from_the_refresh_request_itself_fails_clearly() {
    let mock = auth_mock();
    mock.expire_token();
    mock.inject("/auth/refresh", 10, status(401, None, None));
    let dir = fixture("api", &mock.base_url());
    let conn = json!({"credentials": {"token": "old-token", "refreshToken": "refresh-1"}});
    let run = probe(dir.path(), &conn, "get", json!({"path": "/contacts"}));
    let err = run.failure();
    assert!(
        err.contains("401") && err.contains("/auth/refresh"),
        "{run}"
    );
    assert_eq!(mock.request_count("/auth/refresh"), 1, "{run}");
    assert_eq!(mock.request_count("/contacts"), 1, "{run}");
}

#[test]
fn a_returned_value_that_is_not_json_is_a_clear_error() {
    let mock = MockApi::start();
    let dir = fixture("api", &mock.base_url());
    let run = probe(dir.path(), &json!({}), "cyclic", json!({}));
    let err = run.failure();
    assert!(
        err.contains("data/probe/cyclic.js") && err.contains("not JSON"),
        "{run}"
    );
}

#[test]
fn a_redirect_to_a_foreign_origin_is_refused_before_it_is_followed() {
    let mock = MockApi::start();
    let foreign = MockApi::start();
    mock.inject(
        "/items",
        1,
        Fault::RedirectTo(format!("{}/echo/stolen", foreign.base_url())),
    );
    let dir = fixture("api", &mock.base_url());
    let conn = json!({"credentials": {"token": "secret-token-123"}});
    let run = probe(dir.path(), &conn, "get", json!({"path": "/items"}));
    let err = run.failure();
    assert!(
        err.contains("not allowed") && err.contains("redirected from"),
        "{run}"
    );
    assert!(foreign.requests().is_empty(), "the redirect was followed");
    assert_eq!(mock.request_count("/items"), 1);

    // To an allowed origin it is followed.
    append(
        dir.path(),
        "spec.yml",
        &format!("allowedHosts: [\"{}\"]\n", foreign.base_url()),
    );
    mock.inject(
        "/items",
        1,
        Fault::RedirectTo(format!("{}/echo/moved", foreign.base_url())),
    );
    let echo = probe(dir.path(), &conn, "get", json!({"path": "/items"})).json();
    assert_eq!(echo["path"], "/echo/moved");
    assert!(
        echo["headers"].get("authorization").is_none(),
        "the bearer token followed a redirect to another origin: {echo}"
    );
    assert_eq!(
        mock.requests().last().unwrap().header("authorization"),
        Some("Bearer secret-token-123")
    );
}

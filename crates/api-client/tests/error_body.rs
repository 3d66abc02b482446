//! A non-2xx answer's message shows its body: on one line, cut, with secret
//! JSON keys and every credential sent redacted; the response keeps it whole.

mod common;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::{fast, serve};
use runtime_api_client::{ApiClientError, ApiRequest, ClientSettings, HttpClient};
use serde_json::json;

const LONG_WORDS: usize = 200;

async fn server() -> String {
    let app = Router::new()
        .route(
            "/token",
            get(|| async {
                let body = json!({
                    "error": "invalid_grant",
                    "error_description": "refresh token revoked",
                    "access_token": "LEAKED-ACCESS",
                    "details": {"Client_Secret": "LEAKED-CLIENT-SECRET", "apiKey": "LEAKED-KEY"}
                });
                (StatusCode::BAD_REQUEST, axum::Json(body))
            }),
        )
        .route(
            "/echo-auth",
            get(|headers: HeaderMap| async move {
                let auth = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let cred = "refresh token REFRESH-ONLY-IN-CREDENTIALS is revoked";
                let text =
                    format!("<html>\r\n<body>\n\tbad credentials: {auth}\n{cred}</body></html>\n");
                (
                    StatusCode::FORBIDDEN,
                    [(header::CONTENT_TYPE, "text/html")],
                    text,
                )
                    .into_response()
            }),
        )
        .route(
            "/long",
            get(|| async {
                let text = (0..LONG_WORDS)
                    .map(|i| format!("word{i:03}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                Response::builder()
                    .status(StatusCode::UNPROCESSABLE_ENTITY)
                    .body(axum::body::Body::from(text))
                    .unwrap()
            }),
        );
    format!("http://{}", serve(app).await)
}

/// Sends `Authorization: Bearer HEADER-SECRET-123`; holds a refresh token
/// it does not send (the engine fills `secret_values` from credentials).
fn settings(base: &str) -> ClientSettings {
    let mut s = ClientSettings::from_make_api_client(
        &json!({"baseUri": base, "headers": {"Authorization": "Bearer HEADER-SECRET-123"}}),
        None,
        &[],
    )
    .unwrap();
    s.secret_values = vec!["REFRESH-ONLY-IN-CREDENTIALS".into()];
    s
}

async fn fail(path: &str) -> (String, ApiClientError) {
    let base = server().await;
    let err = HttpClient::new()
        .unwrap()
        .send(&settings(&base), &fast(), ApiRequest::new("GET", path))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "http");
    (base, err)
}

#[tokio::test]
async fn secret_json_keys_are_redacted_in_the_message_but_kept_in_the_data() {
    let (base, err) = fail("/token").await;
    assert_eq!(
        err.to_string(),
        format!(
            "GET {base}/token returned 400 Bad Request: {{\"error\":\"invalid_grant\",\"error_description\":\"refresh token revoked\",\"access_token\":\"[redacted]\",\"details\":{{\"Client_Secret\":\"[redacted]\",\"apiKey\":\"[redacted]\"}}}}"
        )
    );
    let data = err.response().unwrap().data();
    assert_eq!(
        data["access_token"], "LEAKED-ACCESS",
        "the data stays whole"
    );
    assert_eq!(data["details"]["apiKey"], "LEAKED-KEY");
}

#[tokio::test]
async fn an_echoed_authorization_header_and_credentials_are_redacted_and_html_is_one_line() {
    let (base, err) = fail("/echo-auth").await;
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!(
            "GET {base}/echo-auth returned 403 Forbidden: <html> <body> bad credentials: [redacted] refresh token [redacted] is revoked</body></html>"
        )
    );
    for secret in ["HEADER-SECRET-123", "REFRESH-ONLY"] {
        assert!(!msg.contains(secret), "{secret} leaked: {msg}");
    }
    let data = err.response().unwrap().data();
    assert!(data.as_str().unwrap().contains("Bearer HEADER-SECRET-123"));
}

#[tokio::test]
async fn a_long_body_is_cut_after_300_characters_with_its_size() {
    let (base, err) = fail("/long").await;
    let full = (0..LONG_WORDS)
        .map(|i| format!("word{i:03}"))
        .collect::<Vec<_>>()
        .join(" ");
    let msg = err.to_string();
    let prefix = format!("GET {base}/long returned 422 Unprocessable Entity: ");
    let excerpt = msg.strip_prefix(&prefix).unwrap_or_else(|| panic!("{msg}"));
    let shown: String = full.chars().take(300).collect();
    assert_eq!(excerpt, format!("{shown}…({} bytes)", full.len()));
    assert_eq!(err.response().unwrap().data(), json!(full));
}

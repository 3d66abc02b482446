//! An `ApiError` thrown into connector code: its message names the call and
//! shows the answer's body with credentials redacted; `error.data` keeps the
//! whole parsed body.

use std::io::{Read, Write};
use std::net::TcpListener;

mod common;

use common::call;
use runtime_engine::{Engine, Limits};
use serde_json::json;

fn connector() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in [
        (
            "auth/make-api-client.js",
            "export default function makeApiClient({ credentials, parameters }) {\n  return { baseUri: parameters.baseUri, headers: { Authorization: `Bearer ${credentials.accessToken}` } }\n}\n",
        ),
        (
            "data/fail.js",
            "export default async function fail({ apiClient }) {\n  try {\n    await apiClient.get('/contacts')\n    return null\n  } catch (e) {\n    return { name: e.name, message: e.message, status: e.status, data: e.data }\n  }\n}\n",
        ),
    ] {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    dir
}

/// A loopback server answering 400 with JSON that echoes the request's
/// Authorization header, names a secret key, and repeats a credential the
/// connector never sent; returns its base URL.
fn echoing_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            }
            let head = String::from_utf8_lossy(&got).into_owned();
            let auth = head
                .lines()
                .find_map(|l| l.strip_prefix("authorization: "))
                .unwrap_or("")
                .to_string();
            let body = json!({
                "error": "invalid_token",
                "received": auth,
                "refresh_token": "RT-IN-BODY",
                "note": "the refresh token REFRESH-HELD-456 is revoked"
            })
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_error_message_shows_the_redacted_body_and_data_keeps_it_whole() {
    let dir = connector();
    let base = echoing_server();
    let e: Engine = common::engine(dir.path(), "api-errors", Limits::default(), true);
    let mut c = call(dir.path(), "fail", json!({}));
    c.connector_parameters = json!({ "baseUri": base });
    c.credentials = json!({"accessToken": "AT-SENT-123", "refreshToken": "REFRESH-HELD-456"});
    let out = e.call(c).await.unwrap().value;

    assert_eq!(out["name"], "ApiError");
    assert_eq!(out["status"], 400);
    let message = out["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!(
            "GET {base}/contacts returned 400 Bad Request: {{\"error\":\"invalid_token\",\"received\":\"[redacted]\",\"refresh_token\":\"[redacted]\",\"note\":\"the refresh token [redacted] is revoked\"}}"
        )
    );
    for secret in ["AT-SENT-123", "REFRESH-HELD-456", "RT-IN-BODY"] {
        assert!(!message.contains(secret), "{secret} leaked: {message}");
    }
    assert_eq!(
        out["data"],
        json!({
            "error": "invalid_token",
            "received": "Bearer AT-SENT-123",
            "refresh_token": "RT-IN-BODY",
            "note": "the refresh token REFRESH-HELD-456 is revoked"
        }),
        "error.data is the whole parsed body"
    );
}

//! Timeouts, size caps and broken bodies, against raw TCP servers.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fast, raw, read_head, reply, settings_for};
use runtime_api_client::{ApiRequest, HttpClient, HttpConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn hanging_server_times_out_per_attempt() {
    let server = raw(Arc::new(|mut s: TcpStream| {
        Box::pin(async move {
            read_head(&mut s).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        })
    }))
    .await;
    let config = HttpConfig {
        request_timeout: Duration::from_millis(200),
        max_attempts: 2,
        ..fast()
    };
    let s = settings_for(&format!("http://{}", server.addr));
    let client = HttpClient::new().unwrap();
    let started = Instant::now();
    let err = client
        .send(&s, &config, ApiRequest::new("GET", "/slow"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "timeout");
    assert!(
        err.to_string()
            .contains("timed out after 200 ms (after 2 attempts)"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.accepted(), 2);
    let err = client
        .send(&s, &config, ApiRequest::new("POST", "/slow"))
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.attempts()), ("timeout", Some(1)));
}

#[tokio::test]
async fn declared_huge_body_is_refused_without_reading_it() {
    let written = Arc::new(AtomicUsize::new(0));
    let w = written.clone();
    let server = raw(Arc::new(move |mut s: TcpStream| {
        let w = w.clone();
        Box::pin(async move {
            read_head(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
                .await;
            let chunk = vec![b'x'; 64 * 1024];
            while s.write_all(&chunk).await.is_ok() {
                w.fetch_add(chunk.len(), Ordering::SeqCst);
            }
        })
    }))
    .await;
    let started = Instant::now();
    let err = HttpClient::new()
        .unwrap()
        .send(
            &settings_for(&format!("http://{}", server.addr)),
            &fast(),
            ApiRequest::new("GET", "/big"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "too_large");
    assert!(
        err.to_string()
            .contains("1000000000 bytes (Content-Length)"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        written.load(Ordering::SeqCst) < 64 * 1024 * 1024,
        "server kept writing"
    );
    assert_eq!(server.accepted(), 1, "too_large is not retried");
}

#[tokio::test]
async fn streamed_body_over_the_cap_is_cut_off() {
    let server = raw(Arc::new(|mut s: TcpStream| {
        Box::pin(async move {
            read_head(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await;
            let chunk = format!("10000\r\n{}\r\n", "y".repeat(0x10000));
            for _ in 0..2000 {
                if s.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
            }
        })
    }))
    .await;
    let config = HttpConfig {
        max_response_bytes: 256 * 1024,
        ..fast()
    };
    let err = HttpClient::new()
        .unwrap()
        .send(
            &settings_for(&format!("http://{}", server.addr)),
            &config,
            ApiRequest::new("GET", "/stream"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "too_large");
    assert!(
        err.to_string().contains("(streamed)") && err.to_string().contains("262144"),
        "{err}"
    );
}

#[tokio::test]
async fn truncated_body_is_a_retried_body_error() {
    let server = raw(reply(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":",
    ))
    .await;
    let s = settings_for(&format!("http://{}", server.addr));
    let config = HttpConfig {
        max_attempts: 3,
        ..fast()
    };
    let client = HttpClient::new().unwrap();
    let err = client
        .send(&s, &config, ApiRequest::new("GET", "/cut"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "body");
    assert!(err.to_string().contains("broke off after 5 bytes"), "{err}");
    assert_eq!((err.attempts(), server.accepted()), (Some(3), 3));
    let err = client
        .send(&s, &config, ApiRequest::new("PATCH", "/cut"))
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.attempts()), ("body", Some(1)));
    assert_eq!(server.accepted(), 4);
}

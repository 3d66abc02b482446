#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use runtime_api_client::{ClientSettings, HttpConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves `app` on a fresh loopback port.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A bare TCP server that counts connections and lets a test write any bytes.
pub struct RawServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl RawServer {
    /// A server started elsewhere whose accepts `accepted` counts.
    pub fn counting(addr: SocketAddr, accepted: Arc<AtomicUsize>) -> RawServer {
        RawServer { addr, accepted }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

pub type Handler = Arc<dyn Fn(TcpStream) -> BoxFuture<'static, ()> + Send + Sync>;

pub async fn raw(handler: Handler) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handler(stream));
        }
    });
    RawServer { addr, accepted }
}

/// Reads a request head (up to the blank line) so the client sees its request consumed.
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Answers every request on the connection with `response`, then closes.
pub fn reply(response: &'static [u8]) -> Handler {
    Arc::new(move |mut s: TcpStream| {
        Box::pin(async move {
            read_head(&mut s).await;
            let _ = s.write_all(response).await;
            let _ = s.shutdown().await;
        })
    })
}

/// Short limits so failing paths finish in milliseconds.
pub fn fast() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        max_response_bytes: 1024 * 1024,
        max_attempts: 5,
        max_retry_elapsed: Duration::from_secs(10),
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        rate_limit: None,
    }
}

pub fn settings_for(base: &str) -> ClientSettings {
    ClientSettings::from_make_api_client(&serde_json::json!({ "baseUri": base }), None, &[])
        .unwrap()
}

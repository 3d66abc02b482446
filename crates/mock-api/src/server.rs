//! Accept loop and per-request pipeline: read the body, record the
//! request, apply an injected fault or route it.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::faults::{self, ConnCtl, FaultRule};
use crate::rate_limit::RateWindow;
use crate::reply::{Body, Reply};
use crate::store::{Change, Store};
use crate::webhooks::Webhooks;
use crate::{routes, MockOptions, RecordedRequest, WebhookDelivery};

/// Request bodies above this get 413 (the mock holds them in memory).
const MAX_BODY: usize = 32 * 1024 * 1024;

pub(crate) struct Auth {
    pub token: Option<String>,
    pub issued: u64,
}

/// Everything the server and the `MockApi` handle share.
pub(crate) struct Shared {
    pub opts: MockOptions,
    pub base_url: String,
    pub store: Mutex<Store>,
    pub webhooks: Mutex<Webhooks>,
    pub deliveries: Arc<Mutex<Vec<WebhookDelivery>>>,
    pub requests: Mutex<VecDeque<RecordedRequest>>,
    pub faults: Mutex<Vec<FaultRule>>,
    pub auth: Mutex<Auth>,
    pub rate: Mutex<RateWindow>,
}

/// Locks ignoring poison: a panicking test thread must not take the
/// server down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Runs one store change and queues its webhooks under the store lock,
    /// so webhook order matches seq order.
    pub(crate) fn change(&self, f: impl FnOnce(&mut Store) -> Option<Change>) -> Option<Change> {
        let mut store = lock(&self.store);
        let change = f(&mut store)?;
        lock(&self.webhooks).dispatch(&change);
        Some(change)
    }

    fn record(&self, req: RecordedRequest) {
        let mut log = lock(&self.requests);
        if log.len() >= self.opts.max_recorded_requests.max(1) {
            log.pop_front();
        }
        log.push_back(req);
    }
}

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => spawn_conn(stream, Arc::clone(&shared)),
                // Out of file descriptors and the like: back off, keep serving.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            },
        }
    }
}

fn spawn_conn(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let dup = socket2::SockRef::from(&stream).try_clone().ok();
    let ctl = Arc::new(ConnCtl::new(dup));
    tokio::spawn(async move {
        let svc = service_fn(move |req| handle(Arc::clone(&shared), Arc::clone(&ctl), req));
        // Connection errors are the faults doing their job, or clients
        // going away; nothing to report.
        let _ = http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(stream), svc)
            .await;
    });
}

async fn handle(
    shared: Arc<Shared>,
    ctl: Arc<ConnCtl>,
    req: Request<Incoming>,
) -> io::Result<Response<Body>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Ok(
                Reply::error(413, format!("request body over {MAX_BODY} bytes")).into_response(),
            )
        }
        Err(e) => return Err(io::Error::other(e)),
    };
    let req = RecordedRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        received_at: Instant::now(),
    };
    shared.record(req.clone());
    if !lock(&shared.rate).admit(Instant::now()) {
        return Ok(
            Reply::error(429, "rate limit exceeded (mock-api rate-limit mode)")
                .with_header("retry-after", "1")
                .into_response(),
        );
    }
    let fault = faults::take(&mut lock(&shared.faults), &req.path);
    let real = || routes::route(&shared, &req);
    match fault {
        None => Ok(real().into_response()),
        Some(f) => faults::apply(f, real, &ctl).await,
    }
}

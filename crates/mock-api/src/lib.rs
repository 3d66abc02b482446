//! A mock upstream API (think Microsoft Graph or a CRM) served over real
//! HTTP on 127.0.0.1, for the runtime's tests, demos and benchmarks.
//!
//! It owns: named collections of records with a deterministic logical
//! clock and change sequence; cursor, page-number, newest-first and
//! Graph-style delta pagination; writes; bearer-token auth with refresh;
//! outgoing (optionally signed) webhooks; a log of every request; and
//! fault injection that really happens on the wire (status codes, hangs,
//! stalls, truncation, resets, non-JSON, oversize bodies, redirects); and
//! a rate-limit mode (429 with `Retry-After: 1` over N requests in any one
//! second, counted).
//!
//! It is test and demo support only and must never become part of the
//! runtime's data path: nothing in the runtime may depend on it outside
//! tests, demos and benchmarks.
//!
//! Endpoints (`{c}` is any collection name, created on first use):
//! - `GET /{c}?limit=N&cursor=X`: by id, `{"records", "cursor"?}`.
//! - `GET /{c}/by-page?page=N&pageSize=M`: `{"records", "page", "pageSize", "totalPages"}`.
//! - `GET /{c}/latest[?$orderby=createdDateTime desc][&includeDeleted=true]`:
//!   newest first, `{"records", "nextPageLink"?}` with an absolute link.
//! - `GET /{c}/delta[?token=T]`: `{"value", "nextPageLink" | "deltaLink"}`.
//! - `GET /{c}/query?startPosition=N&maxResults=M`: QuickBooks' shape,
//!   `{"QueryResponse": {"<C>": [{"Id", "DisplayName", "MetaData", ...}]}}`.
//! - `GET|PATCH|PUT|DELETE /{c}/{id}`, `POST /{c}`.
//! - `/echo/...` (any method), `POST /auth/refresh`, `POST /auth/token`,
//!   `POST|GET /webhooks`, `GET|DELETE /webhooks/{id}`.
//!
//! ```
//! use mock_api::{Fault, MockApi};
//!
//! let api = MockApi::start();
//! api.seed("contacts", 3);
//! api.inject("/contacts", 1, Fault::Status { code: 429, retry_after: Some("1".into()), body: None });
//! assert_eq!(api.records("contacts").len(), 3);
//! assert!(api.base_url().starts_with("http://127.0.0.1:"));
//! ```

mod collections;
mod faults;
mod rate_limit;
mod reply;
mod routes;
mod seed;
mod server;
mod store;
mod time;
mod types;
mod webhooks;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use server::{lock, Auth, Shared};
pub use types::{
    Fault, MockError, MockOptions, RecordedRequest, WebhookDelivery, WebhookRegistration,
};
pub use webhooks::sign_webhook;

/// A running mock server. Dropping it stops the server.
pub struct MockApi {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MockApi {
    /// Starts with default options on a free port.
    ///
    /// # Panics
    /// When the server cannot start (no free port, no threads); tests want
    /// that loud. Use [`MockApi::try_start_with`] to handle it.
    pub fn start() -> MockApi {
        MockApi::start_with(MockOptions::default())
    }

    /// Starts with `opts`. Panics like [`MockApi::start`].
    pub fn start_with(opts: MockOptions) -> MockApi {
        match MockApi::try_start_with(opts) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    /// Binds 127.0.0.1 now (so the address is known on return) and serves
    /// from a background thread with its own tokio runtime, which makes it
    /// usable from sync tests and from inside other runtimes alike.
    pub fn try_start_with(opts: MockOptions) -> Result<MockApi, MockError> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", opts.port))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| MockError::Bind {
                port: opts.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| MockError::Bind {
            port: opts.port,
            source,
        })?;
        let rt = if opts.worker_threads > 1 {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(opts.worker_threads)
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .map_err(MockError::Runtime)?;
        let client = reqwest::Client::builder()
            .timeout(opts.webhook_timeout)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(MockError::Client)?;
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let hooks = webhooks::Webhooks::new(
            client,
            opts.webhook_secret.clone(),
            Arc::clone(&deliveries),
            rt.handle().clone(),
        );
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            store: Mutex::new(store::Store::new(opts.clock_step_secs)),
            webhooks: Mutex::new(hooks),
            deliveries,
            requests: Mutex::new(VecDeque::new()),
            faults: Mutex::new(Vec::new()),
            auth: Mutex::new(Auth {
                token: Some(opts.token.clone()),
                issued: 0,
            }),
            rate: Mutex::new(rate_limit::RateWindow::new(opts.rate_limit_per_second)),
            opts,
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let serve_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("mock-api-{}", addr.port()))
            .spawn(move || {
                rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => server::serve(l, serve_shared, stop_rx).await,
                        Err(e) => eprintln!("mock-api: cannot serve on {addr}: {e}"),
                    }
                });
                // Hanging and stalled connections must not delay the drop.
                rt.shutdown_background();
            })
            .map_err(MockError::Thread)?;
        Ok(MockApi {
            shared,
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `"http://127.0.0.1:PORT"`, no trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Creates a record (an `id` in `fields` is kept, replacing any record
    /// with that id; else one is generated) and returns it as stored.
    pub fn create(&self, collection: &str, fields: Value) -> Value {
        self.shared
            .change(|s| Some(s.create(collection, fields)))
            .map(|c| c.record)
            .unwrap_or(Value::Null)
    }

    /// Shallow-merges `fields` into a live record; `None` if there is none.
    pub fn update(&self, collection: &str, id: &str, fields: Value) -> Option<Value> {
        self.shared
            .change(|s| s.update(collection, id, fields, false))
            .map(|c| c.record)
    }

    /// Deletes (tombstones) a live record; false if there is none.
    pub fn delete(&self, collection: &str, id: &str) -> bool {
        self.shared.change(|s| s.delete(collection, id)).is_some()
    }

    /// One live record.
    pub fn get(&self, collection: &str, id: &str) -> Option<Value> {
        lock(&self.shared.store).get(collection, id)
    }

    /// Live records, by id.
    pub fn records(&self, collection: &str) -> Vec<Value> {
        lock(&self.shared.store).records(collection, false)
    }

    /// Live records and tombstones (with `deletedTime`), by id.
    pub fn records_with_deleted(&self, collection: &str) -> Vec<Value> {
        lock(&self.shared.store).records(collection, true)
    }

    /// Creates `n` records with realistic contact fields (name, email,
    /// company, title, phone), deterministic for a given store history.
    pub fn seed(&self, collection: &str, n: usize) {
        for _ in 0..n {
            let k = self.seq() + 1;
            self.create(collection, seed::fields(k));
        }
    }

    /// One random change, as a busy upstream makes them: a create, or an
    /// update or delete of a random live record (a create when there is
    /// none). Returns the change type and the record; `None` if the picked
    /// record went away before it could be changed.
    pub fn random_change(&self, collection: &str) -> Option<(&'static str, Value)> {
        let mut rng = rand::thread_rng();
        let pick = rng.gen_range(0..3u8);
        let change = self.shared.change(|s| {
            let live = s.live_count(collection);
            let target = match live {
                0 => None,
                n => s.nth_live_id(collection, rng.gen_range(0..n)),
            };
            match (pick, target) {
                (1, Some(id)) => {
                    let title = format!("Title {}", rng.gen_range(0..10_000u32));
                    s.update(collection, &id, json!({ "title": title }), false)
                }
                (2, Some(id)) => s.delete(collection, &id),
                _ => Some(s.create(collection, seed::fields(s.seq() + 1))),
            }
        })?;
        Some((change.kind.as_str(), change.record))
    }

    /// The logical time the next change will get.
    pub fn clock_time(&self) -> String {
        lock(&self.shared.store).next_time()
    }

    /// The last change's sequence number (0 before any change).
    pub fn seq(&self) -> u64 {
        lock(&self.shared.store).seq()
    }

    /// Seconds the logical clock advances per change from now on.
    pub fn set_clock_step(&self, secs: u64) {
        lock(&self.shared.store).set_step(secs);
    }

    /// Delta tokens at or below the current seq now answer 410
    /// `resyncRequired` (a change must happen before a token works again).
    pub fn expire_delta_tokens(&self) {
        lock(&self.shared.store).expire_delta_tokens();
    }

    /// Every request received (up to `max_recorded_requests`), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).iter().cloned().collect()
    }

    /// How many recorded requests have a path starting with `path_prefix`.
    pub fn request_count(&self, path_prefix: &str) -> usize {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .count()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// The next `times` requests whose path starts with `path_prefix` get
    /// `fault`. Rules apply in the order injected.
    pub fn inject(&self, path_prefix: &str, times: usize, fault: Fault) {
        if let Some(rule) = faults::rule(path_prefix, times, fault) {
            lock(&self.shared.faults).push(rule);
        }
    }

    /// Turns the rate-limit mode on (`Some(n)`: over `n` requests in any
    /// one second get 429 with `Retry-After: 1`) or off, from now on.
    pub fn set_rate_limit(&self, per_second: Option<usize>) {
        lock(&self.shared.rate).set_limit(per_second);
    }

    /// How many 429s the rate-limit mode gave so far.
    pub fn rate_limited(&self) -> usize {
        lock(&self.shared.rate).refused()
    }

    /// When each of those 429s was given, oldest first.
    pub fn rate_limited_at(&self) -> Vec<Instant> {
        lock(&self.shared.rate).refused_at()
    }

    /// Starts counting [`MockApi::rate_limited`] from zero again.
    pub fn reset_rate_limited(&self) {
        lock(&self.shared.rate).reset_count();
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// The bearer token accepted from now on.
    pub fn set_token(&self, token: &str) {
        lock(&self.shared.auth).token = Some(token.to_string());
    }

    /// No token is accepted until `/auth/refresh` issues a new one.
    pub fn expire_token(&self) {
        lock(&self.shared.auth).token = None;
    }

    /// The token accepted now, if any.
    pub fn current_token(&self) -> Option<String> {
        lock(&self.shared.auth).token.clone()
    }

    /// Registers a webhook as `POST /webhooks` would.
    pub fn register_webhook(&self, url: &str, collection: Option<&str>) -> WebhookRegistration {
        lock(&self.shared.webhooks).register(url, collection.map(str::to_string), None)
    }

    pub fn webhooks(&self) -> Vec<WebhookRegistration> {
        lock(&self.shared.webhooks).list()
    }

    /// Finished deliveries, in completion order.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.shared.deliveries).clone()
    }

    /// Blocks (polling) until at least `n` deliveries finished or
    /// `timeout` passed, and returns them. Call it from a sync context or
    /// a multi-thread runtime.
    pub fn wait_for_deliveries(&self, n: usize, timeout: Duration) -> Vec<WebhookDelivery> {
        let deadline = Instant::now() + timeout;
        loop {
            let d = self.webhook_deliveries();
            if d.len() >= n || Instant::now() >= deadline {
                return d;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn handle_can_be_shared_across_threads_and_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::MockApi>();
    }
}

//! The running service: the loaded connectors, every connection's record
//! and its `ConnectionRun`, and the operations of the admin API on them.
//! Admin writes are serialized (one at a time, so two requests cannot
//! start one connection twice); lookups for webhooks and status take a
//! read lock only for as long as it takes to clone a handle.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use runtime_host::delivery::DeliveryHealth;
use runtime_host::{ConnectionOptions, ConnectionRun, SubscriptionStatus};
use runtime_store::Store;
use serde_json::{json, Value};
use tokio::sync::{watch, Mutex, Notify};

use crate::connectors::{load_connectors, Loaded};
use crate::record::{check_id, new_id, CreateBody, Invalid, PatchBody, Record};
use crate::{api, ServeError, ServeOptions};

/// An admin API failure: its status and a message naming the field or id.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    NotFound(String),
    Conflict(String),
    Unavailable(String),
    Internal(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => f.write_str(m),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> ApiError {
        ApiError::BadRequest(e.0)
    }
}

impl From<runtime_store::StoreError> for ApiError {
    fn from(e: runtime_store::StoreError) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

impl From<runtime_host::HostError> for ApiError {
    fn from(e: runtime_host::HostError) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

struct Entry {
    record: Record,
    /// None while disabled, or when its connector is not loaded.
    run: Option<Arc<ConnectionRun>>,
}

pub struct Service {
    connectors: BTreeMap<String, Loaded>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) store_name: String,
    public_url: String,
    interval_override: Option<Duration>,
    delivered: Arc<Notify>,
    pub(crate) delivery: Arc<DeliveryHealth>,
    pub(crate) admin_token: String,
    connections: RwLock<BTreeMap<String, Entry>>,
    /// Held by every admin write.
    admin: Mutex<()>,
    /// Every connector's engine worker processes.
    workers: Arc<runtime_engine::WorkerStats>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no connection `{id}`"))
}

impl Service {
    fn entry<T>(&self, id: &str, f: impl FnOnce(&Entry) -> T) -> Result<T, ApiError> {
        let map = self
            .connections
            .read()
            .map_err(|_| ApiError::Internal("connection table poisoned".into()))?;
        map.get(id).map(f).ok_or_else(|| not_found(id))
    }

    fn put_entry(&self, id: &str, entry: Option<Entry>) {
        if let Ok(mut map) = self.connections.write() {
            match entry {
                Some(e) => map.insert(id.to_string(), e),
                None => map.remove(id),
            };
        }
    }

    fn loaded(&self, key: &str) -> Option<&Loaded> {
        self.connectors.get(key)
    }

    /// Starts a record's connection (when enabled and its connector is loaded).
    async fn start(&self, record: &Record) -> Result<Option<Arc<ConnectionRun>>, ApiError> {
        let Some(loaded) = self.loaded(&record.connector) else {
            tracing::error!(connection = %record.id, connector = %record.connector, "connection not started: its connector is not loaded");
            return Ok(None);
        };
        if !record.enabled {
            return Ok(None);
        }
        let run = ConnectionRun::start(
            loaded.connector.clone(),
            &record.connection(),
            loaded.engine.clone(),
            self.store.tenant(&record.id),
            self.options_for(record),
        )
        .await?;
        Ok(Some(Arc::new(run)))
    }

    fn options_for(&self, record: &Record) -> ConnectionOptions {
        ConnectionOptions {
            public_url: self.public_url.clone(),
            interval_override: self.interval_override,
            intervals: record.intervals(),
            delivered: self.delivered.clone(),
            tenant: Some(record.id.clone()),
        }
    }

    async fn statuses(
        &self,
        record: &Record,
        run: Option<&ConnectionRun>,
    ) -> Result<Vec<SubscriptionStatus>, ApiError> {
        if let Some(run) = run {
            return Ok(run.statuses().await?);
        }
        let Some(loaded) = self.loaded(&record.connector) else {
            return Ok(Vec::new());
        };
        let store = self.store.tenant(&record.id);
        Ok(
            runtime_host::paused_statuses(&loaded.connector, &record.connection(), store.as_ref())
                .await?,
        )
    }

    pub(crate) async fn create(&self, body: CreateBody) -> Result<Value, ApiError> {
        let _admin = self.admin.lock().await;
        let Some(loaded) = self.loaded(&body.connector) else {
            let known: Vec<&str> = self.connectors.keys().map(String::as_str).collect();
            return Err(ApiError::BadRequest(format!(
                "`connector`: no connector `{}` is loaded (loaded: {})",
                body.connector,
                known.join(", ")
            )));
        };
        let id = match &body.id {
            Some(id) => {
                check_id(id)?;
                id.clone()
            }
            None => new_id(),
        };
        if self.entry(&id, |_| ()).is_ok() {
            return Err(ApiError::Conflict(format!(
                "`id`: a connection `{id}` exists already"
            )));
        }
        let record = Record::create(id.clone(), body);
        record.check(&loaded.connector)?;
        self.save(&record).await?;
        let run = match self.start(&record).await {
            Ok(run) => run,
            Err(e) => {
                // Not kept: a connection that cannot start is not created.
                let _ = self.store.delete_connection_record(&id).await;
                return Err(e);
            }
        };
        let subscriptions = self.statuses(&record, run.as_deref()).await?;
        tracing::info!(connection = %id, connector = %record.connector, "connection created");
        let answer =
            json!({"id": id, "connector": record.connector, "subscriptions": subscriptions});
        self.put_entry(&id, Some(Entry { record, run }));
        Ok(answer)
    }

    async fn save(&self, record: &Record) -> Result<(), ApiError> {
        let value = serde_json::to_value(record).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.store
            .save_connection_record(&record.id, &value)
            .await?;
        Ok(())
    }

    pub(crate) fn list(&self) -> Result<Value, ApiError> {
        let map = self
            .connections
            .read()
            .map_err(|_| ApiError::Internal("connection table poisoned".into()))?;
        let list: Vec<Value> = map
            .values()
            .map(|e| {
                json!({
                    "id": e.record.id,
                    "connector": e.record.connector,
                    "enabled": e.record.enabled,
                    "createdAt": e.record.created_at,
                })
            })
            .collect();
        Ok(json!({ "connections": list }))
    }

    pub(crate) async fn show(&self, id: &str) -> Result<Value, ApiError> {
        let (record, run) = self.entry(id, |e| (e.record.clone(), e.run.clone()))?;
        let mut out = record.public();
        let subscriptions = self.statuses(&record, run.as_deref()).await?;
        out.insert("subscriptions".into(), json!(subscriptions));
        Ok(Value::Object(out))
    }

    pub(crate) async fn subscriptions(&self, id: &str) -> Result<Value, ApiError> {
        let (record, run) = self.entry(id, |e| (e.record.clone(), e.run.clone()))?;
        let subscriptions = self.statuses(&record, run.as_deref()).await?;
        Ok(json!({ "subscriptions": subscriptions }))
    }

    pub(crate) async fn patch(&self, id: &str, body: PatchBody) -> Result<Value, ApiError> {
        let _admin = self.admin.lock().await;
        let (record, run) = self.entry(id, |e| (e.record.clone(), e.run.clone()))?;
        let next = record.patched(body);
        if let Some(loaded) = self.loaded(&next.connector) {
            next.check(&loaded.connector)?;
        }
        self.save(&next).await?;
        // From the next cycle: the running ones finish first.
        if let Some(run) = run {
            run.stop().await;
        }
        let run = self.start(&next).await?;
        tracing::info!(connection = %id, enabled = next.enabled, "connection updated");
        self.put_entry(
            id,
            Some(Entry {
                record: next.clone(),
                run: run.clone(),
            }),
        );
        let mut out = next.public();
        out.insert(
            "subscriptions".into(),
            json!(self.statuses(&next, run.as_deref()).await?),
        );
        Ok(Value::Object(out))
    }

    pub(crate) async fn delete(&self, id: &str) -> Result<(), ApiError> {
        let _admin = self.admin.lock().await;
        let (record, run) = self.entry(id, |e| (e.record.clone(), e.run.clone()))?;
        self.put_entry(id, None);
        let retired = match (run, self.loaded(&record.connector)) {
            (Some(run), _) => run.retire().await,
            // Not running (disabled): set it up only to undo what it registered.
            (None, Some(loaded)) => match ConnectionRun::paused(
                loaded.connector.clone(),
                &record.connection(),
                loaded.engine.clone(),
                self.store.tenant(id),
                self.options_for(&record),
            )
            .await
            {
                Ok(run) => run.retire().await,
                Err(e) => Err(e),
            },
            (None, None) => Ok(()),
        };
        if let Err(e) = retired {
            tracing::warn!(connection = %id, "deleting: {e}");
        }
        self.store.delete_connection_record(id).await?;
        tracing::info!(connection = %id, "connection deleted");
        Ok(())
    }

    pub(crate) fn trigger(&self, id: &str, collection: &str) -> Result<Value, ApiError> {
        let (record, run) = self.entry(id, |e| (e.record.clone(), e.run.clone()))?;
        let Some(run) = run else {
            return Err(ApiError::Conflict(format!(
                "connection `{id}` is not running (enabled: {}); enable it first",
                record.enabled
            )));
        };
        if !run.trigger(collection) {
            return Err(ApiError::NotFound(format!(
                "connection `{id}` has no subscription of collection `{collection}`"
            )));
        }
        Ok(json!({"connection": id, "collection": collection, "started": true}))
    }

    /// The running connection a webhook is for.
    pub(crate) fn webhook_target(&self, id: &str) -> Result<Arc<ConnectionRun>, ApiError> {
        match self.entry(id, |e| e.run.clone())? {
            Some(run) => Ok(run),
            None => Err(ApiError::Unavailable(format!(
                "connection `{id}` is disabled; send again later"
            ))),
        }
    }

    /// What `/metrics` needs beyond the counters.
    pub(crate) async fn metrics_snapshot(&self) -> runtime_metrics::Snapshot {
        let (running, paused) = self
            .connections
            .read()
            .map(|m| {
                let running = m.values().filter(|e| e.run.is_some()).count() as u64;
                (running, m.len() as u64 - running)
            })
            .unwrap_or_default();
        runtime_metrics::Snapshot {
            outbox_depth: self.store.pending_count().await.unwrap_or(0),
            connections_running: running,
            connections_paused: paused,
            workers_running: self.workers.running() as u64,
            workers_restarted: self.workers.restarted(),
            leases_held: 0,
        }
    }

    /// A global webhook of `connector`: its handler runs once, with no
    /// connection's credentials; each routed event goes to every running
    /// connection of the connector whose subscription state selects it.
    pub(crate) async fn global_webhook(
        &self,
        connector: &str,
        key: &str,
        request: (
            &axum::http::Method,
            Option<&str>,
            &axum::http::HeaderMap,
            &axum::body::Bytes,
        ),
    ) -> Result<axum::response::Response, ApiError> {
        let Some(loaded) = self.loaded(connector) else {
            return Err(ApiError::NotFound(format!("no connector `{connector}`")));
        };
        let invoker = runtime_host::connector_invoker(
            &loaded.connector,
            loaded.engine.clone(),
            &format!("global-webhooks/{key}"),
        )?;
        let (method, query, headers, body) = request;
        let handled = match runtime_host::server::GlobalRequest::handle(
            &invoker, key, method, query, headers, body,
        )
        .await
        {
            Ok(h) => h,
            Err(answer) => return Ok(answer),
        };
        let runs: Vec<Arc<ConnectionRun>> = self
            .connections
            .read()
            .map(|m| {
                m.values()
                    .filter(|e| e.record.connector == connector)
                    .filter_map(|e| e.run.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut events = 0;
        for run in runs {
            match run.route_global(&handled).await {
                Ok(n) => events += n,
                Err(answer) => return Ok(answer),
            }
        }
        Ok(handled.answer(events))
    }

    fn runs(&self) -> Vec<Arc<ConnectionRun>> {
        self.connections
            .read()
            .map(|m| m.values().filter_map(|e| e.run.clone()).collect())
            .unwrap_or_default()
    }
}

/// `serve`: load, resume stored connections, listen, and stop cleanly.
pub(crate) async fn run(options: ServeOptions) -> Result<(), ServeError> {
    // One client for every connector: one connection pool, one guard.
    let guard = runtime_api_client::AddressGuard::new(options.allow_private_networks.clone());
    let client = runtime_api_client::HttpClient::with_address_guard(guard)?;
    let workers = Arc::new(runtime_engine::WorkerStats::default());
    let connectors = load_connectors(
        &options.connectors_dir,
        &options.limits,
        &client,
        &options.workers,
        &workers,
    )?;
    let public_url = runtime_host::public_url(options.public_url.as_deref(), options.listen);
    let service = Arc::new(Service {
        connectors,
        store: options.store.clone(),
        store_name: options.store_name.clone(),
        public_url,
        interval_override: options.interval_override,
        delivered: Arc::new(Notify::new()),
        delivery: Arc::default(),
        admin_token: options.admin_token.clone(),
        connections: RwLock::new(BTreeMap::new()),
        admin: Mutex::new(()),
        workers,
    });
    resume(&service).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let sink = runtime_sinks::build(&options.sink)?;
    tracing::info!(
        instance = %options.instance_id,
        store = %options.store_name,
        sink = %sink.describe(),
        connectors = service.connectors.len(),
        connections = service.runs().len(),
        "serving"
    );
    let (done_tx, done_rx) = watch::channel(false);
    let deliverer = tokio::spawn(runtime_host::delivery::deliver_loop(
        service.store.clone(),
        service.delivered.clone(),
        stop_tx.clone(),
        sink,
        done_rx,
        service.delivery.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: options.listen,
            source,
        })?;
    tracing::info!("listening on {}", options.listen);
    let app = api::router(
        service.clone(),
        options.max_body,
        options.webhook_read_timeout,
    );
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = server_stop.changed().await;
        });
        if let Err(e) = served.await {
            tracing::error!("server stopped: {e}");
        }
    });
    runtime_host::wait_for_signal(stop_tx.clone(), options.stop.clone()).await;
    // Stop taking cycles; those in flight commit.
    futures::future::join_all(service.runs().iter().map(|r| r.stop())).await;
    runtime_host::delivery::finish(done_tx, deliverer).await;
    let _ = server.await;
    tracing::info!("stopped");
    match service.store.failure() {
        Some(failure) => Err(runtime_host::HostError::StoreFailed(failure).into()),
        None => Ok(()),
    }
}

/// Starts every stored connection.
async fn resume(service: &Service) -> Result<(), ServeError> {
    for (id, value) in service.store.connection_records().await? {
        let record: Record = serde_json::from_value(value).map_err(|e| ServeError::Stored {
            id: id.clone(),
            message: format!("unreadable record: {e}"),
        })?;
        let run = match service.start(&record).await {
            Ok(run) => run,
            Err(e) => {
                tracing::error!(connection = %id, "not started: {e}");
                None
            }
        };
        service.put_entry(&id, Some(Entry { record, run }));
    }
    Ok(())
}

//! What the strategy tests share: a connector written by the test (its
//! API client pointed at a real mock API on loopback), a real engine, a
//! real sled store in a temp dir, and cycles committed as the host does.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use runtime_connector::Connection;
use runtime_events::{ChangeType, NewEvent};
use runtime_store::{sub_id, Sled, Store, SubscriptionState};
use runtime_strategies::{Ctx, Cycle, Invoker, Kind, LimitOverrides, Strategy, StrategyError};
use serde_json::{json, Value};
use tempfile::TempDir;

pub const SPEC: &str = "key: t\nname: T\nparametersSchema:\n  type: object\n  properties:\n    baseUri: {type: string}\n";
pub const CLIENT: &str = "export default ({ parameters }) => ({ baseUri: parameters.baseUri })\n";

pub struct Setup {
    pub dir: TempDir,
    _data: TempDir,
    pub invoker: Invoker,
    pub store: Arc<dyn Store>,
    pub strategy: Strategy,
    pub sub: String,
    pub webhook_uri: String,
}

pub fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A connector with `files` (besides its spec and API client) and one
/// subscription of `collection` with strategy `kind`.
pub fn setup(files: &[(&str, &str)], base_url: &str, collection: &str, kind: Kind) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spec.yml", SPEC);
    write(dir.path(), "auth/make-api-client.js", CLIENT);
    for (rel, text) in files {
        write(dir.path(), rel, text);
    }
    let connector =
        Arc::new(runtime_connector::load(dir.path()).expect("the test connector loads"));
    let engine = runtime_strategies::engine_for(&connector, &LimitOverrides::default()).unwrap();
    let mut connection = Connection::empty();
    connection.parameters = json!({"baseUri": base_url});
    let connector_parameters = connector.connector_parameters(&connection).unwrap();
    let parameters = connector
        .collection_parameters(collection, &connection, None)
        .unwrap();
    let strategy = Strategy::new(kind, &connector, collection, None);
    let invoker = Invoker {
        engine,
        connector,
        collection: collection.into(),
        parameters,
        connector_parameters,
        credentials: Arc::new(Mutex::new(json!({}))),
        record_builders: Default::default(),
        tenant: None,
    };
    let data = tempfile::tempdir().unwrap();
    Setup {
        store: Arc::new(Sled::open(data.path()).unwrap()),
        _data: data,
        dir,
        invoker,
        strategy,
        sub: sub_id("t", collection, "all"),
        webhook_uri: format!("http://127.0.0.1:9/webhooks/{collection}/all"),
    }
}

impl Setup {
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            invoker: &self.invoker,
            store: self.store.as_ref(),
            sub: &self.sub,
            webhook_uri: &self.webhook_uri,
        }
    }

    /// The stored state, or a fresh one.
    pub async fn state(&self) -> SubscriptionState {
        match self.store.get(&self.sub).await.unwrap() {
            Some(s) => s,
            None => {
                let mut parts = self.sub.split('/');
                let (c, col, scope) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                SubscriptionState::new(c, col, scope, self.strategy.name())
            }
        }
    }

    /// One cycle from the stored state, not committed.
    pub async fn try_cycle(&self) -> Result<Cycle, StrategyError> {
        let state = self.state().await;
        self.strategy.cycle(self.ctx(), &state).await
    }

    /// One cycle, committed as the host commits it; returns its events.
    pub async fn cycle(&self) -> Vec<NewEvent> {
        let cycle = self.try_cycle().await.expect("the cycle succeeds");
        self.commit(cycle).await
    }

    pub async fn commit(&self, cycle: Cycle) -> Vec<NewEvent> {
        let events = cycle.events.clone();
        self.store
            .commit(&self.sub, cycle.state, cycle.events)
            .await
            .unwrap();
        events
    }
}

/// (type, record id) of each event, sorted.
pub fn changes(events: &[NewEvent]) -> Vec<(ChangeType, String)> {
    let mut v: Vec<_> = events
        .iter()
        .map(|e| (e.change, e.record_id.clone()))
        .collect();
    v.sort();
    v
}

pub fn id_of(record: &Value) -> String {
    record["id"].as_str().unwrap().to_string()
}

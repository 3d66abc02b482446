//! Helpers shared by the engine's integration tests: an engine over a
//! connector directory written by the test, and a call of one of its
//! `data/<name>.js` functions.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use runtime_api_client::HttpClient;
use runtime_engine::{Call, Engine, EngineConfig, FunctionFile, Limits};
use serde_json::{json, Value};

/// An engine for the connector at `root`; `api_client`: it has
/// `auth/make-api-client.js`. With `ENGINE_TESTS_IN_WORKERS=1` in the
/// environment, the engine runs its calls in worker processes of the
/// `engine-worker` bin instead (every test of the crate then checks that
/// a worker answers as the in-process engine does).
pub fn engine(root: &Path, name: &str, limits: Limits, api_client: bool) -> Engine {
    let mut config = config(root, name, limits);
    config.make_api_client = api_client.then(|| FunctionFile {
        path: config.root.join("auth/make-api-client.js"),
        rel: "auth/make-api-client.js".into(),
        export: "makeApiClient".into(),
    });
    if std::env::var_os("ENGINE_TESTS_IN_WORKERS").is_some() {
        let workers =
            runtime_engine::WorkerOptions::new(env!("CARGO_BIN_EXE_engine-worker"), vec![]);
        return Engine::start_in_workers(config, workers).unwrap();
    }
    Engine::start(config).unwrap()
}

/// The config of [`engine`], without makeApiClient.
pub fn config(root: &Path, name: &str, limits: Limits) -> EngineConfig {
    EngineConfig {
        name: name.into(),
        make_api_client: None,
        root: std::fs::canonicalize(root).unwrap(),
        limits,
        http: Arc::new(Default::default()),
        client: HttpClient::new().unwrap(),
        spec_base_uri: None,
        allowed_hosts: Arc::new(vec![]),
        refresh_credentials: None,
        oauth_config: None,
    }
}

/// A call of `data/<name>.js` (export `name`) with `input`.
pub fn call(root: &Path, name: &str, input: Value) -> Call {
    let root = std::fs::canonicalize(root).unwrap();
    Call {
        function: FunctionFile {
            path: root.join(format!("data/{name}.js")),
            rel: format!("data/{name}.js"),
            export: name.into(),
        },
        collection: None,
        input,
        credentials: json!({}),
        connector_parameters: json!({}),
        records: Default::default(),
        tenant: None,
    }
}

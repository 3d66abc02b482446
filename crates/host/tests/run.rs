//! The host through its library API: `runtime_host::run` with `once` over
//! a connector written by the test, a real engine, a real sled store and
//! the mock API, events to a file sink. What the binary's end-to-end tests
//! check through the command line, here at the host's own seam: one cycle
//! per subscription through the one cycle path, commits, delivery, the
//! failure of one subscription not stopping the others, and `--once`
//! leaving webhook subscriptions alone.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mock_api::MockApi;
use runtime_connector::Connection;
use runtime_host::{RunOptions, RunReport};
use runtime_store::{Sled, Store};
use runtime_strategies::LimitOverrides;
use serde_json::{json, Value};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const FILES: &[(&str, &str)] = &[
    ("spec.yml", "key: h\nname: H\nparametersSchema:\n  type: object\n  properties:\n    baseUri: {type: string}\n"),
    ("auth/make-api-client.js", "export default ({ parameters }) => ({ baseUri: parameters.baseUri })\n"),
    ("data/companies/list.js", "export default async ({ apiClient, cursor }) => {\n  const r = await apiClient.get('/companies', { cursor, limit: 5 })\n  return { records: r.records, cursor: r.cursor }\n}\n"),
    ("data/deals/events/subscribe.js", "export default async () => ({ n: 0 })\n"),
    ("data/deals/events/pull.js", "export default async ({ state }) => ({ events: [{ type: 'created', record: { id: 'd' + state.n } }], state: { n: state.n + 1 } })\n"),
    ("data/broken/events/subscribe.js", "export default async () => { throw new Error('no such account') }\n"),
    ("data/broken/events/pull.js", "export default async () => ({ events: [], state: {} })\n"),
    ("data/tickets/events/webhook-subscribe.js", "export default async ({ apiClient, webhookUri }) => ({ state: await apiClient.post('/webhooks', { url: webhookUri }) })\n"),
    ("data/tickets/events/webhook-handle.js", "export default async ({ data }) => ({ events: [{ type: 'created', record: data }] })\n"),
];

struct Host {
    _dir: tempfile::TempDir,
    connector: Arc<runtime_connector::Connector>,
    connection: Connection,
    store: Arc<dyn Store>,
    sink: std::path::PathBuf,
}

impl Host {
    fn new(mock: &MockApi) -> Host {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in FILES {
            write(&dir.path().join("c"), rel, text);
        }
        let connector = Arc::new(runtime_connector::load(&dir.path().join("c")).unwrap());
        let mut connection = Connection::empty();
        connection.parameters = json!({"baseUri": mock.base_url()});
        let store: Arc<dyn Store> = Arc::new(Sled::open(&dir.path().join("data")).unwrap());
        Host {
            sink: dir.path().join("events.jsonl"),
            _dir: dir,
            connector,
            connection,
            store,
        }
    }

    async fn once(&self) -> RunReport {
        let engine =
            runtime_strategies::engine_for(&self.connector, &LimitOverrides::default()).unwrap();
        let options = RunOptions {
            sink: format!("file:{}", self.sink.display()).parse().unwrap(),
            once: true,
            once_webhooks: false,
            listen: "127.0.0.1:9".parse().unwrap(),
            public_url: None,
            max_webhook_body: 1 << 20,
            webhook_read_timeout: Duration::from_secs(5),
            interval_override: None,
            stop: None,
        };
        runtime_host::run(
            self.connector.clone(),
            self.connection.clone(),
            engine,
            self.store.clone(),
            options,
        )
        .await
        .unwrap()
    }

    /// (collection, type, recordId) of every line in the sink so far.
    fn events(&self) -> Vec<(String, String, String)> {
        let text = std::fs::read_to_string(&self.sink).unwrap_or_default();
        let mut v: Vec<_> = text
            .lines()
            .map(|l| {
                let e: Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| e[k].as_str().unwrap().to_string();
                (s("collection"), s("type"), s("recordId"))
            })
            .collect();
        v.sort();
        v
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_runs_each_subscription_through_one_cycle_and_delivers() {
    let mock = MockApi::start();
    mock.seed("companies", 7);
    let host = Host::new(&mock);

    let first = host.once().await;
    // companies, deals and broken ran; tickets (a webhook) was left alone.
    assert_eq!(first.cycles, 3, "{first:?}");
    assert_eq!(first.events, 0, "baselines emit nothing");
    assert_eq!(first.failures.len(), 1, "{first:?}");
    assert!(first.failures[0].0.ends_with("/broken/all"));
    assert!(first.failures[0].1.contains("no such account"), "{first:?}");
    assert!(mock.webhooks().is_empty(), "--once registered a webhook");

    let created = mock.create("companies", json!({"name": "New"}));
    let second = host.once().await;
    assert_eq!(second.events, 2, "{second:?}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        host.events(),
        [
            ("companies".into(), "created".into(), id),
            ("deals".into(), "created".into(), "d0".into()),
        ]
    );
    assert_eq!(
        host.store.pending_count().await.unwrap(),
        0,
        "all delivered"
    );
    // The failed subscription's error is noted; nothing else of it stored.
    let broken = host.store.get("h/broken/all").await.unwrap().unwrap();
    assert!(!broken.baseline_done);
    assert!(broken.last_error.unwrap().contains("no such account"));
}

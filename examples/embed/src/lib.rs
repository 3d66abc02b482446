//! The runtime as a library: what `runtime run` does for one subscription,
//! written out step by step, for a service that wants the events in its
//! own process instead of from a sink.
//!
//! [`run`] loads a connector, starts its JavaScript engine, builds the
//! collection's strategy, opens a sled store, and runs a few cycles against
//! a mock API it starts in-process, changing the mock's data between
//! cycles. Each cycle is committed (state and events in one atomic write),
//! then the committed events are read back from the store's outbox and
//! acknowledged, as a sink would.
//!
//! What this leaves out (the host crate, `crates/host`, does it): intervals
//! and back-off between cycles, several subscriptions at once, per-type
//! subscriptions, the webhook server, and retrying a failed delivery.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context};
use mock_api::MockApi;
use runtime_connector::Connection;
use runtime_store::{sub_id, Event, Sled, Store, SubscriptionState};
use runtime_strategies::{Ctx, Invoker, LimitOverrides, Strategy};
use serde_json::json;

/// The collection of `examples/pull-latest-records` that [`run`] follows.
pub const COLLECTION: &str = "contacts";

/// The connector [`run`] loads by default: `examples/pull-latest-records`.
pub fn example_connector() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../pull-latest-records"
    ))
}

/// Runs three cycles of `collection` of the connector in `connector_dir`
/// (state in `data_dir`) against a fresh mock API, and returns the events
/// in the order they were committed: none from the baseline, then a
/// `created`, then an `updated` and a `deleted`.
pub async fn run(
    connector_dir: &Path,
    collection: &str,
    data_dir: &Path,
) -> anyhow::Result<Vec<Event>> {
    // The external app. In your service this is the real API.
    let mock = MockApi::start();
    mock.seed(collection, 3);

    // 1. The connector: specs and function files, checked (no JavaScript
    //    runs yet). `load` reports every problem at once, as `validate` does.
    let connector = runtime_connector::load(connector_dir).map_err(|problems| {
        let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow!("the connector does not load:\n{}", all.join("\n"))
    })?;
    let connector = Arc::new(connector);

    // 2. Its engine: a pool of JavaScript runtimes with the spec's limits,
    //    HTTP client and auth functions.
    let engine = runtime_strategies::engine_for(&connector, &LimitOverrides::default())?;

    // 3. The connection: what a connection file holds, built in code here.
    let mut connection = Connection::empty();
    connection.id = Some("embedded".into());
    connection.credentials = json!({"accessToken": "test-token"});
    connection.parameters = json!({"baseUri": mock.base_url()});

    // 4. The strategy the collection's spec names (or its files imply),
    //    configured from the spec.
    let (kind, _interval) = connector
        .strategies(collection)
        .into_values()
        .next()
        .with_context(|| format!("collection `{collection}` has no event strategy"))?;
    let strategy = Strategy::new(kind, &connector, collection, None);

    // 5. The invoker: how the strategy calls the collection's functions,
    //    with its parameters (defaults applied, validated) and credentials.
    let invoker = Invoker {
        engine,
        connector: connector.clone(),
        collection: collection.to_string(),
        parameters: connector.collection_parameters(collection, &connection, None)?,
        connector_parameters: connector.connector_parameters(&connection)?,
        // Shared by every collection's invoker: a token refresh is kept.
        credentials: Arc::new(Mutex::new(connection.credentials.clone())),
        record_builders: Default::default(),
        tenant: None,
    };

    // 6. The store. A data dir belongs to one connection.
    let store = Sled::open(data_dir)?;
    store.claim_connection("embedded").await?;
    let key = &connector.spec.key;
    let sub = sub_id(key, collection, "all");
    let ctx = Ctx {
        invoker: &invoker,
        store: &store,
        sub: &sub,
        // Only webhook subscriptions register a URL.
        webhook_uri: "",
    };

    let mut delivered = Vec::new();
    for round in 0..3 {
        // What changes at the app between two cycles.
        match round {
            0 => {} // the baseline only finds out where "now" is
            1 => {
                mock.create(collection, json!({"name": "Ada Lovelace"}));
            }
            _ => {
                let ids: Vec<String> = mock
                    .records(collection)
                    .iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_string))
                    .collect();
                mock.update(collection, &ids[0], json!({"title": "CTO"}));
                mock.delete(collection, &ids[1]);
            }
        }

        // 7. One cycle: from the stored state (a fresh one the first time)
        //    to events plus the next state. A failed cycle changes nothing:
        //    run it again later from the same stored state.
        let state = match store.get(&sub).await? {
            Some(state) if strategy.owns(&state) => state,
            // None yet, or written by another strategy: a new baseline.
            _ => SubscriptionState::new(key, collection, "all", strategy.name()),
        };
        let cycle = strategy.cycle(ctx, &state).await?;

        // 8. The commit: the new state and the events, durable together.
        //    Only now has the cycle happened; the events get their ids.
        let ids = store.commit(&sub, cycle.state, cycle.events).await?;
        println!("cycle {round}: {} event(s) committed", ids.len());

        // 9. Delivery: the outbox holds every committed, unacknowledged
        //    event as its sink line. Hand them on, then acknowledge; after a
        //    crash in between they come again with the same ids.
        let lines = store.pending_lines(1000).await?;
        for line in &lines {
            println!("{}", line.json);
            delivered.push(line.decode()?);
        }
        store
            .ack(lines.into_iter().map(|line| line.id).collect())
            .await?;
    }
    Ok(delivered)
}

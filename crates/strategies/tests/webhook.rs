//! webhook against the mock API: subscribe is the baseline and records the
//! URL; a cycle is due only to refresh or to move to a new URL (which
//! unsubscribes the old registration); requests become events, and a
//! handler answer without `events` is refused.

mod common;

use common::*;
use mock_api::MockApi;
use runtime_events::ChangeType;
use runtime_strategies::{Kind, StrategyError, WebhookRequest};
use serde_json::json;

const SUBSCRIBE: &str = "export default async function subscribe({ apiClient, webhookUri, state }) {\n  const hook = await apiClient.post('/webhooks', { url: webhookUri })\n  return { state: { hookId: hook.id, refreshes: (state?.refreshes ?? -1) + 1 }, nextRefreshTimestamp: REFRESH }\n}\n";
const UNSUBSCRIBE: &str = "export default async function unsubscribe({ apiClient, state }) {\n  await apiClient.delete(`/webhooks/${state.hookId}`)\n}\n";
const HANDLE: &str = "export default async ({ data }) => data.bare ? { type: 'created', record: data.record } : { events: [{ type: 'created', record: data.record }] }\n";

fn files(refresh: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "data/tickets/events/webhook-subscribe.js",
            SUBSCRIBE.replace("REFRESH", refresh),
        ),
        (
            "data/tickets/events/webhook-unsubscribe.js",
            UNSUBSCRIBE.into(),
        ),
        ("data/tickets/events/webhook-handle.js", HANDLE.into()),
    ]
}

fn hook_setup(mock: &MockApi, refresh: &str) -> Setup {
    let files = files(refresh);
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    setup(&refs, &mock.base_url(), "tickets", Kind::Webhook)
}

fn request(body: serde_json::Value) -> WebhookRequest {
    let body = body.to_string();
    WebhookRequest::new("POST", None, std::iter::empty(), body.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_once_then_only_refresh_or_move() {
    let mock = MockApi::start();
    let mut t = hook_setup(&mock, "undefined");
    assert!(
        t.strategy.due(t.ctx(), &t.state().await),
        "a new subscription"
    );
    assert!(t.cycle().await.is_empty());
    let state = t.state().await;
    assert_eq!(state.data["webhook_uri"], t.webhook_uri.as_str());
    assert!(!t.strategy.due(t.ctx(), &state), "no refresh, same URL");
    assert_eq!(mock.webhooks().len(), 1);

    // The run's public URL changed: the old registration goes.
    t.webhook_uri = "https://hooks.example.com/webhooks/tickets/all".into();
    assert!(t.strategy.due(t.ctx(), &state));
    t.cycle().await;
    let urls: Vec<String> = mock.webhooks().into_iter().map(|h| h.url).collect();
    assert_eq!(urls, [t.webhook_uri.clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_refresh_subscribes_again_with_the_old_state() {
    let mock = MockApi::start();
    let t = hook_setup(&mock, "'2000-01-01T00:00:00Z'");
    t.cycle().await;
    let state = t.state().await;
    assert!(t.strategy.due(t.ctx(), &state), "refresh time has passed");
    t.cycle().await;
    assert_eq!(t.state().await.data["state"]["refreshes"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_become_events_and_bare_answers_are_refused() {
    let mock = MockApi::start();
    let t = hook_setup(&mock, "undefined");
    t.cycle().await;
    let state = t.state().await;
    let handled = t
        .strategy
        .handle(
            t.ctx(),
            &state,
            &request(json!({"record": {"id": "t1"}})),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        changes(&handled.cycle.events),
        [(ChangeType::Created, "t1".into())]
    );
    match t
        .strategy
        .handle(
            t.ctx(),
            &state,
            &request(json!({"bare": true, "record": {"id": "t2"}})),
            None,
        )
        .await
    {
        Err(StrategyError::Shape { problem, .. }) => {
            assert!(problem.contains("without `events`"), "{problem}")
        }
        Ok(_) => panic!("a bare event was taken"),
        Err(other) => panic!("{other}"),
    }
}

/// connector-sdk 2.x spellings: `connectorWebhookUri`, a bare state from
/// subscribe, `body`, `subscription` and `subscriptionState` in handle, a
/// `null` answer for an event type the subscription does not want, and
/// `subscriptionState` in unsubscribe.
const SDK2_SUBSCRIBE: &str = "export default async function subscribe({ apiClient, connectorWebhookUri }) {\n  const hook = await apiClient.post('/webhooks', { url: connectorWebhookUri })\n  return { hookId: hook.id }\n}\n";
const SDK2_HANDLE: &str = "export default async ({ body, subscription, subscriptionState }) => {\n  if (!subscription.events[body.type]) return null\n  return { events: [{ type: body.type, record: { ...body.record, hook: subscriptionState.hookId, sub: subscription.id } }] }\n}\n";
const SDK2_UNSUBSCRIBE: &str = "export default async function unsubscribe({ apiClient, subscriptionState, subscription }) {\n  if (!subscription.id) throw new Error('no subscription id')\n  await apiClient.delete(`/webhooks/${subscriptionState.hookId}`)\n}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platforms_argument_names_and_a_bare_state_work() {
    let mock = MockApi::start();
    let files = [
        ("data/tickets/events/webhook-subscribe.js", SDK2_SUBSCRIBE),
        ("data/tickets/events/webhook-handle.js", SDK2_HANDLE),
        (
            "data/tickets/events/webhook-unsubscribe.js",
            SDK2_UNSUBSCRIBE,
        ),
    ];
    let mut t = setup(&files, &mock.base_url(), "tickets", Kind::Webhook);
    // One event type only, as per-type strategies split a collection.
    t.sub = runtime_store::sub_id("t", "tickets", "created");
    t.cycle().await;
    let state = t.state().await;
    let hooks = mock.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].url, t.webhook_uri);
    let hook_id = state.data["state"]["hookId"].clone();
    assert!(
        !hook_id.is_null(),
        "the bare state is the registration: {state:?}"
    );

    let handled = t
        .strategy
        .handle(
            t.ctx(),
            &state,
            &request(json!({"type": "created", "record": {"id": "t1"}})),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        changes(&handled.cycle.events),
        [(ChangeType::Created, "t1".into())]
    );
    let record: serde_json::Value =
        serde_json::from_str(handled.cycle.events[0].record.get()).unwrap();
    assert_eq!(record["hook"], hook_id);
    assert_eq!(record["sub"], "t/tickets/created");

    // `updated` is not this subscription's: the handler answers null.
    let skipped = t
        .strategy
        .handle(
            t.ctx(),
            &state,
            &request(json!({"type": "updated", "record": {"id": "t1"}})),
            None,
        )
        .await
        .unwrap();
    assert!(skipped.cycle.events.is_empty());

    runtime_strategies::retire(&t.invoker, &state)
        .await
        .unwrap();
    assert!(
        mock.webhooks().is_empty(),
        "unsubscribed with subscriptionState"
    );
}

/// A subscription of one event type (per-type strategies split the
/// collection) uses that type's own flat files when it has them
/// (`events-created-webhook-*`), and the every-type ones otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_type_subscription_uses_its_own_files() {
    let mock = MockApi::start();
    let own_subscribe = "export default async ({ apiClient, webhookUri }) => {\n  const hook = await apiClient.post('/webhooks', { url: webhookUri })\n  return { hookId: hook.id, by: 'created-file' }\n}\n";
    let own_handle = "export default async ({ body }) => ({ events: [{ type: 'created', record: { ...body.record, by: 'created-file' } }] })\n";
    let every_handle = "export default async ({ body }) => ({ events: [{ type: 'created', record: { ...body.record, by: 'every-type-file' } }] })\n";
    let files = [
        (
            "data/tickets/events-created-webhook-subscribe.js",
            own_subscribe,
        ),
        ("data/tickets/events-created-webhook-handle.js", own_handle),
        ("data/tickets/events-webhook-subscribe.js", SDK2_SUBSCRIBE),
        ("data/tickets/events-webhook-handle.js", every_handle),
        (
            "data/tickets/events-webhook-unsubscribe.js",
            SDK2_UNSUBSCRIBE,
        ),
    ];
    let mut t = setup(&files, &mock.base_url(), "tickets", Kind::Webhook);
    t.sub = runtime_store::sub_id("t", "tickets", "created");
    t.cycle().await;
    let state = t.state().await;
    assert_eq!(state.data["state"]["by"], "created-file", "{state:?}");
    let handled = t
        .strategy
        .handle(
            t.ctx(),
            &state,
            &request(json!({"record": {"id": "t1"}})),
            None,
        )
        .await
        .unwrap();
    let record: serde_json::Value =
        serde_json::from_str(handled.cycle.events[0].record.get()).unwrap();
    assert_eq!(record["by"], "created-file");
    // No per-type unsubscribe: the every-type one undoes the registration.
    runtime_strategies::retire(&t.invoker, &state)
        .await
        .unwrap();
    assert!(mock.webhooks().is_empty());

    // The every-type subscription uses the every-type files.
    let mut all = setup(&files, &mock.base_url(), "tickets", Kind::Webhook);
    all.sub = runtime_store::sub_id("t", "tickets", "all");
    all.cycle().await;
    assert!(all.state().await.data["state"]["by"].is_null());
}

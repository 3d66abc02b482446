//! custom-pull: `subscribe` is the baseline, each `pull` gets the state the
//! previous one returned, and an answer without a new state is refused.

mod common;

use common::*;
use runtime_events::ChangeType;
use runtime_strategies::{Kind, StrategyError};

const SUBSCRIBE: &str = "export default async () => ({ next: 1 })\n";
const PULL: &str = "export default async ({ state }) => ({\n  events: [{ type: state.next % 2 ? 'created' : 'updated', record: { id: 'r' + state.next } }],\n  state: { next: state.next + 1 },\n})\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_pull_continues_from_the_state_the_last_returned() {
    let t = setup(
        &[
            ("data/deals/events/subscribe.js", SUBSCRIBE),
            ("data/deals/events/pull.js", PULL),
        ],
        "http://127.0.0.1:9",
        "deals",
        Kind::CustomPull,
    );
    assert!(t.cycle().await.is_empty(), "subscribe is the baseline");
    assert_eq!(t.state().await.data["state"]["next"], 1);
    assert_eq!(
        changes(&t.cycle().await),
        [(ChangeType::Created, "r1".into())]
    );
    assert_eq!(
        changes(&t.cycle().await),
        [(ChangeType::Updated, "r2".into())]
    );
    assert_eq!(t.state().await.data["state"]["next"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_without_state_is_refused() {
    let t = setup(
        &[
            ("data/deals/events/subscribe.js", SUBSCRIBE),
            (
                "data/deals/events/pull.js",
                "export default async () => ({ events: [{ type: 'created', record: { id: 'x' } }] })\n",
            ),
        ],
        "http://127.0.0.1:9",
        "deals",
        Kind::CustomPull,
    );
    t.cycle().await;
    let before = t.state().await;
    match t.try_cycle().await {
        Err(StrategyError::Shape { problem, .. }) => {
            assert!(
                problem.contains("pull must return the new state"),
                "{problem}"
            )
        }
        other => panic!("accepted a pull without state: {other:?}"),
    }
    assert_eq!(t.state().await, before);
}

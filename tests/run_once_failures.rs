//! `runtime run --once` where one collection keeps failing: non-zero exit
//! naming that collection, while the others' events are still delivered,
//! and the failed one catches up on the next good cycle.

mod support;

use mock_api::{Fault, MockApi};
use serde_json::json;
use support::*;

#[test]
fn a_failing_collection_fails_the_run_but_not_the_others() {
    let mock = MockApi::start();
    for c in ["contacts", "deals", "companies"] {
        mock.seed(c, 3);
    }
    let enabled = ["contacts", "deals", "companies"];
    let mut work = Work::new(demo_crm(), &mock.base_url(), &enabled, None);
    assert!(work.once_ok().is_empty());

    let contact = id_of(&mock.create("contacts", json!({"name": "C"})));
    let company = id_of(&mock.create("companies", json!({"name": "Co"})));
    let deal = id_of(&mock.create("deals", json!({"name": "D"})));
    // More 500s than the API client's attempts.
    let fault = Fault::Status {
        code: 500,
        retry_after: None,
        body: None,
    };
    mock.inject("/deals", 100, fault);
    let (code, events, stderr) = work.once();
    assert!(
        matches!(code, Some(c) if c != 0),
        "exit {code:?}:\n{stderr}"
    );
    let last = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>();
    assert!(
        last.iter().any(|l| l.contains("deals")),
        "the error names the failing collection:\n{stderr}"
    );
    assert!(
        !last
            .iter()
            .any(|l| l.contains("failed") && (l.contains("contacts") || l.contains("companies"))),
        "only deals failed:\n{stderr}"
    );
    let mut got: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            assert_contract(e);
            (
                e["collection"].as_str().unwrap().to_string(),
                e["recordId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        pairs(&[("companies", &company), ("contacts", &contact)])
    );

    mock.clear_faults();
    let events = work.once_ok();
    assert_eq!(
        summary(&events, "deals", "custom-pull"),
        pairs(&[("created", &deal)])
    );
}

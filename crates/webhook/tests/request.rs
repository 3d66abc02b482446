//! What an HTTP request becomes for the connector's handler, and how a
//! global webhook's answer routes.

use runtime_webhook::{parse_query, routed_events, selects, Routed, WebhookRequest};
use serde_json::{json, Value};

#[test]
fn requests_keep_what_was_sent_even_when_not_utf8() {
    let headers: [(&str, &[u8]); 3] = [("x-sig", b"abc"), ("x-raw", b"caf\xe9"), ("x-sig", b"def")];
    let req = WebhookRequest::new(
        "POST",
        Some("a=1&b=x+y%21&a=2&flag"),
        headers,
        b"{\"id\":1}",
    );
    assert_eq!(req.method, "POST");
    assert_eq!(req.raw_body, "{\"id\":1}");
    assert_eq!(req.data(), json!({"id": 1}));
    // A header sent twice keeps its last value.
    assert_eq!(
        Value::Object(req.headers),
        json!({"x-sig": "def", "x-raw": "caf\u{fffd}"})
    );
    assert_eq!(
        Value::Object(req.query),
        json!({"a": "2", "b": "x y!", "flag": ""})
    );

    let form = WebhookRequest::new("PUT", None, [], b"a=1\xff");
    assert_eq!(form.raw_body, "a=1\u{fffd}");
    assert_eq!(form.data(), Value::Null);
    assert!(form.query.is_empty());
    assert!(parse_query("%zz=%").contains_key("%zz"));
}

#[test]
fn global_answers_route_or_say_what_is_wrong() {
    assert_eq!(routed_events(&json!({})).unwrap(), []);
    assert_eq!(routed_events(&json!({"events": null})).unwrap(), []);
    assert_eq!(
        routed_events(&json!({"events": [{"selector": "tickets", "payload": {"id": 1}}]})).unwrap(),
        [Routed {
            selector: json!("tickets"),
            payload: json!({"id": 1})
        }]
    );
    assert_eq!(
        routed_events(&json!({"events": [{"selector": "t"}]})).unwrap_err(),
        "events[0] without `selector` and `payload`"
    );
    assert_eq!(
        routed_events(&json!({"events": {"a": 1}})).unwrap_err(),
        "`events` that is not a list (an object)"
    );
    // A non-object answer has no events.
    assert_eq!(routed_events(&json!([1, 2])).unwrap(), []);
}

#[test]
fn selectors_pick_by_collection_and_state() {
    let state = json!({"account": "A1"});
    assert!(selects(&json!("tickets"), "tickets", &state));
    assert!(!selects(&json!("deals"), "tickets", &state));
    let sel = json!({"collection": "tickets", "account": "A1"});
    assert!(selects(&sel, "tickets", &state));
    assert!(!selects(&sel, "tickets", &json!({"account": "A2"})));
    assert!(!selects(&sel, "tickets", &Value::Null));
    assert!(!selects(&json!(1), "tickets", &state));
}

//! Hostile upstreams through `runtime run --once` against the mock API's
//! on-the-wire faults (fixture `hostile-up-api`: 4 attempts, 8 s retry
//! budget, 1 s request timeout, 64 KiB bodies). Each fault either is
//! retried within those bounds and the cycle emits exactly the pending
//! changes, or fails the run with an error naming the collection while the
//! stored cursor, watermark, snapshot and state stay as they were; the next
//! good cycle then emits exactly the changes, none lost, none repeated.

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mock_api::{Fault, MockApi, MockOptions};
use serde_json::{json, Value};
use support::*;

fn status(code: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status {
        code,
        retry_after: retry_after.map(str::to_string),
        body: None,
    }
}

/// A fault that still answers normally: used to let the first `n` matching
/// requests through so the next rule hits a later page.
fn pass() -> Fault {
    Fault::SlowHeaders(Duration::from_millis(1))
}

/// The stored subscription of `collection`, without the bookkeeping a failed
/// cycle may update (its error text, cycle count and time).
fn stored(work: &Work, collection: &str) -> Value {
    let (code, stdout, stderr) = work.state("show");
    assert_eq!(code, Some(0), "state show failed:\n{stderr}");
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    let mut sub = shown["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"]["collection"] == collection)
        .unwrap_or_else(|| panic!("no {collection} subscription in {stdout}"))["state"]
        .clone();
    for k in ["last_error", "cycles", "last_cycle_at"] {
        sub.as_object_mut().unwrap().remove(k);
    }
    assert_eq!(sub["baseline_done"], true, "{sub}");
    sub
}

fn last_error(work: &Work, collection: &str) -> String {
    let (_, stdout, _) = work.state("show");
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    shown["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"]["collection"] == collection)
        .and_then(|s| s["state"]["last_error"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// (type, recordId) of every event, sorted, after checking the line contract.
fn changes(events: &[Value], collection: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            assert_contract(e);
            assert_eq!(e["collection"], collection, "{e}");
            (
                e["type"].as_str().unwrap().to_string(),
                e["recordId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A baselined `collection` (`n` seeded records) with one create, one update
/// and one delete pending: the changes every later cycle must deliver.
fn pending(mock: &MockApi, collection: &str, n: usize) -> (Work, Vec<(String, String)>) {
    mock.seed(collection, n);
    let mut work = Work::new(
        fixture_dir("hostile-up-api"),
        &mock.base_url(),
        &[collection],
        None,
    );
    assert!(work.once_ok().is_empty(), "the baseline emits nothing");
    let ids: Vec<String> = mock.records(collection).iter().map(id_of).collect();
    mock.update(collection, &ids[1], json!({"name": "Changed"}))
        .unwrap();
    assert!(mock.delete(collection, &ids[n - 1]));
    let created = id_of(&mock.create(collection, json!({"name": "New"})));
    let want = pairs(&[
        ("created", &created),
        ("updated", &ids[1]),
        ("deleted", &ids[n - 1]),
    ]);
    (work, want)
}

/// A run that must fail naming `collection` and `expect`, emit nothing and
/// leave the stored subscription exactly as before. Returns its duration.
fn fails_unchanged(work: &mut Work, collection: &str, expect: &str) -> Duration {
    let before = stored(work, collection);
    let start = Instant::now();
    let (code, events, stderr) = work.once();
    let took = start.elapsed();
    assert!(
        matches!(code, Some(c) if c != 0),
        "exit {code:?} (None is a signal):\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("collection `{collection}`")),
        "the error names the collection:\n{stderr}"
    );
    let err = last_error(work, collection);
    assert!(err.contains(expect), "expected {expect:?} in {err:?}");
    assert!(events.is_empty(), "a failed cycle emitted {events:?}");
    assert_eq!(
        stored(work, collection),
        before,
        "state changed by a failure"
    );
    took
}

/// The good cycle after faults: exactly `want`, then a quiet cycle.
fn delivers(work: &mut Work, collection: &str, want: &[(String, String)]) {
    let events = work.once_ok();
    unique_ids(&events);
    assert_eq!(changes(&events, collection), want);
    assert!(work.once_ok().is_empty(), "a quiet cycle emits nothing");
}

/// RFC 7231 IMF-fixdate of `t` (UTC), for `Retry-After`.
fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{wd}, {day:02} {mon} {year} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[test]
fn http_date_formats_like_rfc_7231() {
    let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
}

#[test]
fn throttling_waits_for_retry_after_seconds_and_dates() {
    let mock = MockApi::start();
    let (mut work, want) = pending(&mock, "contacts", 5);
    mock.clear_requests();
    mock.inject("/contacts", 1, status(429, Some("1")));
    let date = http_date(SystemTime::now() + Duration::from_secs(3));
    mock.inject("/contacts", 1, status(503, Some(&date)));
    let start = Instant::now();
    let events = work.once_ok();
    let took = start.elapsed();
    assert_eq!(changes(&events, "contacts"), want);
    // 1 s, then until the date (1-3 s away after the second's truncation).
    assert!(
        took >= Duration::from_millis(2000),
        "Retry-After ignored: {took:?}"
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert_eq!(mock.request_count("/contacts"), 3, "{:?}", mock.requests());

    // Asked to wait longer than the retry budget: fail now, not in a minute.
    mock.create("contacts", json!({"name": "Later"}));
    mock.inject("/contacts", 1, status(429, Some("60")));
    let took = fails_unchanged(&mut work, "contacts", "Retry-After 60 s");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let events = work.once_ok();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "created");
}

#[test]
fn server_error_bursts_and_resets_are_retried_within_bounds() {
    let mock = MockApi::start();
    let (mut work, want) = pending(&mock, "contacts", 5);
    mock.clear_requests();
    mock.inject("/contacts", 1, status(500, None));
    mock.inject("/contacts", 1, Fault::Reset);
    mock.inject("/contacts", 1, status(502, None));
    assert_eq!(changes(&work.once_ok(), "contacts"), want);
    assert_eq!(
        mock.request_count("/contacts"),
        4,
        "3 faults, then the page"
    );

    // A burst longer than the 4 attempts: a clear failure, nothing moved.
    let more = id_of(&mock.create("contacts", json!({"name": "More"})));
    mock.clear_requests();
    mock.inject("/contacts", 2, status(503, None));
    mock.inject("/contacts", 2, Fault::Reset);
    fails_unchanged(&mut work, "contacts", "after 4 attempts");
    assert_eq!(mock.request_count("/contacts"), 4, "exactly maxAttempts");
    delivers(&mut work, "contacts", &pairs(&[("created", &more)]));
}

#[test]
fn slow_headers_and_stalled_bodies_are_cut_by_the_request_timeout() {
    let mock = MockApi::start();
    let (mut work, want) = pending(&mock, "contacts", 5);
    let stall = Fault::StallBody {
        after_bytes: 20,
        stall: Duration::from_secs(30),
    };
    mock.inject("/contacts", 2, Fault::SlowHeaders(Duration::from_secs(30)));
    mock.inject("/contacts", 2, stall.clone());
    let took = fails_unchanged(&mut work, "contacts", "contacts/latest");
    assert!(took < Duration::from_secs(15), "not bounded: {took:?}");
    assert!(
        took >= Duration::from_secs(2),
        "timed out too early: {took:?}"
    );

    // Slow but within the timeout, once each: retried, then delivered.
    mock.inject(
        "/contacts",
        1,
        Fault::SlowHeaders(Duration::from_millis(300)),
    );
    mock.inject("/contacts", 1, stall);
    delivers(&mut work, "contacts", &want);
}

#[test]
fn truncated_bodies_are_retried_and_non_json_fails_cleanly() {
    let mock = MockApi::start();
    let (mut work, want) = pending(&mock, "contacts", 5);
    mock.inject("/contacts", 1, Fault::NonJson);
    fails_unchanged(&mut work, "contacts", "does not parse");
    mock.inject("/contacts", 4, Fault::Truncate);
    fails_unchanged(&mut work, "contacts", "after 4 attempts");
    mock.inject("/contacts", 2, Fault::Truncate);
    delivers(&mut work, "contacts", &want);
}

#[test]
fn oversize_bodies_are_capped() {
    let mock = MockApi::start();
    let (mut work, want) = pending(&mock, "contacts", 5);
    mock.clear_requests();
    mock.inject("/contacts", 1, Fault::Oversize(200 << 20));
    let took = fails_unchanged(&mut work, "contacts", "65536");
    assert!(took < Duration::from_secs(5), "read it all? {took:?}");
    assert_eq!(mock.request_count("/contacts"), 1, "a cap is not retried");
    delivers(&mut work, "contacts", &want);
}

#[test]
fn a_redirect_to_another_origin_is_refused() {
    let mock = MockApi::start();
    let elsewhere = MockApi::start();
    elsewhere.seed("contacts", 3);
    let (mut work, want) = pending(&mock, "contacts", 5);
    let target = format!("{}/contacts/latest", elsewhere.base_url());
    mock.inject("/contacts", 1, Fault::RedirectTo(target));
    fails_unchanged(&mut work, "contacts", "redirected from");
    assert!(
        elsewhere.requests().is_empty(),
        "followed to the other origin: {:?}",
        elsewhere.requests()
    );
    delivers(&mut work, "contacts", &want);
}

#[test]
fn a_401_that_stays_401_after_refresh_fails_without_looping() {
    let mock = MockApi::start_with(MockOptions {
        require_auth: true,
        ..MockOptions::default()
    });
    let (mut work, want) = pending(&mock, "contacts", 5);
    mock.clear_requests();
    mock.inject("/contacts", 1000, status(401, None));
    fails_unchanged(&mut work, "contacts", "401");
    assert_eq!(
        mock.request_count("/contacts"),
        2,
        "request, then one retry"
    );
    assert_eq!(mock.request_count("/auth/refresh"), 1, "one refresh");

    mock.clear_faults();
    delivers(&mut work, "contacts", &want);
}

#[test]
fn a_full_scan_cut_at_any_page_emits_no_false_deletes() {
    let mock = MockApi::start();
    let (mut work, want) = pending(&mock, "companies", 25);
    let snapshot = stored(&work, "companies")["snapshot_gen"].clone();
    assert!(snapshot.is_u64(), "a snapshot generation: {snapshot}");
    // 26 live records: pages of 10, 10 and 6; each cut leaves records unseen.
    let cuts: [(usize, Fault, &str); 3] = [
        (0, Fault::NonJson, "does not parse"),
        (1, status(500, None), "after 4 attempts"),
        (2, Fault::Oversize(1 << 20), "65536"),
    ];
    for (page, fault, expect) in cuts {
        if page > 0 {
            mock.inject("/companies", page, pass());
        }
        mock.inject("/companies", 4, fault);
        fails_unchanged(&mut work, "companies", expect);
        mock.clear_faults();
    }
    assert_eq!(stored(&work, "companies")["snapshot_gen"], snapshot);
    delivers(&mut work, "companies", &want);
}

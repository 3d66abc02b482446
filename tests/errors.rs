//! JavaScript errors come back as one clear message with the connector
//! file, line and column where they were thrown.

mod support;

use serde_json::json;
use support::{fixtures_dir, invoke, line_of, Run};

fn run(f: &str) -> Run {
    invoke(
        &fixtures_dir().join("errors"),
        &format!("data/probe/{f}"),
        &json!({}),
    )
}

fn line(rel: &str, needle: &str) -> usize {
    line_of(&fixtures_dir().join("errors").join(rel), needle)
}

#[test]
fn a_thrown_type_error_names_class_message_and_place() {
    let r = run("throw");
    let err = r.failure();
    let n = line("data/probe/throw.js", "throw new TypeError");
    assert!(err.contains("TypeError: x"), "{r}");
    let at = format!("data/probe/throw.js:{n}:");
    let col: u32 = err
        .split(&at)
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no {at}<column> in {r}"));
    assert!((3..=25).contains(&col), "column {col}: {r}");
    // Relative to the connector, not the absolute path of the machine.
    assert!(!err.contains("file://"), "{r}");
}

#[test]
fn an_error_after_awaits_keeps_its_location() {
    let r = run("throw-after-await");
    let err = r.failure();
    let n = line("data/probe/throw-after-await.js", "late failure");
    assert!(err.contains("RangeError: late failure"), "{r}");
    assert!(
        err.contains(&format!("data/probe/throw-after-await.js:{n}:")),
        "{r}"
    );
}

#[test]
fn an_error_in_an_imported_helper_names_the_helper_and_the_caller() {
    let r = run("throw-in-helper");
    let err = r.failure();
    let n = line("data/probe/lib/helper.js", "record has no id");
    let caller = line("data/probe/throw-in-helper.js", "return parseRecord");
    assert!(err.contains("Error: record has no id"), "{r}");
    let helper_at = err
        .find(&format!("data/probe/lib/helper.js:{n}:"))
        .unwrap_or_else(|| panic!("no helper location in {r}"));
    let caller_at = err
        .find(&format!("data/probe/throw-in-helper.js:{caller}:"))
        .unwrap_or_else(|| panic!("no caller frame in {r}"));
    assert!(helper_at < caller_at, "innermost frame first: {r}");
}

#[test]
fn a_thrown_non_error_value_is_still_reported() {
    let r = run("throw-string");
    assert!(r.failure().contains("just a string"), "{r}");
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let r = run("syntax");
    let err = r.failure();
    let n = line("data/probe/syntax.js", "const broken = ;");
    assert!(err.contains("SyntaxError"), "{r}");
    assert!(err.contains(&format!("data/probe/syntax.js:{n}:")), "{r}");
}

#[test]
fn a_syntax_error_in_an_imported_file_names_that_file() {
    let r = run("syntax-in-helper");
    let err = r.failure();
    assert!(err.contains("SyntaxError"), "{r}");
    assert!(err.contains("data/probe/lib/broken.js:"), "{r}");
}

#[test]
fn a_promise_that_never_settles_is_reported_not_waited_on() {
    let r = run("never-settles");
    assert!(r.failure().contains("never settled"), "{r}");
    assert!(r.elapsed < std::time::Duration::from_secs(5), "{r}");
}

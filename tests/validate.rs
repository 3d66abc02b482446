//! `runtime validate`: every problem of a connector at once, each located;
//! a good connector passes with "ok".

mod support;

use support::{fixtures_dir, runtime};

#[test]
fn every_problem_is_printed_and_the_exit_code_is_non_zero() {
    let dir = fixtures_dir().join("validate-bad");
    let r = runtime(&["validate", dir.to_str().unwrap()], &[]);
    assert!(matches!(r.code, Some(c) if c != 0), "{r}");
    let out = format!("{}\n{}", r.stdout, r.stderr);

    // Bad YAML, with the line of the parser's complaint.
    let yaml = out
        .lines()
        .find(|l| l.contains("data/deals/spec.yml:"))
        .unwrap_or_else(|| panic!("no YAML problem: {r}"));
    assert!(
        yaml.contains("spec.yml:4:") || yaml.contains("spec.yml:5:"),
        "{yaml}"
    );
    assert!(yaml.to_lowercase().contains("yaml"), "{yaml}");

    // The explicit strategy's missing function.
    assert!(
        out.lines()
            .any(|l| l.contains("custom-pull") && l.contains("data/contacts/events/pull.js")),
        "no missing-function problem: {r}"
    );

    // The module that does not parse, at its line.
    assert!(
        out.lines()
            .any(|l| l.contains("data/contacts/list.js:3:") && l.contains("SyntaxError")),
        "no syntax problem: {r}"
    );

    // The file without the expected export.
    assert!(
        out.lines()
            .any(|l| l.contains("data/contacts/find-by-id.js") && l.contains("findById")),
        "no missing-export problem: {r}"
    );

    assert!(out.contains("4 problems"), "{r}");
    assert!(!out.contains("ok:"), "{r}");
}

#[test]
fn a_good_connector_passes() {
    let dir = fixtures_dir().join("validate-good");
    let r = runtime(&["validate", dir.to_str().unwrap()], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.trim_start().starts_with("ok"), "{r}");
    assert!(r.stdout.contains("validate-good"), "{r}");
}

#[test]
fn a_missing_directory_is_a_clear_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-connector");
    let r = runtime(&["validate", missing.to_str().unwrap()], &[]);
    assert!(matches!(r.code, Some(c) if c != 0), "{r}");
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(out.contains("no-such-connector"), "{r}");
}

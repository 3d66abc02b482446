//! `bench-invoke` against the real engine and bench/connectors/invoke.

use std::path::PathBuf;
use std::process::Command;

fn connector() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/connectors/invoke")
}

fn bench_invoke(expect: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bench-invoke"))
        .arg(connector())
        .args(["data/items/constant", "--calls", "5", "--expect", expect])
        .output()
        .unwrap()
}

#[test]
fn reports_cold_and_warm_figures_for_the_calls_made() {
    let out = bench_invoke(r#"{"ok":true}"#);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["calls"], 5);
    assert!(report["coldMs"].as_f64().unwrap() > 0.0, "{report}");
    let median = report["warmMedianUs"].as_f64().unwrap();
    assert!(median > 0.0 && median <= report["warmP99Us"].as_f64().unwrap());
}

#[test]
fn a_result_other_than_the_expected_one_fails_naming_both() {
    let out = bench_invoke(r#"{"ok":false}"#);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"returned {"ok":true}, expected {"ok":false}"#),
        "{err}"
    );
}

//! Runs without the libtest harness, which itself prints to stdout: the
//! test re-runs this binary as a child whose stdout holds only the sink's
//! output, and checks every byte of it.

mod common;

use std::process::Command;

use runtime_events::Event;
use runtime_sinks::{build, SinkConfig};

const CHILD: &str = "RUNTIME_SINKS_STDOUT_CHILD";

fn main() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe).env(CHILD, "1").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let parsed: Vec<Event> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed, common::events(4), "stdout was: {text}");
    assert!(text.ends_with('\n'));
    println!("stdout sink: ok");
}

fn child() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut sink = build(&"stdout".parse::<SinkConfig>().unwrap()).unwrap();
        assert_eq!(sink.describe(), "stdout");
        let all = common::events(4);
        sink.deliver(&common::lines(&all[..1])).await.unwrap();
        sink.deliver(&[]).await.unwrap();
        sink.deliver(&common::lines(&all[1..])).await.unwrap();
    });
}

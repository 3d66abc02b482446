//! Pull cycles run back to back (`--interval 0.001`), where the next pull
//! starts while the previous cycle's commit is still being written: every
//! pull must get the state the previous pull returned, and a stop must
//! land and deliver the commit still in flight.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

#[test]
fn back_to_back_pulls_chain_their_states_and_a_stop_loses_nothing() {
    let mut work = Work::new(
        fixture_dir("run-pull-chain"),
        "http://127.0.0.1:9",
        &[],
        None,
    );
    let sink = work.sink_path();
    let mut args = work.run_args(&format!("file:{}", sink.display()));
    args.extend(["--interval".into(), "0.001".into()]);
    let mut child = spawn(&args);
    let enough = wait_for(Duration::from_secs(60), || {
        (read_events(&sink).len() >= 5000).then_some(())
    });
    signal(&child, libc::SIGTERM);
    let code = wait_timeout(&mut child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr).into_owned();
    assert!(
        enough.is_some(),
        "fewer than 5000 events in 60 s:\n{stderr}"
    );
    assert_eq!(code, Some(0), "{stderr}");

    let events = read_events(&sink);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["record"]["n"], i as u64, "event {i}: {e}");
        // Each pull of 25 was given the state the one before it returned.
        assert_eq!(e["record"]["from"], (i / 25 * 25) as u64, "event {i}: {e}");
    }
    // Everything committed was delivered: the stored state is just past
    // the last event in the file.
    let (code, stdout, stderr) = work.state("show");
    assert_eq!(code, Some(0), "{stderr}");
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    let state = &shown["subscriptions"][0]["state"];
    assert_eq!(
        state["data"]["state"]["next"],
        events.len() as u64,
        "{stdout}"
    );
}

//! A crash point that FAILPOINTS does not name is a no-op, with or without
//! the `failpoints` feature, in a function of any return type.

fn seven() -> u32 {
    runtime_crash::crash_point!("runtime-crash-test-unset");
    7
}

fn unit() {
    runtime_crash::crash_point!("runtime-crash-test-unset");
}

#[test]
fn an_unnamed_crash_point_does_nothing() {
    assert_eq!(seven(), 7);
    unit();
}

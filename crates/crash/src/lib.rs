//! Crash points for tests/run_failpoints.rs, the one [`crash_point!`] macro.
//!
//! `crash_point!("name")` marks a persistence boundary. With this crate's
//! `failpoints` feature and `FAILPOINTS=<name>=return` in the environment
//! (read by `fail::FailScenario::setup`, which the binary calls), the process
//! aborts there, as abruptly as a SIGKILL: no destructors, no flush. Without
//! the feature the macro expands to nothing and the `fail` crate is not a
//! dependency, so normal builds contain no crash points.
//!
//! A crate that places crash points depends on this one and forwards the
//! feature: `failpoints = ["runtime-crash/failpoints"]`. Which macro a crate
//! gets is decided here, by this crate's feature, not by the caller's.

#[cfg(feature = "failpoints")]
#[doc(hidden)]
pub use fail as __fail;

/// Aborts the process here when the `failpoints` feature is on and
/// `FAILPOINTS` names this point with `return`; otherwise nothing.
#[cfg(feature = "failpoints")]
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        $crate::__fail::fail_point!($name, |_| ::std::process::abort());
    };
}

/// Aborts the process here when the `failpoints` feature is on and
/// `FAILPOINTS` names this point with `return`; otherwise nothing.
#[cfg(not(feature = "failpoints"))]
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {};
}

//! Engine worker processes: an `Engine` whose calls run in child processes
//! of the same binary, supervised by the service.
//!
//! A call the in-process limits cannot stop in time (the exit-70 case of
//! docs/engine.md), a crash or an out-of-memory then ends one worker, which
//! is replaced; the service and every other worker keep going. HTTP stays
//! in the service: a worker forwards each apiClient request over its
//! channel and has no network of its own.
//!
//! - `protocol`: the channel (frames on the worker's stdin and stdout);
//! - `supervisor`: the service's side (spawning, dispatching, hard
//!   deadlines, replacing);
//! - `worker_io`: the service's end of one worker's channel (answers to
//!   callers, requests made here);
//! - `child`: the worker's side ([`worker_main`]);
//! - `harden`: what a worker gives up before running connector code.
//!
//! This module holds the options and counters; it must not hold policy of
//! its own beyond their defaults.

pub(crate) mod child;
pub mod harden;
mod landlock;
pub(crate) mod protocol;
pub(crate) mod supervisor;
mod worker_io;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runtime_retry::{Backoff, Jitter};

pub(crate) use child::report_stuck;
pub use child::worker_main;
pub use harden::Hardening;

/// How an engine's worker processes are started and supervised
/// (`Engine::start_in_workers`).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The binary to run: the service's own (`std::env::current_exe()`).
    pub program: PathBuf,
    /// Its arguments, which make it call [`worker_main`]: for the
    /// `runtime` binary, `["__engine-worker"]`.
    pub args: Vec<String>,
    /// Worker processes of this engine (default 1). Each runs up to
    /// `Limits::runtimes` calls at once; a worker killed for one call
    /// fails the others it was running.
    pub processes: usize,
    /// How long past its wall-clock limit a call may run before its
    /// worker is killed (default 2 s).
    pub hard_deadline_grace: Duration,
    /// `RLIMIT_DATA` of each worker (see [`Hardening::memory_limit_bytes`]);
    /// default none.
    pub memory_limit_bytes: Option<u64>,
    /// A worker whose resident memory passes this is recycled: it takes
    /// no new call, finishes those it runs, exits and is replaced at once
    /// (no back-off, nothing lost). Memory the engine cannot give back
    /// (freed runtimes' heaps left in the allocator's arenas) is returned
    /// to the system that way. Checked each second; default 768 MiB,
    /// `None` never.
    pub recycle_rss_bytes: Option<u64>,
    /// Install the seccomp filter (default true; Linux x86_64 and aarch64).
    pub seccomp: bool,
    /// Restrict the filesystem with Landlock to reading the connector's
    /// directory (default true; skipped where the kernel has none).
    pub landlock: bool,
    /// Delay before a lost worker is replaced, after the n-th loss in a
    /// row without a call served in between (default 100 ms doubling to
    /// 30 s, equal jitter).
    pub restart_backoff: Backoff,
    /// Environment variables for the workers. Workers get only these and
    /// `RUNTIME_LOG`, `RUST_LOG`, `RUST_BACKTRACE`, `TZ`, `LANG`, `LC_ALL`
    /// of the service's environment, never its secrets.
    pub env: Vec<(String, String)>,
    /// Counters to add this engine's workers to; share one between engines
    /// for service-wide metrics.
    pub stats: Arc<WorkerStats>,
}

impl WorkerOptions {
    /// Workers running `program args...`, with the defaults above.
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>) -> WorkerOptions {
        WorkerOptions {
            program: program.into(),
            args,
            processes: 1,
            hard_deadline_grace: Duration::from_secs(2),
            memory_limit_bytes: None,
            recycle_rss_bytes: Some(RECYCLE_RSS_BYTES),
            seccomp: true,
            landlock: true,
            restart_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(30))
                .with_jitter(Jitter::Equal),
            env: Vec::new(),
            stats: Arc::default(),
        }
    }

    pub(crate) fn hardening(&self, runtimes: usize) -> Hardening {
        Hardening {
            memory_limit_bytes: self.memory_limit_bytes,
            // Each runtime thread's tokio runtime holds a few descriptors
            // (epoll, eventfd); connector files are open only while read.
            max_open_files: 64 + 8 * runtimes as u64,
            seccomp: self.seccomp,
            landlock: self.landlock,
        }
    }
}

/// The default of [`WorkerOptions::recycle_rss_bytes`]: 768 MiB, three
/// times what a worker holds at steady state with its runtimes full of
/// tenants (bench/serve.sh), below the 2 GB a 10,000-connection service
/// may take in all.
pub const RECYCLE_RSS_BYTES: u64 = 768 << 20;

/// Counters of engine worker processes, for metrics.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub(crate) running: AtomicUsize,
    pub(crate) restarted: AtomicU64,
    pub(crate) killed: AtomicU64,
    pub(crate) calls_lost: AtomicU64,
    pub(crate) recycled: AtomicU64,
}

impl WorkerStats {
    /// Workers up now (started and ready for calls).
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Workers started again after one was lost (for any reason).
    pub fn restarted(&self) -> u64 {
        self.restarted.load(Ordering::Relaxed)
    }

    /// Workers killed because a call ran past its hard deadline.
    pub fn killed_at_deadline(&self) -> u64 {
        self.killed.load(Ordering::Relaxed)
    }

    /// Workers replaced because their memory passed
    /// [`WorkerOptions::recycle_rss_bytes`] (not counted as restarted).
    pub fn recycled(&self) -> u64 {
        self.recycled.load(Ordering::Relaxed)
    }

    /// Calls failed with `CallError::WorkerLost`.
    pub fn calls_lost(&self) -> u64 {
        self.calls_lost.load(Ordering::Relaxed)
    }
}

//! Per-call limits and the watchdog that enforces them.
//!
//! CPU time counts only while JavaScript (or op dispatch) runs on the
//! engine thread: the worker brackets every poll of the event loop with
//! [`Watchdog::enter`] / [`Watchdog::exit`], so time spent awaiting HTTP is
//! free. The wall-clock limit bounds the whole call and is enforced by the
//! worker with a timer; the watchdog only terminates running JavaScript.
//! [`squeeze`] stops calls that catch their own out-of-memory errors.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use deno_core::v8;

#[cfg(feature = "quickjs")]
pub(crate) mod squeeze;

/// Limits of one call. Defaults suit connector code that mostly waits on
/// HTTP: generous wall time, a firm CPU budget, a heap that fits many
/// connectors on one machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// JavaScript execution time per call (default 10 s).
    pub cpu: Duration,
    /// Whole-call time including awaited HTTP (default 300 s).
    pub wall: Duration,
    /// JavaScript heap size (default 256 MiB), per runtime.
    pub heap_bytes: usize,
    /// Calls of the connector that may run at once, each in its own
    /// runtime and thread (default 4). Runtimes start only when needed.
    pub runtimes: usize,
    /// Tenants (`Call::tenant`) whose module instances one runtime keeps
    /// (default [`TENANTS_PER_RUNTIME`]): a call of one more tenant first
    /// replaces the runtime with a fresh one, since a deno_core runtime
    /// cannot unload a module. Bounds a runtime's heap to about this many
    /// tenants' module sets; a runtime whose heap is half `heap_bytes` is
    /// replaced before a new tenant too, whatever the count. At least 1.
    pub tenants_per_runtime: usize,
}

/// The default of [`Limits::tenants_per_runtime`]. Measured with a 5-file
/// connector (docs/benchmarks.md, "Tenants in one runtime"): new tenants
/// cost 3.2 ms per call bounded at 16 (a runtime's replacement, 20 ms,
/// shared by too few), 2.38 ms at 64, 2.43 ms at 128, 2.70 ms at 256
/// (loading into a fuller heap costs more); at 64 a runtime holds about
/// 7.4 MB of tenants' modules (118 KB each) beyond its own 3.7 MB.
pub const TENANTS_PER_RUNTIME: usize = 64;

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu: Duration::from_secs(10),
            wall: Duration::from_secs(300),
            heap_bytes: 256 << 20,
            runtimes: 4,
            tenants_per_runtime: TENANTS_PER_RUNTIME,
        }
    }
}

/// Which limit stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LimitKind {
    Cpu(Duration),
    Wall(Duration),
    Heap(usize),
}

impl LimitKind {
    /// `cpu`, `wall` or `heap`: the limit's name in metrics.
    pub fn name(&self) -> &'static str {
        match self {
            LimitKind::Cpu(_) => "cpu",
            LimitKind::Wall(_) => "wall",
            LimitKind::Heap(_) => "heap",
        }
    }
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitKind::Cpu(d) => write!(f, "CPU time limit of {} ms", d.as_millis()),
            LimitKind::Wall(d) => write!(f, "wall-clock limit of {} s", d.as_secs_f64()),
            LimitKind::Heap(b) => write!(f, "heap limit of {} MiB", b >> 20),
        }
    }
}

/// How often a tripped call is told again to stop.
const REASSERT: Duration = Duration::from_millis(50);

/// How often the watchdog looks at an active call that is not running
/// JavaScript (awaiting HTTP or a timer). Entering JavaScript does not wake
/// it: two thread wake-ups per poll cost more than a short call itself, so
/// the CPU limit may be overshot by up to this much.
const TICK: Duration = Duration::from_millis(20);

/// How long after a call the watchdog stays in timed sleeps (see
/// `State::last_end`) before it sleeps until the next call wakes it.
const LINGER: Duration = Duration::from_secs(1);

/// How long a tripped call may keep the engine thread after the stop.
/// QuickJS drains the whole microtask queue in one native loop; a promise
/// flood that survives termination there can never be interrupted, and the
/// only bounded way out is to end the process (cleanly, with an error).
const STUCK_GRACE: Duration = Duration::from_secs(5);

/// Exit status when the engine could not be stopped (EX_SOFTWARE).
const EXIT_STUCK: i32 = 70;

#[derive(Default)]
struct State {
    /// Set while a call is active.
    budget: Option<Duration>,
    /// The call's wall-clock deadline: also enforced here, because a
    /// synchronous loop blocks the engine thread and its timers.
    deadline: Option<(Instant, Duration)>,
    used: Duration,
    running_since: Option<Instant>,
    tripped: Option<LimitKind>,
    tripped_at: Option<Instant>,
    /// The function of the running call, for the last-resort message.
    function: String,
    handle: Option<v8::IsolateHandle>,
    shutdown: bool,
    /// The watchdog sleeps with no deadline: the next call must wake it.
    idle: bool,
    /// When the last call ended, and the shortest limit it had: after a
    /// call the watchdog keeps a timed sleep no longer than that limit for
    /// [`LINGER`], so calls made one after another need not wake it.
    last_end: Option<Instant>,
    shortest: Duration,
    /// The engine thread's CPU clock, where the platform has one; without
    /// it, CPU time is the wall time spent inside event-loop polls.
    cpu_clock: Option<ThreadClock>,
    /// Its reading when the call began.
    cpu_at_begin: Option<Duration>,
}

/// The CPU clock of one thread: only the time that thread really ran, so a
/// busy machine (other processes, other engine threads) does not eat into
/// a call's CPU budget.
#[derive(Clone, Copy)]
struct ThreadClock(#[cfg(target_os = "linux")] libc::clockid_t);

impl ThreadClock {
    #[cfg(target_os = "linux")]
    fn of_current_thread() -> Option<ThreadClock> {
        let mut id: libc::clockid_t = 0;
        // SAFETY: pthread_self is always valid for the calling thread and
        // `id` is a valid out-pointer.
        let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
        (rc == 0).then_some(ThreadClock(id))
    }

    #[cfg(not(target_os = "linux"))]
    fn of_current_thread() -> Option<ThreadClock> {
        None
    }

    #[cfg(target_os = "linux")]
    fn now(self) -> Option<Duration> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-pointer; a clock of a thread that has
        // ended makes this fail, not misbehave.
        let rc = unsafe { libc::clock_gettime(self.0, &mut ts) };
        (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    #[cfg(not(target_os = "linux"))]
    fn now(self) -> Option<Duration> {
        None
    }
}

/// Shared between the engine thread and its watchdog thread.
#[derive(Clone)]
pub(crate) struct Watchdog {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl Watchdog {
    pub(crate) fn spawn(name: &str) -> std::io::Result<Watchdog> {
        let dog = Watchdog {
            inner: Arc::new((Mutex::new(State::default()), Condvar::new())),
        };
        let runner = dog.clone();
        std::thread::Builder::new()
            .name(format!("watchdog-{name}"))
            .spawn({
                let name = name.to_string();
                move || runner.run(&name)
            })?;
        Ok(dog)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update; the
        // state is plain data and still usable.
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_isolate(&self, handle: v8::IsolateHandle) {
        self.lock().handle = Some(handle);
    }

    /// Makes the calling thread (the engine thread) the one whose CPU clock
    /// counts against the CPU limit.
    pub(crate) fn watch_current_thread(&self) {
        self.lock().cpu_clock = ThreadClock::of_current_thread();
    }

    pub(crate) fn begin_call(&self, cpu: Duration, wall: Duration, function: &str) {
        let mut s = self.lock();
        s.cpu_at_begin = s.cpu_clock.and_then(ThreadClock::now);
        s.function = function.to_string();
        s.tripped_at = None;
        s.budget = Some(cpu);
        s.deadline = Some((Instant::now() + wall, wall));
        s.used = Duration::ZERO;
        s.running_since = None;
        s.tripped = None;
        // A lingering watchdog wakes within `shortest` of its last look,
        // which is soon enough unless this call's limits are shorter.
        let wake = s.idle || cpu.min(wall) < s.shortest;
        s.shortest = cpu.min(wall);
        drop(s);
        if wake {
            self.inner.1.notify_one();
        }
    }

    /// Ends the call and returns the limit that tripped during it, if any.
    pub(crate) fn end_call(&self) -> Option<LimitKind> {
        let mut s = self.lock();
        s.budget = None;
        s.deadline = None;
        s.running_since = None;
        s.last_end = Some(Instant::now());
        s.tripped.take()
    }

    pub(crate) fn enter(&self) {
        self.lock().running_since = Some(Instant::now());
    }

    pub(crate) fn exit(&self) {
        let mut s = self.lock();
        if let Some(since) = s.running_since.take() {
            s.used += since.elapsed();
        }
    }

    /// Records a limit tripped outside the watchdog (heap, wall clock) and
    /// stops any JavaScript still running.
    pub(crate) fn trip(&self, kind: LimitKind) {
        let mut s = self.lock();
        if s.tripped.is_none() {
            s.tripped = Some(kind);
            s.tripped_at = Some(Instant::now());
        }
        if let Some(h) = &s.handle {
            h.terminate_execution();
        }
    }

    pub(crate) fn tripped(&self) -> Option<LimitKind> {
        self.lock().tripped
    }

    /// How long ago the running call was told to stop, if it was.
    #[cfg(feature = "quickjs")]
    pub(crate) fn stopped_for(&self) -> Option<Duration> {
        let s = self.lock();
        s.tripped.and(s.tripped_at).map(|t| t.elapsed())
    }

    pub(crate) fn shutdown(&self) {
        self.lock().shutdown = true;
        self.inner.1.notify_one();
    }

    fn run(self, name: &str) {
        let (lock, cvar) = &*self.inner;
        let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if s.shutdown {
                return;
            }
            let mut wait = None;
            if s.tripped.is_none() {
                if let Some(budget) = s.budget {
                    let clock = s.cpu_clock.and_then(ThreadClock::now);
                    let by_clock = clock
                        .zip(s.cpu_at_begin)
                        .map(|(now, at)| now.saturating_sub(at));
                    let used = by_clock.unwrap_or_else(|| {
                        s.used + s.running_since.map_or(Duration::ZERO, |t| t.elapsed())
                    });
                    if used >= budget {
                        s.tripped = Some(LimitKind::Cpu(budget));
                        s.tripped_at = Some(Instant::now());
                    } else if by_clock.is_some() {
                        // A thread's CPU time grows no faster than wall time.
                        wait = Some(budget - used);
                    } else if s.running_since.is_some() {
                        wait = Some(budget - used);
                    } else {
                        wait = Some(TICK.min(budget - used));
                    }
                }
            }
            if s.tripped.is_none() {
                if let Some((deadline, wall)) = s.deadline {
                    let now = Instant::now();
                    if now >= deadline {
                        s.tripped = Some(LimitKind::Wall(wall));
                        s.tripped_at = Some(Instant::now());
                    } else {
                        let left = deadline - now;
                        wait = Some(wait.map_or(left, |w: Duration| w.min(left)));
                    }
                }
            }
            if let (Some(kind), Some(_)) = (s.tripped, s.budget) {
                if let Some(h) = &s.handle {
                    h.terminate_execution();
                }
                if s.tripped_at.is_some_and(|t| t.elapsed() >= STUCK_GRACE) {
                    let message = format!(
                        "connector `{name}`: {}: stopped by the {kind}, but the JavaScript engine kept running for {} s more (a promise flood inside one microtask checkpoint cannot be interrupted); exiting",
                        s.function,
                        STUCK_GRACE.as_secs()
                    );
                    tracing::error!("{message}");
                    eprintln!("error: {message}");
                    // In an engine worker process: the service learns which
                    // call it was, and fails that one with this limit.
                    #[cfg(unix)]
                    crate::process::report_stuck(&s.function, kind);
                    std::process::exit(EXIT_STUCK);
                }
                // Stay tripped until the call ends, re-asserting the stop:
                // deno_core cancels a termination while it builds an error
                // object and does not always resume it, which let a promise
                // flood run on forever inside one microtask checkpoint.
                wait = Some(REASSERT);
            }
            if wait.is_none() && s.budget.is_none() {
                if let Some(left) = s.last_end.and_then(|t| LINGER.checked_sub(t.elapsed())) {
                    // (At least 1 ms: a zero limit must not make it spin.)
                    wait = Some(left.min(s.shortest).max(Duration::from_millis(1)));
                }
            }
            s.idle = wait.is_none();
            s = match wait {
                Some(d) => match cvar.wait_timeout(s, d) {
                    Ok((guard, _)) => guard,
                    Err(poisoned) => poisoned.into_inner().0,
                },
                None => cvar.wait(s).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

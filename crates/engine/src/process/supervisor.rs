//! The service's side of engine worker processes: a fixed number of slots
//! per engine, each keeping one worker process alive, sending it calls
//! from the engine's queue, and ending it when it must go (its channel's
//! two tasks, and the requests they answer, are `worker_io`'s).
//!
//! - A slot sends a worker at most `Limits::runtimes` calls at once (one
//!   per runtime it can start), so a call never waits inside a worker and
//!   its hard deadline (the wall limit plus `hard_deadline_grace`, from
//!   when it was sent) measures the call alone. Past it the worker is
//!   killed (SIGKILL): that call fails with `CallError::Limit` (wall clock,
//!   `worker_killed`), the others it was running with `WorkerLost`.
//! - A worker that exits, is killed from outside, runs out of memory or
//!   sends a malformed frame fails its calls with `WorkerLost` (retryable)
//!   and is replaced after a back-off (`runtime_retry::Backoff`) that grows
//!   while replacements fail before serving a call, so a worker that cannot
//!   start is not respawned in a tight loop. While no worker of the engine
//!   is up and the last start failed, queued calls fail at once instead of
//!   waiting.
//! - Requests from a worker are run in this process with its HTTP client,
//!   config, base URI and allowed hosts (`worker_io`,
//!   `http::answer_request`): nothing the worker says about them is
//!   trusted.
//!
//! This module must not run JavaScript, nor read anything from a worker
//! without going through `protocol` (a worker is untrusted).

use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::process::protocol::{self, Frame, Init, Sent, ToService, ToWorker};
use crate::process::worker_io::{self, Flight, InFlight, ServiceHttp};
use crate::process::{WorkerOptions, WorkerStats};
use crate::{Call, CallError, EngineConfig, FunctionFile, LimitKind, RawOutput};

/// A call or check waiting for a worker.
pub(crate) enum Job {
    Call(Box<Call>, oneshot::Sender<Result<RawOutput, CallError>>),
    Check(FunctionFile, oneshot::Sender<Result<(), CallError>>),
}

impl Job {
    pub(super) fn fail(self, e: CallError) {
        match self {
            Job::Call(_, reply) => {
                let _ = reply.send(Err(e));
            }
            Job::Check(_, reply) => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

/// Environment variables a worker keeps; everything else of the service's
/// environment (its admin token, its secret key) is not passed on.
const KEPT_ENV: &[&str] = &[
    "RUNTIME_LOG",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "TZ",
    "LANG",
    "LC_ALL",
];

/// How long a new worker may take to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a worker told to stop (its stdin closed) may take to exit
/// before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the reader of a worker that exited may take to reach the end
/// of what it wrote before it died.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// apiClient requests one worker may have in flight at once, per runtime.
const REQUESTS_PER_RUNTIME: usize = 64;

/// The engine's handle on its slots; dropping it stops the workers once
/// their calls are done.
pub(crate) struct Supervisor {
    queue: mpsc::UnboundedSender<Job>,
    shared: Arc<Shared>,
}

struct Shared {
    name: String,
    options: WorkerOptions,
    /// The Init frame's message, the same for every worker of the engine.
    init: Init,
    config: EngineConfig,
    /// Taken by the slot whose worker has room for a call; held while it
    /// waits for one (so never locked by anything that must not wait).
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Job>>,
    /// The engine handle is gone: no worker is started again.
    closed: AtomicBool,
    http: Arc<ServiceHttp>,
    /// Workers up (said Ready), in this engine.
    up: AtomicUsize,
    pids: Mutex<Vec<Option<u32>>>,
    stats: Arc<WorkerStats>,
}

impl Supervisor {
    pub(crate) fn start(
        config: EngineConfig,
        options: WorkerOptions,
    ) -> std::io::Result<Supervisor> {
        if !options.program.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "engine worker program {} not found",
                    options.program.display()
                ),
            ));
        }
        let host = tokio::runtime::Handle::try_current().map_err(|e| {
            std::io::Error::other(format!("engine workers need a tokio runtime: {e}"))
        })?;
        let runtimes = config.limits.runtimes.max(1);
        let init = Init {
            name: config.name.clone(),
            root: config.root.clone(),
            limits: config.limits,
            spec_base_uri: config.spec_base_uri.clone(),
            allowed_hosts: config.allowed_hosts.to_vec(),
            make_api_client: config.make_api_client.clone(),
            refresh_credentials: config.refresh_credentials.clone(),
            oauth_config: config.oauth_config.clone(),
            harden: options.hardening(runtimes),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let options_stats = options.stats.clone();
        let processes = options.processes.max(1);
        let http = Arc::new(ServiceHttp {
            name: config.name.clone(),
            client: config.client.clone(),
            config: config.http.clone(),
            spec_base_uri: config.spec_base_uri.clone(),
            allowed_hosts: config.allowed_hosts.clone(),
            max_requests: runtimes * REQUESTS_PER_RUNTIME,
        });
        let shared = Arc::new(Shared {
            http,
            name: config.name.clone(),
            options,
            init,
            config,
            queue: tokio::sync::Mutex::new(rx),
            closed: AtomicBool::new(false),
            up: AtomicUsize::new(0),
            pids: Mutex::new(vec![None; processes]),
            stats: options_stats,
        });
        for slot in 0..processes {
            host.spawn(run_slot(shared.clone(), slot));
        }
        Ok(Supervisor { queue: tx, shared })
    }

    pub(crate) fn submit(&self, job: Job) -> Result<(), Job> {
        self.queue.send(job).map_err(|e| e.0)
    }

    pub(crate) fn stats(&self) -> Arc<WorkerStats> {
        self.shared.stats.clone()
    }

    pub(crate) fn pids(&self) -> Vec<u32> {
        lock(&self.shared.pids).iter().flatten().copied().collect()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // The queue's sender goes with it: slots finish what was queued,
        // then stop their workers.
        self.shared.closed.store(true, Ordering::SeqCst);
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a worker's life ended.
enum Ended {
    /// The engine is gone and the worker was stopped.
    Closed,
    /// Its memory passed `recycle_rss_bytes`: it finished its calls and
    /// was stopped, to be replaced at once.
    Recycled,
    /// Lost; `served`: it answered at least one call first.
    Lost {
        served: bool,
        started: bool,
        why: String,
    },
}

async fn run_slot(shared: Arc<Shared>, slot: usize) {
    let mut failures = 0u32;
    loop {
        match run_worker(&shared, slot).await {
            Ended::Closed => return,
            Ended::Recycled => {
                failures = 0;
                shared.stats.recycled.fetch_add(1, Ordering::Relaxed);
            }
            Ended::Lost {
                served,
                started,
                why,
            } => {
                failures = if served {
                    1
                } else {
                    failures.saturating_add(1)
                };
                let delay = shared.options.restart_backoff.delay(failures);
                tracing::warn!(
                    connector = %shared.name,
                    "engine worker {}: {why}; replaced in {} ms",
                    slot + 1,
                    delay.as_millis()
                );
                if !started && shared.up.load(Ordering::SeqCst) == 0 {
                    fail_queued(
                        &shared,
                        &format!("no engine worker process could be started: {why}"),
                    );
                }
                tokio::time::sleep(delay).await;
                if shared.closed.load(Ordering::SeqCst) {
                    fail_queued(&shared, "the engine was stopped");
                    return;
                }
                shared.stats.restarted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Fails every call waiting in the queue, unless a worker is taking them.
fn fail_queued(shared: &Shared, why: &str) {
    let Ok(mut queue) = shared.queue.try_lock() else {
        return;
    };
    while let Ok(job) = queue.try_recv() {
        shared.stats.calls_lost.fetch_add(1, Ordering::Relaxed);
        job.fail(CallError::WorkerLost(why.to_string()));
    }
}

fn spawn(shared: &Shared) -> std::io::Result<Child> {
    let mut cmd = Command::new(&shared.options.program);
    cmd.args(&shared.options.args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for key in KEPT_ENV {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    // v8x keeps module bytecode in a cache directory: a worker must not
    // load bytecode that another process could have written there.
    cmd.env("V82JSC_NO_BC_CACHE", "1");
    for (key, value) in &shared.options.env {
        cmd.env(key, value);
    }
    cmd.spawn()
}

async fn run_worker(shared: &Arc<Shared>, slot: usize) -> Ended {
    let lost = |started, why: String| Ended::Lost {
        served: false,
        started,
        why,
    };
    let mut child = match spawn(shared) {
        Ok(child) => child,
        Err(e) => {
            return lost(
                false,
                format!("cannot start {}: {e}", shared.options.program.display()),
            )
        }
    };
    let pid = child.id();
    let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return lost(false, "its stdin or stdout was not piped".into());
    };
    let out = worker_io::spawn_writer(stdin);
    match Frame::new(
        &ToWorker::Init(Box::new(shared.init.clone())),
        String::new(),
    ) {
        Ok(frame) => {
            let _ = out.send(frame);
        }
        Err(e) => return lost(false, format!("cannot encode its Init: {e}")),
    }
    let ready = tokio::time::timeout(
        START_TIMEOUT,
        protocol::read_async::<ToService>(&mut stdout),
    )
    .await;
    match ready {
        Ok(Ok(Some((ToService::Ready, _)))) => {}
        Ok(Ok(Some(_))) => {
            return lost(false, "its first message was not Ready".into());
        }
        Ok(Err(e)) => return lost(false, format!("it sent a malformed message: {e}")),
        Ok(Ok(None)) => {
            let status = exit_status(&mut child).await;
            return lost(false, format!("it exited before it was ready: {status}"));
        }
        Err(_) => {
            return lost(
                false,
                format!("it was not ready within {} s", START_TIMEOUT.as_secs()),
            )
        }
    }
    lock(&shared.pids)[slot] = pid;
    shared.up.fetch_add(1, Ordering::SeqCst);
    shared.stats.running.fetch_add(1, Ordering::SeqCst);
    let flight = Arc::new(Flight::default());
    let (ended_tx, ended_rx) = oneshot::channel();
    let reader = tokio::spawn(worker_io::read_worker(
        shared.http.clone(),
        stdout,
        out.clone(),
        flight.clone(),
        ended_tx,
    ));
    let ended = serve(shared, &mut child, &out, &flight, ended_rx, slot).await;
    // Its requests in flight are abandoned with it.
    reader.abort();
    shared.stats.running.fetch_sub(1, Ordering::SeqCst);
    shared.up.fetch_sub(1, Ordering::SeqCst);
    lock(&shared.pids)[slot] = None;
    drop(out);
    match &ended {
        Ended::Closed | Ended::Recycled => {
            // stdin closed: the worker exits by itself.
            if tokio::time::timeout(STOP_TIMEOUT, child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
        Ended::Lost { .. } => {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
    ended
}

/// Serves a ready worker until it is lost or the engine is gone.
async fn serve(
    shared: &Arc<Shared>,
    child: &mut Child,
    out: &mpsc::UnboundedSender<Frame>,
    flight: &Flight,
    mut ended: oneshot::Receiver<String>,
    slot: usize,
) -> Ended {
    let capacity = shared.config.limits.runtimes.max(1);
    let hard = shared.config.limits.wall + shared.options.hard_deadline_grace;
    let mut next_id = 1u64;
    let mut closed = false;
    // Past its memory bound: no new call, then Recycled.
    let mut draining = false;
    let mut memory_check = tokio::time::interval(MEMORY_CHECK_EVERY);
    memory_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let lost = |why: String| {
        flight.fail_all(&shared.stats, &why);
        Ended::Lost {
            served: flight.served.load(Ordering::SeqCst),
            started: true,
            why,
        }
    };
    loop {
        let (running, deadline) = {
            let calls = lock(&flight.calls);
            (calls.len(), calls.values().map(|c| c.deadline).min())
        };
        if closed && running == 0 {
            return Ended::Closed;
        }
        if draining && running == 0 {
            return Ended::Recycled;
        }
        tokio::select! {
            why = &mut ended => {
                let why = match why {
                    Ok(why) => why,
                    Err(_) => "its reader stopped".to_string(),
                };
                let why = match why.as_str() {
                    "" => exit_status(child).await,
                    _ => why,
                };
                return lost(why);
            }
            _ = sleep_until(deadline), if deadline.is_some() => {
                let now = Instant::now();
                let pid = child.id().map_or(String::new(), |p| format!(" (pid {p})"));
                let _ = child.start_kill();
                shared.stats.killed.fetch_add(1, Ordering::Relaxed);
                let expired: Vec<InFlight> = {
                    let mut calls = lock(&flight.calls);
                    let ids: Vec<u64> = calls
                        .iter()
                        .filter(|(_, c)| c.deadline <= now)
                        .map(|(id, _)| *id)
                        .collect();
                    ids.iter().filter_map(|id| calls.remove(id)).collect()
                };
                let names: Vec<String> = expired.iter().map(|c| c.function.clone()).collect();
                for call in expired {
                    call.job.fail(CallError::Limit {
                        kind: LimitKind::Wall(shared.config.limits.wall),
                        function: call.function,
                        worker_killed: true,
                    });
                }
                let why = format!(
                    "{} did not stop {} s after its wall-clock limit of {} s; the worker{pid} was killed",
                    names.join(", "),
                    shared.options.hard_deadline_grace.as_secs_f64(),
                    shared.config.limits.wall.as_secs_f64(),
                );
                tracing::error!(connector = %shared.name, "{why}");
                flight.fail_all(
                    &shared.stats,
                    &format!("another call of its worker ran past its hard deadline: {why}"),
                );
                return Ended::Lost {
                    served: flight.served.load(Ordering::SeqCst),
                    started: true,
                    why,
                };
            }
            status = child.wait() => {
                let status = status.map_or_else(|e| e.to_string(), describe);
                // Its last frames may still be in the pipe (answers, or the
                // Stuck naming the call behind an exit 70): the reader
                // takes them before the calls left are failed.
                let _ = tokio::time::timeout(DRAIN_TIMEOUT, &mut ended).await;
                return lost(status);
            }
            _ = flight.freed.notified(), if running >= capacity || draining => {}
            _ = memory_check.tick(), if !draining && shared.options.recycle_rss_bytes.is_some() => {
                let (Some(limit), Some(rss)) = (shared.options.recycle_rss_bytes, child.id().and_then(resident_bytes)) else {
                    continue;
                };
                if rss > limit {
                    tracing::info!(
                        connector = %shared.name,
                        "engine worker {}: {} MiB resident, past its {} MiB: recycled once its {running} calls are done",
                        slot + 1,
                        rss >> 20,
                        limit >> 20,
                    );
                    draining = true;
                }
            }
            job = next_job(shared), if !closed && !draining && running < capacity => {
                let Some(job) = job else {
                    closed = true;
                    continue;
                };
                let id = next_id;
                next_id += 1;
                let (frame, function) = match &job {
                    Job::Call(call, _) => (
                        Frame::new(&Sent::Call { id, call }, String::new()),
                        call.function.rel.clone(),
                    ),
                    Job::Check(f, _) => (
                        Frame::new(&Sent::Check { id, function: f }, String::new()),
                        f.rel.clone(),
                    ),
                };
                match frame {
                    Ok(frame) => {
                        // In the map before the worker can answer it.
                        lock(&flight.calls).insert(
                            id,
                            InFlight { job, deadline: Instant::now() + hard, function },
                        );
                        let _ = out.send(frame);
                    }
                    Err(e) => job.fail(CallError::Internal(format!(
                        "the call cannot be sent to an engine worker: {e}"
                    ))),
                }
            }
        }
    }
}

/// How often a worker's resident memory is compared with
/// `recycle_rss_bytes` (a read of /proc/PID/statm).
const MEMORY_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The resident memory of process `pid`, from /proc/PID/statm.
fn resident_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn next_job(shared: &Shared) -> Option<Job> {
    shared.queue.lock().await.recv().await
}

async fn exit_status(child: &mut Child) -> String {
    match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
        Ok(Ok(status)) => describe(status),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "it closed its stdout but did not exit".into(),
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(70), _) => "it exited with status 70: a call its limits could not stop".into(),
        (Some(code), _) => format!("it exited with status {code}"),
        (None, Some(libc::SIGKILL)) => {
            "it was killed by SIGKILL, from outside or out of memory".into()
        }
        (None, Some(libc::SIGSYS)) => {
            "it was killed by SIGSYS, a system call its seccomp filter refuses".into()
        }
        (None, Some(sig)) => format!("it was killed by signal {sig}"),
        (None, None) => status.to_string(),
    }
}

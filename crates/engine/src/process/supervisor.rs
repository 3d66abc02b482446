//! The service's side of engine worker processes: a fixed number of slots
//! per engine, each keeping one worker process alive, sending it calls
//! from the engine's queue, answering its apiClient requests, and ending
//! it when it must go.
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
//! - Requests from a worker are run here with this process's HTTP client,
//!   config, base URI and allowed hosts (`http::answer_request`): nothing
//!   the worker says about them is trusted.
//!
//! This module must not run JavaScript, nor read anything from a worker
//! without going through `protocol` (a worker is untrusted).

use std::collections::HashMap;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::http;
use crate::process::protocol::{self, Frame, Init, ToService, ToWorker};
use crate::process::{WorkerOptions, WorkerStats};
use crate::{Call, CallError, EngineConfig, FunctionFile, LimitKind, RawOutput};

/// A call or check waiting for a worker.
pub(crate) enum Job {
    Call(Box<Call>, oneshot::Sender<Result<RawOutput, CallError>>),
    Check(FunctionFile, oneshot::Sender<Result<(), CallError>>),
}

impl Job {
    fn fail(self, e: CallError) {
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
        let shared = Arc::new(Shared {
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a worker's life ended.
enum Ended {
    /// The engine is gone and the worker was stopped.
    Closed,
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

/// A call sent to a worker and not answered yet.
struct InFlight {
    job: Job,
    deadline: Instant,
    function: String,
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
    let out = spawn_writer(stdin);
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
    let reader = tokio::spawn(read_worker(
        shared.clone(),
        stdout,
        out.clone(),
        flight.clone(),
        ended_tx,
    ));
    let ended = serve(shared, &mut child, &out, &flight, ended_rx).await;
    // Its requests in flight are abandoned with it.
    reader.abort();
    shared.stats.running.fetch_sub(1, Ordering::SeqCst);
    shared.up.fetch_sub(1, Ordering::SeqCst);
    lock(&shared.pids)[slot] = None;
    drop(out);
    match &ended {
        Ended::Closed => {
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

/// The calls a worker is running, shared by its slot (which sends them
/// and enforces their deadlines) and its reader (which hands each answer
/// straight to its caller, without a hop through the slot).
#[derive(Default)]
struct Flight {
    calls: Mutex<HashMap<u64, InFlight>>,
    /// A call was answered (the worker is not broken from the start).
    served: AtomicBool,
    /// An answer freed room for another call.
    freed: tokio::sync::Notify,
    /// The worker said a call of this function could not be stopped after
    /// this limit tripped, and is ending itself.
    stuck: Mutex<Option<(String, LimitKind)>>,
}

impl Flight {
    /// Fails every call: those of a function the worker said was stuck
    /// with its limit, the others with `WorkerLost`.
    fn fail_all(&self, shared: &Shared, why: &str) {
        let stuck = lock(&self.stuck).take();
        for (_, call) in lock(&self.calls).drain() {
            match &stuck {
                Some((function, kind)) if *function == call.function => {
                    call.job.fail(CallError::Limit {
                        kind: *kind,
                        function: call.function,
                        worker_killed: true,
                    });
                }
                _ => {
                    shared.stats.calls_lost.fetch_add(1, Ordering::Relaxed);
                    call.job.fail(CallError::WorkerLost(why.to_string()));
                }
            }
        }
    }
}

/// Serves a ready worker until it is lost or the engine is gone.
async fn serve(
    shared: &Arc<Shared>,
    child: &mut Child,
    out: &mpsc::UnboundedSender<Frame>,
    flight: &Flight,
    mut ended: oneshot::Receiver<String>,
) -> Ended {
    let capacity = shared.config.limits.runtimes.max(1);
    let hard = shared.config.limits.wall + shared.options.hard_deadline_grace;
    let mut next_id = 1u64;
    let mut closed = false;
    let lost = |why: String| {
        flight.fail_all(shared, &why);
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
                    shared,
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
                return lost(status);
            }
            _ = flight.freed.notified(), if running >= capacity => {}
            job = next_job(shared), if !closed && running < capacity => {
                let Some(job) = job else {
                    closed = true;
                    continue;
                };
                let id = next_id;
                next_id += 1;
                let (message, function) = match &job {
                    Job::Call(call, _) => (
                        ToWorker::Call { id, call: call.clone() },
                        call.function.rel.clone(),
                    ),
                    Job::Check(f, _) => (
                        ToWorker::Check { id, function: f.clone() },
                        f.rel.clone(),
                    ),
                };
                match Frame::new(&message, String::new()) {
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

/// Reads a ready worker's frames: answers go to their callers, requests
/// run here. Ends at the worker's end or at a malformed frame, saying why
/// on `ended` (empty: the worker closed its stdout).
async fn read_worker(
    shared: Arc<Shared>,
    mut stdout: ChildStdout,
    out: mpsc::UnboundedSender<Frame>,
    flight: Arc<Flight>,
    ended: oneshot::Sender<String>,
) {
    let capacity = shared.config.limits.runtimes.max(1);
    let requests = Arc::new(Semaphore::new(capacity * REQUESTS_PER_RUNTIME));
    // Dropped with this task: a lost worker's requests stop with it.
    let mut http_tasks = JoinSet::new();
    let why = loop {
        while http_tasks.try_join_next().is_some() {}
        let (message, payload) = match protocol::read_async::<ToService>(&mut stdout).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break String::new(),
            Err(e) => break format!("it sent a malformed message ({e}) and was killed"),
        };
        match message {
            ToService::Called {
                id,
                function,
                result,
            } => {
                let call = lock(&flight.calls).remove(&id);
                if let Some(call) = call {
                    flight.served.store(true, Ordering::SeqCst);
                    if let Job::Call(_, reply) = call.job {
                        let _ =
                            reply.send(result.map(|()| RawOutput::from_worker(payload, function)));
                    }
                    flight.freed.notify_one();
                }
            }
            ToService::Checked { id, result } => {
                let call = lock(&flight.calls).remove(&id);
                if let Some(call) = call {
                    flight.served.store(true, Ordering::SeqCst);
                    if let Job::Check(_, reply) = call.job {
                        let _ = reply.send(result);
                    }
                    flight.freed.notify_one();
                }
            }
            ToService::Request {
                id,
                settings,
                request,
            } => {
                let config = &shared.config;
                let (client, http, base, hosts) = (
                    config.client.clone(),
                    config.http.clone(),
                    config.spec_base_uri.clone(),
                    config.allowed_hosts.clone(),
                );
                let (out, permit) = (out.clone(), requests.clone().try_acquire_owned());
                http_tasks.spawn(async move {
                    let result = match permit {
                        Ok(_permit) => Ok(http::answer_request(
                            &client,
                            &http,
                            base.as_deref(),
                            &hosts,
                            &settings,
                            request.into(),
                        )
                        .await),
                        Err(_) => Err(TOO_MANY_REQUESTS.to_string()),
                    };
                    answer(&out, id, result);
                });
            }
            ToService::Refresh {
                id,
                config,
                refresh_token,
            } => {
                let (client, http) = (shared.config.client.clone(), shared.config.http.clone());
                let (out, permit) = (out.clone(), requests.clone().try_acquire_owned());
                http_tasks.spawn(async move {
                    let result = match permit {
                        Ok(_permit) => {
                            Ok(http::answer_refresh(&client, &http, &config, &refresh_token).await)
                        }
                        Err(_) => Err(TOO_MANY_REQUESTS.to_string()),
                    };
                    answer(&out, id, result);
                });
            }
            ToService::Stuck { function, kind } => {
                tracing::error!(
                    connector = %shared.name,
                    "engine worker: {function}: stopped by the {kind}, but it kept running; the worker ends itself and is replaced"
                );
                *lock(&flight.stuck) = Some((function, kind));
            }
            ToService::Ready => break "it sent Ready twice and was killed".to_string(),
        }
    };
    let _ = ended.send(why);
}

const TOO_MANY_REQUESTS: &str = "too many apiClient requests in flight in this engine worker";

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn next_job(shared: &Shared) -> Option<Job> {
    shared.queue.lock().await.recv().await
}

fn answer(
    out: &mpsc::UnboundedSender<Frame>,
    id: u64,
    mut result: Result<serde_json::Value, String>,
) {
    let body = match &mut result {
        Ok(envelope) => http::take_body(envelope),
        Err(_) => String::new(),
    };
    match Frame::new(&ToWorker::Answer { id, result }, body) {
        Ok(frame) => {
            let _ = out.send(frame);
        }
        Err(e) => {
            let failed = ToWorker::Answer {
                id,
                result: Err(format!(
                    "the answer cannot be sent to the engine worker: {e}"
                )),
            };
            if let Ok(frame) = Frame::new(&failed, String::new()) {
                let _ = out.send(frame);
            }
        }
    }
}

fn spawn_writer(mut stdin: ChildStdin) -> mpsc::UnboundedSender<Frame> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Frame>();
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if frame.write_async(&mut stdin).await.is_err() {
                // The worker is gone; its reader sees the end.
                return;
            }
        }
    });
    tx
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

//! The service's end of one worker's channel: the writer task (frames to
//! its stdin), the reader task (frames from its stdout), and the calls it
//! is running.
//!
//! The reader hands each answer straight to its caller (no hop through the
//! slot) and runs each apiClient request here with the service's own
//! client, config, base URI and allowed hosts ([`ServiceHttp`]): what a
//! worker says about them is not trusted. It ends at the first frame that
//! does not parse. This module must not decide a worker's fate (the slot
//! in `supervisor.rs` does) nor trust anything a worker sends beyond what
//! `protocol` parsed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use runtime_api_client::{HttpClient, HttpConfig};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::http;
use crate::process::protocol::{self, Frame, ToService, ToWorker};
use crate::process::supervisor::{lock, Job};
use crate::process::WorkerStats;
use crate::{CallError, LimitKind, RawOutput};

/// How the service makes a worker's requests: the engine's own settings.
pub(super) struct ServiceHttp {
    /// The connector, for log lines.
    pub name: String,
    pub client: HttpClient,
    pub config: Arc<HttpConfig>,
    pub spec_base_uri: Option<String>,
    pub allowed_hosts: Arc<Vec<String>>,
    /// Requests one worker may have in flight at once; more are refused.
    pub max_requests: usize,
}

/// A call sent to a worker and not answered yet.
pub(super) struct InFlight {
    pub job: Job,
    pub deadline: Instant,
    pub function: String,
}

/// The calls a worker is running, shared by its slot (which sends them
/// and enforces their deadlines) and its reader (which hands each answer
/// straight to its caller, without a hop through the slot).
#[derive(Default)]
pub(super) struct Flight {
    pub calls: Mutex<HashMap<u64, InFlight>>,
    /// A call was answered (the worker is not broken from the start).
    pub served: AtomicBool,
    /// An answer freed room for another call.
    pub freed: tokio::sync::Notify,
    /// The worker said a call of this function could not be stopped after
    /// this limit tripped, and is ending itself.
    stuck: Mutex<Option<(String, LimitKind)>>,
}

impl Flight {
    /// Fails every call: those of a function the worker said was stuck
    /// with its limit, the others with `WorkerLost`.
    pub fn fail_all(&self, stats: &WorkerStats, why: &str) {
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
                    stats.calls_lost.fetch_add(1, Ordering::Relaxed);
                    call.job.fail(CallError::WorkerLost(why.to_string()));
                }
            }
        }
    }
}

/// Reads a ready worker's frames: answers go to their callers, requests
/// run here. Ends at the worker's end or at a malformed frame, saying why
/// on `ended` (empty: the worker closed its stdout).
pub(super) async fn read_worker(
    http: Arc<ServiceHttp>,
    mut stdout: ChildStdout,
    out: mpsc::UnboundedSender<Frame>,
    flight: Arc<Flight>,
    ended: oneshot::Sender<String>,
) {
    let requests = Arc::new(Semaphore::new(http.max_requests));
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
                let (http, out) = (http.clone(), out.clone());
                let permit = requests.clone().try_acquire_owned();
                http_tasks.spawn(async move {
                    let result = match permit {
                        Ok(_permit) => Ok(http::answer_request(
                            &http.client,
                            &http.config,
                            http.spec_base_uri.as_deref(),
                            &http.allowed_hosts,
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
                let (http, out) = (http.clone(), out.clone());
                let permit = requests.clone().try_acquire_owned();
                http_tasks.spawn(async move {
                    let result = match permit {
                        Ok(_permit) => Ok(http::answer_refresh(
                            &http.client,
                            &http.config,
                            &config,
                            &refresh_token,
                        )
                        .await),
                        Err(_) => Err(TOO_MANY_REQUESTS.to_string()),
                    };
                    answer(&out, id, result);
                });
            }
            ToService::Stuck { function, kind } => {
                tracing::error!(
                    connector = %http.name,
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

pub(super) fn spawn_writer(mut stdin: ChildStdin) -> mpsc::UnboundedSender<Frame> {
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

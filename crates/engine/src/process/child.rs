//! The worker side of an engine worker process: [`worker_main`].
//!
//! It closes what it inherited, reads its `Init` from the channel, hardens
//! itself (`harden.rs`), starts an ordinary in-process engine (`pool.rs`,
//! `worker.rs`: the same code as in the host's process) and serves the
//! calls the service sends, several at once. Every apiClient request of
//! those calls is forwarded to the service ([`Channel`], installed with
//! `http::forward_all`), multiplexed by id.
//!
//! This module only carries messages between the channel and the engine;
//! it must not interpret calls or their results, and it never opens a
//! connection of its own. If the channel breaks (the service is gone, or
//! sent something unreadable) the worker exits.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use runtime_api_client::{ApiRequest, HttpClient, OAuthConfig};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::http::{self, Configured, Http, Reply};
use crate::process::harden;
use crate::process::protocol::{self, Frame, Init, ToService, ToWorker};
use crate::{Engine, EngineConfig};

/// Status of a worker that could not start (hardening failed, or the first
/// frame was not an `Init`).
const EXIT_SETUP: u8 = 3;
/// Status of a worker whose channel broke or carried something unreadable.
const EXIT_CHANNEL: u8 = 4;

/// Runs this process as an engine worker on its stdin and stdout, until the
/// service closes stdin. The binary calls it for its hidden worker
/// subcommand (`runtime __engine-worker`), with its logging already set
/// up to write to stderr; nothing else may write to stdout.
pub fn worker_main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            tracing::error!("engine worker: {message}");
            eprintln!("error: engine worker: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

fn serve() -> Result<(), Failure> {
    harden::close_inherited_fds().map_err(|e| (EXIT_SETUP, e.to_string()))?;
    let mut input = std::io::stdin().lock();
    let init = match protocol::read_blocking::<ToWorker>(&mut input) {
        Ok(Some((ToWorker::Init(init), _))) => init,
        Ok(None) => return Ok(()),
        Ok(Some(_)) => return Err((EXIT_SETUP, "the first message was not Init".into())),
        Err(e) => return Err((EXIT_SETUP, format!("reading Init: {e}"))),
    };
    // Built before the filter (it may read the system's configuration);
    // never used: requests go to the service.
    let client = HttpClient::new().map_err(|e| (EXIT_SETUP, e.to_string()))?;
    let out = Out::stdout();
    let _ = STUCK.set(out.clone());
    let channel = Arc::new(Channel {
        out: out.clone(),
        pending: Mutex::default(),
        next: AtomicU64::new(1),
    });
    http::forward_all(channel.clone());

    // While this is the process's only thread (Landlock binds only the
    // threads started after it), and before any connector file is read.
    match harden::apply(&init.harden, &init.root) {
        Ok(harden::Landlock::Enforced(_)) => {}
        Ok(harden::Landlock::Unavailable) if init.harden.landlock => {
            tracing::warn!(connector = %init.name, "engine worker: the kernel has no Landlock; the worker can read files outside the connector's directory");
        }
        Ok(harden::Landlock::Unavailable) => {}
        Err(e) => return Err((EXIT_SETUP, format!("hardening: {e}"))),
    }

    // The "host" runtime of the in-process engine: it runs the calls'
    // hand-offs and the forwarded requests (the engine threads have their
    // own).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("worker-host")
        .enable_all()
        .build()
        .map_err(|e| (EXIT_SETUP, format!("cannot start the async runtime: {e}")))?;
    let engine = {
        let _context = rt.enter();
        Engine::start(config(*init, client))
            .map_err(|e| (EXIT_SETUP, format!("cannot start the engine: {e}")))?
    };
    send(&out, &ToService::Ready, String::new());

    let result = loop {
        let (message, payload) = match protocol::read_blocking::<ToWorker>(&mut input) {
            Ok(Some(frame)) => frame,
            Ok(None) => break Ok(()),
            Err(e) => break Err((EXIT_CHANNEL, format!("reading the channel: {e}"))),
        };
        match message {
            ToWorker::Call { id, call } => {
                let (engine, out) = (engine.clone(), out.clone());
                rt.spawn(async move {
                    let (message, payload) = match engine.call_raw(*call).await {
                        Ok(raw) => {
                            let function = raw.function().to_string();
                            let text = raw.into_text();
                            let message = ToService::Called {
                                id,
                                function,
                                result: Ok(()),
                            };
                            (message, text)
                        }
                        Err(e) => (
                            ToService::Called {
                                id,
                                function: String::new(),
                                result: Err(e),
                            },
                            String::new(),
                        ),
                    };
                    send(&out, &message, payload);
                });
            }
            ToWorker::Check { id, function } => {
                let (engine, out) = (engine.clone(), out.clone());
                rt.spawn(async move {
                    let result = engine.check(function).await;
                    send(&out, &ToService::Checked { id, result }, String::new());
                });
            }
            ToWorker::Answer { id, result } => channel.answer(id, result, payload),
            ToWorker::Init(_) => break Err((EXIT_CHANNEL, "a second Init".into())),
        }
    };
    drop(engine);
    rt.shutdown_background();
    result
}

fn config(init: Init, client: HttpClient) -> EngineConfig {
    EngineConfig {
        name: init.name,
        root: init.root,
        limits: init.limits,
        http: Arc::default(),
        client,
        spec_base_uri: init.spec_base_uri,
        allowed_hosts: Arc::new(init.allowed_hosts),
        make_api_client: init.make_api_client,
        refresh_credentials: init.refresh_credentials,
        oauth_config: init.oauth_config,
    }
}

/// The channel, for [`report_stuck`].
static STUCK: std::sync::OnceLock<Out> = std::sync::OnceLock::new();

/// Tells the service that a call of `function` could not be stopped after
/// `kind` tripped (the watchdog ends the process next). Nothing outside a
/// worker process.
pub(crate) fn report_stuck(function: &str, kind: crate::LimitKind) {
    if let Some(out) = STUCK.get() {
        let message = ToService::Stuck {
            function: function.to_string(),
            kind,
        };
        if let Ok(frame) = Frame::new(&message, String::new()) {
            out.send(frame);
        }
    }
}

/// The channel's write end (stdout), shared by whoever answers: a call's
/// task, or an engine thread sending a request. Each frame is written
/// whole under the lock, by the thread that has it (no hand-over to a
/// writer thread: one wake-up less per message). The service reads its
/// end all the time, so a write waits only for a large frame to drain.
#[derive(Clone)]
struct Out(Arc<Mutex<std::fs::File>>);

impl Out {
    fn stdout() -> Out {
        use std::os::fd::FromRawFd;
        // SAFETY: descriptor 1 is this process's stdout, open for its whole
        // life, and nothing else writes to it (logs go to stderr); this
        // File is its only user and is never dropped while in use.
        Out(Arc::new(Mutex::new(unsafe {
            std::fs::File::from_raw_fd(1)
        })))
    }

    fn send(&self, frame: Frame) {
        let mut stdout = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = frame.write_to(&mut *stdout) {
            // The service is gone: nothing left to answer.
            let _ = writeln!(
                std::io::stderr(),
                "engine worker: the channel is closed ({e}); exiting"
            );
            std::process::exit(EXIT_CHANNEL as i32);
        }
    }
}

fn send(out: &Out, message: &ToService, payload: String) {
    match Frame::new(message, payload) {
        Ok(frame) => out.send(frame),
        // Only a result larger than a frame can be; the call fails instead.
        Err(e) => {
            let failed = match message {
                ToService::Called { id, .. } => ToService::Called {
                    id: *id,
                    function: String::new(),
                    result: Err(crate::CallError::Internal(format!(
                        "the result cannot be sent to the service: {e}"
                    ))),
                },
                _ => {
                    tracing::error!("engine worker: a message cannot be sent: {e}");
                    return;
                }
            };
            if let Ok(frame) = Frame::new(&failed, String::new()) {
                out.send(frame);
            }
        }
    }
}

/// The transport of a worker's runtimes: each request goes to the service
/// with an id, and its answer comes back under that id.
struct Channel {
    out: Out,
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>,
    next: AtomicU64,
}

impl Channel {
    fn ask(&self, build: impl FnOnce(u64) -> ToService) -> Reply {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        let sent = Frame::new(&build(id), String::new()).map(|frame| self.out.send(frame));
        if let Err(e) = sent.map_err(|e| e.to_string()) {
            self.lock().remove(&id);
            return Box::pin(async move { Err(e) });
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err("the service did not answer the request".into()))
        })
    }

    fn answer(&self, id: u64, result: Result<Value, String>, body: String) {
        let Some(waiting) = self.lock().remove(&id) else {
            return;
        };
        let result = result.map(|mut envelope| {
            http::put_back_body(&mut envelope, body);
            envelope
        });
        let _ = waiting.send(result);
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Result<Value, String>>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Http for Channel {
    fn request(&self, configured: &Configured, request: ApiRequest) -> Reply {
        let settings = (*configured.raw).clone();
        self.ask(|id| ToService::Request {
            id,
            settings,
            request: request.into(),
        })
    }

    fn oauth_refresh(&self, raw: Value, _config: OAuthConfig, refresh_token: String) -> Reply {
        self.ask(|id| ToService::Refresh {
            id,
            config: raw,
            refresh_token,
        })
    }
}

//! The runtimes of one connector: a queue of calls that up to
//! `Limits::runtimes` engine threads take from, each with its own
//! `JsRuntime` and watchdog.
//!
//! A call holds its runtime while it awaits HTTP, so with one runtime a
//! slow call (a long full-scan page) delays every other collection's call,
//! webhooks included. Threads are started only when a call finds every
//! runtime busy, so a connector that is called one call at a time keeps one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Mutex};

use crate::limits::Watchdog;
use crate::worker::{self, Job};
use crate::EngineConfig;

pub(crate) struct Pool {
    config: EngineConfig,
    host: tokio::runtime::Handle,
    sender: mpsc::UnboundedSender<Job>,
    queue: Jobs,
    started: AtomicUsize,
}

/// The receiving side, shared by the engine threads of a pool.
#[derive(Clone)]
pub(crate) struct Jobs {
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    /// Threads waiting for a job.
    idle: Arc<AtomicUsize>,
    /// Jobs sent and not yet taken.
    queued: Arc<AtomicUsize>,
}

impl Jobs {
    /// Counts this thread as waiting before it hands back its result: a
    /// caller making one call after another sends the next call the moment
    /// it has the reply, and must not find every thread busy and start
    /// another runtime for it. `next(true)` then does not count it again.
    pub(crate) fn finishing(&self) {
        self.idle.fetch_add(1, Ordering::SeqCst);
    }

    /// A thread counted as waiting that will take no job after all.
    pub(crate) fn leave(&self) {
        self.idle.fetch_sub(1, Ordering::SeqCst);
    }

    /// The next job; None once the engine handle is gone. `counted`: this
    /// thread already called [`Jobs::finishing`].
    pub(crate) async fn next(&self, counted: bool) -> Option<Job> {
        if !counted {
            self.idle.fetch_add(1, Ordering::SeqCst);
        }
        let job = self.receiver.lock().await.recv().await;
        self.idle.fetch_sub(1, Ordering::SeqCst);
        if job.is_some() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
        }
        job
    }
}

impl Pool {
    /// Starts the first engine thread.
    pub(crate) fn start(config: EngineConfig) -> std::io::Result<Pool> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let pool = Pool {
            host: tokio::runtime::Handle::current(),
            config,
            sender,
            queue: Jobs {
                receiver: Arc::new(Mutex::new(receiver)),
                idle: Arc::new(AtomicUsize::new(0)),
                queued: Arc::new(AtomicUsize::new(0)),
            },
            started: AtomicUsize::new(0),
        };
        pool.spawn_thread()?;
        Ok(pool)
    }

    /// Queues `job`, starting another thread when none is free and the
    /// limit allows. Err when the engine threads are gone.
    pub(crate) fn submit(&self, job: Job) -> Result<(), ()> {
        self.queue.queued.fetch_add(1, Ordering::SeqCst);
        if self.sender.send(job).is_err() {
            self.queue.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(());
        }
        // More jobs waiting than threads waiting for them: a burst of calls
        // starts threads even while one thread still counts as idle. Both
        // read now, in this order: a thread may already have taken the job.
        let waiting = self.queue.idle.load(Ordering::SeqCst);
        let queued = self.queue.queued.load(Ordering::SeqCst);
        if queued > waiting
            && self.started.load(Ordering::SeqCst) < self.config.limits.runtimes.max(1)
        {
            if let Err(e) = self.spawn_thread() {
                tracing::warn!(connector = %self.config.name, "cannot start another engine thread (the queued call waits for a free one): {e}");
            }
        }
        Ok(())
    }

    fn spawn_thread(&self) -> std::io::Result<()> {
        let max = self.config.limits.runtimes.max(1);
        let n = self.started.fetch_add(1, Ordering::SeqCst);
        if n >= max {
            self.started.fetch_sub(1, Ordering::SeqCst);
            return Ok(());
        }
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{}", n + 1)
        };
        let name = format!("{}{suffix}", self.config.name);
        // Waiting for work from the start (worker::run's first `next` does
        // not count it again): a call sent before the thread gets there
        // must not start yet another one.
        self.queue.idle.fetch_add(1, Ordering::SeqCst);
        let spawned = Watchdog::spawn(&name).and_then(|dog| {
            let (config, host, jobs) = (self.config.clone(), self.host.clone(), self.queue.clone());
            let own = dog.clone();
            std::thread::Builder::new()
                .name(format!("js-{name}"))
                // QuickJS and V8 both recurse on the native stack; give deep
                // (but bounded) connector recursion room to hit the JS stack
                // limit first.
                .stack_size(64 << 20)
                .spawn(move || worker::run(config, host, jobs, dog))
                .inspect_err(|_| own.shutdown())
        });
        if spawned.is_err() {
            self.started.fetch_sub(1, Ordering::SeqCst);
            self.queue.idle.fetch_sub(1, Ordering::SeqCst);
        }
        spawned.map(|_| ())
    }
}

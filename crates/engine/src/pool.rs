//! The runtimes of one connector: a queue of calls that up to
//! `Limits::runtimes` engine threads take from, each with its own
//! `JsRuntime` and watchdog.
//!
//! A call holds its runtime while it awaits HTTP, so with one runtime a
//! slow call (a long full-scan page) delays every other collection's call,
//! webhooks included. Threads are started only when a call finds every
//! runtime busy, so a connector that is called one call at a time keeps one.
//!
//! The queue is a plain mutex and condition variable, not a tokio channel:
//! an idle engine thread sleeps on a futex outside its tokio runtime, and a
//! call reaches it through one wake-up (tokio's channel woke the runtime
//! through its eventfd and epoll, and the tokio mutex around the receiver
//! added another hand-over). This module must not run calls itself.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::limits::Watchdog;
use crate::worker::{self, Job};
use crate::EngineConfig;

pub(crate) struct Pool {
    config: EngineConfig,
    host: tokio::runtime::Handle,
    queue: Jobs,
    started: AtomicUsize,
    /// Transpiled connector files, shared by every thread of the pool.
    sources: Arc<crate::transpile::Cache>,
}

/// The queue, shared by the pool and its engine threads.
#[derive(Clone)]
pub(crate) struct Jobs {
    inner: Arc<(Mutex<Queue>, Condvar)>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Threads that will take a job without another thread being started:
    /// waiting, or finishing a call and about to wait.
    idle: usize,
    /// Threads blocked on the condition variable (only they need a wake-up).
    sleeping: usize,
    /// The engine handle is gone: threads end once the queue is empty.
    closed: bool,
}

impl Jobs {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is plain data and every update completes under the lock.
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts this thread as waiting before it hands back its result: a
    /// caller making one call after another sends the next call the moment
    /// it has the reply, and must not find every thread busy and start
    /// another runtime for it. `next(true)` then does not count it again.
    pub(crate) fn finishing(&self) {
        self.lock().idle += 1;
    }

    /// A thread counted as waiting that will take no job after all.
    pub(crate) fn leave(&self) {
        let mut q = self.lock();
        q.idle = q.idle.saturating_sub(1);
    }

    /// The next job, blocking the thread until there is one; None once the
    /// engine handle is gone and the queue is empty. `counted`: this thread
    /// already called [`Jobs::finishing`].
    pub(crate) fn next(&self, counted: bool) -> Option<Job> {
        let mut q = self.lock();
        if !counted {
            q.idle += 1;
        }
        loop {
            if let Some(job) = q.jobs.pop_front() {
                q.idle = q.idle.saturating_sub(1);
                return Some(job);
            }
            if q.closed {
                q.idle = q.idle.saturating_sub(1);
                return None;
            }
            q.sleeping += 1;
            q = self.inner.1.wait(q).unwrap_or_else(|e| e.into_inner());
            q.sleeping -= 1;
        }
    }

    /// Queues `job`; Err(job) once closed. Returns whether more jobs wait
    /// than threads will take them.
    fn push(&self, job: Job) -> Result<bool, Job> {
        let mut q = self.lock();
        if q.closed {
            return Err(job);
        }
        q.jobs.push_back(job);
        let short = q.jobs.len() > q.idle;
        let wake = q.sleeping > 0;
        drop(q);
        if wake {
            self.inner.1.notify_one();
        }
        Ok(short)
    }

    fn close(&self) {
        self.lock().closed = true;
        self.inner.1.notify_all();
    }

    fn count_idle(&self, delta: isize) {
        let mut q = self.lock();
        q.idle = q.idle.saturating_add_signed(delta);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl Pool {
    /// Starts the first engine thread, which creates its runtime at once.
    pub(crate) fn start(config: EngineConfig) -> std::io::Result<Pool> {
        let pool = Pool {
            host: tokio::runtime::Handle::current(),
            config,
            queue: Jobs {
                inner: Arc::new((Mutex::new(Queue::default()), Condvar::new())),
            },
            started: AtomicUsize::new(0),
            sources: Arc::default(),
        };
        pool.spawn_thread()?;
        Ok(pool)
    }

    /// Queues `job`, starting another thread when none is free and the
    /// limit allows. Err when the engine threads are gone.
    pub(crate) fn submit(&self, job: Job) -> Result<(), ()> {
        // More jobs waiting than threads to take them: a burst of calls
        // starts threads even while one thread still counts as idle.
        let short = self.queue.push(job).map_err(|_| ())?;
        if short && self.started.load(Ordering::SeqCst) < self.config.limits.runtimes.max(1) {
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
        self.queue.count_idle(1);
        let spawned = Watchdog::spawn(&name).and_then(|dog| {
            let (config, host, jobs) = (self.config.clone(), self.host.clone(), self.queue.clone());
            let sources = self.sources.clone();
            let own = dog.clone();
            std::thread::Builder::new()
                .name(format!("js-{name}"))
                // QuickJS and V8 both recurse on the native stack; give deep
                // (but bounded) connector recursion room to hit the JS stack
                // limit first.
                .stack_size(64 << 20)
                .spawn(move || worker::run(config, host, jobs, dog, sources))
                .inspect_err(|_| own.shutdown())
        });
        if spawned.is_err() {
            self.started.fetch_sub(1, Ordering::SeqCst);
            self.queue.count_idle(-1);
        }
        spawned.map(|_| ())
    }
}

//! What one cross-thread round trip costs on this machine, with no
//! JavaScript: the floor under a warm `Engine::call`, which must hand the
//! call to the engine thread and the result back.
//!
//! `cargo run --release -p bench-floors --bin wake_floor [ROUNDS]`
//! prints the median and p99 of ROUNDS (default 20000) round trips for
//! std channels (the other thread blocks on a futex) and for a tokio
//! current-thread runtime on the other side (parked in epoll, woken through
//! its eventfd), each answered through a tokio oneshot as `Engine::call` is.

use std::sync::mpsc;
use std::time::{Duration, Instant};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let host = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");

    // std channel in, std channel back: two futex wake-ups per round trip.
    let (to, from_caller) = mpsc::channel::<mpsc::Sender<u64>>();
    std::thread::spawn(move || {
        while let Ok(reply) = from_caller.recv() {
            let _ = reply.send(1);
        }
    });
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let (tx, rx) = mpsc::channel();
        to.send(tx).expect("send");
        rx.recv().expect("reply");
        times.push(t.elapsed());
    }
    report("std channel, std reply (caller blocks)", &mut times);

    // std channel in, tokio oneshot awaited by a task on the host runtime.
    let (to, from_caller) = mpsc::channel::<Reply>();
    std::thread::spawn(move || {
        while let Ok(reply) = from_caller.recv() {
            let _ = reply.send(1);
        }
    });
    let mut times = async_round_trips(&host, rounds, move |tx| to.send(tx).expect("send"));
    report("std channel, oneshot reply (async caller)", &mut times);

    // tokio unbounded channel into a current-thread runtime (epoll/eventfd).
    let (to, mut from_caller) = tokio::sync::mpsc::unbounded_channel::<Reply>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("engine-side runtime");
        rt.block_on(async move {
            while let Some(reply) = from_caller.recv().await {
                let _ = reply.send(1);
            }
        });
    });
    let mut times = async_round_trips(&host, rounds, move |tx| to.send(tx).expect("send"));
    report(
        "tokio channel into a current-thread runtime, oneshot reply",
        &mut times,
    );
}

/// `rounds` round trips from a task on the host runtime: `send` hands a
/// oneshot to the other side, which answers on it.
fn async_round_trips(
    host: &tokio::runtime::Runtime,
    rounds: usize,
    send: impl Fn(Reply) + Send + 'static,
) -> Vec<Duration> {
    host.block_on(async move {
        tokio::spawn(async move {
            let mut times = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let t = Instant::now();
                let (tx, rx) = tokio::sync::oneshot::channel();
                send(tx);
                rx.await.expect("reply");
                times.push(t.elapsed());
            }
            times
        })
        .await
        .expect("task")
    })
}

type Reply = tokio::sync::oneshot::Sender<u64>;

fn report(what: &str, times: &mut [Duration]) {
    times.sort_unstable();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{what}: median {:.1} µs, p99 {:.1} µs",
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    );
}

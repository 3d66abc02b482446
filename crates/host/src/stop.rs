//! Stopping a run: SIGINT, SIGTERM, or the caller's own signal turn the
//! run's stop flag on; cycles in flight finish and are delivered.

use tokio::sync::watch;

/// Waits for a signal (or `external` turning true), then sets `stop`.
pub async fn wait_for_signal(stop: watch::Sender<bool>, external: Option<watch::Receiver<bool>>) {
    let external = async move {
        match external {
            Some(mut rx) => {
                while !*rx.borrow() {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = os_signal() => {}
        _ = external => {}
    }
    tracing::info!("stopping: finishing cycles in flight, then delivering");
    let _ = stop.send(true);
}

async fn os_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        } else {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

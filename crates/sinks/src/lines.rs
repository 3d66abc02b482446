use runtime_events::{Event, EventLine};

/// One event as its JSON line (with the trailing `\n`), exactly the
/// contract's keys in the contract's order.
pub fn json_line(event: &Event) -> Result<Vec<u8>, serde_json::Error> {
    let mut line = serde_json::to_vec(event)?;
    line.push(b'\n');
    Ok(line)
}

/// All events as consecutive JSON lines, so a sink can write them at once.
pub(crate) fn join_lines(events: &[EventLine]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(events.iter().map(|e| e.json.len() + 1).sum());
    for event in events {
        buf.extend_from_slice(event.json.as_bytes());
        buf.push(b'\n');
    }
    buf
}

/// Runs blocking I/O off the async workers when there is a runtime, and
/// inline when there is none (a sink used from plain synchronous code).
pub(crate) async fn run_blocking<T, F>(f: F) -> std::io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| std::io::Error::other(format!("blocking write task failed: {e}")))?,
        Err(_) => f(),
    }
}

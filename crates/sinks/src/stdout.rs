use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use runtime_events::EventLine;

use crate::lines::{join_lines, run_blocking};
use crate::{Sink, SinkError};

/// JSON lines on the process's stdout. The lines of a batch are written
/// under one stdout lock so nothing interleaves with them.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl StdoutSink {
    pub fn new() -> StdoutSink {
        StdoutSink
    }
}

impl Sink for StdoutSink {
    fn deliver<'a>(
        &'a mut self,
        events: &'a [EventLine],
    ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>> {
        Box::pin(async move {
            if events.is_empty() {
                return Ok(());
            }
            let buf = join_lines(events);
            run_blocking(move || {
                let mut out = std::io::stdout().lock();
                out.write_all(&buf)?;
                out.flush()
            })
            .await
            .map_err(|source| SinkError::Io {
                sink: "stdout".into(),
                action: "writing events".into(),
                source,
            })
        })
    }

    fn describe(&self) -> String {
        "stdout".into()
    }
}

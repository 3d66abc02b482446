use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use runtime_events::EventLine;

use crate::lines::{join_lines, run_blocking};
use crate::{Sink, SinkError};

/// Where `--sink file:PATH` appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSinkConfig {
    pub path: PathBuf,
}

/// Appends JSON lines to a file and fsyncs them before acknowledging.
///
/// A crash mid-write can leave a torn last line, but only of a batch that was
/// never acknowledged (and so will be redelivered with the same ids). Before
/// the next write the sink ends such a line with `\n`, so every later line is
/// whole; readers should skip a line that is not valid JSON.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    describe: String,
    // `&File` implements Write/Seek/Read, so an Arc lets the blocking task
    // use the file without taking it out of the sink.
    file: Arc<File>,
    // Set when a write failed part way, which may have left a torn line.
    check_tail: bool,
}

impl FileSink {
    /// Opens (creating if needed) the file for appending and repairs a torn
    /// last line left by an earlier crash.
    pub fn open(config: &FileSinkConfig) -> Result<FileSink, SinkError> {
        let path = config.path.clone();
        let describe = format!("file sink {}", path.display());
        let io_err = |action: &str, source| SinkError::Io {
            sink: describe.clone(),
            action: action.to_string(),
            source,
        };
        if path.as_os_str().is_empty() {
            return Err(SinkError::Config {
                sink: describe,
                reason: "the path is empty".into(),
            });
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io_err(&open_action(&path, &e), e))?;
        end_with_newline(&file).map_err(|e| io_err("repairing the last line", e))?;
        Ok(FileSink {
            path,
            describe,
            file: Arc::new(file),
            check_tail: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open_action(path: &Path, e: &io::Error) -> String {
    match path.parent() {
        Some(dir) if e.kind() == io::ErrorKind::NotFound && !dir.as_os_str().is_empty() => {
            format!(
                "opening for append (does the directory {} exist?)",
                dir.display()
            )
        }
        _ => "opening for append".into(),
    }
}

/// Appends `\n` when the file is non-empty and its last byte is not one.
fn end_with_newline(mut file: &File) -> io::Result<()> {
    if file.metadata()?.len() == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
        file.sync_data()?;
    }
    Ok(())
}

impl Sink for FileSink {
    fn deliver<'a>(
        &'a mut self,
        events: &'a [EventLine],
    ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>> {
        Box::pin(async move {
            if events.is_empty() {
                return Ok(());
            }
            let buf = join_lines(events);
            let file = Arc::clone(&self.file);
            let check_tail = self.check_tail;
            let result = run_blocking(move || {
                if check_tail {
                    end_with_newline(&file)?;
                }
                // O_APPEND: the bytes land at the end whatever the cursor.
                (&*file).write_all(&buf)?;
                file.sync_data()
            })
            .await;
            self.check_tail = result.is_err();
            result.map_err(|source| SinkError::Io {
                sink: self.describe.clone(),
                action: "appending events".into(),
                source,
            })
        })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

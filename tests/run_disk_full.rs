//! A full disk under `runtime run`: the binary runs with RLIMIT_FSIZE (and
//! SIGXFSZ ignored), so a write past the limit fails with EFBIG as it would
//! on a full disk, for root as for anyone, without a mount. The mock keeps
//! changing deals (custom-pull over the delta feed) meanwhile.
//!
//! - the data dir's files hit the limit: the run stops with an error naming
//!   the data dir (exit 1, no panic), the stored cursor has not passed an
//!   undelivered change, and a restart without the limit on the same data
//!   dir delivers every change;
//! - the file sink hits the limit: the run keeps going (delivery is retried,
//!   events wait in the outbox) and, once the limit is gone, every change
//!   arrives.

mod support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_api::{Fault, MockApi};
use support::changes::{missing, read_all, start_changer, stored, ChangeLog};
use support::*;

const DEALS: &str = "deals";

/// `runtime run` with every file it writes capped at `max_file_bytes`.
fn spawn_capped(args: &[String], max_file_bytes: u64) -> Child {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (signal, setrlimit) between fork
    // and exec. Lowering a limit needs no privilege.
    unsafe {
        cmd.pre_exec(move || {
            if libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
            let limit = libc::rlimit {
                rlim_cur: max_file_bytes,
                rlim_max: max_file_bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().unwrap()
}

/// The size of the largest file under `dir`.
fn largest_file(dir: &Path) -> u64 {
    let mut max = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        max = max.max(if meta.is_dir() {
            largest_file(&entry.path())
        } else {
            meta.len()
        });
    }
    max
}

/// Waits for the child to exit on its own (at most `limit`): (exit code,
/// signal, stderr).
fn wait_exit(mut child: Child, limit: Duration) -> (Option<i32>, Option<i32>, String) {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "runtime still running after {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Scene {
    mock: Arc<MockApi>,
    work: Work,
    log: ChangeLog,
    stop: Arc<AtomicBool>,
    changer: Option<std::thread::JoinHandle<()>>,
    sinks: Vec<PathBuf>,
}

impl Scene {
    fn start() -> Scene {
        let mock = Arc::new(MockApi::start());
        mock.seed(DEALS, 10);
        let mut work = Work::new(demo_crm(), &mock.base_url(), &[DEALS], None);
        assert!(work.once_ok().is_empty(), "baseline");
        let log: ChangeLog = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let changer = Some(start_changer(&mock, DEALS, &log, &stop));
        Scene {
            mock,
            work,
            log,
            stop,
            changer,
            sinks: Vec::new(),
        }
    }

    fn run_args(&mut self, sink: &Path) -> Vec<String> {
        self.sinks.push(sink.to_path_buf());
        let mut args = self.work.run_args(&format!("file:{}", sink.display()));
        args.extend(["--interval".into(), "0.1".into()]);
        args
    }

    /// Stops the changes, drains with a clean `--once` run and checks that
    /// every change the mock made is in the sinks: the number of events.
    fn finish(&mut self, what: &str) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(c) = self.changer.take() {
            c.join().unwrap();
        }
        let (code, events, stderr) = self.work.once();
        assert_eq!(code, Some(0), "{what}: the clean run failed:\n{stderr}");
        let mut all = read_all(&self.sinks);
        all.extend(events);
        let log = self.log.lock().unwrap().clone();
        assert!(!log.is_empty(), "{what}: the mock made no change");
        let lost = missing(&log, &all, None);
        assert!(lost.is_empty(), "{what}: lost:\n{}", lost.join("\n"));
        println!(
            "{what}: {} changes, {} events, 0 lost",
            log.len(),
            all.len()
        );
        all.len()
    }
}

#[test]
fn a_full_data_dir_stops_the_run_with_a_clear_error_and_loses_nothing() {
    let mut scene = Scene::start();
    let before = stored(&scene.work, DEALS);
    // A little room past what the store holds now: a few cycles commit,
    // then a write of the store fails.
    let cap = largest_file(&scene.work.data) + 4 * 1024;
    let sink = scene.work.tmp.path().join("capped.jsonl");
    let args = scene.run_args(&sink);
    let start = Instant::now();
    let child = spawn_capped(&args, cap);
    let (code, signal, stderr) = wait_exit(child, Duration::from_secs(60));
    let took = start.elapsed();
    println!("data dir capped at {cap} bytes: stopped after {took:?} with {code:?}");
    assert_eq!(signal, None, "killed by a signal:\n{stderr}");
    assert_eq!(code, Some(1), "exit status:\n{stderr}");
    assert!(!stderr.contains("panicked"), "a panic:\n{stderr}");
    let data = scene.work.data.display().to_string();
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error:") && last.contains(&data),
        "the final error does not name the data dir {data}:\n{stderr}"
    );
    let after = stored(&scene.work, DEALS);
    assert!(
        after.cycles > before.cycles,
        "no cycle committed before the disk filled:\n{stderr}"
    );

    // Drain the outbox only (the feed fails): what the stored cursor
    // covers must be in the sinks already.
    scene.mock.inject(
        "/deals",
        1000,
        Fault::Status {
            code: 400,
            retry_after: None,
            body: None,
        },
    );
    let drain = scene.work.tmp.path().join("drain.jsonl");
    scene.sinks.push(drain.clone());
    let mut args = scene.work.run_args(&format!("file:{}", drain.display()));
    args.push("--once".into());
    let (_, _, drain_err) = run_to_end(&args);
    scene.mock.clear_faults();
    let log = scene.log.lock().unwrap().clone();
    let behind = missing(&log, &read_all(&scene.sinks), Some(after.cursor));
    assert!(
        behind.is_empty(),
        "the stored cursor {} passed undelivered changes:\n{}\n{drain_err}",
        after.cursor,
        behind.join("\n")
    );
    scene.finish("full data dir");
}

#[test]
fn a_full_sink_file_is_retried_and_loses_nothing() {
    let mut scene = Scene::start();
    // The data dir has room; the sink file is a few bytes short of the cap,
    // so the first batch is cut mid-line and every later write fails.
    let cap = largest_file(&scene.work.data) + (8 << 20);
    let sink = scene.work.tmp.path().join("full.jsonl");
    let file = std::fs::File::create(&sink).unwrap();
    file.set_len(cap - 100).unwrap();
    drop(file);
    let args = scene.run_args(&sink);
    let mut child = spawn_capped(&args, cap);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run stopped on a sink error"
    );
    signal(&child, libc::SIGTERM);
    let (code, signal, stderr) = wait_exit(child, Duration::from_secs(40));
    assert_eq!((code, signal), (Some(0), None), "{stderr}");
    assert!(!stderr.contains("panicked"), "a panic:\n{stderr}");
    let path = sink.display().to_string();
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("delivery failed, will retry") && l.contains(&path)),
        "no retried delivery naming {path}:\n{stderr}"
    );
    let committed = stored(&scene.work, DEALS);
    assert_eq!(
        std::fs::metadata(&sink).unwrap().len(),
        cap,
        "the sink did not reach the cap"
    );

    // Without the cap, the same sink file is repaired and takes the outbox.
    let mut args = scene.work.run_args(&format!("file:{}", sink.display()));
    args.push("--once".into());
    let (code, _, stderr) = run_to_end(&args);
    assert_eq!(code, Some(0), "{stderr}");
    let text = std::fs::read(&sink).unwrap();
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    let broken = lines
        .iter()
        .filter(|l| !l.is_empty() && serde_json::from_slice::<serde_json::Value>(l).is_err())
        .count();
    // The zero-filled start and the line the cap cut.
    assert_eq!(broken, 2, "torn lines in the sink");
    let log = scene.log.lock().unwrap().clone();
    let behind = missing(&log, &read_all(&scene.sinks), Some(committed.cursor));
    assert!(
        behind.is_empty(),
        "not delivered after the restart:\n{}",
        behind.join("\n")
    );
    scene.finish("full sink file");
}

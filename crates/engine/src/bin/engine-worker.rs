//! An engine worker process for the engine's own tests
//! (`tests/workers.rs`): what `runtime __engine-worker` is in the product.
//!
//! `engine-worker probe ROOT` instead hardens itself as a worker does
//! (ROOT standing for the connector's directory) and reports on stdout, as
//! JSON, what it is then refused (a socket, a process, a file written, a
//! file read outside ROOT) and which descriptors it held: the tests' view
//! of the seccomp filter and Landlock from inside.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("probe") {
        return probe();
    }
    runtime_engine::worker_main()
}

fn probe() -> ExitCode {
    use runtime_engine::{harden, Hardening};
    if let Err(e) = harden::close_inherited_fds() {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    // `probe ROOT`: Landlock lets it read beneath ROOT only.
    let root = std::path::PathBuf::from(std::env::args().nth(2).unwrap_or_else(|| "/".into()));
    let fds_before: Vec<String> = list_fds();
    let landlock = match harden::apply(
        &Hardening {
            memory_limit_bytes: Some(1 << 30),
            max_open_files: 64,
            seccomp: true,
            landlock: true,
        },
        &root,
    ) {
        Ok(landlock) => landlock,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: plain system calls; any descriptor or child made is left
    // to the process's end (the child exits at once).
    let inet = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    let inet_errno = errno();
    let unix = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
    let unix_errno = errno();
    let fork = unsafe { libc::fork() };
    if fork == 0 {
        unsafe { libc::_exit(0) };
    }
    let fork_errno = errno();
    let write = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::env::temp_dir().join("engine-worker-probe"))
        .map_err(|e| e.raw_os_error().unwrap_or(0));
    let read_inside = std::fs::read_to_string(root.join("inside.txt")).is_ok();
    let errno_of = |r: std::io::Result<String>| r.err().and_then(|e| e.raw_os_error());
    let read_outside = errno_of(std::fs::read_to_string("/etc/passwd"));
    let parent_environ = errno_of(std::fs::read_to_string(format!(
        "/proc/{}/environ",
        std::os::unix::process::parent_id()
    )));
    let thread = std::thread::spawn(|| 1).join().is_ok();
    let pair = {
        let mut fds = [0i32; 2];
        // SAFETY: a valid out-array of two descriptors.
        unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) }
    };
    let report = serde_json::json!({
        "socket_inet": inet, "socket_inet_errno": inet_errno,
        "socket_unix": unix, "socket_unix_errno": unix_errno,
        "fork": fork, "fork_errno": fork_errno,
        "open_for_writing_errno": write.err(),
        "read_inside_root": read_inside,
        "read_outside_root_errno": read_outside,
        "read_parent_environ_errno": parent_environ,
        "thread": thread,
        "unix_socketpair": pair,
        "landlock": format!("{landlock:?}"),
        "fds": fds_before,
        "eperm": libc::EPERM,
    });
    println!("{report}");
    ExitCode::SUCCESS
}

fn list_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| {
                let e = e.ok()?;
                // The directory listing itself is open meanwhile.
                let target = std::fs::read_link(e.path()).ok()?;
                if target.ends_with("fd") {
                    return None;
                }
                e.file_name().into_string().ok()
            })
            .collect()
        })
        .unwrap_or_default();
    fds.sort();
    fds
}

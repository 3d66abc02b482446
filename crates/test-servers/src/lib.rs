//! Real servers for the tests, started by the test that needs them and
//! gone with it: a throwaway PostgreSQL cluster ([`PgServer`]) from the
//! machine's PostgreSQL binaries (Debian's `postgresql` package), and a
//! `nats-server` with JetStream ([`NatsServer`], `nats.rs`; Debian's
//! `nats-server`); `scripts/setup.sh` installs both. Test support only: it must not ship in
//! the runtime, and it mocks nothing (the server is the real one).
//!
//! **Missing binaries.** Run by hand on a machine without them, a test
//! asks [`PgServer::start`] and gets `None` with a loud `SKIPPED` line on
//! stderr; under CI (`CI` set) that is a failure instead, so CI can never
//! pass by skipping.
//!
//! **Root.** PostgreSQL refuses to run as root, and CI runs as root: the
//! cluster then belongs to the `postgres` user the Debian package creates
//! (or `nobody`), and initdb and the server are started as that user.

mod nats;

pub use nats::NatsServer;

use std::io;
use std::net::TcpListener;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A PostgreSQL cluster in a temporary directory, listening on loopback
/// with trust authentication for the user `runtime`. Dropping it stops the
/// server (immediate shutdown) and removes the directory.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Who runs the server, when the tests run as root.
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
}

/// The database user every URL connects as.
pub const USER: &str = "runtime";

impl PgServer {
    /// Initialises and starts a cluster. `None` (after a `SKIPPED` line)
    /// when PostgreSQL is not installed and `CI` is not set.
    ///
    /// # Panics
    /// When PostgreSQL is missing under CI, or cannot be started: a test
    /// that needs the server cannot go on without it.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = find_bin() else {
            let why = "PostgreSQL's initdb and postgres were not found (apt-get install postgresql, or run ./scripts/setup.sh)";
            if std::env::var_os("CI").is_some() {
                panic!("{why}; CI must run the PostgreSQL tests");
            }
            eprintln!("SKIPPED: {why}");
            return None;
        };
        match PgServer::init(bin) {
            Ok(server) => Some(server),
            Err(e) => panic!("cannot start a PostgreSQL cluster for the test: {e}"),
        }
    }

    fn init(bin: PathBuf) -> io::Result<PgServer> {
        let dir = tempfile::Builder::new().prefix("pg-test").tempdir()?;
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(unprivileged_user()?)
        } else {
            None
        };
        if let Some((uid, gid)) = run_as {
            chown(dir.path(), Some(uid), Some(gid))?;
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .stdout(Stdio::null());
        let out = as_user(&mut initdb, run_as).output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let mut server = PgServer {
            dir,
            bin,
            port: free_port()?,
            run_as,
            child: None,
        };
        server.start_server()?;
        Ok(server)
    }

    /// Starts the server on its data directory and port (again, after
    /// [`PgServer::stop`]), and waits until it accepts connections.
    pub fn start_server(&mut self) -> io::Result<()> {
        let log = std::fs::File::create(self.dir.path().join("server.log"))?;
        if let Some((uid, gid)) = self.run_as {
            chown(self.dir.path().join("server.log"), Some(uid), Some(gid))?;
        }
        let mut postgres = Command::new(self.bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            // Loopback only; the tests' durability is the runtime's, not
            // the disk's: no fsync keeps a test run fast.
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "max_connections=300", "-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(as_user(&mut postgres, self.run_as).spawn()?);
        self.wait_ready(Duration::from_secs(30))
    }

    fn wait_ready(&mut self, within: Duration) -> io::Result<()> {
        let started = Instant::now();
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
                .stdout(Stdio::null())
                .status()?;
            if ready.success() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    return Err(io::Error::other(format!(
                        "postgres exited ({status}): {}",
                        self.log()
                    )));
                }
            }
            if started.elapsed() > within {
                return Err(io::Error::other(format!(
                    "postgres did not accept connections within {within:?}: {}",
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Stops the server at once (SIGQUIT: immediate shutdown, as a crash
    /// would leave it, recovered from its WAL at the next start).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGQUIT);
            }
            let _ = child.wait();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` (see [`PgServer::create_database`]).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` (letters, digits and `_`) if it is not
    /// there yet, and returns its URL.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                name,
            ])
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && !stderr.contains("already exists") {
            return Err(io::Error::other(format!("createdb {name}: {stderr}")));
        }
        Ok(self.url(name))
    }

    /// The URL of a database named after `dir` (created when missing): the
    /// stores of the conformance suite are opened "in a directory", and
    /// the same directory must give the same store.
    pub fn database_for(&self, dir: &Path) -> io::Result<String> {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in dir.as_os_str().as_encoded_bytes() {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.create_database(&format!("t{hash:016x}"))
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where initdb and postgres are: Debian keeps them off PATH, under
/// `/usr/lib/postgresql/<version>/bin`; the newest version wins.
fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The uid and gid of `postgres`, else `nobody`.
fn unprivileged_user() -> io::Result<(u32, u32)> {
    for name in [c"postgres", c"nobody"] {
        let pw = unsafe { libc::getpwnam(name.as_ptr()) };
        if !pw.is_null() {
            let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
            return Ok((uid, gid));
        }
    }
    Err(io::Error::other(
        "running as root, and there is no postgres or nobody user to run PostgreSQL as",
    ))
}

fn as_user(cmd: &mut Command, run_as: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = run_as {
        cmd.gid(gid).uid(uid);
        // Its home may be unreadable to it: start where it can read.
        cmd.current_dir("/");
    }
    cmd
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

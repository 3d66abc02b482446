//! A real `nats-server` with JetStream for a test: its own free port on
//! 127.0.0.1, its own store directory, killed when dropped.
//!
//! Without a `nats-server` (Debian package `nats-server`, or the path in
//! `NATS_SERVER`), [`NatsServer::start`] fails the test when `CI` is set and
//! otherwise prints a loud SKIPPED line and returns `None`.

use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(15);

pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    auth: Option<(String, String)>,
    child: Option<Child>,
    // Kept across restart(), so a restarted server has its streams back.
    store: tempfile::TempDir,
    log: PathBuf,
}

impl NatsServer {
    /// A server with JetStream and no authentication.
    pub fn start() -> Option<NatsServer> {
        NatsServer::launch(None)
    }

    /// A server that requires this user and password.
    pub fn start_with_auth(user: &str, password: &str) -> Option<NatsServer> {
        NatsServer::launch(Some((user.to_string(), password.to_string())))
    }

    fn launch(auth: Option<(String, String)>) -> Option<NatsServer> {
        let binary = find_binary()?;
        let store = tempfile::tempdir().expect("a temporary store directory");
        let log = store.path().join("nats-server.log");
        let mut server = NatsServer {
            binary,
            port: free_port(),
            auth,
            child: None,
            store,
            log,
        };
        server.run();
        Some(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:PORT`, without credentials.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// Kills the server (SIGKILL, as a crash would) and waits until it is
    /// gone. Its store directory stays for [`NatsServer::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same store.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    fn run(&mut self) {
        // JetStream keeps its files in a `jetstream` dir under -sd; the log
        // file beside it is appended to across restarts.
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("the server's log file");
        let mut command = Command::new(&self.binary);
        command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.store.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log);
        if let Some((user, password)) = &self.auth {
            command.args(["--user", user, "--pass", password]);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
        self.wait_until_accepting();
    }

    fn wait_until_accepting(&mut self) {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || started.elapsed() > START_TIMEOUT {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                self.stop();
                panic!(
                    "nats-server on port {} did not start ({}); its log:\n{log}",
                    self.port,
                    exited.map_or("no answer in time".to_string(), |s| format!(
                        "it exited: {s}"
                    ))
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on now: the OS picks one, the listener is
/// dropped, and the server binds it right after.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// `NATS_SERVER`, else `nats-server` on PATH, else Debian's /usr/sbin (not
/// on a non-root PATH). None, after saying so, when there is none.
fn find_binary() -> Option<PathBuf> {
    let from_env = std::env::var_os("NATS_SERVER").map(PathBuf::from);
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("nats-server"));
    if let Some(found) = from_env.into_iter().chain(on_path).find(|p| p.is_file()) {
        return Some(found);
    }
    let message = "nats-server not found (apt-get install nats-server, or set NATS_SERVER)";
    if std::env::var_os("CI").is_some() {
        panic!("{message}: the NATS sink's tests need it in CI (scripts/setup.sh installs it)");
    }
    // Written to stderr itself, not with eprintln!, which the test harness
    // captures and hides for a test that passes.
    let _ = writeln!(
        std::io::stderr(),
        "\n******** SKIPPED: {message} ********\n"
    );
    None
}

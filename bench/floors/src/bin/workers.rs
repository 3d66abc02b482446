//! What engine worker processes cost: an engine in this process against
//! one whose calls run in a worker process (`Engine::start_in_workers`,
//! this same binary as the worker, as `runtime serve` runs itself), side
//! by side in one run, rounds alternating. Prints a markdown table for
//! docs/benchmarks.md ("Engine worker processes").
//!
//!   cargo run --release -p bench-floors --bin workers [ROUNDS]
//!
//! Measured: cold (start the engine and answer the first call: in a
//! worker that is spawning it, hardening it and its first runtime), a
//! warm call of a constant function, a warm call making one apiClient GET
//! to a keep-alive server on loopback (in a worker the request crosses to
//! this process and back), and a call returning ~1 MB of JSON; the
//! worker's resident memory.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_api_client::HttpClient;
use runtime_engine::{Call, Engine, EngineConfig, FunctionFile, Limits, WorkerOptions};
use serde_json::json;

const WORKER_ARG: &str = "__engine-worker";

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(WORKER_ARG) {
        return runtime_engine::worker_main();
    }
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(run(rounds));
    ExitCode::SUCCESS
}

fn connector() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bench-workers-{}", std::process::id()));
    for (path, text) in [
        (
            "auth/make-api-client.js",
            "export default function makeApiClient({ parameters }) { return { baseUri: parameters.baseUri } }\n",
        ),
        ("data/constant.js", "export default function constant() { return { ok: true } }\n"),
        (
            "data/fetch.js",
            "export default async function fetch({ apiClient }) { return await apiClient.get('/item') }\n",
        ),
        (
            "data/big.js",
            "export default function big() {\n  const note = 'x'.repeat(900)\n  const records = []\n  for (let i = 0; i < 1000; i++) records.push({ id: 'r' + i, name: 'Record ' + i, note })\n  return { records }\n}\n",
        ),
    ] {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("a directory");
        std::fs::write(file, text).expect("a connector file");
    }
    std::fs::canonicalize(dir).expect("the connector")
}

/// A keep-alive HTTP server on loopback answering every request with a
/// small JSON object.
fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut out = stream.try_clone().expect("a stream");
                let mut reader = BufReader::new(stream);
                let body = r#"{"id":"item-1","name":"An item","tags":["a","b"]}"#;
                loop {
                    let mut line = String::new();
                    // The request line and headers, up to the blank line.
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if out.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn config(root: &Path) -> EngineConfig {
    EngineConfig {
        name: "bench".into(),
        root: root.to_path_buf(),
        limits: Limits::default(),
        http: Arc::default(),
        client: HttpClient::new().expect("an HTTP client"),
        spec_base_uri: None,
        allowed_hosts: Arc::new(vec![]),
        make_api_client: Some(FunctionFile {
            path: root.join("auth/make-api-client.js"),
            rel: "auth/make-api-client.js".into(),
            export: "makeApiClient".into(),
        }),
        refresh_credentials: None,
        oauth_config: None,
    }
}

fn call(root: &Path, name: &str, base: &str) -> Call {
    Call {
        function: FunctionFile {
            path: root.join(format!("data/{name}.js")),
            rel: format!("data/{name}.js"),
            export: name.into(),
        },
        collection: None,
        input: json!({}),
        credentials: json!({}),
        connector_parameters: json!({ "baseUri": base }),
        records: Default::default(),
        tenant: None,
    }
}

#[derive(Default)]
struct Figures {
    cold: Vec<Duration>,
    constant: Vec<Duration>,
    fetch: Vec<Duration>,
    big: Vec<Duration>,
    rss_kib: Vec<u64>,
}

#[derive(Clone, Copy, PartialEq)]
enum Home {
    InProcess,
    Worker,
    /// A worker without its seccomp filter and Landlock: what they cost.
    Unhardened,
}

fn start(root: &Path, home: Home) -> Engine {
    if home == Home::InProcess {
        return Engine::start(config(root)).expect("an engine");
    }
    let program = std::env::current_exe().expect("this binary");
    let mut options = WorkerOptions::new(program, vec![WORKER_ARG.into()]);
    if home == Home::Unhardened {
        options.seccomp = false;
        options.landlock = false;
    }
    Engine::start_in_workers(config(root), options).expect("an engine in workers")
}

async fn timed(e: &Engine, c: &Call, n: usize, into: &mut Vec<Duration>) {
    for _ in 0..n {
        let t = Instant::now();
        let out = e.call_raw(c.clone()).await.expect("a call");
        std::hint::black_box(out.text().len());
        into.push(t.elapsed());
    }
}

async fn measure(root: &Path, base: &str, home: Home, f: &mut Figures) {
    let t = Instant::now();
    let e = start(root, home);
    e.call(call(root, "constant", base))
        .await
        .expect("the first call");
    f.cold.push(t.elapsed());
    let (constant, fetch, big) = (
        call(root, "constant", base),
        call(root, "fetch", base),
        call(root, "big", base),
    );
    timed(&e, &constant, 200, &mut Vec::new()).await;
    timed(&e, &constant, 5000, &mut f.constant).await;
    timed(&e, &fetch, 50, &mut Vec::new()).await;
    timed(&e, &fetch, 2000, &mut f.fetch).await;
    timed(&e, &big, 10, &mut Vec::new()).await;
    timed(&e, &big, 200, &mut f.big).await;
    if let Some(pid) = e.worker_pids().first() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(kib) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        {
            f.rss_kib.push(kib);
        }
    }
}

fn quantile(v: &[Duration], q: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v.get(((v.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or_default()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn run(rounds: usize) {
    let root = connector();
    let base = server();
    let (mut here, mut there, mut bare) =
        (Figures::default(), Figures::default(), Figures::default());
    for round in 0..rounds {
        // Rotate which goes first.
        let mut order = [Home::InProcess, Home::Worker, Home::Unhardened];
        order.rotate_left(round % 3);
        for home in order {
            let into = match home {
                Home::InProcess => &mut here,
                Home::Worker => &mut there,
                Home::Unhardened => &mut bare,
            };
            measure(&root, &base, home, into).await;
        }
    }
    let row = |what: &str, pick: fn(&Figures) -> &[Duration], q: f64, unit_ms: bool| {
        let (a, b, c) = (
            quantile(pick(&here), q),
            quantile(pick(&there), q),
            quantile(pick(&bare), q),
        );
        let scale = if unit_ms { 1000.0 } else { 1.0 };
        let unit = if unit_ms { "ms" } else { "µs" };
        let (fa, fb, fc) = (us(a) / scale, us(b) / scale, us(c) / scale);
        println!(
            "| {what} | {fa:.1} {unit} | {fb:.1} {unit} | {:.2}x | {:+.1} {unit} | {fc:.1} {unit} |",
            fb / fa,
            fb - fa
        );
    };
    println!("| measure | in process | in a worker | worker / in process | difference | worker without seccomp and Landlock |");
    println!("|---|---|---|---|---|---|");
    row(
        &format!("cold: start the engine and answer a first call (median of {rounds})"),
        |f| &f.cold,
        0.5,
        true,
    );
    row("warm constant call, median", |f| &f.constant, 0.5, false);
    row("warm constant call, p99", |f| &f.constant, 0.99, false);
    row(
        "warm call with one apiClient GET (loopback), median",
        |f| &f.fetch,
        0.5,
        false,
    );
    row(
        "warm call with one apiClient GET, p99",
        |f| &f.fetch,
        0.99,
        false,
    );
    row("call returning 1 MB of JSON, median", |f| &f.big, 0.5, true);
    let mut rss = there.rss_kib.clone();
    rss.sort();
    if let Some(kib) = rss.get(rss.len() / 2) {
        println!();
        println!(
            "worker RSS after the run (one runtime): {:.1} MiB",
            *kib as f64 / 1024.0
        );
    }
    let mut rss = bare.rss_kib.clone();
    rss.sort();
    if let Some(kib) = rss.get(rss.len() / 2) {
        println!(
            "unhardened worker RSS after the run: {:.1} MiB",
            *kib as f64 / 1024.0
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

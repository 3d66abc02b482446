//! `mock-api`: the mock upstream API in the foreground, for demos and
//! benchmarks. Prints its URL on stdout, then serves until killed.

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use mock_api::{MockApi, MockOptions};

#[derive(Parser)]
#[command(about = "A mock upstream API on 127.0.0.1 for demos and benchmarks")]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Records to create at start.
    #[arg(long, default_value_t = 0)]
    seed: usize,
    /// Collection that --seed and --churn-ms act on.
    #[arg(long, default_value = "contacts")]
    collection: String,
    /// Make one random create/update/delete every this many milliseconds.
    #[arg(long)]
    churn_ms: Option<u64>,
    /// Require `Authorization: Bearer <token>`.
    #[arg(long)]
    require_auth: bool,
    /// The accepted bearer token.
    #[arg(long, default_value = "test-token")]
    token: String,
    #[arg(long, default_value_t = 10)]
    page_size: usize,
    /// Sign webhook deliveries with this secret.
    #[arg(long)]
    webhook_secret: Option<String>,
    /// Server worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Answer 429 (Retry-After: 1) over this many requests in any one second.
    #[arg(long)]
    rate_limit: Option<usize>,
}

fn main() {
    let args = Args::parse();
    let opts = MockOptions {
        port: args.port,
        require_auth: args.require_auth,
        token: args.token.clone(),
        page_size: args.page_size.max(1),
        webhook_secret: args.webhook_secret.clone(),
        worker_threads: args.threads.max(1),
        max_recorded_requests: 10_000,
        rate_limit_per_second: args.rate_limit,
        ..MockOptions::default()
    };
    let api = match MockApi::try_start_with(opts) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    api.seed(&args.collection, args.seed);
    println!("{}", api.base_url());
    // A demo script reads the URL through a pipe; do not leave it buffered.
    let _ = std::io::stdout().flush();
    match args.churn_ms {
        Some(ms) => churn(&api, &args.collection, Duration::from_millis(ms.max(1))),
        None => loop {
            std::thread::park();
        },
    }
}

fn churn(api: &MockApi, collection: &str, every: Duration) -> ! {
    loop {
        std::thread::sleep(every);
        api.random_change(collection);
    }
}

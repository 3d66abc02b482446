//! `bench-upstream --port P --records N`: serves `GET /items?cursor=N`,
//! `GET /latest` and `POST /admin/change?percent=P&seed=S` on 127.0.0.1
//! until killed, and prints `listening on http://...` when ready.

use std::io::Write;

use clap::Parser;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Records in total.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    #[arg(long, default_value_t = bench_upstream::DEFAULT_PAGE_SIZE)]
    page_size: usize,
    /// Records on the one page of `GET /latest`.
    #[arg(long, default_value_t = bench_upstream::DEFAULT_LATEST_RECORDS)]
    latest_records: usize,
    /// Tokio worker threads; 1 leaves the other core to the client measured.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let upstream = bench_upstream::Upstream::new(args.records, args.page_size)
        .with_latest(args.latest_records);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
        let addr = listener.local_addr()?;
        let mut out = std::io::stdout();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
        bench_upstream::serve(listener, upstream).await?;
        Ok(())
    })
}

//! `bench-reqwest BASE_URL`: pages through `BASE_URL/items` with plain
//! reqwest and serde_json and prints the record count: the physical limit
//! of the apiClient path. Prints `parse_ms=N` on stderr: the part of the
//! time spent in serde_json.

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The upstream, e.g. http://127.0.0.1:8080
    base_url: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (count, parsing) = rt.block_on(async {
        let client = reqwest::Client::builder().build()?;
        let base = args.base_url.trim_end_matches('/');
        Ok::<_, Box<dyn std::error::Error>>(bench_upstream::list_all_timed(&client, base).await?)
    })?;
    println!("{count}");
    eprintln!("parse_ms={}", parsing.as_millis());
    Ok(())
}

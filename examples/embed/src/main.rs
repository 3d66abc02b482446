//! `cargo run -p embed-example`: runs [`embed_example::run`] on
//! `examples/pull-latest-records` with a temporary data dir and prints
//! each cycle's events as JSON lines.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let events = embed_example::run(
        embed_example::example_connector(),
        embed_example::COLLECTION,
        data.path(),
    )
    .await?;
    println!("{} event(s) in all", events.len());
    Ok(())
}

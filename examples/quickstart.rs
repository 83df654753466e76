//! The seed scenario: a service `orders` handling requests, each in a span carrying `trace_id`
//! and `user_id`, logging events with fields. The file is kept small (64 KiB) so the run shows a
//! few rotations; the program prints where the files are.
//!
//! Run it with `cargo run --example quickstart`; settings come from the environment as in
//! production (`LOGWARDEN_DIR`, `LOGWARDEN_MAX_BYTES`, `RUST_LOG`, …).

use std::time::Instant;

fn main() -> Result<(), logwarden::Error> {
    let guard = logwarden::builder()
        .service("orders")
        .env("demo")
        .dir("logs")
        .max_bytes(64 * 1024)
        .keep(3)
        .from_env() // the environment overrides the demo's defaults above
        .init()?;

    let started = Instant::now();
    let requests = 2_000u64;
    for n in 0..requests {
        let trace_id = format!(
            "{:032x}",
            0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736u128 + u128::from(n)
        );
        let request = tracing::info_span!("request", %trace_id, method = "POST", path = "/orders");
        let _request = request.enter();
        let payment = tracing::info_span!("payment", user_id = 1_000 + n % 17);
        let _payment = payment.enter();

        tracing::info!(
            items = n % 5 + 1,
            total = 19.99 * ((n % 5 + 1) as f64),
            "order placed"
        );
        tracing::debug!(cache = "miss", "filtered out at the default `info` level");
        if n % 250 == 249 {
            tracing::error!(
                provider = "acme-pay",
                status = 502,
                "payment provider failed"
            );
        }
    }
    let elapsed = started.elapsed();

    assert!(
        guard.flush(),
        "the writer did not catch up within the shutdown timeout"
    );
    let stats = guard.stats();
    let active = guard.log_path().expect("records go to a file");
    println!("logged {requests} requests in {elapsed:.2?}");
    println!("active file: {}", active.display());
    let dir = active.parent().expect("a file has a directory");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in &files {
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        println!("  {} ({size} bytes)", f.display());
    }
    println!(
        "rotations: {}, lines dropped: {}, lines lost: {}",
        stats.rotations, stats.lines_dropped, stats.lines_lost
    );
    println!("try: tail -n 2 {}", active.display());
    Ok(())
}

//! How fast the `logwarden` command reads logs (the aim: a gigabyte in seconds), in MB/s of
//! uncompressed log, side by side in one run with what a user would otherwise reach for:
//!
//! * `logwarden incidents --json` on a plain file and on the same file gzipped: every line
//!   parsed, the threshold engine replayed, events per minute and top errors counted;
//! * `jq -c 'select(.level == "ERROR")'`, the usual ad-hoc way to pick errors out of a JSON log
//!   (skipped, and said so, when jq is not installed).
//!
//! The log is written by the library itself (the `init()` stack, default record layout), so it is
//! the real thing: spans with `trace_id`, fields, one error per 100 events in bursts.
//!
//! `cargo bench --features cli --bench read` (full run); `… -- --test` (smoke: each once).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput};

/// About 48 MB of log: big enough that process start-up is noise, small enough for CI's smoke run.
const REQUESTS: u64 = 16_000;

fn write_log(dir: &Path) -> PathBuf {
    let clock =
        logwarden::testing::ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_796_032_800));
    let (subscriber, guard) = logwarden::builder()
        .service("orders")
        .env("production")
        .dir(dir)
        .max_bytes(None)
        .capture_log(false)
        .alerts(false)
        .clock(clock.clone())
        .subscriber()
        .expect("logwarden builds in a temp dir");
    tracing::subscriber::with_default(subscriber, || {
        for n in 0..REQUESTS {
            clock.advance(Duration::from_millis(37));
            let request = tracing::info_span!(
                "request",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                method = "POST",
                path = "/api/v1/orders"
            );
            let _request = request.enter();
            for i in 0..10u64 {
                tracing::info!(
                    items = n + i,
                    total = 59.9_f64,
                    user_id = n % 977,
                    "order placed"
                );
                if n % 50 == 0 {
                    tracing::warn!(latency_ms = 950 + i, "slow payment provider");
                }
                // Bursts: every 400th request fails ten times in a row.
                if n % 400 < 10 && i == 0 {
                    tracing::error!(code = 502_u64, "payment provider failed");
                }
            }
        }
    });
    assert!(guard.flush());
    guard.log_path().expect("a file").to_owned()
}

fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write_log(dir.path());
    let bytes = std::fs::metadata(&plain).unwrap().len();
    let gz_dir = tempfile::tempdir().unwrap();
    let gz = gz_dir.path().join("orders.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&std::fs::read(&plain).unwrap()).unwrap();
    enc.finish().unwrap();
    let bin = env!("CARGO_BIN_EXE_logwarden");
    let (plain_s, gz_s) = (plain.to_str().unwrap(), gz.to_str().unwrap());
    assert!(
        run(bin, &["incidents", "--json", plain_s]),
        "logwarden reads the log"
    );
    println!(
        "log: {:.1} MB, {} lines",
        bytes as f64 / 1e6,
        std::fs::read(&plain)
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    );

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("logwarden incidents", |b| {
        b.iter(|| assert!(run(bin, &["incidents", "--json", plain_s])))
    });
    group.bench_function("logwarden incidents (gz)", |b| {
        b.iter(|| assert!(run(bin, &["incidents", "--json", gz_s])))
    });
    if run("jq", &["--version"]) {
        group.bench_function("jq select errors", |b| {
            b.iter(|| assert!(run("jq", &["-c", r#"select(.level == "ERROR")"#, plain_s])))
        });
    } else {
        println!("jq is not installed: its comparison is skipped");
    }
    group.finish();
    c.final_summary();
}

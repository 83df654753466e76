//! How fast the `logwarden` command reads logs (the aim: a gigabyte in seconds), in MB/s of
//! uncompressed log, side by side in one run with a physical floor and with what a user would
//! otherwise reach for:
//!
//! * `logwarden incidents --json` on a plain file and on the same file gzipped: every line
//!   parsed, the threshold engine replayed, events per minute and top errors counted;
//! * a plain read of the same file, in this process through a 1 MiB buffer: the floor, what
//!   getting the bytes from the page cache costs with no work done on them;
//! * `rg -c '"ERROR"'`, ripgrep counting the lines that hold `"ERROR"`: the fastest text search
//!   there is, no JSON parsing (skipped, and said so, when ripgrep is not installed);
//! * `jq -c 'select(.level == "ERROR")'`, the usual ad-hoc way to pick errors out of a JSON log
//!   (skipped, and said so, when jq is not installed).
//!
//! After criterion's own lines, a table: each contender's median time per pass over its
//! samples, its MB/s and its speed as a multiple of `logwarden incidents` on the plain file.
//! The contenders run one after another in the same run, so the ratios, not the absolute times,
//! are the figures to compare across machines (or on a busy one).
//!
//! The log is written by the library itself (the `init()` stack, default record layout), so it is
//! the real thing: spans with `trace_id`, fields, one error per 100 events in bursts.
//!
//! `cargo bench --features cli --bench read` (full run); `… -- --test` (smoke: each once, and the
//! table from that single pass, which is no measurement).

use std::cell::RefCell;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use criterion::{Bencher, Criterion, Throughput};

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

/// Each contender's passes: (passes, the time they took), one per call of its routine.
type Timings = RefCell<Vec<(&'static str, Vec<(u64, Duration)>)>>;

/// A routine for criterion that runs `pass` and keeps what each call took in `timings`.
fn timed<'a>(
    timings: &'a Timings,
    name: &'static str,
    pass: &'a dyn Fn(),
) -> impl FnMut(&mut Bencher<'_>) + 'a {
    move |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                pass();
            }
            let took = start.elapsed();
            let mut t = timings.borrow_mut();
            match t.iter_mut().find(|(n, _)| *n == name) {
                Some((_, samples)) => samples.push((iters, took)),
                None => t.push((name, vec![(iters, took)])),
            }
            took
        })
    }
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
    let timings = Timings::default();
    const LOGWARDEN: &str = "logwarden incidents";
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function(
        LOGWARDEN,
        timed(&timings, LOGWARDEN, &|| {
            assert!(run(bin, &["incidents", "--json", plain_s]))
        }),
    );
    group.bench_function(
        "logwarden incidents (gz)",
        timed(&timings, "logwarden incidents (gz)", &|| {
            assert!(run(bin, &["incidents", "--json", gz_s]))
        }),
    );
    let mut buf = vec![0u8; 1 << 20];
    let buf = RefCell::new(&mut buf[..]);
    group.bench_function(
        "plain read (floor)",
        timed(&timings, "plain read (floor)", &|| {
            let mut buf = buf.borrow_mut();
            let mut file = std::fs::File::open(&plain).unwrap();
            let mut total = 0u64;
            loop {
                match file.read(&mut buf).unwrap() {
                    0 => break,
                    n => total += n as u64,
                }
            }
            assert_eq!(total, bytes);
        }),
    );
    let mut skipped = Vec::new();
    if run("rg", &["--version"]) {
        group.bench_function(
            "rg -c ERROR",
            timed(&timings, "rg -c ERROR", &|| {
                assert!(run("rg", &["-c", r#""ERROR""#, plain_s]))
            }),
        );
    } else {
        skipped.push("ripgrep (rg) is not installed: its comparison is skipped");
        println!("{}", skipped[skipped.len() - 1]);
    }
    if run("jq", &["--version"]) {
        group.bench_function(
            "jq select errors",
            timed(&timings, "jq select errors", &|| {
                assert!(run("jq", &["-c", r#"select(.level == "ERROR")"#, plain_s]))
            }),
        );
    } else {
        skipped.push("jq is not installed: its comparison is skipped");
        println!("{}", skipped[skipped.len() - 1]);
    }
    group.finish();
    c.final_summary();

    // The median of each contender's per-pass times, over every call of its routine (warm-up
    // included): a median is not moved by an odd slow pass on a busy machine.
    let medians: Vec<(&str, f64)> = timings
        .borrow()
        .iter()
        .map(|(name, samples)| {
            let mut per: Vec<f64> = samples
                .iter()
                .map(|(n, t)| t.as_secs_f64() / *n as f64)
                .collect();
            per.sort_by(f64::total_cmp);
            (*name, per[per.len() / 2])
        })
        .collect();
    if medians.is_empty() {
        return;
    }
    let smoke = std::env::args().any(|a| a == "--test");
    println!(
        "\nread {:.1} MB{}:",
        bytes as f64 / 1e6,
        if smoke {
            " (smoke run: one pass each, not a measurement)"
        } else {
            ", median of each contender's passes, in one run"
        }
    );
    let reference = medians.iter().find(|(n, _)| *n == LOGWARDEN).map(|m| m.1);
    println!(
        "  {:<26} {:>9} {:>9} {:>16}",
        "contender", "s/pass", "MB/s", "vs logwarden"
    );
    for (name, secs) in &medians {
        let ratio = reference.map_or_else(|| "-".to_owned(), |r| format!("{:.2}x", r / secs));
        println!(
            "  {name:<26} {secs:>9.3} {:>9.0} {ratio:>16}",
            bytes as f64 / 1e6 / secs
        );
    }
    for s in &skipped {
        println!("  {s}");
    }
}

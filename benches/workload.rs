//! The request workload of issue 7, identical for every stack, in one run:
//!
//! per request, a `request` span (`trace_id` as 32 hex characters, `method`) containing a
//! `payment` span (`user_id`), ten `info!` events with an integer, a float and a message, one
//! `error!` per 100 requests, and one filtered-out `debug!` per event; filter `info`.
//!
//! * Caller cost (ns per event = time per request ÷ 10), by criterion and then in alternating
//!   rounds for the ratios: logwarden's whole stack (`builder().subscriber()`, what `init()`
//!   installs: rotating file, redaction defaults, alert layer, no webhook) against the usual
//!   stack (tracing-subscriber JSON with `with_current_span` + `with_span_list` → lossless
//!   `tracing_appender::non_blocking` → file); and the JSON layers alone into `io::sink`.
//! * End-to-end throughput (timed runs, not criterion): lines per second reaching the file with 1
//!   and 2 producer threads, lossless, from the first event until every line is on disk; every
//!   line is then counted in the files.
//!
//! `cargo bench --bench workload` (full run, about three minutes);
//! `cargo bench --bench workload -- --test` (smoke: every benchmark once, a short throughput run).

use std::io::{self, BufRead};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

#[path = "stacks/mod.rs"]
mod stacks;

use criterion::Criterion;
use tracing::Subscriber;

const EVENTS_PER_REQUEST: u64 = 10;

/// One request of the workload; `n` is the request's number.
#[inline(always)]
fn request(n: u64) {
    let request = tracing::info_span!(
        "request",
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
        method = "POST"
    );
    let _request = request.enter();
    let payment = tracing::info_span!("payment", user_id = 4242_u64 + n % 7);
    let _payment = payment.enter();
    for i in 0..EVENTS_PER_REQUEST {
        tracing::info!(items = n + i, total = 59.9_f64, "order placed");
        tracing::debug!(step = i, "filtered out");
    }
    if n.is_multiple_of(100) {
        tracing::error!(code = 502_u64, "payment provider failed");
    }
}

/// The whole logwarden stack writing to `dir`: the subscriber `init()` installs (no webhook).
fn logwarden_stack(dir: &Path) -> (impl Subscriber + Send + Sync, logwarden::Guard) {
    logwarden::builder()
        .service("orders")
        .dir(dir)
        .max_bytes(256 << 20)
        .capture_log(false)
        .subscriber()
        .expect("logwarden builder")
}

/// The usual stack writing to `dir/usual.log`.
fn usual_stack(dir: &Path) -> (impl Subscriber + Send + Sync, impl Drop) {
    let appender = tracing_appender::rolling::never(dir, "usual.log");
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(appender);
    (stacks::ts_json(writer), guard)
}

fn bench_one<S: Subscriber + Send + Sync + 'static>(
    c: &mut Criterion,
    group: &str,
    id: &str,
    s: S,
) {
    tracing::subscriber::with_default(s, || {
        let mut g = c.benchmark_group(group);
        g.throughput(criterion::Throughput::Elements(EVENTS_PER_REQUEST));
        let mut n = 0;
        g.bench_function(id, |b| {
            b.iter(|| {
                n += 1;
                request(n);
            })
        });
        g.finish();
    });
}

/// Lines on disk in every file of `dir` (rotated ones included).
fn lines_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let f = std::fs::File::open(e.expect("entry").path()).expect("open");
            io::BufReader::with_capacity(1 << 20, f).lines().count() as u64
        })
        .sum()
}

/// Runs `requests` requests on each of `producers` threads under a global-like shared subscriber,
/// then `finish` (flush and stop the writer). Returns lines per second, counted in the files.
fn throughput<S, G>(
    producers: u64,
    requests: u64,
    dir: &Path,
    stack: impl FnOnce(&Path) -> (S, G),
    finish: impl FnOnce(G),
) -> f64
where
    S: Subscriber + Send + Sync + 'static,
{
    let (subscriber, guard) = stack(dir);
    let dispatch = tracing::Dispatch::new(subscriber);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for p in 0..producers {
            let dispatch = dispatch.clone();
            scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for n in 0..requests {
                        request(p * requests + n);
                    }
                })
            });
        }
    });
    finish(guard);
    let elapsed = start.elapsed();
    drop(dispatch);
    let expected = producers * (requests * EVENTS_PER_REQUEST + requests.div_ceil(100));
    let found = lines_in(dir);
    // logwarden also writes its own alert records (no webhook: the alert goes to the log).
    assert!(
        found >= expected,
        "{found} lines on disk, {expected} events logged: lines were lost"
    );
    expected as f64 / elapsed.as_secs_f64()
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
        .without_plots()
        .configure_from_args();
    let smoke = std::env::args().any(|a| a == "--test" || a == "--list");
    let started = SystemTime::now();

    bench_one(
        &mut c,
        "workload-sink",
        "logwarden-json-layer",
        stacks::logwarden(io::sink),
    );
    bench_one(
        &mut c,
        "workload-sink",
        "ts-json",
        stacks::ts_json(io::sink),
    );
    bench_one(&mut c, "workload-sink", "bunyan", stacks::bunyan(io::sink));
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let (s, guard) = logwarden_stack(dir.path());
        bench_one(&mut c, "workload-file", "logwarden-init-stack", s);
        drop(guard);
    }
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let (s, guard) = usual_stack(dir.path());
        bench_one(&mut c, "workload-file", "usual-stack", s);
        drop(guard);
    }
    c.final_summary();
    print_criterion_medians(started);
    if smoke {
        alternating(2, 50);
    } else {
        alternating(21, 3_000);
    }

    let requests = if smoke { 2_000 } else { 50_000 };
    println!("\nEnd-to-end, lines/s reaching the file (lossless, every line counted on disk):");
    for producers in [1, 2] {
        let per = requests / producers;
        let mut ours = Vec::new();
        let mut usual = Vec::new();
        // Alternating rounds; the median of each.
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            ours.push(throughput(
                producers,
                per,
                dir.path(),
                logwarden_stack,
                |g| {
                    assert!(g.flush(), "flush timed out");
                    drop(g);
                },
            ));
            let dir = tempfile::tempdir().expect("temp dir");
            usual.push(throughput(producers, per, dir.path(), usual_stack, drop));
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (o, u) = (median(&mut ours), median(&mut usual));
        println!(
            "  {producers} producer(s): logwarden {:.2} M/s, usual stack {:.2} M/s, ratio {:.1}×",
            o / 1e6,
            u / 1e6,
            o / u
        );
    }
}

/// Criterion's medians for this run, as ns per event (each contender measured in its own
/// stretch of time: on a shared VM the speed drifts between stretches, so the ratios come from
/// [`alternating`]).
fn print_criterion_medians(since: SystemTime) {
    let root = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion");
    let median = |group: &str, id: &str| -> Option<f64> {
        let path = root.join(group).join(id).join("new").join("estimates.json");
        let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        fresh
            .then(|| v["median"]["point_estimate"].as_f64())?
            .map(|ns| ns / EVENTS_PER_REQUEST as f64)
    };
    println!("\nCriterion medians, caller ns per event:");
    for (group, id) in [
        ("workload-sink", "logwarden-json-layer"),
        ("workload-sink", "ts-json"),
        ("workload-sink", "bunyan"),
        ("workload-file", "logwarden-init-stack"),
        ("workload-file", "usual-stack"),
    ] {
        match median(group, id) {
            Some(ns) => println!("  {:<40} {ns:>8.1}", format!("{group}/{id}")),
            None => println!("  {group}/{id}: no fresh estimate (smoke mode)"),
        }
    }
}

/// Caller cost in alternating rounds: every round runs each stack for `requests` requests, one
/// after the other, so that the machine's drift hits them alike; a ratio is taken within each
/// round and the median over rounds reported, with the spread. The first round warms up.
fn alternating(rounds: usize, requests: u64) {
    let file_dirs = [
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    ];
    let (ours, ours_guard) = logwarden_stack(file_dirs[0].path());
    let (usual, usual_guard) = usual_stack(file_dirs[1].path());
    let stacks = [
        (
            "JSON layer -> sink",
            tracing::Dispatch::new(stacks::logwarden(io::sink)),
        ),
        (
            "ts JSON -> sink",
            tracing::Dispatch::new(stacks::ts_json(io::sink)),
        ),
        (
            "bunyan -> sink",
            tracing::Dispatch::new(stacks::bunyan(io::sink)),
        ),
        ("init() stack -> file", tracing::Dispatch::new(ours)),
        ("usual stack -> file", tracing::Dispatch::new(usual)),
    ];
    let mut ns = vec![Vec::new(); stacks.len()];
    let mut n = 0;
    for round in 0..=rounds {
        for (i, (_, dispatch)) in stacks.iter().enumerate() {
            let start = Instant::now();
            tracing::dispatcher::with_default(dispatch, || {
                for _ in 0..requests {
                    n += 1;
                    request(n);
                }
            });
            let per_event =
                start.elapsed().as_nanos() as f64 / (requests * EVENTS_PER_REQUEST) as f64;
            if round > 0 {
                ns[i].push(per_event);
            }
        }
    }
    drop(ours_guard);
    drop(usual_guard);
    let summary = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let q = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
        (q(0.5), q(0.25), q(0.75))
    };
    println!("\nAlternating rounds ({rounds} rounds of {requests} requests per stack), caller ns per event:");
    for ((name, _), v) in stacks.iter().zip(&ns) {
        let (m, lo, hi) = summary(v.clone());
        println!("  {name:<24} median {m:>8.1}  (quartiles {lo:.1}-{hi:.1})");
    }
    println!("Ratios, median of per-round ratios (quartiles); < 1: logwarden is cheaper:");
    for (a, b, label, target) in [
        (3, 4, "init() stack / usual stack", "0.15"),
        (0, 1, "JSON layer / ts JSON", "0.15"),
        (0, 2, "JSON layer / bunyan", "0.30"),
    ] {
        let ratios: Vec<f64> = ns[a].iter().zip(&ns[b]).map(|(x, y)| x / y).collect();
        let (m, lo, hi) = summary(ratios);
        println!("  {label:<28} {m:.3}  ({lo:.3}-{hi:.3})  target <= {target}");
    }
}

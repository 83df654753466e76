//! The request workload, identical for every stack, in one run:
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
//! * End-to-end throughput (timed runs, not criterion): lines per second reaching the file with 1,
//!   2, 4 and 8 producer threads, lossless, from the first event until every line is on disk; every
//!   line is then counted in the files.
//!
//! `cargo bench --bench workload` (full run, about three minutes);
//! `cargo bench --bench workload -- --test` (smoke: every benchmark once, a short throughput run);
//! `WORKLOAD_PART=caller` or `WORKLOAD_PART=throughput` runs one half;
//! `WORKLOAD_PART=instructions` a fixed run for callgrind (see [`instructions`]);
//! `WORKLOAD_PRODUCERS=4 WORKLOAD_STACK=init` one throughput point of one stack, for a profiler.

use std::io::{self, BufRead};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

#[path = "stacks/mod.rs"]
mod stacks;

use criterion::Criterion;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::layer::SubscriberExt;

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

/// The whole logwarden stack writing to `dir`: the subscriber `init()` installs (no webhook),
/// with the default rotation (10 MiB files, 5 kept), whose cost is part of what is measured.
/// The bounded retention also keeps the disk out of the measurement: rotated files are deleted
/// before the kernel writes them back, so sustained runs are not throttled by a slow VM disk.
fn logwarden_stack(dir: &Path) -> (impl Subscriber + Send + Sync, logwarden::Guard) {
    logwarden_stack_with(dir, |b| b)
}

/// [`logwarden_stack`] with settings changed.
fn logwarden_stack_with(
    dir: &Path,
    configure: impl FnOnce(logwarden::Builder) -> logwarden::Builder,
) -> (impl Subscriber + Send + Sync, logwarden::Guard) {
    configure(
        logwarden::builder()
            .service("orders")
            .dir(dir)
            .capture_log(false),
    )
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

/// The workload's lines on disk in every file of `dir` (rotated ones included): lines with its
/// target, so that logwarden's own records (an alert, with no webhook, goes to the log) are not
/// counted and a lost line cannot hide behind one.
fn lines_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let f = std::fs::File::open(e.expect("entry").path()).expect("open");
            io::BufReader::with_capacity(1 << 20, f)
                .lines()
                .filter(|l| l.as_ref().expect("read").contains(r#""target":"workload""#))
                .count() as u64
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
    // Producers' request numbers tile 0..producers * requests; one error per multiple of 100.
    let all = producers * requests;
    let expected = all * EVENTS_PER_REQUEST + all.div_ceil(100);
    let found = lines_in(dir);
    assert_eq!(
        found, expected,
        "the workload's lines on disk against its events: none lost, none twice"
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
    // `WORKLOAD_PART=caller` or `throughput` runs one half only; `instructions`, a fixed run
    // for callgrind.
    let part = std::env::var("WORKLOAD_PART").unwrap_or_default();
    match part.as_str() {
        "instructions" => return instructions(),
        "" | "caller" | "throughput" => {}
        other => panic!("WORKLOAD_PART={other}: one of caller, throughput, instructions"),
    }
    if part != "throughput" {
        caller(&mut c, smoke, started);
    }
    if part != "caller" {
        end_to_end(smoke);
    }
}

/// `WORKLOAD_STACK` (`init`, `usual`, `layer`, `ts-json`) runs `WORKLOAD_REQUESTS` requests on
/// the main thread and stops: run it under `valgrind --tool=callgrind --separate-threads=yes` at
/// two request counts, and the difference of the main thread's totals divided by the difference
/// of events is the caller's instructions per event, start and stop cancelled out.
fn instructions() {
    let requests: u64 = std::env::var("WORKLOAD_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let stack = std::env::var("WORKLOAD_STACK").unwrap_or_else(|_| "init".into());
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |d: Dispatch| {
        tracing::dispatcher::with_default(&d, || (0..requests).for_each(request));
    };
    match stack.as_str() {
        "init" => {
            let (s, guard) = logwarden_stack(dir.path());
            run(Dispatch::new(s));
            drop(guard);
        }
        "usual" => {
            let (s, guard) = usual_stack(dir.path());
            run(Dispatch::new(s));
            drop(guard);
        }
        "layer" => run(Dispatch::new(stacks::logwarden(io::sink))),
        "ts-json" => run(Dispatch::new(stacks::ts_json(io::sink))),
        other => panic!("WORKLOAD_STACK={other}: one of init, usual, layer, ts-json"),
    }
}

fn caller(c: &mut Criterion, smoke: bool, started: SystemTime) {
    bench_one(
        c,
        "workload-sink",
        "logwarden-json-layer",
        stacks::logwarden(io::sink),
    );
    bench_one(c, "workload-sink", "ts-json", stacks::ts_json(io::sink));
    bench_one(c, "workload-sink", "bunyan", stacks::bunyan(io::sink));
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let (s, guard) = logwarden_stack(dir.path());
        bench_one(c, "workload-file", "logwarden-init-stack", s);
        drop(guard);
    }
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let (s, guard) = usual_stack(dir.path());
        bench_one(c, "workload-file", "usual-stack", s);
        drop(guard);
    }
    c.final_summary();
    print_criterion_medians(started);
    if smoke {
        alternating(2, Duration::from_millis(5));
    } else {
        alternating(21, Duration::from_millis(200));
    }
}

fn end_to_end(smoke: bool) {
    let requests = if smoke { 2_000 } else { 60_000 };
    println!("\nEnd-to-end, lines/s reaching the file (lossless, every line counted on disk):");
    // `WORKLOAD_PRODUCERS=4` (a list: `1,4`) and `WORKLOAD_STACK=init|usual` narrow the run to
    // what a profiler should see: one stack alone prints its rate and no ratio.
    let counts: Vec<u64> = std::env::var("WORKLOAD_PRODUCERS").map_or(vec![1, 2, 4, 8], |v| {
        v.split(',')
            .map(|n| n.trim().parse().expect("WORKLOAD_PRODUCERS: numbers"))
            .collect()
    });
    let stack = std::env::var("WORKLOAD_STACK").unwrap_or_default();
    let (run_ours, run_usual) = (stack != "usual", stack != "init");
    for producers in counts {
        let per = requests / producers;
        let mut ours = Vec::new();
        let mut usual = Vec::new();
        // Alternating rounds; the median of each.
        for _ in 0..if smoke { 1 } else { 5 } {
            if run_ours {
                let dir = tempfile::tempdir().expect("temp dir");
                ours.push(throughput(
                    producers,
                    per,
                    dir.path(),
                    // Every line kept, to be counted.
                    |dir| logwarden_stack_with(dir, |b| b.keep(10_000)),
                    |g| {
                        assert!(g.flush(), "flush timed out");
                        drop(g);
                    },
                ));
            }
            if run_usual {
                let dir = tempfile::tempdir().expect("temp dir");
                usual.push(throughput(producers, per, dir.path(), usual_stack, drop));
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        match (median(&mut ours), median(&mut usual)) {
            (Some(o), Some(u)) => println!(
                "  {producers} producer(s): logwarden {:.2} M/s, usual stack {:.2} M/s, ratio {:.1}× (target >= 10)",
                o / 1e6,
                u / 1e6,
                o / u
            ),
            (Some(o), None) => println!("  {producers} producer(s): logwarden {:.2} M/s", o / 1e6),
            (None, Some(u)) => println!("  {producers} producer(s): usual stack {:.2} M/s", u / 1e6),
            (None, None) => {}
        }
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

/// Caller cost in alternating rounds: every round runs each stack for `each` (sustained load:
/// the writer threads work all along), one after the other, so that the machine's drift hits
/// them alike; a ratio is taken within each round and the median over rounds reported, with the
/// spread. The first round warms up.
fn alternating(rounds: usize, each: Duration) {
    let dirs: Vec<_> = (0..4)
        .map(|_| tempfile::tempdir().expect("temp dir"))
        .collect();
    let (ours, ours_guard) = logwarden_stack(dirs[0].path());
    let (usual, usual_guard) = usual_stack(dirs[1].path());
    let (quiet, quiet_guard) = logwarden_stack_with(dirs[2].path(), |b| b.alerts(false));
    let (plain, plain_guard) = logwarden_stack_with(dirs[3].path(), |b| {
        b.redaction(logwarden::redact::Redaction::none())
    });
    let stacks = [
        (
            "JSON layer -> sink",
            Dispatch::new(stacks::logwarden(io::sink)),
        ),
        ("ts JSON -> sink", Dispatch::new(stacks::ts_json(io::sink))),
        ("bunyan -> sink", Dispatch::new(stacks::bunyan(io::sink))),
        ("init() stack -> file", Dispatch::new(ours)),
        ("usual stack -> file", Dispatch::new(usual)),
        ("init(), alerts off", Dispatch::new(quiet)),
        ("init(), no redaction", Dispatch::new(plain)),
    ];
    let ns = rounds_of(&stacks, rounds, each, EVENTS_PER_REQUEST, request);
    println!(
        "\nAlternating rounds ({rounds} rounds, {} ms per stack each), caller ns per event:",
        each.as_millis()
    );
    print_medians(&stacks, &ns);
    println!("Ratios, median of per-round ratios (quartiles); < 1: logwarden is cheaper:");
    for (a, b, label, target) in [
        (3, 4, "init() stack / usual stack", "<= 0.10"),
        (0, 1, "JSON layer / ts JSON", "<= 0.10"),
        (0, 2, "JSON layer / bunyan", "<= 0.30"),
        (3, 5, "alerts on / off", "<= 1.02"),
        (3, 6, "redaction defaults / none", "<= 1.10"),
    ] {
        print_ratio(&ns, a, b, label, target);
    }

    // A filtered-out event (`debug!` under `info`), alone: against a bare `EnvFilter`.
    let floor = Dispatch::new(
        tracing_subscriber::registry().with(tracing_subscriber::EnvFilter::new(stacks::FILTER)),
    );
    let filtered = [
        ("init() stack", stacks[3].1.clone()),
        ("registry + EnvFilter", floor),
    ];
    let ns = rounds_of(&filtered, rounds, each / 4, 100, |_| {
        for i in 0..100 {
            tracing::debug!(step = i, "filtered out");
        }
    });
    println!("Filtered-out debug! events, caller ns per event:");
    print_medians(&filtered, &ns);
    print_ratio(&ns, 0, 1, "init() stack / bare EnvFilter", "<= 1");
    drop((ours_guard, usual_guard, quiet_guard, plain_guard));

    // The record layouts against the default, each `JsonLayer` -> sink.
    use logwarden::record::{Format, TimeFormat};
    let layouts = [
        ("default record", Dispatch::new(stacks::logwarden(io::sink))),
        (
            "ecs",
            Dispatch::new(stacks::logwarden_layout(io::sink, |l| {
                l.format(Format::ECS)
            })),
        ),
        (
            "gcp",
            Dispatch::new(stacks::logwarden_layout(io::sink, |l| {
                l.format(Format::GCP)
            })),
        ),
        (
            "datadog",
            Dispatch::new(stacks::logwarden_layout(io::sink, |l| {
                l.format(Format::DATADOG)
            })),
        ),
        (
            "unix_ms + 2 fixed fields",
            Dispatch::new(stacks::logwarden_layout(io::sink, |l| {
                l.timestamp(TimeFormat::UNIX_MS)
                    .field("version", "1.4.2")
                    .field("region", "eu-west-1")
            })),
        ),
    ];
    let ns = rounds_of(&layouts, rounds, each, EVENTS_PER_REQUEST, request);
    println!("Record layouts, JSON layer -> sink, caller ns per event:");
    print_medians(&layouts, &ns);
    for (i, (name, _)) in layouts.iter().enumerate().skip(1) {
        print_ratio(&ns, i, 0, &format!("{name} / default record"), "<= 1.15");
    }
}

/// Runs `unit` (which logs `events` events) on each stack in turn for `each`, `rounds` times
/// after a warm-up round; returns ns per event per stack and round.
fn rounds_of(
    stacks: &[(&str, Dispatch)],
    rounds: usize,
    each: Duration,
    events: u64,
    mut unit: impl FnMut(u64),
) -> Vec<Vec<f64>> {
    let mut ns = vec![Vec::new(); stacks.len()];
    let mut n = 0;
    for round in 0..=rounds {
        for (i, (_, dispatch)) in stacks.iter().enumerate() {
            let start = Instant::now();
            let mut units = 0;
            tracing::dispatcher::with_default(dispatch, || {
                while start.elapsed() < each {
                    for _ in 0..50 {
                        n += 1;
                        unit(n);
                    }
                    units += 50;
                }
            });
            let per_event = start.elapsed().as_nanos() as f64 / (units * events) as f64;
            if round > 0 {
                ns[i].push(per_event);
            }
        }
    }
    ns
}

/// Median and quartiles.
fn summary(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let q = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
    (q(0.5), q(0.25), q(0.75))
}

fn print_medians(stacks: &[(&str, Dispatch)], ns: &[Vec<f64>]) {
    for ((name, _), v) in stacks.iter().zip(ns) {
        let (m, lo, hi) = summary(v.clone());
        println!("  {name:<24} median {m:>8.1}  (quartiles {lo:.1}-{hi:.1})");
    }
}

fn print_ratio(ns: &[Vec<f64>], a: usize, b: usize, label: &str, target: &str) {
    let ratios: Vec<f64> = ns[a].iter().zip(&ns[b]).map(|(x, y)| x / y).collect();
    let (m, lo, hi) = summary(ratios);
    println!("  {label:<30} {m:.3}  ({lo:.3}-{hi:.3})  target {target}");
}

//! Per-event cost on the caller thread: logwarden against the usual JSON layers for `tracing`.
//!
//! Every contender formats the same event, `info!(items = 3, total = 59.9, "order placed")`,
//! inside two entered spans (`request{trace_id, method}` → `payment{user_id}`) created once,
//! outside the measured loop. Each contender runs under its own thread-local default subscriber.
//!
//! * group `sink`: the formatting layers alone, writing to `io::sink`, behind `EnvFilter("info")`.
//! * group `file`: full lossless stacks writing to a real file in a temp dir: logwarden's
//!   `builder().subscriber()` (what `init()` installs) against tracing-subscriber's JSON formatter over a lossless
//!   `tracing_appender::non_blocking` writer on `rolling::never`.
//! * group `alert`: logwarden's whole stack into `io::sink` with the alert layer off and on, for
//!   INFO and for ERROR events: what the threshold layer costs.
//! * group `redaction`: the JSON layer into `io::sink` with nothing redacted, the default keys,
//!   and the keys plus every value pattern.
//!
//! After criterion, prints the medians and the ratios read back from criterion's
//! `estimates.json`, and checks that the logwarden file contender wrote valid JSON lines.
//!
//! `cargo bench --bench per_event` (full run, about a minute),
//! `cargo bench --bench per_event -- --test` (smoke: every benchmark once).

use std::cell::Cell;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

#[path = "stacks/mod.rs"]
mod stacks;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use serde_json::Value;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::EnvFilter;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const USER_ID: u64 = 4242;

const SINK_GROUP: &str = "sink";
const FILE_GROUP: &str = "file";
const LOGWARDEN: &str = "logwarden";
const TS_JSON: &str = "ts-json";
const BUNYAN: &str = "bunyan";
const LOGWARDEN_FILE: &str = "logwarden-file";
const USUAL_FILE: &str = "usual-stack-file";
const ALERT_GROUP: &str = "alert";
const INFO_OFF: &str = "info-alerts-off";
const INFO_ON: &str = "info-alerts-on";
const ERROR_OFF: &str = "error-alerts-off";
const ERROR_ON: &str = "error-alerts-on";
const REDACTION_GROUP: &str = "redaction";
const REDACT_NONE: &str = "none";
const REDACT_KEYS: &str = "default-keys";
const REDACT_ALL: &str = "keys-and-all-value-patterns";

/// The measured event, identical for every contender.
#[inline(always)]
fn emit() {
    tracing::info!(items = 3_u64, total = 59.9_f64, "order placed");
}

// ---------------------------------------------------------------------------------------------
// The stacks, generic over the writer so that the preview can capture what each one writes.

// ---------------------------------------------------------------------------------------------
// Measurement.

/// Runs `f` under `subscriber` (thread-local default) inside the two entered spans.
fn in_spans<S, R>(subscriber: S, f: impl FnOnce() -> R) -> R
where
    S: Subscriber + Send + Sync + 'static,
{
    tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!("request", trace_id = TRACE_ID, method = "POST");
        let _request = request.enter();
        let payment = tracing::info_span!("payment", user_id = USER_ID);
        let _payment = payment.enter();
        f()
    })
}

/// The same event at ERROR level, for the alert layer's cost.
#[inline(always)]
fn emit_error() {
    tracing::error!(items = 3_u64, total = 59.9_f64, "order placed");
}

/// Benchmarks `emit()` under `subscriber`; adds the number of events emitted to `events`.
fn bench_contender<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    subscriber: S,
    events: &Cell<u64>,
) where
    S: Subscriber + Send + Sync + 'static,
{
    bench_event(group, id, subscriber, events, emit);
}

/// Benchmarks `event()` under `subscriber`; adds the number of events emitted to `events`.
fn bench_event<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    subscriber: S,
    events: &Cell<u64>,
    event: fn(),
) where
    S: Subscriber + Send + Sync + 'static,
{
    in_spans(subscriber, || {
        group.bench_function(id, |b| {
            // `iter_custom` times exactly like `iter` (one `Instant` pair around the loop) and
            // tells us how many events were emitted, for the file check at the end.
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    event();
                }
                let elapsed = start.elapsed();
                events.set(events.get() + iters);
                elapsed
            });
        });
    });
}

fn bench_sink(c: &mut Criterion) {
    let unused = Cell::new(0);
    let mut group = c.benchmark_group(SINK_GROUP);
    bench_contender(&mut group, LOGWARDEN, stacks::logwarden(io::sink), &unused);
    bench_contender(&mut group, TS_JSON, stacks::ts_json(io::sink), &unused);
    bench_contender(&mut group, BUNYAN, stacks::bunyan(io::sink), &unused);
    group.finish();
}

/// Redaction's cost: the JSON layer into `io::sink` with nothing redacted, with the default keys
/// (the default setting), and with the keys plus every value pattern.
fn bench_redaction(c: &mut Criterion) {
    use logwarden::redact::{Redaction, ValuePatterns};
    let unused = Cell::new(0);
    let mut group = c.benchmark_group(REDACTION_GROUP);
    for (id, redaction) in [
        (REDACT_NONE, Redaction::none()),
        (REDACT_KEYS, Redaction::default()),
        (REDACT_ALL, Redaction::default().values(ValuePatterns::ALL)),
    ] {
        let subscriber = tracing_subscriber::registry()
            .with(EnvFilter::new(stacks::FILTER))
            .with(
                logwarden::JsonLayer::new(io::sink)
                    .service("orders")
                    .env("bench")
                    .redaction(redaction),
            );
        bench_contender(&mut group, id, subscriber, &unused);
    }
    group.finish();
}

/// The alert layer's cost: logwarden's whole stack (JSON layer, writer thread into `io::sink`)
/// with alerting off and on, for INFO events and for ERROR events. With alerting on, the ERROR
/// run opens one incident early on (printed once on stderr: no webhook) and then only counts.
fn bench_alert(c: &mut Criterion) {
    let unused = Cell::new(0);
    let mut group = c.benchmark_group(ALERT_GROUP);
    for (id, alerts, event) in [
        (INFO_OFF, false, emit as fn()),
        (INFO_ON, true, emit),
        (ERROR_OFF, false, emit_error),
        (ERROR_ON, true, emit_error),
    ] {
        let (layer, guard) = logwarden::builder()
            .service("orders")
            .writer(io::sink())
            .alerts(alerts)
            .capture_log(false)
            .build::<_>()
            .expect("logwarden builder");
        bench_event(
            &mut group,
            id,
            tracing_subscriber::registry().with(layer),
            &unused,
            event,
        );
        drop(guard);
    }
    group.finish();
}

/// What the file group left behind, checked after criterion is done.
struct FileRun {
    logwarden_dir: tempfile::TempDir,
    logwarden_events: u64,
    logwarden_stats: logwarden::Stats,
    logwarden_flushed: bool,
    usual_dir: tempfile::TempDir,
    usual_events: u64,
}

fn bench_file(c: &mut Criterion) -> FileRun {
    let logwarden_dir = tempfile::tempdir().expect("temp dir");
    let usual_dir = tempfile::tempdir().expect("temp dir");

    // (a) logwarden's own stack, as `init()` installs it: filter, JSON layer, alert layer,
    // off-thread lossless rolling file.
    let (logwarden_sub, guard) = logwarden::builder()
        .service("orders")
        .dir(logwarden_dir.path())
        .max_bytes(64 << 20)
        .capture_log(false)
        .subscriber()
        .expect("logwarden builder");

    // (b) the usual stack: ts JSON over a lossless tracing-appender non-blocking file writer.
    let file_appender = tracing_appender::rolling::never(usual_dir.path(), "usual.log");
    let (non_blocking, worker_guard) =
        tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .finish(file_appender);
    let usual_sub = stacks::ts_json(non_blocking);

    let logwarden_events = Cell::new(0);
    let usual_events = Cell::new(0);
    let mut group = c.benchmark_group(FILE_GROUP);
    bench_contender(&mut group, LOGWARDEN_FILE, logwarden_sub, &logwarden_events);
    bench_contender(&mut group, USUAL_FILE, usual_sub, &usual_events);
    group.finish();

    // Both guards lived through the whole group; now write everything out and stop the writers.
    let logwarden_flushed = guard.flush();
    let logwarden_stats = guard.stats();
    drop(guard);
    drop(worker_guard);

    FileRun {
        logwarden_dir,
        logwarden_events: logwarden_events.get(),
        logwarden_stats,
        logwarden_flushed,
        usual_dir,
        usual_events: usual_events.get(),
    }
}

// ---------------------------------------------------------------------------------------------
// Preview: one captured record per contender, to show they all carry the same information.

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    fn event_line(&self) -> String {
        let bytes = self.0.lock().unwrap();
        let text = String::from_utf8_lossy(&bytes);
        text.lines()
            .find(|l| l.contains("order placed"))
            .unwrap_or_default()
            .to_owned()
    }
}

/// Whether `key` appears anywhere in `v` (ts-json nests span and event fields).
fn has_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|v| has_key(v, key)),
        Value::Array(a) => a.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}

fn preview() {
    println!("\nOne record per contender (same event, same spans):");
    let (lw, ts, by) = (Capture::default(), Capture::default(), Capture::default());
    in_spans(stacks::logwarden(lw.clone()), emit);
    in_spans(stacks::ts_json(ts.clone()), emit);
    in_spans(stacks::bunyan(by.clone()), emit);
    for (name, capture) in [(LOGWARDEN, &lw), (TS_JSON, &ts), (BUNYAN, &by)] {
        let line = capture.event_line();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{name} wrote no valid JSON event line ({e}): {line:?}"));
        for key in ["trace_id", "method", "user_id", "items", "total"] {
            assert!(has_key(&v, key), "{name}'s record lacks `{key}`: {line}");
        }
        println!("  {name:<10} {:>4} B  {line}", line.len() + 1);
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// After criterion: medians, ratios, file checks.

/// Where criterion writes its results, found the way criterion 0.5 finds it.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let out = std::process::Command::new(std::env::var_os("CARGO")?)
                .args(["metadata", "--format-version", "1", "--no-deps"])
                .output()
                .ok()?;
            let meta: Value = serde_json::from_slice(&out.stdout).ok()?;
            Some(PathBuf::from(meta.get("target_directory")?.as_str()?))
        });
    match target {
        Some(t) => t.join("criterion"),
        None => PathBuf::from("target/criterion"),
    }
}

/// The median ns/event criterion estimated in this run (`None` if the benchmark did not run in
/// benchmark mode now: `--test`, `--list`, a filter, or a stale file from an earlier run).
fn median_ns(root: &Path, group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = root.join(group).join(id).join("new").join("estimates.json");
    let fresh = fs::metadata(&path).ok()?.modified().ok()? >= since;
    if !fresh {
        return None;
    }
    let v: Value = serde_json::from_slice(&fs::read(&path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn print_ratios(since: SystemTime) {
    let root = criterion_dir();
    let get = |group, id| median_ns(&root, group, id, since);
    let medians = [
        (SINK_GROUP, LOGWARDEN, get(SINK_GROUP, LOGWARDEN)),
        (SINK_GROUP, TS_JSON, get(SINK_GROUP, TS_JSON)),
        (SINK_GROUP, BUNYAN, get(SINK_GROUP, BUNYAN)),
        (FILE_GROUP, LOGWARDEN_FILE, get(FILE_GROUP, LOGWARDEN_FILE)),
        (FILE_GROUP, USUAL_FILE, get(FILE_GROUP, USUAL_FILE)),
        (ALERT_GROUP, INFO_OFF, get(ALERT_GROUP, INFO_OFF)),
        (ALERT_GROUP, INFO_ON, get(ALERT_GROUP, INFO_ON)),
        (ALERT_GROUP, ERROR_OFF, get(ALERT_GROUP, ERROR_OFF)),
        (ALERT_GROUP, ERROR_ON, get(ALERT_GROUP, ERROR_ON)),
        (
            REDACTION_GROUP,
            REDACT_NONE,
            get(REDACTION_GROUP, REDACT_NONE),
        ),
        (
            REDACTION_GROUP,
            REDACT_KEYS,
            get(REDACTION_GROUP, REDACT_KEYS),
        ),
        (
            REDACTION_GROUP,
            REDACT_ALL,
            get(REDACTION_GROUP, REDACT_ALL),
        ),
    ];
    if medians.iter().all(|m| m.2.is_none()) {
        println!("No fresh criterion estimates (smoke/list mode or filtered): no ratio table.");
        return;
    }
    let fmt = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}"));
    println!("\nCriterion median, ns/event on the caller thread:");
    for (group, id, m) in &medians {
        println!("  {:<28} {:>10}", format!("{group}/{id}"), fmt(*m));
    }
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
        _ => "n/a".to_owned(),
    };
    println!("\nRatio (logwarden ns/event ÷ peer ns/event; < 1 means logwarden is faster):");
    println!(
        "  {:<38} {:>8}",
        "logwarden / ts-json",
        ratio(medians[0].2, medians[1].2)
    );
    println!(
        "  {:<38} {:>8}",
        "logwarden / bunyan",
        ratio(medians[0].2, medians[2].2)
    );
    println!(
        "  {:<38} {:>8}",
        "logwarden-file / usual-stack-file",
        ratio(medians[3].2, medians[4].2)
    );
    println!("\nAlert layer (alerts on ÷ alerts off, same stack; 1.00 = free):");
    println!(
        "  {:<38} {:>8}",
        "INFO events",
        ratio(medians[6].2, medians[5].2)
    );
    println!(
        "  {:<38} {:>8}",
        "ERROR events",
        ratio(medians[8].2, medians[7].2)
    );
    println!(
        "\nRedaction (JSON layer into io::sink, ÷ nothing redacted; target ≤ 1.10 for the keys):"
    );
    println!(
        "  {:<38} {:>8}",
        "default keys (the default)",
        ratio(medians[10].2, medians[9].2)
    );
    println!(
        "  {:<38} {:>8}",
        "keys + all value patterns",
        ratio(medians[11].2, medians[9].2)
    );
}

/// Checks that every line logwarden left on disk is a JSON record of the benchmarked event, and
/// that none was lost. Panics (failing the bench run) otherwise.
fn check_logwarden_file(run: &FileRun) {
    if run.logwarden_events == 0 {
        return;
    }
    let dir = run.logwarden_dir.path();
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read logwarden dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("orders.log"))
        })
        .collect();
    files.sort();
    let mut lines = 0_u64;
    let mut bytes = 0_u64;
    for path in &files {
        let text = fs::read_to_string(path).expect("log file is UTF-8");
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{} ends in a torn line",
            path.display()
        );
        bytes += text.len() as u64;
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("invalid JSON line in {} ({e}): {line:?}", path.display())
            });
            assert_eq!(v["message"], "order placed", "{line}");
            assert_eq!(v["level"], "INFO", "{line}");
            assert_eq!(v["service"], "orders", "{line}");
            assert_eq!(v["span"], "payment", "{line}");
            assert_eq!(v["trace_id"], TRACE_ID, "{line}");
            assert_eq!(v["method"], "POST", "{line}");
            assert_eq!(v["user_id"], USER_ID, "{line}");
            assert_eq!(v["items"], 3, "{line}");
            assert_eq!(v["total"], 59.9, "{line}");
            lines += 1;
        }
    }
    let stats = run.logwarden_stats;
    assert!(run.logwarden_flushed, "logwarden guard flush timed out");
    assert_eq!(stats.lines_dropped, 0, "{stats:?}");
    assert_eq!(stats.lines_lost, 0, "{stats:?}");
    assert_eq!(stats.write_errors, 0, "{stats:?}");
    // With the default `keep(5)`, more than 5 rotations means the oldest files were pruned, so
    // only then may lines on disk be fewer than events emitted.
    let pruned = stats.rotations > 5;
    if pruned {
        assert!(lines < run.logwarden_events);
    } else {
        assert_eq!(
            lines, run.logwarden_events,
            "lines on disk != events emitted"
        );
    }
    println!(
        "\nlogwarden file check: {} events emitted; {lines} lines ({:.1} MiB) in {} file(s) on disk, \
         all valid JSON with every field; {} rotation(s){}; dropped {}, lost {}, write errors {}.",
        run.logwarden_events,
        bytes as f64 / (1 << 20) as f64,
        files.len(),
        stats.rotations,
        if pruned {
            " (older rotated files pruned by keep=5)"
        } else {
            " (lines on disk == events emitted)"
        },
        stats.lines_dropped,
        stats.lines_lost,
        stats.write_errors,
    );
}

/// The same logwarden file stack as the benchmark, in a fresh directory, with a known number of
/// events and no rotation: the line count must match exactly.
fn check_logwarden_exact(n: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (layer, guard) = logwarden::builder()
        .service("orders")
        .dir(dir.path())
        .max_bytes(64 << 20)
        .capture_log(false)
        .build::<_>()
        .expect("logwarden builder");
    in_spans(tracing_subscriber::registry().with(layer), || {
        for _ in 0..n {
            emit();
        }
    });
    let path = guard.log_path().expect("file path").to_path_buf();
    drop(guard);
    let text = fs::read_to_string(&path).expect("read log");
    let mut lines = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("valid JSON line");
        assert_eq!(v["trace_id"], TRACE_ID);
        lines += 1;
    }
    assert_eq!(lines, n, "exact-count check");
    println!("logwarden exact-count check: {n} events -> {lines} valid JSON lines.");
}

/// The usual stack's file: tracing-appender's guard waits at most ~1 s on drop, so wait for the
/// file to stop growing, then count lines and parse the first and last.
fn check_usual_file(run: &FileRun) {
    if run.usual_events == 0 {
        return;
    }
    let path = run.usual_dir.path().join("usual.log");
    let mut last = u64::MAX;
    for _ in 0..100 {
        let len = fs::metadata(&path).map_or(0, |m| m.len());
        if len == last {
            break;
        }
        last = len;
        std::thread::sleep(Duration::from_millis(100));
    }
    let bytes = fs::read(&path).expect("read usual.log");
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    let text = String::from_utf8_lossy(&bytes);
    for line in [text.lines().next(), text.lines().next_back()]
        .into_iter()
        .flatten()
    {
        let v: Value = serde_json::from_str(line).expect("usual.log line is JSON");
        assert!(has_key(&v, "trace_id"), "{line}");
    }
    println!(
        "usual-stack file check: {} events emitted; {lines} lines ({:.1} MiB) in usual.log{}.",
        run.usual_events,
        bytes.len() as f64 / (1 << 20) as f64,
        if lines == run.usual_events {
            ""
        } else {
            " (MISMATCH)"
        }
    );
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(60)
        .without_plots()
        .configure_from_args();

    preview();
    bench_sink(&mut c);
    // In-memory groups first: the file group's writer threads go on draining hundreds of MB to
    // disk after it ends, which would slow whatever is measured next.
    bench_redaction(&mut c);
    bench_alert(&mut c);
    let file_run = bench_file(&mut c);
    c.final_summary();

    print_ratios(started);
    check_logwarden_file(&file_run);
    check_logwarden_exact(100_000);
    check_usual_file(&file_run);
}

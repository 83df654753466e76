//! How the caller's cost per event grows with the work, logwarden against the usual stack, as
//! slopes: extra ns per event for each added span level, event field or KiB of message.
//!
//! The unit of work is a request, created per request as in the real workload: create and
//! enter `depth` nested spans (each with one integer field, distinct names and callsites), log
//! ten `info!` events inside the innermost, leave and close the spans. An event has `fields`
//! integer fields (`f0 = n, f1 = n, …`) and the 12-byte literal message `"order placed"`, or in
//! the message sweep a pre-built plain ASCII `String` logged as `info!(f0, f1, "{}", msg)`.
//! Filter `info`. Three sweeps, each with the other dimensions at their base (2 spans, 2 fields,
//! the 12-byte message):
//!
//! * span depth 1, 2, 5, 10;
//! * fields per event 1, 5, 10, 50 (tracing 0.1.44 / tracing-core 0.1.36 take any number of
//!   fields per callsite: `ValueSet` is const-generic over the array length, the 32-field limit
//!   of older tracing-core is gone);
//! * message 100 B, 1 KiB, 10 KiB.
//!
//! Four stacks per point: logwarden's `JsonLayer` → `io::sink` and tracing-subscriber JSON (with
//! `with_current_span` + `with_span_list`) → `io::sink`; logwarden's whole `init()` stack
//! (`builder().subscriber()`, rotating file) and the usual stack (ts JSON → lossless
//! `tracing_appender::non_blocking` → file).
//!
//! Alternating rounds, as in `workload.rs`: every round runs each (point, stack) pair for a fixed
//! time in turn, under sustained load (the writer threads work all along the turn); after a turn
//! of a file stack the caller waits, outside the timing, until that stack's writer has written
//! everything (logwarden: `Guard::flush`; usual: a line count in its file writer), so one
//! stack's backlog is not charged to the next turn; the usual stack's file is then truncated to
//! keep the disk out of it (logwarden's rotation deletes old files by itself). Ratios
//! (ours/usual) and slopes (least squares over the points of a sweep) are taken within each
//! round; the medians over rounds are reported, with quartiles. The first round warms up.
//!
//! `cargo bench --bench slopes` (full run, about two and a half minutes);
//! `cargo bench --bench slopes -- --test` (smoke: every point once, a few ms each);
//! `SLOPES_POINT=depth:10` (or `fields:50`, `message:10240`) with `SLOPES_STACK` (`layer`,
//! `ts-json`, `init`, `usual`) and `SLOPES_REQUESTS` runs one point on the main thread and stops,
//! for callgrind (see [`instructions`]).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[allow(dead_code)] // shared with the other benches; this one uses two of its stacks
#[path = "stacks/mod.rs"]
mod stacks;

use tracing::{Dispatch, Span};

const EVENTS_PER_REQUEST: u64 = 10;

/// One point of a sweep.
#[derive(Clone, Debug)]
struct Point {
    depth: usize,
    fields: usize,
    /// `None`: the 12-byte literal message.
    message: Option<String>,
}

const BASE: Point = Point {
    depth: 2,
    fields: 2,
    message: None,
};

/// A sweep: its name, unit, and points with their x value in that unit.
struct Sweep {
    name: &'static str,
    unit: &'static str,
    points: Vec<(f64, Point)>,
}

fn sweeps() -> Vec<Sweep> {
    vec![
        Sweep {
            name: "span depth",
            unit: "span level",
            points: [1, 2, 5, 10]
                .map(|depth| (depth as f64, Point { depth, ..BASE }))
                .into(),
        },
        Sweep {
            name: "fields per event",
            unit: "field",
            points: [1, 5, 10, 50]
                .map(|fields| (fields as f64, Point { fields, ..BASE }))
                .into(),
        },
        Sweep {
            name: "message bytes",
            unit: "KiB",
            points: [100, 1024, 10 * 1024]
                .map(|bytes| (bytes as f64 / 1024.0, message_point(bytes)))
                .into(),
        },
    ]
}

/// The base point with a plain ASCII message of `bytes` bytes.
fn message_point(bytes: usize) -> Point {
    let words = b"order placed for customer 4242 with three items ";
    let message = (0..bytes).map(|i| words[i % words.len()] as char).collect();
    Point {
        message: Some(message),
        ..BASE
    }
}

/// The span at `level` (0-based) of the nest: a callsite of its own, one field.
#[inline(always)]
fn span_at(level: usize, n: u64) -> Span {
    macro_rules! levels {
        ($($i:literal $name:literal $field:ident),*) => {
            match level {
                $($i => tracing::info_span!($name, $field = n + $i),)*
                _ => unreachable!("depth up to 10"),
            }
        };
    }
    levels!(
        0 "s0" l0, 1 "s1" l1, 2 "s2" l2, 3 "s3" l3, 4 "s4" l4,
        5 "s5" l5, 6 "s6" l6, 7 "s7" l7, 8 "s8" l8, 9 "s9" l9
    )
}

/// Enters `depth - level` nested spans and runs `inner` in the innermost.
#[inline(always)]
fn nested(level: usize, depth: usize, n: u64, inner: &impl Fn(u64)) {
    if level == depth {
        return inner(n);
    }
    let span = span_at(level, n);
    let _entered = span.enter();
    nested(level + 1, depth, n, inner);
}

/// One event of `point`.
#[inline(always)]
fn event(point: &Point, n: u64) {
    macro_rules! with_fields {
        ($($f:ident)*) => { tracing::info!($($f = n,)* "order placed") };
    }
    if let Some(message) = &point.message {
        tracing::info!(f0 = n, f1 = n, "{}", message);
        return;
    }
    match point.fields {
        1 => with_fields!(f0),
        2 => with_fields!(f0 f1),
        5 => with_fields!(f0 f1 f2 f3 f4),
        10 => with_fields!(f0 f1 f2 f3 f4 f5 f6 f7 f8 f9),
        50 => with_fields!(
            f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 f11 f12 f13 f14 f15 f16 f17 f18 f19
            f20 f21 f22 f23 f24 f25 f26 f27 f28 f29 f30 f31 f32 f33 f34 f35 f36 f37 f38 f39
            f40 f41 f42 f43 f44 f45 f46 f47 f48 f49
        ),
        other => unreachable!("{other} fields: not a point of the sweep"),
    }
}

/// One request of `point`: the spans, ten events inside them; `n` is the request's number.
#[inline(always)]
fn request(point: &Point, n: u64) {
    nested(0, point.depth, n, &|n| {
        for i in 0..EVENTS_PER_REQUEST {
            event(point, n + i);
        }
    });
}

/// A file writer for the usual stack that counts the lines it has written, so the bench can
/// wait for the writer thread to catch up.
struct Counting {
    inner: tracing_appender::rolling::RollingFileAppender,
    lines: Arc<AtomicU64>,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let lines = memchr::memchr_iter(b'\n', &buf[..n]).count();
        self.lines.fetch_add(lines as u64, Ordering::Release);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A stack under test, and what to do after a turn of it (outside the timing).
struct Stack {
    name: &'static str,
    dispatch: Dispatch,
    /// Called with the number of events just logged: waits for the writer, trims the file.
    settle: Box<dyn Fn(u64)>,
}

/// The four stacks; the values returned last keep the writers alive.
fn stacks(dir: &Path) -> (Vec<Stack>, Rc<logwarden::Guard>, impl Drop) {
    let (ours, guard) = logwarden::builder()
        .service("orders")
        .dir(dir.join("logwarden"))
        .capture_log(false)
        .subscriber()
        .expect("logwarden builder");
    let guard = Rc::new(guard);
    let flusher = guard.clone();
    let usual_path: PathBuf = dir.join("usual.log");
    let lines = Arc::new(AtomicU64::new(0));
    let appender = tracing_appender::rolling::never(dir, "usual.log");
    let (writer, usual_guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(Counting {
            inner: appender,
            lines: lines.clone(),
        });
    let logged = AtomicU64::new(0);
    let usual_settle = move |events: u64| {
        let want = logged.fetch_add(events, Ordering::Relaxed) + events;
        let deadline = Instant::now() + Duration::from_secs(30);
        while lines.load(Ordering::Acquire) < want {
            assert!(
                Instant::now() < deadline,
                "the usual stack's writer is stuck"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        std::fs::OpenOptions::new()
            .write(true)
            .open(&usual_path)
            .and_then(|f| f.set_len(0))
            .expect("truncate usual.log");
    };
    let list = vec![
        Stack {
            name: "JSON layer -> sink",
            dispatch: Dispatch::new(stacks::logwarden(io::sink)),
            settle: Box::new(|_| {}),
        },
        Stack {
            name: "ts JSON -> sink",
            dispatch: Dispatch::new(stacks::ts_json(io::sink)),
            settle: Box::new(|_| {}),
        },
        Stack {
            name: "init() -> file",
            dispatch: Dispatch::new(ours),
            settle: Box::new(move |_| assert!(flusher.flush(), "logwarden flush timed out")),
        },
        Stack {
            name: "usual -> file",
            dispatch: Dispatch::new(stacks::ts_json(writer)),
            settle: Box::new(usual_settle),
        },
    ];
    (list, guard, usual_guard)
}

/// The pairs compared: (ours, usual, label).
const PAIRS: [(usize, usize, &str); 2] = [
    (0, 1, "JSON layer / ts JSON (sink)"),
    (2, 3, "init() / usual (file)"),
];

fn main() {
    if let Ok(point) = std::env::var("SLOPES_POINT") {
        return instructions(&point);
    }
    let smoke = std::env::args().any(|a| a == "--test");
    let (rounds, each) = if smoke {
        (1, Duration::from_millis(2))
    } else {
        (19, Duration::from_millis(150))
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (stacks, guard, usual_guard) = stacks(dir.path());
    println!(
        "Caller ns per event, alternating rounds ({rounds} rounds after a warm-up, {} ms per \
         stack and point); spans created per request of {EVENTS_PER_REQUEST} events",
        each.as_millis()
    );
    for sweep in sweeps() {
        let ns = rounds_of(&stacks, &sweep.points, rounds, each);
        report(&stacks, &sweep, &ns);
    }
    drop(stacks);
    assert!(guard.flush(), "flush timed out");
    drop((guard, usual_guard));
}

/// Runs every (point, stack) pair in turn for `each`, `rounds` times after a warm-up round;
/// returns ns per event by point, stack and round.
fn rounds_of(
    stacks: &[Stack],
    points: &[(f64, Point)],
    rounds: usize,
    each: Duration,
) -> Vec<Vec<Vec<f64>>> {
    let mut ns = vec![vec![Vec::new(); stacks.len()]; points.len()];
    let mut n = 0;
    for round in 0..=rounds {
        for (p, (_, point)) in points.iter().enumerate() {
            for (s, stack) in stacks.iter().enumerate() {
                let start = Instant::now();
                let mut units = 0;
                tracing::dispatcher::with_default(&stack.dispatch, || {
                    while start.elapsed() < each {
                        for _ in 0..20 {
                            n += EVENTS_PER_REQUEST;
                            request(point, n);
                        }
                        units += 20;
                    }
                });
                let per_event =
                    start.elapsed().as_nanos() as f64 / (units * EVENTS_PER_REQUEST) as f64;
                (stack.settle)(units * EVENTS_PER_REQUEST);
                if round > 0 {
                    ns[p][s].push(per_event);
                }
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

/// Least-squares slope of `ys` over `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    cov / var
}

fn report(stacks: &[Stack], sweep: &Sweep, ns: &[Vec<Vec<f64>>]) {
    let rounds = ns[0][0].len();
    println!(
        "\n{}: median ns per event (quartiles); ratio = median of per-round ratios",
        sweep.name
    );
    for ((x, _), by_stack) in sweep.points.iter().zip(ns) {
        let point = if sweep.unit == "KiB" {
            format!("{:.0} B", x * 1024.0)
        } else {
            format!("{x}")
        };
        println!("  {}: {point}", sweep.name);
        for (stack, v) in stacks.iter().zip(by_stack) {
            let (m, lo, hi) = summary(v.clone());
            println!("    {:<22} {m:>9.1}  ({lo:.1}-{hi:.1})", stack.name);
        }
        for (a, b, label) in PAIRS {
            let r = (0..rounds)
                .map(|r| by_stack[a][r] / by_stack[b][r])
                .collect();
            let (m, lo, hi) = summary(r);
            println!("    {label:<30} ratio {m:.3}  ({lo:.3}-{hi:.3})");
        }
    }
    // Per round: each stack's slope over the points, and the ratio of slopes within the round.
    let xs: Vec<f64> = sweep.points.iter().map(|(x, _)| *x).collect();
    let slopes: Vec<Vec<f64>> = (0..stacks.len())
        .map(|s| {
            (0..rounds)
                .map(|r| slope(&xs, &ns.iter().map(|p| p[s][r]).collect::<Vec<_>>()))
                .collect()
        })
        .collect();
    println!("  slope, extra ns per event per added {}:", sweep.unit);
    for (stack, v) in stacks.iter().zip(&slopes) {
        let (m, lo, hi) = summary(v.clone());
        println!("    {:<22} {m:>9.2}  ({lo:.2}-{hi:.2})", stack.name);
    }
    for (a, b, label) in PAIRS {
        let r = (0..rounds).map(|r| slopes[a][r] / slopes[b][r]).collect();
        let (m, lo, hi) = summary(r);
        println!("    {label:<30} slope ratio {m:.3}  ({lo:.3}-{hi:.3})");
    }
}

/// `SLOPES_POINT` (`depth:N`, `fields:N`, `message:BYTES`) with `SLOPES_STACK` (`layer`,
/// `ts-json`, `init`, `usual`; default `layer`) runs `SLOPES_REQUESTS` requests of that point on
/// the main thread and stops: run it under `valgrind --tool=callgrind --separate-threads=yes` at
/// two request counts; the difference of the main thread's totals divided by the difference of
/// events is the caller's instructions per event, start and stop cancelled out.
fn instructions(point: &str) {
    let (dim, value) = point
        .split_once(':')
        .expect("SLOPES_POINT=depth:N, fields:N or message:BYTES");
    let value: usize = value.parse().expect("SLOPES_POINT: a number after ':'");
    let point = match dim {
        "depth" => Point {
            depth: value,
            ..BASE
        },
        "fields" => Point {
            fields: value,
            ..BASE
        },
        "message" => message_point(value),
        other => panic!("SLOPES_POINT={other}:…: one of depth, fields, message"),
    };
    let requests: u64 = std::env::var("SLOPES_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let stack = std::env::var("SLOPES_STACK").unwrap_or_else(|_| "layer".into());
    let dir = tempfile::tempdir().expect("temp dir");
    let (list, guard, usual_guard) = stacks(dir.path());
    let index = match stack.as_str() {
        "layer" => 0,
        "ts-json" => 1,
        "init" => 2,
        "usual" => 3,
        other => panic!("SLOPES_STACK={other}: one of layer, ts-json, init, usual"),
    };
    tracing::dispatcher::with_default(&list[index].dispatch, || {
        (0..requests).for_each(|n| request(&point, n * EVENTS_PER_REQUEST))
    });
    drop(list);
    drop((guard, usual_guard));
}

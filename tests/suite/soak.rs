//! A soak under faults: full-speed writing with size rotation and gzip, alerts on, a webhook that
//! answers 500, then 429, then hangs, then recovers, and the log directory deleted and recreated
//! once underneath. Nothing lost or torn, resources flat, the guard's drop within its bound.
//!
//! In a child process of its own, so that its memory, threads and descriptors are logwarden's
//! and its writers' only: the webhook server (a thread and a socket per connection, each
//! request kept) runs in the parent. `LWTEST_SOAK_SECS` sets how long it writes (12 s by
//! default, the short form CI runs; the long form is 300).

use std::collections::HashMap;
use std::fs;
use std::io::Read as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::child::{run_test_within, this_test};
use crate::support::http::{Reply, Server};
use crate::support::HOOK;

/// One line: its writer and number.
type Key = (u64, u64);

/// Resident memory (KiB) of this process, its `logwarden-*` threads and its descriptors other
/// than sockets (the test's own webhook server has a thread and a socket per connection).
fn resources() -> (u64, usize, usize) {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap();
    let threads = fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| {
            fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with("logwarden-"))
        })
        .count();
    let fds = fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|fd| {
            fs::read_link(fd.path()).is_ok_and(|t| !t.to_string_lossy().starts_with("socket:"))
        })
        .count();
    (rss, threads, fds)
}

/// Lines per second each writer thread is held to: steady heavy load, and files small enough
/// to read back whole in the check.
const RATE: u64 = 25_000;

/// Every `(writer, seq)` in the files of `dir`, counted; each line is asserted whole JSON. A
/// compression the guard's bound cut short may still finish meanwhile (a file replaced by its
/// `.gz`): read again then, a bounded number of times.
fn lines_in(dir: &Path) -> HashMap<Key, u32> {
    for _ in 0..50 {
        if let Some(seen) = try_lines_in(dir) {
            return seen;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("the files of {} kept changing", dir.display());
}

fn try_lines_in(dir: &Path) -> Option<HashMap<Key, u32>> {
    let mut seen = HashMap::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if name.ends_with(".tmp") {
            return None;
        }
        let raw = match fs::read(entry.path()) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("{name}: {e}"),
        };
        let text = if name.ends_with(".gz") {
            let mut out = String::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_string(&mut out)
                .unwrap();
            out
        } else {
            String::from_utf8(raw).unwrap()
        };
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{name} ends mid-line"
        );
        for line in text.lines() {
            let record: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a torn or invalid line in {name}: {e}: {line}"));
            if record["message"] == "work" {
                let key = (
                    record["writer"].as_u64().unwrap(),
                    record["seq"].as_u64().unwrap(),
                );
                *seen.entry(key).or_insert(0) += 1;
            }
        }
    }
    Some(seen)
}

/// The variable the parent gives the child: the webhook's URL.
const HOOK_VAR: &str = "LWTEST_SOAK_HOOK";

#[cfg(all(feature = "gzip", feature = "http"))]
#[test]
fn a_soak_under_faults_loses_nothing_and_holds_its_resources() {
    if let Ok(hook) = std::env::var(HOOK_VAR) {
        return soak(&hook);
    }
    // 500s (retried), then 429s, then requests that hang past the timeout, then it recovers.
    let mut script = vec![Reply::status(500, "oops"); 8];
    script.extend(vec![Reply::too_many_requests(1); 4]);
    script.extend(vec![Reply::Hang; 4]);
    let server = Server::start(script, Reply::ok());
    let mut cmd = this_test(
        module_path!(),
        "a_soak_under_faults_loses_nothing_and_holds_its_resources",
    );
    cmd.env(HOOK_VAR, server.url(HOOK));
    let out = run_test_within(&mut cmd, Duration::from_secs(soak_secs() * 3 + 60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the soak failed:\n{stderr}");
    for line in stderr
        .lines()
        .filter(|l| l.starts_with("soak ") || l.starts_with("resident"))
    {
        eprintln!("{line}");
    }
    assert!(server.requests().len() > 16, "every fault was met");
}

fn soak_secs() -> u64 {
    std::env::var("LWTEST_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12)
}

#[cfg(all(feature = "gzip", feature = "http"))]
fn soak(hook: &str) {
    let secs = soak_secs();
    let run = Duration::from_secs(secs);
    let shutdown = Duration::from_secs(4);
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let (subscriber, guard) = logwarden::builder()
        .dir(&logs)
        .service("soak")
        .max_bytes(256 << 10)
        .keep(100_000)
        .compress(true)
        .slack_webhook(hook)
        .alert_threshold(5)
        .alert_window(Duration::from_millis(500))
        .alert_cooldown(Duration::from_millis(500))
        .alert_timeouts(Duration::from_millis(500), Duration::from_secs(1))
        .alert_retries(3, Duration::from_millis(50))
        .shutdown_timeout(shutdown)
        .capture_log(false)
        .subscriber()
        .expect("the stack starts");
    let dispatch = tracing::Dispatch::new(subscriber);

    let stop = Arc::new(AtomicBool::new(false));
    // Per writer, the first `seq` written after the directory was deleted: from there on every
    // line must be in the files, once.
    let after_delete: Arc<Vec<AtomicU64>> =
        Arc::new((0..2).map(|_| AtomicU64::new(u64::MAX)).collect());
    let deleted = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|writer| {
            let (dispatch, stop) = (dispatch.clone(), Arc::clone(&stop));
            let (after_delete, deleted) = (Arc::clone(&after_delete), Arc::clone(&deleted));
            thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let mut seq = 0;
                    let begun = Instant::now();
                    let mut last_burst = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        if seq % 100 == 0 {
                            let due = Duration::from_micros(seq * 1_000_000 / RATE);
                            if let Some(ahead) = due.checked_sub(begun.elapsed()) {
                                thread::sleep(ahead);
                            }
                        }
                        if deleted.load(Ordering::Acquire) {
                            let _ = after_delete[writer as usize].compare_exchange(
                                u64::MAX,
                                seq,
                                Ordering::AcqRel,
                                Ordering::Relaxed,
                            );
                        }
                        tracing::info!(writer, seq, user = "someone", "work");
                        if writer == 0 && last_burst.elapsed() > Duration::from_secs(1) {
                            // A burst of errors: an incident opens, then resolves.
                            last_burst = Instant::now();
                            for _ in 0..6 {
                                tracing::error!(seq, "payment failed");
                            }
                        }
                        seq += 1;
                    }
                    seq
                })
            })
        })
        .collect();

    let started = Instant::now();
    let warm = run / 4;
    let mut samples = Vec::new();
    while started.elapsed() < run {
        thread::sleep(Duration::from_millis(250));
        if !deleted.load(Ordering::Relaxed) && started.elapsed() >= run / 2 {
            // The writer and the compressor make files in it meanwhile: until it is gone.
            for attempt in 0.. {
                match fs::remove_dir_all(&logs) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) => assert!(attempt < 100, "cannot delete the directory: {e}"),
                }
            }
            fs::create_dir_all(&logs).unwrap();
            deleted.store(true, Ordering::Release);
        }
        if started.elapsed() >= warm {
            samples.push(resources());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let written: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let stats = guard.stats();
    let incidents = guard.incidents();
    let dropping = Instant::now();
    drop(guard);
    let drop_took = dropping.elapsed();

    // The guard's drop is bounded, whatever the webhook does.
    assert!(
        drop_took < shutdown + Duration::from_secs(2),
        "the guard took {drop_took:?}"
    );
    assert_eq!((stats.lines_lost, stats.lines_dropped), (0, 0), "{stats:?}");
    let seen = lines_in(&logs);
    let twice: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).take(5).collect();
    assert!(twice.is_empty(), "lines written twice: {twice:?}");
    for (writer, &total) in written.iter().enumerate() {
        let from = after_delete[writer].load(Ordering::Relaxed);
        assert!(
            from < total,
            "writer {writer} wrote nothing after the deletion"
        );
        let missing: Vec<u64> = (from..total)
            .filter(|&seq| !seen.contains_key(&(writer as u64, seq)))
            .collect();
        assert!(
            missing.is_empty(),
            "writer {writer} lost {} lines after the deletion (from {from} of {total}): {:?} … {:?}",
            missing.len(),
            &missing[..missing.len().min(3)],
            missing.last()
        );
    }
    // Resources after warm-up: memory flat, no thread or descriptor growth.
    let rss: Vec<u64> = samples.iter().map(|s| s.0).collect();
    let (first, peak) = (rss[0], *rss.iter().max().unwrap());
    let threads: Vec<usize> = samples.iter().map(|s| s.1).collect();
    let fds: Vec<usize> = samples.iter().map(|s| s.2).collect();
    eprintln!(
        "soak {secs} s: {} lines, {} rotations, {} incidents ({} alerts sent, {} failed); \
         resident {first} → peak {peak} KiB; threads {:?}..{:?}; fds {:?}..{:?}; drop {drop_took:?}",
        written.iter().sum::<u64>(),
        stats.rotations,
        incidents.opened,
        incidents.alerts_sent,
        incidents.alerts_failed,
        threads.iter().min(),
        threads.iter().max(),
        fds.iter().min(),
        fds.iter().max(),
    );
    let step = (rss.len() / 12).max(1);
    eprintln!(
        "resident KiB over the run: {:?}",
        rss.iter().step_by(step).collect::<Vec<_>>()
    );
    assert!(
        peak <= first + 8 * 1024,
        "resident memory grew: {rss:?} KiB"
    );
    // No more threads than after warm-up; one more for a moment at most (the HTTP client's
    // resolver thread, while a request is made).
    let (min, max) = (threads.iter().min().unwrap(), threads.iter().max().unwrap());
    assert!(max - min <= 1, "threads: {threads:?}");
    assert!(
        fds.iter().max().unwrap() - fds.iter().min().unwrap() <= 4,
        "descriptors: {fds:?}"
    );
    // The faults were met (failed deliveries) and delivery recovered (alerts sent after them).
    assert!(incidents.opened > 1, "{incidents:?}");
    assert!(
        incidents.alerts_failed > 0 && incidents.alerts_sent > 0,
        "{incidents:?}"
    );
}

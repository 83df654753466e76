//! The background writer through the public API, with writers that fail or stall on demand:
//! overflow policies, write errors and recovery, bounded shutdown.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::{self, HANG};

/// A writer whose every byte lands in a shared buffer, which can be told to fail, and which can
/// be held closed so that the writer thread stalls inside `write`.
#[derive(Clone, Default)]
struct TestWriter {
    out: Arc<Mutex<Vec<u8>>>,
    failing: Arc<AtomicBool>,
    gate: Arc<(Mutex<bool>, std::sync::Condvar)>,
    entered: Arc<Mutex<Option<mpsc::Sender<()>>>>,
}

impl TestWriter {
    fn close_gate(&self) -> mpsc::Receiver<()> {
        *self.gate.0.lock().unwrap() = true;
        let (tx, rx) = mpsc::channel();
        *self.entered.lock().unwrap() = Some(tx);
        rx
    }

    fn open_gate(&self) {
        *self.gate.0.lock().unwrap() = false;
        self.gate.1.notify_all();
    }

    /// The lines written so far, without their `\n`.
    fn lines(&self) -> Vec<String> {
        let out = self.out.lock().unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'));
        text.lines().map(str::to_owned).collect()
    }

    fn records(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Write for TestWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(tx) = self.entered.lock().unwrap().take() {
            let _ = tx.send(());
        }
        let mut closed = self.gate.0.lock().unwrap();
        while *closed {
            closed = self.gate.1.wait(closed).unwrap();
        }
        drop(closed);
        if self.failing.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left (simulated)",
            ));
        }
        self.out.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Opens the writer's gate when dropped, so that a failing test does not leave the writer
/// thread stuck for the rest of the test binary.
struct Reopen<'a>(&'a TestWriter);

impl Drop for Reopen<'_> {
    fn drop(&mut self) {
        self.0.open_gate();
    }
}

fn with_writer(builder: logwarden::Builder, writer: &TestWriter) -> (Dispatch, logwarden::Guard) {
    let (layer, guard) = builder
        .service("writer-test")
        .writer(writer.clone())
        .capture_log(false)
        .build()
        .unwrap();
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        guard,
    )
}

#[test]
fn drop_policy_counts_and_reports_exactly_what_it_dropped() {
    let writer = TestWriter::default();
    let (dispatch, guard) = with_writer(
        logwarden::builder()
            .buffer_bytes(2048)
            .overflow(logwarden::writer::Overflow::DROP),
        &writer,
    );
    const N: u64 = 1_000;
    tracing::dispatcher::with_default(&dispatch, || {
        // Stall the writer inside its first write, so the buffer cannot drain.
        let entered = writer.close_gate();
        tracing::info!(seq = 0u64, "first");
        entered
            .recv_timeout(HANG)
            .expect("writer thread never wrote");
        for seq in 1..N {
            tracing::info!(seq, "flood");
        }
        writer.open_gate();
    });
    assert!(guard.flush());

    let stats = guard.stats();
    let records = writer.records();
    let events: Vec<&Value> = records
        .iter()
        .filter(|r| r["target"] != "logwarden")
        .collect();
    let notices: Vec<&Value> = records
        .iter()
        .filter(|r| r["target"] == "logwarden")
        .collect();
    assert!(
        stats.lines_dropped > 0,
        "a 2 KiB buffer cannot hold 1000 lines"
    );
    assert_eq!(
        events.len() as u64 + stats.lines_dropped,
        N,
        "every line is written or counted"
    );
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["level"], "WARN");
    let message = notices[0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("dropped {} lines", stats.lines_dropped)),
        "{message}"
    );
    // What was kept is in order.
    let seqs: Vec<u64> = events.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn many_threads_share_the_buffer_without_dropping_while_it_has_room() {
    // The writer is stalled inside its first write, so no line leaves the buffer: 40 threads
    // logging a few lines each (about 40 KiB in all) must all fit in the 1 MiB buffer, however
    // the threads' lanes take their share of it.
    let writer = TestWriter::default();
    let (dispatch, guard) = with_writer(
        logwarden::builder().overflow(logwarden::writer::Overflow::DROP),
        &writer,
    );
    const THREADS: u64 = 40;
    const EACH: u64 = 4;
    let entered = writer.close_gate();
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("first"));
    entered
        .recv_timeout(HANG)
        .expect("writer thread never wrote");
    let start = Arc::new(std::sync::Barrier::new(THREADS as usize));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (dispatch, start) = (dispatch.clone(), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..EACH {
                        tracing::info!(thread = t, i, "fits in the buffer");
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        guard.stats().lines_dropped,
        0,
        "dropped with the buffer nearly empty"
    );
    writer.open_gate();
    assert!(guard.flush());
    let records = writer.records();
    for t in 0..THREADS {
        let mine: Vec<u64> = records
            .iter()
            .filter(|r| r["thread"] == t)
            .map(|r| r["i"].as_u64().unwrap())
            .collect();
        assert!(mine.iter().copied().eq(0..EACH), "thread {t}: {mine:?}");
    }
}

#[test]
fn block_policy_loses_nothing_behind_a_stalled_writer() {
    let writer = TestWriter::default();
    let (dispatch, guard) = with_writer(logwarden::builder().buffer_bytes(1024), &writer);
    const N: u64 = 2_000;
    let entered = writer.close_gate();
    let producer = {
        let dispatch = dispatch.clone();
        thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                for seq in 0..N {
                    tracing::info!(seq, "must not be lost");
                }
            })
        })
    };
    entered
        .recv_timeout(HANG)
        .expect("writer thread never wrote");
    writer.open_gate();
    producer.join().unwrap();
    assert!(guard.flush());
    let seqs: Vec<u64> = writer
        .records()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.iter().copied().eq(0..N));
    assert_eq!(guard.stats().lines_dropped, 0);
}

#[test]
fn block_policy_makes_the_producer_wait_and_holds_no_more_than_the_buffer_cap() {
    // The memory bound of the lossless policy: behind a writer that cannot write, a producer
    // gets as far as the buffer holds and then waits, rather than queueing without bound.
    const CAP: usize = 4096;
    const N: u64 = 200;
    let pad = "x".repeat(150);
    let writer = TestWriter::default();
    let (dispatch, guard) = with_writer(logwarden::builder().buffer_bytes(CAP), &writer);
    let entered = writer.close_gate();
    let _reopen = Reopen(&writer);
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("first"));
    entered
        .recv_timeout(HANG)
        .expect("writer thread never wrote");
    // The writer is now inside its first write, holding only "first": no line leaves the
    // buffer until the gate opens, and the whole cap is free for the producer.
    let accepted = Arc::new(AtomicU64::new(0));
    let producer = {
        let (dispatch, accepted, pad) = (dispatch.clone(), Arc::clone(&accepted), pad.clone());
        thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                for seq in 0..N {
                    tracing::info!(seq, pad = pad.as_str(), "waits for room");
                    accepted.store(seq + 1, Ordering::SeqCst);
                }
            })
        })
    };
    // Watched until the count stops moving for a while: on the real code it stops once the cap
    // is used up, whatever the machine's speed, so the assertions below cannot flake. A policy
    // that never waits runs through all N lines in this time.
    let deadline = Instant::now() + HANG;
    let (mut seen, mut since) = (u64::MAX, Instant::now());
    while !producer.is_finished() && Instant::now() < deadline {
        let now = accepted.load(Ordering::SeqCst);
        if now != seen {
            (seen, since) = (now, Instant::now());
        } else if since.elapsed() >= Duration::from_millis(300) {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let held = accepted.load(Ordering::SeqCst);
    assert!(
        !producer.is_finished(),
        "the producer logged all {N} lines while the writer could not write one"
    );
    writer.open_gate();
    support::within(HANG, "the producer, once the writer writes", move || {
        producer.join().unwrap()
    });
    assert!(guard.flush());
    let events: Vec<(usize, u64)> = writer
        .lines()
        .iter()
        .filter_map(|l| {
            let r: Value = serde_json::from_str(l).unwrap();
            Some((l.len() + 1, r["seq"].as_u64()?))
        })
        .collect();
    let seqs: Vec<u64> = events.iter().map(|&(_, seq)| seq).collect();
    assert!(seqs.iter().copied().eq(0..N), "{seqs:?}");
    assert_eq!(guard.stats().lines_dropped, 0);
    // What the stalled writer's buffer held: every line accepted meanwhile, none yet written.
    let shortest = events.iter().map(|&(len, _)| len).min().unwrap();
    assert!(held >= 1, "the producer never got a line into the buffer");
    assert!(
        held as usize * shortest <= CAP,
        "{held} lines of at least {shortest} bytes were queued in a {CAP}-byte buffer"
    );
}

#[test]
fn write_errors_are_counted_and_a_record_reports_the_loss_once_writing_works_again() {
    let writer = TestWriter::default();
    let (dispatch, guard) = with_writer(logwarden::builder(), &writer);
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..10 {
            tracing::info!(seq, "healthy");
        }
        assert!(guard.flush());
        writer.failing.store(true, Ordering::SeqCst);
        for seq in 10..15 {
            tracing::info!(seq, "into the void");
            assert!(guard.flush()); // one batch per line: five failed writes
        }
        let stats = guard.stats();
        assert_eq!(stats.lines_lost, 5);
        assert_eq!(stats.write_errors, 5);
        writer.failing.store(false, Ordering::SeqCst);
        tracing::info!(seq = 15, "healthy again");
    });
    assert!(guard.flush());
    let records = writer.records();
    let seqs: Vec<u64> = records.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(seqs, (0..10).chain([15]).collect::<Vec<_>>());
    let notice = records
        .iter()
        .find(|r| r["target"] == "logwarden")
        .expect("no loss record");
    assert_eq!(notice["level"], "WARN");
    let message = notice["message"].as_str().unwrap();
    assert!(message.contains("lost 5 lines"), "{message}");
    assert!(message.contains("no space left (simulated)"), "{message}");
    assert_eq!(notice["service"], "writer-test");
}

#[test]
fn guard_drop_waits_its_timeout_for_a_hung_writer_and_no_longer() {
    const TIMEOUT: Duration = Duration::from_secs(1);
    let writer = TestWriter::default();
    let (dispatch, guard) = with_writer(logwarden::builder().shutdown_timeout(TIMEOUT), &writer);
    let entered = writer.close_gate();
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("stuck"));
    entered
        .recv_timeout(HANG)
        .expect("writer thread never wrote");
    assert!(
        !guard.flush_timeout(Duration::from_millis(100)),
        "flush cannot succeed while the writer is stuck"
    );
    let started = Instant::now();
    drop(guard);
    let waited = started.elapsed();
    writer.open_gate();
    // The deadline is taken inside the drop, so the whole timeout is always given to the writer.
    assert!(waited >= TIMEOUT, "guard drop gave up after {waited:?}");
    // Past the deadline the drop only wakes up and returns: 1.5 s more than the timeout is room
    // for a loaded machine's scheduling, and still well short of waiting the timeout three times.
    assert!(
        waited < TIMEOUT * 5 / 2,
        "guard drop waited {waited:?} with a timeout of {TIMEOUT:?}"
    );
}

#[test]
fn events_after_the_guard_is_dropped_are_neither_written_nor_blocked() {
    // Lossless, with a buffer that the lines logged after the drop fill many times over: were
    // they queued, the thread would wait for room that the stopped writer never makes.
    const CAP: usize = 1024;
    let writer = TestWriter::default();
    let (dispatch, guard) = with_writer(logwarden::builder().buffer_bytes(CAP), &writer);
    let after = |dispatch: &Dispatch| {
        tracing::dispatcher::with_default(dispatch, || {
            for seq in 0..200u64 {
                tracing::info!(seq, pad = "p".repeat(100), "after");
            }
        })
    };
    support::within(HANG, "logging after the guard was dropped", move || {
        // A thread that logged before the drop (it has a lane in the buffer) ...
        tracing::dispatcher::with_default(&dispatch, || tracing::info!("before"));
        assert!(guard.flush());
        drop(guard);
        after(&dispatch);
        // ... and one that never did.
        thread::spawn(move || after(&dispatch)).join().unwrap();
    });
    let messages: Vec<Value> = writer
        .records()
        .into_iter()
        .map(|r| r["message"].clone())
        .collect();
    assert_eq!(messages, ["before"]);
}

#[test]
fn a_producer_waiting_for_room_is_released_when_the_guard_gives_up_on_a_hung_writer() {
    // The guard's drop returns by its deadline even when the writer is stuck in a write; the
    // threads waiting for room in the buffer must not stay stuck behind it, nor any thread that
    // logs afterwards.
    const CAP: usize = 1024;
    let writer = TestWriter::default();
    let (dispatch, guard) = with_writer(
        logwarden::builder()
            .buffer_bytes(CAP)
            .shutdown_timeout(Duration::from_millis(200)),
        &writer,
    );
    let entered = writer.close_gate();
    let _reopen = Reopen(&writer);
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("stuck"));
    entered
        .recv_timeout(HANG)
        .expect("writer thread never wrote");
    let accepted = Arc::new(AtomicU64::new(0));
    let producer = {
        let (dispatch, accepted) = (dispatch.clone(), Arc::clone(&accepted));
        thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                for seq in 0..200u64 {
                    tracing::info!(seq, pad = "p".repeat(100), "waits for room");
                    accepted.store(seq + 1, Ordering::SeqCst);
                }
            })
        })
    };
    // A few lines fill the buffer; the producer then waits (it cannot have logged all 200).
    support::eventually("the producer's first line", HANG, || {
        accepted.load(Ordering::SeqCst) > 0
    });
    drop(guard);
    let released = support::within(HANG, "the producer, after the guard's drop", move || {
        producer.join().is_ok()
    });
    assert!(released);
    support::within(HANG, "logging after the guard's drop", move || {
        tracing::dispatcher::with_default(&dispatch, || tracing::info!("after"))
    });
}

#[cfg(target_os = "linux")]
#[test]
fn a_real_enospc_device_loses_counted_lines_and_never_blocks_or_panics() {
    // /dev/full answers every write with ENOSPC: the real error, from the real kernel.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("Linux always has /dev/full");
    let (layer, guard) = logwarden::builder()
        .service("enospc")
        .writer(full)
        .alerts(false)
        .build()
        .unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..100 {
            tracing::info!(seq, "into a full disk");
        }
    });
    assert!(guard.flush(), "flushing against ENOSPC must still finish");
    let stats = guard.stats();
    assert_eq!(stats.lines_lost, 100);
    assert!(stats.write_errors >= 1);
    assert_eq!(stats.lines_dropped, 0);
}

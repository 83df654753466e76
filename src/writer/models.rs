//! Model tests of the hand-off between logging threads and the writer thread: loom runs each one
//! in every interleaving of the threads' lock, condition-variable and atomic operations (up to a
//! bound on preemptions), with the shipping code built on loom's models (`sync.rs`). A lost
//! wake-up shows up as a deadlock, a lost or doubled line as a failed assertion.
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib writer::models`

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loom::sync::{Condvar, Mutex};

use super::worker::{spawn, Sink, SinkError};
use super::{Overflow, WorkerHandle};
use crate::diag::Counters;

/// What the sink received, and a condition variable to wait for it on.
#[derive(Default)]
struct Received {
    bytes: Mutex<Vec<u8>>,
    grew: Condvar,
}

struct ModelSink(Arc<Received>);

impl Sink for ModelSink {
    fn write_lines(&mut self, batch: &[u8]) -> Result<(), SinkError> {
        self.0.bytes.lock().unwrap().extend_from_slice(batch);
        self.0.grew.notify_all();
        Ok(())
    }

    fn describe(&self) -> String {
        "model".to_owned()
    }
}

struct Model {
    handle: WorkerHandle,
    received: Arc<Received>,
    counters: Arc<Counters>,
}

impl Model {
    fn start(capacity: usize, overflow: Overflow) -> Model {
        let received = Arc::new(Received::default());
        let counters = Arc::new(Counters::default());
        let handle = spawn(
            Box::new(ModelSink(Arc::clone(&received))),
            capacity,
            overflow,
            Arc::clone(&counters),
            None,
            "model-writer",
            true,
        )
        .unwrap();
        Model {
            handle,
            received,
            counters,
        }
    }

    /// Logs `lines` from a new thread.
    fn producer(&self, lines: &'static [&'static str]) -> loom::thread::JoinHandle<()> {
        let shared = self.handle.shared();
        loom::thread::spawn(move || {
            for line in lines {
                shared.push(format!("{line}\n").as_bytes());
            }
        })
    }

    /// Logs each of `threads` from a thread of its own, all at once, and waits for them.
    fn log_from_threads(&self, threads: &[&'static [&'static str]]) {
        let producers: Vec<_> = threads.iter().map(|lines| self.producer(lines)).collect();
        for p in producers {
            p.join().unwrap();
        }
    }

    fn lines(&self) -> Vec<String> {
        let bytes = self.received.bytes.lock().unwrap();
        String::from_utf8(bytes.clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn dropped(&self) -> u64 {
        self.counters.lines_dropped.load(Relaxed)
    }
}

/// A deadline no model reaches: under loom timed waits never time out anyway.
fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

fn check(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(model);
}

/// Each of `lines` exactly once, each thread's in its order.
fn assert_each_once_in_order(got: &[String], threads: &[&[&str]]) {
    let total: usize = threads.iter().map(|t| t.len()).sum();
    assert_eq!(got.len(), total, "{got:?}");
    for lines in threads {
        let positions: Vec<usize> = lines
            .iter()
            .map(|l| {
                let found: Vec<usize> = (0..got.len()).filter(|&i| got[i] == *l).collect();
                assert_eq!(found.len(), 1, "{l} in {got:?}");
                found[0]
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    }
}

#[test]
fn two_threads_every_line_once_in_order_and_flush_is_exact() {
    const A: &[&str] = &["a1", "a2"];
    const B: &[&str] = &["b1", "b2"];
    check(|| {
        let mut m = Model::start(1 << 16, Overflow::BLOCK);
        m.log_from_threads(&[A, B]);
        assert!(m.handle.flush_until(far()));
        // Flushed: everything logged before is in the sink already.
        assert_each_once_in_order(&m.lines(), &[A, B]);
        assert!(m.handle.shutdown(far()));
        assert_eq!(m.counters.lines_written.load(Relaxed), 4);
        assert_eq!(m.dropped(), 0);
    });
}

#[test]
fn a_budget_of_one_line_blocks_callers_until_the_writer_makes_room() {
    const A: &[&str] = &["a1", "a2"];
    const B: &[&str] = &["b1"];
    check(|| {
        // Three bytes: one line at a time in all the lanes together.
        let mut m = Model::start(3, Overflow::BLOCK);
        m.log_from_threads(&[A, B]);
        assert!(m.handle.shutdown(far()));
        assert_each_once_in_order(&m.lines(), &[A, B]);
        assert_eq!(m.dropped(), 0);
    });
}

#[test]
fn an_idle_writer_is_woken_by_a_line_without_a_flush() {
    const A: &[&str] = &["a1"];
    check(|| {
        let mut m = Model::start(1 << 16, Overflow::BLOCK);
        let a = m.producer(A);
        // No flush: the line alone must wake the writer, wherever it is in going idle. A lost
        // wake-up leaves this wait, and so the model, deadlocked.
        {
            let mut bytes = m.received.bytes.lock().unwrap();
            while bytes.is_empty() {
                bytes = m.received.grew.wait(bytes).unwrap();
            }
        }
        a.join().unwrap();
        assert!(m.handle.shutdown(far()));
        assert_each_once_in_order(&m.lines(), &[A]);
    });
}

#[test]
fn with_drop_every_line_is_written_or_counted() {
    const A: &[&str] = &["a1", "a2"];
    const B: &[&str] = &["b1"];
    check(|| {
        let mut m = Model::start(3, Overflow::DROP);
        m.log_from_threads(&[A, B]);
        assert!(m.handle.shutdown(far()));
        let got = m.lines();
        assert_eq!(got.len() as u64 + m.dropped(), 3, "{got:?}");
        for line in &got {
            assert_eq!(got.iter().filter(|l| *l == line).count(), 1, "{got:?}");
        }
        if got.contains(&"a2".to_owned()) && got.contains(&"a1".to_owned()) {
            assert!(got.iter().position(|l| l == "a1") < got.iter().position(|l| l == "a2"));
        }
    });
}

#[test]
fn a_line_racing_shutdown_is_written_or_counted_never_lost() {
    const A: &[&str] = &["a1"];
    check(|| {
        let mut m = Model::start(1 << 16, Overflow::BLOCK);
        let a = m.producer(A);
        assert!(m.handle.shutdown(far()));
        a.join().unwrap();
        let got = m.lines();
        assert_eq!(got.len() as u64 + m.dropped(), 1, "{got:?}");
    });
}

#[test]
fn a_line_larger_than_the_budget_passes_once_its_lane_is_empty() {
    const A: &[&str] = &["aaaa1", "aaaa2"];
    const B: &[&str] = &["b"];
    check(|| {
        let mut m = Model::start(4, Overflow::BLOCK);
        m.log_from_threads(&[A, B]);
        assert!(m.handle.shutdown(far()));
        assert_each_once_in_order(&m.lines(), &[A, B]);
    });
}

//! The writer thread: when it wakes, what it takes from the lanes, how it reports what it
//! could not write.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lanes::{enter_writer_thread, give_back, Control, Lane, Shared, BUSY, IDLE, LINGERING};
use super::sync::thread;
use super::{Announce, Overflow};
use crate::diag::{report, Counters};

/// Where a writer thread puts its batches: the rotating file, stdout, a user's writer.
pub(crate) trait Sink: Send + 'static {
    /// Writes `batch`, a run of whole `\n`-terminated lines. On failure, says from which byte on
    /// the batch was not written, so the lost lines can be counted.
    fn write_lines(&mut self, batch: &[u8]) -> Result<(), SinkError>;

    /// Called before writing again after a failure: reopen the file, recreate the directory.
    fn recover(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Called about once a second: notice a file deleted underneath, finish background work.
    fn housekeeping(&mut self) {}

    /// A record to write before the first batch (what opening found: a line a previous writer
    /// left unfinished).
    fn opening_notice(&mut self) -> Option<String> {
        None
    }

    /// Called once at shutdown; may wait for background work until `deadline`.
    fn finish(&mut self, _deadline: Instant) {}

    /// A short description for diagnostics (a path, `stdout`), never a secret.
    fn describe(&self) -> String;
}

/// A failed [`Sink::write_lines`].
#[derive(Debug)]
pub(crate) struct SinkError {
    pub(crate) error: io::Error,
    /// Offset in the batch of the first byte not written; the line it starts is lost.
    pub(crate) unwritten_from: usize,
}

/// How long the writer sleeps when idle before doing housekeeping and releasing big buffers.
const IDLE_TICK: Duration = Duration::from_secs(1);
/// How long the writer keeps looking for more lines after a batch before it goes idle (and
/// callers have to wake it): at most this much latency under load, no wake-up per line.
const LINGER: Duration = Duration::from_millis(2);

/// Lanes holding less than this are joined into one write.
const JOIN_BYTES: usize = 64 * 1024;

/// Buffers above this size are released when the writer goes idle.
const IDLE_KEEP_BYTES: usize = 64 * 1024;

fn count_lines(bytes: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', bytes).count() as u64;
    // A write that does not end in a newline still carries one (partial) line.
    n + u64::from(bytes.last().is_some_and(|&b| b != b'\n'))
}

/// Owns a writer thread: flushes it and stops it.
#[derive(Debug)]
pub(crate) struct WorkerHandle {
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

impl WorkerHandle {
    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    pub(crate) fn flush_until(&self, deadline: Instant) -> bool {
        self.shared.flush_until(deadline)
    }

    /// Writes what is queued, stops the thread, and returns by `deadline` whatever happens.
    /// Returns whether everything queued was written.
    pub(crate) fn shutdown(&mut self, deadline: Instant) -> bool {
        let flushed = self.shared.flush_until(deadline);
        let mut ctl = self.shared.ctl.lock();
        ctl.shutdown = true;
        ctl.deadline = Some(deadline);
        self.shared.wake.notify_one();
        while !ctl.exited {
            if self
                .shared
                .progress
                .wait_until(&mut ctl, deadline)
                .timed_out()
            {
                break;
            }
        }
        let exited = ctl.exited;
        if !exited {
            // The writer is stuck in its sink: lines from now on are dropped and counted, and
            // callers waiting for room it will not make are let go (notified under `ctl`, where
            // they look before they wait).
            self.shared.close();
            self.shared.wake_all();
        }
        drop(ctl);
        // If the sink is stuck in a write (a hung NFS mount), the thread is left behind rather
        // than hang the host's shutdown.
        if let Some(t) = self.thread.take() {
            if exited {
                let _ = t.join();
            }
        }
        flushed
    }
}

impl Drop for WorkerHandle {
    /// A handle dropped without `shutdown` (a failed `init()` half-way) still stops its thread.
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown(Instant::now() + Duration::from_secs(1));
        }
    }
}

/// Starts a writer thread for `sink`.
pub(crate) fn spawn(
    sink: Box<dyn Sink>,
    capacity: usize,
    overflow: Overflow,
    counters: Arc<Counters>,
    notice: Option<Box<dyn Announce>>,
    thread_name: &str,
    count_written: bool,
) -> io::Result<WorkerHandle> {
    let shared = Arc::new(Shared::new(capacity, overflow, counters));
    let worker = Worker {
        shared: Arc::clone(&shared),
        sink,
        notice,
        failing: None,
        dropped_unreported: 0,
        scratch: Vec::new(),
        last_housekeeping: Instant::now(),
        count_written,
    };
    let thread = thread::Builder::new()
        .name(thread_name.to_owned())
        .spawn(move || worker.run())?;
    Ok(WorkerHandle {
        shared,
        thread: Some(thread),
    })
}

/// Whether someone needs the writer now.
fn woken(ctl: &Control) -> bool {
    ctl.kicked || ctl.urgent || ctl.shutdown
}

/// A run of failed writes, reported once when it starts and once when it ends.
struct Failure {
    first_error: String,
    lines_lost: u64,
}

struct Worker {
    shared: Arc<Shared>,
    sink: Box<dyn Sink>,
    notice: Option<Box<dyn Announce>>,
    failing: Option<Failure>,
    /// Dropped lines not yet reported in a record (kept while writing fails).
    dropped_unreported: u64,
    scratch: Vec<u8>,
    last_housekeeping: Instant,
    /// Whether this is the main writer, whose written lines the metrics count (not stdout's).
    count_written: bool,
}

/// Marks the worker as gone when its thread ends, normally or by a panic in a sink, so that no
/// caller waits for room or progress that will never come.
struct ExitGuard(Arc<Shared>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.close();
        let mut ctl = self.0.ctl.lock();
        ctl.exited = true;
        drop(ctl);
        self.0.wake_all();
    }
}

/// How the writer waits for lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Lines are coming in: give them a moment to make a batch.
    Linger,
    /// Nothing came for a while: sleep until a line wakes it, or the idle tick.
    Idle,
}

impl Worker {
    fn run(mut self) {
        enter_writer_thread();
        // Also quiet: the panic hook and the alert layer leave the crate's own threads alone.
        crate::diag::enter_quiet_thread();
        let _exit = ExitGuard(Arc::clone(&self.shared));
        if let Some(message) = self.sink.opening_notice() {
            if let Err(e) = self.write_notice("WARN", &message) {
                self.lost(0, e);
            }
        }
        // Small lanes' lines joined, so that many threads logging a little cost one write.
        let mut batch = Vec::new();
        // Lanes' buffers as a pass takes them, each with its lane, to which it goes back.
        let mut full = Vec::new();
        // How much the last pass took: nothing means the writer may go idle.
        let mut last = 0;
        loop {
            if last == 0 {
                // Busy callers are not asked to wake us: waking a thread is a system call,
                // which would cost each event more than formatting it. We look again shortly;
                // only a writer that found nothing for a while counts as idle, and only then
                // does the next line wake it.
                if !self.wait(Wait::Linger) && !self.shared.anything_queued() {
                    while !self.wait(Wait::Idle) {
                        // The idle tick: an idle service holds no large buffer.
                        self.shared.shrink_lanes(IDLE_KEEP_BYTES);
                        if batch.capacity() > IDLE_KEEP_BYTES {
                            batch = Vec::new();
                        }
                        self.housekeeping(true);
                        if self.shared.anything_queued() {
                            break;
                        }
                    }
                }
            } else if last < self.shared.gather() {
                self.wait(Wait::Linger);
            }
            let (pass, shutdown) = {
                let mut ctl = self.shared.ctl.lock();
                ctl.begun += 1;
                ctl.urgent = false;
                (ctl.begun, ctl.shutdown)
            };
            if shutdown {
                // After this, no line enters a lane: this pass is the last.
                self.shared.close();
            }
            let taken = self.shared.take_all(&mut full, shutdown);
            last = taken.bytes;
            if !full.is_empty() {
                self.housekeeping(false);
                let lost = self.write_all(&full, &mut batch);
                if self.count_written {
                    Counters::add(
                        &self.shared.counters.lines_written,
                        taken.records.saturating_sub(lost),
                    );
                }
                for (lane, lines) in full.drain(..) {
                    give_back(&lane, lines);
                }
            }
            self.dropped_unreported += self.shared.take_dropped();
            if self.dropped_unreported > 0 && self.failing.is_none() {
                let message = format!(
                    "logwarden dropped {} lines: the write buffer was full and the overflow policy is DROP",
                    self.dropped_unreported
                );
                match self.write_notice("WARN", &message) {
                    Ok(()) => self.dropped_unreported = 0,
                    Err(e) => self.lost(0, e),
                }
            }
            {
                let mut ctl = self.shared.ctl.lock();
                ctl.finished = pass;
                self.shared.progress.notify_all();
            }
            if shutdown {
                break;
            }
        }
        let deadline = self.shared.ctl.lock().deadline;
        self.sink
            .finish(deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(5)));
    }

    /// Waits as `how` says; returns whether it was woken (by a line, a flush, a caller out of
    /// room, shutdown) rather than by its timeout.
    fn wait(&self, how: Wait) -> bool {
        let shared = &self.shared;
        let mut ctl = shared.ctl.lock();
        if !woken(&ctl) {
            match how {
                Wait::Linger => {
                    shared.set_mode(LINGERING);
                    // Under loom a timed wait never times out, and a lingering writer is not
                    // always woken (by design: it looks again after `LINGER`), so the models
                    // skip lingering and check the idle hand-off instead.
                    if !cfg!(loom) {
                        shared.wake.wait_for(&mut ctl, LINGER);
                    }
                }
                Wait::Idle => {
                    shared.set_mode(IDLE);
                    // Looked at after `IDLE` is set: a line a caller queued before it could see
                    // `IDLE` is found here.
                    if shared.anything_queued() {
                        ctl.kicked = true;
                    }
                    let deadline = Instant::now() + IDLE_TICK;
                    while !woken(&ctl) {
                        if shared.wake.wait_until(&mut ctl, deadline).timed_out() {
                            break;
                        }
                    }
                }
            }
        }
        shared.set_mode(BUSY);
        let woken = woken(&ctl);
        ctl.kicked = false;
        woken
    }

    fn housekeeping(&mut self, force: bool) {
        if force || self.last_housekeeping.elapsed() >= IDLE_TICK {
            self.last_housekeeping = Instant::now();
            self.sink.housekeeping();
        }
    }

    /// Writes the lanes' lines a pass took; returns how many were lost. Lanes are joined into
    /// `batch` up to [`JOIN_BYTES`], and a larger one is written from its own buffer: one write
    /// for many threads logging a little, no copy of a large batch (the memory it would take,
    /// and the writer's time on a machine whose cores the callers need).
    fn write_all(&mut self, full: &[(Arc<Lane>, Vec<u8>)], batch: &mut Vec<u8>) -> u64 {
        let mut lost = 0;
        for (_, lines) in full {
            if lines.len() > JOIN_BYTES || full.len() == 1 {
                // After what was joined before it: the fallback, last, must stay last.
                if !batch.is_empty() {
                    lost += self.write(batch);
                    batch.clear();
                }
                lost += self.write(lines);
                continue;
            }
            if batch.len() + lines.len() > JOIN_BYTES {
                lost += self.write(batch);
                batch.clear();
            }
            batch.extend_from_slice(lines);
        }
        if !batch.is_empty() {
            lost += self.write(batch);
            batch.clear();
        }
        lost
    }

    /// Writes `batch`; returns how many of its lines were lost.
    fn write(&mut self, batch: &[u8]) -> u64 {
        if let Some(failure) = &self.failing {
            if let Err(e) = self.sink.recover() {
                let lines = count_lines(batch);
                self.lost(lines, e);
                return lines;
            }
            // The loss record goes first, before the lines written after it, and doubles as the
            // probe that writing works again.
            let message = format!(
                "logwarden lost {} lines: writing to {} failed: {}",
                failure.lines_lost,
                self.sink.describe(),
                failure.first_error
            );
            let lines_lost = failure.lines_lost;
            if let Err(e) = self.write_notice("WARN", &message) {
                let lines = count_lines(batch);
                self.lost(lines, e);
                return lines;
            }
            self.failing = None;
            report(format_args!(
                "writing to {} works again; {lines_lost} lines were lost",
                self.sink.describe()
            ));
        }
        match self.sink.write_lines(batch) {
            Ok(()) => 0,
            Err(e) => {
                let lines = count_lines(&batch[e.unwritten_from.min(batch.len())..]);
                self.lost(lines, e.error);
                lines
            }
        }
    }

    /// Counts `lines` as lost; the first failure of a run is reported on stderr.
    fn lost(&mut self, lines: u64, error: io::Error) {
        Counters::add(&self.shared.counters.lines_lost, lines);
        Counters::add(&self.shared.counters.write_errors, 1);
        match &mut self.failing {
            Some(f) => f.lines_lost += lines,
            None => {
                report(format_args!(
                    "writing to {} failed: {error}; lines are counted as lost until it works again",
                    self.sink.describe()
                ));
                self.failing = Some(Failure {
                    first_error: error.to_string(),
                    lines_lost: lines,
                });
            }
        }
    }

    /// Writes a record of the crate's own into this sink. Not a `tracing` event: it must not go
    /// through filters, other layers or the alert counter. Without a record format (a sink that
    /// is not JSON), the message goes to stderr only.
    fn write_notice(&mut self, level: &str, message: &str) -> io::Result<()> {
        let Some(notice) = &self.notice else {
            report(format_args!("{message}"));
            return Ok(());
        };
        self.scratch.clear();
        notice.render(&mut self.scratch, level, message);
        self.sink.write_lines(&self.scratch).map_err(|e| e.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::mpsc;

    /// A sink that takes every batch, or (with a receiver) waits inside its first write until the
    /// receiver's sender is dropped, like a write to a hung disk.
    struct TestSink(Option<mpsc::Receiver<()>>);

    impl Sink for TestSink {
        fn write_lines(&mut self, _batch: &[u8]) -> Result<(), SinkError> {
            if let Some(hang) = self.0.take() {
                let _ = hang.recv();
            }
            Ok(())
        }

        fn describe(&self) -> String {
            "test".to_owned()
        }
    }

    const LINE: &[u8] = b"a line of some thirty bytes\n";

    fn start(sink: TestSink, capacity: usize) -> (WorkerHandle, Arc<Counters>) {
        let counters = Arc::new(Counters::default());
        let handle = spawn(
            Box::new(sink),
            capacity,
            Overflow::BLOCK,
            Arc::clone(&counters),
            None,
            "logwarden-test-writer",
            true,
        )
        .unwrap();
        (handle, counters)
    }

    /// Waits for `thread` at most 10 s: a caller left waiting fails the test instead of hanging it.
    fn join_within(thread: std::thread::JoinHandle<()>, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !thread.is_finished() {
            assert!(Instant::now() < deadline, "{what}: still waiting");
            std::thread::sleep(Duration::from_millis(5));
        }
        thread.join().unwrap();
    }

    #[test]
    fn lines_after_shutdown_are_counted_as_dropped_and_never_wait() {
        let (mut handle, counters) = start(TestSink(None), 64);
        // One thread throughout, so that its lines after the shutdown meet the lane it had.
        let caller = std::thread::spawn(move || {
            let shared = handle.shared();
            shared.push(LINE);
            assert!(handle.shutdown(Instant::now() + Duration::from_secs(5)));
            // Far more than the 64-byte buffer holds: a line that waited for room would hang.
            for _ in 0..100 {
                shared.push(LINE);
            }
        });
        join_within(caller, "lines after the shutdown");
        assert_eq!(counters.lines_written.load(SeqCst), 1);
        assert_eq!(counters.lines_dropped.load(SeqCst), 100);
    }

    #[test]
    fn a_shutdown_that_gives_up_on_a_hung_sink_releases_waiting_callers_and_counts_later_lines() {
        let (unhang, hang) = mpsc::channel();
        let (mut handle, counters) = start(TestSink(Some(hang)), 64);
        let shared = handle.shared();
        shared.push(LINE);
        // The sink gets stuck with the first batch it takes; the 64-byte buffer then holds two
        // lines, so the caller of ten waits for room.
        let caller = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for _ in 0..10 {
                    shared.push(LINE);
                }
            })
        };
        let flushed = handle.shutdown(Instant::now() + Duration::from_millis(200));
        assert!(!flushed, "the hung sink cannot have written everything");
        join_within(caller, "the caller waiting for room");
        let dropped = counters.lines_dropped.load(SeqCst);
        assert!(
            dropped >= 6,
            "{dropped}: at most four of ten lines can have been queued"
        );
        shared.push(LINE);
        assert_eq!(counters.lines_dropped.load(SeqCst), dropped + 1);
        drop(unhang);
    }

    #[test]
    fn counts_partial_lines() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a\n"), 1);
        assert_eq!(count_lines(b"a\nb"), 2);
        assert_eq!(count_lines(b"a\nb\n"), 2);
    }
}

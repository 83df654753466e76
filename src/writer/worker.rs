//! The writer thread and the state it shares with callers.

use std::cell::Cell;
use std::io;
use std::mem;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

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

/// Buffers above this size are released when the writer goes idle.
const IDLE_KEEP_BYTES: usize = 64 * 1024;

thread_local! {
    /// Set on writer threads: a line logged from inside a sink must not wait on its own thread.
    static ON_WRITER_THREAD: Cell<bool> = const { Cell::new(false) };
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// The writer waits here for lines.
    wake: Condvar,
    /// Blocked callers wait here for room.
    room: Condvar,
    /// Flushes and shutdown wait here for the writer's progress.
    progress: Condvar,
    capacity: usize,
    overflow: Overflow,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("capacity", &self.capacity)
            .field("overflow", &self.overflow)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    /// Records ever accepted into `buf`.
    accepted: u64,
    /// Value of `accepted` up to which the writer has finished (written or counted lost).
    done: u64,
    /// Lines dropped since the writer last reported it.
    dropped_unreported: u64,
    writer_idle: bool,
    /// The writer is looking again shortly (see `LINGER`); a caller wakes it early only when the
    /// buffer holds a batch worth writing (`gather` bytes), so lingering never caps throughput.
    writer_lingering: bool,
    /// A flush is waiting: write what there is now, however little.
    urgent: bool,
    shutdown: bool,
    /// The guard's deadline, for background work the sink finishes at shutdown (compression).
    deadline: Option<Instant>,
    exited: bool,
}

impl Shared {
    /// Queues one record (one event's whole line). Never fails: what cannot be queued is counted.
    pub(crate) fn push(&self, lines: &[u8]) {
        if ON_WRITER_THREAD.get() {
            Counters::add(&self.counters.lines_dropped, 1);
            return;
        }
        let mut st = self.state.lock();
        loop {
            if st.shutdown || st.exited {
                drop(st);
                Counters::add(&self.counters.lines_dropped, 1);
                return;
            }
            // An empty buffer always takes the line, so a line larger than the capacity passes.
            if st.buf.is_empty() || st.buf.len() + lines.len() <= self.capacity {
                break;
            }
            if self.overflow.is_block() {
                // Whether idle or lingering, the writer is needed now.
                self.wake.notify_one();
                self.room.wait(&mut st);
            } else {
                st.dropped_unreported += 1;
                drop(st);
                Counters::add(&self.counters.lines_dropped, 1);
                return;
            }
        }
        st.buf.extend_from_slice(lines);
        st.accepted += 1;
        let wake = st.writer_idle || (st.writer_lingering && st.buf.len() >= self.gather());
        if wake {
            st.writer_idle = false;
            st.writer_lingering = false;
        }
        drop(st);
        // Notified after unlocking: notified under the lock, the writer would be queued on the
        // mutex and handed it while still waking up, and this thread's next line would find
        // the lock taken by a thread not yet running, and sleep.
        if wake {
            self.wake.notify_one();
        }
    }

    /// Waits until every line accepted before the call is written (or counted lost), at most
    /// until `deadline`. Returns whether it got there.
    pub(crate) fn flush_until(&self, deadline: Instant) -> bool {
        let mut st = self.state.lock();
        let target = st.accepted;
        while st.done < target && !st.exited {
            st.urgent = true;
            st.writer_idle = false;
            st.writer_lingering = false;
            // Always: a caller that took the writer out of idle may not have woken it yet (it
            // notifies after unlocking), and flushes are rare.
            self.wake.notify_one();
            if self.progress.wait_until(&mut st, deadline).timed_out() {
                return st.done >= target;
            }
        }
        st.done >= target
    }
}

impl Shared {
    /// How much the writer waits to gather before a write while callers keep adding: fewer,
    /// larger hand-offs mean fewer lock round trips and cache lines passed between the threads.
    fn gather(&self) -> usize {
        (self.capacity / 8).max(1)
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', bytes).count() as u64;
    // A write that does not end in a newline still carries one (partial) line.
    n + u64::from(bytes.last().is_some_and(|&b| b != b'\n'))
}

/// Owns a writer thread: flushes it and stops it.
#[derive(Debug)]
pub(crate) struct WorkerHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
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
        let mut st = self.shared.state.lock();
        st.shutdown = true;
        st.deadline = Some(deadline);
        self.shared.wake.notify_one();
        self.shared.room.notify_all();
        while !st.exited {
            if self
                .shared
                .progress
                .wait_until(&mut st, deadline)
                .timed_out()
            {
                break;
            }
        }
        let exited = st.exited;
        drop(st);
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
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        wake: Condvar::new(),
        room: Condvar::new(),
        progress: Condvar::new(),
        capacity: capacity.max(1),
        overflow,
        counters,
    });
    let worker = Worker {
        shared: Arc::clone(&shared),
        sink,
        notice,
        failing: None,
        dropped_unreported: 0,
        scratch: Vec::new(),
        last_housekeeping: Instant::now(),
        count_written,
        handled: 0,
    };
    let thread = thread::Builder::new()
        .name(thread_name.to_owned())
        .spawn(move || worker.run())?;
    Ok(WorkerHandle {
        shared,
        thread: Some(thread),
    })
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
    /// Records accepted up to the last batch: the next batch holds those after it.
    handled: u64,
}

/// Marks the worker as gone when its thread ends, normally or by a panic in a sink, so that no
/// caller waits for room that will never come.
struct ExitGuard(Arc<Shared>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let mut st = self.0.state.lock();
        st.exited = true;
        self.0.progress.notify_all();
        self.0.room.notify_all();
    }
}

impl Worker {
    fn run(mut self) {
        ON_WRITER_THREAD.set(true);
        // Also quiet: the panic hook and the alert layer leave the crate's own threads alone.
        crate::diag::enter_quiet_thread();
        let _exit = ExitGuard(Arc::clone(&self.shared));
        if let Some(message) = self.sink.opening_notice() {
            if let Err(e) = self.write_notice("WARN", &message) {
                self.lost(0, e);
            }
        }
        let mut batch = Vec::new();
        loop {
            let (target, dropped, shutdown) = {
                let mut st = self.shared.state.lock();
                let mut lingered = false;
                while st.buf.is_empty() && st.dropped_unreported == 0 && !st.shutdown {
                    if !lingered {
                        // Busy callers are not asked to wake us: waking a thread is a system
                        // call, which would cost each event more than formatting it. We look
                        // again shortly; only a writer that found nothing for a while counts as
                        // idle, and only then does the next line wake it.
                        lingered = true;
                        st.writer_lingering = true;
                        self.shared.wake.wait_for(&mut st, LINGER);
                        st.writer_lingering = false;
                        continue;
                    }
                    st.writer_idle = true;
                    if self.shared.wake.wait_for(&mut st, IDLE_TICK).timed_out()
                        && st.buf.is_empty()
                    {
                        // Idle: an idle service holds no large buffer.
                        if st.buf.capacity() > IDLE_KEEP_BYTES {
                            st.buf = Vec::new();
                        }
                        if batch.capacity() > IDLE_KEEP_BYTES {
                            batch = Vec::new();
                        }
                        drop(st);
                        self.housekeeping(true);
                        st = self.shared.state.lock();
                    }
                }
                st.writer_idle = false;
                if !lingered && !st.urgent && !st.shutdown && st.buf.len() < self.shared.gather() {
                    // Lines are coming in: give them a moment to make a batch.
                    st.writer_lingering = true;
                    self.shared.wake.wait_for(&mut st, LINGER);
                    st.writer_lingering = false;
                }
                st.urgent = false;
                mem::swap(&mut st.buf, &mut batch);
                let dropped = mem::take(&mut st.dropped_unreported);
                self.shared.room.notify_all();
                (st.accepted, dropped, st.shutdown && batch.is_empty())
            };
            if !batch.is_empty() {
                self.housekeeping(false);
                let lost = self.write(&batch);
                let records = target.saturating_sub(mem::replace(&mut self.handled, target));
                if self.count_written {
                    Counters::add(
                        &self.shared.counters.lines_written,
                        records.saturating_sub(lost),
                    );
                }
                batch.clear();
                // While busy, the buffer handed back to callers at the next swap can already
                // hold a full batch: callers never grow it, so an event allocates nothing on
                // their thread. Both buffers are released when idle (above).
                if batch.capacity() < self.shared.capacity {
                    batch.reserve(self.shared.capacity);
                }
            }
            self.dropped_unreported += dropped;
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
                let mut st = self.shared.state.lock();
                st.done = target;
                self.shared.progress.notify_all();
            }
            if shutdown {
                break;
            }
        }
        let deadline = self.shared.state.lock().deadline;
        self.sink
            .finish(deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(5)));
    }

    fn housekeeping(&mut self, force: bool) {
        if force || self.last_housekeeping.elapsed() >= IDLE_TICK {
            self.last_housekeeping = Instant::now();
            self.sink.housekeeping();
        }
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

    #[test]
    fn counts_partial_lines() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a\n"), 1);
        assert_eq!(count_lines(b"a\nb"), 2);
        assert_eq!(count_lines(b"a\nb\n"), 2);
    }
}

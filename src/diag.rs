//! The one place failures with no caller to return to end up: counters the [`Guard`](crate::Guard)
//! can read, and a line on stderr.
//!
//! Deliberately not `tracing` events (DESIGN.md, "Why are failures not `tracing` events?").

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Prints one diagnostic line on stderr, prefixed so it is recognisable among the host's output.
/// Never panics, unlike `eprintln!` on a closed stderr (`app 2>&1 | head`).
pub(crate) fn report(args: fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "logwarden: {args}");
}

/// Counters shared by the writers of one `init()`/`build()`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) lines_dropped: AtomicU64,
    pub(crate) lines_lost: AtomicU64,
    pub(crate) write_errors: AtomicU64,
    pub(crate) rotations: AtomicU64,
    pub(crate) rotation_errors: AtomicU64,
    pub(crate) torn_lines: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            lines_dropped: get(&self.lines_dropped),
            lines_lost: get(&self.lines_lost),
            write_errors: get(&self.write_errors),
            rotations: get(&self.rotations),
            rotation_errors: get(&self.rotation_errors),
            torn_lines: get(&self.torn_lines),
        }
    }
}

/// What the writers have had to give up on since start, read with
/// [`Guard::stats`](crate::Guard::stats).
///
/// Apart from `rotations`, all zero in a healthy process. Every failure was also reported on
/// stderr and, once writing worked again, as a `WARN` record with target `logwarden` in the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Lines not queued: the buffer was full under [`Overflow::DROP`](crate::writer::Overflow::DROP), or
    /// they were logged after the guard was dropped.
    pub lines_dropped: u64,
    /// Lines queued but not written because the file could not be written (disk full, file or
    /// directory removed, permission lost).
    pub lines_lost: u64,
    /// Failed write or open attempts.
    pub write_errors: u64,
    /// Rotations done.
    pub rotations: u64,
    /// Rotations that failed (the active file was kept and writing went on in it).
    pub rotation_errors: u64,
    /// Unfinished last lines found when the file was opened (a previous writer was killed
    /// mid-line, or its disk filled up): each was ended with a newline, and said in a record.
    pub torn_lines: u64,
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the current thread as one of the crate's own background threads: events raised on it
/// by other code (the HTTP client's logging, which may quote the webhook URL) are neither written
/// nor counted.
pub(crate) fn enter_quiet_thread() {
    QUIET.set(true);
}

/// Whether the current thread is a quiet one (see [`enter_quiet_thread`]).
#[inline]
pub(crate) fn on_quiet_thread() -> bool {
    QUIET.get()
}

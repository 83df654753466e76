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
    /// Events by level, counted by the callers' threads.
    pub(crate) events: EventCounts,
    /// Records written by the main writer (the file, or the configured writer; not stdout).
    pub(crate) lines_written: AtomicU64,
    pub(crate) lines_dropped: AtomicU64,
    pub(crate) lines_lost: AtomicU64,
    pub(crate) write_errors: AtomicU64,
    pub(crate) rotations: AtomicU64,
    pub(crate) rotation_errors: AtomicU64,
    pub(crate) torn_lines: AtomicU64,
}

/// Events by level, ERROR first, counted by the callers' threads: each thread adds to one of a
/// few shards, each on cache lines of its own, so that producers on different cores do not
/// take turns owning one line (and the writer thread's counters are not beside them).
#[derive(Debug, Default)]
pub(crate) struct EventCounts {
    shards: [Shard; SHARDS],
}

/// Enough for the cores a service usually gets; threads beyond share shards, still correct.
const SHARDS: usize = 16;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard([AtomicU64; 5]);

/// The levels in the order of [`EventCounts::get`], as the metrics label them.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

static NEXT_SHARD: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SHARD: usize = (NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS as u64) as usize;
}

impl EventCounts {
    /// One relaxed add on this thread's shard: the whole cost of counting on the hot path.
    #[inline]
    pub(crate) fn count(&self, level: &tracing_core::Level) {
        let i = match *level {
            tracing_core::Level::ERROR => 0,
            tracing_core::Level::WARN => 1,
            tracing_core::Level::INFO => 2,
            tracing_core::Level::DEBUG => 3,
            tracing_core::Level::TRACE => 4,
        };
        // A thread being torn down has no shard left: the first one does.
        let shard = SHARD.try_with(|s| *s).unwrap_or(0);
        self.shards[shard].0[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The events so far, by level in the order of [`LEVELS`].
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn get(&self) -> [u64; 5] {
        let mut out = [0; 5];
        for shard in &self.shards {
            for (sum, n) in out.iter_mut().zip(&shard.0) {
                *sum += n.load(Ordering::Relaxed);
            }
        }
        out
    }
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

//! The handle `init()` returns: owns the writer threads, flushes them, reports what they lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::diag::{report, Counters, Stats};
use crate::writer::WorkerHandle;

/// Keeps the background writers alive; dropping it writes everything logged so far and stops them.
///
/// Hold it for the life of the program (`let _guard = logwarden::init()?;` in `main`; note that
/// `let _ = …` drops it at once). Dropping it waits at most the configured shutdown timeout
/// ([`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout), default 5 s), even if the
/// disk hangs, then returns; lines still unwritten by then are reported on stderr.
#[must_use = "dropping the guard stops the log writer; keep it alive until the end of main"]
pub struct Guard {
    workers: Vec<WorkerHandle>,
    counters: Arc<Counters>,
    timeout: Duration,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("path", &self.path)
            .field("timeout", &self.timeout)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Guard {
    pub(crate) fn new(
        workers: Vec<WorkerHandle>,
        counters: Arc<Counters>,
        timeout: Duration,
        path: Option<PathBuf>,
    ) -> Self {
        Guard {
            workers,
            counters,
            timeout,
            path,
        }
    }

    /// Blocks until every line logged before the call has been written to the file (handed to
    /// the operating system, so any reader sees it), or the shutdown timeout has passed.
    ///
    /// Returns `true` if everything was written; `false` on timeout. Lines that could not be
    /// written because of an I/O error count as handled here and show up in [`Guard::stats`].
    pub fn flush(&self) -> bool {
        self.flush_timeout(self.timeout)
    }

    /// [`Guard::flush`] with an explicit bound.
    pub fn flush_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.workers.iter().all(|w| w.flush_until(deadline))
    }

    /// What the writers dropped or lost so far. All zero in a healthy process.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The active log file, if records go to a file.
    pub fn log_path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let deadline = Instant::now() + self.timeout;
        let mut complete = true;
        for w in &mut self.workers {
            complete &= w.shutdown(deadline);
        }
        if !complete {
            report(format_args!(
                "shutdown timeout of {:?} reached before every log line was written",
                self.timeout
            ));
        }
    }
}

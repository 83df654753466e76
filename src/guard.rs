//! The handle `init()` returns: owns the writer threads, flushes them, reports what they lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::diag::{report, Counters, Stats};
use crate::notify::Delivery;
use crate::reload::FilterHandle;
use crate::writer::{Flusher, WorkerHandle};

/// Keeps the background writers alive; dropping it writes everything logged so far and stops them.
///
/// Hold it for the life of the program (`let _guard = logwarden::init()?;` in `main`; note that
/// `let _ = …` drops it at once). Dropping it waits at most the configured shutdown timeout
/// ([`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout), default 5 s), even if the
/// disk hangs, then returns; lines still unwritten by then are reported on stderr.
#[must_use = "dropping the guard stops the log writer; keep it alive until the end of main"]
pub struct Guard {
    /// Declared first: alerts are delivered (and their records queued) before the writers stop.
    delivery: Option<Delivery>,
    workers: Vec<WorkerHandle>,
    counters: Arc<Counters>,
    timeout: Duration,
    path: Option<PathBuf>,
    filter: FilterHandle,
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
        delivery: Option<Delivery>,
        counters: Arc<Counters>,
        timeout: Duration,
        path: Option<PathBuf>,
        filter: FilterHandle,
    ) -> Self {
        Guard {
            delivery,
            workers,
            counters,
            timeout,
            path,
            filter,
        }
    }

    /// A handle to change the filter directives at runtime (see [`FilterHandle`]), e.g. to
    /// switch a service to `debug` while investigating an incident, then back.
    pub fn filter_handle(&self) -> FilterHandle {
        self.filter.clone()
    }

    /// Blocks until every line logged before the call has been written to the file (handed to
    /// the operating system, so any reader sees it), or the shutdown timeout has passed.
    ///
    /// Returns `true` if everything was written; `false` on timeout. Lines that could not be
    /// written because of an I/O error count as handled here and show up in [`Guard::stats`].
    pub fn flush(&self) -> bool {
        self.flush_timeout(self.timeout)
    }

    /// A handle that flushes these writers without owning them (for the panic hook).
    pub(crate) fn flusher(&self) -> (Flusher, Duration) {
        (Flusher::new(&self.workers), self.timeout)
    }

    /// [`Guard::flush`] with an explicit bound.
    pub fn flush_timeout(&self, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
        self.workers.iter().all(|w| w.flush_until(deadline))
    }

    /// What the writers did, dropped or lost so far. Apart from `rotations`, all zero in a
    /// healthy process.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The incident history of this process: how many, how long, MTTR, and how alert delivery
    /// went. All zero when alerting is off.
    pub fn incidents(&self) -> Incidents {
        let Some(d) = &self.delivery else {
            return Incidents::default();
        };
        let h = d.engine.lock().history();
        let open_for = h
            .open_since
            .map_or(0, |since| d.clock.now_micros().saturating_sub(since).max(0));
        let micros = |m: i64| Duration::from_micros(m.max(0) as u64);
        let get = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        Incidents {
            opened: h.opened,
            resolved: h.resolved,
            open: h.open_since.is_some(),
            time_in_incident: micros(h.resolved_micros + open_for),
            mttr: (h.resolved > 0).then(|| micros(h.resolved_micros / h.resolved as i64)),
            alerts_sent: get(&d.counters.sent),
            alerts_failed: get(&d.counters.failed),
            alerts_dropped: get(&d.counters.dropped),
        }
    }

    /// The active log file, if records go to a file.
    pub fn log_path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// `now + timeout`, saturating: `Duration::MAX` means "as long as it takes" (a century).
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

impl Drop for Guard {
    fn drop(&mut self) {
        let end = deadline_after(self.timeout);
        // Pending alerts get half the timeout, even if the webhook hangs; the writers then get
        // the rest, and at least half of it, to put everything (alert records too) on disk.
        if let Some(d) = &mut self.delivery {
            if !d.shutdown(deadline_after(self.timeout / 2)) {
                report(format_args!(
                    "alert delivery did not finish within the shutdown timeout"
                ));
            }
        }
        let deadline = end.max(deadline_after(self.timeout / 2));
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

/// The incident history of the process, from [`Guard::incidents`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Incidents {
    /// Incidents opened (threshold crossings).
    pub opened: u64,
    /// Incidents resolved.
    pub resolved: u64,
    /// Whether an incident is open now.
    pub open: bool,
    /// Total time in incident: resolved incidents plus the open one so far.
    pub time_in_incident: Duration,
    /// Mean time to recover: total duration of resolved incidents / their number.
    pub mttr: Option<Duration>,
    /// Alerts delivered to the webhook.
    pub alerts_sent: u64,
    /// Alerts given up on (permanent errors, retries exhausted, shutdown).
    pub alerts_failed: u64,
    /// Alerts not queued because the queue was full.
    pub alerts_dropped: u64,
}

//! The handle `init()` returns: owns the writer threads, flushes them, reports what they lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::alert::{AlertCounters, Incidents, Tracker};
use crate::clock::deadline_after;
use crate::diag::{report, Counters, Stats};
use crate::notify::Delivery;
use crate::reload::FilterHandle;
use crate::writer::{Flusher, WorkerHandle};

/// The alerting half of a stack: its delivery thread, and the incidents it reports on.
pub(crate) struct Alerts {
    pub(crate) delivery: Delivery,
    pub(crate) tracker: Tracker,
    pub(crate) counters: Arc<AlertCounters>,
}

/// Keeps the background writers alive; dropping it writes everything logged so far and stops them.
///
/// Hold it for the life of the program (`let _guard = logwarden::init()?;` in `main`; note that
/// `let _ = …` drops it at once). Dropping it waits at most the configured shutdown timeout
/// ([`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout), default 5 s), even if the
/// disk hangs, then returns; lines still unwritten by then are reported on stderr.
#[must_use = "dropping the guard stops the log writer; keep it alive until the end of main"]
pub struct Guard {
    /// Declared first: alerts are delivered (and their records queued) before the writers stop.
    alerts: Option<Alerts>,
    workers: Vec<WorkerHandle>,
    counters: Arc<Counters>,
    timeout: Duration,
    path: Option<PathBuf>,
    filter: FilterHandle,
    #[cfg(feature = "metrics")]
    metrics: Option<crate::metrics::Exported>,
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
        alerts: Option<Alerts>,
        counters: Arc<Counters>,
        timeout: Duration,
        path: Option<PathBuf>,
        filter: FilterHandle,
    ) -> Self {
        Guard {
            alerts,
            workers,
            counters,
            timeout,
            path,
            filter,
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }

    #[cfg(feature = "metrics")]
    pub(crate) fn set_metrics(&mut self, metrics: crate::metrics::Exported) {
        self.metrics = Some(metrics);
    }

    /// The stack's counters in the Prometheus text format (version 0.0.4), for a program that
    /// serves its own `/metrics`: append this text to it. The same text is served on
    /// [`Builder::metrics_addr`](crate::Builder::metrics_addr) when set. Every series carries
    /// the labels `service` and `env`:
    ///
    /// - `logwarden_events_total{level="error"|"warn"|"info"|"debug"|"trace"}`
    /// - `logwarden_lines_written_total`, `logwarden_lines_dropped_total`,
    ///   `logwarden_lines_lost_total`, `logwarden_write_errors_total`,
    ///   `logwarden_rotations_total`, `logwarden_rotation_errors_total`
    /// - with alerts on: `logwarden_alerts_sent_total`, `logwarden_alerts_failed_total`,
    ///   `logwarden_alerts_dropped_total`, `logwarden_incidents_opened_total`,
    ///   `logwarden_incidents_resolved_total` and the gauge `logwarden_incidents_open`.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics(&self) -> String {
        self.metrics
            .as_ref()
            .map(|m| m.metrics.render())
            .unwrap_or_default()
    }

    /// Where the metrics are served, if they are: the port the system chose for port 0.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref()?.server.as_ref().map(|s| s.addr())
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
        self.alerts
            .as_ref()
            .map_or_else(Incidents::default, |a| a.tracker.incidents(&a.counters))
    }

    /// The active log file, if records go to a file.
    pub fn log_path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let end = deadline_after(self.timeout);
        // Pending alerts get half the timeout, even if the webhook hangs; the writers then get
        // the rest, and at least half of it, to put everything (alert records too) on disk.
        if let Some(a) = &mut self.alerts {
            if !a.delivery.shutdown(deadline_after(self.timeout / 2)) {
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

//! What a set of log lines adds up to: the incidents (from the crate's own alert records, or
//! derived from ERROR times by the same engine the layer runs), events per minute by severity,
//! the most frequent error messages, and MTTR.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::line::Severity;

/// Where the incidents came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The crate's own `alert` records (`opened`, `reminder`, `resolved`).
    Records,
    /// Replaying ERROR times through the threshold engine.
    Derived { threshold: usize, window: Duration },
}

/// One incident, times in microseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Incident {
    /// The service (or file) it belongs to, when known.
    pub(crate) service: Option<String>,
    /// The oldest error of the window that crossed the threshold.
    pub(crate) first_error_at: i64,
    /// The error that crossed the threshold: where `duration_s` starts.
    pub(crate) opened_at: i64,
    /// When the first alert was written (the alert record's own time); `opened_at` when derived.
    pub(crate) first_alert_at: i64,
    /// When the window dropped below the threshold; `None` while still open at the end of input.
    pub(crate) resolved_at: Option<i64>,
    /// Every ERROR of the opening window plus those until the resolution.
    pub(crate) errors: u64,
    pub(crate) top_message: String,
}

impl Incident {
    pub(crate) fn duration(&self) -> Option<Duration> {
        self.resolved_at
            .map(|end| Duration::from_micros(end.saturating_sub(self.opened_at).max(0) as u64))
    }
}

/// Everything the `incidents` and `report` commands show.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    /// Oldest first.
    pub(crate) incidents: Vec<Incident>,
    pub(crate) source: Source,
    /// Events per minute: the minute's start (microseconds, a multiple of 60 s) to counts by
    /// [`Severity::index`].
    pub(crate) per_minute: BTreeMap<i64, [u64; Severity::ALL.len()]>,
    /// The most frequent ERROR messages and their counts, most frequent first (at most 10).
    pub(crate) top_errors: Vec<(String, u64)>,
    /// Time of the first and last line read (within `--since`/`--until`).
    pub(crate) first_at: Option<i64>,
    pub(crate) last_at: Option<i64>,
    /// Lines read, lines skipped (not JSON, torn, no readable time), ERROR lines, bytes read.
    pub(crate) lines: u64,
    pub(crate) skipped: u64,
    pub(crate) errors: u64,
    pub(crate) bytes: u64,
    /// The files read, in the order read.
    pub(crate) files: Vec<PathBuf>,
}

impl Summary {
    /// Resolved incidents only: an incident still open has no duration yet.
    pub(crate) fn resolved(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.iter().filter(|i| i.resolved_at.is_some())
    }

    /// Total time in (resolved) incidents.
    pub(crate) fn total(&self) -> Duration {
        self.resolved().filter_map(Incident::duration).sum()
    }

    /// Mean time to recover: total time in resolved incidents ÷ their number.
    pub(crate) fn mttr(&self) -> Option<Duration> {
        let n = self.resolved().count();
        (n > 0).then(|| self.total() / n as u32)
    }

    pub(crate) fn longest(&self) -> Option<&Incident> {
        self.resolved().max_by_key(|i| i.duration())
    }

    pub(crate) fn still_open(&self) -> usize {
        self.incidents.len() - self.resolved().count()
    }

    /// ERROR lines per hour over the span of the input.
    pub(crate) fn errors_per_hour(&self) -> Option<f64> {
        let span = self.last_at? - self.first_at?;
        (span > 0).then(|| self.errors as f64 / (span as f64 / 3.6e9))
    }
}

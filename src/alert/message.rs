//! What an alert says: the data a [`Notifier`](crate::notify::Notifier) turns into a request body.

use std::time::{Duration, SystemTime};

/// Which message of an incident this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertKind {
    /// The threshold was crossed: a new incident.
    Opened,
    /// The incident is still open; sent at most once per cooldown while errors keep coming.
    Reminder,
    /// A full window passed with fewer errors than the threshold.
    Resolved,
    /// The process stopped (its guard was dropped) while the incident was still open: the last
    /// word on it, so that no alert is left without a follow-up. Not a resolution: the incident
    /// has no recovery time and stays out of MTTR.
    Stopped,
}

impl AlertKind {
    /// `opened`, `reminder`, `resolved` or `stopped`: the spelling used in records and JSON
    /// payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Opened => "opened",
            AlertKind::Reminder => "reminder",
            AlertKind::Resolved => "resolved",
            AlertKind::Stopped => "stopped",
        }
    }
}

/// One kind of error seen in an incident: events from the same source location (the same
/// message template) are grouped, whatever their formatted arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorGroup {
    /// The first formatted message seen for this group (cut to a few hundred bytes).
    pub message: String,
    /// The events' target.
    pub target: String,
    /// `file:line` of the event, when known.
    pub location: Option<String>,
    /// How many events of this group the incident has seen.
    pub count: u64,
    /// The `trace_id` field of the sample event's spans or fields, when present.
    pub trace_id: Option<String>,
    /// The sample event's span fields as a JSON fragment (`"trace_id":"…","user_id":42`).
    pub context: Option<String>,
}

/// An alert: an incident opened, still open, or resolved.
///
/// Every string in here that came from a log event is raw text; the notifier escapes it for its
/// destination (see [`SlackNotifier`](crate::notify::SlackNotifier)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Alert {
    /// Opened, reminder, resolved, or stopped (the process stopped with the incident open).
    pub kind: AlertKind,
    /// The incident's number in this process, from 1.
    pub incident: u64,
    /// The `service` of the records.
    pub service: String,
    /// The `env` of the records.
    pub env: String,
    /// The host the process runs on.
    pub host: String,
    /// The process the alert speaks for: the one that logged the errors, or none when
    /// `logwarden watch` decided from a file's lines.
    pub pid: Option<u32>,
    /// ERROR events within `window` that open an incident.
    pub threshold: usize,
    /// The sliding window.
    pub window: Duration,
    /// ERROR events in the window when the incident opened (equal to `threshold` then).
    pub errors_in_window: usize,
    /// ERROR events since the previous message of this incident.
    pub errors_since_last: u64,
    /// ERROR events in the incident so far.
    pub errors_total: u64,
    /// The oldest error of the window that crossed the threshold.
    pub first_error_at: SystemTime,
    /// The newest error of the incident.
    pub last_error_at: SystemTime,
    /// When the threshold was crossed.
    pub opened_at: SystemTime,
    /// When the window dropped below the threshold (resolved alerts only).
    pub resolved_at: Option<SystemTime>,
    /// When the process stopped with the incident open (stopped alerts only).
    pub stopped_at: Option<SystemTime>,
    /// Distinct errors, most frequent first (at most five).
    pub top_errors: Vec<ErrorGroup>,
    /// Errors of groups beyond those tracked, counted but not described.
    pub other_errors: u64,
    /// The mention configured with [`Builder::mention`](crate::Builder::mention), if any.
    pub mention: Option<String>,
}

impl Alert {
    /// How long the incident lasted (resolved alerts), was open when the process stopped
    /// (stopped alerts), or has lasted until its last error.
    pub fn duration(&self) -> Duration {
        let end = self
            .resolved_at
            .or(self.stopped_at)
            .unwrap_or(self.last_error_at);
        end.duration_since(self.opened_at).unwrap_or_default()
    }
}

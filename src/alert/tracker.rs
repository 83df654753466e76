//! The incidents of one stack (or of one `logwarden watch`): the engine behind its lock and the
//! clock it reads, shared by whatever observes errors and the thread that watches the window go
//! quiet; and [`Incidents`], the history it reports.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::engine::{Engine, History, Sample, Settings};
use super::message::Alert;
use super::outbox::AlertCounters;
use crate::clock::Clock;

/// How often an open incident is checked for its end: resolutions go out within this of the
/// exact instant the window drops below the threshold.
const OPEN_CHECK: Duration = Duration::from_millis(100);
/// How often a quiet tracker is looked at (only to see a shutdown deadline in time).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Cheap to clone: clones share the engine.
#[derive(Clone)]
pub(crate) struct Tracker {
    engine: Arc<Mutex<Engine>>,
    clock: Clock,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker").finish_non_exhaustive()
    }
}

impl Tracker {
    pub(crate) fn new(settings: Settings, clock: Clock) -> Self {
        Tracker {
            engine: Arc::new(Mutex::new(Engine::new(settings))),
            clock,
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    /// An ERROR at `at` (microseconds); `sample` describes it if its group is new. Returns what to
    /// send. The engine's lock is held while `sample` runs.
    pub(crate) fn observe(&self, at: i64, key: u64, sample: impl FnOnce() -> Sample) -> Vec<Alert> {
        self.engine.lock().observe(at, key, sample)
    }

    /// See [`Engine::relabel`].
    #[cfg(feature = "cli")]
    pub(crate) fn relabel(&self, service: &str, env: &str, host: &str) {
        self.engine.lock().relabel(service, env, host);
    }

    /// The resolution of the open incident, if its window has gone quiet by now.
    pub(crate) fn due(&self) -> Option<Alert> {
        self.engine.lock().tick(self.now())
    }

    /// The last word on an incident still open when the process stops (see [`Engine::stop`]).
    pub(crate) fn stop(&self) -> Option<Alert> {
        self.engine.lock().stop(self.now())
    }

    /// How long the watching thread may wait before asking [`Tracker::due`] again.
    pub(crate) fn next_check(&self) -> Duration {
        if self.engine.lock().is_open() {
            OPEN_CHECK
        } else {
            IDLE_CHECK
        }
    }

    pub(crate) fn history(&self) -> History {
        self.engine.lock().history()
    }

    /// The history so far, with how delivery went.
    pub(crate) fn incidents(&self, counters: &AlertCounters) -> Incidents {
        let h = self.history();
        let open_for = h
            .open_since
            .map_or(0, |since| self.now().saturating_sub(since).max(0));
        let micros = |m: i64| Duration::from_micros(m.max(0) as u64);
        Incidents {
            opened: h.opened,
            resolved: h.resolved,
            open: h.open_since.is_some(),
            time_in_incident: micros(h.resolved_micros + open_for),
            mttr: (h.resolved > 0).then(|| micros(h.resolved_micros / h.resolved as i64)),
            alerts_sent: AlertCounters::get(&counters.sent),
            alerts_failed: AlertCounters::get(&counters.failed),
            alerts_dropped: AlertCounters::get(&counters.dropped),
        }
    }
}

/// The incident history of the process, from [`Guard::incidents`](crate::Guard::incidents).
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

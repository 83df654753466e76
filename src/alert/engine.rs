//! The threshold engine: ERROR observations in, alert decisions out.
//!
//! Pure (no `tracing`, files or HTTP; time is an argument), so the layer and `logwarden watch`
//! feed the same engine. The window is exact with O(threshold) memory: a ring of the last
//! `threshold` error times, whose oldest entry leaving the window is the resolution (DESIGN.md,
//! "Why an exact sliding window with O(threshold) memory?").

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::message::{Alert, AlertKind, ErrorGroup};
use crate::clock::system_time;

/// At most this many distinct errors are described per incident; the rest are only counted.
const MAX_GROUPS: usize = 10;
/// At most this many groups are listed in an alert.
const TOP_GROUPS: usize = 5;

/// How much of an error's message, target and trace id an alert keeps (in bytes).
pub(crate) const MESSAGE_MAX: usize = 500;

/// What the engine needs to know about an ERROR event the first time its group is seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) message: String,
    pub(crate) target: String,
    pub(crate) location: Option<String>,
    pub(crate) trace_id: Option<String>,
    pub(crate) context: Option<String>,
}

/// The fixed parts of every alert.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) threshold: usize,
    pub(crate) window: Duration,
    pub(crate) cooldown: Duration,
    pub(crate) service: String,
    pub(crate) env: String,
    pub(crate) host: String,
    /// The process the alerts speak for: this one in-process, none for `logwarden watch`, which
    /// reads lines of any number of processes.
    pub(crate) pid: Option<u32>,
    pub(crate) mention: Option<String>,
}

#[derive(Clone)]
struct Group {
    key: u64,
    sample: Sample,
    count: u64,
}

#[derive(Clone)]
struct Incident {
    number: u64,
    opened_at: i64,
    first_error_at: i64,
    last_error_at: i64,
    last_message_at: i64,
    total: u64,
    since_last: u64,
    groups: Vec<Group>,
    other: u64,
}

/// Incident history of the process, for MTTR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct History {
    pub(crate) opened: u64,
    pub(crate) resolved: u64,
    pub(crate) resolved_micros: i64,
    /// Incidents still open when the process stopped.
    pub(crate) stopped: u64,
    pub(crate) open_since: Option<i64>,
}

#[derive(Clone)]
pub(crate) struct Engine {
    settings: Settings,
    window: i64,
    cooldown: i64,
    /// Time and group key of the last `threshold` errors, oldest first.
    ring: VecDeque<(i64, u64)>,
    /// Samples of the groups present in the ring, with how many ring entries refer to them.
    ring_samples: HashMap<u64, (usize, Sample)>,
    incident: Option<Incident>,
    history: History,
    /// The latest time observed.
    latest: i64,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Engine {
    pub(crate) fn new(settings: Settings) -> Self {
        let threshold = settings.threshold.max(1);
        Engine {
            window: micros(settings.window),
            cooldown: micros(settings.cooldown),
            // Grown as errors come: a threshold of a billion (`--threshold`, or the variable) must
            // not reserve gigabytes up front, or abort the process when it cannot.
            ring: VecDeque::with_capacity(threshold.min(1024)),
            ring_samples: HashMap::with_capacity(threshold.min(64)),
            incident: None,
            history: History::default(),
            latest: i64::MIN,
            settings: Settings {
                threshold,
                ..settings
            },
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.incident.is_some()
    }

    pub(crate) fn history(&self) -> History {
        History {
            open_since: self.incident.as_ref().map(|i| i.opened_at),
            ..self.history
        }
    }

    /// Names the service, env and host alerts speak of from now on (`logwarden watch` takes them
    /// from the lines).
    #[cfg(feature = "cli")]
    pub(crate) fn relabel(&mut self, service: &str, env: &str, host: &str) {
        let s = &mut self.settings;
        for (slot, value) in [
            (&mut s.service, service),
            (&mut s.env, env),
            (&mut s.host, host),
        ] {
            if slot != value {
                value.clone_into(slot);
            }
        }
    }

    /// Records an ERROR event at `at` (microseconds). `sample` is called only when the event's
    /// group has no sample yet. Returns what to send: a resolution of the previous incident (if
    /// this error comes after it ended), then an opening or a reminder.
    pub(crate) fn observe(
        &mut self,
        at: i64,
        key: u64,
        sample: impl FnOnce() -> Sample,
    ) -> Vec<Alert> {
        // Wall clocks step backwards (NTP, a VM resumed): time here never does, so a step back
        // cannot squeeze old errors into one window and open a false incident.
        let at = at.max(self.latest);
        self.latest = at;
        let mut out = Vec::new();
        out.extend(self.tick(at));

        if self.ring.len() == self.settings.threshold {
            if let Some((_, old)) = self.ring.pop_front() {
                self.release(old);
            }
        }
        if !self.ring_samples.contains_key(&key) {
            // A group the incident already describes reuses its sample; otherwise format one.
            // This runs the host's `Display`/`Debug` code, which may panic: nothing about this
            // event is recorded before it returns, so a panic leaves the ring consistent (the
            // event is simply not counted).
            let known = self
                .incident
                .as_ref()
                .and_then(|i| i.groups.iter().find(|g| g.key == key))
                .map(|g| g.sample.clone());
            self.ring_samples
                .insert(key, (0, known.unwrap_or_else(sample)));
        }
        self.ring.push_back((at, key));
        if let Some(entry) = self.ring_samples.get_mut(&key) {
            entry.0 += 1;
        }

        let Some(incident) = &mut self.incident else {
            if let Some(&(oldest, _)) = self.ring.front() {
                if self.ring.len() == self.settings.threshold
                    && at.saturating_sub(oldest) < self.window
                {
                    self.open(at, oldest);
                    out.push(self.alert(AlertKind::Opened, None));
                }
            }
            return out;
        };
        incident.total += 1;
        incident.since_last += 1;
        incident.last_error_at = incident.last_error_at.max(at);
        if let Some(g) = incident.groups.iter_mut().find(|g| g.key == key) {
            g.count += 1;
        } else if incident.groups.len() < MAX_GROUPS {
            let sample = self
                .ring_samples
                .get(&key)
                .map(|e| e.1.clone())
                .unwrap_or_default();
            incident.groups.push(Group {
                key,
                sample,
                count: 1,
            });
        } else {
            incident.other += 1;
        }
        if at.saturating_sub(incident.last_message_at) >= self.cooldown {
            out.push(self.alert(AlertKind::Reminder, None));
            let incident = self.incident.as_mut().expect("open incident");
            incident.last_message_at = at;
            incident.since_last = 0;
        }
        out
    }

    /// Checks whether the open incident has ended by `now`; if so, closes it and returns the
    /// resolved alert. Called before each error and periodically by the delivery thread.
    pub(crate) fn tick(&mut self, now: i64) -> Option<Alert> {
        let now = now.max(self.latest);
        self.incident.as_ref()?;
        let &(oldest, _) = self.ring.front()?;
        let ends_at = oldest.saturating_add(self.window);
        if now < ends_at {
            return None;
        }
        let alert = self.alert(AlertKind::Resolved, Some(ends_at));
        if let Some(incident) = self.incident.take() {
            self.history.resolved += 1;
            self.history.resolved_micros += ends_at.saturating_sub(incident.opened_at).max(0);
        }
        Some(alert)
    }

    /// The process is stopping at `now`: the open incident, unless its window went quiet by then
    /// (a resolution, returned instead), gets its last word, a stopped alert, and is closed
    /// without counting as resolved.
    pub(crate) fn stop(&mut self, now: i64) -> Option<Alert> {
        if let Some(resolved) = self.tick(now) {
            return Some(resolved);
        }
        self.incident.as_ref()?;
        let mut alert = self.alert(AlertKind::Stopped, None);
        alert.stopped_at = Some(system_time(now.max(self.latest)));
        self.incident = None;
        self.history.stopped += 1;
        Some(alert)
    }

    fn release(&mut self, key: u64) {
        if let Some(entry) = self.ring_samples.get_mut(&key) {
            entry.0 -= 1;
            if entry.0 == 0 {
                self.ring_samples.remove(&key);
            }
        }
    }

    fn open(&mut self, at: i64, oldest: i64) {
        let mut groups: Vec<Group> = Vec::new();
        let mut other = 0;
        for &(_, key) in &self.ring {
            if let Some(g) = groups.iter_mut().find(|g| g.key == key) {
                g.count += 1;
            } else if groups.len() < MAX_GROUPS {
                let sample = self
                    .ring_samples
                    .get(&key)
                    .map(|e| e.1.clone())
                    .unwrap_or_default();
                groups.push(Group {
                    key,
                    sample,
                    count: 1,
                });
            } else {
                other += 1;
            }
        }
        self.history.opened += 1;
        self.incident = Some(Incident {
            number: self.history.opened,
            opened_at: at,
            first_error_at: oldest,
            last_error_at: at,
            last_message_at: at,
            total: self.ring.len() as u64,
            since_last: 0,
            groups,
            other,
        });
    }

    fn alert(&self, kind: AlertKind, resolved_at: Option<i64>) -> Alert {
        let incident = self
            .incident
            .as_ref()
            .expect("alerts describe an open incident");
        let s = &self.settings;
        let mut top: Vec<&Group> = incident.groups.iter().collect();
        top.sort_by_key(|g| std::cmp::Reverse(g.count));
        let hidden: u64 = top.iter().skip(TOP_GROUPS).map(|g| g.count).sum();
        Alert {
            kind,
            incident: incident.number,
            service: s.service.clone(),
            env: s.env.clone(),
            host: s.host.clone(),
            pid: s.pid,
            threshold: s.threshold,
            window: s.window,
            errors_in_window: s.threshold,
            errors_since_last: match kind {
                AlertKind::Opened => s.threshold as u64,
                _ => incident.since_last,
            },
            errors_total: incident.total,
            first_error_at: system_time(incident.first_error_at),
            last_error_at: system_time(incident.last_error_at),
            opened_at: system_time(incident.opened_at),
            resolved_at: resolved_at.map(system_time),
            stopped_at: None,
            top_errors: top
                .into_iter()
                .take(TOP_GROUPS)
                .map(|g| ErrorGroup {
                    message: g.sample.message.clone(),
                    target: g.sample.target.clone(),
                    location: g.sample.location.clone(),
                    count: g.count,
                    trace_id: g.sample.trace_id.clone(),
                    context: g.sample.context.clone(),
                })
                .collect(),
            other_errors: incident.other + hidden,
            mention: s.mention.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    fn engine(threshold: usize, window_s: u64, cooldown_s: u64) -> Engine {
        Engine::new(Settings {
            threshold,
            window: Duration::from_secs(window_s),
            cooldown: Duration::from_secs(cooldown_s),
            service: "orders".into(),
            env: "test".into(),
            host: "h".into(),
            pid: Some(7),
            mention: None,
        })
    }

    fn sample(message: &str) -> Sample {
        Sample {
            message: message.into(),
            target: "orders".into(),
            ..Sample::default()
        }
    }

    fn kinds(alerts: &[Alert]) -> Vec<AlertKind> {
        alerts.iter().map(|a| a.kind).collect()
    }

    #[test]
    fn threshold_minus_one_errors_open_nothing() {
        let mut e = engine(5, 60, 300);
        for i in 0..4 {
            assert!(e.observe(i * S, 1, || sample("boom")).is_empty());
        }
        assert!(!e.is_open());
    }

    #[test]
    fn the_nth_error_within_the_window_opens_one_incident() {
        let mut e = engine(5, 60, 300);
        let mut all = Vec::new();
        for i in 0..5 {
            all.extend(e.observe(i * S, 1, || sample("boom")));
        }
        assert_eq!(kinds(&all), [AlertKind::Opened]);
        let a = &all[0];
        assert_eq!((a.incident, a.errors_in_window, a.errors_total), (1, 5, 5));
        assert_eq!(a.top_errors.len(), 1);
        assert_eq!(
            (a.top_errors[0].message.as_str(), a.top_errors[0].count),
            ("boom", 5)
        );
        // More errors inside the cooldown: no further message.
        for i in 5..100 {
            assert!(e.observe(i * S / 10, 1, || sample("boom")).is_empty());
        }
    }

    #[test]
    fn errors_spread_wider_than_the_window_open_nothing() {
        let mut e = engine(5, 60, 300);
        // 5 errors, first and last exactly one window apart: the window never holds all five.
        for i in 0..50 {
            assert!(
                e.observe(i * 15 * S, 1, || sample("slow drip")).is_empty(),
                "error {i}"
            );
        }
    }

    #[test]
    fn reminders_come_at_most_once_per_cooldown_with_the_count_since_the_last_message() {
        let mut e = engine(2, 60, 300);
        let mut all = Vec::new();
        // One error every 10 s for 20 minutes: the incident stays open throughout.
        for i in 0..=121 {
            all.extend(e.observe(i * 10 * S, 1, || sample("still failing")));
        }
        assert_eq!(
            kinds(&all),
            [
                AlertKind::Opened,
                AlertKind::Reminder,
                AlertKind::Reminder,
                AlertKind::Reminder,
                AlertKind::Reminder
            ]
        );
        // Opened at t=10 s, reminders at 310, 610, 910, 1210 s: 30 errors between two messages.
        assert!(all[1..].iter().all(|a| a.errors_since_last == 30));
        assert_eq!(all.last().unwrap().errors_total, 122);
    }

    #[test]
    fn stopping_with_an_incident_open_gives_it_a_last_word_and_no_resolution() {
        let mut e = engine(3, 60, 300);
        assert!(e.stop(0).is_none(), "nothing open, nothing to say");
        for t in [0, 1, 2, 20] {
            e.observe(t * S, 7, || sample("x"));
        }
        let s = e.stop(30 * S).expect("the open incident's last word");
        assert_eq!(s.kind, AlertKind::Stopped);
        assert_eq!(s.stopped_at, Some(system_time(30 * S)));
        assert_eq!(s.resolved_at, None);
        assert_eq!(s.duration(), Duration::from_secs(28)); // opened at 2 s
        assert_eq!((s.errors_total, s.errors_since_last), (4, 1));
        assert!(!e.is_open());
        let h = e.history();
        assert_eq!((h.opened, h.resolved, h.stopped), (1, 0, 1));
        assert!(e.stop(40 * S).is_none(), "said once");
        // An incident whose window went quiet before the stop is resolved, not stopped.
        for t in [100, 101, 102] {
            e.observe(t * S, 7, || sample("x"));
        }
        let r = e.stop(500 * S).expect("resolved at the stop");
        assert_eq!(r.kind, AlertKind::Resolved);
        assert_eq!(r.resolved_at, Some(system_time(160 * S)));
    }

    #[test]
    fn a_quiet_window_resolves_at_the_exact_instant_with_duration_and_total() {
        let mut e = engine(3, 60, 300);
        for t in [0, 1, 2, 20] {
            e.observe(t * S, 7, || sample("x"));
        }
        assert!(e.is_open());
        // The last three errors are at 1, 2 and 20 s: the window drops below 3 at 61 s.
        assert!(e.tick(60 * S).is_none());
        let r = e.tick(500 * S).expect("resolved");
        assert_eq!(r.kind, AlertKind::Resolved);
        assert_eq!(r.resolved_at, Some(system_time(61 * S)));
        assert_eq!(r.duration(), Duration::from_secs(59)); // opened at 2 s
        assert_eq!(r.errors_total, 4);
        assert!(!e.is_open());
        let h = e.history();
        assert_eq!(
            (h.opened, h.resolved, h.resolved_micros, h.open_since),
            (1, 1, 59 * S, None)
        );
        assert!(e.tick(1000 * S).is_none(), "resolved once");
    }

    #[test]
    fn the_window_ends_at_its_exact_microsecond_not_one_before_or_after() {
        let mut e = engine(3, 60, 300);
        for t in [0, 1, 2] {
            e.observe(t * S, 7, || sample("x"));
        }
        // The oldest of the three leaves the window at 60 s exactly.
        assert!(e.tick(60 * S - 1).is_none(), "one microsecond early");
        let r = e.tick(60 * S).expect("resolved at the boundary itself");
        assert_eq!(r.resolved_at, Some(system_time(60 * S)));
        // An error at the boundary finds the incident over (at 60 s), and with the errors at
        // 1 and 2 s opens the next one.
        let mut e = engine(3, 60, 300);
        for t in [0, 1, 2] {
            e.observe(t * S, 7, || sample("x"));
        }
        let alerts = e.observe(60 * S, 7, || sample("x"));
        assert_eq!(kinds(&alerts), [AlertKind::Resolved, AlertKind::Opened]);
        assert_eq!(alerts[0].resolved_at, Some(system_time(60 * S)));
        assert_eq!(alerts[1].incident, 2);
    }

    #[test]
    fn an_error_after_the_end_resolves_first_then_may_open_again() {
        let mut e = engine(1, 10, 300);
        assert_eq!(kinds(&e.observe(0, 1, || sample("a"))), [AlertKind::Opened]);
        let out = e.observe(100 * S, 2, || sample("b"));
        assert_eq!(kinds(&out), [AlertKind::Resolved, AlertKind::Opened]);
        assert_eq!(out[1].incident, 2);
        assert_eq!(out[1].top_errors[0].message, "b");
    }

    #[test]
    fn groups_are_counted_by_key_most_frequent_first_and_bounded() {
        let mut e = engine(3, 60, 300);
        let mut opened = Vec::new();
        for (i, key) in [1u64, 2, 2].iter().enumerate() {
            opened.extend(e.observe(i as i64 * S, *key, || sample(&format!("group {key}"))));
        }
        let top = &opened[0].top_errors;
        assert_eq!(
            top.iter()
                .map(|g| (g.message.as_str(), g.count))
                .collect::<Vec<_>>(),
            [("group 2", 2), ("group 1", 1)]
        );
        // Many distinct groups during the incident: memory stays bounded, the rest is counted.
        for key in 100..200u64 {
            e.observe(3 * S, key, || sample("many"));
        }
        let r = e.tick(i64::MAX).unwrap();
        assert_eq!(r.top_errors.len(), TOP_GROUPS);
        let described: u64 = r.top_errors.iter().map(|g| g.count).sum();
        assert_eq!(described + r.other_errors, r.errors_total);
        assert!(e.ring_samples.len() <= 3);
    }

    #[test]
    fn a_wall_clock_stepping_back_does_not_open_a_false_incident() {
        let mut e = engine(5, 60, 300);
        for t in [0, 1200, 2400, 3600] {
            assert!(e.observe(t * S, 1, || sample("x")).is_empty());
        }
        // The clock jumps back an hour: the fifth error is still an hour after the first.
        assert!(e.observe(0, 1, || sample("x")).is_empty());
        assert!(!e.is_open());
    }

    #[test]
    fn samples_are_built_once_per_group() {
        let mut e = engine(5, 60, 300);
        let mut built = 0;
        for i in 0..1000 {
            e.observe(i * S / 1000, 1, || {
                built += 1;
                sample("boom")
            });
        }
        assert_eq!(built, 1);
    }

    #[test]
    fn a_sample_that_panics_leaves_the_engine_consistent() {
        let mut e = engine(2, 60, 300);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            e.observe(0, 7, || panic!("a Display impl that panics"));
        }));
        assert!(panicked.is_err());
        // The panicking event was not counted; the next two of another group open an incident
        // described by their own sample, with no empty group left behind.
        assert!(e.observe(S, 1, || sample("after")).is_empty());
        let alerts = e.observe(2 * S, 1, || sample("after"));
        assert_eq!(kinds(&alerts), [AlertKind::Opened]);
        assert_eq!(alerts[0].top_errors.len(), 1);
        assert_eq!(alerts[0].top_errors[0].message, "after");
    }
}

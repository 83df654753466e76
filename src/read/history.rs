//! What a set of log lines adds up to: the incidents (from the crate's own alert records, or
//! derived from ERROR times by the same engine the layer runs), events per minute by severity,
//! the most frequent error messages, and MTTR.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use super::files::Line;
use super::line::{AlertMark, AlertRecord, Entry, Severity};
use crate::alert::{Alert, AlertKind, Engine, Sample, Settings};
use crate::clock::micros_of;

/// Where the incidents came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The crate's own `alert` records (`opened`, `reminder`, `resolved`).
    Records,
    /// Replaying ERROR times through the threshold engine.
    Derived { threshold: usize, window: Duration },
    /// Alert records for the services that have them, derived for the others.
    Mixed { threshold: usize, window: Duration },
}

impl Source {
    /// `from the alert records`, `derived: 5 ERRORs within 1m 00s`, or both.
    pub(crate) fn describe(self) -> String {
        match self {
            Source::Records => "from the alert records".to_owned(),
            Source::Derived { threshold, window } => format!(
                "derived: {threshold} ERRORs within {}",
                crate::text::human_duration(window)
            ),
            Source::Mixed { threshold, window } => format!(
                "from the alert records where the logs have them, else derived: {threshold} \
                 ERRORs within {}",
                crate::text::human_duration(window)
            ),
        }
    }

    /// The rule incidents were derived with, if any.
    pub(crate) fn rule(self) -> Option<(usize, Duration)> {
        match self {
            Source::Records => None,
            Source::Derived { threshold, window } | Source::Mixed { threshold, window } => {
                Some((threshold, window))
            }
        }
    }
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
    /// When its process stopped with it open (its last record says so): ended, not resolved.
    pub(crate) stopped_at: Option<i64>,
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
    /// Files that could not be read to their end (each reported on stderr).
    pub(crate) unread: usize,
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

    /// Incidents open at the end of the input: neither resolved nor ended by their process
    /// stopping.
    pub(crate) fn still_open(&self) -> usize {
        self.incidents
            .iter()
            .filter(|i| i.resolved_at.is_none() && i.stopped_at.is_none())
            .count()
    }

    /// Incidents their process stopped with, open: ended without a recovery time.
    pub(crate) fn stopped(&self) -> usize {
        self.incidents
            .iter()
            .filter(|i| i.resolved_at.is_none() && i.stopped_at.is_some())
            .count()
    }

    /// ERROR lines per hour over the span of the input; none for less than a minute of logs,
    /// which would make a rate of a handful of errors.
    pub(crate) fn errors_per_hour(&self) -> Option<f64> {
        let span = self.last_at? - self.first_at?;
        (span >= MINUTE).then(|| self.errors as f64 / (span as f64 / 3.6e9))
    }
}

/// The alert rule incidents are derived with, and the filter on time.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) threshold: usize,
    pub(crate) window: Duration,
    /// Derive even where alert records exist.
    pub(crate) derive: bool,
    pub(crate) since: Option<i64>,
    pub(crate) until: Option<i64>,
}

/// An incident being rebuilt from alert records, keyed by the process that wrote them.
/// The process (see [`process_key`]), the incident's number in it, and when it opened: a
/// restarted container has the same host and pid 1 and numbers its incidents from 1 again.
type RecordKey = (String, u64, Option<i64>);

/// Which process wrote a line, as far as it says: the in-process engine counts per process, so
/// replicas of one service (one file each, or interleaved in one) each have their own window.
/// Lines that name no host or pid fall back to the service alone.
fn process_key(service: &str, host: Option<&str>, pid: Option<u64>) -> String {
    match (host, pid) {
        (None, None) => service.to_owned(),
        _ => format!(
            "{service}\u{1f}{}\u{1f}{}",
            host.unwrap_or(""),
            pid.map_or(String::new(), |p| p.to_string())
        ),
    }
}

/// One process's replay of the threshold engine.
#[derive(Clone)]
struct Replay {
    engine: Engine,
    /// Index in `derived` of its open incident.
    open: Option<usize>,
    /// Its newest error: a replay with no open incident whose errors have all left the window
    /// holds nothing a later error could count with, and is let go.
    last_error_at: i64,
}

/// How often (in lines) replays that hold nothing are let go: short-lived workers each have a
/// pid, and keeping one engine per pid forever costs memory, and time wherever they are walked.
const SWEEP_LINES: u64 = 1 << 16;

/// Adds lines up, one at a time, into a [`Summary`].
#[derive(Clone)]
pub(crate) struct Tally {
    options: Options,
    per_minute: BTreeMap<i64, [u64; Severity::ALL.len()]>,
    top: TopCounts,
    replays: HashMap<String, Replay>,
    /// The replays with an open incident: the only ones time can resolve.
    open_replays: Vec<String>,
    /// Timed lines seen, in range or not: when to let idle replays go.
    ticks: u64,
    /// Per service, its one process that names itself (host, pid), or `None` once there are
    /// several.
    sole_process: HashMap<String, Option<String>>,
    derived: Vec<Incident>,
    /// The process of each derived incident.
    derived_process: Vec<String>,
    recorded: HashMap<RecordKey, Incident>,
    /// Recorded incidents whose number came round again (a restart before the new record kept
    /// the exact opening time).
    recorded_done: Vec<Incident>,
    /// Processes whose logs hold alert records: their incidents come from those. Per process,
    /// not per service: a service's logs from before it wrote records (an upgrade, alerting
    /// switched on later) keep their derived incidents.
    recording: std::collections::HashSet<String>,
    /// Recorded incidents with no `resolved` record yet: the newest error their last record
    /// counted, and the first error of a later incident of the same process, if one opened.
    unresolved: HashMap<RecordKey, (i64, Option<i64>)>,
    /// The time of every application ERROR line, by process: an incident still open at the end
    /// adds those after its last record to the record's count (8 bytes an error).
    error_times: HashMap<String, Vec<i64>>,
    first_at: Option<i64>,
    last_at: Option<i64>,
    lines: u64,
    skipped: u64,
    errors: u64,
    bytes: u64,
}

const MINUTE: i64 = 60_000_000;

impl Tally {
    pub(crate) fn new(options: Options) -> Self {
        Tally {
            options,
            per_minute: BTreeMap::new(),
            top: TopCounts::new(TOP_TRACKED),
            replays: HashMap::new(),
            open_replays: Vec::new(),
            ticks: 0,
            sole_process: HashMap::new(),
            derived_process: Vec::new(),
            derived: Vec::new(),
            recorded: HashMap::new(),
            recorded_done: Vec::new(),
            recording: std::collections::HashSet::new(),
            unresolved: HashMap::new(),
            error_times: HashMap::new(),
            first_at: None,
            last_at: None,
            lines: 0,
            skipped: 0,
            errors: 0,
            bytes: 0,
        }
    }

    fn in_range(&self, at: i64) -> bool {
        self.options.since.is_none_or(|s| at >= s) && self.options.until.is_none_or(|u| at < u)
    }

    /// One line; `family` names the service of lines that do not say theirs.
    pub(crate) fn add(&mut self, line: &Line, family: &str) {
        let in_range = line.at.is_none_or(|at| self.in_range(at));
        if in_range {
            self.lines += 1;
            self.bytes += line.bytes;
        }
        let Some(entry) = &line.entry else {
            if in_range {
                self.skipped += 1;
            }
            return;
        };
        let Some(at) = line.at else {
            // Nowhere on the time axis: counted, not charted, not alerted on.
            if in_range {
                self.skipped += 1;
            }
            return;
        };
        let service = entry.service.as_deref().unwrap_or(family);
        if let Some(record) = &entry.alert {
            let process = self.process(service, entry.host.as_deref(), entry.pid);
            self.record(at, record, service, process);
        }
        // Time passes for every service: an incident ends when its window goes quiet, whoever
        // wrote the line that shows it.
        self.tick(at);
        if entry.is_error() {
            let process = self.process(service, entry.host.as_deref(), entry.pid);
            self.observe(at, service, &process, entry);
            self.error_times.entry(process).or_default().push(at);
        }
        if !in_range {
            return;
        }
        self.first_at = Some(self.first_at.map_or(at, |f| f.min(at)));
        self.last_at = Some(self.last_at.map_or(at, |l| l.max(at)));
        let counts = self
            .per_minute
            .entry(at.div_euclid(MINUTE) * MINUTE)
            .or_default();
        counts[entry.severity().index()] += 1;
        if entry.is_error() {
            self.errors += 1;
            self.top.add(entry.message.as_deref().unwrap_or(""));
        }
    }

    /// The process a line belongs to (see [`process_key`]). A line that names no host or pid
    /// joins its service's one known process, when there is exactly one: a logger that adds the
    /// pid to some lines only must not split one process into two windows.
    fn process(&mut self, service: &str, host: Option<&str>, pid: Option<u64>) -> String {
        if host.is_none() && pid.is_none() {
            return match self.sole_process.get(service) {
                Some(Some(key)) => key.clone(),
                _ => service.to_owned(),
            };
        }
        let key = process_key(service, host, pid);
        match self.sole_process.get_mut(service) {
            None => {
                self.sole_process
                    .insert(service.to_owned(), Some(key.clone()));
            }
            Some(sole) => {
                if sole.as_deref() != Some(key.as_str()) {
                    *sole = None;
                }
            }
        }
        key
    }

    fn tick(&mut self, at: i64) {
        let (replays, derived) = (&mut self.replays, &mut self.derived);
        self.open_replays.retain(|key| {
            let Some(replay) = replays.get_mut(key) else {
                return false;
            };
            if let Some(resolved) = replay.engine.tick(at) {
                if let Some(i) = replay.open.take() {
                    close(&mut derived[i], &resolved);
                }
            }
            replay.engine.is_open()
        });
        self.ticks += 1;
        if self.ticks.is_multiple_of(SWEEP_LINES) {
            let window = i64::try_from(self.options.window.as_micros()).unwrap_or(i64::MAX);
            self.replays
                .retain(|_, r| r.engine.is_open() || r.last_error_at > at.saturating_sub(window));
        }
    }

    fn observe(&mut self, at: i64, service: &str, process: &str, entry: &Entry<'_>) {
        let options = &self.options;
        let replay = self
            .replays
            .entry(process.to_owned())
            .or_insert_with(|| Replay {
                engine: Engine::new(Settings {
                    threshold: options.threshold,
                    window: options.window,
                    // Reminders change nothing here.
                    cooldown: Duration::MAX,
                    service: service.to_owned(),
                    env: String::new(),
                    host: String::new(),
                    pid: None,
                    mention: None,
                }),
                open: None,
                last_error_at: at,
            });
        replay.last_error_at = at;
        let message = entry.message.as_deref().unwrap_or("");
        let target = entry.target.as_deref().unwrap_or("");
        let alerts = replay.engine.observe(at, entry.group_key(), || Sample {
            message: message.to_owned(),
            target: target.to_owned(),
            ..Sample::default()
        });
        let mut counted = false;
        for alert in alerts {
            match alert.kind {
                AlertKind::Resolved => {
                    if let Some(i) = replay.open.take() {
                        close(&mut self.derived[i], &alert);
                    }
                }
                AlertKind::Opened => {
                    counted = true;
                    replay.open = Some(self.derived.len());
                    if !self.open_replays.iter().any(|k| k == process) {
                        self.open_replays.push(process.to_owned());
                    }
                    self.derived_process.push(process.to_owned());
                    self.derived.push(Incident {
                        service: Some(service.to_owned()),
                        first_error_at: micros_of(alert.first_error_at),
                        opened_at: micros_of(alert.opened_at),
                        first_alert_at: micros_of(alert.opened_at),
                        resolved_at: None,
                        stopped_at: None,
                        errors: alert.errors_total,
                        top_message: top_message(&alert),
                    });
                }
                _ => {}
            }
        }
        if let (false, Some(i)) = (counted, replay.open) {
            self.derived[i].errors += 1;
        }
    }

    fn record(&mut self, at: i64, record: &AlertRecord, service: &str, process: String) {
        let Some(mark) = record.mark else { return };
        self.recording.insert(process.clone());
        let key = (process, record.incident.unwrap_or(0), record.opened_at);
        if mark == AlertMark::Opened {
            if record.opened_at.is_none() {
                // The same number opened again: a restarted process (older records, without the
                // exact opening time in the key). The earlier incident is complete.
                if let Some(done) = self.recorded.remove(&key) {
                    self.recorded_done.push(done);
                }
            }
            // A new incident of this process: one it left open (it crashed, or was killed,
            // before the resolution) counts no error from here on.
            let first_error_at = record.first_error_at.or(record.opened_at).unwrap_or(at);
            for (other, window) in self.unresolved.iter_mut() {
                if other.0 == key.0 && *other != key {
                    window.1 = Some(window.1.map_or(first_error_at, |u| u.min(first_error_at)));
                }
            }
        }
        let incident = self.recorded.entry(key.clone()).or_insert_with(|| {
            let opened_at = record.opened_at.unwrap_or(at);
            Incident {
                service: Some(service.to_owned()),
                first_error_at: record.first_error_at.unwrap_or(opened_at),
                opened_at,
                first_alert_at: at,
                resolved_at: None,
                stopped_at: None,
                errors: 0,
                top_message: String::new(),
            }
        });
        if mark == AlertMark::Opened {
            incident.first_alert_at = at;
        }
        if let Some(total) = record.errors_total {
            incident.errors = incident.errors.max(total);
        }
        if let Some(top) = &record.top_error {
            // The latest record's view: the resolved one describes the whole incident.
            incident.top_message.clone_from(top);
        }
        if mark == AlertMark::Resolved {
            let resolved_at = record.resolved_at.unwrap_or(at);
            incident.resolved_at = Some(resolved_at);
            if record.opened_at.is_none() {
                // Older records: only the duration tells when it opened.
                if let Some(d) = record.duration_secs {
                    incident.opened_at = resolved_at - (d * 1e6) as i64;
                }
            }
            self.unresolved.remove(&key);
        } else if mark == AlertMark::Stopped {
            // Its last word: no error after it belongs to it.
            incident.stopped_at = Some(record.stopped_at.unwrap_or(at));
            self.unresolved.remove(&key);
        } else {
            let counted_until = record.last_error_at.or(record.opened_at).unwrap_or(at);
            let until = self.unresolved.get(&key).and_then(|u| u.1);
            self.unresolved.insert(key, (counted_until, until));
        }
    }

    /// Lets time reach `now` without a line: incidents whose window has gone quiet since the
    /// last line resolve (a live view, where the clock moves between lines).
    pub(crate) fn advance(&mut self, now: i64) {
        if self.last_at.is_some_and(|last| now > last) {
            self.tick(now);
        }
    }

    pub(crate) fn finish(mut self, files: Vec<PathBuf>, unread: usize) -> Summary {
        // An incident still open: its last record's count, and the errors that came after it.
        for times in self.error_times.values_mut() {
            times.sort_unstable();
        }
        for (key, (counted_until, until)) in &self.unresolved {
            let since = self.error_times.get(&key.0).map_or(0, |times| {
                let end = until.map_or(times.len(), |u| times.partition_point(|t| *t < u));
                end.saturating_sub(times.partition_point(|t| t <= counted_until))
            });
            if let Some(incident) = self.recorded.get_mut(key) {
                incident.errors += since as u64;
            }
        }
        let derived_source = Source::Derived {
            threshold: self.options.threshold,
            window: self.options.window,
        };
        let (mut incidents, source) = if self.options.derive || self.recording.is_empty() {
            (self.derived, derived_source)
        } else {
            // Services with alert records are described by them; the others (a Python service
            // in the same directory) are derived, each by its own rule.
            let mut incidents: Vec<Incident> = self.recorded.into_values().collect();
            incidents.extend(self.recorded_done);
            let before = incidents.len();
            let recording = &self.recording;
            incidents.extend(
                self.derived
                    .into_iter()
                    .zip(&self.derived_process)
                    .filter(|(_, process)| !recording.contains(*process))
                    .map(|(i, _)| i),
            );
            let source = match incidents.len() > before {
                true => Source::Mixed {
                    threshold: self.options.threshold,
                    window: self.options.window,
                },
                false => Source::Records,
            };
            (incidents, source)
        };
        let (since, until) = (self.options.since, self.options.until);
        // An incident belongs to the range it opened in.
        incidents.retain(|i| {
            since.is_none_or(|s| i.opened_at >= s) && until.is_none_or(|u| i.opened_at < u)
        });
        incidents.sort_by(|a, b| (a.opened_at, &a.service).cmp(&(b.opened_at, &b.service)));
        Summary {
            incidents,
            source,
            per_minute: self.per_minute,
            top_errors: self.top.top(TOP_SHOWN),
            first_at: self.first_at,
            last_at: self.last_at,
            lines: self.lines,
            skipped: self.skipped,
            errors: self.errors,
            bytes: self.bytes,
            files,
            unread,
        }
    }
}

fn top_message(alert: &Alert) -> String {
    alert
        .top_errors
        .first()
        .map(|g| g.message.clone())
        .unwrap_or_default()
}

fn close(incident: &mut Incident, resolved: &Alert) {
    incident.resolved_at = resolved.resolved_at.map(micros_of);
    incident.errors = resolved.errors_total;
    incident.top_message = top_message(resolved);
}

/// Distinct messages tracked for the top errors, and how many are shown.
const TOP_TRACKED: usize = 512;
const TOP_SHOWN: usize = 10;

/// The most frequent messages in bounded memory (the space-saving algorithm): exact while there
/// are at most `capacity` distinct messages; beyond that, a message that appears more often than
/// 1/`capacity` of the time is never missed, and a count is over by at most the smallest count
/// tracked.
#[derive(Clone)]
struct TopCounts {
    capacity: usize,
    counts: HashMap<String, u64>,
}

impl TopCounts {
    fn new(capacity: usize) -> Self {
        TopCounts {
            capacity,
            counts: HashMap::new(),
        }
    }

    fn add(&mut self, message: &str) {
        if let Some(c) = self.counts.get_mut(message) {
            *c += 1;
            return;
        }
        if self.counts.len() < self.capacity {
            self.counts.insert(message.to_owned(), 1);
            return;
        }
        // Replace the least frequent (a linear scan: only on a new message with a full table).
        let (least, n) = self
            .counts
            .iter()
            .min_by_key(|(_, &n)| n)
            .map(|(m, &n)| (m.clone(), n))
            .expect("a full table");
        self.counts.remove(&least);
        self.counts.insert(message.to_owned(), n + 1);
    }

    fn top(&self, n: usize) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> =
            self.counts.iter().map(|(m, &c)| (m.clone(), c)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::line::parse;

    const S: i64 = 1_000_000;
    const T0: i64 = 1_796_032_800 * S;

    fn options(threshold: usize) -> Options {
        Options {
            threshold,
            window: Duration::from_secs(60),
            derive: false,
            since: None,
            until: None,
        }
    }

    fn add(tally: &mut Tally, text: &str) {
        let entry = parse(text.as_bytes()).map(|e| crate::read::files::tests_owned(e));
        let at = entry.as_ref().and_then(|e| e.at);
        tally.add(
            &Line {
                at,
                timed: at.is_some(),
                entry,
                bytes: text.len() as u64 + 1,
            },
            "app",
        );
    }

    fn at(secs: i64) -> String {
        crate::timestamp::rfc3339(T0 + secs * S)
    }

    #[test]
    fn top_counts_are_exact_within_capacity_and_keep_the_heavy_hitters_beyond() {
        let mut top = TopCounts::new(8);
        for (m, n) in [("a", 50), ("b", 30), ("c", 3)] {
            for _ in 0..n {
                top.add(m);
            }
        }
        assert_eq!(top.top(2), [("a".to_owned(), 50), ("b".to_owned(), 30)]);
        // Distinct one-off messages churn the smallest slots, never the frequent ones (anything
        // above 1/8 of all the messages is guaranteed to stay).
        for i in 0..20 {
            top.add(&format!("noise {i}"));
        }
        let kept = top.top(2);
        assert_eq!((kept[0].0.as_str(), kept[0].1), ("a", 50));
        assert_eq!((kept[1].0.as_str(), kept[1].1), ("b", 30));
        assert!(top.counts.len() <= 8);
    }

    #[test]
    fn records_without_exact_times_use_the_duration() {
        // A record of an older version: no opened_at/resolved_at fields.
        let mut tally = Tally::new(options(5));
        add(
            &mut tally,
            &format!(
                r#"{{"timestamp":"{}","level":"INFO","message":"resolved","target":"logwarden::alert","alert":"resolved","incident":1,"errors_total":7,"duration_secs":30.0,"top_error":"boom"}}"#,
                at(100)
            ),
        );
        let s = tally.finish(Vec::new(), 0);
        assert_eq!(s.source, Source::Records);
        let i = &s.incidents[0];
        assert_eq!(
            (i.opened_at, i.resolved_at),
            (T0 + 70 * S, Some(T0 + 100 * S))
        );
        assert_eq!((i.errors, i.top_message.as_str()), (7, "boom"));
        assert_eq!(s.mttr(), Some(Duration::from_secs(30)));
        // The crate's own lines are charted but never counted as errors.
        assert_eq!(s.errors, 0);
    }

    #[test]
    fn each_service_has_its_own_window() {
        let mut tally = Tally::new(options(3));
        // Two services, two errors each within the window: no incident for either.
        for (t, service) in [(0, "a"), (1, "b"), (2, "a"), (3, "b")] {
            add(
                &mut tally,
                &format!(
                    r#"{{"timestamp":"{}","level":"ERROR","message":"x","service":"{service}"}}"#,
                    at(t)
                ),
            );
        }
        let s = tally.finish(Vec::new(), 0);
        assert!(s.incidents.is_empty());
        assert_eq!(s.errors, 4);
        assert_eq!(
            s.per_minute
                .values()
                .map(|c| c[Severity::Error.index()])
                .sum::<u64>(),
            4
        );
    }

    fn alert_line(secs: i64, kind: &str, pid: u64, incident: u64, opened: i64) -> String {
        format!(
            r#"{{"timestamp":"{}","level":"WARN","message":"x","target":"logwarden::alert","service":"orders","host":"h","pid":{pid},"alert":"{kind}","incident":{incident},"errors_total":5,"first_error_at":"{}","opened_at":"{}","last_error_at":"{}","top_error":"db down"}}"#,
            at(secs),
            at(opened - 4),
            at(opened),
            at(opened)
        )
    }

    fn error_line(secs: i64, pid: u64) -> String {
        format!(
            r#"{{"timestamp":"{}","level":"ERROR","message":"db down","service":"orders","host":"h","pid":{pid}}}"#,
            at(secs)
        )
    }

    #[test]
    fn an_incident_its_process_stopped_with_is_ended_not_resolved_and_counts_no_more() {
        let mut tally = Tally::new(options(5));
        add(&mut tally, &alert_line(10, "opened", 1, 1, 10));
        add(&mut tally, &error_line(11, 1));
        add(
            &mut tally,
            &alert_line(40, "stopped", 1, 1, 10).replace(
                r#""top_error""#,
                &format!(r#""stopped_at":"{}","top_error""#, at(40)),
            ),
        );
        // The next process (another pid) errs on: not this incident's errors.
        add(&mut tally, &error_line(41, 2));
        let s = tally.finish(Vec::new(), 0);
        assert_eq!(s.incidents.len(), 1);
        let i = &s.incidents[0];
        assert_eq!((i.resolved_at, i.stopped_at), (None, Some(T0 + 40 * S)));
        assert_eq!(i.duration(), None, "no recovery time");
        assert_eq!(
            (s.still_open(), s.stopped(), s.resolved().count()),
            (0, 1, 0)
        );
        assert_eq!(s.mttr(), None);
        assert_eq!(s.total(), Duration::ZERO);
    }

    #[test]
    fn the_same_record_read_twice_is_one_incident() {
        let mut tally = Tally::new(options(5));
        for _ in 0..2 {
            add(&mut tally, &alert_line(10, "opened", 1, 1, 10));
        }
        assert_eq!(tally.finish(Vec::new(), 0).incidents.len(), 1);
    }

    #[test]
    fn a_process_that_wrote_no_records_keeps_its_derived_incidents() {
        // An older process (before alerting was on) and a newer one that writes records.
        let mut tally = Tally::new(options(5));
        for t in 0..10 {
            add(&mut tally, &error_line(t, 7));
        }
        add(&mut tally, &alert_line(1_000, "opened", 8, 1, 1_000));
        let s = tally.finish(Vec::new(), 0);
        assert_eq!(s.incidents.len(), 2, "{:#?}", s.incidents);
        assert!(matches!(s.source, Source::Mixed { .. }));
    }

    #[test]
    fn an_incident_left_open_by_a_crash_stops_counting_when_the_next_one_opens() {
        let mut tally = Tally::new(options(5));
        // Opened at 10 s with 5 errors, 2 more, then the process dies; restarted with the same
        // host and pid 1, it opens incident #1 again at 500 s after 5 errors, then 100 more.
        add(&mut tally, &alert_line(10, "opened", 1, 1, 10));
        for t in [11, 12] {
            add(&mut tally, &error_line(t, 1));
        }
        for t in 496..=500 {
            add(&mut tally, &error_line(t, 1));
        }
        add(&mut tally, &alert_line(500, "opened", 1, 1, 500));
        for t in 0..100 {
            add(&mut tally, &error_line(501 + t, 1));
        }
        let s = tally.finish(Vec::new(), 0);
        let errors: Vec<u64> = s.incidents.iter().map(|i| i.errors).collect();
        assert_eq!(errors, [7, 105]);
    }

    #[test]
    fn short_lived_processes_do_not_pile_up() {
        let mut tally = Tally::new(options(5));
        for pid in 0..(2 * SWEEP_LINES + 10) {
            add(&mut tally, &error_line(pid as i64 * 120, pid));
        }
        assert!(
            tally.replays.len() < SWEEP_LINES as usize,
            "{}",
            tally.replays.len()
        );
        assert!(tally.open_replays.is_empty());
    }

    #[test]
    fn lines_that_name_their_pid_only_sometimes_stay_one_process() {
        let mut tally = Tally::new(options(5));
        for t in 0..10 {
            let line = if t % 2 == 0 {
                error_line(t, 42)
            } else {
                format!(
                    r#"{{"timestamp":"{}","level":"ERROR","message":"db down","service":"orders"}}"#,
                    at(t)
                )
            };
            add(&mut tally, &line);
        }
        let s = tally.finish(Vec::new(), 0);
        assert_eq!(s.incidents.len(), 1, "{:#?}", s.incidents);
        assert_eq!(s.incidents[0].errors, 10, "all ten in one window");
    }
}

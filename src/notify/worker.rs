//! The delivery thread: takes alerts from the outbox (and the resolutions the tracker finds due),
//! writes each as a record in the log file, and posts it with timeouts and retries.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::alertmanager::Alertmanager;
use super::{DeliveryOptions, Notifier};
use crate::alert::{Alert, AlertKind, Job, Outbox, Tracker};
use crate::diag::{enter_quiet_thread, report};
use crate::record::Notice;
use crate::timestamp::rfc3339_of;
use crate::writer::NonBlocking;

#[derive(Default)]
struct ControlState {
    /// Set by the guard: deliver what is queued, retry no later than this, then exit.
    deadline: Option<Instant>,
    exited: bool,
}

#[derive(Default)]
struct Control {
    state: Mutex<ControlState>,
    changed: Condvar,
}

/// The guard's handle on the delivery thread.
pub(crate) struct Delivery {
    control: Arc<Control>,
    outbox: Outbox,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").finish_non_exhaustive()
    }
}

impl Delivery {
    /// Delivers what is queued (retrying no later than `deadline`), stops the thread and returns
    /// by `deadline` even if a server never answers. Returns whether the thread finished.
    pub(crate) fn shutdown(&mut self, deadline: Instant) -> bool {
        let mut st = self.control.state.lock();
        st.deadline = Some(deadline);
        self.control.changed.notify_all();
        drop(st);
        self.outbox.wake();
        let mut st = self.control.state.lock();
        while !st.exited {
            if self
                .control
                .changed
                .wait_until(&mut st, deadline)
                .timed_out()
            {
                break;
            }
        }
        let exited = st.exited;
        drop(st);
        if exited {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        exited
    }
}

/// Where alert records go: the log file's writer and the renderer of the crate's own records.
pub(crate) type RecordSink = Option<(NonBlocking, Notice)>;

/// Where alerts are posted: a notifier (Slack, JSON, the program's own), Alertmanager, both,
/// or neither (stderr).
#[derive(Debug, Default)]
pub(crate) struct Destinations {
    pub(crate) notifier: Option<Box<dyn Notifier>>,
    pub(crate) alertmanager: Option<Alertmanager>,
}

impl Destinations {
    /// Whether any alert leaves the process.
    pub(crate) fn any(&self) -> bool {
        self.notifier.is_some() || self.alertmanager.is_some()
    }

    /// Where alerts go, for a diagnostic: "slack (https://hooks.slack.com/…)". Never a path.
    #[cfg_attr(all(feature = "http", not(feature = "cli")), allow(dead_code))]
    pub(crate) fn describe(&self) -> String {
        let mut out = Vec::new();
        if let Some(n) = &self.notifier {
            out.push(format!("{} ({})", n.name(), n.webhook()));
        }
        if let Some(am) = &self.alertmanager {
            let targets: Vec<String> = am.targets.iter().map(|t| t.to_string()).collect();
            out.push(format!("alertmanager ({})", targets.join(", ")));
        }
        out.join(" and ")
    }
}

/// Starts the delivery thread on the reading end of `outbox`'s queue. Resolutions come from
/// `tracker`, asked as often as it says.
pub(crate) fn spawn(
    destinations: Destinations,
    tracker: Tracker,
    (outbox, inbox): (Outbox, Receiver<Job>),
    records: RecordSink,
    options: DeliveryOptions,
) -> std::io::Result<Delivery> {
    let control = Arc::new(Control::default());
    #[cfg(not(feature = "http"))]
    if destinations.any() {
        // The builder refuses this; should it happen anyway, it is said, not silently ignored.
        report(format_args!(
            "alerts cannot be posted to {}: logwarden was built without its `http` feature",
            destinations.describe()
        ));
    }
    #[cfg(feature = "http")]
    let poster = destinations
        .any()
        .then(|| super::post::Poster::new(&options));
    let Destinations {
        notifier,
        alertmanager,
    } = destinations;
    #[cfg(not(feature = "http"))]
    let _ = (notifier, alertmanager);
    let worker = Worker {
        #[cfg(feature = "http")]
        poster,
        #[cfg(feature = "http")]
        instances: alertmanager.map(super::alertmanager::Instances::new),
        #[cfg(feature = "http")]
        notifier,
        tracker,
        records,
        options,
        control: Arc::clone(&control),
        #[cfg(feature = "http")]
        counters: Arc::clone(&outbox.counters),
    };
    let thread = thread::Builder::new()
        .name("logwarden-alerts".into())
        .spawn(move || worker.run(inbox))?;
    Ok(Delivery {
        control,
        outbox,
        thread: Some(thread),
    })
}

struct Worker {
    #[cfg(feature = "http")]
    poster: Option<super::post::Poster>,
    /// What each Alertmanager instance has heard, and when to post to it next.
    #[cfg(feature = "http")]
    instances: Option<super::alertmanager::Instances>,
    #[cfg(feature = "http")]
    notifier: Option<Box<dyn Notifier>>,
    tracker: Tracker,
    records: RecordSink,
    options: DeliveryOptions,
    control: Arc<Control>,
    #[cfg(feature = "http")]
    counters: Arc<crate::alert::AlertCounters>,
}

impl Worker {
    fn run(mut self, rx: Receiver<Job>) {
        // Whatever the HTTP stack logs on this thread (ureq may print the URL at trace level)
        // must not reach the log file or the alert counter.
        enter_quiet_thread();
        loop {
            let mut stop = false;
            #[cfg_attr(not(feature = "http"), allow(unused_mut))]
            let mut wait = self.tracker.next_check();
            #[cfg(feature = "http")]
            if let Some(next) = self.instances.as_ref().and_then(|i| i.next(Instant::now())) {
                wait = wait.min(next);
            }
            match rx.recv_timeout(wait) {
                Ok(Job::Alert(alert)) => self.deliver(&alert),
                Ok(Job::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            if let Some(alert) = self.tracker.due() {
                self.deliver(&alert);
            }
            self.resend();
            if stop || self.control.state.lock().deadline.is_some() {
                while let Ok(job) = rx.try_recv() {
                    if let Job::Alert(alert) = job {
                        self.deliver(&alert);
                    }
                }
                // An incident still open gets its last word before the process goes.
                if let Some(alert) = self.tracker.stop() {
                    self.deliver(&alert);
                }
                #[cfg(feature = "http")]
                if let Some(instances) = &mut self.instances {
                    instances.stop(&self.counters);
                }
                break;
            }
        }
        let mut st = self.control.state.lock();
        st.exited = true;
        self.control.changed.notify_all();
    }

    fn deliver(&mut self, alert: &Alert) {
        self.write_record(alert);
        if self.options.echo {
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout().lock(), "{}", echo_line(alert));
        }
        #[cfg(feature = "http")]
        if let Some(poster) = self.poster.take() {
            // Alertmanager first: one attempt per instance, never a wait; then the notifier,
            // whose retries wait (within the shutdown deadline).
            if let Some(instances) = &mut self.instances {
                instances.news(&poster, alert, &self.options, &self.counters);
            }
            if let Some(notifier) = &self.notifier {
                let sleep = |wait| self.sleep(wait);
                let mut poster = poster;
                poster.notify(&**notifier, alert, &self.options, &self.counters, &sleep);
                self.poster = Some(poster);
            } else {
                self.poster = Some(poster);
            }
            return;
        }
        report(format_args!("{}", terminal_text(alert)));
    }

    /// Retries to Alertmanager instances and the resend, when due.
    fn resend(&mut self) {
        #[cfg(feature = "http")]
        if let (Some(instances), Some(poster)) = (&mut self.instances, &self.poster) {
            instances.tick(poster, &self.options, &self.counters);
        }
    }

    /// Sleeps `wait`, unless the shutdown deadline comes first. Returns whether to go on.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    fn sleep(&self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        let mut st = self.control.state.lock();
        loop {
            let end = st.deadline.map_or(until, |d| d.min(until));
            if Instant::now() >= end {
                return st.deadline.is_none_or(|d| Instant::now() < d);
            }
            self.control.changed.wait_until(&mut st, end);
        }
    }

    /// The alert as a record in the log file: WARN for an incident, INFO for its end, so it never
    /// counts as an error itself.
    fn write_record(&self, alert: &Alert) {
        let Some((writer, notice)) = &self.records else {
            return;
        };
        let level = match alert.kind {
            AlertKind::Resolved => "INFO",
            _ => "WARN",
        };
        let mut fields = serde_json::Map::new();
        fields.insert("alert".into(), alert.kind.as_str().into());
        fields.insert("incident".into(), alert.incident.into());
        fields.insert("errors_in_window".into(), alert.errors_in_window.into());
        fields.insert("errors_since_last".into(), alert.errors_since_last.into());
        fields.insert("errors_total".into(), alert.errors_total.into());
        fields.insert("threshold".into(), alert.threshold.into());
        fields.insert("window_secs".into(), alert.window.as_secs_f64().into());
        // Exact times, so `logwarden incidents` rebuilds the incident from any one of its records
        // (the record's own timestamp is when it was written, a moment later).
        fields.insert(
            "first_error_at".into(),
            rfc3339_of(alert.first_error_at).into(),
        );
        fields.insert("opened_at".into(), rfc3339_of(alert.opened_at).into());
        fields.insert(
            "last_error_at".into(),
            rfc3339_of(alert.last_error_at).into(),
        );
        if let Some(at) = alert.resolved_at {
            fields.insert("resolved_at".into(), rfc3339_of(at).into());
        }
        if let Some(at) = alert.stopped_at {
            fields.insert("stopped_at".into(), rfc3339_of(at).into());
        }
        if matches!(alert.kind, AlertKind::Resolved | AlertKind::Stopped) {
            fields.insert(
                "duration_secs".into(),
                alert.duration().as_secs_f64().into(),
            );
        }
        if let Some(top) = alert.top_errors.first() {
            fields.insert("top_error".into(), top.message.clone().into());
        }
        let mut line = Vec::new();
        notice.render_with(
            &mut line,
            level,
            "logwarden::alert",
            &super::slack::headline(alert),
            &serde_json::Value::Object(fields),
        );
        use std::io::Write as _;
        let _ = tracing_subscriber::fmt::MakeWriter::make_writer(writer).write_all(&line);
    }
}

fn clean(s: &str) -> String {
    crate::text::for_terminal(s, usize::MAX)
}

/// The alert for a terminal: stderr when no webhook is configured.
fn terminal_text(alert: &Alert) -> String {
    let mut out = format!("ALERT {}", clean(&super::slack::headline(alert)));
    for g in &alert.top_errors {
        out.push_str(&format!(
            "\n  {}× {} [{}{}]",
            g.count,
            clean(&g.message),
            clean(&g.target),
            g.location
                .as_deref()
                .map(|l| format!(" {}", clean(l)))
                .unwrap_or_default()
        ));
        if let Some(t) = &g.trace_id {
            out.push_str(&format!(" trace_id={}", clean(t)));
        }
    }
    if alert.kind != AlertKind::Resolved {
        out.push_str(
            "\n  (no webhook configured: set SLACK_WEBHOOK_URL to post alerts to Slack, \
             or LOGWARDEN_ALERTMANAGER_URL to Alertmanager)",
        );
    }
    out
}

/// One line per decision, for stdout (see [`DeliveryOptions::echo`]): the headline, and for an
/// open incident its most frequent error.
fn echo_line(alert: &Alert) -> String {
    let mut out = clean(&super::slack::headline(alert));
    if alert.kind != AlertKind::Resolved {
        if let Some(g) = alert.top_errors.first() {
            out.push_str(&format!(" — top: {}× {}", g.count, clean(&g.message)));
        }
    }
    out
}

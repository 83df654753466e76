//! The delivery thread: takes alerts from the outbox (and the resolutions the tracker finds due),
//! writes each as a record in the log file, and posts it with timeouts and retries.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

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

/// Starts the delivery thread on the reading end of `outbox`'s queue. Resolutions come from
/// `tracker`, asked as often as it says.
pub(crate) fn spawn(
    notifier: Option<Box<dyn Notifier>>,
    tracker: Tracker,
    (outbox, inbox): (Outbox, Receiver<Job>),
    records: RecordSink,
    options: DeliveryOptions,
) -> std::io::Result<Delivery> {
    let control = Arc::new(Control::default());
    #[cfg(not(feature = "http"))]
    if let Some(notifier) = notifier {
        // The builder refuses this; should it happen anyway, it is said, not silently ignored.
        report(format_args!(
            "alerts cannot be posted to {} ({}): logwarden was built without its `http` feature",
            notifier.name(),
            notifier.webhook()
        ));
    }
    let worker = Worker {
        #[cfg(feature = "http")]
        destination: notifier.map(|n| super::post::Destination::new(n, &options)),
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
    destination: Option<super::post::Destination>,
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
            match rx.recv_timeout(self.tracker.next_check()) {
                Ok(Job::Alert(alert)) => self.deliver(&alert),
                Ok(Job::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            if let Some(alert) = self.tracker.due() {
                self.deliver(&alert);
            }
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
        if let Some(mut destination) = self.destination.take() {
            destination.deliver(alert, &self.options, &self.counters, &|wait| {
                self.sleep(wait)
            });
            self.destination = Some(destination);
            return;
        }
        report(format_args!("{}", terminal_text(alert)));
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
        out.push_str("\n  (no webhook configured: set SLACK_WEBHOOK_URL to post alerts to Slack)");
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

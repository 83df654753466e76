//! The delivery thread: takes alerts from a bounded queue, writes them to the log file, posts them
//! with timeouts and retries, and resolves incidents when their window goes quiet.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::Notifier;
use crate::alert::{Alert, AlertKind, Engine};
use crate::clock::Clock;
use crate::diag::{enter_quiet_thread, report};
use crate::record::Notice;
use crate::writer::NonBlocking;

/// What the layer hands to the delivery thread.
#[derive(Debug)]
pub(crate) enum Job {
    Alert(Box<Alert>),
    /// Nothing to deliver: look at the shutdown deadline now.
    Wake,
}

/// Counters of the alert path, read through the guard.
#[derive(Debug, Default)]
pub(crate) struct AlertCounters {
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) retries: AtomicU64,
}

/// Timeouts and retry policy.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryOptions {
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) queue: usize,
    /// Also print each alert's headline on stdout as it is taken for delivery: `logwarden watch`
    /// shows every decision, whether or not a webhook is configured.
    pub(crate) echo: bool,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            queue: 64,
            echo: false,
        }
    }
}

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
    queue: SyncSender<Job>,
    thread: Option<JoinHandle<()>>,
    pub(crate) engine: Arc<Mutex<Engine>>,
    pub(crate) counters: Arc<AlertCounters>,
    pub(crate) clock: Clock,
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
        let _ = self.queue.try_send(Job::Wake);
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

/// Hands alerts to the delivery thread without ever waiting: a full queue means the thread is
/// far behind (a hung webhook), and one more alert would not help; the loss is counted and
/// reported once.
pub(crate) fn enqueue(
    queue: &SyncSender<Job>,
    counters: &AlertCounters,
    alerts: impl IntoIterator<Item = Alert>,
) {
    for alert in alerts {
        if queue.try_send(Job::Alert(Box::new(alert))).is_err()
            && counters.dropped.fetch_add(1, Ordering::Relaxed) == 0
        {
            report(format_args!(
                "the alert queue is full; alerts are being dropped"
            ));
        }
    }
}

/// Where alert records go: the log file's writer and the renderer of the crate's own records.
pub(crate) type RecordSink = Option<(NonBlocking, Notice)>;

/// Starts the delivery thread. Returns its handle and the sending end for the layer.
pub(crate) fn spawn(
    notifier: Option<Box<dyn Notifier>>,
    engine: Arc<Mutex<Engine>>,
    clock: Clock,
    records: RecordSink,
    options: DeliveryOptions,
) -> std::io::Result<(Delivery, SyncSender<Job>)> {
    let (tx, rx) = mpsc::sync_channel(options.queue.max(1));
    let control = Arc::new(Control::default());
    let counters = Arc::new(AlertCounters::default());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(options.connect_timeout))
        .timeout_global(Some(options.request_timeout))
        .http_status_as_error(false)
        // A webhook that redirects is misconfigured; following it could leak the payload.
        .max_redirects(0)
        .user_agent(concat!("logwarden/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let worker = Worker {
        notifier,
        agent,
        engine: Arc::clone(&engine),
        clock: clock.clone(),
        records,
        options,
        control: Arc::clone(&control),
        counters: Arc::clone(&counters),
        rng: seed(),
    };
    let thread = thread::Builder::new()
        .name("logwarden-alerts".into())
        .spawn(move || worker.run(rx))?;
    Ok((
        Delivery {
            control,
            queue: tx.clone(),
            thread: Some(thread),
            engine,
            counters,
            clock,
        },
        tx,
    ))
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id()).rotate_left(32)) | 1
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// Worth another try, after at least this long (a 429's `Retry-After`).
    Retry(String, Option<Duration>),
    /// Retrying cannot help (400, 403, 404, 410…).
    Permanent(String),
}

struct Worker {
    notifier: Option<Box<dyn Notifier>>,
    agent: ureq::Agent,
    engine: Arc<Mutex<Engine>>,
    clock: Clock,
    records: RecordSink,
    options: DeliveryOptions,
    control: Arc<Control>,
    counters: Arc<AlertCounters>,
    rng: u64,
}

impl Worker {
    fn run(mut self, rx: Receiver<Job>) {
        // Whatever the HTTP stack logs on this thread (ureq may print the URL at trace level)
        // must not reach the log file or the alert counter.
        enter_quiet_thread();
        loop {
            let tick = if self.engine.lock().is_open() {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(1)
            };
            let mut stop = false;
            match rx.recv_timeout(tick) {
                Ok(Job::Alert(alert)) => self.deliver(&alert),
                Ok(Job::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            let resolved = self.engine.lock().tick(self.clock.now_micros());
            if let Some(alert) = resolved {
                self.deliver(&alert);
            }
            if stop || self.control.state.lock().deadline.is_some() {
                while let Ok(job) = rx.try_recv() {
                    if let Job::Alert(alert) = job {
                        self.deliver(&alert);
                    }
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
        let Some(notifier) = &self.notifier else {
            report(format_args!("{}", terminal_text(alert)));
            return;
        };
        let body = notifier.body(alert);
        let mut attempt = 1;
        let last_error = loop {
            let (error, at_least) = match self.attempt(notifier.as_ref(), &body) {
                Attempt::Delivered => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Attempt::Permanent(error) => break format!("{error} (not retried)"),
                Attempt::Retry(error, at_least) => (error, at_least),
            };
            if attempt >= self.options.max_attempts {
                break format!("{error} (after {attempt} attempts)");
            }
            let wait = at_least
                .unwrap_or(backoff(&self.options, &mut self.rng, attempt))
                .min(self.options.max_backoff);
            if !self.sleep(wait) {
                break format!("{error} (gave up at shutdown after {attempt} attempts)");
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
        };
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        report(format_args!(
            "{} alert for incident #{} not delivered to {} ({}): {last_error}",
            alert.kind.as_str(),
            alert.incident,
            notifier.name(),
            notifier.webhook(),
        ));
    }

    fn attempt(&self, notifier: &dyn Notifier, body: &str) -> Attempt {
        let webhook = notifier.webhook();
        let result = self
            .agent
            .post(webhook.expose())
            .header("Content-Type", "application/json; charset=utf-8")
            .send(body);
        let mut response = match result {
            Ok(r) => r,
            // Errors of the HTTP stack may quote the URL: never show them unredacted.
            Err(e) => return Attempt::Retry(webhook.redact(&e.to_string()), None),
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Attempt::Delivered;
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut text = String::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(512)
            .read_to_string(&mut text);
        let text: String = webhook
            .redact(text.trim())
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let error = if text.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status} {text}")
        };
        match status {
            // Without `Retry-After`, the usual backoff applies.
            429 => Attempt::Retry(error, retry_after),
            500..=599 => Attempt::Retry(error, None),
            _ => Attempt::Permanent(error),
        }
    }

    /// Sleeps `wait`, unless the shutdown deadline comes first. Returns whether to go on.
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
            super::rfc3339(alert.first_error_at).into(),
        );
        fields.insert("opened_at".into(), super::rfc3339(alert.opened_at).into());
        fields.insert(
            "last_error_at".into(),
            super::rfc3339(alert.last_error_at).into(),
        );
        if alert.kind == AlertKind::Resolved {
            if let Some(at) = alert.resolved_at {
                fields.insert("resolved_at".into(), super::rfc3339(at).into());
            }
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

/// Exponential backoff with ±25 % jitter, so that many processes alerting at once do not retry
/// in lockstep.
fn backoff(options: &DeliveryOptions, rng: &mut u64, attempt: u32) -> Duration {
    let base = options
        .backoff
        .saturating_mul(1 << attempt.saturating_sub(1).min(16));
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let jitter = 0.75 + (*rng % 1000) as f64 / 2000.0;
    base.mul_f64(jitter)
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

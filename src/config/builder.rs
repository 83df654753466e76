//! [`Builder`]: the settings, grouped by what they configure, and the setters that fill them.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::clock::ManualClock;
use crate::error::Error;
use crate::file::{Rotation, Timezone};
use crate::notify::{
    Alertmanager, DeliveryOptions, Notifier, Webhook, DEFAULT_ALERTNAME, DEFAULT_RESEND,
};
use crate::record::{Format, Key, Layout, TimeFormat, DEFAULT_MAX_LINE_BYTES};
use crate::redact::{Redaction, ValuePatterns};
use crate::writer::{Overflow, StdoutMode};

const DEFAULT_DIR: &str = "logs";
const DEFAULT_FILTER: &str = "info";
const DEFAULT_MAX_BYTES: u64 = 10 << 20;
const DEFAULT_KEEP: usize = 5;
const DEFAULT_BUFFER_BYTES: usize = 1 << 20;
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_FILE_MODE: u32 = 0o640;
const DEFAULT_ALERT_THRESHOLD: usize = 5;
const DEFAULT_ALERT_WINDOW: Duration = Duration::from_secs(60);
const DEFAULT_ALERT_COOLDOWN: Duration = Duration::from_secs(300);

/// A setting's value and where it came from (an environment variable or a builder method), so an
/// error can name the thing the operator has to change.
#[derive(Clone, Debug)]
pub(super) struct Val<T> {
    pub(super) value: T,
    pub(super) from: &'static str,
}

impl<T> Val<T> {
    pub(super) fn new(value: T, from: &'static str) -> Self {
        Val { value, from }
    }
}

/// Which payload a webhook URL given as text gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WebhookKind {
    Slack,
    Json,
}

/// Who the records say they come from.
#[derive(Debug, Default)]
pub(super) struct Identity {
    pub(super) service: Option<Val<String>>,
    pub(super) env: Option<String>,
}

/// The rolling file.
#[derive(Debug)]
pub(super) struct FileSettings {
    pub(super) dir: Val<PathBuf>,
    pub(super) name: Option<Val<String>>,
    pub(super) max_bytes: Val<Option<u64>>,
    pub(super) rotation: Rotation,
    pub(super) timezone: Val<Timezone>,
    pub(super) keep: usize,
    pub(super) max_total_bytes: Val<Option<u64>>,
    pub(super) mode: u32,
    pub(super) compress: Val<bool>,
}

/// The writer threads and where lines go besides the file.
pub(super) struct WriterSettings {
    pub(super) stdout: StdoutMode,
    pub(super) buffer_bytes: Val<usize>,
    pub(super) overflow: Overflow,
    pub(super) shutdown_timeout: Duration,
    /// Instead of the rolling file.
    pub(super) custom: Option<Box<dyn io::Write + Send>>,
}

/// What a record holds and may hold.
#[derive(Debug)]
pub(super) struct RecordSettings {
    /// The record's keys and fixed fields; the fixed fields from code only.
    pub(super) layout: Layout,
    /// From `LOGWARDEN_FIELDS`: merged into `layout`'s at the end (same key: this value).
    pub(super) env_fields: Vec<(String, String)>,
    pub(super) redaction: Redaction,
    /// From `LOGWARDEN_REDACT_KEYS` / `_VALUES`: added to `redaction` at the end, whatever the
    /// order of the calls, so an operator's additions are never dropped by code.
    pub(super) env_redact_keys: Vec<String>,
    pub(super) env_redact_values: ValuePatterns,
    /// Unset: the default, or half the line cap if that is smaller.
    pub(super) max_field_bytes: Option<Val<usize>>,
    pub(super) max_line_bytes: Val<usize>,
}

/// The threshold rule and where alerts go.
pub(super) struct AlertSettings {
    pub(super) on: bool,
    pub(super) webhook: Option<(Val<String>, WebhookKind)>,
    pub(super) notifier: Option<Box<dyn Notifier>>,
    pub(super) allow_http: bool,
    pub(super) threshold: Val<usize>,
    pub(super) window: Val<Duration>,
    pub(super) cooldown: Duration,
    pub(super) mention: Option<String>,
    pub(super) delivery: DeliveryOptions,
    pub(super) alertmanager: AlertmanagerSettings,
}

/// Alertmanager as a destination, besides or instead of the webhook.
#[derive(Debug)]
pub(super) struct AlertmanagerSettings {
    /// Comma-separated base URLs: a credential, like a webhook.
    pub(super) urls: Option<Val<String>>,
    pub(super) alertname: Val<String>,
    pub(super) resend: Val<Duration>,
}

/// Starts configuring logwarden in code. See [`Builder`].
pub fn builder() -> Builder {
    Builder::default()
}

/// Configuration in code, with the environment read on top when asked.
///
/// ```no_run
/// # fn main() -> Result<(), logwarden::Error> {
/// let _guard = logwarden::builder()
///     .service("orders")
///     .dir("/var/log/orders")
///     .from_env() // LOGWARDEN_* variables override what is set above
///     .keep(10) // … and this overrides LOGWARDEN_KEEP
///     .init()?;
/// # Ok(()) }
/// ```
///
/// Later calls win: [`Builder::from_env`] applies the variables set at the moment it is called, so
/// settings made before it are defaults the environment can override, and settings made after it
/// are fixed by the code. `logwarden::init()` is `builder().from_env().init()`.
///
#[doc = include_str!("../../docs/configuration.md")]
#[must_use = "a builder does nothing until `.init()` or `.build()`"]
pub struct Builder {
    pub(super) filter: Val<String>,
    pub(super) identity: Identity,
    pub(super) file: FileSettings,
    pub(super) writer: WriterSettings,
    pub(super) record: RecordSettings,
    pub(super) alerts: AlertSettings,
    pub(super) capture_log: bool,
    /// Where to serve `GET /metrics`; unset: not served.
    pub(super) metrics_addr: Option<Val<String>>,
    /// Unset: on with `init()`, off with `build()`/`subscriber()`.
    pub(super) panic_hook: Option<bool>,
    pub(super) clock: Option<ManualClock>,
    /// The first environment variable that failed to parse; returned by `init()`/`build()`.
    pub(super) env_error: Option<Error>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            filter: Val::new(DEFAULT_FILTER.to_owned(), "RUST_LOG"),
            identity: Identity::default(),
            file: FileSettings {
                dir: Val::new(PathBuf::from(DEFAULT_DIR), "LOGWARDEN_DIR"),
                name: None,
                max_bytes: Val::new(Some(DEFAULT_MAX_BYTES), "LOGWARDEN_MAX_BYTES"),
                rotation: Rotation::NEVER,
                timezone: Val::new(Timezone::UTC, "LOGWARDEN_TIMEZONE"),
                keep: DEFAULT_KEEP,
                max_total_bytes: Val::new(None, "LOGWARDEN_MAX_TOTAL_BYTES"),
                mode: DEFAULT_FILE_MODE,
                compress: Val::new(false, "LOGWARDEN_COMPRESS"),
            },
            writer: WriterSettings {
                stdout: StdoutMode::OFF,
                buffer_bytes: Val::new(DEFAULT_BUFFER_BYTES, "LOGWARDEN_BUFFER_BYTES"),
                overflow: Overflow::BLOCK,
                shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
                custom: None,
            },
            record: RecordSettings {
                layout: Layout::default(),
                env_fields: Vec::new(),
                redaction: Redaction::default(),
                env_redact_keys: Vec::new(),
                env_redact_values: ValuePatterns::NONE,
                max_field_bytes: None,
                max_line_bytes: Val::new(DEFAULT_MAX_LINE_BYTES, "LOGWARDEN_MAX_LINE_BYTES"),
            },
            alerts: AlertSettings {
                on: true,
                webhook: None,
                notifier: None,
                allow_http: false,
                threshold: Val::new(DEFAULT_ALERT_THRESHOLD, "LOGWARDEN_ALERT_THRESHOLD"),
                window: Val::new(DEFAULT_ALERT_WINDOW, "LOGWARDEN_ALERT_WINDOW"),
                cooldown: DEFAULT_ALERT_COOLDOWN,
                mention: None,
                delivery: DeliveryOptions::default(),
                alertmanager: AlertmanagerSettings {
                    urls: None,
                    alertname: Val::new(
                        DEFAULT_ALERTNAME.to_owned(),
                        "LOGWARDEN_ALERTMANAGER_ALERTNAME",
                    ),
                    resend: Val::new(DEFAULT_RESEND, "LOGWARDEN_ALERTMANAGER_RESEND"),
                },
            },
            capture_log: true,
            metrics_addr: None,
            panic_hook: None,
            clock: None,
            env_error: None,
        }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, writer, record, alerts) = (&self.file, &self.writer, &self.record, &self.alerts);
        f.debug_struct("Builder")
            .field("filter", &self.filter.value)
            .field("service", &self.identity.service.as_ref().map(|v| &v.value))
            .field("env", &self.identity.env)
            .field("dir", &file.dir.value)
            .field("file_name", &file.name.as_ref().map(|v| &v.value))
            .field("max_bytes", &file.max_bytes.value)
            .field("rotation", &file.rotation)
            .field("timezone", &file.timezone.value)
            .field("keep", &file.keep)
            .field("max_total_bytes", &file.max_total_bytes.value)
            .field("stdout", &writer.stdout)
            .field("buffer_bytes", &writer.buffer_bytes.value)
            .field("overflow", &writer.overflow)
            .field("shutdown_timeout", &writer.shutdown_timeout)
            .field("file_mode", &format_args!("{:04o}", file.mode))
            .field("compress", &file.compress.value)
            .field("custom_writer", &writer.custom.is_some())
            .field("alerts", &alerts.on)
            // The webhook is a credential: never more than scheme and host.
            .field(
                "webhook",
                &alerts
                    .webhook
                    .as_ref()
                    .map(|(v, _)| match Webhook::parse(&v.value, true) {
                        Ok(w) => w.to_string(),
                        Err(e) => e.shown,
                    }),
            )
            .field("notifier", &alerts.notifier)
            // Credentials again: scheme and host of each instance at most.
            .field(
                "alertmanager",
                &alerts
                    .alertmanager
                    .urls
                    .as_ref()
                    .map(|v| match Alertmanager::targets(&v.value) {
                        Ok(t) => t.iter().map(|w| w.origin().to_owned()).collect(),
                        Err(e) => vec![e.shown],
                    }),
            )
            .field(
                "alertmanager_alertname",
                &alerts.alertmanager.alertname.value,
            )
            .field("alertmanager_resend", &alerts.alertmanager.resend.value)
            .field("alert_threshold", &alerts.threshold.value)
            .field("alert_window", &alerts.window.value)
            .field("alert_cooldown", &alerts.cooldown)
            .field("mention", &alerts.mention)
            .field("redaction", &record.redaction)
            .field(
                "max_field_bytes",
                &record.max_field_bytes.as_ref().map(|v| v.value),
            )
            .field("max_line_bytes", &record.max_line_bytes.value)
            .field(
                "metrics_addr",
                &self.metrics_addr.as_ref().map(|v| &v.value),
            )
            .field("panic_hook", &self.panic_hook)
            .field("layout", &record.layout)
            .field("env_fields", &record.env_fields)
            .finish_non_exhaustive()
    }
}

/// Where records go and who they say they come from.
impl Builder {
    /// `EnvFilter` directives such as `info,my_crate=debug,hyper=warn`.
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Val::new(directives.into(), "filter");
        self
    }

    /// The `service` field of every record, and the default file name (`<service>.log`).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.identity.service = Some(Val::new(service.into(), "service"));
        self
    }

    /// The `env` field of every record (`production`, `staging`…).
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.identity.env = Some(env.into());
        self
    }

    /// Also write records to stdout.
    pub fn stdout(mut self, mode: StdoutMode) -> Self {
        self.writer.stdout = mode;
        self
    }

    /// Write records to `writer` (a socket, a pipe) instead of the rotating file. The file
    /// settings are then ignored; buffering, overflow and shutdown work the same.
    pub fn writer(mut self, writer: impl io::Write + Send + 'static) -> Self {
        self.writer.custom = Some(Box::new(writer));
        self
    }

    /// Capture events of the `log` crate too (default on with `init()`).
    pub fn capture_log(mut self, on: bool) -> Self {
        self.capture_log = on;
        self
    }

    /// Writes a panic as an ERROR record (message, location, thread, backtrace when
    /// `RUST_BACKTRACE` asks for one, span fields), counts it toward the alert threshold, flushes
    /// the file, then runs the panic hook that was installed before. On by default with
    /// [`init`](Builder::init); off by default with [`build`](Builder::build), where the
    /// application owns the process-wide state.
    pub fn panic_hook(mut self, on: bool) -> Self {
        self.panic_hook = Some(on);
        self
    }

    /// Read time from a [`ManualClock`] instead of the system clock: record timestamps, time
    /// rotation, rotated file names and alert windows all follow it. For tests and simulations.
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(clock);
        self
    }
}

/// The rolling file.
impl Builder {
    /// The log directory; created (with parents) if missing.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.file.dir = Val::new(dir.into(), "dir");
        self
    }

    /// The active file's name inside the directory (a plain name, no path separators). `{pid}` in
    /// it becomes the process id, for services that run several processes on one directory:
    /// each active file has one writer, and a second one is refused with
    /// [`ErrorKind::InUse`](crate::ErrorKind::InUse).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file.name = Some(Val::new(name.into(), "file_name"));
        self
    }

    /// The size trigger: the file is rotated before a write would make it larger than this.
    /// `None` turns size rotation off. A single line larger than the limit goes alone in a file.
    pub fn max_bytes(mut self, bytes: impl Into<Option<u64>>) -> Self {
        self.file.max_bytes = Val::new(bytes.into(), "max_bytes");
        self
    }

    /// The time trigger, combinable with the size trigger, on the wall clock of
    /// [`timezone`](Builder::timezone) (UTC by default).
    pub fn rotation(mut self, rotation: Rotation) -> Self {
        self.file.rotation = rotation;
        self
    }

    /// The wall clock the time trigger follows (default [`Timezone::UTC`]): with
    /// [`Timezone::LOCAL`] or [`Timezone::named`], daily rotation happens at local midnight.
    /// Record timestamps and rotated file names stay UTC; see [`Timezone`] for daylight saving.
    pub fn timezone(mut self, timezone: Timezone) -> Self {
        self.file.timezone = Val::new(timezone, "timezone");
        self
    }

    /// How many rotated files to keep; older ones are deleted. Files the crate did not create are
    /// never deleted, even when their names share the prefix.
    pub fn keep(mut self, files: usize) -> Self {
        self.file.keep = files;
        self
    }

    /// Caps the total size of the rotated files (as compressed, with `gzip`): after each
    /// rotation the oldest are deleted until the rest fit, on top of the [`keep`](Builder::keep)
    /// count. The active file is never deleted, so a cap smaller than one file keeps none.
    /// Files still waiting for compression are counted once compressed. `None` (the default) is
    /// no cap.
    pub fn max_total_bytes(mut self, bytes: impl Into<Option<u64>>) -> Self {
        self.file.max_total_bytes = Val::new(bytes.into(), "max_total_bytes");
        self
    }

    /// Permission bits for files the crate creates (default `0o640`; `0o600` keeps the group
    /// out). The process umask still applies.
    pub fn file_mode(mut self, mode: u32) -> Self {
        self.file.mode = mode;
        self
    }

    /// Compress rotated files to `.gz` on a background thread (one file at a time).
    ///
    /// Requires the `gzip` cargo feature. Without it, `compress(true)` (or
    /// `LOGWARDEN_COMPRESS=true`) makes [`build`](Builder::build),
    /// [`subscriber`](Builder::subscriber) and [`init`](Builder::init) return an
    /// [`Error`](crate::Error) naming the setting, rather than silently keeping the rotated files
    /// uncompressed.
    pub fn compress(mut self, on: bool) -> Self {
        self.file.compress = Val::new(on, "compress");
        self
    }
}

/// The writer thread.
impl Builder {
    /// The writer's buffer cap in bytes, one budget for every logging thread's lines. Memory
    /// held by the writer is at most about twice this (the lines being written and the lines
    /// waiting), plus one line larger than the cap per thread when such lines come; an idle
    /// writer releases buffers above 64 KiB.
    pub fn buffer_bytes(mut self, bytes: usize) -> Self {
        self.writer.buffer_bytes = Val::new(bytes, "buffer_bytes");
        self
    }

    /// What happens when the buffer is full: [`Overflow::BLOCK`] (lossless, the default) or
    /// [`Overflow::DROP`] (counted, reported in a record).
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.writer.overflow = policy;
        self
    }

    /// How long dropping the [`Guard`](crate::Guard) (and [`Guard::flush`](crate::Guard::flush))
    /// may wait for the writer.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.writer.shutdown_timeout = timeout;
        self
    }
}

/// Alerts.
impl Builder {
    /// Turn the ERROR-threshold alerting off (or on again; it is on by default).
    pub fn alerts(mut self, on: bool) -> Self {
        self.alerts.on = on;
        self
    }

    /// Post alerts to this Slack incoming webhook (or a Slack-compatible one: Mattermost,
    /// Discord's `/slack` endpoint). The URL is a credential and is never printed. Without a
    /// webhook, alerts go to stderr and to the log file.
    ///
    /// Posting needs the `http` cargo feature (on by default); without it, `init()` refuses a
    /// webhook with an [`Error`](crate::Error) naming the setting.
    pub fn slack_webhook(mut self, url: impl Into<String>) -> Self {
        self.alerts.webhook = Some((Val::new(url.into(), "slack_webhook"), WebhookKind::Slack));
        self
    }

    /// Post alerts as a plain JSON object (see [`JsonNotifier`](crate::notify::JsonNotifier)) to
    /// this webhook.
    pub fn json_webhook(mut self, url: impl Into<String>) -> Self {
        self.alerts.webhook = Some((Val::new(url.into(), "json_webhook"), WebhookKind::Json));
        self
    }

    /// Post alerts through a notifier of your own; replaces any webhook URL given.
    pub fn notifier(mut self, notifier: impl Notifier) -> Self {
        self.alerts.notifier = Some(Box::new(notifier));
        self
    }

    /// Accept plain `http://` webhooks on non-loopback hosts (a proxy inside a trusted network).
    pub fn allow_http_webhook(mut self, allow: bool) -> Self {
        self.alerts.allow_http = allow;
        self
    }

    /// Post alerts to Alertmanager: `urls` is one base URL (`http://alertmanager:9093`) or
    /// several separated by commas, the instances of an HA cluster, each posted to at
    /// `/api/v2/alerts`. Works beside a Slack webhook or instead of it. The URLs may carry
    /// `user:password@` for basic auth and are never printed beyond scheme and host.
    ///
    /// Each incident is one alert labelled `alertname`, `service`, `env`, `host` and `pid`,
    /// re-posted every [`alertmanager_resend`](Builder::alertmanager_resend) while open, with an
    /// `endsAt` four intervals ahead, so that the alert of a process that died expires.
    pub fn alertmanager(mut self, urls: impl Into<String>) -> Self {
        self.alerts.alertmanager.urls = Some(Val::new(urls.into(), "alertmanager"));
        self
    }

    /// The `alertname` label of the alerts posted to Alertmanager (default `LogwardenErrors`).
    pub fn alertmanager_alertname(mut self, name: impl Into<String>) -> Self {
        self.alerts.alertmanager.alertname = Val::new(name.into(), "alertmanager_alertname");
        self
    }

    /// How often an open incident is posted to Alertmanager again (default 1 min, as
    /// Prometheus's `resend_delay`); a resolution is repeated at this pace until the last
    /// firing post would have expired.
    pub fn alertmanager_resend(mut self, interval: Duration) -> Self {
        self.alerts.alertmanager.resend = Val::new(interval, "alertmanager_resend");
        self
    }

    /// ERROR events within the window that open an incident (at least 1).
    pub fn alert_threshold(mut self, errors: usize) -> Self {
        self.alerts.threshold = Val::new(errors, "alert_threshold");
        self
    }

    /// The sliding window the threshold applies to.
    pub fn alert_window(mut self, window: Duration) -> Self {
        self.alerts.window = Val::new(window, "alert_window");
        self
    }

    /// Minimum time between two messages about the same open incident (reminders).
    pub fn alert_cooldown(mut self, cooldown: Duration) -> Self {
        self.alerts.cooldown = cooldown;
        self
    }

    /// A mention put in front of every alert, such as `<!here>` or `<@U024BE7LH>`. The only
    /// Slack markup that reaches the channel unescaped: it comes from configuration, not logs.
    pub fn mention(mut self, mention: impl Into<String>) -> Self {
        self.alerts.mention = Some(mention.into());
        self
    }

    /// Timeouts of one webhook request: connecting, and the whole call (defaults 3 s and 10 s).
    pub fn alert_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.alerts.delivery.connect_timeout = connect;
        self.alerts.delivery.request_timeout = request;
        self
    }

    /// Attempts per alert (default 5) and the first retry delay (default 250 ms, doubling with
    /// jitter, at most 30 s; a 429's `Retry-After` is honoured up to that cap).
    pub fn alert_retries(mut self, attempts: u32, first_delay: Duration) -> Self {
        self.alerts.delivery.max_attempts = attempts.max(1);
        self.alerts.delivery.backoff = first_delay;
        self
    }
}

/// Metrics.
impl Builder {
    /// Serve the stack's counters in the Prometheus text format on `GET /metrics` at `addr`
    /// (`127.0.0.1:9464`; a missing host, `:9464`, is loopback), from a background thread:
    /// events by level, lines written and dropped, write errors, alerts sent and failed,
    /// incidents opened and open. Port 0 lets the system choose
    /// ([`Guard::metrics_addr`](crate::Guard::metrics_addr) tells which). The same text is
    /// [`Guard::metrics`](crate::Guard::metrics), for a program that serves metrics itself.
    ///
    /// Needs the `metrics` cargo feature (on by default); without it, `init()` refuses the
    /// setting with an [`Error`](crate::Error) naming it.
    pub fn metrics_addr(mut self, addr: impl Into<String>) -> Self {
        self.metrics_addr = Some(Val::new(addr.into(), "metrics_addr"));
        self
    }
}

/// What a record holds.
impl Builder {
    /// Which field names and value shapes are written as `[REDACTED]`, in the file, on stdout
    /// and in alerts. `LOGWARDEN_REDACT_KEYS` and `LOGWARDEN_REDACT_VALUES` add keys and value
    /// patterns to this whatever the order of the calls: code cannot drop an operator's
    /// additions.
    pub fn redaction(mut self, redaction: Redaction) -> Self {
        self.record.redaction = redaction;
        self
    }

    /// Caps each value's JSON text, and the message, at `bytes` (default 32 KiB): a longer value
    /// is cut on a character boundary and ends with `…[truncated N bytes]`. At least 64 and at
    /// most half of [`max_line_bytes`](Builder::max_line_bytes).
    pub fn max_field_bytes(mut self, bytes: usize) -> Self {
        self.record.max_field_bytes = Some(Val::new(bytes, "max_field_bytes"));
        self
    }

    /// Caps each line at `bytes` (default 96 KiB, at least 1 KiB): fields that would not fit are
    /// left out and counted in a `logwarden.dropped_fields` key. The default stays under the line
    /// limits of the usual shippers (Vector 100 KiB, Loki and Cloud Logging 256 KB).
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.record.max_line_bytes = Val::new(bytes, "max_line_bytes");
        self
    }

    /// The record layout: logwarden's own (the default) or a log platform's, see [`Format`].
    /// [`rename`](Builder::rename) applies on top of it, whatever the order of the calls.
    pub fn format(mut self, format: Format) -> Self {
        self.record.layout.format = format;
        self
    }

    /// Writes one of the record's own keys under another name, e.g. `@timestamp` for
    /// [`Key::TIMESTAMP`] or `severity` for [`Key::LEVEL`].
    ///
    /// # Errors
    /// `init()`/`build()` fail, naming `rename(Key::…)`, when the name is empty or already
    /// used by another key of the record.
    pub fn rename(mut self, key: Key, name: impl Into<String>) -> Self {
        let renames = &mut self.record.layout.renames;
        renames.retain(|(k, _)| *k != key);
        renames.push((key, name.into()));
        self
    }

    /// Adds a fixed field to every record (after the record's own keys), such as the release
    /// or the region: `field("version", "1.4.2")`. A span or event field of the same name is
    /// written as `fields.<name>`, so the fixed one cannot be overwritten or duplicated.
    /// `LOGWARDEN_FIELDS` adds to these, and replaces a value of the same key.
    ///
    /// # Errors
    /// `init()`/`build()` fail, naming the setting, when the key is empty or is one of the
    /// record's own.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        let statics = &mut self.record.layout.statics;
        statics.retain(|(k, _)| *k != key);
        statics.push((key, value.into()));
        self
    }

    /// How the record's time is written: RFC 3339 text (the default) or milliseconds since
    /// the epoch as a number.
    pub fn timestamp(mut self, time: TimeFormat) -> Self {
        self.record.layout.time = time;
        self
    }
}

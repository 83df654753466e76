//! The builder: settings from code and the environment, validated, assembled into layers and a
//! [`Guard`].

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tracing_core::Subscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::Layered;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::Layer;

use crate::alert::{self, AlertLayer, Settings as AlertSettings, Tracker};
use crate::clock::{Clock, ManualClock};
use crate::diag::{report, Counters};
use crate::error::Error;
use crate::file::{FileOptions, OpenError, RollingFile, Rotation, Timezone};
use crate::guard::{Alerts, Guard};
use crate::notify::{self, DeliveryOptions, JsonNotifier, Notifier, SlackNotifier, Webhook};
use crate::parse;
use crate::record::{
    Format, JsonLayer, Key, Layout, TimeFormat, DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_LINE_BYTES,
    MIN_FIELD_BYTES, MIN_LINE_BYTES,
};
use crate::redact::{Redaction, ValuePatterns};
use crate::reload::{Directives, DispatchSlot, FilterHandle};
use crate::stack::{Stack, StackFilter};
use crate::stdout::pretty_layer;
use crate::writer::{self, IoSink, NonBlocking, Overflow, Sink, StdoutMode};

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

/// Which payload a webhook URL given as text gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WebhookKind {
    Slack,
    Json,
}

/// A setting's value and where it came from (an environment variable or a builder method), so an
/// error can name the thing the operator has to change.
#[derive(Clone, Debug)]
struct Val<T> {
    value: T,
    from: &'static str,
}

impl<T> Val<T> {
    fn new(value: T, from: &'static str) -> Self {
        Val { value, from }
    }
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
/// # Precedence
/// Later calls win. [`Builder::from_env`] applies the variables that are set at the moment it is
/// called, so settings made before it are defaults the environment can override, and settings
/// made after it are fixed by the code. `logwarden::init()` is `builder().from_env().init()`.
///
/// # Defaults
/// | setting | method | variable | default |
/// |---|---|---|---|
/// | filter | [`filter`](Builder::filter) | `RUST_LOG` | `info` |
/// | service | [`service`](Builder::service) | `LOGWARDEN_SERVICE`, `OTEL_SERVICE_NAME` | executable's file stem |
/// | env | [`env`](Builder::env) | `LOGWARDEN_ENV`, `APP_ENV` | `development` |
/// | directory | [`dir`](Builder::dir) | `LOGWARDEN_DIR` | `logs` |
/// | active file | [`file_name`](Builder::file_name) | `LOGWARDEN_FILE` | `<service>.log` |
/// | size trigger | [`max_bytes`](Builder::max_bytes) | `LOGWARDEN_MAX_BYTES` | 10 MiB |
/// | time trigger | [`rotation`](Builder::rotation) | `LOGWARDEN_ROTATION` | never |
/// | wall clock of the time trigger | [`timezone`](Builder::timezone) | `LOGWARDEN_TIMEZONE` (`utc`, `local`, or a name such as `Europe/Berlin`) | `utc` |
/// | rotated files kept | [`keep`](Builder::keep) | `LOGWARDEN_KEEP` | 5 |
/// | total size of rotated files | [`max_total_bytes`](Builder::max_total_bytes) | `LOGWARDEN_MAX_TOTAL_BYTES` | no cap |
/// | stdout copy | [`stdout`](Builder::stdout) | `LOGWARDEN_STDOUT` | off |
/// | buffer | [`buffer_bytes`](Builder::buffer_bytes) | `LOGWARDEN_BUFFER_BYTES` | 1 MiB |
/// | overflow | [`overflow`](Builder::overflow) | `LOGWARDEN_OVERFLOW` | block (lossless) |
/// | shutdown timeout | [`shutdown_timeout`](Builder::shutdown_timeout) | `LOGWARDEN_SHUTDOWN_TIMEOUT` | 5 s |
/// | file mode | [`file_mode`](Builder::file_mode) | `LOGWARDEN_FILE_MODE` | `0640` |
/// | gzip rotated files | [`compress`](Builder::compress) | `LOGWARDEN_COMPRESS` | off (feature `gzip`) |
/// | alerting on | [`alerts`](Builder::alerts) | `LOGWARDEN_ALERTS` | on |
/// | Slack webhook | [`slack_webhook`](Builder::slack_webhook) | `SLACK_WEBHOOK_URL` | none: alerts go to stderr and the log |
/// | ERRORs that open an incident | [`alert_threshold`](Builder::alert_threshold) | `LOGWARDEN_ALERT_THRESHOLD` | 5 |
/// | sliding window | [`alert_window`](Builder::alert_window) | `LOGWARDEN_ALERT_WINDOW` | 60 s |
/// | reminder cooldown | [`alert_cooldown`](Builder::alert_cooldown) | `LOGWARDEN_ALERT_COOLDOWN` | 5 min |
/// | mention in alerts | [`mention`](Builder::mention) | `LOGWARDEN_ALERT_MENTION` | none |
/// | redacted keys | [`redaction`](Builder::redaction) | `LOGWARDEN_REDACT_KEYS` (added to the defaults) | [`Redaction::DEFAULT_KEYS`] |
/// | redacted value shapes | [`redaction`](Builder::redaction) | `LOGWARDEN_REDACT_VALUES` (`email,card,bearer,jwt,aws_key`, `all`, `none`; added to the code's) | none |
/// | cap per value | [`max_field_bytes`](Builder::max_field_bytes) | `LOGWARDEN_MAX_FIELD_BYTES` | 32 KiB |
/// | cap per line | [`max_line_bytes`](Builder::max_line_bytes) | `LOGWARDEN_MAX_LINE_BYTES` | 96 KiB |
/// | panic hook | [`panic_hook`](Builder::panic_hook) | `LOGWARDEN_PANIC_HOOK` | on with `init()`, off with `build()` |
/// | record layout | [`format`](Builder::format) | `LOGWARDEN_FORMAT` (`logwarden`, `ecs`, `gcp`, `datadog`) | `logwarden` |
/// | key names | [`rename`](Builder::rename) | – | the format's |
/// | fixed fields | [`field`](Builder::field) | `LOGWARDEN_FIELDS` (`version=1.4.2,region=eu-west-1`; added to the code's, same key replaced) | none |
/// | time format | [`timestamp`](Builder::timestamp) | `LOGWARDEN_TIMESTAMP` (`rfc3339`, `unix_ms`) | `rfc3339` |
#[must_use = "a builder does nothing until `.init()` or `.build()`"]
pub struct Builder {
    filter: Val<String>,
    service: Option<Val<String>>,
    env: Option<String>,
    dir: Val<PathBuf>,
    file_name: Option<Val<String>>,
    max_bytes: Val<Option<u64>>,
    rotation: Rotation,
    timezone: Val<Timezone>,
    keep: usize,
    max_total_bytes: Val<Option<u64>>,
    stdout: StdoutMode,
    buffer_bytes: Val<usize>,
    overflow: Overflow,
    shutdown_timeout: Duration,
    file_mode: u32,
    compress: Val<bool>,
    clock: Option<ManualClock>,
    writer: Option<Box<dyn io::Write + Send>>,
    capture_log: bool,
    alerts: bool,
    webhook: Option<(Val<String>, WebhookKind)>,
    notifier: Option<Box<dyn Notifier>>,
    allow_http: bool,
    alert_threshold: Val<usize>,
    alert_window: Val<Duration>,
    alert_cooldown: Duration,
    mention: Option<String>,
    delivery: DeliveryOptions,
    redaction: Redaction,
    /// From `LOGWARDEN_REDACT_KEYS` / `_VALUES`: added to `redaction` at the end, whatever the
    /// order of the calls, so an operator's additions are never dropped by code.
    env_redact_keys: Vec<String>,
    env_redact_values: ValuePatterns,
    /// Unset: the default, or half the line cap if that is smaller.
    max_field_bytes: Option<Val<usize>>,
    max_line_bytes: Val<usize>,
    panic_hook: Option<bool>,
    /// The record's keys and fixed fields; the fixed fields from code only.
    layout: Layout,
    /// From `LOGWARDEN_FIELDS`: merged into `layout`'s at the end (same key: this value).
    env_fields: Vec<(String, String)>,
    /// The first environment variable that failed to parse; returned by `init()`/`build()`.
    env_error: Option<Error>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            filter: Val::new(DEFAULT_FILTER.to_owned(), "RUST_LOG"),
            service: None,
            env: None,
            dir: Val::new(PathBuf::from(DEFAULT_DIR), "LOGWARDEN_DIR"),
            file_name: None,
            max_bytes: Val::new(Some(DEFAULT_MAX_BYTES), "LOGWARDEN_MAX_BYTES"),
            rotation: Rotation::NEVER,
            timezone: Val::new(Timezone::UTC, "LOGWARDEN_TIMEZONE"),
            keep: DEFAULT_KEEP,
            max_total_bytes: Val::new(None, "LOGWARDEN_MAX_TOTAL_BYTES"),
            stdout: StdoutMode::OFF,
            buffer_bytes: Val::new(DEFAULT_BUFFER_BYTES, "LOGWARDEN_BUFFER_BYTES"),
            overflow: Overflow::BLOCK,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            file_mode: DEFAULT_FILE_MODE,
            compress: Val::new(false, "LOGWARDEN_COMPRESS"),
            clock: None,
            writer: None,
            capture_log: true,
            alerts: true,
            webhook: None,
            notifier: None,
            allow_http: false,
            alert_threshold: Val::new(DEFAULT_ALERT_THRESHOLD, "LOGWARDEN_ALERT_THRESHOLD"),
            alert_window: Val::new(DEFAULT_ALERT_WINDOW, "LOGWARDEN_ALERT_WINDOW"),
            alert_cooldown: DEFAULT_ALERT_COOLDOWN,
            mention: None,
            delivery: DeliveryOptions::default(),
            redaction: Redaction::default(),
            env_redact_keys: Vec::new(),
            env_redact_values: ValuePatterns::NONE,
            max_field_bytes: None,
            max_line_bytes: Val::new(DEFAULT_MAX_LINE_BYTES, "LOGWARDEN_MAX_LINE_BYTES"),
            panic_hook: None,
            layout: Layout::default(),
            env_fields: Vec::new(),
            env_error: None,
        }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("filter", &self.filter.value)
            .field("service", &self.service.as_ref().map(|v| &v.value))
            .field("env", &self.env)
            .field("dir", &self.dir.value)
            .field("file_name", &self.file_name.as_ref().map(|v| &v.value))
            .field("max_bytes", &self.max_bytes.value)
            .field("rotation", &self.rotation)
            .field("timezone", &self.timezone.value)
            .field("keep", &self.keep)
            .field("max_total_bytes", &self.max_total_bytes.value)
            .field("stdout", &self.stdout)
            .field("buffer_bytes", &self.buffer_bytes.value)
            .field("overflow", &self.overflow)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("file_mode", &format_args!("{:04o}", self.file_mode))
            .field("compress", &self.compress.value)
            .field("custom_writer", &self.writer.is_some())
            .field("alerts", &self.alerts)
            // The webhook is a credential: never more than scheme and host.
            .field(
                "webhook",
                &self
                    .webhook
                    .as_ref()
                    .map(|(v, _)| match Webhook::parse(&v.value, true) {
                        Ok(w) => w.to_string(),
                        Err(e) => e.shown,
                    }),
            )
            .field("notifier", &self.notifier)
            .field("alert_threshold", &self.alert_threshold.value)
            .field("alert_window", &self.alert_window.value)
            .field("alert_cooldown", &self.alert_cooldown)
            .field("mention", &self.mention)
            .field("redaction", &self.redaction)
            .field(
                "max_field_bytes",
                &self.max_field_bytes.as_ref().map(|v| v.value),
            )
            .field("max_line_bytes", &self.max_line_bytes.value)
            .field("panic_hook", &self.panic_hook)
            .field("layout", &self.layout)
            .field("env_fields", &self.env_fields)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// `EnvFilter` directives such as `info,my_crate=debug,hyper=warn`.
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Val::new(directives.into(), "filter");
        self
    }

    /// The `service` field of every record, and the default file name (`<service>.log`).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(Val::new(service.into(), "service"));
        self
    }

    /// The `env` field of every record (`production`, `staging`…).
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    /// The log directory; created (with parents) if missing.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Val::new(dir.into(), "dir");
        self
    }

    /// The active file's name inside the directory (a plain name, no path separators).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(Val::new(name.into(), "file_name"));
        self
    }

    /// The size trigger: the file is rotated before a write would make it larger than this.
    /// `None` turns size rotation off. A single line larger than the limit goes alone in a file.
    pub fn max_bytes(mut self, bytes: impl Into<Option<u64>>) -> Self {
        self.max_bytes = Val::new(bytes.into(), "max_bytes");
        self
    }

    /// The time trigger, combinable with the size trigger, on the wall clock of
    /// [`timezone`](Builder::timezone) (UTC by default).
    pub fn rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// The wall clock the time trigger follows (default [`Timezone::UTC`]): with
    /// [`Timezone::LOCAL`] or [`Timezone::named`], daily rotation happens at local midnight.
    /// Record timestamps and rotated file names stay UTC; see [`Timezone`] for daylight saving.
    pub fn timezone(mut self, timezone: Timezone) -> Self {
        self.timezone = Val::new(timezone, "timezone");
        self
    }

    /// How many rotated files to keep; older ones are deleted. Files the crate did not create are
    /// never deleted, even when their names share the prefix.
    pub fn keep(mut self, files: usize) -> Self {
        self.keep = files;
        self
    }

    /// Caps the total size of the rotated files (as compressed, with `gzip`): after each
    /// rotation the oldest are deleted until the rest fit, on top of the [`keep`](Builder::keep)
    /// count. The active file is never deleted, so a cap smaller than one file keeps none.
    /// Files still waiting for compression are counted once compressed. `None` (the default) is
    /// no cap.
    pub fn max_total_bytes(mut self, bytes: impl Into<Option<u64>>) -> Self {
        self.max_total_bytes = Val::new(bytes.into(), "max_total_bytes");
        self
    }

    /// Also write records to stdout.
    pub fn stdout(mut self, mode: StdoutMode) -> Self {
        self.stdout = mode;
        self
    }

    /// The writer's buffer cap in bytes. Memory held by the writer is at most about twice this
    /// (the batch being written and the one filling up) plus the largest single line; an idle
    /// writer releases buffers above 64 KiB.
    pub fn buffer_bytes(mut self, bytes: usize) -> Self {
        self.buffer_bytes = Val::new(bytes, "buffer_bytes");
        self
    }

    /// What happens when the buffer is full: [`Overflow::BLOCK`] (lossless, the default) or
    /// [`Overflow::DROP`] (counted, reported in a record).
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.overflow = policy;
        self
    }

    /// How long dropping the [`Guard`] (and [`Guard::flush`]) may wait for the writer.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Permission bits for files the crate creates (default `0o640`; `0o600` keeps the group
    /// out). The process umask still applies.
    pub fn file_mode(mut self, mode: u32) -> Self {
        self.file_mode = mode;
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
        self.compress = Val::new(on, "compress");
        self
    }

    /// Capture events of the `log` crate too (default on with `init()`).
    pub fn capture_log(mut self, on: bool) -> Self {
        self.capture_log = on;
        self
    }

    /// Read time from a [`ManualClock`] instead of the system clock: record timestamps, time
    /// rotation and rotated file names all follow it. For tests and simulations.
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Write records to `writer` (a socket, a pipe) instead of the rotating file. The file
    /// settings are then ignored; buffering, overflow and shutdown work the same.
    pub fn writer(mut self, writer: impl io::Write + Send + 'static) -> Self {
        self.writer = Some(Box::new(writer));
        self
    }

    /// Turn the ERROR-threshold alerting off (or on again; it is on by default).
    pub fn alerts(mut self, on: bool) -> Self {
        self.alerts = on;
        self
    }

    /// Post alerts to this Slack incoming webhook (or a Slack-compatible one: Mattermost,
    /// Discord's `/slack` endpoint). The URL is a credential and is never printed. Without a
    /// webhook, alerts go to stderr and to the log file.
    pub fn slack_webhook(mut self, url: impl Into<String>) -> Self {
        self.webhook = Some((Val::new(url.into(), "slack_webhook"), WebhookKind::Slack));
        self
    }

    /// Post alerts as a plain JSON object (see [`JsonNotifier`]) to this webhook.
    pub fn json_webhook(mut self, url: impl Into<String>) -> Self {
        self.webhook = Some((Val::new(url.into(), "json_webhook"), WebhookKind::Json));
        self
    }

    /// Post alerts through a notifier of your own; replaces any webhook URL given.
    pub fn notifier(mut self, notifier: impl Notifier) -> Self {
        self.notifier = Some(Box::new(notifier));
        self
    }

    /// Accept plain `http://` webhooks on non-loopback hosts (a proxy inside a trusted network).
    pub fn allow_http_webhook(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// ERROR events within the window that open an incident (at least 1).
    pub fn alert_threshold(mut self, errors: usize) -> Self {
        self.alert_threshold = Val::new(errors, "alert_threshold");
        self
    }

    /// The sliding window the threshold applies to.
    pub fn alert_window(mut self, window: Duration) -> Self {
        self.alert_window = Val::new(window, "alert_window");
        self
    }

    /// Minimum time between two messages about the same open incident (reminders).
    pub fn alert_cooldown(mut self, cooldown: Duration) -> Self {
        self.alert_cooldown = cooldown;
        self
    }

    /// A mention put in front of every alert, such as `<!here>` or `<@U024BE7LH>`. The only
    /// Slack markup that reaches the channel unescaped: it comes from configuration, not logs.
    pub fn mention(mut self, mention: impl Into<String>) -> Self {
        self.mention = Some(mention.into());
        self
    }

    /// Timeouts of one webhook request: connecting, and the whole call (defaults 3 s and 10 s).
    pub fn alert_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.delivery.connect_timeout = connect;
        self.delivery.request_timeout = request;
        self
    }

    /// Attempts per alert (default 5) and the first retry delay (default 250 ms, doubling with
    /// jitter, at most 30 s; a 429's `Retry-After` is honoured up to that cap).
    pub fn alert_retries(mut self, attempts: u32, first_delay: Duration) -> Self {
        self.delivery.max_attempts = attempts.max(1);
        self.delivery.backoff = first_delay;
        self
    }

    /// Which field names and value shapes are written as `[REDACTED]`, in the file, on stdout
    /// and in alerts. `LOGWARDEN_REDACT_KEYS` and `LOGWARDEN_REDACT_VALUES` add keys and value
    /// patterns to this whatever the order of the calls: code cannot drop an operator's
    /// additions.
    pub fn redaction(mut self, redaction: Redaction) -> Self {
        self.redaction = redaction;
        self
    }

    /// Caps each value's JSON text, and the message, at `bytes` (default 32 KiB): a longer value
    /// is cut on a character boundary and ends with `…[truncated N bytes]`. At least 64 and at
    /// most half of [`max_line_bytes`](Builder::max_line_bytes).
    pub fn max_field_bytes(mut self, bytes: usize) -> Self {
        self.max_field_bytes = Some(Val::new(bytes, "max_field_bytes"));
        self
    }

    /// Caps each line at `bytes` (default 96 KiB, at least 1 KiB): fields that would not fit are
    /// left out and counted in a `logwarden.dropped_fields` key. The default stays under the line
    /// limits of the usual shippers (Vector 100 KiB, Loki and Cloud Logging 256 KB).
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = Val::new(bytes, "max_line_bytes");
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

    /// The record layout: logwarden's own (the default) or a log platform's, see [`Format`].
    /// [`rename`](Builder::rename) applies on top of it, whatever the order of the calls.
    pub fn format(mut self, format: Format) -> Self {
        self.layout.format = format;
        self
    }

    /// Writes one of the record's own keys under another name, e.g. `@timestamp` for
    /// [`Key::TIMESTAMP`] or `severity` for [`Key::LEVEL`].
    ///
    /// # Errors
    /// `init()`/`build()` fail, naming `rename(Key::…)`, when the name is empty or already
    /// used by another key of the record.
    pub fn rename(mut self, key: Key, name: impl Into<String>) -> Self {
        self.layout.renames.retain(|(k, _)| *k != key);
        self.layout.renames.push((key, name.into()));
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
        self.layout.statics.retain(|(k, _)| *k != key);
        self.layout.statics.push((key, value.into()));
        self
    }

    /// How the record's time is written: RFC 3339 text (the default) or milliseconds since
    /// the epoch as a number.
    pub fn timestamp(mut self, time: TimeFormat) -> Self {
        self.layout.time = time;
        self
    }

    /// Applies the process environment (see the table on [`Builder`]).
    pub fn from_env(self) -> Self {
        self.from_vars(std::env::vars_os())
    }

    /// Applies variables from `vars` as if they were the environment: for configuration read
    /// from elsewhere (a file, a secret store), and for tests.
    ///
    /// Unset and empty variables leave the setting alone. A variable that does not parse is
    /// remembered and returned as the error of [`Builder::init`]/[`Builder::build`].
    pub fn from_vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let vars: HashMap<String, OsString> = vars
            .into_iter()
            .filter_map(|(k, v)| {
                let k = k.as_ref().to_str()?;
                (k == "RUST_LOG"
                    || k.starts_with("LOGWARDEN_")
                    || k == "OTEL_SERVICE_NAME"
                    || k == "APP_ENV"
                    || k == "SLACK_WEBHOOK_URL")
                    .then(|| (k.to_owned(), v.as_ref().to_owned()))
            })
            .collect();
        if let Err(e) = self.apply_vars(&vars) {
            self.env_error.get_or_insert(e);
        }
        self
    }

    fn apply_vars(&mut self, vars: &HashMap<String, OsString>) -> Result<(), Error> {
        let get = |name: &'static str| -> Result<Option<String>, Error> {
            match vars.get(name) {
                None => Ok(None),
                Some(v) => match v.to_str() {
                    Some(s) if s.trim().is_empty() => Ok(None),
                    Some(s) => Ok(Some(s.to_owned())),
                    None => Err(Error::invalid(
                        name,
                        &v.to_string_lossy(),
                        "is not valid UTF-8",
                    )),
                },
            }
        };
        fn parsed<T>(
            name: &'static str,
            value: Option<String>,
            parse: impl Fn(&str) -> Option<T>,
            expected: &str,
        ) -> Result<Option<T>, Error> {
            match value {
                None => Ok(None),
                Some(v) => parse(&v)
                    .map(Some)
                    .ok_or_else(|| Error::invalid(name, &v, expected)),
            }
        }

        if let Some(v) = get("RUST_LOG")? {
            self.filter = Val::new(v, "RUST_LOG");
        }
        if let Some(v) = get("LOGWARDEN_SERVICE")? {
            self.service = Some(Val::new(v, "LOGWARDEN_SERVICE"));
        } else if let Some(v) = get("OTEL_SERVICE_NAME")? {
            self.service = Some(Val::new(v, "OTEL_SERVICE_NAME"));
        }
        if let Some(v) = get("LOGWARDEN_ENV")?.or(get("APP_ENV")?) {
            self.env = Some(v);
        }
        if let Some(v) = get("LOGWARDEN_DIR")? {
            self.dir = Val::new(PathBuf::from(v), "LOGWARDEN_DIR");
        }
        if let Some(v) = get("LOGWARDEN_FILE")? {
            self.file_name = Some(Val::new(v, "LOGWARDEN_FILE"));
        }
        let byte_limit = |name: &'static str, example: &str| {
            parsed(
                name,
                get(name)?,
                |s| match s.trim().to_ascii_lowercase().as_str() {
                    "off" | "none" | "unlimited" => Some(None),
                    _ => parse::byte_size(s).filter(|&n| n > 0).map(Some),
                },
                &format!("expected a byte count such as {example} (or `off` for no size limit)"),
            )
            .map(|v| v.map(|v| Val::new(v, name)))
        };
        if let Some(v) = byte_limit("LOGWARDEN_MAX_BYTES", "10485760 or 10MiB")? {
            self.max_bytes = v;
        }
        if let Some(v) = byte_limit("LOGWARDEN_MAX_TOTAL_BYTES", "1073741824 or 1GiB")? {
            self.max_total_bytes = v;
        }
        if let Some(v) = parsed(
            "LOGWARDEN_ROTATION",
            get("LOGWARDEN_ROTATION")?,
            Rotation::parse,
            "expected one of never, minutely, hourly, daily",
        )? {
            self.rotation = v;
        }
        let tz = "LOGWARDEN_TIMEZONE";
        if let Some(v) = get(tz)? {
            let timezone = Timezone::parse(&v);
            // Checked now, so that a later `timezone()` in code cannot hide a bad variable.
            timezone
                .resolve()
                .map_err(|why| Error::invalid(tz, &v, why))?;
            self.timezone = Val::new(timezone, tz);
        }
        if let Some(v) = parsed(
            "LOGWARDEN_KEEP",
            get("LOGWARDEN_KEEP")?,
            |s| s.trim().parse::<usize>().ok(),
            "expected a number of rotated files to keep, such as 5",
        )? {
            self.keep = v;
        }
        if let Some(v) = parsed(
            "LOGWARDEN_STDOUT",
            get("LOGWARDEN_STDOUT")?,
            StdoutMode::parse,
            "expected one of json, pretty, off",
        )? {
            self.stdout = v;
        }
        let buf = "LOGWARDEN_BUFFER_BYTES";
        if let Some(v) = parsed(
            buf,
            get(buf)?,
            |s| {
                parse::byte_size(s)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
            },
            "expected a byte count such as 1048576 or 1MiB",
        )? {
            self.buffer_bytes = Val::new(v, buf);
        }
        if let Some(v) = parsed(
            "LOGWARDEN_OVERFLOW",
            get("LOGWARDEN_OVERFLOW")?,
            |s| match s.trim().to_ascii_lowercase().as_str() {
                "block" => Some(Overflow::BLOCK),
                "drop" => Some(Overflow::DROP),
                _ => None,
            },
            "expected block (lossless) or drop",
        )? {
            self.overflow = v;
        }
        if let Some(v) = parsed(
            "LOGWARDEN_SHUTDOWN_TIMEOUT",
            get("LOGWARDEN_SHUTDOWN_TIMEOUT")?,
            parse::duration,
            "expected a duration such as 5s, 500ms or 1m",
        )? {
            self.shutdown_timeout = v;
        }
        if let Some(v) = parsed(
            "LOGWARDEN_FILE_MODE",
            get("LOGWARDEN_FILE_MODE")?,
            parse::file_mode,
            "expected octal permission bits such as 0640 or 0600",
        )? {
            self.file_mode = v;
        }
        let gz = "LOGWARDEN_COMPRESS";
        if let Some(v) = parsed(gz, get(gz)?, parse::boolean, "expected true or false")? {
            self.compress = Val::new(v, gz);
        }
        if let Some(v) = parsed(
            "LOGWARDEN_ALERTS",
            get("LOGWARDEN_ALERTS")?,
            parse::boolean,
            "expected on or off",
        )? {
            self.alerts = v;
        }
        if let Some(v) = get("SLACK_WEBHOOK_URL")? {
            // Validated at init, so that the error names the variable and shows scheme and host only.
            self.webhook = Some((Val::new(v, "SLACK_WEBHOOK_URL"), WebhookKind::Slack));
        }
        let threshold = "LOGWARDEN_ALERT_THRESHOLD";
        if let Some(v) = parsed(
            threshold,
            get(threshold)?,
            |s| s.trim().parse::<usize>().ok().filter(|&n| n >= 1),
            "expected a number of ERROR events, at least 1",
        )? {
            self.alert_threshold = Val::new(v, threshold);
        }
        let window = "LOGWARDEN_ALERT_WINDOW";
        if let Some(v) = parsed(
            window,
            get(window)?,
            |s| parse::duration(s).filter(|d| !d.is_zero()),
            "expected a duration such as 60, 60s or 5m",
        )? {
            self.alert_window = Val::new(v, window);
        }
        if let Some(v) = parsed(
            "LOGWARDEN_ALERT_COOLDOWN",
            get("LOGWARDEN_ALERT_COOLDOWN")?,
            parse::duration,
            "expected a duration such as 300, 5m or 1h",
        )? {
            self.alert_cooldown = v;
        }
        if let Some(v) = get("LOGWARDEN_ALERT_MENTION")? {
            self.mention = Some(v);
        }
        if let Some(v) = get("LOGWARDEN_REDACT_KEYS")? {
            self.env_redact_keys = v.split(',').map(str::to_owned).collect();
        }
        if let Some(v) = parsed(
            "LOGWARDEN_REDACT_VALUES",
            get("LOGWARDEN_REDACT_VALUES")?,
            ValuePatterns::parse,
            "expected a comma-separated list of email, card, bearer, jwt, aws_key (or all, none)",
        )? {
            self.env_redact_values = v;
        }
        let bytes = |name: &'static str| {
            parsed(
                name,
                get(name)?,
                |s| parse::byte_size(s).and_then(|n| usize::try_from(n).ok()),
                "expected a byte count such as 32768 or 32KiB",
            )
            .map(|v| v.map(|v| Val::new(v, name)))
        };
        if let Some(v) = bytes("LOGWARDEN_MAX_FIELD_BYTES")? {
            self.max_field_bytes = Some(v);
        }
        if let Some(v) = bytes("LOGWARDEN_MAX_LINE_BYTES")? {
            self.max_line_bytes = v;
        }
        if let Some(v) = parsed(
            "LOGWARDEN_PANIC_HOOK",
            get("LOGWARDEN_PANIC_HOOK")?,
            parse::boolean,
            "expected on or off",
        )? {
            self.panic_hook = Some(v);
        }
        if let Some(v) = parsed(
            "LOGWARDEN_FORMAT",
            get("LOGWARDEN_FORMAT")?,
            Format::parse,
            "expected logwarden, ecs, gcp or datadog",
        )? {
            self.layout.format = v;
        }
        if let Some(v) = parsed(
            "LOGWARDEN_TIMESTAMP",
            get("LOGWARDEN_TIMESTAMP")?,
            TimeFormat::parse,
            "expected rfc3339 or unix_ms",
        )? {
            self.layout.time = v;
        }
        if let Some(v) = parsed(
            "LOGWARDEN_FIELDS",
            get("LOGWARDEN_FIELDS")?,
            parse::key_values,
            "expected key=value pairs separated by commas, each key once, such as \
             version=1.4.2,region=eu-west-1",
        )? {
            self.env_fields = v;
        }
        Ok(())
    }

    /// Validates the settings, opens the log and starts the writer threads, without installing
    /// anything globally.
    ///
    /// With the panic hook on, the output filter lets panic records through unless the
    /// directives say otherwise about the `panic` target.
    /// The record layout with `LOGWARDEN_FIELDS` merged in, checked: an error names the
    /// setting that made it unwritable.
    fn layout(&mut self) -> Result<Layout, Error> {
        let mut layout = std::mem::take(&mut self.layout);
        let env_fields = std::mem::take(&mut self.env_fields);
        let from_env = |key: &str| env_fields.iter().any(|(k, _)| k == key);
        for (key, value) in &env_fields {
            layout.statics.retain(|(k, _)| k != key);
            layout.statics.push((key.clone(), value.clone()));
        }
        layout.check().map_err(|(setting, value, reason)| {
            let setting = match setting.as_str() {
                "field" if from_env(&value) => "LOGWARDEN_FIELDS".to_owned(),
                "field" => format!("field({value:?})"),
                _ => setting,
            };
            Error::invalid(&setting, &value, reason)
        })?;
        Ok(layout)
    }

    /// The service name and where it came from (its errors, and those of the default file
    /// name derived from it, name that origin).
    fn take_service(&mut self) -> Result<(String, &'static str), Error> {
        match self.service.take() {
            Some(v) if v.value.trim().is_empty() => {
                Err(Error::invalid(v.from, &v.value, "must not be empty"))
            }
            Some(v) => Ok((v.value, v.from)),
            None => Ok((crate::host::executable_name().to_owned(), "LOGWARDEN_FILE")),
        }
    }

    fn take_env(&mut self) -> String {
        self.env.take().unwrap_or_else(|| "development".to_owned())
    }

    /// The alert rule, the notifier and the delivery options, validated. The one place both the
    /// in-process layer ([`Builder::assemble`]) and `logwarden watch` get them from, so both read
    /// the same variables and refuse the same values with the same messages (a webhook URL is
    /// never shown beyond its scheme and host).
    fn take_alerting(&mut self, service: String, env: String) -> Result<Alerting, Error> {
        if self.alert_threshold.value == 0 {
            return Err(Error::invalid(
                self.alert_threshold.from,
                "0",
                "must be at least 1",
            ));
        }
        if self.alert_window.value.is_zero() {
            return Err(Error::invalid(
                self.alert_window.from,
                "0s",
                "must be longer than zero",
            ));
        }
        let custom = self.notifier.is_some();
        let notifier: Option<Box<dyn Notifier>> = match (self.notifier.take(), &self.webhook) {
            (Some(n), _) => Some(n),
            (None, Some((url, kind))) => {
                let webhook = Webhook::parse(&url.value, self.allow_http)
                    .map_err(|e| e.into_error(url.from))?;
                Some(match kind {
                    WebhookKind::Slack => Box::new(SlackNotifier::new(webhook)),
                    WebhookKind::Json => Box::new(JsonNotifier::new(webhook)),
                })
            }
            (None, None) => None,
        };
        if notifier.is_some() && !cfg!(feature = "http") {
            // Named as the operator wrote it; a URL is shown as scheme and host at most.
            let (setting, shown) = match &self.webhook {
                Some((url, _)) if !custom => (
                    url.from,
                    Webhook::parse(&url.value, true).map_or_else(|e| e.shown, |w| w.to_string()),
                ),
                _ => ("notifier", "a custom notifier".to_owned()),
            };
            return Err(Error::invalid(
                setting,
                &shown,
                "posting alerts needs logwarden's `http` cargo feature (on by default); \
                 without it, alerts go to stderr and the log file",
            ));
        }
        Ok(Alerting {
            settings: AlertSettings {
                threshold: self.alert_threshold.value,
                window: self.alert_window.value,
                cooldown: self.alert_cooldown,
                service,
                env,
                host: crate::host::host_name().to_owned(),
                mention: self.mention.take(),
            },
            notifier,
            delivery: std::mem::take(&mut self.delivery),
        })
    }

    /// `logwarden watch`'s configuration: the alerting of [`Builder::build`] without the log
    /// file. Every variable is read and checked as `init()` does (a malformed one is an error
    /// naming it); `LOGWARDEN_ALERTS` is not consulted, since alerting is what `watch` is for.
    #[cfg(feature = "cli")]
    pub(crate) fn into_alerting(mut self) -> Result<Alerting, Error> {
        if let Some(e) = self.env_error.take() {
            return Err(e);
        }
        let (service, _) = self.take_service()?;
        let env = self.take_env();
        self.take_alerting(service, env)
    }

    fn assemble(mut self, panic_hook: bool) -> Result<Assembled, Error> {
        if let Some(e) = self.env_error {
            return Err(e);
        }
        let layout = self.layout()?;
        let filter = crate::reload::parse(&self.filter.value, panic_hook)
            .map_err(|reason| Error::invalid(self.filter.from, &self.filter.value, reason))?;
        let directives: Directives = Arc::new(RwLock::new(filter));
        let dispatch = DispatchSlot::default();
        let filter_handle = FilterHandle::new(
            Directives::clone(&directives),
            self.filter.value.clone(),
            panic_hook,
            dispatch.clone(),
        );
        // The default file name derives from the service, so its errors name the service's origin.
        let (service, service_from) = self.take_service()?;
        let env = self.take_env();
        let alerting = self.take_alerting(service.clone(), env.clone())?;
        if self.max_bytes.value == Some(0) {
            return Err(Error::invalid(
                self.max_bytes.from,
                "0",
                "must be at least 1 byte (or unset for no size limit)",
            ));
        }
        if self.max_total_bytes.value == Some(0) {
            return Err(Error::invalid(
                self.max_total_bytes.from,
                "0",
                "must be at least 1 byte (or unset for no cap; keep(0) keeps no rotated files)",
            ));
        }
        let zone =
            self.timezone.value.resolve().map_err(|why| {
                Error::invalid(self.timezone.from, self.timezone.value.name(), why)
            })?;
        if self.buffer_bytes.value == 0 {
            return Err(Error::invalid(
                self.buffer_bytes.from,
                "0",
                "must be at least 1 byte",
            ));
        }
        if self.file_mode > 0o777 {
            return Err(Error::invalid(
                "file_mode",
                &format!("{:o}", self.file_mode),
                "expected permission bits such as 0o640",
            ));
        }
        let line = &self.max_line_bytes;
        if line.value < MIN_LINE_BYTES {
            return Err(Error::invalid(
                line.from,
                &line.value.to_string(),
                format!("must be at least {MIN_LINE_BYTES} bytes"),
            ));
        }
        let field = self.max_field_bytes.clone().unwrap_or_else(|| {
            let default = DEFAULT_MAX_FIELD_BYTES.min(line.value / 2);
            Val::new(default, "LOGWARDEN_MAX_FIELD_BYTES")
        });
        if field.value < MIN_FIELD_BYTES || field.value > line.value / 2 {
            return Err(Error::invalid(
                field.from,
                &field.value.to_string(),
                format!(
                    "must be between {MIN_FIELD_BYTES} bytes and half the line cap ({} bytes)",
                    line.value / 2
                ),
            ));
        }
        if self.compress.value && !cfg!(feature = "gzip") {
            return Err(Error::invalid(
                self.compress.from,
                "true",
                "compression needs logwarden's `gzip` cargo feature",
            ));
        }
        let file_name = match self.file_name {
            Some(v) => {
                validate_file_name(&v)?;
                v
            }
            None => {
                let v = Val::new(format!("{service}.log"), service_from);
                validate_file_name(&v)?;
                v
            }
        };

        let clock = self.clock.map_or(Clock::System, Clock::Manual);
        let counters = Arc::new(Counters::default());
        let layer = JsonLayer::new(())
            .service(service)
            .env(env)
            .clock(clock.clone())
            .redaction({
                let r = self.redaction.keys(&self.env_redact_keys);
                let values = r.value_patterns() | self.env_redact_values;
                r.values(values)
            })
            .max_line_bytes(self.max_line_bytes.value)
            .max_field_bytes(field.value)
            .layout(layout);
        let notice = layer.notice();

        let (sink, path): (Box<dyn Sink>, Option<PathBuf>) = match self.writer {
            Some(w) => (Box::new(IoSink::new(w, "the configured writer")), None),
            None => {
                let dir_display = self.dir.value.display().to_string();
                let opts = FileOptions {
                    dir: self.dir.value.clone(),
                    name: file_name.value.clone(),
                    max_bytes: self.max_bytes.value,
                    rotation: self.rotation,
                    zone,
                    keep: self.keep,
                    max_total_bytes: self.max_total_bytes.value,
                    mode: self.file_mode,
                    gzip: self.compress.value,
                    clock: clock.clone(),
                };
                let file = RollingFile::open(opts, Arc::clone(&counters)).map_err(|e| match e {
                    OpenError::Dir(io) => Error::io(
                        self.dir.from,
                        &dir_display,
                        "cannot use the log directory",
                        io,
                    ),
                    OpenError::File(io) => {
                        let path = self.dir.value.join(&file_name.value);
                        if path.symlink_metadata().is_ok() {
                            Error::io(
                                file_name.from,
                                &path.display().to_string(),
                                "cannot open the log file",
                                io,
                            )
                        } else {
                            Error::io(
                                self.dir.from,
                                &dir_display,
                                "cannot create the log file in this directory",
                                io,
                            )
                        }
                    }
                })?;
                let path = file.path().to_path_buf();
                (Box::new(file), Some(path))
            }
        };

        let spawn = |sink: Box<dyn Sink>, name: &str| {
            writer::spawn(
                sink,
                self.buffer_bytes.value,
                self.overflow,
                Arc::clone(&counters),
                Some(Box::new(notice.clone())),
                name,
            )
            .map_err(|e| Error::io("writer thread", name, "cannot start the writer thread", e))
        };
        let mut workers = vec![spawn(sink, "logwarden-writer")?];
        let mut records = NonBlocking::new(&workers[0]);
        let mut pretty = None;
        if self.stdout.is_json() || self.stdout.is_pretty() {
            let stdout = spawn(
                Box::new(IoSink::new(stdout_writer(), "stdout")),
                "logwarden-stdout",
            )?;
            if self.stdout.is_json() {
                records = records.with_tee(&stdout);
            } else {
                pretty = Some(NonBlocking::new(&stdout));
            }
            workers.push(stdout);
        }
        let (alert, alerts) = if self.alerts {
            let tracker = Tracker::new(alerting.settings, clock);
            let (outbox, inbox) = alert::outbox(alerting.delivery.queue);
            let counters = Arc::clone(&outbox.counters);
            let delivery = notify::spawn(
                alerting.notifier,
                tracker.clone(),
                (outbox.clone(), inbox),
                Some((records.clone(), notice)),
                alerting.delivery,
            )
            .map_err(|e| {
                Error::io(
                    "alert thread",
                    "logwarden-alerts",
                    "cannot start the alert delivery thread",
                    e,
                )
            })?;
            let layer = AlertLayer::new(tracker.clone(), outbox, layer.policy(), layer.view());
            let alerts = Alerts {
                delivery,
                tracker,
                counters,
            };
            (Some(layer), Some(alerts))
        } else {
            (None, None)
        };
        Ok(Assembled {
            filter: directives,
            dispatch,
            json: layer.with_writer(records),
            pretty,
            alert,
            capture_log: self.capture_log,
            guard: Guard::new(
                workers,
                alerts,
                counters,
                self.shutdown_timeout,
                path,
                filter_handle,
            ),
        })
    }

    /// Builds the layers without installing them, for an application that assembles its own
    /// `tracing_subscriber::registry()` stack. The returned layer carries its own filter (the
    /// `filter`/`RUST_LOG` directives), so it does not restrict the other layers.
    ///
    /// `log`-crate events reach it only if the application installs `tracing_log::LogTracer`.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    /// # fn main() -> Result<(), logwarden::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (layer, guard) = logwarden::builder().service("orders").dir(dir.path()).build()?;
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
    /// assert!(guard.flush());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Builder::init`], except that nothing global is checked.
    pub fn build<S>(self) -> Result<(Box<dyn Layer<S> + Send + Sync>, Guard), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let panic_hook = self.panic_hook == Some(true);
        let (layer, guard, _) = self.assemble(panic_hook)?.into_layer();
        if panic_hook {
            let (flusher, timeout) = guard.flusher();
            crate::panic::install(flusher, timeout);
        }
        Ok((Box::new(layer), guard))
    }

    /// Builds the subscriber [`init`](Builder::init) would install, without installing it: for
    /// a test, or a program that scopes logging with `tracing::subscriber::with_default`. Its
    /// filter applies to the whole subscriber, which makes it a little cheaper per event than
    /// [`build`](Builder::build)'s layer; nothing global is touched (no `log` bridge, and the
    /// panic hook only if asked for with [`panic_hook`](Builder::panic_hook)).
    ///
    /// ```
    /// # fn main() -> Result<(), logwarden::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (subscriber, guard) = logwarden::builder().service("orders").dir(dir.path()).subscriber()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
    /// assert!(guard.flush());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Builder::init`], except that nothing global is checked.
    pub fn subscriber(
        self,
    ) -> Result<
        (
            impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
            Guard,
        ),
        Error,
    > {
        let panic_hook = self.panic_hook == Some(true);
        let (subscriber, guard, _) = self.assemble(panic_hook)?.into_subscriber();
        if panic_hook {
            let (flusher, timeout) = guard.flusher();
            crate::panic::install(flusher, timeout);
        }
        Ok((subscriber, guard))
    }

    /// Validates the settings, opens the log file, starts the writer and installs the global
    /// subscriber (and the `log`-crate bridge, unless turned off).
    ///
    /// # Errors
    /// An [`Error`] naming the setting when a value is invalid, when the log directory cannot be
    /// created or written, when the log path is a symlink or not a regular file, or when a
    /// global subscriber is already installed. Nothing is installed then, so a corrected second
    /// call can succeed.
    pub fn init(self) -> Result<Guard, Error> {
        if tracing::dispatcher::has_been_set() {
            return Err(Error::already_initialized());
        }
        let panic_hook = self.panic_hook != Some(false);
        let (subscriber, guard, capture_log) = self.assemble(panic_hook)?.into_subscriber();
        let max_level = tracing_core::Subscriber::max_level_hint(&subscriber);
        // On failure `guard` is dropped here: the threads stop, nothing stays behind.
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|_| Error::already_initialized())?;
        if capture_log {
            let level = crate::reload::log_level(max_level.unwrap_or(LevelFilter::TRACE));
            match tracing_log::LogTracer::builder()
                .with_max_level(level)
                .init()
            {
                // The `log` crate's own gate follows later filter changes too.
                Ok(()) => guard.filter_handle().follow_log_bridge(),
                Err(e) => report(format_args!("`log` events are not captured: {e}")),
            }
        }
        if panic_hook {
            let (flusher, timeout) = guard.flusher();
            crate::panic::install(flusher, timeout);
        }
        Ok(guard)
    }
}

/// Stdout for the writer thread. On Unix a duplicate of fd 1, written without `std`'s stdout
/// lock: an application that holds that lock while it logs would otherwise wait for the writer,
/// which waits for the lock.
fn stdout_writer() -> Box<dyn io::Write + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() {
            return Box::new(std::fs::File::from(fd));
        }
    }
    Box::new(io::stdout())
}

fn validate_file_name(v: &Val<String>) -> Result<(), Error> {
    let name = v.value.as_str();
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(Error::invalid(
            v.from,
            name,
            "expected a plain file name such as orders.log (no path separators)",
        ));
    }
    Ok(())
}

/// The alerting part of a configuration, validated: what the engine, the delivery thread and
/// its notifier are built from.
pub(crate) struct Alerting {
    pub(crate) settings: AlertSettings,
    pub(crate) notifier: Option<Box<dyn Notifier>>,
    pub(crate) delivery: DeliveryOptions,
}

struct Assembled {
    filter: Directives,
    dispatch: DispatchSlot,
    json: JsonLayer<NonBlocking>,
    pretty: Option<NonBlocking>,
    alert: Option<AlertLayer>,
    capture_log: bool,
    guard: Guard,
}

impl Assembled {
    /// The whole stack as one layer behind one filter (see [`crate::stack`]): the outputs
    /// where the `filter`/`RUST_LOG` directives enable them, the alert layer on every ERROR
    /// event, so that ERROR events of every target count even where the directives silence a
    /// target's output.
    fn into_parts<S>(self) -> (Stack<impl Layer<S> + Send + Sync>, StackFilter, Guard, bool)
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let policy = self.json.policy();
        let outputs = self
            .json
            .and_then(self.pretty.map(|w| pretty_layer(w, policy)));
        let (stack, filter) = crate::stack::stack(outputs, self.alert, self.filter, self.dispatch);
        (stack, filter, self.guard, self.capture_log)
    }

    /// The stack as a layer carrying its own filter, for a registry shared with other layers.
    fn into_layer<S>(self) -> (impl Layer<S> + Send + Sync, Guard, bool)
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let (stack, filter, guard, capture_log) = self.into_parts();
        (stack.with_filter(filter), guard, capture_log)
    }

    /// The stack on a registry of its own, its filter global: no per-layer filtering to pay for
    /// on each event and span.
    fn into_subscriber(
        self,
    ) -> (
        impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
        Guard,
        bool,
    ) {
        let (stack, filter, guard, capture_log) =
            self.into_parts::<Layered<StackFilter, Registry>>();
        let subscriber = tracing_subscriber::registry().with(filter).with(stack);
        (subscriber, guard, capture_log)
    }
}

/// Configures from the environment and installs the global subscriber: `builder().from_env().init()`.
///
/// # Errors
/// See [`Builder::init`]: invalid variables (named in the message), an unusable log directory,
/// or a second call.
pub fn init() -> Result<Guard, Error> {
    builder().from_env().init()
}

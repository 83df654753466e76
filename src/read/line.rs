//! One JSON log line, reduced to what the command needs: its time, severity, message, target and
//! trace id, and, for the crate's own alert records, the incident they describe.
//!
//! Any JSON-lines logger is understood, not only this crate's layouts: the level comes from
//! `level`, `log.level` (dotted or nested), `severity`, `levelname` or a textual `status`, and
//! may be text in any case (`ERROR`, `error`, `Critical`, `fatal`…) or a pino/bunyan number
//! (50 error, 60 fatal). A serde visitor looks at each key once and skips every value it does not
//! need without building it, so a line costs one pass and no allocation unless a wanted string
//! holds escapes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::timestamp::days_from_civil;

/// A line's level, coarsened to what alerting and the chart need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    /// ERROR, CRITICAL, FATAL, ALERT, EMERGENCY (and their abbreviations): counts as an error.
    Error,
    /// No level key, or a value we cannot place.
    Unknown,
}

impl Severity {
    /// Every severity, in the order of [`Severity::index`].
    pub(crate) const ALL: [Severity; 6] = [
        Severity::Trace,
        Severity::Debug,
        Severity::Info,
        Severity::Warn,
        Severity::Error,
        Severity::Unknown,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Severity::Trace => "TRACE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
            Severity::Unknown => "OTHER",
        }
    }

    /// A textual level, case-insensitively; syslog's, Python's, Go's, GCP's and Datadog's names.
    pub(crate) fn from_text(text: &str) -> Severity {
        let t = text.trim();
        let is = |name: &str| t.eq_ignore_ascii_case(name);
        if [
            "error",
            "err",
            "critical",
            "crit",
            "fatal",
            "alert",
            "emergency",
            "emerg",
        ]
        .iter()
        .any(|n| is(n))
            || is("panic")
            || is("severe")
        {
            Severity::Error
        } else if is("warn") || is("warning") {
            Severity::Warn
        } else if is("info") || is("information") || is("informational") || is("notice") {
            Severity::Info
        } else if is("debug") || is("dbg") || is("fine") {
            Severity::Debug
        } else if is("trace") || is("verbose") || is("finer") || is("finest") {
            Severity::Trace
        } else {
            Severity::Unknown
        }
    }

    /// A numeric level: pino and bunyan (10 trace … 50 error, 60 fatal), or a syslog severity
    /// (0 emergency … 3 error, 4 warning, 5–6 info, 7 debug).
    pub(crate) fn from_number(n: f64) -> Severity {
        match n {
            n if !n.is_finite() || n < 0.0 => Severity::Unknown,
            n if n < 8.0 => match n as u8 {
                0..=3 => Severity::Error,
                4 => Severity::Warn,
                5 | 6 => Severity::Info,
                _ => Severity::Debug,
            },
            n if n < 20.0 => Severity::Trace,
            n if n < 30.0 => Severity::Debug,
            n if n < 40.0 => Severity::Info,
            n if n < 50.0 => Severity::Warn,
            _ => Severity::Error,
        }
    }
}

/// Which message of an incident one of the crate's own alert records is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlertMark {
    Opened,
    Reminder,
    Resolved,
    /// The process stopped with the incident open: its last record, not a resolution.
    Stopped,
}

/// One of the records the delivery thread writes for each alert (target `logwarden::alert`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AlertRecord {
    pub(crate) mark: Option<AlertMark>,
    pub(crate) incident: Option<u64>,
    pub(crate) host: Option<String>,
    pub(crate) pid: Option<u64>,
    pub(crate) errors_total: Option<u64>,
    pub(crate) duration_secs: Option<f64>,
    pub(crate) top_error: Option<String>,
    pub(crate) first_error_at: Option<i64>,
    pub(crate) opened_at: Option<i64>,
    /// The newest error the record's `errors_total` counts.
    pub(crate) last_error_at: Option<i64>,
    pub(crate) resolved_at: Option<i64>,
    pub(crate) stopped_at: Option<i64>,
}

/// What one line says.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Entry<'a> {
    /// Microseconds since the Unix epoch, if the line has a time we can read.
    pub(crate) at: Option<i64>,
    pub(crate) severity: Option<Severity>,
    pub(crate) message: Option<Cow<'a, str>>,
    pub(crate) target: Option<Cow<'a, str>>,
    pub(crate) trace_id: Option<Cow<'a, str>>,
    pub(crate) service: Option<Cow<'a, str>>,
    /// `env`, `environment`, `deployment.environment` or ECS's `service.environment`.
    pub(crate) env: Option<Cow<'a, str>>,
    /// `host` / `host.hostname` and `pid` / `process.pid`: which process wrote the line, so
    /// that replicas of one service are not counted as one.
    pub(crate) host: Option<Cow<'a, str>>,
    pub(crate) pid: Option<u64>,
    /// Set for the crate's own alert records only.
    /// Boxed: rare, and large beside the rest of a line.
    pub(crate) alert: Option<Box<AlertRecord>>,
}

impl Entry<'_> {
    pub(crate) fn into_owned(self) -> Entry<'static> {
        let own = |s: Option<Cow<'_, str>>| s.map(|s| Cow::Owned(s.into_owned()));
        Entry {
            at: self.at,
            severity: self.severity,
            message: own(self.message),
            target: own(self.target),
            trace_id: own(self.trace_id),
            service: own(self.service),
            env: own(self.env),
            host: own(self.host),
            pid: self.pid,
            alert: self.alert,
        }
    }

    pub(crate) fn severity(&self) -> Severity {
        self.severity.unwrap_or(Severity::Unknown)
    }

    /// Whether this line is written by the crate itself (diagnostics and alert records), which
    /// never counts as an application error.
    pub(crate) fn is_own(&self) -> bool {
        self.target
            .as_deref()
            .is_some_and(|t| t == "logwarden" || t.starts_with("logwarden::"))
    }

    /// The group an error belongs to in an alert: a file does not record the callsite the
    /// library groups by, so lines from the same place, which say the same thing, stand in.
    pub(crate) fn group_key(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            self.target.as_deref().unwrap_or(""),
            self.message.as_deref().unwrap_or(""),
        )
            .hash(&mut h);
        h.finish()
    }

    /// An application error: what the threshold engine counts.
    pub(crate) fn is_error(&self) -> bool {
        self.severity == Some(Severity::Error) && !self.is_own()
    }
}

/// Parses one line (without its newline). `None` when it is not a JSON object: a torn line, a
/// plain-text line, a stack trace printed by something else.
pub(crate) fn parse(line: &[u8]) -> Option<Entry<'_>> {
    let line = line.trim_ascii();
    // A byte-order mark, as some Windows tools write at the start of a file.
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.first() != Some(&b'{') {
        return None;
    }
    let utf8 = std::str::from_utf8(line);
    // Nearly every line: checked as UTF-8 once, whole, instead of string by string, and its
    // keys scanned as text (serde_json's word-at-a-time scan; as bytes it sets up a vector
    // search per key). Should that fail, the byte reading decides, as for any other line: it
    // alone accepts a raw control character or a lone surrogate escape in a key. Where both
    // succeed they give the same entry.
    if let Ok(text) = utf8 {
        if let found @ Some(_) = parse_text(text) {
            return found;
        }
    }
    match parse_object(line) {
        Some(entry) => Some(entry),
        // One stray byte that is not UTF-8 (a Latin-1 `é` in a message) must not lose an ERROR
        // line: read it again with the bad bytes replaced. Only lines that failed pay for this.
        None if utf8.is_err() => {
            let text = String::from_utf8_lossy(line).into_owned();
            parse_object(text.as_bytes()).map(Entry::into_owned)
        }
        None => None,
    }
}

fn parse_object(line: &[u8]) -> Option<Entry<'_>> {
    parse_from(serde_json::de::SliceRead::new(line), false)
}

/// [`parse_object`] for a line known to be UTF-8.
fn parse_text(line: &str) -> Option<Entry<'_>> {
    parse_from(serde_json::de::StrRead::new(line), true)
}

fn parse_from<'a, R: serde_json::de::Read<'a>>(read: R, text_keys: bool) -> Option<Entry<'a>> {
    let mut de = serde_json::Deserializer::new(read);
    let mut found = Found::default();
    de.deserialize_map(LineVisitor {
        text_keys,
        found: &mut found,
    })
    .ok()?;
    de.end().ok()?;
    Some(found.into_entry())
}

/// A key as raw bytes (unescaped): compared with the names we want without checking it is
/// UTF-8, which would cost a fifth of the reading time for keys whose values are skipped.
struct Key<'a>(Cow<'a, [u8]>);

/// A value that may be text or a number (levels, times, counts), or anything else (ignored).
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Number(f64),
    Other,
}

impl<'a> Scalar<'a> {
    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Scalar::Text(t) => Some(t),
            Scalar::Number(n) => Some(Cow::Owned(n.to_string())),
            Scalar::Other => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Scalar::Number(n) => Some(*n),
            Scalar::Text(t) => t.trim().parse().ok(),
            Scalar::Other => None,
        }
    }

    fn time(&self) -> Option<i64> {
        match self {
            Scalar::Text(t) => parse_time(t),
            Scalar::Number(n) => epoch_number(*n),
            Scalar::Other => None,
        }
    }
}

/// Priorities when several keys could hold the same thing: the lower wins.
#[derive(Default)]
struct Found<'a> {
    at: Option<(u8, i64)>,
    severity: Option<(u8, Severity)>,
    message: Option<(u8, Cow<'a, str>)>,
    target: Option<(u8, Cow<'a, str>)>,
    trace_id: Option<(u8, Cow<'a, str>)>,
    service: Option<(u8, Cow<'a, str>)>,
    env: Option<(u8, Cow<'a, str>)>,
    alert: AlertRecord,
    alert_mark: bool,
    host: Option<Cow<'a, str>>,
    pid: Option<u64>,
}

fn keep<T>(slot: &mut Option<(u8, T)>, rank: u8, value: Option<T>) {
    if let Some(value) = value {
        if slot.as_ref().is_none_or(|(r, _)| rank < *r) {
            *slot = Some((rank, value));
        }
    }
}

impl<'a> Found<'a> {
    fn into_entry(self) -> Entry<'a> {
        let target = self.target.map(|(_, t)| t);
        let alert = (self.alert_mark && target.as_deref() == Some("logwarden::alert")).then(|| {
            Box::new(AlertRecord {
                host: self.host.as_deref().map(str::to_owned),
                pid: self.pid,
                ..self.alert
            })
        });
        Entry {
            at: self.at.map(|(_, t)| t),
            severity: self.severity.map(|(_, s)| s),
            message: self.message.map(|(_, m)| m),
            target,
            trace_id: self.trace_id.map(|(_, t)| t),
            service: self.service.map(|(_, s)| s),
            env: self.env.map(|(_, e)| e),
            host: self.host,
            pid: self.pid,
            alert,
        }
    }

    fn level(&mut self, rank: u8, value: Scalar<'_>, numbers: bool) {
        let severity = match value {
            Scalar::Text(t) => Some(Severity::from_text(&t)).filter(|s| *s != Severity::Unknown),
            Scalar::Number(n) if numbers => Some(Severity::from_number(n)),
            _ => None,
        };
        keep(&mut self.severity, rank, severity);
    }
}

/// Fills in `found` (held by the caller: the struct is large, and moving it out of the visitor
/// and through serde's `Result`s cost a memcpy each).
struct LineVisitor<'f, 'a> {
    /// Read the top-level keys as text (the line is known to be UTF-8), else as bytes.
    text_keys: bool,
    found: &'f mut Found<'a>,
}

impl<'de> Visitor<'de> for LineVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let found = self.found;
        let seed = KeySeed {
            text: self.text_keys,
        };
        while let Some(Key(key)) = map.next_key_seed(seed)? {
            match key.as_ref() {
                b"timestamp" | b"@timestamp" | b"time" | b"ts" | b"asctime" | b"datetime" => {
                    let rank = match key.as_ref() {
                        b"timestamp" | b"@timestamp" => 0,
                        b"time" => 1,
                        _ => 2,
                    };
                    let v = map.next_value::<Scalar<'de>>()?;
                    keep(&mut found.at, rank, v.time());
                }
                b"level" => {
                    let v = map.next_value::<Scalar<'de>>()?;
                    found.level(0, v, true);
                }
                b"log.level" => found.level(1, map.next_value()?, false),
                b"severity" => found.level(2, map.next_value()?, true),
                b"levelname" | b"lvl" | b"loglevel" => found.level(3, map.next_value()?, false),
                // Datadog's; an HTTP status (a number) is not a level.
                b"status" => found.level(4, map.next_value()?, false),
                b"message" | b"msg" | b"@message" | b"event" => {
                    let rank = match key.as_ref() {
                        b"message" => 0,
                        b"msg" => 1,
                        b"@message" => 2,
                        _ => 3,
                    };
                    let v = map.next_value::<Scalar<'de>>()?;
                    keep(&mut found.message, rank, v.text());
                }
                b"target" | b"log.logger" | b"logger.name" | b"logger" | b"logger_name"
                | b"name" => {
                    let rank = match key.as_ref() {
                        b"target" => 0,
                        b"log.logger" => 1,
                        b"logger.name" => 2,
                        b"logger" => 3,
                        b"logger_name" => 4,
                        _ => 5,
                    };
                    match map.next_value::<Nested<'de>>()? {
                        Nested::Scalar(v) => keep(&mut found.target, rank, v.text()),
                        Nested::Object(inner) => {
                            keep(&mut found.target, 2, inner.name);
                        }
                    }
                }
                b"log" => {
                    if let Nested::Object(inner) = map.next_value::<Nested<'de>>()? {
                        if let Some(level) = inner.level {
                            found.level(1, level, false);
                        }
                        keep(&mut found.target, 1, inner.logger);
                    }
                }
                b"trace_id"
                | b"trace.id"
                | b"dd.trace_id"
                | b"logging.googleapis.com/trace"
                | b"traceId" => {
                    let v = map.next_value::<Scalar<'de>>()?;
                    keep(&mut found.trace_id, 0, v.text());
                }
                b"service" | b"service.name" => {
                    let v = map.next_value::<Scalar<'de>>()?;
                    keep(
                        &mut found.service,
                        u8::from(key.as_ref() != b"service"),
                        v.text(),
                    );
                }
                b"alert" => {
                    let v = map.next_value::<Scalar<'de>>()?;
                    found.alert.mark = match v.text().as_deref() {
                        Some("opened") => Some(AlertMark::Opened),
                        Some("reminder") => Some(AlertMark::Reminder),
                        Some("resolved") => Some(AlertMark::Resolved),
                        Some("stopped") => Some(AlertMark::Stopped),
                        _ => None,
                    };
                    found.alert_mark = found.alert.mark.is_some();
                }
                b"incident" => {
                    let v = map.next_value::<Scalar<'de>>()?;
                    found.alert.incident = v.number().map(|n| n as u64);
                }
                b"errors_total" => {
                    let v = map.next_value::<Scalar<'de>>()?;
                    found.alert.errors_total = v.number().map(|n| n as u64);
                }
                b"duration_secs" => {
                    found.alert.duration_secs = map.next_value::<Scalar<'de>>()?.number();
                }
                b"top_error" => {
                    let v = map.next_value::<Scalar<'de>>()?;
                    found.alert.top_error = v.text().map(Cow::into_owned);
                }
                b"first_error_at" => {
                    found.alert.first_error_at = map.next_value::<Scalar<'de>>()?.time();
                }
                b"opened_at" => found.alert.opened_at = map.next_value::<Scalar<'de>>()?.time(),
                b"last_error_at" => {
                    found.alert.last_error_at = map.next_value::<Scalar<'de>>()?.time();
                }
                b"resolved_at" => {
                    found.alert.resolved_at = map.next_value::<Scalar<'de>>()?.time();
                }
                b"stopped_at" => {
                    found.alert.stopped_at = map.next_value::<Scalar<'de>>()?.time();
                }
                b"env" | b"environment" | b"deployment.environment" | b"service.environment" => {
                    let rank = match key.as_ref() {
                        b"env" => 0,
                        b"environment" => 1,
                        b"deployment.environment" => 2,
                        _ => 3,
                    };
                    let v = map.next_value::<Scalar<'de>>()?;
                    keep(&mut found.env, rank, v.text());
                }
                b"host" | b"host.hostname" => {
                    let v = map.next_value::<Scalar<'de>>()?;
                    found.host = v.text();
                }
                b"pid" | b"process.pid" => {
                    let v = map.next_value::<Scalar<'de>>()?;
                    found.pid = v.number().filter(|n| *n >= 0.0).map(|n| n as u64);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v.as_bytes())))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.as_bytes().to_owned())))
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_bytes(KeyVisitor)
    }
}

/// A top-level key, read as text or as bytes (see [`parse`]).
#[derive(Clone, Copy)]
struct KeySeed {
    text: bool,
}

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        if self.text {
            d.deserialize_str(KeyVisitor)
        } else {
            d.deserialize_bytes(KeyVisitor)
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(v))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other)
    }
    fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

/// The nested forms: ECS's `"log":{"level":…,"logger":…}`, `"logger":{"name":…}`.
#[derive(Default)]
struct Inner<'a> {
    level: Option<Scalar<'a>>,
    logger: Option<Cow<'a, str>>,
    name: Option<Cow<'a, str>>,
}

enum Nested<'a> {
    Scalar(Scalar<'a>),
    Object(Inner<'a>),
}

impl<'de> de::Deserialize<'de> for Nested<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Nested<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Nested<'de>, A::Error> {
                let mut inner = Inner::default();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    match key.as_ref() {
                        b"level" => inner.level = Some(map.next_value()?),
                        b"logger" => inner.logger = map.next_value::<Scalar<'de>>()?.text(),
                        b"name" => inner.name = map.next_value::<Scalar<'de>>()?.text(),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Nested::Object(inner))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Nested<'de>, E> {
                ScalarVisitor.visit_borrowed_str(v).map(Nested::Scalar)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Nested<'de>, E> {
                ScalarVisitor.visit_str(v).map(Nested::Scalar)
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Nested<'de>, E> {
                ScalarVisitor.visit_string(v).map(Nested::Scalar)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Nested<'de>, E> {
                ScalarVisitor.visit_i64(v).map(Nested::Scalar)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Nested<'de>, E> {
                ScalarVisitor.visit_u64(v).map(Nested::Scalar)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Nested<'de>, E> {
                ScalarVisitor.visit_f64(v).map(Nested::Scalar)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Nested<'de>, E> {
                Ok(Nested::Scalar(Scalar::Other))
            }
            fn visit_unit<E>(self) -> Result<Nested<'de>, E> {
                Ok(Nested::Scalar(Scalar::Other))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Nested<'de>, A::Error> {
                ScalarVisitor.visit_seq(seq).map(Nested::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

/// Epoch numbers by magnitude: seconds (Go's zap, Python's `created`), milliseconds (pino,
/// Datadog, this crate's `unix_ms`), microseconds or nanoseconds.
fn epoch_number(n: f64) -> Option<i64> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let micros = if n < 1e11 {
        n * 1e6
    } else if n < 1e14 {
        n * 1e3
    } else if n < 1e17 {
        n
    } else {
        n / 1e3
    };
    // Only plausible instants (a small number in `time` is a duration, not 1970).
    (EARLIEST as f64..LATEST as f64)
        .contains(&micros)
        .then_some(micros as i64)
}

/// The times a log line can plausibly carry: from 2000 (smaller epoch numbers are durations or
/// counters) to 2200 (beyond, arithmetic on them would overflow somewhere downstream).
const EARLIEST: i64 = 946_684_800_000_000;
const LATEST: i64 = 7_258_118_400_000_000;

/// RFC 3339 and its common relatives: `2026-11-25T22:00:59.123456Z`, `…+01:00`, `…+0100`, a space
/// instead of `T`, a comma before the fraction (Python's `asctime`), any number of fractional
/// digits. A time without an offset is taken as UTC.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 19 {
        return None;
    }
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        part.iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // 60: a leap second, folded onto the next one.
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if matches!(b.get(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        let mut scale = 100_000i64;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            micros += i64::from(d - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let hh = digits(i + 1, 2)?;
            let mm = match b.get(i + 3) {
                Some(b':') => digits(i + 4, 2).filter(|_| i + 6 == b.len())?,
                _ => digits(i + 3, 2).filter(|_| i + 5 == b.len())?,
            };
            let secs = i64::from(hh * 3600 + mm * 60);
            if sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    Some(secs * 1_000_000 + micros).filter(|t| (EARLIEST..LATEST).contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_795_987_259_123_456; // 2026-11-29T21:20:59.123456Z

    fn entry(line: &str) -> Entry<'_> {
        parse(line.as_bytes()).unwrap_or_else(|| panic!("not parsed: {line}"))
    }

    #[test]
    fn times_in_the_usual_spellings() {
        assert_eq!(parse_time("2026-11-29T21:20:59.123456Z"), Some(T));
        assert_eq!(parse_time("2026-11-29T22:20:59.123456+01:00"), Some(T));
        assert_eq!(parse_time("2026-11-29T16:20:59.123456-0500"), Some(T));
        assert_eq!(parse_time("2026-11-29 21:20:59,123456"), Some(T));
        assert_eq!(parse_time("2026-11-29T21:20:59.123456789Z"), Some(T));
        assert_eq!(parse_time("2026-11-29T21:20:59Z"), Some(T - 123_456));
        for bad in [
            "2026-11-29",
            "2026-13-29T21:20:59Z",
            "2026-11-29T21:20:59.Z",
            "2026-11-29T21:20:59Zjunk",
            "2026-11-29T21:20:59+01",
            "yesterday at noon, more or less",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        assert_eq!(epoch_number(1_795_987_259.123_456), Some(T));
        assert_eq!(epoch_number(1_795_987_259_123.0), Some(T - 456));
        assert_eq!(epoch_number(-1.0), None);
        // Implausible instants are no time at all: a duration in `time`, year 0, year 9999.
        assert_eq!(epoch_number(0.25), None);
        assert_eq!(epoch_number(9.19e21), None);
        assert_eq!(parse_time("0000-01-01T00:00:00Z"), None);
        assert_eq!(parse_time("9999-12-31T23:59:59Z"), None);
    }

    #[test]
    fn this_crates_layouts() {
        let default = entry(
            r#"{"timestamp":"2026-11-29T21:20:59.123456Z","level":"ERROR","message":"db down","target":"orders::db","service":"orders","trace_id":"4bf9","status":"ok"}"#,
        );
        assert_eq!(default.at, Some(T));
        assert!(default.is_error());
        assert_eq!(default.message.as_deref(), Some("db down"));
        assert_eq!(default.target.as_deref(), Some("orders::db"));
        assert_eq!(default.trace_id.as_deref(), Some("4bf9"));
        assert_eq!(default.service.as_deref(), Some("orders"));
        let ecs = entry(
            r#"{"@timestamp":"2026-11-29T21:20:59.123456Z","log.level":"ERROR","message":"x","log.logger":"orders","trace.id":"ab"}"#,
        );
        assert_eq!((ecs.at, ecs.severity), (Some(T), Some(Severity::Error)));
        assert_eq!(ecs.target.as_deref(), Some("orders"));
        let gcp = entry(r#"{"time":"2026-11-29T21:20:59.123456Z","severity":"CRITICAL"}"#);
        assert!(gcp.is_error());
        let dd = entry(r#"{"timestamp":1795987259123,"status":"warn","logger.name":"a"}"#);
        assert_eq!(dd.severity, Some(Severity::Warn));
        assert_eq!(dd.at, Some(T - 456));
        // zap's `ts` wins over a `time` field that is a duration.
        let zap = entry(r#"{"ts":1795987259.123456,"time":0.25,"level":"error"}"#);
        assert_eq!(zap.at, Some(T));
    }

    #[test]
    fn other_loggers() {
        // python-json-logger, pino, zap, logrus, nested ECS.
        assert!(entry(r#"{"asctime":"2026-11-29 21:20:59,123","levelname":"ERROR","name":"app","message":"m"}"#).is_error());
        let pino = entry(r#"{"level":60,"time":1795987259123,"msg":"fatal thing"}"#);
        assert!(pino.is_error());
        assert_eq!(pino.message.as_deref(), Some("fatal thing"));
        assert_eq!(entry(r#"{"level":30}"#).severity, Some(Severity::Info));
        let zap = entry(r#"{"level":"error","ts":1795987259.123456,"logger":"svc","msg":"x"}"#);
        assert_eq!((zap.at, zap.is_error()), (Some(T), true));
        let nested = entry(r#"{"log":{"level":"Fatal","logger":"deep"},"message":"m"}"#);
        assert!(nested.is_error());
        assert_eq!(nested.target.as_deref(), Some("deep"));
        // An HTTP status is not a level; a level key beats `status`.
        assert_eq!(entry(r#"{"status":500}"#).severity, None);
        assert_eq!(
            entry(r#"{"status":"error","level":"info"}"#).severity,
            Some(Severity::Info)
        );
        assert_eq!(entry(r#"{"level":"ERR"}"#).severity, Some(Severity::Error));
        assert_eq!(
            entry(r#"{"level":"eRrOr"}"#).severity,
            Some(Severity::Error)
        );
    }

    #[test]
    fn escaped_text_and_deep_values_are_fine() {
        let e = entry(
            r#"{"message":"a \"quoted\"\nline \u00e9","level":"error","fields":{"a":[1,{"b":null}]},"x":true}"#,
        );
        assert_eq!(e.message.as_deref(), Some("a \"quoted\"\nline é"));
        assert!(e.is_error());
    }

    #[test]
    fn the_crates_own_records_never_count() {
        let own = entry(r#"{"level":"ERROR","target":"logwarden","message":"write failed"}"#);
        assert!(!own.is_error());
        let alert = entry(
            r#"{"timestamp":"2026-11-29T21:20:59.123456Z","level":"INFO","message":"resolved","target":"logwarden::alert","host":"h","pid":7,"alert":"resolved","incident":3,"errors_total":12,"duration_secs":61.5,"top_error":"db down","opened_at":"2026-11-29T21:19:57.623456Z","resolved_at":"2026-11-29T21:20:59.123456Z"}"#,
        );
        let a = alert.alert.expect("an alert record");
        assert_eq!(a.mark, Some(AlertMark::Resolved));
        assert_eq!(
            (a.incident, a.errors_total, a.pid),
            (Some(3), Some(12), Some(7))
        );
        assert_eq!(a.resolved_at, Some(T));
        assert_eq!(a.opened_at, Some(T - 61_500_000));
        assert_eq!(a.top_error.as_deref(), Some("db down"));
        // A user's own `alert` field is not an alert record.
        assert!(entry(r#"{"target":"app","alert":"opened"}"#)
            .alert
            .is_none());
    }

    #[test]
    fn what_is_not_a_json_object_is_refused() {
        for bad in [
            "",
            "plain text",
            "[1,2]",
            r#"{"level":"error""#,
            r#"{"level":"error"} trailing"#,
            "\u{0}\u{1}",
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        assert!(parse(b"  {\"level\":\"error\"}\r").is_some());
        assert!(parse(b"\xEF\xBB\xBF{\"level\":\"error\"}").is_some());
    }

    #[test]
    fn the_text_reading_agrees_with_the_byte_reading() {
        // What both readings accept, they read alike (keys escaped or not, values of all kinds).
        for line in [
            r#"{"timestamp":"2026-11-29T21:20:59.123456Z","level":"ERROR","message":"db down","target":"orders::db","service":"orders","env":"p","host":"h","pid":7,"trace_id":"4bf9","items":3,"total":59.9,"ok":true,"none":null}"#,
            r#"{"lev\u0065l":"ERROR","mess\"age":"x","\u00e9t\u00e9":"\ud83d\ude00","message":"caf\u00e9 \"q\""}"#,
            r#"{"log":{"level":"Fatal","logger":"deep"},"logger":{"name":"n"},"fields":{"a":[1,{"b":null}]}}"#,
            r#"{"target":"logwarden::alert","alert":"opened","incident":1,"opened_at":"2026-11-29T21:20:59Z"}"#,
        ] {
            let text = parse_text(line).unwrap_or_else(|| panic!("as text: {line}"));
            assert_eq!(
                Some(&text),
                parse_object(line.as_bytes()).as_ref(),
                "{line}"
            );
            assert_eq!(Some(text), parse(line.as_bytes()), "{line}");
        }
        // What only the byte reading accepts in a key (a raw control character, a lone
        // surrogate escape) still reads as it did.
        for line in [
            "{\"le\tvel\":1,\"level\":\"ERROR\",\"message\":\"m\"}",
            r#"{"\ud800x":1,"level":"ERROR","message":"m"}"#,
        ] {
            assert!(parse_text(line).is_none(), "{line:?}");
            let e = parse(line.as_bytes()).unwrap_or_else(|| panic!("not parsed: {line:?}"));
            assert!(
                e.is_error() && e.message.as_deref() == Some("m"),
                "{line:?}"
            );
        }
    }

    #[test]
    fn a_byte_that_is_not_utf8_does_not_lose_the_line() {
        let e = parse(b"{\"level\":\"ERROR\",\"message\":\"caf\xe9 closed\",\"pid\":7}").unwrap();
        assert!(e.is_error());
        assert_eq!(e.message.as_deref(), Some("caf\u{fffd} closed"));
        assert_eq!(e.pid, Some(7));
    }
}

//! The record's vocabulary: which keys it writes, how levels and times are spelled, and which
//! fixed fields every line carries, per vendor preset (logwarden, ECS, Cloud Logging, Datadog).
//!
//! Everything that does not change from one event to the next is rendered here once, into the
//! byte pieces the layer copies between the per-event parts, so a preset costs the same copies
//! per event as the default record.

use std::cell::Cell;
use std::fmt;

use parking_lot::Mutex;
use tracing_core::{Level, Metadata};

use super::escape::quoted_into;
use super::fields::push_text;
#[cfg(feature = "opentelemetry")]
use super::keys::intern;
use super::keys::{Reserved, COLLISION_PREFIX};
use super::policy::{Policy, DROPPED_FIELDS_KEY};
use super::snippet::Snippet;
use crate::redact::REDACTED;
use crate::timestamp::push_rfc3339_cached;

/// The ECS version whose field reference the `ecs` preset follows (written as `ecs.version`).
pub(crate) const ECS_VERSION: &str = "8.11.0";

/// The record layout: logwarden's own, or the one a log platform reads without remapping.
///
/// | preset | time | level | message | target | service, env, host, pid | span name |
/// |---|---|---|---|---|---|---|
/// | [`LOGWARDEN`](Format::LOGWARDEN) | `timestamp` | `level` | `message` | `target` | `service`, `env`, `host`, `pid` | `span` |
/// | [`ECS`](Format::ECS) | `@timestamp` | `log.level` | `message` | `log.logger` | `service.name`, `service.environment`, `host.hostname`, `process.pid` (+ `ecs.version`) | `span.name` |
/// | [`GCP`](Format::GCP) | `time` | `severity` | `message` | `target` (+ `logging.googleapis.com/sourceLocation`) | `service`, `env`, `host`, `pid` | `span` |
/// | [`DATADOG`](Format::DATADOG) | `timestamp` | `status` | `message` | `logger.name` | `service`, `env`, `host`, `pid` | `span` |
///
/// Span and event fields stay flattened at the top level in every preset. A newtype over a
/// private enum so that presets can be added without breaking callers.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Format(Preset);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Preset {
    #[default]
    Logwarden,
    Ecs,
    Gcp,
    Datadog,
}

impl Format {
    /// logwarden's record (the default): `timestamp`, `level`, `message`, `target`, `service`,
    /// `env`, `host`, `pid`, `span`, then the span and event fields.
    pub const LOGWARDEN: Format = Format(Preset::Logwarden);
    /// Elastic Common Schema, as the ecs-logging specification lays it out: `@timestamp`,
    /// `log.level` and `message` first, dotted keys at the top level, `ecs.version`.
    pub const ECS: Format = Format(Preset::Ecs);
    /// Google Cloud Logging's structured payload: `severity` with Cloud Logging's names
    /// (`DEBUG`, `INFO`, `WARNING`, `ERROR`, and `CRITICAL` for panics), `time`, and the
    /// event's source location.
    pub const GCP: Format = Format(Preset::Gcp);
    /// Datadog's reserved attributes: `timestamp`, `status` (lower-case level names, `critical`
    /// for panics), `service`, `host`, and `logger.name`.
    pub const DATADOG: Format = Format(Preset::Datadog);

    pub(crate) fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "logwarden" | "default" => Some(Format::LOGWARDEN),
            "ecs" | "elastic" => Some(Format::ECS),
            "gcp" | "google" | "stackdriver" => Some(Format::GCP),
            "datadog" | "dd" => Some(Format::DATADOG),
            _ => None,
        }
    }

    /// The preset's names for the record's own keys, in [`Key`] order.
    fn names(self) -> [&'static str; KEYS] {
        match self.0 {
            Preset::Logwarden => [
                "timestamp",
                "level",
                "message",
                "target",
                "service",
                "env",
                "host",
                "pid",
                "span",
                "trace_id",
                "span_id",
            ],
            Preset::Ecs => [
                "@timestamp",
                "log.level",
                "message",
                "log.logger",
                "service.name",
                "service.environment",
                "host.hostname",
                "process.pid",
                "span.name",
                "trace.id",
                "span.id",
            ],
            Preset::Gcp => [
                "time",
                "severity",
                "message",
                "target",
                "service",
                "env",
                "host",
                "pid",
                "span",
                "logging.googleapis.com/trace",
                "logging.googleapis.com/spanId",
            ],
            Preset::Datadog => [
                "timestamp",
                "status",
                "message",
                "logger.name",
                "service",
                "env",
                "host",
                "pid",
                "span",
                "dd.trace_id",
                "dd.span_id",
            ],
        }
    }

    /// Level names: TRACE, DEBUG, INFO, WARN, ERROR, then the one for panics.
    fn levels(self) -> [&'static str; 6] {
        match self.0 {
            Preset::Logwarden | Preset::Ecs => ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "ERROR"],
            // Cloud Logging has no TRACE; DEBUG is its lowest severity.
            Preset::Gcp => ["DEBUG", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
            // Datadog's status remapper reads `trace` as debug.
            Preset::Datadog => ["trace", "debug", "info", "warn", "error", "critical"],
        }
    }

    /// Where an error-valued field named `error` goes, and its cause chain (as one text): the
    /// vendors' error attributes. `None`: the field keeps its name and the chain is an array.
    fn error_keys(self) -> Option<(&'static str, &'static str)> {
        match self.0 {
            Preset::Ecs => Some(("error.message", "error.stack_trace")),
            Preset::Datadog => Some(("error.message", "error.stack")),
            Preset::Logwarden | Preset::Gcp => None,
        }
    }
}

impl fmt::Debug for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            Preset::Logwarden => "LOGWARDEN",
            Preset::Ecs => "ECS",
            Preset::Gcp => "GCP",
            Preset::Datadog => "DATADOG",
        };
        write!(f, "Format::{name}")
    }
}

/// How the record's time is written.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeFormat(Time);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Time {
    #[default]
    Rfc3339,
    UnixMillis,
}

impl TimeFormat {
    /// RFC 3339 in UTC with exactly six fractional digits, so every timestamp has the same
    /// width and sorts as text: `"2026-11-25T22:00:59.123456Z"` (the default).
    pub const RFC3339: TimeFormat = TimeFormat(Time::Rfc3339);
    /// Milliseconds since the Unix epoch as a JSON number: `1764108059123`.
    pub const UNIX_MS: TimeFormat = TimeFormat(Time::UnixMillis);

    pub(crate) fn parse(s: &str) -> Option<TimeFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rfc3339" | "rfc-3339" | "iso8601" => Some(TimeFormat::RFC3339),
            "unix_ms" | "unix-ms" | "epoch_ms" | "ms" => Some(TimeFormat::UNIX_MS),
            _ => None,
        }
    }
}

impl fmt::Debug for TimeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Time::Rfc3339 => f.write_str("TimeFormat::RFC3339"),
            Time::UnixMillis => f.write_str("TimeFormat::UNIX_MS"),
        }
    }
}

/// The record's own keys: the nine every record has, then the OpenTelemetry ids (written with
/// the `opentelemetry` feature only).
const KEYS: usize = 11;

/// How many of the [`KEYS`] this build writes.
const WRITTEN: usize = if cfg!(feature = "opentelemetry") {
    KEYS
} else {
    9
};

/// One of the keys the record writes itself, for [`Builder::rename`](crate::Builder::rename) and
/// [`JsonLayer::rename`](crate::JsonLayer::rename).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key(usize);

impl Key {
    /// The event's time.
    pub const TIMESTAMP: Key = Key(0);
    /// The event's level.
    pub const LEVEL: Key = Key(1);
    /// The event's message.
    pub const MESSAGE: Key = Key(2);
    /// The event's target (module path, or the `log` record's target).
    pub const TARGET: Key = Key(3);
    /// The service name.
    pub const SERVICE: Key = Key(4);
    /// The deployment environment.
    pub const ENV: Key = Key(5);
    /// The host name.
    pub const HOST: Key = Key(6);
    /// The process id.
    pub const PID: Key = Key(7);
    /// The innermost span's name.
    pub const SPAN: Key = Key(8);
    /// The OpenTelemetry trace id (feature `opentelemetry`).
    pub const TRACE_ID: Key = Key(9);
    /// The OpenTelemetry span id (feature `opentelemetry`).
    pub const SPAN_ID: Key = Key(10);

    const NAMES: [&'static str; KEYS] = [
        "TIMESTAMP",
        "LEVEL",
        "MESSAGE",
        "TARGET",
        "SERVICE",
        "ENV",
        "HOST",
        "PID",
        "SPAN",
        "TRACE_ID",
        "SPAN_ID",
    ];
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key::{}", Key::NAMES[self.0])
    }
}

/// What the record's layout is made of, as set by the caller; [`Schema`] is its rendering.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) format: Format,
    pub(crate) time: TimeFormat,
    pub(crate) renames: Vec<(Key, String)>,
    /// Fixed `key: value` pairs written on every line, after the record's own keys.
    pub(crate) statics: Vec<(String, String)>,
}

impl Layout {
    /// The final name of each of the record's own keys.
    fn names(&self) -> [&str; KEYS] {
        let mut names = self.format.names();
        for (key, name) in &self.renames {
            names[key.0] = name;
        }
        names
    }

    /// Names what makes this layout unwritable (an empty name, or two keys with one name), for
    /// the builder to return as an error: `(setting, value, reason)`.
    pub(crate) fn check(&self) -> Result<(), (String, String, &'static str)> {
        let names = self.names();
        let own = &names[..WRITTEN];
        let extra = self.extra_keys();
        let taken = "names a key the record already has";
        for (key, name) in &self.renames {
            let setting = format!("rename({key:?})");
            if name.trim().is_empty() {
                return Err((setting, name.clone(), "is an empty key name"));
            }
            let elsewhere = own.iter().enumerate().any(|(i, n)| i != key.0 && n == name);
            if elsewhere || extra.contains(&name.as_str()) {
                return Err((setting, name.clone(), taken));
            }
            if name.starts_with(COLLISION_PREFIX) {
                return Err((setting, name.clone(), PREFIXED));
            }
        }
        for (i, (key, _)) in self.statics.iter().enumerate() {
            if key.trim().is_empty() {
                return Err(("field".to_owned(), key.clone(), "is an empty key name"));
            }
            let twice = self.statics[..i].iter().any(|(k, _)| k == key);
            if twice || own.contains(&key.as_str()) || extra.contains(&key.as_str()) {
                return Err(("field".to_owned(), key.clone(), taken));
            }
            if key.starts_with(COLLISION_PREFIX) {
                return Err(("field".to_owned(), key.clone(), PREFIXED));
            }
        }
        Ok(())
    }

    /// This layout with whatever makes it unwritable dropped (renames, then fixed fields), for
    /// the infallible [`JsonLayer`](crate::JsonLayer) setters.
    pub(crate) fn settled(mut self) -> Layout {
        while let Err((setting, value, _)) = self.check() {
            if setting == "field" {
                let i = self.statics.iter().rposition(|(k, _)| *k == value);
                self.statics
                    .remove(i.expect("check names an existing field"));
            } else {
                self.renames.retain(|(_, n)| *n != value);
            }
        }
        self
    }

    /// The names user fields may not take under this layout. Not the OpenTelemetry ids' keys: the
    /// layer renames a user field that collides with them only in records that carry the ids,
    /// so that the feature changes nothing for records without them.
    pub(crate) fn reserved(&self) -> Reserved {
        let own = self.names();
        let statics = self.statics.iter().map(|(k, _)| k.as_str());
        let extra = self.extra_keys();
        Reserved::new(
            own.into_iter().take(9).chain(statics).chain(extra),
            self.format.error_keys(),
        )
    }

    /// Keys a preset writes besides the renamable ones.
    fn extra_keys(&self) -> Vec<&'static str> {
        let mut keys = vec![DROPPED_FIELDS_KEY];
        match self.format.0 {
            Preset::Ecs => keys.push("ecs.version"),
            Preset::Gcp => keys.push(SOURCE_LOCATION_KEY),
            Preset::Logwarden | Preset::Datadog => {}
        }
        if let Some((message, stack)) = self.format.error_keys() {
            keys.extend([message, stack]);
        }
        keys
    }
}

/// Why a record key may not start with the collision prefix.
const PREFIXED: &str =
    "starts with `fields.`, which is kept for user fields renamed to avoid a clash";

const SOURCE_LOCATION_KEY: &str = "logging.googleapis.com/sourceLocation";

/// A [`Layout`] rendered: the byte pieces the layer writes around each event's own parts.
#[derive(Debug)]
pub(crate) struct Schema {
    /// `{"timestamp":"` (or without the quote for a number).
    open: Snippet,
    unix_ms: bool,
    /// Closes the time, writes the level, opens the message: one per level, then panics.
    levels: [Snippet; 6],
    /// Closes the message and opens the target.
    after_message: Snippet,
    /// Cloud Logging wants each event's file, line and function.
    source_location: bool,
    /// `,"service":"…","env":"…","host":"…","pid":N` and the fixed fields.
    constants: Snippet,
    /// `,"span":`
    span_key: Snippet,
    /// Whether panic records get their own level name (the presets whose platforms have one).
    critical: bool,
    /// Every key the record writes itself, for the crate's own records' extra fields.
    written: Vec<Box<str>>,
    /// `,"trace_id":"` and `","span_id":"`: the OpenTelemetry ids' keys.
    #[cfg(feature = "opentelemetry")]
    otel_keys: (Box<[u8]>, Box<[u8]>),
    /// Datadog wants the ids as unsigned decimals (the trace id's low 64 bits), not hex.
    #[cfg(feature = "opentelemetry")]
    otel_decimal: bool,
    /// The two keys, for the layer to rename user fields that collide with them.
    #[cfg(feature = "opentelemetry")]
    otel_names: (&'static str, &'static str),
}

impl Schema {
    /// `policy`: fixed values are redacted and capped like any value (a fixed field named like
    /// a secret is written as `"[REDACTED]"`).
    pub(crate) fn new(layout: &Layout, service: &str, env: &str, policy: &Policy) -> Schema {
        let names = layout.names();
        let key = |out: &mut Vec<u8>, name: &str| {
            quoted_into(out, name);
            out.push(b':');
        };
        let unix_ms = layout.time == TimeFormat::UNIX_MS;
        let mut open = b"{".to_vec();
        key(&mut open, names[0]);
        if !unix_ms {
            open.push(b'"');
        }
        let level_names = layout.format.levels();
        let levels = std::array::from_fn(|i| {
            let mut piece = Vec::new();
            if !unix_ms {
                piece.push(b'"');
            }
            piece.push(b',');
            key(&mut piece, names[1]);
            quoted_into(&mut piece, level_names[i]);
            piece.push(b',');
            key(&mut piece, names[2]);
            piece.push(b'"');
            Snippet::new(&piece)
        });
        let mut after_message = b"\",".to_vec();
        key(&mut after_message, names[3]);
        after_message.push(b'"');

        let mut constants = Vec::new();
        let mut constant = |name: &str, value: &[u8]| {
            constants.push(b',');
            key(&mut constants, name);
            constants.extend_from_slice(value);
        };
        let quoted = |s: &str| {
            let mut v = Vec::new();
            quoted_into(&mut v, s);
            v
        };
        if layout.format == Format::ECS {
            constant("ecs.version", &quoted(ECS_VERSION));
        }
        constant(names[4], &quoted(service));
        constant(names[5], &quoted(env));
        constant(names[6], &quoted(crate::host::host_name()));
        constant(
            names[7],
            itoa::Buffer::new().format(std::process::id()).as_bytes(),
        );
        for (name, value) in &layout.statics {
            let mut v = b"\"".to_vec();
            if policy.redaction.redacts_key(name) {
                v.extend_from_slice(REDACTED.as_bytes());
            } else {
                push_text(&mut v, policy.max_field, policy, value);
            }
            v.push(b'"');
            constant(name, &v);
        }
        let mut span_key = b",".to_vec();
        key(&mut span_key, names[8]);

        Schema {
            open: Snippet::new(&open),
            unix_ms,
            levels,
            after_message: Snippet::new(&after_message),
            source_location: layout.format == Format::GCP,
            constants: Snippet::new(&constants),
            span_key: Snippet::new(&span_key),
            critical: matches!(layout.format.0, Preset::Gcp | Preset::Datadog),
            written: names
                .iter()
                .take(WRITTEN)
                .copied()
                .chain(layout.statics.iter().map(|(k, _)| k.as_str()))
                .chain(layout.extra_keys())
                .map(Box::from)
                .collect(),
            #[cfg(feature = "opentelemetry")]
            otel_keys: {
                let mut trace = b",".to_vec();
                key(&mut trace, names[9]);
                trace.push(b'"');
                let mut span = b"\",".to_vec();
                key(&mut span, names[10]);
                span.push(b'"');
                (trace.into_boxed_slice(), span.into_boxed_slice())
            },
            #[cfg(feature = "opentelemetry")]
            otel_decimal: layout.format == Format::DATADOG,
            #[cfg(feature = "opentelemetry")]
            otel_names: (intern(names[9].to_owned()), intern(names[10].to_owned())),
        }
    }

    /// The keys of the OpenTelemetry ids.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn otel_names(&self) -> (&'static str, &'static str) {
        self.otel_names
    }

    /// The OpenTelemetry ids of the event's span, in the layout's keys and spelling: 32 and 16
    /// lower-case hex digits, or for Datadog the decimal of the trace id's low 64 bits and of
    /// the span id.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn push_otel_ids(&self, out: &mut Vec<u8>, trace: [u8; 16], span: [u8; 8]) {
        fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            for b in bytes {
                out.extend_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]);
            }
        }
        out.extend_from_slice(&self.otel_keys.0);
        if self.otel_decimal {
            let low = u64::from_be_bytes(trace[8..].try_into().expect("8 bytes"));
            out.extend_from_slice(itoa::Buffer::new().format(low).as_bytes());
        } else {
            hex(out, &trace);
        }
        out.extend_from_slice(&self.otel_keys.1);
        if self.otel_decimal {
            out.extend_from_slice(
                itoa::Buffer::new()
                    .format(u64::from_be_bytes(span))
                    .as_bytes(),
            );
        } else {
            hex(out, &span);
        }
        out.push(b'"');
    }

    /// Everything up to the message text: time, level, and the message's opening quote.
    /// `panic`: the record of a panic, which some platforms rank above ERROR.
    #[inline]
    pub(crate) fn head(&self, out: &mut Vec<u8>, micros: i64, level: &Level, panic: bool) {
        self.open.push_to(out);
        if self.unix_ms {
            out.extend_from_slice(
                itoa::Buffer::new()
                    .format(micros.div_euclid(1000))
                    .as_bytes(),
            );
        } else {
            push_rfc3339_cached(out, micros);
        }
        let i = match *level {
            Level::TRACE => 0,
            Level::DEBUG => 1,
            Level::INFO => 2,
            Level::WARN => 3,
            _ if panic => 5,
            _ => 4,
        };
        self.levels[i].push_to(out);
    }

    /// Whether [`Schema::head`] needs to know if an ERROR record is a panic.
    #[inline]
    pub(crate) fn ranks_panics(&self) -> bool {
        self.critical
    }

    /// Closes the message and opens the target text.
    #[inline]
    pub(crate) fn after_message(&self, out: &mut Vec<u8>) {
        self.after_message.push_to(out);
    }

    /// Closes the target, then the per-event source location (Cloud Logging only) and the
    /// fields every record shares.
    ///
    /// `callsite`: the event's own `'static` metadata, whose source location is rendered once
    /// per callsite; otherwise (a `log` record's, made per event) `meta`'s is rendered each time.
    #[inline]
    pub(crate) fn after_target(
        &self,
        out: &mut Vec<u8>,
        meta: Option<&Metadata<'_>>,
        callsite: Option<&'static Metadata<'static>>,
    ) {
        out.push(b'"');
        if self.source_location {
            location(out, meta, callsite);
        }
        self.constants.push_to(out);
    }

    /// Whether the record writes `key` itself (the crate's own records prefix an extra field
    /// of that name rather than duplicate the key).
    pub(crate) fn writes(&self, key: &str) -> bool {
        self.written.iter().any(|k| **k == *key)
    }

    /// `,"span":` before the innermost span's name.
    #[inline]
    pub(crate) fn span_key(&self) -> &Snippet {
        &self.span_key
    }
}

/// Out of line: only Cloud Logging's layout writes it, and the others' hot path stays small.
#[inline(never)]
fn location(
    out: &mut Vec<u8>,
    meta: Option<&Metadata<'_>>,
    callsite: Option<&'static Metadata<'static>>,
) {
    match (callsite, meta) {
        (Some(callsite), _) => out.extend_from_slice(source_location_of(callsite)),
        (None, Some(meta)) => push_source_location(out, meta),
        (None, None) => {}
    }
}

/// [`push_source_location`] for a callsite, rendered once per process and remembered per
/// thread: it costs as much as the rest of the record's fixed parts, and never changes. The
/// rendering is leaked once per callsite, like the callsite's own metadata.
fn source_location_of(callsite: &'static Metadata<'static>) -> &'static [u8] {
    type Slot = Cell<(usize, &'static [u8])>;
    const SLOTS: usize = 64;
    thread_local! {
        static SEEN: [Slot; SLOTS] = const { [const { Cell::new((0, &[])) }; SLOTS] };
    }
    static RENDERED: Mutex<Vec<(usize, &'static [u8])>> = Mutex::new(Vec::new());
    let addr = std::ptr::from_ref(callsite) as usize;
    let set = ((addr >> 4 ^ addr >> 11) % SLOTS) & !1;
    SEEN.with(|seen| {
        for slot in [set, set + 1] {
            let (a, bytes) = seen[slot].get();
            if a == addr {
                return bytes;
            }
        }
        let bytes = {
            let mut all = RENDERED.lock();
            match all.iter().find(|(a, _)| *a == addr) {
                Some((_, bytes)) => *bytes,
                None => {
                    let mut v = Vec::new();
                    push_source_location(&mut v, callsite);
                    let bytes: &'static [u8] = Box::leak(v.into_boxed_slice());
                    all.push((addr, bytes));
                    bytes
                }
            }
        };
        seen[set + 1].set(seen[set].get());
        seen[set].set((addr, bytes));
        bytes
    })
}

/// `,"logging.googleapis.com/sourceLocation":{"file":…,"line":"42","function":…}`: Cloud
/// Logging's `LogEntrySourceLocation`, whose `line` is an int64 and so a string in JSON; the
/// function is the module path, the closest thing `tracing` knows.
fn push_source_location(out: &mut Vec<u8>, meta: &Metadata<'_>) {
    let (file, line, function) = (meta.file(), meta.line(), meta.module_path());
    if file.is_none() && line.is_none() && function.is_none() {
        return;
    }
    out.extend_from_slice(b",\"");
    out.extend_from_slice(SOURCE_LOCATION_KEY.as_bytes());
    out.extend_from_slice(b"\":{");
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    if let Some(file) = file {
        sep(out);
        out.extend_from_slice(b"\"file\":");
        quoted_into(out, file);
    }
    if let Some(line) = line {
        sep(out);
        out.extend_from_slice(b"\"line\":\"");
        out.extend_from_slice(itoa::Buffer::new().format(line).as_bytes());
        out.push(b'"');
    }
    if let Some(function) = function {
        sep(out);
        out.extend_from_slice(b"\"function\":");
        quoted_into(out, function);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_get_the_prefix_and_others_pass() {
        let r = Layout::default().reserved();
        assert_eq!(r.key("level"), "fields.level");
        assert_eq!(r.key("levels"), "levels");
        assert_eq!(r.key(DROPPED_FIELDS_KEY), "fields.logwarden.dropped_fields");
        let ecs = Layout {
            format: Format::ECS,
            ..Layout::default()
        }
        .reserved();
        assert_eq!(ecs.key("level"), "level");
        assert_eq!(ecs.key("log.level"), "fields.log.level");
        assert_eq!(ecs.key("ecs.version"), "fields.ecs.version");
        // Interned: the same renamed key is the same string, whichever layer asked.
        assert!(std::ptr::eq(
            Layout::default().reserved().key("level"),
            r.key("level")
        ));
    }

    #[test]
    fn check_names_the_setting() {
        let mut layout = Layout::default();
        layout.renames.push((Key::LEVEL, "message".into()));
        let (setting, value, _) = layout.check().unwrap_err();
        assert_eq!(
            (setting.as_str(), value.as_str()),
            ("rename(Key::LEVEL)", "message")
        );
        let mut layout = Layout::default();
        layout.renames.push((Key::HOST, " ".into()));
        assert!(layout.check().is_err());
        let mut layout = Layout::default();
        layout.statics.push(("pid".into(), "1".into()));
        assert_eq!(layout.check().unwrap_err().1, "pid");
        let mut layout = Layout::default();
        layout.renames.push((Key::LEVEL, "severity".into()));
        layout.statics.push(("level".into(), "x".into()));
        assert!(layout.check().is_ok(), "the old name is free once renamed");
    }
}

//! Property tests of the record: whatever names and values an application records —
//! any Unicode, control characters, huge or empty text, reserved names, NaN — every event is
//! exactly one line of valid JSON whose own keys are intact and whose values come back unchanged,
//! or redacted, cut or left out exactly as documented.
//!
//! Field names in `tracing` are `&'static str` fixed at the callsite, so each generated event
//! (and span) gets a callsite of its own, built at run time and leaked: a few hundred bytes per
//! case, which a test process can afford. Case counts are fixed, not read from the environment,
//! so the file is a bounded part of CI; nothing is written to the repository on failure.

use std::sync::OnceLock;

use logwarden::redact::{Redaction, ValuePatterns};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value as Json;
use tracing::field::{Field, FieldSet, Value};
use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, Kind, Level, Metadata};

use crate::support;
use crate::support::REDACTED;

const SERVICE: &str = "svc";
const ENV: &str = "test";
/// Fields per generated event or span. `ValueSet`s are built from fixed-size arrays; a `None`
/// value leaves a field out, so events still carry anywhere from zero to this many.
const FIELDS: usize = 4;
/// The keys every record starts with, in this order.
const HEADER: [&str; 8] = [
    "timestamp",
    "level",
    "message",
    "target",
    "service",
    "env",
    "host",
    "pid",
];
/// The key counting the fields a full line left out.
const DROPPED_FIELDS: &str = "logwarden.dropped_fields";
/// Room the layer holds back under the line cap for the dropped-fields count and the closing
/// brace (56 bytes today). A field left out must not have fitted even with this much spare.
const LINE_RESERVE: usize = 64;

// ---------------------------------------------------------------------------------------------
// Inputs

/// A recorded value, in each of the ways `tracing` can hand one to a layer.
#[derive(Clone, Debug)]
enum FieldValue {
    /// `record_str`.
    Str(String),
    /// `record_debug` through `tracing::field::display`.
    Display(String),
    /// `record_debug` of a `String`: the quoted, escaped Rust form.
    Debug(String),
    /// `record_debug` of a derived `Debug`, which writes in many small pieces.
    Nested(Nested),
    F64(f64),
    I64(i64),
    U64(u64),
    Bool(bool),
}

/// A struct whose derived `Debug` output arrives at the layer in many `write_str` calls.
#[derive(Clone, Debug)]
#[allow(dead_code)] // Read through `Debug` only.
struct Nested {
    text: String,
    chars: Vec<char>,
    ratio: f64,
}

impl FieldValue {
    fn as_value(&self) -> Box<dyn Value + '_> {
        match self {
            FieldValue::Str(s) => Box::new(s.as_str()),
            FieldValue::Display(s) => Box::new(tracing::field::display(s)),
            FieldValue::Debug(s) => Box::new(tracing::field::debug(s)),
            FieldValue::Nested(n) => Box::new(tracing::field::debug(n)),
            FieldValue::F64(v) => Box::new(*v),
            FieldValue::I64(v) => Box::new(*v),
            FieldValue::U64(v) => Box::new(*v),
            FieldValue::Bool(v) => Box::new(*v),
        }
    }

    /// The text a text-like value is written as before any cap; `None` for numbers and booleans.
    fn text(&self) -> Option<String> {
        match self {
            FieldValue::Str(s) | FieldValue::Display(s) => Some(s.clone()),
            FieldValue::Debug(s) => Some(format!("{s:?}")),
            FieldValue::Nested(n) => Some(format!("{n:?}")),
            FieldValue::F64(_) | FieldValue::I64(_) | FieldValue::U64(_) | FieldValue::Bool(_) => {
                None
            }
        }
    }
}

/// A field name and its value; `None` leaves the field out of the event.
type Slot = (String, Option<FieldValue>);

#[derive(Clone, Debug)]
struct SpanInput {
    name: String,
    slots: [Slot; FIELDS],
}

#[derive(Clone, Debug)]
struct EventInput {
    target: String,
    slots: [Slot; FIELDS],
}

/// Events, all inside one span when there is one.
#[derive(Clone, Debug)]
struct Case {
    span: Option<SpanInput>,
    events: Vec<EventInput>,
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Characters weighted towards the ones escaping must handle and the near misses it must not.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        3 => proptest::char::range('\0', '\u{1f}'),
        3 => select(vec![
            '"', '\\', '/', '\u{7f}', '\u{2028}', '\u{2029}', '\u{2027}', '\u{202a}', '…', '€',
            'é', '日', '🎉', '\u{feff}', '\u{fffd}', '\u{a0}',
        ]),
        4 => proptest::char::range('a', 'z'),
        1 => Just(' '),
    ]
}

/// Text of up to `max_chars` characters: empty, printable Unicode, or heavy on tricky characters.
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        2 => proptest::string::string_regex("\\PC*").expect("a valid regex"),
        6 => proptest::collection::vec(tricky_char(), 0..=max_chars).prop_map(String::from_iter),
    ]
}

/// A short seed repeated to at least `min_bytes`: huge values that still shrink to small seeds.
fn huge_text(min_bytes: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(tricky_char(), 1..8).prop_map(String::from_iter),
        min_bytes,
    )
        .prop_map(|(seed, len)| {
            let mut huge = String::with_capacity(len + seed.len());
            while huge.len() < len {
                huge.push_str(&seed);
            }
            huge
        })
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => any::<f64>(),
        1 => select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            5e-324,
        ]),
    ]
}

fn field_value(texts: BoxedStrategy<String>) -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        4 => texts.clone().prop_map(FieldValue::Str),
        2 => texts.clone().prop_map(FieldValue::Display),
        2 => texts.clone().prop_map(FieldValue::Debug),
        1 => (texts, proptest::collection::vec(tricky_char(), 0..8), float())
            .prop_map(|(text, chars, ratio)| FieldValue::Nested(Nested { text, chars, ratio })),
        2 => float().prop_map(FieldValue::F64),
        1 => any::<i64>().prop_map(FieldValue::I64),
        1 => any::<u64>().prop_map(FieldValue::U64),
        1 => any::<bool>().prop_map(FieldValue::Bool),
    ]
}

/// Names from small pools, so that reserved names, their `fields.` forms, sensitive names and
/// duplicates come up often, and arbitrary text (including empty) for the rest.
fn field_name() -> impl Strategy<Value = String> {
    const RESERVED: [&str; 10] = [
        "timestamp",
        "level",
        "message",
        "target",
        "service",
        "env",
        "host",
        "pid",
        "span",
        DROPPED_FIELDS,
    ];
    prop_oneof![
        2 => Just("message".to_owned()),
        3 => select(&RESERVED[..]).prop_map(str::to_owned),
        2 => select(&RESERVED[..]).prop_map(|name| format!("fields.{name}")),
        2 => select(sensitive_names()).prop_map(str::to_owned),
        1 => select(&NEAR_MISSES[..]).prop_map(str::to_owned),
        3 => select(vec!["a", "b", "", "user_id", "trace_id", "fields.user", "log.target"])
            .prop_map(str::to_owned),
        3 => text(12).prop_filter("a word of a default key", |name| !has_key_word(name)),
    ]
}

/// Boxed, as are the strategies built on it: unboxed, the nested value trees of a case are
/// large enough to overflow a test thread's stack in debug builds.
fn slots(texts: BoxedStrategy<String>) -> BoxedStrategy<[Slot; FIELDS]> {
    let slot = (
        field_name(),
        proptest::option::weighted(0.85, field_value(texts)),
    )
        .boxed();
    proptest::array::uniform4(slot).boxed()
}

fn case(texts: BoxedStrategy<String>) -> BoxedStrategy<Case> {
    let span = (
        prop_oneof![3 => Just("request".to_owned()), 1 => text(12)],
        slots(texts.clone()),
    )
        .prop_map(|(name, slots)| SpanInput { name, slots })
        .boxed();
    let event = (
        prop_oneof![
            5 => Just("props".to_owned()),
            2 => text(24),
            2 => huge_text(300..3_000),
        ],
        slots(texts),
    )
        .prop_map(|(target, slots)| EventInput { target, slots })
        .boxed();
    (
        proptest::option::weighted(0.6, span),
        proptest::collection::vec(event, 1..=3),
    )
        .prop_map(|(span, events)| Case { span, events })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Redacted names, known without asking the crate

/// Every word of the documented default keys. A name containing none of them (in any ASCII
/// case) cannot contain a key's words, nor a word starting or ending with a key.
const KEY_WORDS: [&str; 16] = [
    "password",
    "passwd",
    "secret",
    "token",
    "api",
    "key",
    "apikey",
    "authorization",
    "cookie",
    "set",
    "session",
    "credit",
    "card",
    "number",
    "cvv",
    "ssn",
];

/// Names that hold a key's words and are still not redacted by the documented rule: a key's
/// part, a plural, a key inside a longer word.
const NEAR_MISSES: [&str; 9] = [
    "passwords_enabled",
    "tokens_used",
    "lesson",
    "sessions",
    "cvvs",
    "api",
    "key",
    "card_count",
    "set_by",
];

fn has_key_word(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    KEY_WORDS.iter().any(|word| name.contains(word))
}

/// Each documented default key as written, in capitals, after a snake-case word, in a
/// capitalised kebab-case name, at the end of a camelCase name and under the `fields.` prefix;
/// and the documented examples of a long key inside a lowercase compound.
fn sensitive_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let title = |w: &str| w[..1].to_ascii_uppercase() + &w[1..];
        let mut names: Vec<String> = crate::privacy::DOCUMENTED_KEYS
            .iter()
            .flat_map(|key| {
                let words: Vec<&str> = key.split(['_', '-']).collect();
                let titled: Vec<String> = words.iter().map(|w| title(w)).collect();
                [
                    (*key).to_owned(),
                    key.to_ascii_uppercase(),
                    format!("db_{}", words.join("_")),
                    format!("X-{}", titled.join("-")),
                    format!("user{}", titled.concat()),
                    format!("fields.{key}"),
                ]
            })
            .collect();
        names.extend(["newpassword", "csrftoken", "sessionid"].map(str::to_owned));
        names.into_iter().map(|n| leak_str(&n)).collect()
    })
}

/// Whether the documented default keys redact a field named `name`. Generated names are a
/// [`sensitive_names`] entry, a [`NEAR_MISSES`] entry, or hold no [`KEY_WORDS`] at all.
fn redacted_by_default(name: &str) -> bool {
    if sensitive_names().contains(&name) {
        return true;
    }
    assert!(
        NEAR_MISSES.contains(&name) || !has_key_word(name),
        "no known answer for {name:?}"
    );
    false
}

// ---------------------------------------------------------------------------------------------
// Recording through a real logwarden stack

/// A callsite made at run time, so that its field names can be generated.
struct GeneratedCallsite {
    metadata: OnceLock<Metadata<'static>>,
}

impl Callsite for GeneratedCallsite {
    fn set_interest(&self, _: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        self.metadata.get().expect("set when the callsite is made")
    }
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// Metadata for a span or event with these field names, leaked. The callsite is not registered
/// with `tracing_core::callsite::register`: the default filter (`info`) needs no per-callsite
/// interest, and registering would make every later dispatcher revisit every leaked callsite.
fn leak_metadata(
    kind: Kind,
    name: &str,
    target: &str,
    slots: &[Slot; FIELDS],
) -> &'static Metadata<'static> {
    let callsite: &'static GeneratedCallsite = Box::leak(Box::new(GeneratedCallsite {
        metadata: OnceLock::new(),
    }));
    let names: Vec<&'static str> = slots.iter().map(|(name, _)| leak_str(name)).collect();
    let metadata = Metadata::new(
        leak_str(name),
        leak_str(target),
        Level::INFO,
        Some(file!()),
        Some(line!()),
        Some(module_path!()),
        FieldSet::new(Box::leak(names.into_boxed_slice()), Identifier(callsite)),
        kind,
    );
    callsite.metadata.get_or_init(|| metadata)
}

/// Calls `f` with the slots' values as a `ValueSet` of `metadata`'s fields.
fn with_values<R>(
    metadata: &'static Metadata<'static>,
    slots: &[Slot; FIELDS],
    f: impl FnOnce(&tracing::field::ValueSet<'_>) -> R,
) -> R {
    let fields: Vec<Field> = metadata.fields().iter().collect();
    let values: Vec<Option<Box<dyn Value + '_>>> = slots
        .iter()
        .map(|(_, value)| value.as_ref().map(FieldValue::as_value))
        .collect();
    let pairs: [(&Field, Option<&dyn Value>); FIELDS] =
        std::array::from_fn(|i| (&fields[i], values[i].as_deref()));
    f(&metadata.fields().value_set(&pairs))
}

/// Asks the current dispatcher whether it wants `metadata`, as the `tracing` macros do first.
fn enabled(metadata: &'static Metadata<'static>) -> bool {
    tracing::dispatcher::get_default(|dispatch| dispatch.enabled(metadata))
}

/// Logs `case` under a logwarden layer (service `svc`, env `test`, configured by `configure`)
/// and returns the lines of its file.
fn record(
    configure: impl FnOnce(logwarden::Builder) -> logwarden::Builder,
    case: &Case,
) -> Vec<String> {
    let span = case
        .span
        .as_ref()
        .map(|s| (leak_metadata(Kind::SPAN, &s.name, "props", &s.slots), s));
    let events: Vec<_> = case
        .events
        .iter()
        .map(|e| {
            let metadata = leak_metadata(Kind::EVENT, "event", &e.target, &e.slots);
            (metadata, e)
        })
        .collect();
    let dispatch_events = || {
        for (metadata, event) in &events {
            assert!(enabled(metadata), "the INFO event is filtered out");
            with_values(metadata, &event.slots, |values| {
                tracing::dispatcher::get_default(|d| d.event(&Event::new(metadata, values)));
            });
        }
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let builder = logwarden::builder()
        .service(SERVICE)
        .env(ENV)
        .dir(dir.path())
        .capture_log(false)
        .alerts(false);
    let (path, _) = support::run(configure(builder), || match span {
        Some((metadata, input)) => {
            assert!(enabled(metadata), "the INFO span is filtered out");
            let span = with_values(metadata, &input.slots, |values| {
                tracing::Span::new(metadata, values)
            });
            span.in_scope(dispatch_events);
        }
        None => dispatch_events(),
    });
    support::read_lines(&path)
}

// ---------------------------------------------------------------------------------------------
// The documented behaviour, as an oracle

/// The length of `c` once escaped in a record: JSON's escapes (short forms for `\b \f \n \r \t`,
/// `\u00XX` for the other control characters) plus `\u` escapes for DEL, U+2028 and U+2029.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        '\0'..='\u{1f}' | '\u{7f}' | '\u{2028}' | '\u{2029}' => 6,
        c => c.len_utf8(),
    }
}

fn escaped_str_len(s: &str) -> usize {
    s.chars().map(escaped_len).sum()
}

/// `text` as written under a cap of `cap` bytes of JSON text: whole if it fits, otherwise the
/// longest prefix of whole characters whose escaped form fits, then `…[truncated N bytes]` with
/// N counted in the original text.
fn capped(text: &str, cap: usize) -> String {
    let mut used = 0;
    let mut fits = 0;
    for (at, c) in text.char_indices() {
        used += escaped_len(c);
        if used > cap {
            break;
        }
        fits = at + c.len_utf8();
    }
    if fits == text.len() {
        text.to_owned()
    } else {
        format!("{}…[truncated {} bytes]", &text[..fits], text.len() - fits)
    }
}

fn is_reserved(name: &str) -> bool {
    HEADER.contains(&name) || name == "span" || name == DROPPED_FIELDS
}

/// The JSON key a user field is written under: a reserved name, or one that already starts
/// with the prefix, gets the prefix, so that no two names share a key.
fn key_of(name: &str) -> String {
    if is_reserved(name) || name.starts_with("fields.") {
        format!("fields.{name}")
    } else {
        name.to_owned()
    }
}

/// Whether two field names end up as the same key (only equal names do now: `level` and
/// `fields.level` are written as `fields.level` and `fields.fields.level`).
fn same_key(a: &str, b: &str) -> bool {
    key_of(a) == key_of(b)
}

#[derive(Debug)]
enum Expect {
    Text(String),
    Redacted,
    F64(f64),
    I64(i64),
    U64(u64),
    Bool(bool),
}

#[derive(Debug)]
struct ExpectedField {
    key: String,
    expect: Expect,
}

impl ExpectedField {
    fn new(name: &str, value: &FieldValue) -> ExpectedField {
        let expect = if redacted_by_default(name) {
            Expect::Redacted
        } else {
            match value {
                FieldValue::F64(v) => Expect::F64(*v),
                FieldValue::I64(v) => Expect::I64(*v),
                FieldValue::U64(v) => Expect::U64(*v),
                FieldValue::Bool(v) => Expect::Bool(*v),
                text => Expect::Text(text.text().expect("a text value")),
            }
        };
        ExpectedField {
            key: key_of(name),
            expect,
        }
    }

    /// The bytes of its `"key":value` fragment, under a value cap of `cap`.
    fn fragment_len(&self, cap: usize) -> usize {
        let value = match &self.expect {
            Expect::Text(t) => 2 + escaped_str_len(&capped(t, cap)),
            Expect::Redacted => 2 + REDACTED.len(),
            Expect::F64(v) if v.is_finite() => serde_json::to_string(v).unwrap().len(),
            Expect::F64(v) if v.is_nan() => "\"NaN\"".len(),
            Expect::F64(v) if *v > 0.0 => "\"inf\"".len(),
            Expect::F64(_) => "\"-inf\"".len(),
            Expect::I64(v) => v.to_string().len(),
            Expect::U64(v) => v.to_string().len(),
            Expect::Bool(v) => v.to_string().len(),
        };
        2 + escaped_str_len(&self.key) + 1 + value
    }
}

/// The message text and the user fields (span fields first) a record should hold, before the
/// line cap: the first value of a name wins, an event field shadows a span field of the same
/// key, and a text value named `message` on the event is the message.
fn expected_record(span: Option<&SpanInput>, event: &EventInput) -> (String, Vec<ExpectedField>) {
    let mut message = None;
    let mut event_names: Vec<&str> = Vec::new();
    let mut event_fields = Vec::new();
    for (name, value) in &event.slots {
        let Some(value) = value else { continue };
        if name == "message" {
            if let Some(text) = value.text() {
                message.get_or_insert(text);
                continue;
            }
            if message.is_some() {
                continue; // a later `message` of any type is a duplicate of the message
            }
        }
        if event_names.iter().any(|n| same_key(n, name)) {
            continue;
        }
        event_names.push(name);
        event_fields.push(ExpectedField::new(name, value));
    }
    let mut span_names: Vec<&str> = Vec::new();
    let mut fields = Vec::new();
    for (name, value) in span.iter().flat_map(|s| &s.slots) {
        let Some(value) = value else { continue };
        if span_names.iter().any(|n| same_key(n, name)) {
            continue;
        }
        span_names.push(name);
        if !event_names.iter().any(|n| same_key(n, name)) {
            fields.push(ExpectedField::new(name, value));
        }
    }
    fields.extend(event_fields);
    (message.unwrap_or_default(), fields)
}

// ---------------------------------------------------------------------------------------------
// Checks

/// The top-level members of a one-line JSON object of scalars, as (decoded key, raw value
/// text), in order. The line must already have parsed.
fn raw_members(line: &str) -> Vec<(String, &str)> {
    let b = line.as_bytes();
    let string_end = |start: usize| {
        assert_eq!(b[start], b'"');
        let mut i = start + 1;
        while b[i] != b'"' {
            i += if b[i] == b'\\' { 2 } else { 1 };
        }
        i + 1
    };
    let mut members = Vec::new();
    let mut i = 1;
    while i < b.len() - 1 {
        let key_end = string_end(i);
        let key: String = serde_json::from_str(&line[i..key_end]).expect("a JSON string key");
        assert_eq!(b[key_end], b':', "no colon after key {key:?}");
        let value_start = key_end + 1;
        let value_end = if b[value_start] == b'"' {
            string_end(value_start)
        } else {
            value_start
                + b[value_start..]
                    .iter()
                    .position(|&c| c == b',' || c == b'}')
                    .expect("a scalar value ends")
        };
        members.push((key, &line[value_start..value_end]));
        i = value_end + 1;
    }
    members
}

fn check_value(field: &ExpectedField, json: &Json, raw: &str, max_field: usize) {
    let key = &field.key;
    match &field.expect {
        Expect::Text(text) => {
            let written = json
                .as_str()
                .unwrap_or_else(|| panic!("{key:?}: {json} is not a string"));
            assert_eq!(written, capped(text, max_field), "{key:?} from {text:?}");
        }
        Expect::Redacted => assert_eq!(json, REDACTED, "{key:?} is not redacted"),
        Expect::F64(v) if v.is_nan() => assert_eq!(json, "NaN", "{key:?}"),
        Expect::F64(v) if v.is_infinite() => {
            assert_eq!(json, if *v > 0.0 { "inf" } else { "-inf" }, "{key:?}")
        }
        Expect::F64(v) => {
            assert!(json.is_number(), "{key:?}: {raw} is not a number");
            // Rust's parser is exact (serde_json's default one may be off by an ulp).
            let back: f64 = raw.parse().expect("a JSON number parses as f64");
            assert_eq!(back.to_bits(), v.to_bits(), "{key:?}: {raw} is not {v:?}");
        }
        Expect::I64(v) => assert_eq!(json.as_i64(), Some(*v), "{key:?}: {raw}"),
        Expect::U64(v) => assert_eq!(json.as_u64(), Some(*v), "{key:?}: {raw}"),
        Expect::Bool(v) => assert_eq!(json.as_bool(), Some(*v), "{key:?}: {raw}"),
    }
}

#[derive(Clone, Copy, Debug)]
struct Caps {
    field: usize,
    line: usize,
}

impl Caps {
    const DEFAULT: Caps = Caps {
        field: 32 * 1024,
        line: 96 * 1024,
    };
}

/// Everything the record promises about one event's line.
fn check_line(line: &str, span: Option<&SpanInput>, event: &EventInput, caps: Caps) {
    assert!(
        !line.contains(['\u{2028}', '\u{2029}']),
        "raw line separator in {line:?}"
    );
    assert!(
        line.len() < caps.line,
        "{} bytes and a newline exceed the {}-byte line cap",
        line.len(),
        caps.line
    );
    support::assert_no_duplicate_keys(line);
    let record = support::parse_line(line);
    let members = raw_members(line);
    let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();

    let mut header = HEADER.to_vec();
    if span.is_some() {
        header.push("span");
    }
    assert_eq!(keys[..header.len()], header[..], "record keys in {line}");
    assert_eq!(record["level"], "INFO");
    assert_eq!(record["service"], SERVICE);
    assert_eq!(record["env"], ENV);
    assert_eq!(record["pid"], std::process::id());
    assert!(record["host"].as_str().is_some_and(|h| !h.is_empty()));
    let timestamp = record["timestamp"].as_str().expect("timestamp is a string");
    assert!(
        timestamp.len() == 27 && timestamp.ends_with('Z'),
        "{timestamp}"
    );
    if let Some(span) = span {
        assert_eq!(record["span"], span.name);
    }
    let (message, expected) = expected_record(span, event);
    let host = record["host"].as_str().unwrap_or_default();
    let texts = [
        ("message", &record["message"], &message),
        ("target", &record["target"], &event.target),
    ];
    if header_len(&message, &event.target, host, span, caps.field) + LINE_RESERVE <= caps.line {
        for (key, written, text) in texts {
            assert_eq!(*written, capped(text, caps.field), "{key}");
        }
    } else {
        // The record's own keys alone overflow the line: both texts are cut shorter.
        for (key, written, text) in texts {
            let written = written
                .as_str()
                .unwrap_or_else(|| panic!("{key} is a string"));
            assert_cut_within(written, text, caps.field, key);
        }
    }

    let mut user = &members[header.len()..];
    let mut dropped = 0;
    if let Some(((key, raw), rest)) = user.split_last() {
        if key == DROPPED_FIELDS {
            dropped = raw.parse::<usize>().expect("the dropped count is a number");
            assert!(dropped > 0, "a zero dropped count is written");
            user = rest;
        }
    }
    // Written fields appear in the expected order; the others were left out by the line cap.
    let mut left_out = Vec::new();
    let mut written = user.iter().peekable();
    for field in &expected {
        match written.peek() {
            Some((key, raw)) if *key == field.key => {
                check_value(field, &record[key.as_str()], raw, caps.field);
                written.next();
            }
            _ => left_out.push(field),
        }
    }
    let unexpected: Vec<_> = written.map(|(key, _)| key).collect();
    assert!(
        unexpected.is_empty(),
        "unexpected or misplaced keys {unexpected:?}; expected {expected:#?}"
    );
    assert_eq!(
        left_out.len(),
        dropped,
        "{DROPPED_FIELDS} does not count the fields left out: {left_out:#?}"
    );
    let before_count = if dropped > 0 {
        line.len() - format!(",\"{DROPPED_FIELDS}\":{dropped}}}").len()
    } else {
        line.len() - 1
    };
    for field in left_out {
        assert!(
            before_count + 1 + field.fragment_len(caps.field) > caps.line - LINE_RESERVE,
            "{:?} was left out although it fitted",
            field.key
        );
    }
}

/// The length of the record's own keys (everything before the user fields) when the message and
/// the target are cut at `cap`.
fn header_len(
    message: &str,
    target: &str,
    host: &str,
    span: Option<&SpanInput>,
    cap: usize,
) -> usize {
    let string = |s: &str| 2 + escaped_str_len(s);
    let pid = std::process::id().to_string();
    let members = [
        ("timestamp", string("2026-11-25T22:00:59.123456Z")),
        ("level", string("INFO")),
        ("message", string(&capped(message, cap))),
        ("target", string(&capped(target, cap))),
        ("service", string(SERVICE)),
        ("env", string(ENV)),
        ("host", string(host)),
        ("pid", pid.len()),
    ];
    let span = span.map_or(0, |s| ",\"span\":".len() + string(&s.name));
    // `{`, then `"key":value` joined by commas.
    1 + members
        .iter()
        .map(|(key, value)| key.len() + 3 + value)
        .sum::<usize>()
        + (members.len() - 1)
        + span
}

/// `written` is `text`, or a cut of it: a prefix of whole characters whose escaped form fits
/// `cap`, then `…[truncated N bytes]` with N the bytes left out.
fn assert_cut_within(written: &str, text: &str, cap: usize, what: &str) {
    if written == text {
        assert!(escaped_str_len(text) <= cap, "{what} {text:?} is not cut");
        return;
    }
    let (prefix, count) = written
        .rsplit_once("…[truncated ")
        .and_then(|(prefix, rest)| Some((prefix, rest.strip_suffix(" bytes]")?)))
        .unwrap_or_else(|| panic!("{what} {written:?} is neither {text:?} nor a cut of it"));
    assert!(
        text.starts_with(prefix),
        "{what}: {prefix:?} is not a prefix of {text:?}"
    );
    assert!(
        escaped_str_len(prefix) <= cap,
        "{what}: {prefix:?} passes the cap"
    );
    assert_eq!(
        count.parse::<usize>().ok(),
        Some(text.len() - prefix.len()),
        "{what}: wrong count in {written:?}"
    );
}

fn check_case(case: &Case, lines: &[String], caps: Caps) {
    assert_eq!(
        lines.len(),
        case.events.len(),
        "one line per event: {lines:#?}"
    );
    for (line, event) in lines.iter().zip(&case.events) {
        check_line(line, case.span.as_ref(), event, caps);
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Line caps from the minimum up, and value caps from the minimum to half the line cap (the
/// builder's bounds), with the bounds themselves often.
fn small_caps() -> impl Strategy<Value = Caps> {
    prop_oneof![Just(1024usize), 1024usize..=4096].prop_flat_map(|line| {
        prop_oneof![1 => Just(64), 1 => Just(256), 2 => Just(line / 2), 2 => 64..=line / 2]
            .prop_map(move |field| Caps { field, line })
    })
}

fn small_cap_texts() -> BoxedStrategy<String> {
    prop_oneof![
        5 => text(40),
        3 => text(300),
        2 => huge_text(1_000..20_000),
    ]
    .boxed()
}

fn default_cap_texts() -> BoxedStrategy<String> {
    prop_oneof![
        1 => text(40),
        4 => huge_text(20_000..80_000),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(config(256))]

    /// Small caps, so that cutting values and leaving fields out happen in most cases.
    #[test]
    fn any_fields_make_one_valid_line_per_event_under_small_caps(
        caps in small_caps(),
        case in case(small_cap_texts()),
    ) {
        let lines = record(
            |b| b.max_field_bytes(caps.field).max_line_bytes(caps.line),
            &case,
        );
        check_case(&case, &lines, caps);
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// A message and a target that alone overflow the line: the line cap still holds, both are
    /// cut (shorter than the value cap if need be), and the fields follow the usual rules.
    #[test]
    fn a_huge_message_and_target_are_cut_to_fit_the_line(
        line in 1024usize..=4096,
        message in huge_text(1_000..8_000),
        target in huge_text(1_000..8_000),
        mut case in case(small_cap_texts()),
    ) {
        let caps = Caps { field: line / 2, line };
        for event in &mut case.events {
            event.target.clone_from(&target);
            event.slots[0] = ("message".to_owned(), Some(FieldValue::Display(message.clone())));
        }
        let lines = record(
            |b| b.max_field_bytes(caps.field).max_line_bytes(caps.line),
            &case,
        );
        check_case(&case, &lines, caps);
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// The default caps against values of tens of KiB.
    #[test]
    fn huge_values_are_cut_and_lines_stay_under_the_default_caps(
        case in case(default_cap_texts())
    ) {
        let lines = record(|b| b, &case);
        check_case(&case, &lines, Caps::DEFAULT);
    }
}

// ---------------------------------------------------------------------------------------------
// Value patterns

/// Secrets every pattern of [`ValuePatterns::ALL`] must catch, each with the part of it that must
/// never be written.
const SECRETS: [(&str, &str); 5] = [
    ("alice@example.com", "alice@"),
    ("4111 1111 1111 1111", "4111 1111 1111 1111"),
    ("Bearer abcdefgh12345678", "abcdefgh12345678"),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        "eyJhbGciOiJIUzI1NiJ9",
    ),
    ("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
];

/// Characters that end a secret for every pattern: not word characters (`[A-Za-z0-9_]`), not
/// characters a pattern continues through (`-` `.` `+` `/` `=` `~` `%` `@` in e-mails, domains,
/// tokens and JWTs). A space is one: a card number followed by more digit groups (a CVV, a year)
/// is still found as the longest valid prefix. Escaped characters and non-ASCII ones are
/// separators to the scanner.
const SEPARATORS_AFTER: [char; 27] = [
    '\n', '\t', '\r', '\0', '\u{1}', '\u{1f}', '\u{7f}', '"', '\\', ',', ';', ':', '!', '?', '(',
    ')', '<', '>', '[', '\'', '|', '\u{2028}', '\u{2029}', 'é', '日', '🎉', ' ',
];

/// Before a secret a space is a separator too: nothing before it can swallow the secret.
fn separator_before() -> impl Strategy<Value = char> {
    prop_oneof![3 => Just(' '), 7 => select(&SEPARATORS_AFTER[..])]
}

/// A secret with a separator and arbitrary text on each side.
fn text_with_secret() -> impl Strategy<Value = (String, usize)> {
    (
        text(30),
        separator_before(),
        0..SECRETS.len(),
        select(&SEPARATORS_AFTER[..]),
        text(30),
    )
        .prop_map(|(before, open, secret, close, after)| {
            (
                format!("{before}{open}{}{close}{after}", SECRETS[secret].0),
                secret,
            )
        })
}

proptest! {
    #![proptest_config(config(256))]

    /// A secret delimited by separators is masked in the message, in event fields (as a string
    /// and through `Display`) and in span fields, whatever surrounds it.
    #[test]
    fn secrets_between_separators_are_masked_in_any_text(
        (message, in_message) in text_with_secret(),
        (note, in_note) in text_with_secret(),
        (detail, in_detail) in text_with_secret(),
        (context, in_context) in text_with_secret(),
    ) {
        let case = Case {
            span: Some(SpanInput {
                name: "request".to_owned(),
                slots: [
                    ("context".to_owned(), Some(FieldValue::Str(context))),
                    ("a".to_owned(), None),
                    ("b".to_owned(), None),
                    ("c".to_owned(), None),
                ],
            }),
            events: vec![EventInput {
                target: "props".to_owned(),
                slots: [
                    ("message".to_owned(), Some(FieldValue::Str(message))),
                    ("note".to_owned(), Some(FieldValue::Str(note))),
                    ("detail".to_owned(), Some(FieldValue::Display(detail))),
                    ("d".to_owned(), None),
                ],
            }],
        };
        let lines = record(
            |b| b.redaction(Redaction::default().values(ValuePatterns::ALL)),
            &case,
        );
        prop_assert_eq!(lines.len(), 1);
        let line = &lines[0];
        support::assert_no_duplicate_keys(line);
        assert!(!line.contains(['\u{2028}', '\u{2029}']), "raw line separator in {line:?}");
        let record = support::parse_line(line);
        for (key, secret) in [
            ("message", in_message),
            ("note", in_note),
            ("detail", in_detail),
            ("context", in_context),
        ] {
            let value = record[key].as_str().unwrap_or_else(|| panic!("{key} in {line}"));
            let visible = SECRETS[secret].1;
            prop_assert!(!value.contains(visible), "{} shows {:?}: {:?}", key, visible, value);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Several messages in one event

/// The first value of a name wins, for `message` too. The `tracing` macros put the formatted
/// message first, so `info!(message = "a", "b")` writes "b" (it used to write "ba").
#[test]
fn a_second_text_message_does_not_change_the_message() {
    let (_, records) = support::capture(|| {
        tracing::info!(message = "a", "b");
        tracing::info!(message = "a", message = 7, message = ?"c", "d");
    });
    assert_eq!(records[0]["message"], "b");
    assert_eq!(records[1]["message"], "d");
    for r in &records {
        assert!(r.get("fields.message").is_none(), "{r}");
    }
}

/// Four text messages of 40 KiB (only the first is kept, cut to the field cap): the line stays
/// under its cap.
#[test]
fn several_text_messages_cannot_take_a_line_past_the_cap() {
    let big = "x".repeat(40_000);
    let (lines, _) = support::capture(|| {
        tracing::info!(message = %big, message = %big, message = %big, "{big}");
    });
    assert!(
        lines[0].len() < Caps::DEFAULT.line,
        "a line of {} bytes",
        lines[0].len()
    );
}

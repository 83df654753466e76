//! Privacy and size limits end to end, through the public API: redacted keys, masked value
//! shapes and the caps per value and per line, as they land in the log file, in alerts posted to
//! a local HTTP server, and on stdout (read from a child process).
//!
//! Secrets in these tests contain `SECRET` (or are numbers no timestamp contains), so "nowhere in
//! the output" is a plain search of the raw bytes.

use std::fmt;
use std::time::{Duration, Instant};

use logwarden::redact::{Redaction, ValuePatterns};
use logwarden::writer::StdoutMode;
#[cfg(feature = "http")]
use logwarden::Guard;
use serde_json::{json, Value};
#[cfg(feature = "http")]
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use crate::support;
#[cfg(feature = "http")]
use crate::support::http::{Reply, Request, Server};
use crate::support::REDACTED;
#[cfg(feature = "http")]
use crate::support::WAIT;

/// The environment variable that turns [`stdout_child`] into the child of a stdout test.
const CHILD: &str = "LWTEST_PRIVACY_CHILD";

/// A value whose `Debug` and `Display` both write its text, as a custom type would (no quotes).
struct Shown<'a>(&'a str);

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Runs `f` under a logwarden layer configured by `configure`; returns the raw file text and the
/// parsed records (every line checked to be one JSON object).
fn log_with(
    configure: impl FnOnce(logwarden::Builder) -> logwarden::Builder,
    f: impl FnOnce(),
) -> (String, Vec<Value>) {
    let (lines, records) = support::capture_with(configure, f);
    (lines.join("\n"), records)
}

/// The value of `key` in `record`, failing with the record when it is missing.
fn field<'a>(record: &'a Value, key: &str) -> &'a Value {
    record
        .get(key)
        .unwrap_or_else(|| panic!("no {key:?} in {record}"))
}

// ---------------------------------------------------------------------------------------------
// 1. Redaction by key, with the default list
// ---------------------------------------------------------------------------------------------

/// Logs a field named `$name` once per value type, as an event field and as a span field, each
/// event with the message `<label>/<where>/<type>`. Text values are `$text-<type>`; the integer
/// is `$int` (and `-$int` as an i64 in the span), the float `$float`.
macro_rules! every_type {
    ($name:tt, $label:expr, $text:literal, $int:expr, $float:expr) => {{
        let label: &str = $label;
        tracing::info!($name = concat!($text, "-str"), "{label}/event/str");
        tracing::info!($name = ?Shown(concat!($text, "-debug")), "{label}/event/debug");
        tracing::info!($name = %Shown(concat!($text, "-display")), "{label}/event/display");
        tracing::info!($name = $int, "{label}/event/int");
        tracing::info!($name = $float, "{label}/event/float");
        tracing::info!($name = true, "{label}/event/bool");
        tracing::info_span!("ctx", $name = concat!($text, "-str"))
            .in_scope(|| tracing::info!("{label}/span/str"));
        tracing::info_span!("ctx", $name = ?Shown(concat!($text, "-debug")))
            .in_scope(|| tracing::info!("{label}/span/debug"));
        tracing::info_span!("ctx", $name = %Shown(concat!($text, "-display")))
            .in_scope(|| tracing::info!("{label}/span/display"));
        tracing::info_span!("ctx", $name = -($int as i64))
            .in_scope(|| tracing::info!("{label}/span/int"));
        tracing::info_span!("ctx", $name = $float).in_scope(|| tracing::info!("{label}/span/float"));
        tracing::info_span!("ctx", $name = false).in_scope(|| tracing::info!("{label}/span/bool"));
    }};
}

/// The `<where>/<type>` suffixes [`every_type!`] logs, and the value a field that is *not*
/// redacted has in each (given the macro's `$text`, `$int` and `$float`).
fn every_type_expected(text: &str, int: u64, float: f64) -> Vec<(&'static str, Value)> {
    vec![
        ("event/str", json!(format!("{text}-str"))),
        ("event/debug", json!(format!("{text}-debug"))),
        ("event/display", json!(format!("{text}-display"))),
        ("event/int", json!(int)),
        ("event/float", json!(float)),
        ("event/bool", json!(true)),
        ("span/str", json!(format!("{text}-str"))),
        ("span/debug", json!(format!("{text}-debug"))),
        ("span/display", json!(format!("{text}-display"))),
        ("span/int", json!(-(int as i64))),
        ("span/float", json!(float)),
        ("span/bool", json!(false)),
    ]
}

/// A secret integer (no timestamp or pid contains it) and a secret float.
const SECRET_INT: u64 = 9_876_543_210_123;
const SECRET_FLOAT: f64 = 0.918_273_645;

#[test]
fn default_keys_are_redacted_in_every_value_type_in_events_and_spans() {
    let (raw, records) = log_with(
        |b| b,
        || {
            every_type!(password, "password", "SECRET-pw", SECRET_INT, SECRET_FLOAT);
            every_type!(
                db_password,
                "db_password",
                "SECRET-db",
                SECRET_INT,
                SECRET_FLOAT
            );
            every_type!(
                userPassword,
                "userPassword",
                "SECRET-up",
                SECRET_INT,
                SECRET_FLOAT
            );
            every_type!(
                "X-Api-Key",
                "X-Api-Key",
                "SECRET-xak",
                SECRET_INT,
                SECRET_FLOAT
            );
            every_type!(api_key, "api_key", "SECRET-ak", SECRET_INT, SECRET_FLOAT);
            every_type!(
                Authorization,
                "Authorization",
                "SECRET-au",
                SECRET_INT,
                SECRET_FLOAT
            );
            every_type!(
                set_cookie,
                "set_cookie",
                "SECRET-sc",
                SECRET_INT,
                SECRET_FLOAT
            );
            every_type!(cvv, "cvv", "SECRET-cvv", SECRET_INT, SECRET_FLOAT);
            every_type!(ssn, "ssn", "SECRET-ssn", SECRET_INT, SECRET_FLOAT);
            every_type!(
                accessToken,
                "accessToken",
                "SECRET-at",
                SECRET_INT,
                SECRET_FLOAT
            );
            // Near misses: whole words only.
            every_type!(user_id, "user_id", "visible-uid", 4242, 1.5);
            every_type!(tokens_used, "tokens_used", "visible-tu", 4242, 1.5);
            every_type!(
                passwords_enabled,
                "passwords_enabled",
                "visible-pe",
                4242,
                1.5
            );
            every_type!(lesson, "lesson", "visible-le", 4242, 1.5);
        },
    );
    let redacted = [
        "password",
        "db_password",
        "userPassword",
        "X-Api-Key",
        "api_key",
        "Authorization",
        "set_cookie",
        "cvv",
        "ssn",
        "accessToken",
    ];
    for key in redacted {
        for (case, _) in every_type_expected("", 0, 0.0) {
            let r = support::one(&records, &format!("{key}/{case}"));
            assert_eq!(field(r, key), REDACTED, "{key} ({case}) in {r}");
        }
    }
    let near_misses = [
        ("user_id", "visible-uid"),
        ("tokens_used", "visible-tu"),
        ("passwords_enabled", "visible-pe"),
        ("lesson", "visible-le"),
    ];
    for (key, text) in near_misses {
        for (case, expected) in every_type_expected(text, 4242, 1.5) {
            let r = support::one(&records, &format!("{key}/{case}"));
            assert_eq!(field(r, key), &expected, "{key} ({case}) in {r}");
        }
    }
    assert_eq!(records.len(), 14 * 12);
    for secret in ["SECRET", &SECRET_INT.to_string(), &SECRET_FLOAT.to_string()] {
        assert!(!raw.contains(secret), "{secret} is in the file:\n{raw}");
    }
}

/// The default keys, as docs/record.md, docs/configuration.md and SECURITY.md list them.
pub(crate) const DOCUMENTED_KEYS: [&str; 14] = [
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "set-cookie",
    "session",
    "credit_card",
    "card_number",
    "cvv",
    "ssn",
];

/// Logs one event per name, with a text field of that name (`hush-<name>`) and the name as its
/// message; returns the names, grouped as given.
macro_rules! log_names {
    ($([$($name:tt),* $(,)?]),* $(,)?) => {{
        $($( tracing::info!($name = concat!("hush-", $name), "{}", $name); )*)*
        vec![$(vec![$($name),*]),*]
    }};
}

#[test]
fn every_documented_default_key_is_redacted_in_its_common_spellings() {
    // The documents and the code name the same list, so what the documents promise is what the
    // records below check.
    let mut in_code = Redaction::DEFAULT_KEYS.to_vec();
    let mut documented = DOCUMENTED_KEYS.to_vec();
    in_code.sort_unstable();
    documented.sort_unstable();
    assert_eq!(in_code, documented);
    let listed = DOCUMENTED_KEYS.map(|k| format!("`{k}`")).join(", ");
    for doc in ["docs/record.md", "docs/configuration.md", "SECURITY.md"] {
        let text = std::fs::read_to_string(format!("{}/{doc}", env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_else(|e| panic!("{doc}: {e}"));
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains(&listed), "{doc} does not list {listed}");
    }

    let mut groups: Vec<Vec<&str>> = Vec::new();
    let (raw, records) = log_with(
        |b| b,
        || {
            groups = log_names!(
                // Each key as written, in capitals, and inside a longer snake, kebab, camel or
                // dotted name; in the order of DOCUMENTED_KEYS.
                [
                    "password",
                    "PASSWORD",
                    "db_password",
                    "userPassword",
                    "new-password"
                ],
                ["passwd", "PASSWD", "db_passwd", "userPasswd", "x-passwd"],
                [
                    "secret",
                    "Secret",
                    "client_secret",
                    "clientSecret",
                    "app.secret"
                ],
                [
                    "token",
                    "TOKEN",
                    "access_token",
                    "refreshToken",
                    "x-auth-token"
                ],
                [
                    "api_key",
                    "API_KEY",
                    "x-api-key",
                    "apiKey",
                    "stripe.api_key"
                ],
                [
                    "apikey",
                    "APIKEY",
                    "google_apikey",
                    "x-apikey",
                    "service.apikey"
                ],
                [
                    "authorization",
                    "Authorization",
                    "proxy-authorization",
                    "http.authorization"
                ],
                [
                    "cookie",
                    "Cookie",
                    "http_cookie",
                    "authCookie",
                    "request.cookie"
                ],
                [
                    "set-cookie",
                    "Set-Cookie",
                    "set_cookie",
                    "setCookie",
                    "SET_COOKIE"
                ],
                [
                    "session",
                    "Session",
                    "session_id",
                    "sessionId",
                    "user.session"
                ],
                [
                    "credit_card",
                    "creditCard",
                    "CREDIT-CARD",
                    "credit.card",
                    "buyer_credit_card"
                ],
                [
                    "card_number",
                    "cardNumber",
                    "CARD_NUMBER",
                    "card-number",
                    "payment.card_number"
                ],
                ["cvv", "CVV", "card_cvv", "cvv2", "cardCvv"],
                ["ssn", "SSN", "user_ssn", "customerSsn", "customer.ssn"],
                // Parts of the keys, and names that only look like them.
                [
                    "user_id",
                    "card",
                    "credit",
                    "number",
                    "api",
                    "key",
                    "set",
                    "pass",
                    "sessions",
                    "tokens_used",
                    "passwords_enabled",
                    "lesson",
                    "cvvs",
                ],
            );
        },
    );
    let (kept, redacted) = groups.split_last().expect("the names logged");
    assert_eq!(redacted.len(), DOCUMENTED_KEYS.len());
    assert_eq!(
        records.len(),
        redacted.iter().map(Vec::len).sum::<usize>() + kept.len()
    );
    for (key, names) in DOCUMENTED_KEYS.iter().zip(redacted) {
        assert_eq!(names[0], *key, "the spellings are in the order of the keys");
        for name in names {
            let r = support::one(&records, name);
            assert_eq!(field(r, name), REDACTED, "{name} (for {key}) in {r}");
        }
    }
    for name in kept {
        let r = support::one(&records, name);
        assert_eq!(field(r, name), &format!("hush-{name}"), "{name} in {r}");
    }
    assert_eq!(
        raw.matches("hush-").count(),
        kept.len(),
        "a redacted value is in the file:\n{raw}"
    );
}

#[test]
fn a_value_recorded_into_a_span_later_is_redacted_too() {
    let (raw, records) = log_with(
        |b| b,
        || {
            let span = tracing::info_span!(
                "login",
                password = tracing::field::Empty,
                accessToken = tracing::field::Empty,
                cvv = tracing::field::Empty,
                user_id = 7
            );
            span.record("password", "SECRET-recorded");
            span.record(
                "accessToken",
                tracing::field::debug(Shown("SECRET-recorded-debug")),
            );
            span.record("cvv", SECRET_INT);
            span.in_scope(|| tracing::info!("recorded once"));
            // Recording again overwrites the value, and is redacted again.
            span.record("password", tracing::field::display(Shown("SECRET-again")));
            span.in_scope(|| tracing::info!("recorded twice"));
        },
    );
    for message in ["recorded once", "recorded twice"] {
        let r = support::one(&records, message);
        for key in ["password", "accessToken", "cvv"] {
            assert_eq!(field(r, key), REDACTED, "{key} in {r}");
        }
        assert_eq!(field(r, "user_id"), 7);
    }
    assert!(!raw.contains("SECRET"), "a secret is in the file:\n{raw}");
    assert!(!raw.contains(&SECRET_INT.to_string()), "{raw}");
}

// ---------------------------------------------------------------------------------------------
// 2. Choosing the keys
// ---------------------------------------------------------------------------------------------

/// Logs one event with fields under names from the default list and the custom ones below.
fn log_named_fields() {
    tracing::info_span!("ctx", iban = "DE-span-iban", password = "pw-span").in_scope(|| {
        tracing::info!(
            payer_IBAN = "DE-payer",
            ibanCode = ?Shown("DE-code"),
            ibans_count = 3,
            national_id = "NID-1",
            nationalId = "NID-2",
            "national-id" = "NID-3",
            national = "country",
            id = 12,
            user_id = 5,
            api_key = "ak-visible",
            Authorization = %Shown("Basic visible"),
            "named fields"
        );
    });
}

/// The keys of the "named fields" record that hold `[REDACTED]`, sorted.
fn redacted_keys(records: &[Value]) -> Vec<String> {
    let r = support::one(records, "named fields");
    let mut keys: Vec<String> = r
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| *v == REDACTED)
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    keys
}

#[test]
fn redaction_none_writes_every_value() {
    let (_, records) = log_with(|b| b.redaction(Redaction::none()), log_named_fields);
    assert_eq!(redacted_keys(&records), Vec::<String>::new());
    let r = support::one(&records, "named fields");
    assert_eq!(r["password"], "pw-span");
    assert_eq!(r["api_key"], "ak-visible");
    assert_eq!(r["Authorization"], "Basic visible");
}

#[test]
fn redaction_none_with_keys_redacts_only_those_keys() {
    let (_, records) = log_with(
        |b| b.redaction(Redaction::none().keys(["iban"])),
        log_named_fields,
    );
    assert_eq!(redacted_keys(&records), ["iban", "ibanCode", "payer_IBAN"]);
    let r = support::one(&records, "named fields");
    assert_eq!(r["password"], "pw-span");
    assert_eq!(r["ibans_count"], 3);
}

#[test]
fn keys_given_in_code_add_to_the_defaults() {
    let (_, records) = log_with(
        |b| b.redaction(Redaction::default().keys(["iban"])),
        log_named_fields,
    );
    assert_eq!(
        redacted_keys(&records),
        [
            "Authorization",
            "api_key",
            "iban",
            "ibanCode",
            "password",
            "payer_IBAN"
        ]
    );
}

#[test]
fn keys_from_the_environment_add_to_the_defaults() {
    let (raw, records) = log_with(
        |b| b.from_vars([("LOGWARDEN_REDACT_KEYS", "iban, national-id")]),
        log_named_fields,
    );
    assert_eq!(
        redacted_keys(&records),
        [
            "Authorization",
            "api_key",
            "iban",
            "ibanCode",
            "national-id",
            "nationalId",
            "national_id",
            "password",
            "payer_IBAN"
        ]
    );
    let r = support::one(&records, "named fields");
    assert_eq!(r["national"], "country");
    assert_eq!(r["id"], 12);
    assert_eq!(r["user_id"], 5);
    for secret in ["NID-", "DE-", "pw-span"] {
        assert!(!raw.contains(secret), "{secret} is in the file:\n{raw}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Value patterns
// ---------------------------------------------------------------------------------------------

const JWT: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// A text with one secret of every shape.
const SHAPES: &str = "mail bob@example.com card 4111 1111 1111 1111 auth Bearer abcdefgh12345678 \
     jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk \
     key AKIAIOSFODNN7EXAMPLE end";
/// [`SHAPES`] with every secret masked.
const MASKED: &str = "mail ***@example.com card [REDACTED:card] auth Bearer [REDACTED] \
     jwt [REDACTED:jwt] key [REDACTED:aws_key] end";

/// Logs [`SHAPES`] in the message, in text fields of every kind, in a span field, and a card
/// number as an integer field.
fn log_shapes() {
    tracing::info_span!("ctx", note = SHAPES).in_scope(|| {
        tracing::info!(
            text = SHAPES,
            debug = ?Shown(SHAPES),
            display = %Shown(SHAPES),
            card_digits = "4111111111111111",
            order_ref = 4_111_111_111_111_111_u64,
            signed_ref = 4_111_111_111_111_111_i64,
            "{SHAPES}"
        );
    });
}

#[test]
fn environment_additions_survive_a_later_redaction_call() {
    let (_, records) = support::capture_with(
        |b| {
            b.from_vars([
                ("LOGWARDEN_REDACT_KEYS", "iban"),
                ("LOGWARDEN_REDACT_VALUES", "email"),
            ])
            .redaction(Redaction::default().keys(["national_id"]))
        },
        || {
            tracing::info!(
                iban = "DE89SECRET",
                national_id = "X1SECRET",
                password = "SECRET",
                "mail bob@example.com"
            );
        },
    );
    let r = &records[0];
    for key in ["iban", "national_id", "password"] {
        assert_eq!(r[key], REDACTED, "{key} in {r}");
    }
    assert_eq!(r["message"], "mail ***@example.com");
}

#[test]
fn value_patterns_are_off_by_default() {
    let (_, records) = log_with(|b| b, log_shapes);
    let r = support::one(&records, SHAPES);
    for key in ["note", "text", "debug", "display"] {
        assert_eq!(field(r, key), SHAPES, "{key}");
    }
    assert_eq!(r["card_digits"], "4111111111111111");
    assert_eq!(r["order_ref"], 4_111_111_111_111_111_u64);
}

#[test]
fn value_patterns_mask_the_message_and_every_text_value_but_never_numbers() {
    type Configure = fn(logwarden::Builder) -> logwarden::Builder;
    let ways: [(&str, Configure); 3] = [
        ("LOGWARDEN_REDACT_VALUES=all", |b| {
            b.from_vars([("LOGWARDEN_REDACT_VALUES", "all")])
        }),
        ("Redaction::values(ALL)", |b| {
            b.redaction(Redaction::default().values(ValuePatterns::ALL))
        }),
        ("every pattern by name", |b| {
            b.from_vars([("LOGWARDEN_REDACT_VALUES", "email, card,bearer,JWT,aws_key")])
        }),
    ];
    for (how, configure) in ways {
        assert!(SHAPES.contains(JWT));
        let (raw, records) = log_with(configure, log_shapes);
        let r = support::one(&records, MASKED);
        for key in ["note", "text", "debug", "display"] {
            assert_eq!(field(r, key), MASKED, "{key} with {how}");
        }
        assert_eq!(r["card_digits"], "[REDACTED:card]", "{how}");
        // Integers are never scanned: a number that happens to pass Luhn stays a number.
        assert_eq!(r["order_ref"], 4_111_111_111_111_111_u64, "{how}");
        assert_eq!(r["signed_ref"], 4_111_111_111_111_111_i64, "{how}");
        for secret in [
            "bob@",
            "4111 1111",
            "abcdefgh12345678",
            JWT,
            "AKIAIOSFODNN7",
        ] {
            assert!(
                !raw.contains(secret),
                "{secret} is in the file ({how}):\n{raw}"
            );
        }
    }
}

#[test]
fn an_unknown_value_pattern_is_an_error_naming_the_variable() {
    let err = logwarden::builder()
        .from_vars([("LOGWARDEN_REDACT_VALUES", "emails")])
        .dir(tempfile::tempdir().unwrap().path())
        .build::<tracing_subscriber::Registry>()
        .err()
        .expect("`emails` is not a pattern name");
    assert_eq!(err.kind(), logwarden::ErrorKind::InvalidSetting);
    assert_eq!(err.setting(), Some("LOGWARDEN_REDACT_VALUES"));
    let shown = err.to_string();
    assert!(shown.contains("LOGWARDEN_REDACT_VALUES"), "{shown}");
    assert!(shown.contains("emails"), "{shown}");
}

// ---------------------------------------------------------------------------------------------
// 4. Size caps
// ---------------------------------------------------------------------------------------------

const DEFAULT_FIELD: usize = 32 * 1024;
const DEFAULT_LINE: usize = 96 * 1024;

/// A value whose `Debug` writes `total` bytes in many small `write_str` calls, repeating
/// [`FLOOD_CHUNK`].
struct Flood {
    total: usize,
}

/// 61 bytes, a two-byte character at bytes 10..12: the default field cap (32768 = 537 × 61 + 11)
/// falls inside that character, so the kept text ends one byte short of the cap.
const FLOOD_CHUNK: &str = "0123456789éabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW";

impl fmt::Debug for Flood {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        assert_eq!(self.total % FLOOD_CHUNK.len(), 0);
        for _ in 0..self.total / FLOOD_CHUNK.len() {
            f.write_str(FLOOD_CHUNK)?;
        }
        Ok(())
    }
}

/// `kept` followed by the cut marker for `dropped` bytes.
fn cut(kept: &str, dropped: usize) -> String {
    format!("{kept}…[truncated {dropped} bytes]")
}

/// The line of the record with `message` (the raw text, for its length).
fn line_of<'a>(lines: &'a [String], records: &[Value], message: &str) -> &'a str {
    let at = records
        .iter()
        .position(|r| r["message"] == message)
        .unwrap_or_else(|| panic!("no record {message:?}"));
    &lines[at]
}

#[test]
fn a_50_mb_value_is_cut_to_the_field_cap_with_the_exact_count() {
    assert_eq!(FLOOD_CHUNK.len(), 61);
    let started = Instant::now();
    let huge = "x".repeat(50 << 20);
    let flood_total = FLOOD_CHUNK.len() * 860_000; // 52.5 MB
    let (lines, records) = support::capture(|| {
        tracing::info!(blob = huge.as_str(), "huge str");
        tracing::info!(dump = ?Flood { total: flood_total }, "huge debug");
        tracing::info!(blob = huge.as_str(), dump = ?Flood { total: flood_total }, "both");
        tracing::info!("{huge}");
        tracing::info!(message = huge.as_str());
        tracing::info!("{:?}", Flood { total: flood_total });
    });
    let elapsed = started.elapsed();
    println!("six events with 50 MB values: {elapsed:?}");

    let str_cut = cut(&huge[..DEFAULT_FIELD], huge.len() - DEFAULT_FIELD);
    let flood_kept =
        &FLOOD_CHUNK.repeat(DEFAULT_FIELD / FLOOD_CHUNK.len() + 1)[..DEFAULT_FIELD - 1];
    let flood_cut = cut(flood_kept, flood_total - flood_kept.len());

    for message in ["huge str", "both"] {
        assert_eq!(support::one(&records, message)["blob"], str_cut.as_str());
    }
    for message in ["huge debug", "both"] {
        assert_eq!(support::one(&records, message)["dump"], flood_cut.as_str());
    }
    assert_eq!(records.len(), 6);
    let messages: Vec<&Value> = records[3..].iter().map(|r| &r["message"]).collect();
    assert_eq!(messages, [&str_cut, &str_cut, &flood_cut]);
    for line in &lines {
        assert!(
            line.len() < DEFAULT_LINE,
            "a line of {} bytes (cap {DEFAULT_LINE} with its newline)",
            line.len()
        );
    }
    assert!(
        elapsed < Duration::from_secs(10),
        "formatting 50 MB values should cost what the cap costs, took {elapsed:?}"
    );
}

#[test]
fn a_cut_counts_original_bytes_and_never_splits_an_escape() {
    // Every quote is escaped to two bytes: 100 of them fill a 200-byte cap.
    let quotes = "\"".repeat(1000);
    let (_, records) = log_with(
        |b| b.max_field_bytes(200).max_line_bytes(1024),
        || {
            tracing::info!(quotes = quotes.as_str(), "str");
            tracing::info!(quotes = ?Shown(&quotes), "debug");
        },
    );
    for message in ["str", "debug"] {
        assert_eq!(
            support::one(&records, message)["quotes"],
            cut(&quotes[..100], 900).as_str(),
            "{message}"
        );
    }
}

/// A value of `n` bytes.
fn medium(n: usize) -> String {
    "m".repeat(n)
}

#[test]
fn fields_past_the_line_cap_are_left_out_and_counted_exactly() {
    const LINE: usize = 2048;
    let v = medium(300);
    let (lines, records) = support::capture_with(
        |b| b.max_line_bytes(LINE).max_field_bytes(512),
        || {
            tracing::info_span!("ctx", s1 = v.as_str(), s2 = v.as_str(), s3 = v.as_str()).in_scope(
                || {
                    tracing::info!(
                        e1 = v.as_str(),
                        e2 = v.as_str(),
                        e3 = v.as_str(),
                        e4 = v.as_str(),
                        e5 = v.as_str(),
                        e6 = v.as_str(),
                        e7 = v.as_str(),
                        e8 = v.as_str(),
                        "too many fields"
                    );
                },
            );
            // One big field that does not fit, then a small one that does.
            tracing::info!(
                a = v.as_str(),
                b = v.as_str(),
                c = v.as_str(),
                d = v.as_str(),
                e = v.as_str(),
                big = medium(500).as_str(),
                small = 1,
                "one too big"
            );
        },
    );
    let all = [
        "s1", "s2", "s3", "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8",
    ];
    let r = support::one(&records, "too many fields");
    let line = line_of(&lines, &records, "too many fields");
    assert!(line.len() < LINE, "{} bytes", line.len());
    support::assert_no_duplicate_keys(line);
    let present: Vec<&str> = all.iter().copied().filter(|k| r.get(k).is_some()).collect();
    for k in &present {
        assert_eq!(r[k], v.as_str(), "{k} is written whole or not at all");
    }
    // Outer context first: what is kept is a prefix, in order.
    assert_eq!(present, all[..present.len()]);
    assert!(
        !present.is_empty() && present.len() < all.len(),
        "{present:?}"
    );
    assert_eq!(
        r["logwarden.dropped_fields"],
        all.len() - present.len(),
        "{line}"
    );
    // Nothing was left out that would have fit: one more field (309 bytes with its comma) would
    // take the line past the cap, give or take the room kept for the count.
    assert!(line.len() + 309 > LINE - 64, "{} bytes", line.len());

    let r = support::one(&records, "one too big");
    let line = line_of(&lines, &records, "one too big");
    assert!(line.len() < LINE, "{} bytes", line.len());
    let absent: Vec<&str> = ["a", "b", "c", "d", "e", "big", "small"]
        .into_iter()
        .filter(|k| r.get(k).is_none())
        .collect();
    assert_eq!(absent, ["big"], "{line}");
    assert_eq!(r["logwarden.dropped_fields"], 1, "{line}");
}

#[test]
fn a_record_within_the_caps_has_no_dropped_fields_key() {
    let (_, records) = log_with(
        |b| b.max_line_bytes(2048).max_field_bytes(512),
        || tracing::info!(a = medium(300).as_str(), b = medium(300).as_str(), "fits"),
    );
    let r = support::one(&records, "fits");
    assert!(r.get("logwarden.dropped_fields").is_none(), "{r}");
}

#[test]
fn a_huge_message_is_capped_and_the_line_stays_under_the_cap() {
    const LINE: usize = 1024;
    const FIELD: usize = 512;
    let huge = "é".repeat(1 << 20);
    let (lines, records) = support::capture_with(
        |b| b.max_line_bytes(LINE).max_field_bytes(FIELD),
        || {
            tracing::info!(user_id = 7, detail = huge.as_str(), "{huge}");
        },
    );
    assert_eq!(records.len(), 1);
    let kept = &huge[..FIELD];
    assert_eq!(
        records[0]["message"],
        cut(kept, huge.len() - FIELD).as_str()
    );
    assert!(lines[0].len() < LINE, "{} bytes", lines[0].len());
    // The capped message leaves room for `user_id`, not for `detail`.
    assert_eq!(records[0]["user_id"], 7);
    assert!(records[0].get("detail").is_none(), "{}", lines[0]);
    assert_eq!(records[0]["logwarden.dropped_fields"], 1);
}

#[test]
fn a_huge_message_with_a_long_target_stays_under_the_line_cap() {
    // `log` records bring their own targets, of any length.
    const LINE: usize = 1024;
    const FIELD: usize = 512;
    let huge = "m".repeat(1 << 20);
    let target = "t".repeat(4096);
    let (lines, records) = support::capture_with(
        |b| b.max_line_bytes(LINE).max_field_bytes(FIELD),
        || {
            tracing_log::format_trace(
                &log::Record::builder()
                    .level(log::Level::Info)
                    .target(&target)
                    .args(format_args!("{huge}"))
                    .build(),
            )
            .unwrap();
        },
    );
    assert_eq!(records.len(), 1);
    assert!(
        lines[0].len() < LINE,
        "a line of {} bytes, cap {LINE}",
        lines[0].len()
    );
    // Both overflow together: both are cut shorter than the field cap, each with an exact count.
    for (key, original) in [("message", &huge), ("target", &target)] {
        let value = records[0][key].as_str().unwrap();
        let (kept, marker) = value.split_once("…[truncated ").expect(key);
        assert!(
            kept.len() < FIELD && original.starts_with(kept),
            "{key}: {value}"
        );
        assert_eq!(
            marker,
            format!("{} bytes]", original.len() - kept.len()),
            "{key}"
        );
    }
}

#[test]
fn invalid_caps_are_errors_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, logwarden::Builder); 5] = [
        ("max_line_bytes", logwarden::builder().max_line_bytes(100)),
        ("max_field_bytes", logwarden::builder().max_field_bytes(10)),
        (
            "max_field_bytes",
            logwarden::builder()
                .max_line_bytes(4096)
                .max_field_bytes(2049),
        ),
        (
            "LOGWARDEN_MAX_LINE_BYTES",
            logwarden::builder().from_vars([("LOGWARDEN_MAX_LINE_BYTES", "abc")]),
        ),
        (
            "LOGWARDEN_MAX_FIELD_BYTES",
            logwarden::builder().from_vars([("LOGWARDEN_MAX_FIELD_BYTES", "12")]),
        ),
    ];
    for (setting, builder) in cases {
        let err = builder
            .dir(dir.path())
            .build::<tracing_subscriber::Registry>()
            .err()
            .unwrap_or_else(|| panic!("{setting}: accepted"));
        assert_eq!(err.kind(), logwarden::ErrorKind::InvalidSetting, "{err}");
        assert_eq!(err.setting(), Some(setting), "{err}");
        assert!(err.to_string().starts_with(setting), "{err}");
    }
    // The edges are accepted.
    let ok = logwarden::builder()
        .dir(dir.path())
        .max_line_bytes(1024)
        .max_field_bytes(512)
        .build::<tracing_subscriber::Registry>();
    assert!(ok.is_ok(), "{:?}", ok.err());
}

#[test]
fn a_line_cap_given_alone_brings_the_value_cap_down_to_half_of_it() {
    // 4 KiB is a valid line cap, and the default value cap (32 KiB) is more than half of it: the
    // value cap follows to 2 KiB, so building succeeds and no unset setting is ever blamed.
    const LINE: usize = 4096;
    let long = "v".repeat(3000);
    type Configure = fn(logwarden::Builder) -> logwarden::Builder;
    let cases: [(&str, Configure); 2] = [
        ("max_line_bytes", |b| b.max_line_bytes(LINE)),
        ("LOGWARDEN_MAX_LINE_BYTES", |b| {
            b.from_vars([("LOGWARDEN_MAX_LINE_BYTES", "4096")])
        }),
    ];
    for (setting, configure) in cases {
        let dir = tempfile::tempdir().unwrap();
        let built =
            configure(logwarden::builder().dir(dir.path())).build::<tracing_subscriber::Registry>();
        assert!(built.is_ok(), "{setting}: {:?}", built.err());
        let (lines, records) = support::capture_with(configure, || {
            tracing::info!(detail = long.as_str(), "a long value");
        });
        let r = support::one(&records, "a long value");
        assert_eq!(
            r["detail"],
            cut(&long[..LINE / 2], long.len() - LINE / 2).as_str(),
            "{setting}"
        );
        assert!(lines[0].len() < LINE, "{setting}: {} bytes", lines[0].len());
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Alerts
// ---------------------------------------------------------------------------------------------

/// A webhook path shaped like Slack's.
#[cfg(feature = "http")]
const HOOK: &str = "/services/T000/B000/XXXXXXXX";
#[cfg(feature = "http")]
const TRACE_ID: &str = "trace-4bf92f3577b3";

/// Which webhook payload a test posts.
#[cfg(feature = "http")]
#[derive(Clone, Copy, Debug)]
enum Hook {
    Slack,
    Json,
}

/// Starts logging with alerts posted to `server` once [`log_three_errors`] has run, value
/// patterns on, and `redaction`'s keys.
#[cfg(feature = "http")]
fn alerting(
    dir: &std::path::Path,
    server: &Server,
    hook: Hook,
    redaction: Redaction,
) -> (Dispatch, Guard) {
    let builder = logwarden::builder()
        .service("orders")
        .env("test")
        .dir(dir)
        .capture_log(false)
        .allow_http_webhook(true)
        .alert_threshold(3)
        .alert_retries(2, Duration::from_millis(20))
        .redaction(redaction.values(ValuePatterns::ALL));
    let builder = match hook {
        Hook::Slack => builder.slack_webhook(server.url(HOOK)),
        Hook::Json => builder.json_webhook(server.url(HOOK)),
    };
    let (layer, guard) = builder.build().unwrap();
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        guard,
    )
}

/// The event-field trace id of the third error.
#[cfg(feature = "http")]
const EVENT_TRACE_ID: &str = "trace-evt-9d1e";

/// Three kinds of error, so three groups in the alert: in a span with a trace id and a password;
/// in a span with a password and no trace id (Slack shows the span context when there is no
/// trace id); with a `trace_id` event field and no span.
#[cfg(feature = "http")]
fn log_three_errors() {
    tracing::info_span!("login", trace_id = TRACE_ID, password = "hunter2").in_scope(|| {
        tracing::error!(password = "hunter2", "login failed for bob@example.com");
    });
    tracing::info_span!("retry", password = "hunter2", user_id = 7).in_scope(|| {
        tracing::error!("retry failed for bob@example.com");
    });
    // `log` records bring targets from anywhere: a target is masked like any text.
    tracing::error!(
        target: "refunds of bob@example.com",
        trace_id = EVENT_TRACE_ID,
        "refund failed for bob@example.com"
    );
}

/// The one alert posted, and the log file's text once the guard is dropped.
#[cfg(feature = "http")]
fn alert_body(redaction: Redaction, hook: Hook) -> (Request, String) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let (dispatch, guard) = alerting(dir.path(), &server, hook, redaction);
    let path = guard.log_path().unwrap().to_owned();
    tracing::dispatcher::with_default(&dispatch, log_three_errors);
    let got = server.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "{hook:?}: expected one alert");
    drop(guard);
    let log = std::fs::read_to_string(path).unwrap();
    (got[0].clone(), log)
}

/// Every string in a JSON value, one per line.
#[cfg(feature = "http")]
fn strings(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(strings).collect::<Vec<_>>().join("\n"),
        Value::Object(o) => o.values().map(strings).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

#[cfg(feature = "http")]
#[test]
fn alerts_show_neither_redacted_keys_nor_masked_values() {
    for hook in [Hook::Slack, Hook::Json] {
        let (request, log) = alert_body(Redaction::default(), hook);
        let text = strings(&request.json());
        for shown in [&request.body, &text, &log] {
            assert!(!shown.contains("hunter2"), "{hook:?}: {shown}");
            assert!(!shown.contains("bob@"), "{hook:?}: {shown}");
        }
        for message in ["login", "retry", "refund"] {
            assert!(
                text.contains(&format!("{message} failed for ***@example.com")),
                "{hook:?}: {text}"
            );
        }
        // The second error's span context, with its redacted password.
        assert!(
            text.contains(r#""password":"[REDACTED]","user_id":7"#),
            "{hook:?}: {text}"
        );
        // Not redacted here: the trace ids are shown (the next test hides them).
        assert!(text.contains(TRACE_ID), "{hook:?}: {text}");
        assert!(text.contains(EVENT_TRACE_ID), "{hook:?}: {text}");
        assert!(log.contains(r#""alert":"opened""#), "{log}");
    }
}

#[cfg(feature = "http")]
#[test]
fn a_redacted_trace_id_is_not_shown_in_alerts() {
    for hook in [Hook::Slack, Hook::Json] {
        let (request, log) = alert_body(Redaction::default().keys(["trace_id"]), hook);
        let text = strings(&request.json());
        for shown in [&request.body, &text, &log] {
            for secret in [TRACE_ID, EVENT_TRACE_ID, "hunter2", "bob@"] {
                assert!(!shown.contains(secret), "{hook:?}: {secret} in {shown}");
            }
        }
        assert!(text.contains(REDACTED), "{hook:?}: {text}");
        assert!(
            text.contains("login failed for ***@example.com"),
            "{hook:?}: {text}"
        );
        assert!(log.contains(r#""alert":"opened""#), "{log}");
    }
}

#[cfg(feature = "http")]
#[test]
fn an_alert_never_shows_part_of_a_masked_secret() {
    // The alert keeps the first 500 bytes of a message, masked. Here masking the tokens shortens
    // the text by hundreds of bytes, so what sat around byte 1000 of the message moves into
    // those 500: the address there must be masked whole, or not shown at all.
    let mut message = String::new();
    while message.len() + JWT.len() + 1 < 995 {
        message.push_str(JWT);
        message.push(' ');
    }
    message.push_str(&".".repeat(995 - message.len()));
    message.push_str("bob@example.com and more");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let (layer, guard) = logwarden::builder()
        .dir(dir.path())
        .capture_log(false)
        .alert_threshold(1)
        .json_webhook(server.url(HOOK))
        .redaction(Redaction::default().values(ValuePatterns::ALL))
        .build()
        .unwrap();
    let path = guard.log_path().unwrap().to_owned();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::error!("{message}");
    });
    let got = server.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "expected one alert");
    drop(guard);
    let log = std::fs::read_to_string(path).unwrap();
    let shown = got[0].json()["top_errors"][0]["message"].to_string();
    assert!(shown.contains("[REDACTED:jwt]"), "{shown}");
    assert!(
        !shown.contains("bob@"),
        "part of the address is in the alert: {shown}"
    );
    assert!(
        !log.contains("bob@"),
        "part of the address is in the file: {log}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Stdout, read from a child process
// ---------------------------------------------------------------------------------------------

/// What the child logs: secrets under redacted keys in a span and an event, an e-mail address
/// in the message.
fn log_for_stdout() {
    let span = tracing::info_span!(
        "checkout",
        password = "SECRET-span-pw",
        token = tracing::field::Empty,
        user_id = 42
    );
    span.record("token", "SECRET-recorded-token");
    span.in_scope(|| {
        tracing::info!(
            api_key = "SECRET-api-key",
            Authorization = ?Shown("SECRET-authz"),
            set_cookie = %Shown("SECRET-cookie"),
            cvv = SECRET_INT,
            ssn = true,
            amount = 10,
            "paid by bob@example.com"
        );
    });
}

/// The child: logs through a layer configured from its environment (and `scenario`), then
/// flushes. Runs only as a child of the stdout tests below.
#[test]
fn stdout_child() {
    let Ok(scenario) = std::env::var(CHILD) else {
        return;
    };
    let builder = logwarden::builder()
        .capture_log(false)
        .alerts(false)
        .from_env();
    let builder = match scenario.as_str() {
        "env" => builder,
        "pretty" => builder
            .stdout(StdoutMode::PRETTY)
            .redaction(Redaction::default().values(ValuePatterns::ALL)),
        "json" => builder
            .stdout(StdoutMode::JSON)
            .redaction(Redaction::default().values(ValuePatterns::ALL)),
        other => panic!("unknown scenario {other}"),
    };
    let (layer, guard) = builder.build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), log_for_stdout);
    assert!(guard.flush(), "flush timed out");
}

/// Runs [`stdout_child`] in a child process with `scenario` and the variables `vars` (no other
/// logwarden variable inherited); returns its stdout and its log file.
fn run_child(scenario: &str, vars: &[(&str, &str)]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = support::child::this_test(module_path!(), "stdout_child");
    for (k, _) in std::env::vars_os() {
        let inherited = k.to_str().is_some_and(|k| {
            k.starts_with("LOGWARDEN_") || k == "RUST_LOG" || k == "SLACK_WEBHOOK_URL"
        });
        if inherited {
            cmd.env_remove(k);
        }
    }
    cmd.env(CHILD, scenario)
        .env("LOGWARDEN_DIR", dir.path())
        .env("LOGWARDEN_SERVICE", "child")
        .envs(vars.iter().copied());
    let out = support::child::run_test(&mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "the child did not run: {stdout}"
    );
    let log = std::fs::read_to_string(dir.path().join("child.log")).unwrap();
    (stdout, log)
}

/// What every output must show and hide.
fn assert_redacted(what: &str, text: &str) {
    for secret in ["SECRET", &SECRET_INT.to_string(), "bob@"] {
        assert!(!text.contains(secret), "{secret} on {what}:\n{text}");
    }
    assert!(text.contains(REDACTED), "{what}:\n{text}");
    assert!(text.contains("***@example.com"), "{what}:\n{text}");
}

#[test]
fn pretty_stdout_from_the_environment_is_redacted() {
    let (stdout, log) = run_child(
        "env",
        &[
            ("LOGWARDEN_STDOUT", "pretty"),
            ("LOGWARDEN_REDACT_VALUES", "all"),
        ],
    );
    assert_redacted("stdout", &stdout);
    assert_redacted("the file", &log);
    let line = stdout
        .lines()
        .find(|l| l.contains("paid by"))
        .unwrap_or_else(|| panic!("no pretty line on stdout:\n{stdout}"));
    assert!(
        !line.contains(r#""message""#),
        "not the pretty format: {line}"
    );
    for shown in ["api_key=[REDACTED]", "cvv=[REDACTED]", "user_id=42"] {
        assert!(line.contains(shown), "{shown} missing: {line}");
    }
}

#[test]
fn pretty_stdout_set_in_code_is_redacted() {
    let (stdout, _) = run_child("pretty", &[]);
    assert_redacted("stdout", &stdout);
    assert!(stdout.contains("paid by ***@example.com"), "{stdout}");
}

#[test]
fn json_stdout_is_redacted_like_the_file() {
    let (stdout, log) = run_child("json", &[]);
    assert_redacted("stdout", &stdout);
    let record = stdout
        .lines()
        // The test harness prints `test stdout_child ... ` before the child's output.
        .filter_map(|l| {
            l.find(r#"{"timestamp""#)
                .map(|at| support::parse_line(&l[at..]))
        })
        .find(|r| r["message"] == "paid by ***@example.com")
        .unwrap_or_else(|| panic!("no JSON record on stdout:\n{stdout}"));
    for key in [
        "password",
        "token",
        "api_key",
        "Authorization",
        "set_cookie",
        "cvv",
        "ssn",
    ] {
        assert_eq!(field(&record, key), REDACTED, "{key} in {record}");
    }
    assert_eq!(record["user_id"], 42);
    let in_file = support::parse_line(log.lines().next().expect("a record in the file"));
    assert_eq!(in_file, record, "stdout and the file differ");
}

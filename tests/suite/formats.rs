//! The record layouts: the ECS, Cloud Logging and Datadog presets, renamed keys, fixed
//! fields, the time formats and error cause chains, read back from the real file.

use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use logwarden::record::{Format, Key, TimeFormat};
use logwarden::testing::ManualClock;
use serde_json::{json, Value};

use crate::support;
use crate::support::{assert_no_duplicate_keys, capture_with, keys, one};

/// Every level once, inside a span, plus one panic record (the hook's target) and a user field
/// named like each preset's own keys.
fn sample() {
    let _span = tracing::info_span!("request", trace_id = "4bf92f35", user_id = 42).entered();
    tracing::trace!("t");
    tracing::debug!("d");
    tracing::info!(items = 3, "i");
    tracing::warn!("w");
    tracing::error!(provider = "acme", "e");
    tracing::error!(target: "logwarden_panic", "panicked at 'boom'");
    tracing::info!(
        level = "user level",
        severity = "user severity",
        status = "user status",
        time = "user time",
        ecs.version = "user ecs",
        log.level = "user log.level",
        "collisions"
    );
}

fn records(format: Format) -> (Vec<String>, Vec<Value>) {
    capture_with(|b| b.filter("trace").format(format), sample)
}

fn level_names(records: &[Value], key: &str) -> Vec<String> {
    ["t", "d", "i", "w", "e", "panicked at 'boom'"]
        .iter()
        .map(|m| one(records, m)[key].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn ecs_puts_timestamp_level_and_message_first_with_dotted_keys() {
    let (lines, records) = records(Format::ECS);
    for line in &lines {
        assert_no_duplicate_keys(line);
        // The ecs-logging spec's order: @timestamp, log.level, message.
        assert_eq!(keys(line)[..3], ["@timestamp", "log.level", "message"]);
    }
    let r = one(&records, "i");
    assert_eq!(r["ecs.version"], "8.11.0");
    assert_eq!(r["service.name"], "orders");
    assert_eq!(r["service.environment"], "test");
    assert_eq!(r["log.logger"], "suite::formats");
    assert!(r["host.hostname"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(r["process.pid"], std::process::id());
    assert_eq!(r["span.name"], "request");
    assert_eq!(
        (&r["trace_id"], &r["user_id"], &r["items"]),
        (&json!("4bf92f35"), &json!(42), &json!(3))
    );
    for absent in [
        "timestamp",
        "level",
        "target",
        "service",
        "env",
        "host",
        "pid",
        "span",
    ] {
        assert!(r.get(absent).is_none(), "{absent} in {r}");
    }
    assert_eq!(
        level_names(&records, "log.level"),
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "ERROR"]
    );
    // The preset's own keys are protected; the default's are free.
    let c = one(&records, "collisions");
    assert_eq!(c["fields.log.level"], "user log.level");
    assert_eq!(c["fields.ecs.version"], "user ecs");
    assert_eq!(c["log.level"], "INFO");
    assert_eq!(c["level"], "user level");
}

#[test]
fn gcp_uses_cloud_logging_severities_and_source_location() {
    let (lines, records) = records(Format::GCP);
    lines.iter().for_each(|l| assert_no_duplicate_keys(l));
    assert_eq!(
        level_names(&records, "severity"),
        ["DEBUG", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    );
    let r = one(&records, "i");
    assert_eq!(keys(&lines[0])[..3], ["time", "severity", "message"]);
    assert!(r["time"]
        .as_str()
        .is_some_and(|t| t.len() == 27 && t.ends_with('Z')));
    let location = &r["logging.googleapis.com/sourceLocation"];
    assert_eq!(location["file"], "tests/suite/formats.rs");
    // An int64 in Cloud Logging's JSON mapping: a string of digits.
    assert!(location["line"]
        .as_str()
        .is_some_and(|l| l.parse::<u32>().is_ok()));
    assert_eq!(location["function"], "suite::formats");
    assert_eq!(
        (&r["service"], &r["env"], &r["span"]),
        (&json!("orders"), &json!("test"), &json!("request"))
    );
    let c = one(&records, "collisions");
    assert_eq!(c["fields.severity"], "user severity");
    assert_eq!(c["fields.time"], "user time");
    assert_eq!(c["level"], "user level");
}

#[test]
fn datadog_uses_status_and_logger_name() {
    let (lines, records) = records(Format::DATADOG);
    lines.iter().for_each(|l| assert_no_duplicate_keys(l));
    assert_eq!(
        level_names(&records, "status"),
        ["trace", "debug", "info", "warn", "error", "critical"]
    );
    let r = one(&records, "i");
    assert_eq!(keys(&lines[0])[..3], ["timestamp", "status", "message"]);
    assert_eq!(r["logger.name"], "suite::formats");
    assert_eq!(
        (&r["service"], &r["env"]),
        (&json!("orders"), &json!("test"))
    );
    assert!(r.get("target").is_none());
    assert_eq!(one(&records, "collisions")["fields.status"], "user status");
}

#[test]
fn default_format_is_unchanged_and_any_key_can_be_renamed() {
    let (lines, records) = capture_with(
        |b| {
            b.rename(Key::LEVEL, "severity")
                .rename(Key::TIMESTAMP, "@t")
                .rename(Key::SPAN, "span_name")
                .rename(Key::TARGET, "logger")
        },
        sample,
    );
    let r = one(&records, "i");
    assert_eq!(keys(&lines[0])[..3], ["@t", "severity", "message"]);
    assert_eq!(
        (&r["severity"], &r["logger"], &r["span_name"]),
        (&json!("INFO"), &json!("suite::formats"), &json!("request"))
    );
    let c = one(&records, "collisions");
    // The new names are protected, the old ones free.
    assert_eq!(c["fields.severity"], "user severity");
    assert_eq!(c["level"], "user level");
    lines.iter().for_each(|l| assert_no_duplicate_keys(l));

    // A preset's names can be renamed too, whatever the order of the calls.
    let (_, records) = capture_with(
        |b| b.rename(Key::SERVICE, "app").format(Format::ECS),
        || tracing::info!("x"),
    );
    assert_eq!(records[0]["app"], "orders");
    assert_eq!(records[0]["log.level"], "INFO");
}

#[test]
fn fixed_fields_come_from_code_and_environment_and_are_protected() {
    let (lines, records) = capture_with(
        |b| {
            b.field("version", "1.4.2")
                .field("region", "us-east-1")
                .from_vars([("LOGWARDEN_FIELDS", "region=eu-west-1, team = payments")])
        },
        || tracing::info!(version = "user", "x"),
    );
    let r = &records[0];
    assert_eq!(r["version"], "1.4.2");
    assert_eq!(
        r["region"], "eu-west-1",
        "the environment replaces the code's value"
    );
    assert_eq!(r["team"], "payments");
    assert_eq!(r["fields.version"], "user");
    assert_no_duplicate_keys(&lines[0]);
    // After the record's own keys, before span and event fields.
    let k = keys(&lines[0]);
    let pos = |key: &str| k.iter().position(|x| x == key).unwrap();
    assert!(pos("pid") < pos("version") && pos("team") < pos("fields.version"));
}

#[test]
fn bad_layout_settings_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let err = |b: logwarden::Builder| {
        b.dir(dir.path())
            .build::<tracing_subscriber::Registry>()
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let e = err(logwarden::builder().rename(Key::LEVEL, "message"));
    assert!(
        e.contains("rename(Key::LEVEL)") && e.contains("message"),
        "{e}"
    );
    let e = err(logwarden::builder().rename(Key::HOST, ""));
    assert!(e.contains("rename(Key::HOST)"), "{e}");
    let e = err(logwarden::builder().field("pid", "1"));
    assert!(e.contains("field(\"pid\")"), "{e}");
    let e = err(logwarden::builder()
        .from_vars([("LOGWARDEN_FIELDS", "log.level=x")])
        .format(Format::ECS));
    assert!(
        e.contains("LOGWARDEN_FIELDS") && e.contains("log.level"),
        "{e}"
    );
    for (var, value) in [
        ("LOGWARDEN_FIELDS", "version"),
        ("LOGWARDEN_FIELDS", "a=1,a=2"),
        ("LOGWARDEN_FORMAT", "splunk"),
        ("LOGWARDEN_TIMESTAMP", "unix_s"),
    ] {
        let e = err(logwarden::builder().from_vars([(var, value)]));
        assert!(e.contains(var) && e.contains(value), "{e}");
    }
}

#[test]
fn formats_and_time_formats_come_from_the_environment() {
    let (lines, records) = capture_with(
        |b| {
            b.from_vars([
                ("LOGWARDEN_FORMAT", "ecs"),
                ("LOGWARDEN_TIMESTAMP", "unix_ms"),
            ])
        },
        || tracing::info!("x"),
    );
    assert_eq!(keys(&lines[0])[..2], ["@timestamp", "log.level"]);
    let ms = records[0]["@timestamp"].as_u64().expect("a JSON number");
    let now = UNIX_EPOCH.elapsed().unwrap().as_millis() as u64;
    assert!(now.abs_diff(ms) < 60_000, "{ms} is not now ({now})");
}

#[test]
fn rfc3339_always_has_six_fractional_digits_and_unix_ms_is_exact() {
    // On a whole second, and one microsecond after it: the width never changes.
    for (at, text, ms) in [
        (
            Duration::from_secs(1_764_108_059),
            "2025-11-25T22:00:59.000000Z",
            1_764_108_059_000u64,
        ),
        (
            Duration::from_micros(1_764_108_059_000_001),
            "2025-11-25T22:00:59.000001Z",
            1_764_108_059_000,
        ),
        (
            Duration::from_micros(1_764_108_059_999_999),
            "2025-11-25T22:00:59.999999Z",
            1_764_108_059_999,
        ),
    ] {
        let clock = ManualClock::new(UNIX_EPOCH + at);
        let (_, r) = capture_with(|b| b.clock(clock.clone()), || tracing::info!("x"));
        assert_eq!(r[0]["timestamp"], text);
        let (_, r) = capture_with(
            |b| b.clock(clock.clone()).timestamp(TimeFormat::UNIX_MS),
            || tracing::info!("x"),
        );
        assert_eq!(r[0]["timestamp"], json!(ms));
    }
}

#[derive(Debug)]
struct Failure {
    message: &'static str,
    source: Option<Box<Failure>>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

fn chain() -> Failure {
    Failure {
        message: "payment failed",
        source: Some(Box::new(Failure {
            message: "connection reset by \"peer\"",
            source: Some(Box::new(Failure {
                message: "os error 104",
                source: None,
            })),
        })),
    }
}

fn log_errors() {
    let e = chain();
    let lone = Failure {
        message: "no cause",
        source: None,
    };
    tracing::error!(error = &e as &dyn std::error::Error, "with error");
    tracing::error!(cause = &e as &dyn std::error::Error, "with cause");
    tracing::error!(error = &lone as &dyn std::error::Error, "lone");
}

#[test]
fn error_fields_keep_their_cause_chain() {
    let (lines, records) = capture_with(|b| b, log_errors);
    lines.iter().for_each(|l| assert_no_duplicate_keys(l));
    let r = one(&records, "with error");
    assert_eq!(r["error"], "payment failed");
    assert_eq!(
        r["error.chain"],
        json!(["connection reset by \"peer\"", "os error 104"])
    );
    let r = one(&records, "with cause");
    assert_eq!(r["cause"], "payment failed");
    assert_eq!(
        r["cause.chain"],
        json!(["connection reset by \"peer\"", "os error 104"])
    );
    let r = one(&records, "lone");
    assert_eq!(r["error"], "no cause");
    assert!(
        r.get("error.chain").is_none(),
        "no chain without a cause: {r}"
    );
}

#[test]
fn ecs_and_datadog_put_errors_in_their_error_attributes() {
    for (format, stack) in [
        (Format::ECS, "error.stack_trace"),
        (Format::DATADOG, "error.stack"),
    ] {
        let (lines, records) = capture_with(|b| b.format(format), log_errors);
        lines.iter().for_each(|l| assert_no_duplicate_keys(l));
        let r = one(&records, "with error");
        assert_eq!(r["error.message"], "payment failed", "{format:?}");
        assert_eq!(
            r[stack],
            "payment failed\ncaused by: connection reset by \"peer\"\ncaused by: os error 104"
        );
        assert!(r.get("error").is_none());
        // Another name keeps the generic shape.
        let r = one(&records, "with cause");
        assert_eq!(
            r["cause.chain"],
            json!(["connection reset by \"peer\"", "os error 104"])
        );
        let r = one(&records, "lone");
        assert_eq!(r["error.message"], "no cause");
        assert!(r.get(stack).is_none());
    }
}

#[test]
fn cause_chains_are_redacted_and_capped_like_any_value() {
    let secret = Failure {
        message: "login failed",
        source: Some(Box::new(Failure {
            message: "bad header: Bearer abcdefghijklmnopqrstuvwxyz0123456789",
            source: None,
        })),
    };
    let (_, records) = capture_with(
        |b| {
            b.redaction(
                logwarden::redact::Redaction::default()
                    .values(logwarden::redact::ValuePatterns::ALL),
            )
        },
        || tracing::error!(error = &secret as &dyn std::error::Error, "x"),
    );
    let chain = records[0]["error.chain"][0].as_str().unwrap();
    assert!(!chain.contains("abcdefghijklmnop"), "{chain}");
    // The vendors' chain text too.
    let (_, records) = capture_with(
        |b| {
            b.format(Format::ECS).redaction(
                logwarden::redact::Redaction::default()
                    .values(logwarden::redact::ValuePatterns::ALL),
            )
        },
        || tracing::error!(error = &secret as &dyn std::error::Error, "x"),
    );
    let stack = records[0]["error.stack_trace"].as_str().unwrap();
    assert!(
        stack.contains("caused by: bad header") && !stack.contains("abcdefghijklmnop"),
        "{stack}"
    );
    // Each cause is capped like a value (32 KiB by default).
    let huge = Failure {
        message: "outer",
        source: Some(Box::new(Failure {
            message: Box::leak("y".repeat(100_000).into_boxed_str()),
            source: None,
        })),
    };
    let (_, records) = capture_with(
        |b| b,
        || tracing::error!(error = &huge as &dyn std::error::Error, "x"),
    );
    let cause = records[0]["error.chain"][0].as_str().unwrap();
    assert!(
        cause.len() < 40_000 && cause.contains("truncated"),
        "{} bytes",
        cause.len()
    );
    // A field named like a redacted key is redacted whole, chain included.
    let (_, records) = capture_with(
        |b| b,
        || tracing::error!(password = &secret as &dyn std::error::Error, "y"),
    );
    assert_eq!(records[0]["password"], "[REDACTED]");
    assert!(records[0].get("password.chain").is_none());
}

// Key clashes found in review: every combination still writes each key once and loses nothing.

#[test]
fn a_field_named_like_an_error_chain_key_never_duplicates_it() {
    let e = chain();
    let (lines, records) = capture_with(
        |b| b,
        || {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                error.chain = "mine",
                "event"
            );
            let _s = tracing::info_span!("req", err = &e as &dyn std::error::Error).entered();
            tracing::info!(err.chain = "mine", "span");
        },
    );
    lines.iter().for_each(|l| assert_no_duplicate_keys(l));
    // The first of two fields under one key wins, as for any duplicate.
    assert!(one(&records, "event")["error.chain"].is_array());
    assert_eq!(
        one(&records, "span")["err.chain"],
        "mine",
        "the event field shadows"
    );
}

#[test]
fn a_user_field_already_named_with_the_prefix_keeps_its_own_key() {
    let (lines, records) = capture_with(
        |b| b,
        || {
            tracing::info!(level = "a", fields.level = "b", "event");
            let _s = tracing::info_span!("req", level = "span a").entered();
            tracing::info!(fields.level = "event b", "span");
        },
    );
    lines.iter().for_each(|l| assert_no_duplicate_keys(l));
    let r = one(&records, "event");
    assert_eq!(
        (&r["fields.level"], &r["fields.fields.level"]),
        (&json!("a"), &json!("b"))
    );
    let r = one(&records, "span");
    assert_eq!(
        (&r["fields.level"], &r["fields.fields.level"]),
        (&json!("span a"), &json!("event b"))
    );
}

#[test]
fn record_keys_in_the_prefix_namespace_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for b in [
        logwarden::builder().field("fields.level", "x"),
        logwarden::builder().rename(Key::SPAN, "fields.level"),
    ] {
        let e = b
            .dir(dir.path())
            .build::<tracing_subscriber::Registry>()
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fields.level") && e.contains("starts with `fields.`"),
            "{e}"
        );
    }
}

#[test]
fn the_alert_records_extra_fields_give_way_to_a_fixed_field() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, guard) = logwarden::builder()
        .service("orders")
        .dir(dir.path())
        .capture_log(false)
        .alert_threshold(2)
        .field("alert", "team-payments")
        .build()
        .unwrap();
    use tracing_subscriber::layer::SubscriberExt;
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for _ in 0..3 {
            tracing::error!("boom");
        }
    });
    let path = guard.log_path().unwrap().to_owned();
    // Dropping the guard delivers the alert, then writes its record (from the delivery thread).
    drop(guard);
    let lines = support::read_lines(&path);
    lines.iter().for_each(|l| assert_no_duplicate_keys(l));
    let alert = lines
        .iter()
        .map(|l| support::parse_line(l))
        .find(|r| r["target"] == "logwarden::alert")
        .expect("an alert record");
    assert_eq!(
        (&alert["alert"], &alert["logwarden.alert"]),
        (&json!("team-payments"), &json!("opened"))
    );
}

#[test]
fn fixed_fields_are_redacted_and_capped_like_any_value() {
    let long = "x".repeat(100_000);
    let (lines, records) = capture_with(
        |b| {
            b.from_vars([("LOGWARDEN_FIELDS", "api_token=s3cr3t-value")])
                .field("contact", "ops@example.com")
                .field("blob", long.as_str())
                .redaction(
                    logwarden::redact::Redaction::default()
                        .values(logwarden::redact::ValuePatterns::ALL),
                )
        },
        || tracing::info!("x"),
    );
    assert!(
        !lines[0].contains("s3cr3t") && !lines[0].contains("ops@"),
        "{}",
        lines[0]
    );
    assert_eq!(records[0]["api_token"], "[REDACTED]");
    assert!(records[0]["blob"].as_str().unwrap().len() < 40_000);
}

mod json_layer {
    //! The infallible `JsonLayer` setters: a later preset drops what clashes with it.
    use std::sync::{Arc, Mutex};

    use logwarden::record::{Format, Key};
    use logwarden::JsonLayer;
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl tracing_subscriber::fmt::MakeWriter<'_> for Buf {
        type Writer = Buf;
        fn make_writer(&self) -> Buf {
            self.clone()
        }
    }

    fn line(configure: impl FnOnce(JsonLayer<Buf>) -> JsonLayer<Buf>) -> String {
        let buf = Buf::default();
        let layer = configure(JsonLayer::new(buf.clone()));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!("m")
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.trim_end().to_owned()
    }

    #[test]
    fn a_rename_or_field_made_for_another_preset_never_duplicates_a_key() {
        for l in [
            line(|j| j.rename(Key::TARGET, "log.level").format(Format::ECS)),
            line(|j| j.field("severity", "x").format(Format::GCP)),
        ] {
            super::assert_no_duplicate_keys(&l);
        }
        let l = line(|j| j.rename(Key::TARGET, "logger").format(Format::ECS));
        assert!(l.contains("\"logger\":"), "a rename that fits is kept: {l}");
    }
}

//! `contrib/lnav/logwarden.json` in a real lnav: the formats are installed into a private lnav
//! home, a log written through the public API is opened headless, and lnav's SQL view of it is
//! compared with the file record by record (level, time, message, the declared columns) and with
//! the counts per level that were logged.
//!
//! Needs the `lnav` binary, so `#[ignore]`d for plain `cargo test`; `.ci/run` installs lnav and
//! runs it with `--ignored`, where a missing lnav fails the test instead of skipping it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::Value;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::read_records;

const FORMAT_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/lnav/logwarden.json");

/// How long one lnav run may take before the test kills it and fails (a run takes well under a
/// second; this only guards against a hang).
const LNAV_DEADLINE: Duration = Duration::from_secs(120);

/// What is logged at each level, and lnav's name for that level.
const COUNTS: [(Level, &str, usize); 5] = [
    (Level::ERROR, "error", 7),
    (Level::WARN, "warning", 13),
    (Level::INFO, "info", 101),
    (Level::DEBUG, "debug", 29),
    (Level::TRACE, "trace", 3),
];

/// Messages that a format (or a JSON decoder) could get wrong; every fifth event uses one.
const AWKWARD: [&str; 7] = [
    "payment \"declined\" by acme\\pay",
    "café ☕ 日本語 🦀 e\u{301}",
    "first line\nsecond line",
    "tab\tseparated",
    "line\u{2028}separator",
    "{\"looks\":\"like json\"}",
    "",
];

/// One lnav format of the file, and the record keys it reads.
struct Format {
    /// The format's name, which is also its SQL table.
    table: &'static str,
    /// The other format in the file, which must not claim this record.
    other_table: &'static str,
    timestamp: &'static str,
    level: &'static str,
    target: &'static str,
    /// Keys lnav shows as SQL columns, with the same name as in the record.
    columns: &'static [&'static str],
    /// Declared values hidden from the text view (constant per process).
    hidden: &'static [&'static str],
}

const DEFAULT: Format = Format {
    table: "logwarden_log",
    other_table: "logwarden_ecs_log",
    timestamp: "timestamp",
    level: "level",
    target: "target",
    columns: &[
        "target", "service", "env", "host", "pid", "span", "trace_id", "user_id",
    ],
    hidden: &["service", "env", "host", "pid"],
};

const ECS: Format = Format {
    table: "logwarden_ecs_log",
    other_table: "logwarden_log",
    timestamp: "@timestamp",
    level: "log.level",
    target: "log.logger",
    columns: &[
        "log.logger",
        "ecs.version",
        "service.name",
        "service.environment",
        "host.hostname",
        "process.pid",
        "span.name",
        "trace_id",
        "user_id",
    ],
    hidden: &[
        "ecs.version",
        "service.name",
        "service.environment",
        "host.hostname",
        "process.pid",
    ],
};

#[test]
#[ignore = "needs lnav (apt-get install lnav); run by .ci/run with --ignored"]
fn lnav_reads_the_default_record_with_every_level_field_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(
        &dir.path().join("logs"),
        logwarden::record::Format::LOGWARDEN,
    );
    check(&DEFAULT, dir.path(), &log);
}

#[test]
#[ignore = "needs lnav (apt-get install lnav); run by .ci/run with --ignored"]
fn lnav_reads_the_ecs_record_with_every_level_field_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(&dir.path().join("logs"), logwarden::record::Format::ECS);
    check(&ECS, dir.path(), &log);
}

/// Logs the events of [`COUNTS`] through logwarden into `dir`, drops the guard (which writes
/// everything) and returns the file. Time comes from a manual clock moved 1.234 ms per event, so
/// timestamps are distinct at lnav's millisecond resolution and the sub-millisecond digits must
/// be cut, not rounded.
fn write_log(dir: &Path, format: logwarden::record::Format) -> PathBuf {
    let clock =
        logwarden::testing::ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_795_644_059));
    let (layer, guard) = logwarden::builder()
        .service("orders")
        .env("lnav-test")
        .format(format)
        .dir(dir)
        .filter("trace")
        .clock(clock.clone())
        .capture_log(false)
        .alerts(false)
        .build()
        .unwrap();
    let path = guard.log_path().unwrap().to_owned();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let mut n = 0usize;
        for (level, _, count) in COUNTS {
            for i in 0..count {
                clock.advance(Duration::from_micros(1_234));
                let message = if n.is_multiple_of(5) {
                    AWKWARD[(n / 5) % AWKWARD.len()].to_owned()
                } else {
                    format!("order {i} placed")
                };
                // A third of the events outside any span, a third in `request`, a third in
                // `request` > `payment`.
                match n % 3 {
                    0 => emit(level, i, &message),
                    1 => {
                        let _request = tracing::info_span!(
                            "request",
                            trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                            user_id = 42
                        )
                        .entered();
                        emit(level, i, &message);
                    }
                    _ => {
                        let _request = tracing::info_span!(
                            "request",
                            trace_id = "0af7651916cd43dd8448eb211c80319c",
                            user_id = 7
                        )
                        .entered();
                        let _payment =
                            tracing::info_span!("payment", provider = "acme-pay").entered();
                        emit(level, i, &message);
                    }
                }
                n += 1;
            }
        }
    });
    drop(guard);
    path
}

/// One event at `level` (the macros need the level at compile time), with fields lnav was not
/// told about, which must still show.
fn emit(level: Level, i: usize, message: &str) {
    match level {
        Level::ERROR => tracing::error!(attempt = i, status = 502, "{message}"),
        Level::WARN => tracing::warn!(attempt = i, latency_ms = 812.5, "{message}"),
        Level::INFO => tracing::info!(items = i, total = 59.9, "{message}"),
        Level::DEBUG => tracing::debug!(cache_hit = i.is_multiple_of(2), "{message}"),
        _ => tracing::trace!(step = i, "{message}"),
    }
}

/// Installs the formats into a private lnav home under `home`, opens `log` and compares lnav's
/// table `format.table` with the file.
fn check(format: &Format, home: &Path, log: &Path) {
    let records = read_records(log);
    let total: usize = COUNTS.iter().map(|c| c.2).sum();
    assert_eq!(records.len(), total, "the log holds every event");

    install_formats(home);
    // Each declared column, and its SQL type (lnav's JSON output guesses a column's type from
    // its first row, so `42` may print as `"42"`; `typeof` says what SQL holds).
    let columns: Vec<String> = format
        .columns
        .iter()
        .map(|c| format!("\"{c}\", typeof(\"{c}\") AS \"{c}:type\""))
        .collect();
    let results = lnav_queries(
        home,
        log,
        &[
            format!(
                "SELECT log_level, count(*) AS n FROM {} GROUP BY log_level",
                format.table
            ),
            format!(
                "SELECT log_time, log_level, log_body, log_text, {} FROM {} ORDER BY log_line",
                columns.join(", "),
                format.table
            ),
            format!("SELECT count(*) AS n FROM {}", format.other_table),
        ],
    );

    // The counts per level are the ones logged (so the table exists and is not empty).
    let mut counted: Vec<(String, u64)> = rows(&results[0])
        .iter()
        .map(|r| {
            (
                r["log_level"].as_str().unwrap().to_owned(),
                r["n"].as_u64().unwrap(),
            )
        })
        .collect();
    counted.sort();
    let mut expected: Vec<(String, u64)> = COUNTS
        .iter()
        .map(|&(_, name, n)| (name.to_owned(), n as u64))
        .collect();
    expected.sort();
    assert_eq!(counted, expected, "records per level in {}", format.table);

    // Record by record: time (cut to lnav's milliseconds), message, every declared column, and
    // the text view (time, level, target, message, then the fields lnav was not told about).
    let table = rows(&results[1]);
    assert_eq!(table.len(), records.len());
    for (row, record) in table.iter().zip(&records) {
        let ts = record[format.timestamp].as_str().unwrap();
        assert_eq!(
            row["log_time"].as_str().unwrap(),
            ts[..23].replace('T', " "),
            "{row:#}"
        );
        let level = record[format.level].as_str().unwrap();
        let lnav_level = COUNTS
            .iter()
            .find(|c| c.0.as_str() == level)
            .unwrap_or_else(|| panic!("unknown level {level}"))
            .1;
        assert_eq!(row["log_level"], lnav_level, "{row:#}");
        assert_eq!(row["log_body"], record["message"], "{row:#}");
        for column in format.columns {
            let written = record.get(*column).unwrap_or(&Value::Null);
            let sql_type = match written {
                Value::Null => "null",
                Value::String(_) => "text",
                Value::Number(n) if n.is_i64() => "integer",
                other => panic!("{column} is {other} in the record"),
            };
            assert_eq!(
                text_of(&row[*column]),
                text_of(written),
                "{column}: {row:#}"
            );
            assert_eq!(row[format!("{column}:type")], sql_type, "{column}: {row:#}");
        }
        let text = row["log_text"].as_str().unwrap();
        let first = format!(
            "{} {level:<5} {}: {}\n",
            &ts[..23],
            record[format.target].as_str().unwrap(),
            record["message"].as_str().unwrap()
        );
        assert!(text.starts_with(&first), "{first:?} vs {row:#}");
        let shown = [format.timestamp, format.level, "message", format.target];
        for key in record.as_object().unwrap().keys() {
            let listed = text.contains(&format!("\n  {key}: "));
            if format.hidden.contains(&key.as_str()) {
                assert!(!listed, "{key} is hidden: {row:#}");
            } else if !shown.contains(&key.as_str()) {
                assert!(listed, "{key} should show under the line: {row:#}");
            }
        }
    }

    // The file's other format does not claim this record.
    assert_eq!(rows(&results[2])[0]["n"], 0, "{}", format.other_table);
}

/// `lnav -i` into the private home; checks lnav put the file there and not in the user's home.
fn install_formats(home: &Path) {
    let out = lnav(home, &["-i", FORMAT_FILE]);
    // lnav 0.11 uses `$XDG_CONFIG_HOME/lnav` when that directory exists, else `~/.lnav`.
    let installed =
        ["config/lnav", ".lnav"].map(|d| home.join(d).join("formats/installed/logwarden_log.json"));
    assert!(
        installed.iter().any(|p| p.is_file()),
        "lnav -i installed into neither of {installed:?}: {out}"
    );
}

/// Runs each SQL query against `log` in one headless lnav and returns each result as JSON.
fn lnav_queries(home: &Path, log: &Path, queries: &[String]) -> Vec<Value> {
    let mut args = vec!["-n".to_owned()];
    for q in queries {
        args.extend(["-c".to_owned(), format!(";{q}")]);
        args.extend(["-c".to_owned(), ":write-json-to -".to_owned()]);
    }
    args.push(log.to_str().unwrap().to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = lnav(home, &args);
    // lnav reports a failed query on stderr and still exits 0, so count the results.
    let results: Vec<Value> = serde_json::Deserializer::from_str(&out)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("lnav printed something else than JSON results ({e}): {out}"));
    assert_eq!(results.len(), queries.len(), "one result per query: {out}");
    results
}

/// A scalar as text, `None` for null.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn rows(result: &Value) -> &Vec<Value> {
    result.as_array().expect("a query result is an array")
}

/// Runs lnav with `args`, its home in `home` (and nothing else from our environment), and
/// returns stdout; panics with its output if it fails, is missing, or hangs.
fn lnav(home: &Path, args: &[&str]) -> String {
    fs::create_dir_all(home.join("config")).unwrap();
    let stdout = home.join("lnav.stdout");
    let stderr = home.join("lnav.stderr");
    let mut child = Command::new("lnav")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout).unwrap())
        .stderr(fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run lnav ({e}): install it with apt-get install lnav"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LNAV_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("lnav {args:?} still running after {LNAV_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = fs::read_to_string(&stdout).unwrap();
    let err = fs::read_to_string(&stderr).unwrap();
    assert!(
        status.success(),
        "lnav {args:?} failed ({status}): {out}\n{err}"
    );
    out
}

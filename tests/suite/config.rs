//! Bad configuration is refused with an error naming the setting (never a panic), and settings
//! from code and from variables combine in the documented order.

use std::fs;
use std::path::Path;

use logwarden::file::Timezone;
use logwarden::{Builder, ErrorKind};
use tracing_subscriber::Registry;

use crate::support;

/// The error `builder` fails with; panics (failing the test) if it builds.
fn build_err(builder: Builder) -> logwarden::Error {
    match builder.build::<Registry>() {
        Ok(_) => panic!("expected the configuration to be refused"),
        Err(e) => e,
    }
}

/// A builder with a valid service and the given directory; the tests add one bad setting.
fn base(dir: &Path) -> Builder {
    logwarden::builder()
        .service("orders")
        .env("test")
        .dir(dir)
        .capture_log(false)
}

fn assert_names(e: &logwarden::Error, setting: &str, value: &str, kind: ErrorKind) {
    let msg = e.to_string();
    assert_eq!(e.setting(), Some(setting), "wrong setting in {msg:?}");
    assert_eq!(e.kind(), kind, "{msg:?}");
    assert!(msg.contains(setting), "{msg:?} does not name {setting}");
    assert!(
        msg.contains(value),
        "{msg:?} does not quote the value {value:?}"
    );
    assert!(format!("{e:?}").contains(setting));
}

/// The variables `docs/configuration.md` documents, from its table (which a unit test keeps
/// equal to the variables the code reads).
fn documented_variables() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
    let doc = fs::read_to_string(&path).unwrap();
    let start = doc
        .find("<!-- environment:begin -->")
        .expect("the table is marked");
    let stop = doc
        .find("<!-- environment:end -->")
        .expect("the table's end is marked");
    doc[start..stop]
        .lines()
        .filter_map(|row| Some(row.strip_prefix("| `")?.split_once('`')?.0.to_owned()))
        .collect()
}

/// A value a variable must refuse, with the other variables that make it looked at.
struct Bad {
    var: &'static str,
    value: std::ffi::OsString,
    with: &'static [(&'static str, &'static str)],
    kind: ErrorKind,
}

fn bad(var: &'static str, value: &str) -> Bad {
    Bad {
        var,
        value: value.into(),
        with: &[],
        kind: ErrorKind::InvalidSetting,
    }
}

/// For a variable that takes any text: a value that is not text at all.
fn not_utf8(var: &'static str) -> Bad {
    use std::os::unix::ffi::OsStringExt;
    Bad {
        value: std::ffi::OsString::from_vec(b"x\xff".to_vec()),
        ..bad(var, "")
    }
}

/// Variables whose value is a credential: an error shows at most the URL's scheme and host.
const SECRET_VARIABLES: [&str; 2] = ["SLACK_WEBHOOK_URL", "LOGWARDEN_ALERTMANAGER_URL"];

#[test]
fn every_documented_variable_rejects_a_bad_value() {
    let mut cases = vec![
        bad("RUST_LOG", "info,[[["),
        bad("RUST_LOG", "info,orders=loud"),
        bad("LOGWARDEN_SERVICE", "a/b"),
        bad("OTEL_SERVICE_NAME", "a/b"),
        not_utf8("LOGWARDEN_ENV"),
        not_utf8("APP_ENV"),
        // `/proc/self` refuses new files even for root.
        Bad {
            kind: ErrorKind::Io,
            ..bad("LOGWARDEN_DIR", "/proc/self")
        },
        bad("LOGWARDEN_FILE", "../escape.log"),
        bad("LOGWARDEN_FILE", "sub/dir.log"),
        bad("LOGWARDEN_FILE", ".."),
        bad("LOGWARDEN_MAX_BYTES", "ten megabytes"),
        bad("LOGWARDEN_MAX_BYTES", "0"),
        bad("LOGWARDEN_MAX_BYTES", "-5"),
        bad("LOGWARDEN_MAX_TOTAL_BYTES", "lots"),
        bad("LOGWARDEN_MAX_TOTAL_BYTES", "0"),
        bad("LOGWARDEN_MAX_TOTAL_BYTES", "-5"),
        bad("LOGWARDEN_ROTATION", "weekly"),
        bad("LOGWARDEN_TIMEZONE", "Mars/Olympus_Mons"),
        bad("LOGWARDEN_TIMEZONE", "../../etc/passwd"),
        bad("LOGWARDEN_KEEP", "-1"),
        bad("LOGWARDEN_KEEP", "five"),
        bad("LOGWARDEN_STDOUT", "colour"),
        bad("LOGWARDEN_BUFFER_BYTES", "0"),
        bad("LOGWARDEN_BUFFER_BYTES", "lots"),
        bad("LOGWARDEN_OVERFLOW", "maybe"),
        bad("LOGWARDEN_SHUTDOWN_TIMEOUT", "soon"),
        bad("LOGWARDEN_SHUTDOWN_TIMEOUT", "1.5s"),
        bad("LOGWARDEN_FILE_MODE", "rw"),
        bad("LOGWARDEN_FILE_MODE", "0800"),
        bad("LOGWARDEN_COMPRESS", "perhaps"),
        bad("LOGWARDEN_ALERTS", "maybe"),
        bad(
            "SLACK_WEBHOOK_URL",
            "http://hooks.example.com/services/T0/B0/SECRET",
        ),
        bad(
            "SLACK_WEBHOOK_URL",
            "hooks.example.com/services/T0/B0/SECRET",
        ),
        bad("LOGWARDEN_ALERT_THRESHOLD", "0"),
        bad("LOGWARDEN_ALERT_THRESHOLD", "many"),
        bad("LOGWARDEN_ALERT_WINDOW", "0"),
        bad("LOGWARDEN_ALERT_WINDOW", "soon"),
        bad("LOGWARDEN_ALERT_COOLDOWN", "soon"),
        not_utf8("LOGWARDEN_ALERT_MENTION"),
        bad(
            "LOGWARDEN_ALERTMANAGER_URL",
            "ftp://alertmanager:9093/SECRET",
        ),
        not_utf8("LOGWARDEN_ALERTMANAGER_ALERTNAME"),
        bad("LOGWARDEN_ALERTMANAGER_RESEND", "soon"),
        bad("LOGWARDEN_METRICS_ADDR", "127.0.0.1:notaport"),
        not_utf8("LOGWARDEN_REDACT_KEYS"),
        bad("LOGWARDEN_REDACT_VALUES", "phone"),
        bad("LOGWARDEN_MAX_FIELD_BYTES", "lots"),
        bad("LOGWARDEN_MAX_FIELD_BYTES", "1"),
        bad("LOGWARDEN_MAX_LINE_BYTES", "lots"),
        bad("LOGWARDEN_MAX_LINE_BYTES", "10"),
        bad("LOGWARDEN_PANIC_HOOK", "maybe"),
        bad("LOGWARDEN_FORMAT", "xml"),
        bad("LOGWARDEN_TIMESTAMP", "iso"),
        bad("LOGWARDEN_FIELDS", "novalue"),
        bad("LOGWARDEN_FIELDS", "a=1,a=2"),
    ];
    if cfg!(feature = "http") {
        // Checked only where there is an Alertmanager to post to.
        cases.push(Bad {
            with: &[("LOGWARDEN_ALERTMANAGER_URL", "http://127.0.0.1:9093")],
            ..bad("LOGWARDEN_ALERTMANAGER_RESEND", "10ms")
        });
    }

    let documented = documented_variables();
    assert!(
        documented.len() > 30,
        "the table was not read: {documented:?}"
    );
    let untried: Vec<&String> = documented
        .iter()
        .filter(|v| !cases.iter().any(|c| c.var == v.as_str()))
        .collect();
    assert!(untried.is_empty(), "no bad value tried for {untried:?}");
    let undocumented: Vec<&str> = cases
        .iter()
        .map(|c| c.var)
        .filter(|v| !documented.iter().any(|d| d == v))
        .collect();
    assert!(undocumented.is_empty(), "not documented: {undocumented:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = std::panic::catch_unwind(|| {
            let vars = case
                .with
                .iter()
                .map(|&(k, v)| (k.into(), v.into()))
                .chain([(case.var.into(), case.value.clone())]);
            let vars: Vec<(std::ffi::OsString, std::ffi::OsString)> = vars.collect();
            let e = build_err(base(dir.path()).from_vars(vars));
            match case.value.to_str() {
                Some(value) if SECRET_VARIABLES.contains(&case.var) => {
                    let msg = e.to_string();
                    assert_eq!(e.setting(), Some(case.var), "{msg:?}");
                    assert_eq!(e.kind(), case.kind, "{msg:?}");
                    assert!(msg.contains(case.var), "{msg:?}");
                    assert!(!msg.contains("SECRET"), "{msg:?} shows {value:?}");
                }
                Some(value) => assert_names(&e, case.var, value, case.kind),
                None => {
                    assert_eq!(e.setting(), Some(case.var), "{e}");
                    assert_eq!(e.kind(), case.kind, "{e}");
                }
            }
        });
        if outcome.is_err() {
            failures.push(format!("{}={:?}", case.var, case.value));
        }
    }
    assert!(failures.is_empty(), "not refused as expected: {failures:?}");
    assert!(
        !dir.path().join("escape.log").exists()
            && !dir.path().parent().unwrap().join("escape.log").exists()
    );
}

#[test]
fn a_variable_that_is_not_utf8_is_refused() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let dir = tempfile::tempdir().unwrap();
    let e = build_err(base(dir.path()).from_vars([(
        OsString::from("LOGWARDEN_KEEP"),
        OsString::from_vec(b"3\xff".to_vec()),
    )]));
    assert_eq!(e.setting(), Some("LOGWARDEN_KEEP"));
    assert_eq!(e.kind(), ErrorKind::InvalidSetting);
}

#[test]
fn a_bad_variable_is_reported_even_if_code_sets_the_setting_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let e = build_err(
        base(dir.path())
            .from_vars([("LOGWARDEN_MAX_BYTES", "ten megabytes")])
            .max_bytes(1000),
    );
    assert_names(
        &e,
        "LOGWARDEN_MAX_BYTES",
        "ten megabytes",
        ErrorKind::InvalidSetting,
    );
}

#[test]
fn a_bad_timezone_variable_is_reported_even_if_code_sets_the_timezone_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let e = build_err(
        base(dir.path())
            .from_vars([("LOGWARDEN_TIMEZONE", "Mars/Olympus_Mons")])
            .timezone(Timezone::UTC),
    );
    assert_names(
        &e,
        "LOGWARDEN_TIMEZONE",
        "Mars/Olympus_Mons",
        ErrorKind::InvalidSetting,
    );
}

#[test]
fn bad_builder_values_name_the_builder_method() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: Vec<(Builder, &str, &str)> = vec![
        (base(d).max_bytes(0), "max_bytes", "0"),
        (base(d).file_name("a/b"), "file_name", "a/b"),
        (base(d).file_name(""), "file_name", "\"\""),
        (base(d).file_name("a\\b"), "file_name", "a"),
        (base(d).buffer_bytes(0), "buffer_bytes", "0"),
        (base(d).filter("info,[[["), "filter", "info,[[["),
        (base(d).service("  "), "service", "  "),
        (base(d).service(""), "service", "\"\""),
        (base(d).file_mode(0o1777), "file_mode", "1777"),
        (base(d).max_total_bytes(0), "max_total_bytes", "0"),
        (base(d).alert_threshold(0), "alert_threshold", "0"),
        (
            base(d).alert_window(std::time::Duration::ZERO),
            "alert_window",
            "0s",
        ),
        (
            base(d).timezone(Timezone::named("Mars/Olympus_Mons")),
            "timezone",
            "Mars/Olympus_Mons",
        ),
    ];
    for (builder, setting, value) in cases {
        let e = build_err(builder);
        assert_names(&e, setting, value, ErrorKind::InvalidSetting);
    }
    // Without the `gzip` feature, asking for compression is a configuration error too.
    if !cfg!(feature = "gzip") {
        let e = build_err(base(d).compress(true));
        assert_eq!(e.setting(), Some("compress"));
        let e = build_err(base(d).from_vars([("LOGWARDEN_COMPRESS", "true")]));
        assert_eq!(e.setting(), Some("LOGWARDEN_COMPRESS"));
    }
    // Nothing was created for a refused configuration.
    assert_eq!(fs::read_dir(d).unwrap().count(), 0);
}

/// Runs one event under the builder `configure` makes for a fresh directory; returns the active
/// file's name and the single record.
fn one_record(configure: impl FnOnce(&Path) -> Builder) -> (String, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let (path, records) = support::run(configure(tmp.path()), || tracing::info!("x"));
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(path.parent(), Some(tmp.path()));
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    (name, records.into_iter().next().unwrap())
}

// The default file name is `<service>.log`; a service with a slash cannot be one. The error must
// name the setting that holds the value: "the environment variable when the value came from the
// environment, the builder method otherwise" (`logwarden::Error`).

#[test]
fn a_service_from_logwarden_service_that_is_not_a_file_name_names_logwarden_service() {
    let dir = tempfile::tempdir().unwrap();
    let e = build_err(base(dir.path()).from_vars([("LOGWARDEN_SERVICE", "a/b")]));
    assert_names(&e, "LOGWARDEN_SERVICE", "a/b", ErrorKind::InvalidSetting);
}

#[test]
fn a_service_from_otel_service_name_that_is_not_a_file_name_names_otel_service_name() {
    let dir = tempfile::tempdir().unwrap();
    let e = build_err(
        logwarden::builder()
            .dir(dir.path())
            .from_vars([("OTEL_SERVICE_NAME", "a/b")]),
    );
    assert_names(&e, "OTEL_SERVICE_NAME", "a/b", ErrorKind::InvalidSetting);
}

#[test]
fn a_service_from_code_that_is_not_a_file_name_names_the_service_method() {
    let dir = tempfile::tempdir().unwrap();
    let e = build_err(logwarden::builder().dir(dir.path()).service("a/b"));
    assert_names(&e, "service", "a/b", ErrorKind::InvalidSetting);
}

#[test]
fn a_service_with_a_slash_is_fine_with_an_explicit_file_name() {
    let (name, r) = one_record(|d| {
        logwarden::builder()
            .dir(d)
            .service("a/b")
            .file_name("ok.log")
    });
    assert_eq!(name, "ok.log");
    assert_eq!(r["service"], "a/b");
}

#[test]
fn blank_service_variable_counts_as_unset() {
    // `from_vars` documents that empty variables leave the setting alone; whitespace-only
    // values are treated the same way, so the builder's service (or the fallback) stays.
    let (_, r) = one_record(|d| base(d).from_vars([("LOGWARDEN_SERVICE", "  ")]));
    assert_eq!(r["service"], "orders");
    let (_, r) = one_record(|d| {
        base(d).from_vars([("LOGWARDEN_SERVICE", "  "), ("OTEL_SERVICE_NAME", "otel")])
    });
    assert_eq!(r["service"], "otel");
}

#[test]
fn a_regular_file_as_the_log_directory_is_an_io_error_naming_the_directory_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    fs::write(&file, "keep me\n").unwrap();
    let file_str = file.to_str().unwrap();

    let e = build_err(base(tmp.path()).from_vars([("LOGWARDEN_DIR", file_str)]));
    assert_names(&e, "LOGWARDEN_DIR", file_str, ErrorKind::Io);

    let e = build_err(base(&file));
    assert_names(&e, "dir", file_str, ErrorKind::Io);

    // A directory below a regular file cannot be created either.
    let below = file.join("sub");
    let e = build_err(base(&below));
    assert_names(&e, "dir", below.to_str().unwrap(), ErrorKind::Io);
    assert!(std::error::Error::source(&e).is_some());

    assert_eq!(fs::read_to_string(&file).unwrap(), "keep me\n");
}

#[test]
fn a_directory_where_files_cannot_be_created_is_an_io_error_naming_the_directory_setting() {
    // `/proc/self` refuses new files even for root, unlike a chmod-ed directory.
    let e = build_err(base(Path::new("/proc/self")));
    assert_names(&e, "dir", "/proc/self", ErrorKind::Io);
    let dir = tempfile::tempdir().unwrap();
    let e = build_err(base(dir.path()).from_vars([("LOGWARDEN_DIR", "/proc/self")]));
    assert_names(&e, "LOGWARDEN_DIR", "/proc/self", ErrorKind::Io);
}

/// Plants a symlink at `dir/name` pointing at `dir/precious`, builds, and checks the error and
/// that the target was not touched.
fn assert_symlink_refused(builder: Builder, dir: &Path, name: &str, setting: &str) {
    let target = dir.join("precious");
    fs::write(&target, "do not append\n").unwrap();
    let link = dir.join(name);
    std::os::unix::fs::symlink(&target, &link).unwrap();

    let e = build_err(builder);
    assert_names(&e, setting, link.to_str().unwrap(), ErrorKind::Io);
    assert_eq!(fs::read_to_string(&target).unwrap(), "do not append\n");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    fs::remove_file(&link).unwrap();
}

#[test]
fn a_symlink_at_the_log_path_is_refused_and_its_target_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert_symlink_refused(
        base(d).from_vars([("LOGWARDEN_FILE", "app.log")]),
        d,
        "app.log",
        "LOGWARDEN_FILE",
    );
    assert_symlink_refused(base(d).file_name("app.log"), d, "app.log", "file_name");
    // The default name `<service>.log`, with the service from the environment.
    assert_symlink_refused(
        logwarden::builder()
            .dir(d)
            .from_vars([("LOGWARDEN_SERVICE", "orders")]),
        d,
        "orders.log",
        "LOGWARDEN_SERVICE",
    );
}

#[test]
fn a_dangling_symlink_at_the_log_path_does_not_create_its_target() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let target = d.join("created-through-link");
    std::os::unix::fs::symlink(&target, d.join("app.log")).unwrap();
    let e = build_err(base(d).file_name("app.log"));
    assert_eq!(e.setting(), Some("file_name"));
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(!target.exists());
}

#[test]
fn a_directory_at_the_log_path_is_refused_naming_the_file_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::create_dir(d.join("app.log")).unwrap();
    let e = build_err(base(d).from_vars([("LOGWARDEN_FILE", "app.log")]));
    assert_eq!(e.setting(), Some("LOGWARDEN_FILE"));
    assert_eq!(e.kind(), ErrorKind::Io);
}

#[test]
fn variables_applied_after_code_win_and_code_after_variables_wins() {
    let (name, r) = one_record(|d| {
        logwarden::builder()
            .dir(d)
            .service("a")
            .from_vars([("LOGWARDEN_SERVICE", "b")])
    });
    assert_eq!((name.as_str(), &r["service"]), ("b.log", &"b".into()));

    let (name, r) = one_record(|d| {
        logwarden::builder()
            .dir(d)
            .from_vars([("LOGWARDEN_SERVICE", "b")])
            .service("a")
    });
    assert_eq!((name.as_str(), &r["service"]), ("a.log", &"a".into()));

    let (_, r) = one_record(|d| base(d).env("code").from_vars([("LOGWARDEN_ENV", "vars")]));
    assert_eq!(r["env"], "vars");
    let (_, r) = one_record(|d| base(d).from_vars([("LOGWARDEN_ENV", "vars")]).env("code"));
    assert_eq!(r["env"], "code");

    let (name, _) = one_record(|d| {
        base(d)
            .file_name("code.log")
            .from_vars([("LOGWARDEN_FILE", "vars.log")])
    });
    assert_eq!(name, "vars.log");
    let (name, _) = one_record(|d| {
        base(d)
            .from_vars([("LOGWARDEN_FILE", "vars.log")])
            .file_name("code.log")
    });
    assert_eq!(name, "code.log");
}

#[test]
fn rust_log_follows_the_same_precedence_as_filter() {
    let events = || {
        tracing::debug!("dbg");
        tracing::warn!("wrn");
    };
    let tmp = tempfile::tempdir().unwrap();
    let (_, records) = support::run(
        base(tmp.path())
            .filter("warn")
            .from_vars([("RUST_LOG", "debug")]),
        events,
    );
    assert_eq!(
        records.len(),
        2,
        "RUST_LOG=debug after filter(warn): {records:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let (_, records) = support::run(
        base(tmp.path())
            .from_vars([("RUST_LOG", "debug")])
            .filter("warn"),
        events,
    );
    assert_eq!(
        records.len(),
        1,
        "filter(warn) after RUST_LOG=debug: {records:?}"
    );
    assert_eq!(records[0]["message"], "wrn");
}

/// Logs lines that each overflow `max_bytes`, so every line rotates, and counts rotated files.
fn rotated_files_kept(builder: Builder, dir: &Path) -> usize {
    let pad = "p".repeat(300);
    let (path, _) = support::run(builder.max_bytes(400), || {
        for i in 0..8 {
            tracing::info!(i, pad = pad.as_str(), "line");
        }
    });
    let active = path.file_name().unwrap().to_str().unwrap().to_owned();
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != &active && n.starts_with(&active))
        .count()
}

#[test]
fn keep_follows_the_same_precedence() {
    let t1 = tempfile::tempdir().unwrap();
    let n = rotated_files_kept(
        base(t1.path()).keep(1).from_vars([("LOGWARDEN_KEEP", "3")]),
        t1.path(),
    );
    assert_eq!(n, 3, "LOGWARDEN_KEEP applied after keep(1) should win");
    let t2 = tempfile::tempdir().unwrap();
    let n = rotated_files_kept(
        base(t2.path()).from_vars([("LOGWARDEN_KEEP", "3")]).keep(1),
        t2.path(),
    );
    assert_eq!(n, 1, "keep(1) applied after LOGWARDEN_KEEP should win");
}

#[test]
fn max_total_bytes_follows_the_same_precedence() {
    // Each rotated file is one line of 450 to 520 bytes (by the host name's length): 1300 bytes
    // hold two of them, not three.
    let t1 = tempfile::tempdir().unwrap();
    let n = rotated_files_kept(
        base(t1.path())
            .keep(5)
            .max_total_bytes(100)
            .from_vars([("LOGWARDEN_MAX_TOTAL_BYTES", "1300")]),
        t1.path(),
    );
    assert_eq!(
        n, 2,
        "LOGWARDEN_MAX_TOTAL_BYTES applied after the code should win"
    );
    let t2 = tempfile::tempdir().unwrap();
    let n = rotated_files_kept(
        base(t2.path())
            .keep(5)
            .from_vars([("LOGWARDEN_MAX_TOTAL_BYTES", "1300")])
            .max_total_bytes(100),
        t2.path(),
    );
    assert_eq!(
        n, 0,
        "max_total_bytes(100) applied after the variable should win"
    );
    let t3 = tempfile::tempdir().unwrap();
    let n = rotated_files_kept(
        base(t3.path())
            .keep(5)
            .max_total_bytes(100)
            .from_vars([("LOGWARDEN_MAX_TOTAL_BYTES", "off")]),
        t3.path(),
    );
    assert_eq!(n, 5, "`off` lifts the cap");
}

#[test]
fn fallback_variables_and_the_default_file_name() {
    let (name, r) = one_record(|d| {
        logwarden::builder()
            .dir(d)
            .from_vars([("OTEL_SERVICE_NAME", "otel-svc"), ("APP_ENV", "staging")])
    });
    assert_eq!(r["service"], "otel-svc");
    assert_eq!(r["env"], "staging");
    assert_eq!(name, "otel-svc.log");

    let (name, r) = one_record(|d| {
        logwarden::builder().dir(d).from_vars([
            ("OTEL_SERVICE_NAME", "otel-svc"),
            ("LOGWARDEN_SERVICE", "lw-svc"),
            ("APP_ENV", "staging"),
            ("LOGWARDEN_ENV", "production"),
        ])
    });
    assert_eq!(r["service"], "lw-svc");
    assert_eq!(r["env"], "production");
    assert_eq!(name, "lw-svc.log");

    // Without any env setting: `development`.
    let (name, r) = one_record(|d| logwarden::builder().dir(d).service("orders"));
    assert_eq!(r["env"], "development");
    assert_eq!(name, "orders.log");
}

#[test]
fn logwarden_dir_is_created_with_its_parents() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = tmp.path().join("nested/logs");
    let (path, records) = support::run(
        logwarden::builder().from_vars([
            ("LOGWARDEN_SERVICE", "lw-svc"),
            ("LOGWARDEN_FILE", "custom.log"),
            ("LOGWARDEN_DIR", sub.to_str().unwrap()),
        ]),
        || tracing::info!("x"),
    );
    assert_eq!(path, sub.join("custom.log"));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["service"], "lw-svc");
}

#[test]
fn valid_spellings_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let vars = [
        ("RUST_LOG", "info,orders=debug"),
        ("LOGWARDEN_MAX_BYTES", "10MiB"),
        ("LOGWARDEN_ROTATION", "Daily"),
        ("LOGWARDEN_KEEP", "0"),
        ("LOGWARDEN_MAX_TOTAL_BYTES", "1.5GiB"),
        ("LOGWARDEN_TIMEZONE", "Europe/Berlin"),
        ("LOGWARDEN_STDOUT", "off"),
        ("LOGWARDEN_BUFFER_BYTES", "64k"),
        ("LOGWARDEN_OVERFLOW", "drop"),
        ("LOGWARDEN_SHUTDOWN_TIMEOUT", "500ms"),
        ("LOGWARDEN_FILE_MODE", "0600"),
        ("LOGWARDEN_COMPRESS", "false"),
        ("LOGWARDEN_FILE", "ok.log"),
        ("LOGWARDEN_ENV", ""),
    ];
    let (path, records) = support::run(base(tmp.path()).from_vars(vars), || tracing::info!("x"));
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0]["env"], "test",
        "an empty variable leaves the setting alone"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o600, 0, "file mode {mode:o} wider than 0600");
}

/// The child of the test below: the configuration the parent put in its environment.
#[test]
fn misspelt_variable_child() {
    let Some(dir) = std::env::var_os("LWTEST_MISSPELT_CHILD") else {
        return; // only runs as a child of the test below
    };
    let _stack = logwarden::builder()
        .dir(dir)
        .service("orders")
        .from_env()
        .build::<Registry>()
        .expect("a misspelt variable is not an error");
}

#[test]
fn a_misspelt_variable_gets_one_warning_naming_the_closest_known_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = support::child::this_test(module_path!(), "misspelt_variable_child");
    cmd.env("LWTEST_MISSPELT_CHILD", dir.path())
        .env("LOGWARDEN_MAX_BYTE", "10MB")
        .env("LOGWARDEN_KEEP", "3");
    let out = support::child::run_test(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("logwarden: "))
        .collect();
    assert_eq!(
        warnings,
        ["logwarden: LOGWARDEN_MAX_BYTE is not a logwarden variable and is ignored; did you mean \
          LOGWARDEN_MAX_BYTES?"],
        "{stderr}"
    );
}

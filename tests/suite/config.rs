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

#[test]
fn every_documented_variable_rejects_a_bad_value() {
    let cases = [
        ("RUST_LOG", "info,[[["),
        ("RUST_LOG", "info,orders=loud"),
        ("LOGWARDEN_MAX_BYTES", "ten megabytes"),
        ("LOGWARDEN_MAX_BYTES", "0"),
        ("LOGWARDEN_MAX_BYTES", "-5"),
        ("LOGWARDEN_ROTATION", "weekly"),
        ("LOGWARDEN_KEEP", "-1"),
        ("LOGWARDEN_KEEP", "five"),
        ("LOGWARDEN_MAX_TOTAL_BYTES", "lots"),
        ("LOGWARDEN_MAX_TOTAL_BYTES", "0"),
        ("LOGWARDEN_MAX_TOTAL_BYTES", "-5"),
        ("LOGWARDEN_TIMEZONE", "Mars/Olympus_Mons"),
        ("LOGWARDEN_TIMEZONE", "../../etc/passwd"),
        ("LOGWARDEN_STDOUT", "colour"),
        ("LOGWARDEN_BUFFER_BYTES", "0"),
        ("LOGWARDEN_BUFFER_BYTES", "lots"),
        ("LOGWARDEN_OVERFLOW", "maybe"),
        ("LOGWARDEN_SHUTDOWN_TIMEOUT", "soon"),
        ("LOGWARDEN_SHUTDOWN_TIMEOUT", "1.5s"),
        ("LOGWARDEN_FILE_MODE", "rw"),
        ("LOGWARDEN_FILE_MODE", "0800"),
        ("LOGWARDEN_COMPRESS", "perhaps"),
        ("LOGWARDEN_FILE", "../escape.log"),
        ("LOGWARDEN_FILE", "sub/dir.log"),
        ("LOGWARDEN_FILE", ".."),
        ("LOGWARDEN_SERVICE", "a/b"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (var, value) in cases {
        let outcome = std::panic::catch_unwind(|| {
            let e = build_err(base(dir.path()).from_vars([(var, value)]));
            assert_names(&e, var, value, ErrorKind::InvalidSetting);
        });
        if outcome.is_err() {
            failures.push(format!("{var}={value:?}"));
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

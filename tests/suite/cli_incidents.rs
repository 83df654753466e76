//! `logwarden incidents` (feature `cli`), run as a process on real log directories: one written by
//! the library itself (its alert records, rotated and compressed files), and one written the way a
//! Python service's JSON formatter and `RotatingFileHandler` would.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, UNIX_EPOCH};

use logwarden::testing::ManualClock;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

use crate::support;
use crate::support::{eventually, HANG};

/// 2026-11-30T10:00:00Z.
const T0: u64 = 1_796_032_800;

fn logwarden(args: &[&str]) -> Output {
    support::child::output(
        Command::new(env!("CARGO_BIN_EXE_logwarden"))
            .args(args)
            .env_remove("LOGWARDEN_ALERT_THRESHOLD")
            .env_remove("LOGWARDEN_ALERT_WINDOW"),
    )
}

fn json(args: &[&str]) -> Value {
    let out = logwarden(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON object")
}

fn rfc3339(secs: u64) -> String {
    // Days since the epoch to a civil date (enough for 2026).
    let days = secs / 86_400;
    let (mut y, mut d) = (1970, days);
    loop {
        let len = if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
            366
        } else {
            365
        };
        if d < len {
            break;
        }
        d -= len;
        y += 1;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let months = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut m = 0;
    while d >= months[m] {
        d -= months[m];
        m += 1;
    }
    let s = secs % 86_400;
    format!(
        "{y}-{:02}-{:02}T{:02}:{:02}:{:02}.000000Z",
        m + 1,
        d + 1,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Three incidents the library alerts on and resolves, then a fourth left open, with rotation
/// (and compression where the `gzip` feature is on) underneath. The command must report what
/// the library's own guard reports, from the alert records and, with `--derive`, from the ERROR
/// lines alone.
#[test]
fn the_command_agrees_with_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(T0));
    let builder = logwarden::builder()
        .service("orders")
        .env("test")
        .dir(dir.path())
        .capture_log(false)
        .clock(clock.clone())
        .alert_threshold(5)
        .alert_window(Duration::from_secs(60))
        .max_bytes(Some(4_000))
        .keep(100)
        .compress(cfg!(feature = "gzip"));
    let (layer, guard) = builder.build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    // Incident k: 8 errors one second apart from `start`, ending with the last five errors'
    // window at start + 3 + 60 s; the fourth is left open.
    let starts = [600u64, 2_000, 4_000, 6_000];
    let mut expected = Vec::new();
    tracing::dispatcher::with_default(&dispatch, || {
        for (k, &start) in starts.iter().enumerate() {
            for s in (start - 300..start).step_by(10) {
                clock.set(UNIX_EPOCH + Duration::from_secs(T0 + s));
                tracing::info!(order = s, "order placed");
            }
            for i in 0..8 {
                clock.set(UNIX_EPOCH + Duration::from_secs(T0 + start + i));
                // One callsite per incident: the library groups errors by callsite.
                match k {
                    0 => tracing::error!(attempt = i, "payment failed"),
                    1 => tracing::error!(attempt = i, "inventory timeout"),
                    2 => tracing::error!(attempt = i, "db pool exhausted"),
                    _ => tracing::error!(attempt = i, "cache stampede"),
                }
            }
            let message = [
                "payment failed",
                "inventory timeout",
                "db pool exhausted",
                "cache stampede",
            ][k];
            expected.push((T0 + start + 4, T0 + start + 63, message));
            if k < 3 {
                clock.set(UNIX_EPOCH + Duration::from_secs(T0 + start + 200));
                tracing::info!("all quiet");
                eventually("the resolution", HANG, || {
                    guard.incidents().resolved == k as u64 + 1
                });
            }
        }
    });
    let library = guard.incidents();
    assert_eq!(
        (library.opened, library.resolved, library.open),
        (4, 3, true)
    );
    assert!(guard.flush());
    drop(guard);
    let rotated = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(rotated > 5, "the log rotated ({rotated} files)");

    let d = dir.path().to_str().unwrap();
    for args in [
        vec!["incidents", d, "--json"],
        vec!["incidents", d, "--json", "--derive"],
    ] {
        let v = json(&args);
        let derived = args.len() == 4;
        assert_eq!(
            v["source"],
            if derived {
                "derived from ERROR times"
            } else {
                "alert records"
            }
        );
        assert_eq!(v["count"], 4, "{args:?}: {v:#}");
        // The library stopped with #4 open: its records end it with the process; from the ERROR
        // lines alone, the input just ends with it open. Neither counts in MTTR.
        let (open, stopped) = if derived { (1, 0) } else { (0, 1) };
        assert_eq!(
            (&v["open"], &v["stopped"]),
            (&open.into(), &stopped.into()),
            "{v:#}"
        );
        let incidents = v["incidents"].as_array().unwrap();
        for (n, (i, (opened, resolved, message))) in incidents.iter().zip(&expected).enumerate() {
            assert_eq!(i["opened_at"], rfc3339(*opened), "{args:?} #{n}");
            assert_eq!(i["top_message"], *message);
            assert_eq!(i["errors"], 8, "{args:?} #{n}");
            if n == 3 {
                assert_eq!(i["resolved_at"], Value::Null);
                assert_eq!(i["duration_s"], Value::Null);
                assert_eq!(i["stopped_at"].is_string(), !derived, "{args:?} #{n}: {i}");
            } else {
                assert_eq!(i["resolved_at"], rfc3339(*resolved), "{args:?} #{n}");
                assert_eq!(i["duration_s"], 59.0);
            }
        }
        // The same MTTR as the library's guard, open incident excluded.
        let mttr = library.mttr.unwrap().as_secs_f64();
        assert_eq!(v["mttr_s"].as_f64(), Some(mttr));
        assert_eq!(mttr, 59.0);
        assert_eq!(v["total_s"].as_f64(), Some(3.0 * 59.0));
        assert_eq!(v["errors"], 32);
    }

    // The table says the same, for people, without colour codes off a terminal.
    let out = logwarden(&["incidents", d]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(!table.contains('\x1b'), "{table}");
    assert!(
        table.contains(
            "4 incidents (1 ended by its process stopping, left out of the total and MTTR)"
        ),
        "{table}"
    );
    assert!(table.contains("MTTR: 59s"), "{table}");
    assert!(table.contains("db pool exhausted"), "{table}");
    let stopped: Vec<&str> = table
        .lines()
        .filter(|l| l.contains(" stopped 2026-"))
        .collect();
    assert_eq!(stopped.len(), 1, "{table}");
    assert!(stopped[0].contains("cache stampede"), "{table}");
    assert!(!table.contains("open  "), "{table}");
}

/// A Python service: `python-json-logger` lines (`asctime`, `levelname`, `name`), rotated by
/// `RotatingFileHandler` (`app.log.2` older than `app.log.1`), one old file gzipped by
/// logrotate, a torn line and some plain text. Incidents are derived with the flags' rule.
#[test]
fn a_python_services_rotated_logs() {
    let dir = tempfile::tempdir().unwrap();
    let line = |secs: u64, level: &str, message: &str| {
        let t = rfc3339(T0 + secs);
        format!(
            "{{\"asctime\": \"{} {},000\", \"levelname\": \"{level}\", \"name\": \"app.db\", \"message\": \"{message}\"}}\n",
            &t[..10],
            &t[11..19]
        )
    };
    let mut all: Vec<String> = Vec::new();
    for s in (0..3_600).step_by(5) {
        all.push(line(s, "INFO", "request served"));
        // 10 errors 3 s apart from 1000 s; 3 CRITICAL 10 s apart from 2500 s.
        if (1_000..1_030).contains(&s) {
            all.push(line(s + 1, "ERROR", "connection reset"));
            all.push(line(s + 4, "ERROR", "connection reset"));
        }
        if [2_500, 2_510, 2_520].contains(&s) {
            all.push(line(s + 1, "CRITICAL", "disk full"));
        }
    }
    let third = all.len() / 3;
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.path().join("app.log.2.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    let mut gz = gz;
    gz.write_all(all[..third].concat().as_bytes()).unwrap();
    gz.finish().unwrap();
    std::fs::write(
        dir.path().join("app.log.1"),
        all[third..2 * third].concat() + "Traceback (most recent call last):\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app.log"),
        all[2 * third..].concat() + "{\"asctime\": \"2026-11-25 11:0",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();

    let v = json(&[
        "incidents",
        d,
        "--json",
        "--threshold",
        "3",
        "--window",
        "30s",
    ]);
    assert_eq!(v["source"], "derived from ERROR times");
    assert_eq!(v["rule"]["threshold"], 3);
    assert_eq!(v["skipped"], 2, "a traceback line and a torn line");
    assert_eq!(v["errors"], 15);
    let incidents = v["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 2, "{v:#}");
    // Errors at 1001, 1004, 1006, 1009, …, 1029: the third (1006) crosses; the last three
    // (1024, 1026, 1029) leave the window at 1024 + 30.
    assert_eq!(incidents[0]["opened_at"], rfc3339(T0 + 1_006));
    assert_eq!(incidents[0]["resolved_at"], rfc3339(T0 + 1_054));
    assert_eq!(incidents[0]["errors"], 12);
    assert_eq!(incidents[0]["top_message"], "connection reset");
    assert_eq!(incidents[0]["service"], "app");
    // CRITICAL counts: 2501, 2511, 2521 within 30 s; resolved at 2501 + 30.
    assert_eq!(incidents[1]["opened_at"], rfc3339(T0 + 2_521));
    assert_eq!(incidents[1]["resolved_at"], rfc3339(T0 + 2_531));
    assert_eq!(incidents[1]["top_message"], "disk full");
    assert_eq!(v["mttr_s"].as_f64(), Some((48.0 + 10.0) / 2.0));

    // The default rule (5 within 60 s) sees only the first; --since/--until keep the
    // incidents that opened in the range.
    assert_eq!(json(&["incidents", d, "--json"])["count"], 1);
    let middle = rfc3339(T0 + 2_000);
    let ranged = |flag: &str| json(&["incidents", d, "--json", "--threshold", "3", flag, &middle]);
    let v = ranged("--since");
    assert_eq!(v["count"], 1);
    assert_eq!(v["incidents"][0]["top_message"], "disk full");
    assert_eq!(v["errors"], 3, "only errors in the range are counted");
    let v = ranged("--until");
    assert_eq!(v["count"], 1);
    assert_eq!(v["incidents"][0]["top_message"], "connection reset");
}

#[test]
fn exit_codes_and_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let out = logwarden(&["incidents", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(missing.to_str().unwrap()), "{err}");

    // A directory with nothing that looks like a log, then only an empty log.
    std::fs::write(dir.path().join("notes.txt"), "hello\n").unwrap();
    let d = dir.path().to_str().unwrap();
    let out = logwarden(&["incidents", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no log files in"));
    std::fs::write(dir.path().join("app.log"), "").unwrap();
    let out = logwarden(&["incidents", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to read"));

    // Usage errors: 2.
    for args in [
        vec!["incidents"],
        vec!["incidents", d, "--threshold", "0"],
        vec!["incidents", d, "--window", "soon"],
        vec!["incidents", d, "--since", "last tuesday"],
        vec![
            "incidents",
            d,
            "--since",
            "2026-11-26",
            "--until",
            "2026-11-25",
        ],
        vec!["frobnicate"],
    ] {
        let out = logwarden(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // A bad variable names itself.
    let out = support::child::output(
        Command::new(env!("CARGO_BIN_EXE_logwarden"))
            .args(["incidents", d])
            .env("LOGWARDEN_ALERT_WINDOW", "forever"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOGWARDEN_ALERT_WINDOW"));

    let out = logwarden(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("logwarden {}", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = logwarden(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("incidents") && script.contains("--since"),
            "{shell}"
        );
    }
    let out = logwarden(&["incidents", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--since"));
}

/// An unreadable file is reported with its name; the other files are still read and shown,
/// and the exit code (1) says the figures are incomplete.
#[test]
fn an_unreadable_file_is_named_the_rest_is_read_and_the_exit_code_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let good = format!(
        "{{\"timestamp\":\"{}\",\"level\":\"ERROR\",\"message\":\"m\"}}\n",
        rfc3339(T0)
    );
    std::fs::write(dir.path().join("a.log"), &good).unwrap();
    // A gzip header followed by garbage.
    std::fs::write(
        dir.path().join("a.log.1.gz"),
        b"\x1f\x8b\x08\x00garbage-garbage",
    )
    .unwrap();
    let out = logwarden(&["incidents", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a.log.1.gz"), "{err}");
    assert!(err.contains("1 file could not be read to the end"), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"], 1);
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.concat()).unwrap();
}

fn record(secs: u64, level: &str, fields: &str) -> String {
    format!(
        "{{\"timestamp\":\"{}\",\"level\":\"{level}\",{fields}}}\n",
        rfc3339(T0 + secs)
    )
}

/// A logwarden service with alert records beside a Python service without: each is described
/// its own way, and neither hides the other.
#[test]
fn records_for_the_services_that_have_them_derived_for_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let alert = |secs: u64, kind: &str, resolved: bool| {
        record(
            secs,
            if resolved { "INFO" } else { "WARN" },
            &format!(
                "\"message\":\"x\",\"target\":\"logwarden::alert\",\"service\":\"orders\",\"host\":\"h\",\"pid\":1,\"alert\":\"{kind}\",\"incident\":1,\"errors_total\":5,\"top_error\":\"db down\",\"opened_at\":\"{}\"{}",
                rfc3339(T0 + 100),
                if resolved { format!(",\"resolved_at\":\"{}\"", rfc3339(T0 + 160)) } else { String::new() }
            ),
        )
    };
    write_lines(
        &dir.path().join("orders.log"),
        &[alert(100, "opened", false), alert(161, "resolved", true)],
    );
    let python: Vec<String> = (0..6)
        .map(|i| {
            record(
                1_000 + i,
                "ERROR",
                "\"message\":\"card declined\",\"name\":\"payments\"",
            )
        })
        .chain(std::iter::once(record(2_000, "INFO", "\"message\":\"ok\"")))
        .collect();
    write_lines(&dir.path().join("payments.log"), &python);
    let v = json(&["incidents", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(v["count"], 2, "{v:#}");
    assert_eq!(v["source"], "alert records, derived where there are none");
    assert_eq!(v["incidents"][0]["top_message"], "db down");
    assert_eq!(v["incidents"][0]["service"], "orders");
    assert_eq!(v["incidents"][1]["top_message"], "card declined");
    assert_eq!(v["incidents"][1]["service"], "payments");
}

/// A container restarted between two incidents: same host, pid 1, incident #1 both times.
#[test]
fn a_restarted_container_numbers_from_one_again_and_both_incidents_count() {
    let dir = tempfile::tempdir().unwrap();
    let alert = |secs: u64, kind: &str, opened: u64, exact: bool| {
        let mut fields = format!(
            "\"message\":\"x\",\"target\":\"logwarden::alert\",\"service\":\"orders\",\"host\":\"web\",\"pid\":1,\"alert\":\"{kind}\",\"incident\":1,\"errors_total\":5,\"duration_secs\":56.0"
        );
        if exact {
            fields.push_str(&format!(",\"opened_at\":\"{}\"", rfc3339(T0 + opened)));
        }
        record(
            secs,
            if kind == "resolved" { "INFO" } else { "WARN" },
            &fields,
        )
    };
    for exact in [true, false] {
        write_lines(
            &dir.path().join("orders.log"),
            &[
                alert(4, "opened", 4, exact),
                alert(60, "resolved", 4, exact),
                alert(3_604, "opened", 3_604, exact),
                alert(3_660, "resolved", 3_604, exact),
            ],
        );
        let v = json(&["incidents", dir.path().to_str().unwrap(), "--json"]);
        assert_eq!(v["count"], 2, "exact opening times: {exact}: {v:#}");
        assert_eq!(v["mttr_s"].as_f64(), Some(56.0), "exact: {exact}");
    }
}

/// Two replicas of one service, three errors each within the window: each process has its own
/// window in the library, so with a threshold of 5 there is no incident, as in each file alone.
#[test]
fn replicas_of_a_service_each_have_their_own_window() {
    let dir = tempfile::tempdir().unwrap();
    for pod in ["a", "b"] {
        let lines: Vec<String> = (0..3)
            .map(|i| {
                record(
                    i * 10 + u64::from(pod == "b"),
                    "ERROR",
                    &format!("\"message\":\"boom\",\"service\":\"orders\",\"host\":\"pod-{pod}\",\"pid\":1"),
                )
            })
            .collect();
        write_lines(&dir.path().join(format!("orders-{pod}.log")), &lines);
    }
    let v = json(&["incidents", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(v["count"], 0, "{v:#}");
    assert_eq!(v["errors"], 6);
    // One process writing all six does cross the threshold.
    let lines: Vec<String> = (0..6)
        .map(|i| {
            record(
                i * 5,
                "ERROR",
                "\"message\":\"boom\",\"service\":\"orders\",\"host\":\"pod-a\",\"pid\":1",
            )
        })
        .collect();
    let one = tempfile::tempdir().unwrap();
    write_lines(&one.path().join("orders.log"), &lines);
    assert_eq!(
        json(&["incidents", one.path().to_str().unwrap(), "--json"])["count"],
        1
    );
}

/// Processes of one service on one host, each with a file of its own (`orders-{pid}.log`): each
/// process has its own window, as in the library, and its incidents are its own.
#[test]
fn processes_with_a_file_each_keep_their_own_windows() {
    let dir = tempfile::tempdir().unwrap();
    for (pid, errors) in [(111, 3), (222, 3), (333, 5)] {
        let lines: Vec<String> = (0..errors)
            .map(|i| {
                record(
                    i * 10 + pid / 111,
                    "ERROR",
                    &format!("\"message\":\"boom {pid}\",\"service\":\"orders\",\"host\":\"web\",\"pid\":{pid}"),
                )
            })
            .collect();
        write_lines(&dir.path().join(format!("orders-{pid}.log")), &lines);
    }
    let v = json(&["incidents", dir.path().to_str().unwrap(), "--json"]);
    // Eleven errors of one service within a minute, but only pid 333 crossed its threshold.
    assert_eq!(v["errors"], 11, "{v:#}");
    assert_eq!(v["count"], 1, "{v:#}");
    assert_eq!(v["incidents"][0]["top_message"], "boom 333");
    assert_eq!(v["incidents"][0]["service"], "orders");
}

/// A pipe is read once, from its start: nothing is consumed to find its first time.
#[test]
fn a_pipe_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..20_000)
        .map(|i| {
            record(
                i,
                if i % 1000 < 5 { "ERROR" } else { "INFO" },
                "\"message\":\"m\"",
            )
        })
        .collect();
    let path = dir.path().join("big.log");
    write_lines(&path, &lines);
    let mut child = Command::new(env!("CARGO_BIN_EXE_logwarden"))
        .args(["incidents", "--json", "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let text = lines.concat();
    let feeder = std::thread::spawn(move || stdin.write_all(text.as_bytes()).unwrap());
    let out = support::child::wait_output(child);
    feeder.join().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["lines"], 20_000);
    assert_eq!(v["count"], 20);
}

/// Whether process `pid` has `path` open, read from `/proc/<pid>/fd`.
fn has_open(pid: u32, path: &Path) -> bool {
    let path = std::fs::canonicalize(path).unwrap();
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.filter_map(Result::ok)
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|to| to == path))
    })
}

/// The inputs of the progress test: a file, and a FIFO that holds the reading up for as long as
/// the test keeps it open. Returns the paths and the FIFO, opened for reading and writing (so
/// neither end waits for the other) with its first lines in it; dropping it ends the input.
fn held_input(dir: &Path) -> (String, String, std::fs::File) {
    let file = dir.join("big.log");
    let lines: Vec<String> = (0..2_000)
        .map(|i| record(1_000 + i, "INFO", "\"message\":\"order placed\""))
        .collect();
    write_lines(&file, &lines);
    let fifo = dir.join("live.log");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    let mut held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    for i in 0..100 {
        held.write_all(record(i, "INFO", "\"message\":\"earlier\"").as_bytes())
            .unwrap();
    }
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    (path(&fifo), path(&file), held)
}

/// The progress line: drawn on a terminal (a pseudo-terminal from util-linux's `script`) once
/// reading takes a moment, then erased; never when stderr is a file or a pipe. The reading takes
/// as long as the test holds a FIFO among the inputs open, however fast the binary is.
#[test]
#[ignore = "needs util-linux's `script` for a pseudo-terminal; run by .ci/run with --ignored"]
fn progress_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();

    // Stderr a pipe: held well past the half second after which a terminal gets the line.
    let (fifo, file, held) = held_input(dir.path());
    let child = Command::new(env!("CARGO_BIN_EXE_logwarden"))
        .args(["incidents", &fifo, &file])
        .env_remove("LOGWARDEN_ALERT_THRESHOLD")
        .env_remove("LOGWARDEN_ALERT_WINDOW")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    eventually("the FIFO opened", support::child::CHILD_BOUND, || {
        has_open(pid, Path::new(&fifo))
    });
    std::thread::sleep(Duration::from_secs(2));
    drop(held);
    let plain = support::child::wait_output(child);
    assert!(plain.status.success(), "{plain:?}");
    assert!(
        plain.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    std::fs::remove_file(&fifo).unwrap();

    // Stderr a terminal: the FIFO is held open until the line is drawn.
    let (fifo, file, held) = held_input(dir.path());
    let command = format!(
        "{} incidents {fifo} {file}",
        env!("CARGO_BIN_EXE_logwarden")
    );
    let mut script = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("LOGWARDEN_ALERT_THRESHOLD")
        .env_remove("LOGWARDEN_ALERT_WINDOW")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let (shown, mut out) = (std::sync::Arc::clone(&shown), script.stdout.take().unwrap());
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = std::io::Read::read(&mut out, &mut chunk) {
                shown.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    let seen = || String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
    let drawn = || seen().contains("reading ");
    let deadline = std::time::Instant::now() + support::child::CHILD_BOUND;
    while !drawn() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(held);
    let status = loop {
        if let Some(status) = script.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline + support::child::CHILD_BOUND {
            let _ = script.kill();
            let _ = script.wait();
            panic!("script still running, killed; it showed {:?}", seen());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    eventually("the end of the terminal's output", HANG, || {
        reader.is_finished()
    });
    let seen = seen();
    assert!(status.success(), "{status}: {seen:?}");
    assert!(
        seen.contains("reading ") && seen.contains(" %)") && seen.contains("/s"),
        "no progress line on a terminal: {seen:?}"
    );
    assert!(
        seen.contains("\r\x1b[2K0 incidents"),
        "the line is erased before the table: {seen:?}"
    );
}

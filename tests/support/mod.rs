//! Helpers shared by the integration test binaries (`tests/suite`, `tests/global`): run code
//! under a logwarden layer writing to a temp dir, read the log back, inspect raw lines (key order,
//! duplicates) that a JSON parser hides, and wait for things with a bound. `http` is a scripted
//! HTTP server, `child` runs child processes (this test binary re-run on one test included),
//! `engines` real Alertmanager and Prometheus servers and the replicas of a service, `browser` a
//! headless Chromium driven over WebDriver.

#![allow(dead_code)]

#[cfg(feature = "http")]
pub mod browser;
pub mod child;
#[cfg(feature = "http")]
pub mod engines;
pub mod http;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

/// The bound of every wait for something that should happen within milliseconds (a request
/// arriving, a counter moving).
pub const WAIT: Duration = Duration::from_secs(5);
/// The bound of a wait that only a deadlock or a hang can exceed.
pub const HANG: Duration = Duration::from_secs(10);
/// The part of the test webhook URL that is a credential.
pub const SECRET: &str = "SECRETTOKEN123";
/// The test webhook's path, shaped like a Slack incoming webhook, with [`SECRET`] in it.
pub const HOOK: &str = "/services/T000/B000/SECRETTOKEN123";
/// What a redacted value is written as.
pub const REDACTED: &str = "[REDACTED]";

/// Polls `cond` until it holds; panics after `timeout`.
pub fn eventually(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `f` on its own thread and returns its result; panics if it has not finished within
/// `timeout` (a deadlock or a hang fails the test instead of hanging it).
pub fn within<T: Send + 'static>(
    timeout: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(timeout) {
        Ok(v) => {
            let _ = handle.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: not finished within {timeout:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = handle.join();
            panic!("{what}: panicked")
        }
    }
}

/// Runs `f` with a logwarden layer (service `orders`, env `test`) as the thread's default
/// subscriber, flushes, and returns the raw lines and the parsed records.
pub fn capture(f: impl FnOnce()) -> (Vec<String>, Vec<Value>) {
    capture_with(|b| b, f)
}

/// [`capture`] with extra builder settings.
pub fn capture_with(
    configure: impl FnOnce(logwarden::Builder) -> logwarden::Builder,
    f: impl FnOnce(),
) -> (Vec<String>, Vec<Value>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = logwarden::builder()
        .service("orders")
        .env("test")
        .dir(dir.path())
        .capture_log(false);
    let (layer, guard) = configure(builder)
        .build()
        .expect("logwarden builds in a temp dir");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    assert!(guard.flush(), "flush timed out");
    let path: PathBuf = guard.log_path().expect("records go to a file").to_owned();
    let lines = read_lines(&path);
    let records = lines.iter().map(|l| parse_line(l)).collect();
    (lines, records)
}

/// Builds `builder` (already pointing at a directory the caller owns), runs `f` under it as the
/// thread's default subscriber, flushes, and returns the log path and its records.
pub fn run(builder: logwarden::Builder, f: impl FnOnce()) -> (PathBuf, Vec<Value>) {
    let (layer, guard) = builder
        .build()
        .unwrap_or_else(|e| panic!("build failed: {e}"));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    assert!(guard.flush(), "flush timed out");
    let path = guard.log_path().expect("records go to a file").to_owned();
    let records = read_records(&path);
    (path, records)
}

/// logwarden's rotated files of `active` in `dir` (`<active>.YYYYMMDDTHHMMSS.ffffffZ`), oldest
/// first.
pub fn rotated_files(dir: &Path, active: &str) -> Vec<PathBuf> {
    let mut rotated: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.strip_prefix(&format!("{active}."))
                .is_some_and(|stamp| {
                    stamp.len() == 23 && stamp.as_bytes()[8] == b'T' && stamp.ends_with('Z')
                })
        })
        .collect();
    rotated.sort();
    rotated
}

/// The file's lines (without their `\n`); asserts the file ends with a newline and every line
/// is one valid JSON object.
pub fn read_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if text.is_empty() {
        return Vec::new();
    }
    assert!(
        text.ends_with('\n'),
        "log file does not end with a newline: {:?}",
        &text[text.len().saturating_sub(200)..]
    );
    let lines: Vec<String> = text[..text.len() - 1]
        .split('\n')
        .map(str::to_owned)
        .collect();
    for l in &lines {
        parse_line(l);
    }
    lines
}

/// Every record in the file, parsed (see [`read_lines`]).
pub fn read_records(path: &Path) -> Vec<Value> {
    read_lines(path).iter().map(|l| parse_line(l)).collect()
}

/// Parses one line as a JSON object, panicking with the line if it is not one.
pub fn parse_line(line: &str) -> Value {
    let v: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", shorten(line)));
    assert!(v.is_object(), "not a JSON object: {}", shorten(line));
    v
}

fn shorten(line: &str) -> String {
    if line.len() <= 400 {
        line.to_owned()
    } else {
        let mut end = 400;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &line[..end], line.len())
    }
}

/// The top-level keys of a raw JSON object line, in order, duplicates included, decoded.
pub fn keys(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut keys = Vec::new();
    let mut depth = 0usize;
    // At depth 1, the next string is a key when the previous structural char was `{` or `,`.
    let mut expect_key = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if depth == 1 && expect_key {
                    let key: String = serde_json::from_str(&line[start..=i])
                        .unwrap_or_else(|e| panic!("bad key {:?}: {e}", &line[start..=i]));
                    keys.push(key);
                    expect_key = false;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1 && b[i] == b'{';
            }
            b'}' | b']' => depth -= 1,
            b',' if depth == 1 => expect_key = true,
            _ => {}
        }
        i += 1;
    }
    keys
}

/// Asserts no top-level key appears twice in the raw line.
pub fn assert_no_duplicate_keys(line: &str) {
    let ks = keys(line);
    let mut seen = std::collections::HashSet::new();
    for k in &ks {
        assert!(seen.insert(k), "duplicate key {k:?} in {}", shorten(line));
    }
}

/// The records whose `message` is `message`.
pub fn with_message<'a>(records: &'a [Value], message: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["message"] == message).collect()
}

/// The single record whose `message` is `message`.
pub fn one<'a>(records: &'a [Value], message: &str) -> &'a Value {
    let found = with_message(records, message);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one record with message {message:?}, got {records:#?}"
    );
    found[0]
}

/// `target/test-artifacts`, where the tests keep what a person may want to look at.
pub fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test runs from <target>/<profile>/deps");
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

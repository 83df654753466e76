//! One service, many processes over time, on one directory: a process killed (SIGKILL) in the
//! middle of writing, the next one started on its files, a second process on a file already being
//! written, and processes that each have a file of their own.
//!
//! The writers are child processes: this binary re-run on [`writer_child`], which logs at full
//! speed until it is killed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use logwarden::ErrorKind;
use serde_json::Value;
use tracing_subscriber::Registry;

use crate::support::child::this_test;
use crate::support::WAIT;

/// The child: a service writing big lines with a big buffer (so that its batches span many
/// pages, and a kill can land inside one), until it is killed.
#[test]
fn writer_child() {
    let Some(dir) = std::env::var_os("LWTEST_WRITER_DIR") else {
        return; // only runs as a child of the tests below
    };
    let file = std::env::var("LWTEST_WRITER_FILE").unwrap_or_else(|_| "crash.log".to_owned());
    let (subscriber, guard) = logwarden::builder()
        .dir(dir)
        .service("crash")
        .file_name(file)
        .max_bytes(256 << 10)
        .keep(1000)
        .buffer_bytes(4 << 20)
        .alerts(false)
        .subscriber()
        .expect("the writer starts");
    let _guard = guard;
    let pad = "p".repeat(2_000);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(pid = std::process::id(), "started");
        for seq in 0u64.. {
            tracing::info!(seq, pad = pad.as_str(), "working");
            if std::env::var_os("LWTEST_WRITER_ONCE").is_some() && seq == 100 {
                break;
            }
        }
    });
}

fn spawn_writer(dir: &Path, file: Option<&str>, once: bool) -> Child {
    let mut cmd = this_test(module_path!(), "writer_child");
    cmd.env("LWTEST_WRITER_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(file) = file {
        cmd.env("LWTEST_WRITER_FILE", file);
    }
    if once {
        cmd.env("LWTEST_WRITER_ONCE", "1");
    }
    cmd.spawn().expect("start a writer")
}

/// The bytes of every file in `dir` whose name starts with `prefix`.
fn bytes_of(dir: &Path, prefix: &str) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

/// Waits (bounded) until the files of `prefix` hold more than `bytes`.
fn wait_bytes(dir: &Path, prefix: &str, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while bytes_of(dir, prefix) <= bytes {
        assert!(
            Instant::now() < deadline,
            "the writer never wrote {bytes} bytes"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Every log file of `dir` (rotated ones first, oldest first, then the active one).
fn logs(dir: &Path, active: &str) -> Vec<PathBuf> {
    let mut rotated: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("{active}."))
        })
        .collect();
    rotated.sort();
    rotated.push(dir.join(active));
    rotated
}

fn kill(child: &mut Child) {
    let ok = Command::new("kill")
        .args(["-s", "KILL", &child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok);
    let _ = child.wait();
}

#[test]
fn processes_killed_mid_write_leave_no_record_glued_to_the_next_ones_first() {
    const RUNS: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    for run in 0..RUNS {
        let before = bytes_of(dir.path(), "crash.log");
        let mut child = spawn_writer(dir.path(), None, false);
        // Killed while it writes at full speed, at a moment that differs from run to run: a
        // kill that lands inside a write leaves part of a line (the kernel stops a write between
        // pages for a fatal signal).
        wait_bytes(dir.path(), "crash.log", before + (512 << 10));
        thread::sleep(Duration::from_micros(1_000 + run as u64 * 1_733));
        kill(&mut child);
        if run == 2 {
            // Whether a kill tears a line is up to timing; this run's tear is made sure of, as
            // a kill inside a write leaves it: the start of a record, no newline.
            use std::io::Write as _;
            fs::OpenOptions::new()
                .append(true)
                .open(dir.path().join("crash.log"))
                .unwrap()
                .write_all(br#"{"timestamp":"2026-12-02T10:00:00.000000Z","level":"INFO","mess"#)
                .unwrap();
        }
    }
    // One more, that stops by itself: it settles what the last kill left.
    let mut last = spawn_writer(dir.path(), None, true);
    let deadline = Instant::now() + Duration::from_secs(60);
    while last.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the last writer did not finish");
        thread::sleep(Duration::from_millis(10));
    }

    let mut torn = 0;
    let mut started = Vec::new();
    let mut said = 0;
    let mut after_torn = false;
    for path in logs(dir.path(), "crash.log") {
        let text = fs::read(&path).unwrap();
        assert!(
            text.is_empty() || text.ends_with(b"\n"),
            "{} ends mid-line",
            path.display()
        );
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match serde_json::from_slice::<Value>(line) {
                Ok(record) => {
                    if after_torn {
                        // Right after a fragment: the next process's word on it.
                        assert_eq!(record["level"], "WARN", "{record}");
                        after_torn = false;
                    }
                    let message = record["message"].as_str().unwrap_or_default();
                    if message.contains("stopped in the middle of a line") {
                        said += 1;
                    }
                    if message == "started" {
                        started.push(record["pid"].as_u64().unwrap());
                    }
                }
                Err(_) => {
                    // A fragment a kill left: the start of one record, never another record
                    // glued after the cut.
                    let starts = line.windows(12).filter(|w| *w == b"{\"timestamp\"").count();
                    assert!(
                        starts <= 1 && (starts == 0 || line.starts_with(b"{\"timestamp\"")),
                        "a record glued to a fragment: {}",
                        String::from_utf8_lossy(&line[..line.len().min(300)])
                    );
                    torn += 1;
                    after_torn = true;
                }
            }
        }
    }
    assert_eq!(
        started.len(),
        RUNS + 1,
        "every process's first record is whole"
    );
    assert!(torn >= 1, "the fragment run 2 left is still there, ended");
    assert_eq!(torn, said, "each fragment is said, once");
    // Nothing staged or locked is left behind by the processes that were killed.
    let hidden: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    eprintln!("{RUNS} kills left {torn} unfinished lines");
}

#[test]
fn a_second_writer_of_a_file_is_refused_naming_the_file_and_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_writer(dir.path(), None, false);
    wait_bytes(dir.path(), "crash.log", 1);
    let err = logwarden::builder()
        .dir(dir.path())
        .service("crash")
        .file_name("crash.log")
        .build::<Registry>()
        .map(|_| ())
        .expect_err("a second writer of crash.log");
    assert_eq!(err.kind(), ErrorKind::InUse);
    let message = err.to_string();
    assert!(message.contains("crash.log"), "{message}");
    assert!(
        message.contains(&format!("another process (pid {})", child.id())),
        "{message}"
    );
    assert!(
        message.contains("LOGWARDEN_FILE=crash-{pid}.log"),
        "{message}"
    );
    // A crash leaves no stale lock: once the holder is killed, the file is free.
    kill(&mut child);
    let (_layer, guard) = logwarden::builder()
        .dir(dir.path())
        .service("crash")
        .file_name("crash.log")
        .build::<Registry>()
        .expect("free once its writer is gone");
    assert!(guard.flush_timeout(WAIT));

    // In one process too: a second stack on the file of the first.
    let err = logwarden::builder()
        .dir(dir.path())
        .service("crash")
        .file_name("crash.log")
        .build::<Registry>()
        .map(|_| ())
        .expect_err("a second stack on crash.log");
    assert!(
        err.to_string()
            .contains("another logwarden stack of this process"),
        "{err}"
    );
}

#[test]
fn processes_with_a_file_each_write_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let mut children: Vec<Child> = (0..3)
        .map(|_| spawn_writer(dir.path(), Some("crash-{pid}.log"), true))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for child in &mut children {
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "a writer did not finish");
            thread::sleep(Duration::from_millis(10));
        }
    }
    for child in &children {
        let name = format!("crash-{}.log", child.id());
        let records: Vec<Value> = logs(dir.path(), &name)
            .iter()
            .flat_map(|p| crate::support::read_records(p))
            .collect();
        assert_eq!(records.len(), 102, "{name}: started, then seq 0 to 100");
        assert!(
            records.iter().all(|r| r["pid"] == child.id()),
            "{name} holds another process's lines"
        );
    }
}

//! `logwarden watch` (feature `cli`) as an operator runs it: the real binary on real files, a real
//! loopback webhook, a writer that rotates and truncates the file underneath, real signals.
//!
//! No timing assertions: every wait is for an event (a request received, a line printed, the
//! process's read offset reaching the file's end, read from `/proc`) with a generous bound.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::support::http::{Reply, Server};

/// The bound of every wait: generous, for a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// The lines one output stream of the child has printed so far.
#[derive(Clone, Default)]
struct Output(Arc<(Mutex<Printed>, Condvar)>);

#[derive(Default)]
struct Printed {
    lines: Vec<String>,
    /// The stream is closed: nothing more will come.
    ended: bool,
}

impl Output {
    fn collect(stream: impl Read + Send + 'static) -> Output {
        let out = Output::default();
        let shared = out.clone();
        thread::spawn(move || {
            let (lines, cond) = &*shared.0;
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().lines.push(line);
                cond.notify_all();
            }
            lines.lock().unwrap().ended = true;
            cond.notify_all();
        });
        out
    }

    fn lines(&self) -> Vec<String> {
        self.0 .0.lock().unwrap().lines.clone()
    }

    /// Every line, once the stream has ended; panics if it does not end.
    fn wait_end(&self) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let (lines, cond) = &*self.0;
        let mut guard = lines.lock().unwrap();
        while !guard.ended {
            let now = Instant::now();
            assert!(
                now < deadline,
                "the stream is still open: {:#?}",
                guard.lines
            );
            guard = cond.wait_timeout(guard, deadline - now).unwrap().0;
        }
        guard.lines.clone()
    }

    /// The first line containing `needle`, waiting for it; panics with everything printed so far
    /// if it does not come.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let (lines, cond) = &*self.0;
        let mut guard = lines.lock().unwrap();
        loop {
            if let Some(l) = guard.lines.iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "no line with {needle:?} in {:#?}",
                guard.lines
            );
            guard = cond.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }
}

/// A running `logwarden watch`.
struct Watch {
    child: Child,
    stdout: Output,
    stderr: Output,
}

/// A `logwarden watch` that has exited.
struct Stopped {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Stopped {
    /// The exit summary's count written just before `what` (`lines`, `errors`, `torn`, `sent`…).
    fn count(&self, what: &str) -> u64 {
        let summary = self
            .stderr
            .iter()
            .find(|l| l.starts_with("logwarden: stopped: "))
            .unwrap_or_else(|| panic!("no summary in {:#?}", self.stderr));
        let at = summary
            .find(&format!(" {what}"))
            .unwrap_or_else(|| panic!("no {what:?} in {summary:?}"));
        let digits: String = summary[..at]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("no number before {what:?} in {summary:?}"))
    }

    fn stdout_with(&self, needle: &str) -> Vec<&String> {
        self.stdout.iter().filter(|l| l.contains(needle)).collect()
    }
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logwarden"));
    // Only the variables a test gives: a SLACK_WEBHOOK_URL or LOGWARDEN_* of the machine running
    // the tests must not change what they see.
    cmd.arg("watch")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

impl Watch {
    /// Starts `logwarden watch ARGS` and waits until it follows its file.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Watch {
        let mut child = command(args, env).spawn().expect("start logwarden");
        let stdout = Output::collect(child.stdout.take().unwrap());
        let stderr = Output::collect(child.stderr.take().unwrap());
        let watch = Watch {
            child,
            stdout,
            stderr,
        };
        watch.stderr.wait_for("logwarden: watching ");
        watch
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -s {name} failed");
    }

    /// Waits for the process to exit on its own.
    fn wait(mut self) -> Stopped {
        let status = wait_exit(&mut self.child);
        // The summary is the last thing printed: once it is read, so is everything before it.
        self.stderr.wait_for("logwarden: stopped: ");
        Stopped {
            status,
            stdout: self.stdout.lines(),
            stderr: self.stderr.lines(),
        }
    }

    /// SIGTERM, then the exit.
    fn stop(self) -> Stopped {
        self.signal("TERM");
        self.wait()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Only if a test failed before stopping it; an exited child makes this a no-op.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("logwarden did not exit");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a watch that is expected to stop by itself (bad input): its exit status and stderr.
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut child = command(args, env).spawn().expect("start logwarden");
    let status = wait_exit(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

/// The read offset of the descriptor `pid` has open on the file `file` describes, if any.
fn read_offset(pid: u32, file: &Metadata) -> Option<u64> {
    for fd in fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        let Ok(target) = fs::metadata(fd.path()) else {
            continue;
        };
        if (target.dev(), target.ino()) == (file.dev(), file.ino()) {
            let info = fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .ok()?;
            return info
                .lines()
                .find_map(|l| l.strip_prefix("pos:"))
                .and_then(|p| p.trim().parse().ok());
        }
    }
    None
}

/// Waits until `pid` has the file now at `path` open and `done` holds for its read offset and
/// the file's length.
fn wait_offset(pid: u32, path: &Path, what: &str, done: impl Fn(u64, u64) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let meta = fs::metadata(path).unwrap();
        if let Some(offset) = read_offset(pid, &meta) {
            if done(offset, meta.len()) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "logwarden never {what} {} (offset {:?} of {} bytes)",
            path.display(),
            read_offset(pid, &meta),
            meta.len()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until the watch has read the file now at `path` to its end.
fn wait_read_to_end(pid: u32, path: &Path) {
    wait_offset(pid, path, "read to the end of", |offset, len| offset == len);
}

/// Waits until the watch has switched to the file now at `path`.
fn wait_following(pid: u32, path: &Path) {
    wait_offset(pid, path, "opened", |_, _| true);
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// One JSON line as a service would write it, newline included.
fn record(level: &str, message: &str) -> String {
    let line = serde_json::json!({
        "timestamp": now_rfc3339(),
        "level": level,
        "message": message,
        "target": "orders::db",
    });
    format!("{line}\n")
}

fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

#[test]
fn five_errors_post_the_opened_alert_to_slack_then_the_resolved_one() {
    let server = Server::start(vec![], Reply::ok());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    fs::write(&log, record("INFO", "started")).unwrap();
    let hook = server.url("/services/T000/B000/SECRETTOKEN");
    let watch = Watch::start(
        &[path_arg(&log), "--window", "2s"],
        &[("SLACK_WEBHOOK_URL", &hook)],
    );

    let mut text = String::new();
    for message in [
        "db timeout",
        "db timeout",
        "cache miss",
        "db timeout",
        "db timeout",
    ] {
        text += &record("ERROR", message);
        text += &record("INFO", "request served");
    }
    append(&log, &text);

    let requests = server.wait_for(2, PATIENCE);
    assert_eq!(requests.len(), 2, "opened and resolved: {requests:#?}");
    assert_eq!(requests[0].path, "/services/T000/B000/SECRETTOKEN");
    let opened = requests[0].json();
    let opened = opened["text"].as_str().unwrap();
    assert!(
        opened.contains("Incident #1: 5 ERROR events in 2s in orders ("),
        "{opened}"
    );
    // The most frequent error first, with its count.
    let top = opened.find("*4×* `db timeout`").expect(opened);
    let other = opened.find("*1×* `cache miss`").expect(opened);
    assert!(top < other, "{opened}");
    let resolved = requests[1].json();
    let resolved = resolved["text"].as_str().unwrap();
    assert!(
        resolved.contains("✅ Incident #1 resolved in orders (")
            && resolved.contains("5 ERROR events in total"),
        "{resolved}"
    );
    // Every decision is on stdout too.
    watch.stdout.wait_for("Incident #1 resolved");

    let stopped = watch.stop();
    assert!(stopped.status.success(), "{:?}", stopped.status);
    assert_eq!(
        stopped.stdout_with("🔴 Incident #1: 5 ERROR events").len(),
        1
    );
    assert_eq!(
        (stopped.count("lines"), stopped.count("errors")),
        (10, 5),
        "the line already there is not read: {:#?}",
        stopped.stderr
    );
    assert_eq!((stopped.count("sent"), stopped.count("failed")), (2, 0));
    let all = stopped.stderr.join("\n") + &stopped.stdout.join("\n");
    assert!(!all.contains("SECRETTOKEN"), "the webhook leaked: {all}");
}

/// Writes lines the way a logger does, some in two pieces, and counts what it wrote.
struct Writer {
    path: PathBuf,
    file: File,
    lines: u64,
    errors: u64,
}

impl Writer {
    fn new(path: &Path) -> Writer {
        Writer {
            path: path.to_owned(),
            file: Writer::create(path),
            lines: 0,
            errors: 0,
        }
    }

    fn create(path: &Path) -> File {
        OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)
            .unwrap()
    }

    /// `n` lines, ERROR at the indices in `errors`.
    fn write(&mut self, n: usize, errors: &[usize]) {
        for i in 0..n {
            let error = errors.contains(&i);
            let line = if error {
                record("ERROR", "payment declined")
            } else {
                record("INFO", &format!("line {} of this file", i + 1))
            };
            if i % 4 == 1 {
                // Half a line now, the rest a moment later: a reader must hold the fragment.
                let (a, b) = line.split_at(line.len() / 2);
                self.file.write_all(a.as_bytes()).unwrap();
                thread::sleep(Duration::from_millis(2));
                self.file.write_all(b.as_bytes()).unwrap();
            } else {
                self.file.write_all(line.as_bytes()).unwrap();
            }
            self.lines += 1;
            self.errors += u64::from(error);
        }
    }

    /// Renames the file away (`app.log.N`) and creates a new one at the path, as a rotating
    /// logger does; `gap` keeps the path missing for a moment, during which the old file is
    /// still written to.
    fn rotate(&mut self, n: u32, gap: bool) {
        fs::rename(&self.path, self.path.with_extension(format!("log.{n}"))).unwrap();
        if gap {
            self.write(5, &[2]);
            thread::sleep(Duration::from_millis(300));
        }
        self.file = Writer::create(&self.path);
    }
}

#[test]
fn a_writer_rotating_and_truncating_underneath_loses_no_line_and_repeats_none() {
    // Exactly as many errors as the threshold, spread over five files: one lost line means no
    // alert, one line read twice shows in the counts.
    const ERRORS: u64 = 12;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut w = Writer::new(&log);
    // The directory form: its one active `*.log` is followed (rotated names end otherwise).
    let watch = Watch::start(
        &[path_arg(dir.path()), "--threshold", "12", "--window", "1h"],
        &[],
    );
    let pid = watch.pid();

    w.write(30, &[3, 11, 25]);
    w.rotate(1, false);
    // Written to the new file before the watch has noticed it: read from its start.
    w.write(10, &[4]);
    wait_following(pid, &log);
    w.write(20, &[15]);

    // The path missing for a moment, the old file written to meanwhile (one error there).
    w.rotate(2, true);
    w.write(10, &[0]);
    wait_following(pid, &log);
    w.write(20, &[9]);

    // Truncated in place once everything was read; a few short lines, then more.
    wait_read_to_end(pid, &log);
    let before = fs::metadata(&log).unwrap().len();
    w.file.set_len(0).unwrap();
    w.write(2, &[]);
    assert!(fs::metadata(&log).unwrap().len() < before);
    wait_read_to_end(pid, &log);
    w.write(10, &[5]);

    // A line cut by rotation: torn, skipped, not counted as a line.
    w.file
        .write_all(br#"{"level":"ERROR","message":"never finis"#)
        .unwrap();
    w.rotate(3, false);
    w.write(10, &[1]);
    wait_following(pid, &log);

    w.rotate(4, false);
    w.write(30, &[7, 20]);
    wait_following(pid, &log);
    wait_read_to_end(pid, &log);
    assert_eq!(w.errors, ERRORS, "the test writes exactly the threshold");

    let stopped = watch.stop();
    assert!(stopped.status.success(), "{:?}", stopped.status);
    // One incident: its opening, and its last word when `watch` stopped with it open.
    let incidents = stopped.stdout_with("Incident #");
    assert_eq!(incidents.len(), 2, "{:#?}", stopped.stdout);
    assert!(
        incidents[0].contains("🔴 Incident #1: 12 ERROR events in 1h 00m"),
        "{}",
        incidents[0]
    );
    assert!(
        incidents[1].contains("Incident #1 still open when "),
        "{}",
        incidents[1]
    );
    assert_eq!(stopped.count("lines"), w.lines, "{:#?}", stopped.stderr);
    assert_eq!(stopped.count("errors"), ERRORS);
    assert_eq!(
        (stopped.count("torn"), stopped.count("not JSON")),
        (1, 0),
        "{:#?}",
        stopped.stderr
    );
    assert_eq!(stopped.count("opened"), 1);
    let noted = |what: &str| stopped.stderr.iter().filter(|l| l.contains(what)).count();
    assert_eq!(
        (noted("was rotated"), noted("was truncated")),
        (4, 1),
        "{:#?}",
        stopped.stderr
    );
}

#[test]
fn sigterm_delivers_the_pending_alert_then_exits_0() {
    // The first attempt is refused with `Retry-After: 2`: the alert is still pending when the
    // signal comes, and the retry is made before the process exits.
    let server = Server::start(vec![Reply::too_many_requests(2)], Reply::ok());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    File::create(&log).unwrap();
    let hook = server.url("/services/T000/B000/SECRETTOKEN");
    let watch = Watch::start(
        &[path_arg(&log), "--shutdown-timeout", "20s"],
        &[("SLACK_WEBHOOK_URL", &hook)],
    );
    append(&log, &record("ERROR", "db timeout").repeat(5));
    assert_eq!(server.wait_for(1, PATIENCE).len(), 1, "first attempt");
    let signalled = Instant::now();
    watch.signal("TERM");
    let stopped = watch.wait();

    assert!(stopped.status.success(), "{:?}", stopped.status);
    let requests = server.requests();
    // The 429'd opening, its retry, then the open incident's last word.
    assert_eq!(requests.len(), 3, "{requests:#?}");
    assert!(
        requests[1].received_at > signalled,
        "the retry was still pending when SIGTERM was sent"
    );
    let text = requests[1].json()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("Incident #1: 5 ERROR events"), "{text}");
    let last = requests[2].json()["text"].as_str().unwrap().to_owned();
    assert!(last.contains("Incident #1 still open when "), "{last}");
    assert_eq!((stopped.count("sent"), stopped.count("failed")), (2, 0));
}

#[test]
fn sigint_stops_cleanly_too() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    File::create(&log).unwrap();
    let watch = Watch::start(&[path_arg(&log)], &[]);
    append(&log, &record("INFO", "hello"));
    wait_read_to_end(watch.pid(), &log);
    watch.signal("INT");
    let stopped = watch.wait();
    assert!(stopped.status.success(), "{:?}", stopped.status);
    assert_eq!(stopped.count("lines"), 1);
}

#[test]
fn a_second_sigint_exits_at_once_while_the_first_is_still_delivering() {
    // The opening is answered; every later request is read and never answered, so the stop's
    // last word keeps the graceful stop waiting: for 10 s per attempt, within a shutdown
    // timeout longer than any wait here.
    let server = Server::start(vec![Reply::ok()], Reply::Hang);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    File::create(&log).unwrap();
    let hook = server.url("/services/T000/B000/SECRETTOKEN");
    let mut watch = Watch::start(
        &[path_arg(&log), "--shutdown-timeout", "600s"],
        &[("SLACK_WEBHOOK_URL", &hook)],
    );
    append(&log, &record("ERROR", "db timeout").repeat(5));
    assert_eq!(server.wait_for(1, PATIENCE).len(), 1, "the opening");

    watch.signal("INT");
    // Only a watch that is stopping says this: the graceful stop has begun.
    let requests = server.wait_for(2, PATIENCE);
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let last = requests[1].json()["text"].as_str().unwrap().to_owned();
    assert!(last.contains("Incident #1 still open when "), "{last}");
    assert!(
        watch.child.try_wait().unwrap().is_none(),
        "the first SIGINT did not wait for the delivery"
    );

    let signalled = Instant::now();
    watch.signal("INT");
    let status = wait_exit(&mut watch.child);
    let waited = signalled.elapsed();
    assert_eq!(status.code(), Some(1), "{status:?}");
    assert!(
        waited < Duration::from_secs(5),
        "exited {waited:?} after the second SIGINT"
    );
    let stderr = watch.stderr.wait_end();
    assert!(
        !stderr.iter().any(|l| l.starts_with("logwarden: stopped: ")),
        "the graceful stop finished: {stderr:#?}"
    );
}

#[test]
fn a_missing_path_fails_with_exit_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere").join("orders.log");
    let (status, stderr) = run_to_exit(&[path_arg(&missing)], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(path_arg(&missing)), "{stderr}");
}

/// A FIFO (or a link to one) is not followed: opening it with no writer would block forever.
#[test]
fn a_fifo_fails_with_exit_1_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("orders.log");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let (status, stderr) = run_to_exit(&[path_arg(&fifo)], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

/// Replaying a log whose lines carry no time: the errors are counted, but with no place on the
/// time axis they open nothing (as `incidents` leaves them out), rather than an incident in 1970.
#[test]
fn a_replay_of_untimed_errors_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    fs::write(
        &log,
        "{\"level\":\"ERROR\",\"message\":\"no time\"}\n".repeat(6),
    )
    .unwrap();
    let watch = Watch::start(&[path_arg(&log), "--from-start"], &[]);
    watch.stderr.wait_for("replayed");
    let stopped = watch.stop();
    assert_eq!((stopped.count("errors"), stopped.count("opened")), (6, 0));
}

#[test]
fn a_directory_without_a_log_file_fails_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("orders.log.1"), "").unwrap();
    fs::write(dir.path().join(".hidden.log"), "").unwrap();
    let (status, stderr) = run_to_exit(&[path_arg(dir.path())], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(path_arg(dir.path())) && stderr.contains("no *.log file"),
        "{stderr}"
    );
}

#[test]
fn a_directory_with_several_logs_follows_the_newest_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for (name, modified) in [
        ("a.log", hour_ago),
        ("b.log", SystemTime::now()),
        ("c.log", hour_ago),
    ] {
        File::create(dir.path().join(name))
            .unwrap()
            .set_modified(modified)
            .unwrap();
    }
    let watch = Watch::start(&[path_arg(dir.path())], &[]);
    let b = dir.path().join("b.log");
    let note = watch.stderr.wait_for("*.log files");
    assert!(
        note.contains("3 *.log files") && note.contains(path_arg(&b)),
        "{note}"
    );
    watch
        .stderr
        .wait_for(&format!("watching {} from its end", b.display()));
    append(&b, &record("ERROR", "x"));
    wait_read_to_end(watch.pid(), &b);
    let stopped = watch.stop();
    assert_eq!(stopped.count("errors"), 1);
}

/// Daily files and a `current.log` link to today's: the link is as recent as its target and is
/// the one to follow, since it moves to tomorrow's file at midnight.
#[test]
fn a_link_to_the_active_file_is_preferred_to_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let today = dir.path().join("app-2026-11-26.log");
    File::create(dir.path().join("app-2026-11-25.log"))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(86_400))
        .unwrap();
    File::create(&today).unwrap();
    let link = dir.path().join("current.log");
    std::os::unix::fs::symlink(&today, &link).unwrap();
    let watch = Watch::start(&[path_arg(dir.path())], &[]);
    watch
        .stderr
        .wait_for(&format!("watching {} from its end", link.display()));
    watch.stop();
}

#[test]
fn a_zero_threshold_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    File::create(&log).unwrap();
    let (status, stderr) = run_to_exit(&[path_arg(&log), "--threshold", "0"], &[]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--threshold"), "{stderr}");
    let (status, stderr) = run_to_exit(&[path_arg(&log), "--service", " "], &[]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--service"), "{stderr}");
}

#[test]
fn a_bad_webhook_fails_naming_the_variable_without_showing_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    File::create(&log).unwrap();
    let (status, stderr) = run_to_exit(
        &[path_arg(&log)],
        &[(
            "SLACK_WEBHOOK_URL",
            "http://hooks.example.com/services/T000/B000/SECRETTOKEN",
        )],
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("SLACK_WEBHOOK_URL"), "{stderr}");
    assert!(!stderr.contains("SECRETTOKEN"), "{stderr}");
    assert!(!stderr.contains("/services"), "{stderr}");
}

#[test]
fn lines_that_are_not_json_are_skipped_and_counted_never_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    File::create(&log).unwrap();
    let watch = Watch::start(&[path_arg(&log), "--threshold", "3"], &[]);
    let text = [
        record("INFO", "started").trim_end(),
        "plain text ERROR: this is not JSON and not an error line",
        r#"{"level":"ERROR","message":"cut short"#,
        "",
        r#"{"severity":"CRITICAL","message":"disk full"}"#,
        r#"{"log.level":"error","message":"disk full"}"#,
        r#"{"level":"Fatal","message":"disk full"}"#,
        r#"{"level":"INFO","message":"still reading"}"#,
    ]
    .join("\n")
        + "\n";
    append(&log, &text);
    wait_read_to_end(watch.pid(), &log);
    watch.stdout.wait_for("Incident #1: 3 ERROR events");
    let stopped = watch.stop();
    assert!(stopped.status.success(), "{:?}", stopped.status);
    assert_eq!(
        (
            stopped.count("lines"),
            stopped.count("skipped"),
            stopped.count("not JSON"),
            stopped.count("errors")
        ),
        (8, 2, 2, 3),
        "{:#?}",
        stopped.stderr
    );
}

/// Five errors in five seconds, long ago, then a quiet line.
fn old_incident() -> String {
    let mut text: String = (0..5)
        .map(|s| {
            format!(
                "{{\"timestamp\":\"2026-01-01T10:00:0{s}Z\",\"level\":\"ERROR\",\"message\":\"db timeout\",\"target\":\"orders::db\"}}\n"
            )
        })
        .collect();
    text += "{\"timestamp\":\"2026-01-01T10:00:30Z\",\"level\":\"INFO\",\"message\":\"ok\"}\n";
    text
}

#[test]
fn by_default_what_is_already_there_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    // Ends with a line still being written: read once it is finished.
    fs::write(&log, old_incident() + r#"{"level":"INFO","message":"ha"#).unwrap();
    let watch = Watch::start(&[path_arg(&log)], &[]);
    append(&log, "lf\"}\n");
    append(&log, &record("INFO", "new"));
    wait_read_to_end(watch.pid(), &log);
    let stopped = watch.stop();
    assert!(stopped.status.success(), "{:?}", stopped.status);
    assert!(
        stopped.stdout_with("Incident").is_empty(),
        "{:#?}",
        stopped.stdout
    );
    assert_eq!(
        (
            stopped.count("lines"),
            stopped.count("skipped"),
            stopped.count("errors"),
            stopped.count("opened")
        ),
        (2, 0, 0, 0),
        "{:#?}",
        stopped.stderr
    );
}

#[test]
fn from_start_replays_the_incidents_at_the_lines_own_times() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    fs::write(&log, old_incident()).unwrap();
    let watch = Watch::start(&[path_arg(&log), "--from-start"], &[]);
    // Opened at the fifth error (10:00:04), resolved when the first (10:00:00) left the 60 s
    // window: 56 s, however long ago that was and however fast the replay.
    let resolved = watch.stdout.wait_for("Incident #1 resolved");
    assert!(
        resolved.contains("after 56s, 5 ERROR events in total"),
        "{resolved}"
    );
    let stopped = watch.stop();
    assert!(stopped.status.success(), "{:?}", stopped.status);
    assert_eq!(
        stopped
            .stdout_with("🔴 Incident #1: 5 ERROR events in 1m 00s")
            .len(),
        1,
        "{:#?}",
        stopped.stdout
    );
    assert_eq!(
        (
            stopped.count("lines"),
            stopped.count("errors"),
            stopped.count("opened"),
            stopped.count("resolved")
        ),
        (6, 5, 1, 1)
    );
}

/// A log stamped ahead of the wall clock (a wrong clock, or local time written without an
/// offset east of UTC): the replay never takes the engine's time past the wall clock, so the
/// incident it opens resolves once its window goes quiet, not when the wall clock catches up.
#[test]
fn a_replay_of_lines_stamped_in_the_future_still_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    let text: String = (0..3)
        .map(|i| {
            format!(
                "{{\"timestamp\":\"2099-01-01T00:00:0{i}Z\",\"level\":\"ERROR\",\"message\":\"ahead\"}}\n"
            )
        })
        .collect();
    fs::write(&log, text).unwrap();
    let watch = Watch::start(
        &[
            path_arg(&log),
            "--from-start",
            "--threshold",
            "3",
            "--window",
            "1s",
        ],
        &[],
    );
    watch.stdout.wait_for("Incident #1:");
    let resolved = watch.stdout.wait_for("Incident #1 resolved");
    assert!(resolved.contains("3 ERROR events in total"), "{resolved}");
    let stopped = watch.stop();
    assert!(stopped.status.success());
    assert_eq!((stopped.count("opened"), stopped.count("resolved")), (1, 1));
}

/// The seed's setup, at full speed: Python's stdlib `RotatingFileHandler` (`maxBytes=100_000`,
/// `backupCount=5`) writing 200 000 JSON lines, 2 000 of them ERRORs, as fast as it can: it
/// rotates every few milliseconds, deleting each file five rotations later. `watch` must read
/// every line of every file once.
#[test]
fn python_rotating_at_full_speed_loses_no_line_and_no_error() {
    const LINES: u64 = 200_000;
    const ERRORS: u64 = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    File::create(&log).unwrap();
    let watch = Watch::start(
        &[path_arg(&log), "--threshold", "1000000"],
        &[("LOGWARDEN_SERVICE", "orders")],
    );
    let script = format!(
        r#"
import json, logging, logging.handlers
class Json(logging.Formatter):
    def format(self, r):
        return json.dumps({{"asctime": self.formatTime(r), "levelname": r.levelname,
                           "name": r.name, "message": r.getMessage(), "service": "orders"}})
handler = logging.handlers.RotatingFileHandler({path:?}, maxBytes=100_000, backupCount=5)
handler.setFormatter(Json())
log = logging.getLogger("orders")
log.addHandler(handler)
log.setLevel(logging.INFO)
for i in range({LINES}):
    if i % {every} == 0:
        log.error("payment failed for order %d", i)
    else:
        log.info("order %d placed", i)
handler.close()
"#,
        path = log.to_str().unwrap(),
        every = LINES / ERRORS,
    );
    let python = Command::new("python3")
        .args(["-c", &script])
        .status()
        .expect("python3, which every machine this runs on has");
    assert!(python.success());
    let rotated = fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(rotated, 6, "the active file and five backups");
    wait_read_to_end(watch.pid(), &log);
    let stopped = watch.stop();
    assert!(stopped.status.success(), "{:?}", stopped.status);
    assert_eq!(stopped.count("lines"), LINES, "{:#?}", stopped.stderr);
    assert_eq!(stopped.count("errors"), ERRORS, "{:#?}", stopped.stderr);
    assert_eq!(stopped.count("skipped"), 0, "{:#?}", stopped.stderr);
    assert_eq!(stopped.count("gone unread"), 0, "{:#?}", stopped.stderr);
    assert!(stopped.count("rotations") > 100, "{:#?}", stopped.stderr);
}

/// The seed's formatter writes `service` and `env` on every line: alerts name them, not the
/// file's name and the default environment; the host too. What comes from lines is untrusted: a
/// bidi override shows escaped on the terminal, and Slack markup lands in a code span.
#[test]
fn alerts_are_labelled_from_the_lines_and_their_labels_escaped() {
    let server = Server::start(vec![], Reply::ok());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    File::create(&log).unwrap();
    let hook = server.url("/services/T000/B000/SECRETTOKEN");
    let watch = Watch::start(
        &[path_arg(&log), "--threshold", "3"],
        &[("SLACK_WEBHOOK_URL", &hook)],
    );
    let line = |service: &str, target: &str| {
        let line = serde_json::json!({
            "timestamp": now_rfc3339(), "level": "ERROR", "message": "payment failed",
            "target": target, "service": service, "env": "prod", "host": "web-9",
        });
        format!("{line}\n")
    };
    append(&log, &line("orders", "orders::pay").repeat(3));
    let opened = server.wait_for(1, PATIENCE)[0].json();
    let text = opened["text"].as_str().unwrap().to_owned();
    assert!(
        text.contains("Incident #1: 3 ERROR events in 1m 00s in orders (prod) on web-9"),
        "{text}"
    );
    watch.stdout.wait_for("in orders (prod) on web-9");
    let stopped = watch.stop();
    assert!(stopped.status.success());

    // Untrusted labels.
    let server = Server::start(vec![], Reply::ok());
    let hook = server.url("/services/T000/B000/SECRETTOKEN");
    let log = dir.path().join("spoof.log");
    File::create(&log).unwrap();
    let watch = Watch::start(
        &[path_arg(&log), "--threshold", "3"],
        &[("SLACK_WEBHOOK_URL", &hook)],
    );
    append(&log, &line("ord\u{202E}sre", "*bold* _it_ ~st~").repeat(3));
    let opened = server.wait_for(1, PATIENCE)[0].json();
    let text = opened["text"].as_str().unwrap().to_owned();
    assert!(
        text.contains("`*bold* _it_ ~st~`"),
        "markup not in a code span: {text}"
    );
    watch.stdout.wait_for("Incident #1");
    let stopped = watch.stop();
    let shown = stopped.stdout.join("\n") + &stopped.stderr.join("\n");
    assert!(
        !shown.contains('\u{202E}'),
        "a raw bidi override on the terminal: {shown:?}"
    );
    assert!(shown.contains("ord\\u{202e}sre"), "{shown}");
}

#[test]
fn alertmanager_gets_the_incident_labelled_from_the_lines_and_without_a_pid() {
    let am = Server::start(vec![], Reply::ok());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    File::create(&log).unwrap();
    let watch = Watch::start(
        &[path_arg(&log), "--threshold", "3"],
        &[
            ("LOGWARDEN_ALERTMANAGER_URL", &am.url("")),
            ("LOGWARDEN_ALERTMANAGER_RESEND", "200ms"),
        ],
    );
    let line = serde_json::json!({
        "timestamp": now_rfc3339(), "level": "ERROR", "message": "payment failed",
        "target": "orders::pay", "service": "orders", "env": "prod", "host": "web-9", "pid": 77,
    });
    append(&log, &format!("{line}\n").repeat(3));
    // The first post, then at least one resend that keeps it alive.
    let got = am.wait_for(2, PATIENCE);
    assert!(got.len() >= 2, "{got:#?}");
    for r in &got {
        assert_eq!(r.path, "/api/v2/alerts");
        let alert = &r.json()[0];
        // `watch` reads lines of any number of processes: the alert speaks for none of them.
        assert_eq!(
            alert["labels"],
            serde_json::json!({"alertname": "LogwardenErrors", "service": "orders",
                               "env": "prod", "host": "web-9"}),
            "{alert}"
        );
    }
    watch.stdout.wait_for("Incident #1");
    let stopped = watch.stop();
    assert!(stopped.status.success());
    let said = stopped.stderr.join("\n");
    assert!(said.contains("alertmanager (http://127.0.0.1:"), "{said}");
}

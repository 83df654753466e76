//! Finding lines: the filters a view asks for, and the newest lines that pass them within a time
//! range, read from the files themselves.
//!
//! A plain file is searched by time with a bisection over its offsets (a log is written in time
//! order, near enough), then read backwards from there in blocks until enough lines passed: a
//! view of a 1 GB file reads a few blocks, and nothing is kept between requests. A `.gz` file
//! cannot be entered in the middle and is read from its start, keeping only the newest lines
//! that passed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde_json::{json, Value};

use crate::read::files;
use crate::read::line::{self, Severity};

/// Lines a view shows when it does not say.
pub(crate) const LIMIT: usize = 200;
pub(crate) const MAX_LIMIT: usize = 2000;
/// What of a line is sent to the page: enough for any record, not a megabyte of one.
pub(crate) const SHOWN_MAX: usize = 16 << 10;
/// Bytes per read when going backwards through a file, and the bisection's last step.
const BLOCK: u64 = 256 << 10;
/// A view reads at most this much per file before it answers with what it found (`more`).
const READ_BUDGET: u64 = 256 << 20;

/// `a=1&b=x%20y` as pairs, percent-decoded (`+` is a space); invalid escapes are kept as
/// written.
pub(crate) fn params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The time range of the chart: relative to now, or everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    Last(i64),
    All,
}

impl Range {
    pub(crate) fn parse(value: Option<&str>) -> Range {
        const MINUTE: i64 = 60_000_000;
        match value {
            Some("15m") => Range::Last(15 * MINUTE),
            Some("24h") => Range::Last(24 * 60 * MINUTE),
            Some("all") => Range::All,
            _ => Range::Last(60 * MINUTE),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        const MINUTE: i64 = 60_000_000;
        match self {
            Range::Last(d) if d == 15 * MINUTE => "15m",
            Range::Last(d) if d == 24 * 60 * MINUTE => "24h",
            Range::Last(_) => "1h",
            Range::All => "all",
        }
    }
}

/// What a view asks of its lines. Every part must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Filter {
    /// At least this severity (lines without a level are OTHER, shown only with no minimum).
    min_level: Option<Severity>,
    service: Option<String>,
    /// Lower-cased; found anywhere in the line, case-insensitively.
    text: Option<String>,
    /// `key=value`: the key at the top of the record, or a dotted path into it
    /// (`span.user_id`); the value as text (`42`, `true`, a string without quotes).
    fields: Vec<(String, String)>,
}

impl Filter {
    /// `level`, `service`, `q` and any number of `field` (`key=value`) parameters.
    pub(crate) fn parse(params: &[(String, String)]) -> Result<Filter, String> {
        let mut filter = Filter::default();
        for (key, value) in params {
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                "level" => {
                    let level = Severity::from_text(value);
                    if level == Severity::Unknown {
                        return Err(format!(
                            "level `{value}`: one of TRACE, DEBUG, INFO, WARN, ERROR"
                        ));
                    }
                    filter.min_level = Some(level);
                }
                "service" => filter.service = Some(value.clone()),
                "q" => filter.text = Some(value.to_lowercase()),
                "field" => {
                    for term in value.split_whitespace() {
                        match term.split_once('=') {
                            Some((k, v)) if !k.is_empty() => {
                                filter.fields.push((k.to_owned(), v.to_owned()));
                            }
                            _ => {
                                return Err(format!(
                                    "field filter `{term}`: expected key=value, such as user_id=42"
                                ))
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(filter)
    }

    /// Whether the line passes; `family` is the service of lines that name none.
    pub(crate) fn passes(&self, raw: &[u8], entry: Option<&line::Entry<'_>>, family: &str) -> bool {
        if let Some(min) = self.min_level {
            let level = entry.map_or(Severity::Unknown, line::Entry::severity);
            if level == Severity::Unknown || level < min {
                return false;
            }
        }
        if let Some(service) = &self.service {
            let theirs = entry.and_then(|e| e.service.as_deref()).unwrap_or(family);
            if theirs != service {
                return false;
            }
        }
        if let Some(text) = &self.text {
            if !contains_ignoring_case(raw, text.as_bytes()) {
                return false;
            }
        }
        if !self.fields.is_empty() {
            let Ok(Value::Object(record)) = serde_json::from_slice::<Value>(raw) else {
                return false;
            };
            let record = Value::Object(record);
            return self.fields.iter().all(|(k, v)| field_is(&record, k, v));
        }
        true
    }
}

fn contains_ignoring_case(haystack: &[u8], lower_needle: &[u8]) -> bool {
    if lower_needle.is_empty() {
        return true;
    }
    if lower_needle.len() > haystack.len() {
        return false;
    }
    haystack.windows(lower_needle.len()).any(|w| {
        w.iter()
            .zip(lower_needle)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    }) || (!lower_needle.is_ascii()
        && String::from_utf8_lossy(haystack)
            .to_lowercase()
            .contains(std::str::from_utf8(lower_needle).unwrap_or_default()))
}

/// Whether `record` has `key` (literally, or as a dotted path) with the value `want` as text.
fn field_is(record: &Value, key: &str, want: &str) -> bool {
    let found = record.get(key).or_else(|| {
        key.split('.')
            .try_fold(record, |v, part| v.get(part))
            .filter(|_| key.contains('.'))
    });
    match found {
        Some(Value::String(s)) => s == want,
        Some(Value::Null) => want == "null",
        Some(v) => want == v.to_string().as_str(),
        None => false,
    }
}

/// A line as the page gets it: its time, level and service as read, the message, and the
/// record itself as text (the page shows its fields; nothing of it is ever markup).
pub(crate) fn row(
    raw: &[u8],
    entry: Option<&line::Entry<'_>>,
    family: &str,
    at: Option<i64>,
) -> Value {
    let cut = raw.len() > SHOWN_MAX;
    let shown = String::from_utf8_lossy(&raw[..raw.len().min(SHOWN_MAX)]).into_owned();
    json!({
        "at": at,
        "level": entry.and_then(|e| e.severity).map(Severity::name),
        "service": entry.and_then(|e| e.service.as_deref()).unwrap_or(family),
        "message": entry.and_then(|e| e.message.as_deref()),
        "line": shown,
        "cut": cut,
    })
}

/// The answer to a view.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Newest first.
    pub(crate) lines: Vec<Value>,
    /// More lines passed than were sent, or a file was not read to the range's start.
    pub(crate) more: bool,
    /// Files that could not be read.
    pub(crate) unreadable: Vec<String>,
}

/// The newest `limit` lines of the logs in `dir` that pass `filter`, at or after `from` and
/// before `to` (microseconds); lines without a time only when no range is given.
pub(crate) fn lines(
    dir: &Path,
    filter: &Filter,
    from: Option<i64>,
    to: Option<i64>,
    limit: usize,
) -> Found {
    let mut found = Found::default();
    let inputs = match files::discover(&[dir.to_owned()]) {
        Ok(inputs) => inputs,
        Err(e) => {
            found.unreadable.push(e);
            return found;
        }
    };
    let mut all: Vec<(Option<i64>, Value)> = Vec::new();
    for input in &inputs {
        let mut kept: VecDeque<(Option<i64>, Value)> = VecDeque::new();
        let mut more = false;
        let read = read_file(
            &input.path,
            &input.family,
            filter,
            from,
            to,
            limit,
            &mut kept,
            &mut more,
        );
        if let Err(e) = read {
            found
                .unreadable
                .push(format!("{}: {e}", file_name(&input.path)));
        }
        found.more |= more;
        all.extend(kept);
    }
    // Newest first across files; lines without a time last.
    all.sort_by_key(|line| std::cmp::Reverse(line.0));
    if all.len() > limit {
        found.more = true;
        all.truncate(limit);
    }
    found.lines = all.into_iter().map(|(_, v)| v).collect();
    found
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One file's newest passing lines into `kept` (newest first).
#[allow(clippy::too_many_arguments)]
fn read_file(
    path: &Path,
    family: &str,
    filter: &Filter,
    from: Option<i64>,
    to: Option<i64>,
    limit: usize,
    kept: &mut VecDeque<(Option<i64>, Value)>,
    more: &mut bool,
) -> io::Result<()> {
    let file = File::open(path)?;
    let mut magic = [0u8; 2];
    let gz = file.read_at(&mut magic, 0)? == 2 && magic == [0x1f, 0x8b];
    let ranged = from.is_some() || to.is_some();
    let consider = |raw: &[u8], newest_first: bool, kept: &mut VecDeque<(Option<i64>, Value)>| {
        let entry = line::parse(raw);
        let at = entry.as_ref().and_then(|e| e.at);
        let in_range = match at {
            Some(at) => from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t),
            None => !ranged,
        };
        if !in_range || !filter.passes(raw, entry.as_ref(), family) {
            return false;
        }
        let value = row(raw, entry.as_ref(), family, at);
        if newest_first {
            kept.push_back((at, value));
        } else {
            kept.push_front((at, value));
            if kept.len() > limit {
                kept.pop_back();
                return true;
            }
        }
        false
    };
    if gz {
        let reader = BufReader::new(flate2::read::MultiGzDecoder::new(file));
        for raw in reader.split(b'\n') {
            let raw = raw?;
            *more |= consider(&raw, false, kept);
        }
        return Ok(());
    }
    let len = file.metadata()?.len();
    // Where to stop going back, and where to start: bisected by time.
    let floor = match from {
        Some(f) => bisect(&file, len, f)?.0,
        None => 0,
    };
    let mut end = match to {
        Some(t) => bisect(&file, len, t)?.1,
        None => len,
    };
    let mut carry: Vec<u8> = Vec::new();
    let mut spent = 0;
    let mut buf = vec![0u8; BLOCK as usize];
    while end > floor && kept.len() < limit {
        if spent >= READ_BUDGET {
            *more = true;
            break;
        }
        let start = end.saturating_sub(BLOCK).max(floor);
        let block = &mut buf[..(end - start) as usize];
        file.read_exact_at(block, start)?;
        spent += end - start;
        // The block and the start of the line the previous block began inside.
        let mut data = block.to_vec();
        data.extend_from_slice(&carry);
        carry.clear();
        let mut lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
        // Before the first newline: the end of a line that starts in the next block back.
        if start > floor {
            carry = lines.remove(0).to_vec();
        }
        for raw in lines.into_iter().rev() {
            if raw.is_empty() {
                continue;
            }
            consider(raw, true, kept);
            if kept.len() >= limit {
                *more = true;
                break;
            }
        }
        end = start;
    }
    if kept.len() < limit && !carry.is_empty() {
        consider(&carry, true, kept);
    }
    Ok(())
}

/// Offsets around the first line at `t` or later: `.0` has only earlier lines before it (it is
/// a line start, or 0), `.1` only later ones after it (or the length).
fn bisect(file: &File, len: u64, t: i64) -> io::Result<(u64, u64)> {
    let (mut lo, mut hi) = (0u64, len);
    let mut buf = vec![0u8; 8 << 10];
    while hi - lo > BLOCK {
        let mid = lo + (hi - lo) / 2;
        match first_time_after(file, mid, hi)? {
            Some(at) if at < t => lo = mid,
            Some(_) => hi = mid,
            // No timed line between mid and hi: look in the earlier half.
            None => hi = mid,
        }
    }
    // `lo` may fall inside a line: that line is before `t` (or is read whole by the caller's
    // carry, which starts at a newline).
    let lo = if lo == 0 {
        0
    } else {
        line_start_after(file, lo, &mut buf)?.min(len)
    };
    Ok((lo.min(hi), hi))
}

fn line_start_after(file: &File, at: u64, buf: &mut [u8]) -> io::Result<u64> {
    // The newline before `at` is the one that matters: a line starting exactly at `at`.
    let from = at.saturating_sub(1);
    let n = file.read_at(buf, from)?;
    Ok(match memchr::memchr(b'\n', &buf[..n]) {
        Some(i) => from + i as u64 + 1,
        None => at,
    })
}

/// The time of the first timed line starting after `at` and before `hi`.
fn first_time_after(file: &File, at: u64, hi: u64) -> io::Result<Option<i64>> {
    let mut pos = at;
    let mut reader = BufReader::new(Reader {
        file,
        pos: &mut pos,
    });
    let mut skipped = Vec::new();
    // The rest of the line `at` falls in.
    let mut consumed = reader.read_until(b'\n', &mut skipped)? as u64;
    let mut line = Vec::new();
    while at + consumed < hi {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)? as u64;
        if n == 0 {
            break;
        }
        consumed += n;
        if let Some(at) = line::parse(&line).and_then(|e| e.at) {
            return Ok(Some(at));
        }
        if consumed > 4 * BLOCK {
            break;
        }
    }
    Ok(None)
}

/// Reads a file from a position without moving a shared cursor.
struct Reader<'a> {
    file: &'a File,
    pos: &'a mut u64,
}

impl Read for Reader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, *self.pos)?;
        *self.pos += n as u64;
        Ok(n)
    }
}

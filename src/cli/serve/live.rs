//! The live side: every line of the directory once through the tally (history first, in time
//! order, then what the active files gain, followed across rotation), the newest lines for the
//! open pages' streams, and the figures of a time range.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde_json::{json, Value};

use super::query::{self, Filter, Range};
use crate::cli::Failure;
use crate::read::files::{self, Line};
use crate::read::follow::{Follower, Poll};
use crate::read::history::{Options, Summary, Tally};
use crate::read::line::{self, Severity};

/// The newest lines kept for streams, by count and by bytes: a stream that falls further behind
/// is told how many it missed.
const RECENT_LINES: usize = 5000;
const RECENT_BYTES: usize = 16 << 20;
/// How often the directory is looked at for a new active file (a service that starts logging).
const RESCAN: Duration = Duration::from_secs(2);
/// How long the follower thread rests when no file had anything new.
const IDLE: Duration = Duration::from_millis(200);
/// A stream is sent at most this many lines at a time.
const BATCH: usize = 500;
/// At most this many bars in the chart; a bar spans a whole number of minutes.
const BARS: i64 = 120;

const MINUTE: i64 = 60_000_000;

/// A line kept for streams.
struct Recent {
    seq: u64,
    at: Option<i64>,
    raw: Box<[u8]>,
    family: Arc<str>,
}

struct State {
    tally: Tally,
    recent: VecDeque<Recent>,
    recent_bytes: usize,
    /// The sequence number of the next line.
    next_seq: u64,
    /// Bumped whenever the figures may have changed.
    generation: u64,
    services: BTreeSet<String>,
    /// The figures of the last generation, and when they were taken.
    cached: Option<(u64, i64, Arc<Summary>)>,
}

pub(crate) struct Live {
    dir: PathBuf,
    state: Mutex<State>,
    changed: Condvar,
    stop: Arc<AtomicBool>,
    follower: Mutex<Option<JoinHandle<()>>>,
    /// Lines read since the start, for the page's footer.
    read: AtomicU64,
}

/// One active file being followed.
struct Followed {
    follower: Follower,
    path: PathBuf,
    family: Arc<str>,
    last_at: Option<i64>,
}

impl Live {
    /// Reads the history, then follows the active files on a thread of its own.
    pub(crate) fn start(
        dir: &Path,
        threshold: usize,
        window: Duration,
        stop: Arc<AtomicBool>,
    ) -> Result<Arc<Live>, Failure> {
        let meta =
            std::fs::metadata(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
        if !meta.is_dir() {
            return Err(Failure(format!("{}: not a directory", dir.display())));
        }
        let found = files::discover(&[dir.to_owned()]).map_err(Failure)?;
        // The active files are opened first, so that none of their lines falls between the
        // history read below and the following after it.
        let mut followed = Vec::new();
        for input in found.iter().filter(|i| is_active(&i.path)) {
            if let Ok(follower) = Follower::open(&input.path, true, true) {
                followed.push(Followed {
                    follower,
                    path: input.path.clone(),
                    family: Arc::from(input.family.as_str()),
                    last_at: None,
                });
            }
        }
        // The history: the files as they are now (a file renamed since the first look is here
        // under its new name), less those the followers will read: each active file, read here
        // through its follower's own handle up to its last complete line (following goes on
        // from exactly there), and whatever was rotated away from it since the follower opened.
        // A file renamed while this is read is read once, and a line being written is read
        // once, whole.
        let before: HashMap<PathBuf, (u64, u64)> = found
            .iter()
            .filter_map(|i| Some((i.path.clone(), identity(&i.path)?)))
            .collect();
        let earlier: HashSet<(u64, u64)> = before.values().copied().collect();
        let claimed = |path: &Path, id: (u64, u64)| {
            followed
                .iter()
                .any(|f| f.path == path || f.follower.claims(path, id))
        };
        let mut inputs = files::discover(&[dir.to_owned()]).map_err(Failure)?;
        inputs.retain(|i| {
            let Some(id) = identity(&i.path) else {
                return false;
            };
            match i.path.to_str().and_then(|p| p.strip_suffix(".gz")) {
                // A compressed copy is the followers' when the file it was made from is: one
                // there before they opened was not, one compressed from a file rotated since
                // was (they read the file itself).
                Some(source) if !earlier.contains(&id) => {
                    let source = Path::new(source);
                    !claimed(source, before.get(source).copied().unwrap_or(id))
                }
                _ => !claimed(&i.path, id),
            }
        });
        let mut resumes: Vec<(usize, usize)> = Vec::new();
        for (k, f) in followed.iter().enumerate() {
            if let Ok(Some((file, end))) = f.follower.pin() {
                resumes.push((inputs.len(), k));
                inputs.push(files::Input {
                    path: f.path.clone(),
                    len: end,
                    family: f.family.to_string(),
                    regular: true,
                    pinned: Some(files::Pinned {
                        file: Arc::new(file),
                        end,
                    }),
                });
            }
        }
        let mut tally = Tally::new(Options {
            threshold,
            window,
            derive: false,
            since: None,
            until: None,
        });
        let mut services = BTreeSet::new();
        let mut consumed = vec![0u64; inputs.len()];
        let mut last_at: Vec<Option<i64>> = vec![None; inputs.len()];
        let read = Arc::new(AtomicU64::new(0));
        let mut count = 0u64;
        let troubles = files::for_each_line(&inputs, &read, |i, line| {
            consumed[i] += line.bytes;
            count += 1;
            if line.at.is_some() {
                last_at[i] = line.at;
            }
            let family = &inputs[i].family;
            let service = line
                .entry
                .as_ref()
                .and_then(|e| e.service.as_deref())
                .unwrap_or(family);
            if !services.contains(service) {
                services.insert(service.to_owned());
            }
            tally.add(line, family);
        });
        for t in &troubles {
            eprintln!("logwarden: warning: {}", t.message);
        }
        for (i, k) in resumes {
            let f = &mut followed[k];
            let _ = f.follower.resume_at(consumed[i]);
            f.last_at = last_at[i];
        }
        let live = Arc::new(Live {
            dir: dir.to_owned(),
            state: Mutex::new(State {
                tally,
                recent: VecDeque::new(),
                recent_bytes: 0,
                next_seq: 1,
                generation: 1,
                services,
                cached: None,
            }),
            changed: Condvar::new(),
            stop,
            follower: Mutex::new(None),
            read: AtomicU64::new(count),
        });
        let worker = Arc::clone(&live);
        let handle = std::thread::Builder::new()
            .name("logwarden-follow".into())
            .spawn(move || worker.follow(followed))
            .map_err(|e| Failure(format!("cannot start the follower thread: {e}")))?;
        *live.follower.lock() = Some(handle);
        Ok(live)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.changed.notify_all();
        if let Some(handle) = self.follower.lock().take() {
            let _ = handle.join();
        }
    }

    /// The sequence number the next line will have: a view taken now, then a stream from it,
    /// misses nothing.
    pub(crate) fn seq(&self) -> u64 {
        self.state.lock().next_seq
    }

    pub(crate) fn generation(&self) -> u64 {
        self.state.lock().generation
    }

    /// Waits until the figures move past `generation`, or `timeout`.
    pub(crate) fn wait_for_change(&self, generation: u64, timeout: Duration) {
        let mut state = self.state.lock();
        if state.generation == generation && !self.stop.load(Ordering::Relaxed) {
            self.changed.wait_for(&mut state, timeout);
        }
    }

    fn follow(&self, mut followed: Vec<Followed>) {
        let mut last_scan = Instant::now();
        let mut warned: BTreeSet<PathBuf> = BTreeSet::new();
        let mut batch: Vec<(usize, Vec<u8>)> = Vec::new();
        while !self.stop.load(Ordering::Relaxed) {
            for (i, f) in followed.iter_mut().enumerate() {
                loop {
                    let polled = f.follower.poll(&mut |line| batch.push((i, line.to_vec())));
                    match polled {
                        Ok(Poll::More) => {
                            if batch.len() > 10_000 {
                                break;
                            }
                        }
                        Ok(Poll::Idle) => break,
                        Err(e) => {
                            if warned.insert(f.path.clone()) {
                                eprintln!("logwarden: warning: {}: {e}", f.path.display());
                            }
                            break;
                        }
                    }
                }
            }
            let any = !batch.is_empty();
            if any {
                self.take(&mut followed, &mut batch);
            }
            if last_scan.elapsed() >= RESCAN {
                last_scan = Instant::now();
                self.look_for_new_files(&mut followed);
                // Quiet time resolves incidents: the figures may change without a line.
                let mut state = self.state.lock();
                state.generation += 1;
                drop(state);
                self.changed.notify_all();
            }
            if !any {
                std::thread::sleep(IDLE);
            }
        }
    }

    fn take(&self, followed: &mut [Followed], batch: &mut Vec<(usize, Vec<u8>)>) {
        let mut state = self.state.lock();
        for (i, raw) in batch.drain(..) {
            let f = &mut followed[i];
            let entry = line::parse(&raw).map(line::Entry::into_owned);
            let own_at = entry.as_ref().and_then(|e| e.at);
            if own_at.is_some() {
                f.last_at = own_at;
            }
            if let Some(service) = entry.as_ref().and_then(|e| e.service.as_deref()) {
                if !state.services.contains(service) {
                    state.services.insert(service.to_owned());
                }
            }
            let line = Line {
                at: own_at.or(f.last_at),
                timed: own_at.is_some(),
                entry,
                bytes: raw.len() as u64 + 1,
            };
            let family = Arc::clone(&f.family);
            state.tally.add(&line, &family);
            let seq = state.next_seq;
            state.next_seq += 1;
            state.recent_bytes += raw.len();
            state.recent.push_back(Recent {
                seq,
                at: line.at,
                raw: raw.into_boxed_slice(),
                family,
            });
            while state.recent.len() > RECENT_LINES || state.recent_bytes > RECENT_BYTES {
                if let Some(old) = state.recent.pop_front() {
                    state.recent_bytes -= old.raw.len();
                }
            }
            self.read.fetch_add(1, Ordering::Relaxed);
        }
        state.generation += 1;
        drop(state);
        self.changed.notify_all();
    }

    fn look_for_new_files(&self, followed: &mut Vec<Followed>) {
        let Ok(inputs) = files::discover(std::slice::from_ref(&self.dir)) else {
            return;
        };
        for input in inputs.into_iter().filter(|i| is_active(&i.path)) {
            if followed.iter().any(|f| f.path == input.path) {
                continue;
            }
            // A file that appeared since: read from its start.
            if let Ok(follower) = Follower::open(&input.path, true, true) {
                followed.push(Followed {
                    follower,
                    path: input.path,
                    family: Arc::from(input.family.as_str()),
                    last_at: None,
                });
            }
        }
    }

    /// The kept lines after `cursor` that pass `filter`, at most a batch of them.
    pub(crate) fn lines_after(&self, cursor: u64, filter: &Filter) -> Batch {
        let state = self.state.lock();
        let mut batch = Batch {
            cursor,
            ..Batch::default()
        };
        let Some(first) = state.recent.front().map(|r| r.seq) else {
            batch.cursor = cursor.max(state.next_seq - 1);
            return batch;
        };
        if cursor + 1 < first {
            batch.gap = first - cursor - 1;
        }
        let start = state.recent.partition_point(|r| r.seq <= cursor);
        for r in state.recent.range(start..) {
            batch.cursor = r.seq;
            let entry = line::parse(&r.raw);
            if filter.passes(&r.raw, entry.as_ref(), &r.family) {
                batch
                    .lines
                    .push(query::row(&r.raw, entry.as_ref(), &r.family, r.at));
                if batch.lines.len() >= BATCH {
                    break;
                }
            }
        }
        // Newest first, as views are.
        batch.lines.reverse();
        batch
    }

    /// The figures for `range`: bars of events by level, the incidents that overlap it (open
    /// ones first), MTTR of those resolved in it.
    pub(crate) fn summary(&self, range: Range) -> Value {
        let now = crate::clock::Clock::System.now_micros();
        let (summary, services, seq) = {
            let mut state = self.state.lock();
            let fresh = match &state.cached {
                // Within a second, and no new line: the same figures.
                Some((generation, at, s))
                    if *generation == state.generation && now - at < 1_000_000 =>
                {
                    Some(Arc::clone(s))
                }
                _ => None,
            };
            let summary = match fresh {
                Some(s) => s,
                None => {
                    let mut tally = state.tally.clone();
                    tally.advance(now);
                    let s = Arc::new(tally.finish(Vec::new(), 0));
                    state.cached = Some((state.generation, now, Arc::clone(&s)));
                    s
                }
            };
            let services: Vec<String> = state.services.iter().cloned().collect();
            (summary, services, state.next_seq)
        };
        figures(
            &summary,
            range,
            now,
            services,
            seq,
            self.read.load(Ordering::Relaxed),
        )
    }
}

/// What a stream is sent next.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) cursor: u64,
    pub(crate) lines: Vec<Value>,
    /// Lines that passed out of the kept ones before this stream was sent them.
    pub(crate) gap: u64,
}

fn figures(
    summary: &Summary,
    range: Range,
    now: i64,
    services: Vec<String>,
    seq: u64,
    read: u64,
) -> Value {
    let (from, to) = match range {
        Range::Last(d) => (now - d, now),
        Range::All => (
            summary.first_at.unwrap_or(now),
            summary.last_at.map_or(now, |l| l.max(now.min(l + MINUTE))),
        ),
    };
    let minutes = ((to - from) / MINUTE).max(1);
    let step = [
        1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080,
    ]
    .into_iter()
    .find(|m| minutes / m <= BARS)
    .unwrap_or(minutes / BARS + 1)
        * MINUTE;
    let first = from.div_euclid(step) * step;
    let mut bars: Vec<(i64, [u64; Severity::ALL.len()])> = Vec::new();
    let mut t = first;
    while t < to {
        bars.push((t, [0; Severity::ALL.len()]));
        t += step;
    }
    for (minute, counts) in summary.per_minute.range(first..to) {
        let i = ((minute - first) / step) as usize;
        if let Some((_, bar)) = bars.get_mut(i) {
            for (b, c) in bar.iter_mut().zip(counts) {
                *b += c;
            }
        }
    }
    let mut incidents: Vec<Value> = Vec::new();
    let (mut resolved, mut total) = (0u64, 0i64);
    let mut shown: Vec<&crate::read::history::Incident> = summary
        .incidents
        .iter()
        .filter(|i| {
            let end = i.resolved_at.or(i.stopped_at).unwrap_or(now);
            end >= from && i.first_error_at.min(i.opened_at) < to
        })
        .collect();
    // Open ones first, then the newest.
    shown.sort_by_key(|i| {
        (
            i.resolved_at.is_some() || i.stopped_at.is_some(),
            -i.opened_at,
        )
    });
    for i in shown {
        let open = i.resolved_at.is_none() && i.stopped_at.is_none();
        if let Some(d) = i.duration() {
            if i.resolved_at.is_some() {
                resolved += 1;
                total += i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
            }
        }
        incidents.push(json!({
            "service": i.service,
            "first_error_at": i.first_error_at,
            "opened_at": i.opened_at,
            "resolved_at": i.resolved_at,
            "stopped_at": i.stopped_at,
            "open": open,
            "errors": i.errors,
            "top_message": crate::text::cut(i.top_message.clone(), 300),
        }));
    }
    json!({
        "now": now,
        "range": range.name(),
        "from": from,
        "to": to,
        "step": step,
        "levels": Severity::ALL.iter().map(|s| s.name()).collect::<Vec<_>>(),
        "bars": bars.iter().map(|(t, c)| json!([t, c])).collect::<Vec<_>>(),
        "incidents": incidents,
        "mttr": (resolved > 0).then(|| total / resolved as i64),
        "resolved": resolved,
        "services": services,
        "first_at": summary.first_at,
        "last_at": summary.last_at,
        "lines": read,
        "seq": seq,
        "rule": summary.source.describe(),
    })
}

/// A file being written, rather than one rotated away (`.1`, `.20261125T…`, `.gz`).
fn is_active(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    [".log", ".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

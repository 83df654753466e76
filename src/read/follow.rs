//! Following a log like `tail -F`, and more: every byte of the active file and of every file
//! rotated away from it, across rename-and-create rotation and truncation, once.
//!
//! A file is known by its device and inode, and a fingerprint of its first bytes (an inode is
//! reused once its file is deleted). What is read, exactly once:
//! - the open file to its end, including what its writer adds after it was renamed away, before
//!   moving on;
//! - every file rotated away between two looks (two rotations within one poll): on Linux the
//!   directory is watched with inotify and a file is opened the moment it appears at the active
//!   name, so it is held even if it is rotated again and deleted before its turn; everywhere,
//!   the directory is also listed at each switch for rotated names this follower has not read
//!   (`<name>.1`, `<name>.2`, logwarden's `<name>.<time>`, logrotate's `<name>-<date>`), read
//!   oldest first;
//! - the active file from its start.
//!
//! Never read: the rotated files that were there when following began, compressed files (a
//! `.gz` twin is the same lines), hidden and temporary files, and a copy of a file already read
//! (copy-and-truncate leaves one). A file that appeared and was gone before it could be opened
//! is counted ([`Counts::missed`]); without inotify (another system) such a file is not even
//! seen. A truncation followed, before the next look, by more writing than had been read looks
//! like growth.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest line handed out; a longer one is read past and counted rather than held in memory
/// (a file with no newlines at all must not grow the buffer without bound).
const MAX_LINE: usize = 1 << 20;
/// Bytes per `read`.
const CHUNK: usize = 64 << 10;
/// At most this much is read per [`Follower::poll`], so that a long replay still lets the caller
/// look at its stop flag.
const BUDGET: u64 = 8 << 20;
/// Between two looks at what appeared in the directory, at most this much is read.
const STEP: u64 = CHUNK as u64;

/// A file's identity whatever its name: another identity at the path means the file was rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// How many of a file's first bytes tell it apart from another file that reused its inode, and
/// from a copy of it.
const FINGERPRINT: usize = 256;
/// Fingerprints at least this long tell a copy: shorter ones (a header line) may repeat.
const COPY_PRINT: usize = 64;
/// At most this many files are held open ahead of their turn.
const MAX_AHEAD: usize = 1024;

/// The first bytes of `file` (fewer when it is shorter).
fn fingerprint(file: &File) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; FINGERPRINT];
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// What the follower has seen, for the command's summary and notes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Complete (newline-terminated) lines read, overlong ones included.
    pub(crate) lines: u64,
    /// Lines longer than the cap, read past without being handed out.
    pub(crate) too_long: u64,
    /// Unterminated fragments dropped because their file was rotated away or truncated.
    pub(crate) torn: u64,
    /// Files moved on from because they were rotated away.
    pub(crate) rotations: u64,
    pub(crate) truncations: u64,
    /// Files rotated away that were read after their successor appeared (two rotations or more
    /// between two looks).
    pub(crate) caught_up: u64,
    /// Files that appeared at the active name and were gone (rotated and deleted) before they
    /// could be opened: their lines were never read.
    pub(crate) missed: u64,
}

/// How a poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Poll {
    /// Read as much as one poll may: call again without waiting.
    More,
    /// At the end of the active file, or waiting for the path to reappear: nothing more for now.
    Idle,
}

/// Splits bytes into lines, holding an unterminated fragment until its newline arrives.
#[derive(Debug, Default)]
struct Splitter {
    pending: Vec<u8>,
    /// Inside a line longer than [`MAX_LINE`]: skipping to its newline.
    skipping: bool,
    counts: Counts,
}

impl Splitter {
    fn feed(&mut self, mut data: &[u8], on_line: &mut dyn FnMut(&[u8])) {
        while let Some(i) = memchr::memchr(b'\n', data) {
            let line = &data[..i];
            data = &data[i + 1..];
            self.counts.lines += 1;
            if self.skipping {
                self.skipping = false;
            } else if self.pending.len() + line.len() > MAX_LINE {
                self.counts.too_long += 1;
                self.pending.clear();
            } else if self.pending.is_empty() {
                on_line(line);
            } else {
                self.pending.extend_from_slice(line);
                on_line(&self.pending);
                self.pending.clear();
            }
        }
        if self.skipping {
            return;
        }
        if self.pending.len() + data.len() > MAX_LINE {
            self.counts.too_long += 1;
            self.skipping = true;
            self.pending.clear();
        } else {
            self.pending.extend_from_slice(data);
        }
    }

    /// The fragment's file is gone (rotated away or truncated): it can never be completed.
    fn drop_fragment(&mut self) {
        if !self.pending.is_empty() {
            self.counts.torn += 1;
        }
        self.pending.clear();
        // An overlong fragment was counted when the skipping began.
        self.skipping = false;
    }
}

/// A file opened for reading, and how far.
#[derive(Debug)]
struct Opened {
    file: File,
    id: FileId,
    offset: u64,
    /// When it was last written, for the order of files caught up on.
    modified: SystemTime,
    /// Between equal modification times (a coarse clock): the order its rotated name gives
    /// (`.2` before `.1`) when it was found by name, else the order files were opened in.
    rank: Option<(i64, String)>,
    seq: u64,
}

/// How a rotated name sorts among equally recent ones: a number counts down to the newest
/// (Python's and logrotate's `.2`, `.1`), anything else (a time) counts up.
fn rank(active: &str, name: &str) -> (i64, String) {
    let rest = name.get(active.len() + 1..).unwrap_or_default();
    match rest.parse::<i64>() {
        Ok(n) => (-n, String::new()),
        Err(_) => (0, rest.to_owned()),
    }
}

/// Follows a log; see the module docs.
#[derive(Debug)]
pub(crate) struct Follower {
    path: PathBuf,
    dir: PathBuf,
    name: String,
    /// The file being read; `None` while the path is missing and nothing else is to be read.
    current: Option<Opened>,
    /// Files opened ahead, not read yet: caught as they appeared, or found rotated.
    queue: VecDeque<Opened>,
    /// Every file read, being read, queued or left alone, with its fingerprint when last looked.
    known: HashMap<FileId, Vec<u8>>,
    /// Fingerprints of files truncated under us: what copy-and-truncate copied elsewhere.
    retired: VecDeque<Vec<u8>>,
    watch: Option<DirWatch>,
    next_seq: u64,
    buf: Vec<u8>,
    lines: Splitter,
}

impl Follower {
    /// Opens the file at `path`, positioned at its start, or (`from_start` false) after its last
    /// complete line: a line still being written when we start is read whole once it ends. The
    /// rotated files already there are left alone. `watch`: whether to watch the directory
    /// (inotify, where there is one); without, only looks at it.
    ///
    /// # Errors
    /// The path cannot be opened, or is not a regular file.
    pub(crate) fn open(path: &Path, from_start: bool, watch: bool) -> io::Result<Follower> {
        let mut file = open_regular(path)?;
        let meta = file.metadata()?;
        let offset = if from_start {
            0
        } else {
            last_line_start(&file, meta.len())?
        };
        file.seek(SeekFrom::Start(offset))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut follower = Follower {
            path: path.to_owned(),
            // Watched before the rotated files are listed, so none slips between the two.
            watch: if watch { DirWatch::new(&dir) } else { None },
            dir,
            name,
            current: None,
            queue: VecDeque::new(),
            known: HashMap::new(),
            retired: VecDeque::new(),
            next_seq: 0,
            buf: vec![0; CHUNK],
            lines: Splitter::default(),
        };
        let id = FileId::of(&meta);
        follower.known.insert(id, fingerprint(&file)?);
        let mut current = follower.opened(file, id, &meta, None);
        current.offset = offset;
        follower.current = Some(current);
        for (path, _) in follower.rotated_names() {
            if let Ok(file) = open_regular(&path) {
                if let (Ok(meta), Ok(print)) = (file.metadata(), fingerprint(&file)) {
                    follower.known.entry(FileId::of(&meta)).or_insert(print);
                }
            }
        }
        Ok(follower)
    }

    pub(crate) fn counts(&self) -> Counts {
        self.lines.counts
    }

    /// Whether the directory is watched (inotify), rather than only looked at.
    pub(crate) fn is_watching(&self) -> bool {
        self.watch.is_some()
    }

    /// Waits up to `timeout`, less when the directory changes (with inotify).
    pub(crate) fn wait(&mut self, timeout: Duration) {
        match &self.watch {
            Some(w) => w.wait(timeout),
            None => std::thread::sleep(timeout),
        }
    }

    fn opened(&mut self, file: File, id: FileId, meta: &Metadata, name: Option<&str>) -> Opened {
        self.next_seq += 1;
        Opened {
            file,
            id,
            offset: 0,
            modified: meta.modified().unwrap_or(UNIX_EPOCH),
            rank: name.map(|n| rank(&self.name, n)),
            seq: self.next_seq,
        }
    }

    /// Hands every complete line available now to `on_line` (without its newline), following
    /// rotation and truncation, up to a budget per call.
    ///
    /// # Errors
    /// Reading or `stat`-ing failed for another reason than the path being missing for a moment.
    pub(crate) fn poll(&mut self, on_line: &mut dyn FnMut(&[u8])) -> io::Result<Poll> {
        let mut budget = BUDGET;
        loop {
            self.take_events();
            if self.current.is_none() && !self.next_file()? {
                return Ok(Poll::Idle);
            }
            let Some(open) = &mut self.current else {
                continue;
            };
            // In steps, so that files appearing meanwhile are opened while they are there.
            let mut step = STEP.min(budget);
            budget -= step;
            drain(open, &mut self.buf, &mut step, &mut self.lines, on_line)?;
            budget += step;
            if step == 0 {
                if budget == 0 {
                    return Ok(Poll::More);
                }
                continue;
            }
            // At the end of the open file: has it been truncated, or replaced at the path?
            let id = open.id;
            if open.file.metadata()?.len() < open.offset {
                // Copy-and-truncate rotation, or `> file`: what was read stays read, and a copy
                // of it found later is known by its first bytes.
                open.file.seek(SeekFrom::Start(0))?;
                open.offset = 0;
                if let Some(old) = self.known.remove(&id) {
                    self.retired.push_back(old);
                    if self.retired.len() > 16 {
                        self.retired.pop_front();
                    }
                }
                self.known.insert(id, Vec::new());
                self.lines.drop_fragment();
                self.lines.counts.truncations += 1;
                continue;
            }
            // Its first bytes, while fewer than a full fingerprint were known.
            if self.known.get(&id).is_some_and(|k| k.len() < FINGERPRINT) {
                if let Ok(print) = fingerprint(&open.file) {
                    self.known.insert(id, print);
                }
            }
            match fs::metadata(&self.path) {
                Ok(meta) if FileId::of(&meta) == id => return Ok(Poll::Idle),
                // Renamed away and nothing new to read yet: the open file may still grow.
                Err(e) if e.kind() == io::ErrorKind::NotFound && self.queue.is_empty() => {
                    return Ok(Poll::Idle)
                }
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {
                    // Rotated away. Its writer may have written to it since the read above: read
                    // it to its end once more, and move on only when that finds nothing new.
                    let mut step = budget;
                    let more = drain(open, &mut self.buf, &mut step, &mut self.lines, on_line)?;
                    budget = step;
                    if more > 0 {
                        continue;
                    }
                    self.finish_current();
                }
            }
        }
    }

    /// Done with the current file: its fingerprint kept (its inode may be reused once it is
    /// deleted), a fragment left in it dropped.
    fn finish_current(&mut self) {
        if let Some(open) = self.current.take() {
            let unlinked = open.file.metadata().is_ok_and(|m| m.nlink() == 0);
            if unlinked {
                // Deleted: its inode goes to the next new file, which must not look known.
                self.known.remove(&open.id);
            } else if let Ok(print) = fingerprint(&open.file) {
                self.known.insert(open.id, print);
            }
            self.lines.drop_fragment();
            self.lines.counts.rotations += 1;
        }
    }

    /// Moves on to the next file: the oldest of those opened ahead and those found rotated away
    /// meanwhile, else the file at the path. Returns whether there is one.
    fn next_file(&mut self) -> io::Result<bool> {
        self.catch_up();
        // Oldest first: by last write (one writer writes one file after another); between equal
        // times (a coarse clock), a file already rotated away before the one at the path.
        let at_path = fs::metadata(&self.path).ok().map(|m| FileId::of(&m));
        let key = |o: &Opened| {
            let modified = o.file.metadata().and_then(|m| m.modified());
            (modified.unwrap_or(o.modified), Some(o.id) == at_path)
        };
        let oldest = self
            .queue
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| {
                key(a).cmp(&key(b)).then_with(|| match (&a.rank, &b.rank) {
                    (Some(x), Some(y)) => x.cmp(y),
                    _ => a.seq.cmp(&b.seq),
                })
            })
            .map(|(i, _)| i);
        if let Some(i) = oldest {
            let mut next = self.queue.remove(i).expect("an index of the queue");
            if Some(next.id) != at_path {
                self.lines.counts.caught_up += 1;
            }
            next.file.seek(SeekFrom::Start(0))?;
            next.offset = 0;
            self.current = Some(next);
            return Ok(true);
        }
        match open_regular(&self.path) {
            Ok(file) => {
                let meta = file.metadata()?;
                let id = FileId::of(&meta);
                if self.is_known(id, &file) {
                    // Read already (it came back under the name): nothing new in it.
                    return Ok(false);
                }
                self.known.insert(id, fingerprint(&file)?);
                self.current = Some(self.opened(file, id, &meta, None));
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether `file` (`id`) is one this follower has met: the same inode with the same first
    /// bytes, or a copy of a file it has read.
    fn is_known(&self, id: FileId, file: &File) -> bool {
        if self.is_held(id) {
            return true;
        }
        let Ok(print) = fingerprint(file) else {
            return true;
        };
        if let Some(known) = self.known.get(&id) {
            // Fewer bytes when last looked at: the same file if they are its start. A file that
            // was empty then tells nothing: the same only if it still is.
            if print.starts_with(known) && (!known.is_empty() || print.is_empty()) {
                return true;
            }
        }
        print.len() >= COPY_PRINT
            && (self.known.values().any(|k| *k == print) || self.retired.contains(&print))
    }

    /// Whether `id` is the file being read or one held ahead: an open file's inode cannot be
    /// anyone else's.
    fn is_held(&self, id: FileId) -> bool {
        self.current.as_ref().is_some_and(|o| o.id == id) || self.queue.iter().any(|o| o.id == id)
    }

    /// Opens the file at the path now, ahead of its turn, unless it is known. Returns whether it
    /// was new.
    fn catch_at_path(&mut self) -> io::Result<bool> {
        let file = open_regular(&self.path)?;
        let meta = file.metadata()?;
        let id = FileId::of(&meta);
        if self.is_held(id) {
            // Caught already, or being read: found.
            return Ok(true);
        }
        if self.is_known(id, &file) {
            // An empty file at the path is there, whatever inode it has: not one gone unread
            // (it is read from its start once it has lines).
            return Ok(meta.len() == 0);
        }
        if self.queue.len() >= MAX_AHEAD {
            return Ok(false);
        }
        self.known.insert(id, fingerprint(&file)?);
        let opened = self.opened(file, id, &meta, None);
        self.queue.push_back(opened);
        Ok(true)
    }

    /// Queues the rotated files not met yet. Returns how many.
    fn catch_up(&mut self) -> usize {
        let mut found = 0;
        for (path, name) in self.rotated_names() {
            if self.queue.len() >= MAX_AHEAD {
                break;
            }
            let Ok(file) = open_regular(&path) else {
                continue;
            };
            let Ok(meta) = file.metadata() else { continue };
            let id = FileId::of(&meta);
            if self.is_held(id) || self.is_known(id, &file) {
                continue;
            }
            let Ok(print) = fingerprint(&file) else {
                continue;
            };
            self.known.insert(id, print);
            let opened = self.opened(file, id, &meta, Some(&name));
            self.queue.push_back(opened);
            found += 1;
        }
        self.forget_gone();
        found
    }

    /// Keeps the table of met files to those still in the directory, once it grows.
    fn forget_gone(&mut self) {
        if self.known.len() < 1024 {
            return;
        }
        let mut present: Vec<FileId> = self
            .rotated_names()
            .iter()
            .filter_map(|(p, _)| fs::metadata(p).ok().map(|m| FileId::of(&m)))
            .collect();
        present.extend(fs::metadata(&self.path).ok().map(|m| FileId::of(&m)));
        present.extend(self.current.as_ref().map(|o| o.id));
        present.extend(self.queue.iter().map(|o| o.id));
        self.known.retain(|id, _| present.contains(id));
    }

    /// The files in the directory named as rotations of the active file, with their names.
    fn rotated_names(&self) -> Vec<(PathBuf, String)> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                is_rotation_of(&self.name, &name).then(|| (e.path(), name))
            })
            .collect()
    }

    /// Reads what inotify says happened in the directory: a file that appeared at the active
    /// name is opened at once.
    fn take_events(&mut self) {
        let Some(watch) = &mut self.watch else {
            return;
        };
        let seen = watch.events(&self.name);
        // Each file that appeared at the name is one to read: at the path still, or rotated
        // under another name already; one found in neither place was deleted unread.
        let mut found = usize::from(seen.created > 0 && self.catch_at_path().unwrap_or(false));
        if seen.overflowed || found < seen.created {
            found += self.catch_up();
        }
        if !seen.overflowed {
            self.lines.counts.missed += seen.created.saturating_sub(found) as u64;
        }
    }
}

/// Whether `file` is named as a rotation of `active`: `<active>.<anything>`, `<active>-<…>` or
/// `<active>_<…>`, not hidden, not compressed (a `.gz` twin holds the same lines), not being
/// written (`.tmp`).
fn is_rotation_of(active: &str, file: &str) -> bool {
    let Some(rest) = file.strip_prefix(active) else {
        return false;
    };
    let compressed = [
        ".gz", ".xz", ".zst", ".bz2", ".lz4", ".zip", ".tmp", ".part",
    ];
    !file.starts_with('.')
        && rest.len() > 1
        && rest.starts_with(['.', '-', '_'])
        && !compressed.iter().any(|ext| rest.ends_with(ext))
}

/// What inotify told since the last look.
#[derive(Debug, Default)]
struct Seen {
    /// Times a file appeared at the active name (created or renamed to it).
    created: usize,
    /// Events were lost: look at the directory.
    overflowed: bool,
}

/// The directory watched with inotify (Linux).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
struct DirWatch {
    fd: rustix::fd::OwnedFd,
    buf: Vec<std::mem::MaybeUninit<u8>>,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl DirWatch {
    fn new(dir: &Path) -> Option<DirWatch> {
        use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).ok()?;
        let what = WatchFlags::CREATE | WatchFlags::MOVED_TO | WatchFlags::MODIFY;
        inotify::add_watch(&fd, dir, what | WatchFlags::ONLYDIR).ok()?;
        Some(DirWatch {
            fd,
            buf: vec![std::mem::MaybeUninit::uninit(); 16 << 10],
        })
    }

    fn events(&mut self, active: &str) -> Seen {
        use rustix::fs::inotify::{ReadFlags, Reader};
        let mut seen = Seen::default();
        let mut reader = Reader::new(&self.fd, &mut self.buf);
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(rustix::io::Errno::INTR) => continue,
                // WOULDBLOCK: nothing more for now; anything else: the watch is broken, and the
                // directory listing at each switch still finds rotated files.
                Err(_) => break,
            };
            let flags = event.events();
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                seen.overflowed = true;
            }
            let appeared = flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO);
            if appeared
                && event
                    .file_name()
                    .is_some_and(|n| n.to_bytes() == active.as_bytes())
            {
                seen.created += 1;
            }
        }
        seen
    }

    fn wait(&self, timeout: Duration) {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let timeout = Timespec {
            tv_sec: timeout.as_secs() as _,
            tv_nsec: timeout.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        let _ = poll(&mut fds, Some(&timeout));
    }
}

/// Elsewhere the directory is only looked at.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[derive(Debug)]
struct DirWatch;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl DirWatch {
    fn new(_dir: &Path) -> Option<DirWatch> {
        None
    }
    fn events(&mut self, _active: &str) -> Seen {
        Seen::default()
    }
    fn wait(&self, timeout: Duration) {
        std::thread::sleep(timeout);
    }
}

/// Opens a regular file for reading, and nothing else: opening a FIFO with no writer would block
/// (non-blocking here, so it cannot), and a device would never end.
fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

/// Reads `open` to its end, or until `budget` is spent, handing complete lines to `on_line`.
/// Returns the bytes read.
fn drain(
    open: &mut Opened,
    buf: &mut [u8],
    budget: &mut u64,
    lines: &mut Splitter,
    on_line: &mut dyn FnMut(&[u8]),
) -> io::Result<u64> {
    let (file, offset) = (&mut open.file, &mut open.offset);
    let mut total = 0;
    while *budget > 0 {
        let want = buf
            .len()
            .min(usize::try_from(*budget).unwrap_or(usize::MAX));
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let n64 = n as u64;
        *offset += n64;
        *budget -= n64;
        total += n64;
        lines.feed(&buf[..n], on_line);
    }
    Ok(total)
}

/// Where the unterminated line at the end of the file starts (`len` when the file ends with a
/// newline); `len` too when that line is already longer than the cap.
fn last_line_start(file: &File, len: u64) -> io::Result<u64> {
    let mut buf = vec![0; CHUNK];
    let mut end = len;
    while end > 0 {
        if len - end > MAX_LINE as u64 {
            return Ok(len);
        }
        let start = end.saturating_sub(CHUNK as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The unit tests follow without inotify: what they check must hold by looking alone; the
    /// tests below with `watched` add what inotify catches on top.
    const WATCH: bool = false;

    struct Fixture {
        _dir: tempfile::TempDir,
        path: PathBuf,
    }

    fn fixture(initial: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        fs::write(&path, initial).unwrap();
        Fixture { _dir: dir, path }
    }

    fn append(path: &Path, text: &str) {
        let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// Polls until idle; returns the lines handed out.
    fn read(f: &mut Follower) -> Vec<String> {
        let mut out = Vec::new();
        while f
            .poll(&mut |l| out.push(String::from_utf8(l.to_vec()).unwrap()))
            .unwrap()
            == Poll::More
        {}
        out
    }

    #[test]
    fn from_the_start_reads_complete_lines_and_holds_a_fragment_until_its_newline() {
        let fx = fixture("one\ntwo\nthr");
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        assert_eq!(read(&mut f), ["one", "two"]);
        assert!(read(&mut f).is_empty());
        append(&fx.path, "ee\r\nfour\n");
        assert_eq!(read(&mut f), ["three\r", "four"]);
        assert_eq!(f.counts().lines, 4);
    }

    #[test]
    fn from_the_end_starts_after_the_last_complete_line() {
        let fx = fixture("old 1\nold 2\nhalf of a li");
        let mut f = Follower::open(&fx.path, false, WATCH).unwrap();
        assert!(read(&mut f).is_empty());
        append(&fx.path, "ne\nnew\n");
        assert_eq!(read(&mut f), ["half of a line", "new"]);

        let fx = fixture("old\n");
        let mut f = Follower::open(&fx.path, false, WATCH).unwrap();
        append(&fx.path, "new\n");
        assert_eq!(read(&mut f), ["new"]);

        // No newline at all: the whole file is the line being written.
        let fx = fixture("partial");
        let mut f = Follower::open(&fx.path, false, WATCH).unwrap();
        append(&fx.path, " line\n");
        assert_eq!(read(&mut f), ["partial line"]);
    }

    #[test]
    fn rename_and_create_reads_the_old_file_to_its_end_then_the_new_one_from_its_start() {
        let fx = fixture("a1\n");
        let rotated = fx.path.with_extension("log.1");
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        assert_eq!(read(&mut f), ["a1"]);
        // The writer still holds the old file: lines it writes after the rename are not lost.
        let mut old = fs::OpenOptions::new().append(true).open(&fx.path).unwrap();
        fs::rename(&fx.path, &rotated).unwrap();
        old.write_all(b"a2\n").unwrap();
        // The path is missing for a moment: the old file is still followed.
        assert_eq!(read(&mut f), ["a2"]);
        old.write_all(b"a3\n").unwrap();
        fs::write(&fx.path, "b1\nb2\n").unwrap();
        old.write_all(b"a4\n").unwrap();
        assert_eq!(read(&mut f), ["a3", "a4", "b1", "b2"]);
        assert_eq!(f.counts().rotations, 1);
        // Nothing is read twice, and the old file is no longer followed.
        old.write_all(b"late\n").unwrap();
        append(&fx.path, "b3\n");
        assert_eq!(read(&mut f), ["b3"]);
        assert_eq!((f.counts().lines, f.counts().torn), (7, 0));
    }

    #[test]
    fn a_fragment_left_in_a_rotated_file_is_a_torn_line() {
        let fx = fixture("a1\na2-cut");
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        assert_eq!(read(&mut f), ["a1"]);
        fs::rename(&fx.path, fx.path.with_extension("log.1")).unwrap();
        fs::write(&fx.path, "b1\n").unwrap();
        assert_eq!(read(&mut f), ["b1"]);
        assert_eq!((f.counts().lines, f.counts().torn), (2, 1));
    }

    #[test]
    fn truncation_starts_again_from_the_start() {
        let fx = fixture("one\ntwo\nthree\n");
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        assert_eq!(read(&mut f), ["one", "two", "three"]);
        fs::OpenOptions::new()
            .write(true)
            .open(&fx.path)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&fx.path, "new\n");
        assert_eq!(read(&mut f), ["new"]);
        assert_eq!(f.counts().truncations, 1);
        append(&fx.path, "next\n");
        assert_eq!(read(&mut f), ["next"]);
    }

    #[test]
    fn a_path_that_disappears_and_comes_back_is_read_from_its_start() {
        let fx = fixture("a\n");
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        assert_eq!(read(&mut f), ["a"]);
        fs::remove_file(&fx.path).unwrap();
        assert!(read(&mut f).is_empty());
        fs::write(&fx.path, "b\n").unwrap();
        assert_eq!(read(&mut f), ["b"]);
    }

    #[test]
    fn an_overlong_line_is_skipped_and_counted_and_the_next_one_is_whole() {
        let fx = fixture("");
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        // Written in pieces, so the cap is crossed inside the held fragment.
        let long = "x".repeat(MAX_LINE / 4);
        for _ in 0..5 {
            append(&fx.path, &long);
            assert!(read(&mut f).is_empty());
        }
        append(&fx.path, "\nafter\n");
        assert_eq!(read(&mut f), ["after"]);
        assert_eq!((f.counts().lines, f.counts().too_long), (2, 1));
    }

    #[test]
    fn a_large_file_is_read_over_several_polls_without_loss() {
        let line = format!("{}\n", "y".repeat(999));
        let fx = fixture(&line.repeat(10_000)); // 10 MB: more than one poll's budget
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        let mut n = 0;
        let first = f.poll(&mut |_| n += 1).unwrap();
        assert_eq!(first, Poll::More);
        while f.poll(&mut |_| n += 1).unwrap() == Poll::More {}
        assert_eq!(n, 10_000);
    }

    /// Python's `RotatingFileHandler`: `app.log.1` → `app.log.2`, `app.log` → `app.log.1`, a new
    /// `app.log`; the oldest beyond `backups` deleted.
    fn python_rotate(path: &Path, backups: usize) {
        let numbered = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
        let _ = fs::remove_file(numbered(backups));
        for n in (1..backups).rev() {
            let _ = fs::rename(numbered(n), numbered(n + 1));
        }
        fs::rename(path, numbered(1)).unwrap();
        fs::write(path, "").unwrap();
    }

    #[test]
    fn several_rotations_between_two_looks_are_all_read_oldest_first() {
        for watched in [false, true] {
            let fx = fixture("");
            // Backups from before we started: left alone.
            fs::write(fx.path.with_extension("log.1"), "old\n").unwrap();
            let mut f = Follower::open(&fx.path, true, watched).unwrap();
            append(&fx.path, "a1\n");
            assert_eq!(read(&mut f), ["a1"]);
            append(&fx.path, "a2\n");
            python_rotate(&fx.path, 5);
            append(&fx.path, "b1\n");
            python_rotate(&fx.path, 5);
            append(&fx.path, "c1\n");
            python_rotate(&fx.path, 5);
            append(&fx.path, "d1\n");
            assert_eq!(read(&mut f), ["a2", "b1", "c1", "d1"], "watched: {watched}");
            let c = f.counts();
            assert_eq!((c.rotations, c.caught_up, c.missed), (3, 2, 0), "{c:?}");
            append(&fx.path, "d2\n");
            assert_eq!(read(&mut f), ["d2"], "nothing twice");
        }
    }

    #[test]
    fn logwarden_names_and_a_gz_twin_and_a_copy_are_read_once() {
        let fx = fixture("");
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        let line = |s: &str| {
            format!(
                "{{\"message\":\"{s}\",\"padding\":\"{}\"}}\n",
                "x".repeat(80)
            )
        };
        append(&fx.path, &line("a"));
        assert_eq!(read(&mut f).len(), 1);
        // Two rotations under logwarden's names, then each rotated file also compressed (a `.gz`
        // twin) and copied (as copy-and-truncate would leave one).
        let first = fx.path.with_extension("log.20261202T100000.000001Z");
        fs::rename(&fx.path, &first).unwrap();
        fs::write(&fx.path, line("b")).unwrap();
        let second = fx.path.with_extension("log.20261202T100000.000002Z");
        fs::rename(&fx.path, &second).unwrap();
        fs::write(&fx.path, line("c")).unwrap();
        fs::copy(
            &second,
            fx.path.with_extension("log.20261202T100000.000002Z.gz"),
        )
        .unwrap();
        fs::copy(&second, fx.path.with_extension("log.copy")).unwrap();
        let got = read(&mut f);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].contains("\"b\"") && got[1].contains("\"c\""),
            "{got:?}"
        );
        append(&fx.path, &line("d"));
        assert_eq!(read(&mut f).len(), 1);
    }

    #[test]
    fn a_reused_inode_is_a_new_file() {
        let fx = fixture("");
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        let rotated = fx.path.with_extension("log.1");
        append(&fx.path, "first file\n");
        assert_eq!(read(&mut f), ["first file"]);
        fs::rename(&fx.path, &rotated).unwrap();
        fs::write(&fx.path, "second\n").unwrap();
        assert_eq!(read(&mut f), ["second"]);
        // The first file deleted, and another made under the rotated name: whatever its inode,
        // its first bytes are not the first file's.
        fs::remove_file(&rotated).unwrap();
        fs::rename(&fx.path, &rotated).unwrap();
        fs::write(&fx.path, "third\n").unwrap();
        assert_eq!(read(&mut f), ["third"]);
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn watched_a_file_rotated_away_and_deleted_unread_is_counted_or_held() {
        let fx = fixture("a\n");
        let mut f = Follower::open(&fx.path, true, true).unwrap();
        assert!(f.is_watching());
        assert_eq!(read(&mut f), ["a"]);
        // Three rotations with one backup before the next look: `b`'s file is renamed to `.1`
        // and then deleted. Nothing held it open: it is gone, and counted.
        python_rotate(&fx.path, 1);
        append(&fx.path, "b\n");
        python_rotate(&fx.path, 1);
        append(&fx.path, "c\n");
        python_rotate(&fx.path, 1);
        append(&fx.path, "d\n");
        assert_eq!(read(&mut f), ["c", "d"]);
        assert_eq!(f.counts().missed, 1, "{:?}", f.counts());
        // Looked at once the file appears (as `watch` does between reads), inotify holds it open
        // from then on, and nothing is lost however soon it is deleted.
        python_rotate(&fx.path, 1);
        f.take_events();
        append(&fx.path, "e\n");
        python_rotate(&fx.path, 1);
        append(&fx.path, "f\n");
        python_rotate(&fx.path, 1);
        append(&fx.path, "g\n");
        assert_eq!(read(&mut f), ["e", "f", "g"]);
        assert_eq!(f.counts().missed, 1, "only `b`'s file");
    }

    /// logrotate's `create` with `ifempty` and `rotate 1`, twice on an empty file: the first
    /// file is deleted and a new one may take its inode at once. Neither an empty file met before
    /// nor a reused inode may hide the new active file.
    #[test]
    fn empty_files_and_reused_inodes_never_hide_the_active_file() {
        for watched in [false, true] {
            let fx = fixture("");
            let mut f = Follower::open(&fx.path, false, watched).unwrap();
            for _ in 0..2 {
                let _ = fs::remove_file(fx.path.with_extension("log.1"));
                fs::rename(&fx.path, fx.path.with_extension("log.1")).unwrap();
                fs::write(&fx.path, "").unwrap();
                assert!(read(&mut f).is_empty());
            }
            for i in 0..10 {
                append(&fx.path, &format!("line {i}\n"));
            }
            assert_eq!(read(&mut f).len(), 10, "watched: {watched}");
            assert_eq!(f.counts().missed, 0, "watched: {watched}: {:?}", f.counts());
        }
    }

    #[test]
    fn a_fifo_named_like_a_rotated_file_is_left_alone() {
        let fx = fixture("a\n");
        let fifo = fx.path.with_extension("log.pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        assert_eq!(read(&mut f), ["a"]);
        fs::rename(&fx.path, fx.path.with_extension("log.1")).unwrap();
        fs::write(&fx.path, "b\n").unwrap();
        assert_eq!(read(&mut f), ["b"]);
    }

    #[test]
    fn a_copy_made_by_copy_and_truncate_is_not_read_again() {
        let line = format!("{{\"message\":\"{}\"}}\n", "x".repeat(100));
        let fx = fixture("");
        let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
        append(&fx.path, &line.repeat(3));
        assert_eq!(read(&mut f).len(), 3);
        // copytruncate: the content copied to `.1`, the file truncated, writing goes on.
        fs::copy(&fx.path, fx.path.with_extension("log.1")).unwrap();
        fs::OpenOptions::new()
            .write(true)
            .open(&fx.path)
            .unwrap()
            .set_len(0)
            .unwrap();
        assert!(read(&mut f).is_empty());
        append(&fx.path, "after\n");
        // A rotation makes the follower look at the directory: the copy is known.
        fs::rename(&fx.path, fx.path.with_extension("log.2")).unwrap();
        fs::write(&fx.path, "next\n").unwrap();
        assert_eq!(read(&mut f), ["after", "next"]);
    }
}

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

mod dirwatch;

use dirwatch::DirWatch;

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

    /// Moves to `offset` in the file opened: what a first pass over it has already read (a
    /// line cut there by that pass's end is read again whole from its start). Before any poll.
    ///
    /// # Errors
    /// The file cannot be read or seeked.
    pub(crate) fn resume_at(&mut self, offset: u64) -> io::Result<()> {
        let Some(open) = &mut self.current else {
            return Ok(());
        };
        let offset = if offset == 0 {
            0
        } else {
            // Back to the start of the line the offset falls in, unless it falls after a newline.
            let mut byte = [0u8; 1];
            open.file.read_exact_at(&mut byte, offset - 1)?;
            if byte[0] == b'\n' {
                offset
            } else {
                last_line_start(&open.file, offset)?
            }
        };
        open.file.seek(SeekFrom::Start(offset))?;
        open.offset = offset;
        Ok(())
    }

    /// A second handle on the file being read, and where its last complete line ends: a first
    /// pass that reads this handle up to there, followed by [`Follower::resume_at`] that point,
    /// reads every line once, whatever is renamed in between. Before any poll.
    ///
    /// # Errors
    /// The file cannot be read or its handle duplicated.
    pub(crate) fn pin(&self) -> io::Result<Option<(File, u64)>> {
        let Some(open) = &self.current else {
            return Ok(None);
        };
        let len = open.file.metadata()?.len();
        let end = last_line_start(&open.file, len)?;
        Ok(Some((open.file.try_clone()?, end)))
    }

    /// Whether a file found in the directory (`path`, device and inode `id`) is this follower's
    /// to read rather than a first pass's: the file it reads, or one named as a rotation of it
    /// that was not there when it opened (rotated since, so it reads it after the file it
    /// holds). Before any poll.
    pub(crate) fn claims(&self, path: &Path, id: (u64, u64)) -> bool {
        let id = FileId {
            dev: id.0,
            ino: id.1,
        };
        if self.current.as_ref().is_some_and(|o| o.id == id) {
            return true;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        path.parent() == Some(self.dir.as_path())
            && is_rotation_of(&self.name, name)
            && !self.known.contains_key(&id)
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
mod tests;

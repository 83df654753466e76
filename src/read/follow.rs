//! Following the active file like `tail -F`: across rename-and-create rotation and truncation,
//! without losing or re-reading a line.
//!
//! Polling (DESIGN.md, "Why does `watch` poll instead of using inotify?"): another file at the
//! path (its device and inode changed) is a rotation, the open file shorter than what was read
//! from it a truncation.
//!
//! What is read exactly once: every line of the open file, including what is written to it after
//! it was renamed away and until its successor is noticed (the old file is read to its end before
//! switching), and every line of the successor, read from its start. Limits, as with `tail -F`: a
//! file rotated away before it was ever opened (two rotations within one poll) is not read, and
//! a truncation followed, before the next poll, by more writing than had been read looks like
//! growth.

use std::fs::{self, File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The longest line handed out; a longer one is read past and counted rather than held in memory
/// (a file with no newlines at all must not grow the buffer without bound).
const MAX_LINE: usize = 1 << 20;
/// Bytes per `read`.
const CHUNK: usize = 64 << 10;
/// At most this much is read per [`Follower::poll`], so that a long replay still lets the caller
/// look at its stop flag.
const BUDGET: u64 = 8 << 20;

/// A file's identity whatever its name: another identity at the path means the file was rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// What the follower has seen, for the command's summary and notes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Complete (newline-terminated) lines read, overlong ones included.
    pub(crate) lines: u64,
    /// Lines longer than the cap, read past without being handed out.
    pub(crate) too_long: u64,
    /// Unterminated fragments dropped because their file was rotated away or truncated.
    pub(crate) torn: u64,
    pub(crate) rotations: u64,
    pub(crate) truncations: u64,
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

/// Follows the file at a path; see the module docs.
#[derive(Debug)]
pub(crate) struct Follower {
    path: PathBuf,
    /// The open file and its identity; `None` once the path holds a file that could not be
    /// opened yet (it was removed again), until it reappears.
    file: Option<(File, FileId)>,
    /// Bytes of the open file read so far (handed-out lines and the held fragment).
    offset: u64,
    buf: Vec<u8>,
    lines: Splitter,
}

impl Follower {
    /// Opens the file at `path`, positioned at its start, or (`from_start` false) after its last
    /// complete line: a line still being written when we start is read whole once it ends.
    ///
    /// # Errors
    /// The path cannot be opened, or is not a regular file.
    pub(crate) fn open(path: &Path, from_start: bool) -> io::Result<Follower> {
        regular(path)?;
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let offset = if from_start {
            0
        } else {
            last_line_start(&file, meta.len())?
        };
        file.seek(SeekFrom::Start(offset))?;
        Ok(Follower {
            path: path.to_owned(),
            file: Some((file, FileId::of(&meta))),
            offset,
            buf: vec![0; CHUNK],
            lines: Splitter::default(),
        })
    }

    pub(crate) fn counts(&self) -> Counts {
        self.lines.counts
    }

    /// Hands every complete line available now to `on_line` (without its newline), following
    /// rotation and truncation, up to a budget per call.
    ///
    /// # Errors
    /// Reading or `stat`-ing failed for another reason than the path being missing for a moment.
    pub(crate) fn poll(&mut self, on_line: &mut dyn FnMut(&[u8])) -> io::Result<Poll> {
        let mut budget = BUDGET;
        loop {
            if self.file.is_none() && !self.reopen()? {
                return Ok(Poll::Idle);
            }
            let Some((file, id)) = &mut self.file else {
                continue;
            };
            let id = *id;
            drain(
                file,
                &mut self.buf,
                &mut self.offset,
                &mut budget,
                &mut self.lines,
                on_line,
            )?;
            if budget == 0 {
                return Ok(Poll::More);
            }
            // At the end of the open file: has it been truncated, or replaced at the path?
            if file.metadata()?.len() < self.offset {
                // Copy-and-truncate rotation, or `> file`: what was read stays read.
                file.seek(SeekFrom::Start(0))?;
                self.offset = 0;
                self.lines.drop_fragment();
                self.lines.counts.truncations += 1;
                continue;
            }
            match fs::metadata(&self.path) {
                Ok(meta) if FileId::of(&meta) == id => return Ok(Poll::Idle),
                Ok(_) => {
                    // Rotated away. Its writer may have written to it since the read above: read
                    // it to its end once more, and switch only when that finds nothing new.
                    let more = drain(
                        file,
                        &mut self.buf,
                        &mut self.offset,
                        &mut budget,
                        &mut self.lines,
                        on_line,
                    )?;
                    if more > 0 {
                        continue;
                    }
                    self.lines.drop_fragment();
                    self.lines.counts.rotations += 1;
                    self.file = None;
                }
                // Renamed away and its successor not created yet: the open file may still grow.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Poll::Idle),
                Err(e) => return Err(e),
            }
        }
    }

    /// Opens the file now at the path, from its start (everything in it is new). Returns whether
    /// there was one.
    fn reopen(&mut self) -> io::Result<bool> {
        match regular(&self.path).and_then(|()| File::open(&self.path)) {
            Ok(file) => {
                let id = FileId::of(&file.metadata()?);
                self.file = Some((file, id));
                self.offset = 0;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Refuses anything but a regular file before opening it: opening a FIFO with no writer would
/// block (and a device would never end).
fn regular(path: &Path) -> io::Result<()> {
    if std::fs::metadata(path)?.is_file() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

/// Reads `file` to its end, or until `budget` is spent, handing complete lines to `on_line`.
/// Returns the bytes read.
fn drain(
    file: &mut File,
    buf: &mut [u8],
    offset: &mut u64,
    budget: &mut u64,
    lines: &mut Splitter,
    on_line: &mut dyn FnMut(&[u8]),
) -> io::Result<u64> {
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
        let mut f = Follower::open(&fx.path, true).unwrap();
        assert_eq!(read(&mut f), ["one", "two"]);
        assert!(read(&mut f).is_empty());
        append(&fx.path, "ee\r\nfour\n");
        assert_eq!(read(&mut f), ["three\r", "four"]);
        assert_eq!(f.counts().lines, 4);
    }

    #[test]
    fn from_the_end_starts_after_the_last_complete_line() {
        let fx = fixture("old 1\nold 2\nhalf of a li");
        let mut f = Follower::open(&fx.path, false).unwrap();
        assert!(read(&mut f).is_empty());
        append(&fx.path, "ne\nnew\n");
        assert_eq!(read(&mut f), ["half of a line", "new"]);

        let fx = fixture("old\n");
        let mut f = Follower::open(&fx.path, false).unwrap();
        append(&fx.path, "new\n");
        assert_eq!(read(&mut f), ["new"]);

        // No newline at all: the whole file is the line being written.
        let fx = fixture("partial");
        let mut f = Follower::open(&fx.path, false).unwrap();
        append(&fx.path, " line\n");
        assert_eq!(read(&mut f), ["partial line"]);
    }

    #[test]
    fn rename_and_create_reads_the_old_file_to_its_end_then_the_new_one_from_its_start() {
        let fx = fixture("a1\n");
        let rotated = fx.path.with_extension("log.1");
        let mut f = Follower::open(&fx.path, true).unwrap();
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
        let mut f = Follower::open(&fx.path, true).unwrap();
        assert_eq!(read(&mut f), ["a1"]);
        fs::rename(&fx.path, fx.path.with_extension("log.1")).unwrap();
        fs::write(&fx.path, "b1\n").unwrap();
        assert_eq!(read(&mut f), ["b1"]);
        assert_eq!((f.counts().lines, f.counts().torn), (2, 1));
    }

    #[test]
    fn truncation_starts_again_from_the_start() {
        let fx = fixture("one\ntwo\nthree\n");
        let mut f = Follower::open(&fx.path, true).unwrap();
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
        let mut f = Follower::open(&fx.path, true).unwrap();
        assert_eq!(read(&mut f), ["a"]);
        fs::remove_file(&fx.path).unwrap();
        assert!(read(&mut f).is_empty());
        fs::write(&fx.path, "b\n").unwrap();
        assert_eq!(read(&mut f), ["b"]);
    }

    #[test]
    fn an_overlong_line_is_skipped_and_counted_and_the_next_one_is_whole() {
        let fx = fixture("");
        let mut f = Follower::open(&fx.path, true).unwrap();
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
        let mut f = Follower::open(&fx.path, true).unwrap();
        let mut n = 0;
        let first = f.poll(&mut |_| n += 1).unwrap();
        assert_eq!(first, Poll::More);
        while f.poll(&mut |_| n += 1).unwrap() == Poll::More {}
        assert_eq!(n, 10_000);
    }
}

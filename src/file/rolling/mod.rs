//! The rolling file: the [`Sink`] the writer thread writes batches to, rotated by size and time,
//! with retention and (feature `gzip`) compression of what it rotates away.

#[cfg(feature = "gzip")]
use super::gzip;
use super::rotation::Rotation;
use super::timezone::Zone;
use super::{lock, naming, swap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::diag::{report, Counters};
use crate::writer::{Sink, SinkError};

/// Everything the rolling file needs to know; validated by the builder.
#[derive(Clone, Debug)]
pub(crate) struct FileOptions {
    pub(crate) dir: PathBuf,
    pub(crate) name: String,
    /// Rotate before a write would make the file larger than this.
    pub(crate) max_bytes: Option<u64>,
    pub(crate) rotation: Rotation,
    /// The wall clock `rotation` follows.
    pub(crate) zone: Zone,
    pub(crate) keep: usize,
    /// Cap on the total size of the rotated files (their `.gz` once compressed).
    pub(crate) max_total_bytes: Option<u64>,
    pub(crate) mode: u32,
    #[cfg_attr(not(feature = "gzip"), allow(dead_code))]
    pub(crate) gzip: bool,
    pub(crate) clock: Clock,
    /// How long opening waits for the file's previous writer to let go of it.
    pub(crate) lock_wait: Duration,
}

/// Why opening the log failed, so the builder can name the right setting.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The directory could not be created or is not a directory.
    Dir(io::Error),
    /// The active file could not be opened (permission, symlink, not a regular file).
    File(io::Error),
    /// Another writer (a process, or a stack of this one) holds the file: its pid, if known.
    Busy(Option<u32>),
}

pub(crate) struct RollingFile {
    opts: FileOptions,
    path: PathBuf,
    file: Option<File>,
    /// Bytes in the active file, counted by us: no `stat` per write.
    size: u64,
    /// How much of the active file was there when it was last seen at its path: what was written
    /// after that is rescued if the file turns out deleted.
    confirmed: u64,
    next_rotation: i64,
    last_rotation: i64,
    counters: Arc<Counters>,
    /// Set while renames fail: no new attempt before this time, so a directory that refuses
    /// renames costs one syscall a second, not one per batch.
    rotation_retry_at: Option<Instant>,
    /// Set while the active file cannot be reopened, so that it is reported once.
    reopen_failing: bool,
    /// Cleared when the filesystem cannot exchange two names: rename-then-create from then on.
    swap_supported: bool,
    /// Set when a rotated file could not leave the staging path, so the next rotation moves it
    /// first.
    staged_leftover: bool,
    /// The length of the unfinished line a previous writer left at the end of the file, which
    /// opening ended with a newline; said once, in a record.
    torn: Option<u64>,
    /// This file's one writer is us, for as long as this lives.
    _lock: lock::WriterLock,
    /// Set when another writer holds the file's lock after its directory was recreated: nothing
    /// is written then (the holder's pid, if known).
    displaced: Option<Option<u32>>,
    /// The directory's identity when it was opened (or recreated): another one there means it
    /// was deleted.
    dir_id: Option<(u64, u64)>,
    /// The empty file the next rotation swaps in, created ahead (see [`super::swap`]).
    staged: Option<File>,
    #[cfg(feature = "gzip")]
    compressor: Option<gzip::Compressor>,
}

impl RollingFile {
    /// Creates the directory if needed and opens (or creates) the active file.
    pub(crate) fn open(mut opts: FileOptions, counters: Arc<Counters>) -> Result<Self, OpenError> {
        create_dir(&opts.dir).map_err(OpenError::Dir)?;
        // Absolute, so that a later `chdir` of the application does not move the log.
        opts.dir = std::path::absolute(&opts.dir).map_err(OpenError::Dir)?;
        // Rotation renames and creates files in the directory: find out now, not at the first
        // rotation, whether it lets us (an existing writable file in a read-only directory).
        probe_dir(&opts.dir).map_err(OpenError::Dir)?;
        let path = opts.dir.join(&opts.name);
        // Before anything else touches the files: only their one writer may settle or rotate.
        let lock = lock::acquire(&opts.dir, &opts.name, opts.mode, opts.lock_wait).map_err(
            |e| match e {
                lock::LockError::Held(pid) => OpenError::Busy(pid),
                lock::LockError::Io(e) | lock::LockError::Unsupported(e) => OpenError::Dir(e),
            },
        )?;
        // What a crash between a swap and its rename left behind goes where it belongs first.
        let settled = settle_staged(&opts.dir, &opts.name).map_err(OpenError::Dir)?;
        let mut file = open_active(&path, opts.mode).map_err(OpenError::File)?;
        let meta = file.metadata().map_err(OpenError::File)?;
        // A writer killed mid-line left a fragment: end it, so our first record is whole.
        let torn = end_torn_line(&mut file, meta.len()).map_err(OpenError::File)?;
        if torn.is_some() {
            Counters::add(&counters.torn_lines, 1);
        }
        let now = opts.clock.now_micros();
        let mut next_rotation = opts.rotation.next_boundary(now, &opts.zone);
        // A non-empty file left by an earlier run in an earlier period is rotated at the first
        // write, so each rotated file holds one period.
        if meta.len() > 0 {
            if let (Some(current), Ok(modified)) =
                (opts.rotation.period_start(now, &opts.zone), meta.modified())
            {
                let mtime = modified
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as i64);
                if opts
                    .rotation
                    .period_start(mtime, &opts.zone)
                    .is_some_and(|p| p < current)
                {
                    next_rotation = current;
                }
            }
        }
        #[allow(unused_mut)] // set below only with the `gzip` feature
        let mut file = RollingFile {
            size: meta.len() + u64::from(torn.is_some()),
            confirmed: meta.len(),
            torn,
            _lock: lock,
            displaced: None,
            dir_id: dir_id(&opts.dir),
            path,
            file: Some(file),
            next_rotation,
            last_rotation: i64::MIN,
            counters,
            rotation_retry_at: None,
            reopen_failing: false,
            swap_supported: true,
            staged_leftover: false,
            staged: None,
            opts,
            #[cfg(feature = "gzip")]
            compressor: None,
        };
        file.prepare_staging();
        #[cfg(feature = "gzip")]
        if file.opts.gzip {
            file.compressor = Some(gzip::Compressor::new(
                file.opts.dir.clone(),
                file.opts.name.clone(),
                file.retention(),
                file.opts.mode,
            ));
        }
        // A file a crash left staged is a rotated file like any other: compressed, pruned.
        if let Some(settled) = settled {
            file.after_rotation(&settled);
        }
        Ok(file)
    }

    fn file_at_path(&self) -> bool {
        self.file.as_ref().is_some_and(|f| same_file(f, &self.path))
    }

    /// The active file deleted or replaced underneath (an operator's `rm`, a foreign rotation
    /// tool, the whole directory removed): reopened by name, so lines go where tailers look
    /// instead of into an unlinked inode. When the directory itself was deleted, what went into
    /// the file since it was last seen at its path is moved to the new one: nothing of the old
    /// directory survives for those lines to be in. A file deleted on its own (`rm`, or a copy
    /// then an unlink, as `gzip` does) is not copied from: its lines were meant to go, or are in
    /// the copy.
    fn reopen_if_gone(&mut self) {
        let Some(file) = &self.file else { return };
        if same_file(file, &self.path) {
            self.confirmed = self.size;
            return;
        }
        let dir_gone = !dir_is(&self.opts.dir, self.dir_id);
        if let Err(e) = create_dir(&self.opts.dir).and_then(|()| self.relock()) {
            if !self.reopen_failing {
                report(format_args!(
                    "{} was removed or replaced and cannot be reopened: {e}; retrying",
                    self.path.display()
                ));
            }
            self.reopen_failing = true;
            return;
        }
        let Some(file) = &self.file else { return };
        match open_active(&self.path, self.opts.mode) {
            Ok(mut fresh) => {
                let rescued = if dir_gone && is_unlinked(file) {
                    copy_range(file, self.confirmed..self.size, &mut fresh)
                } else {
                    Ok(0)
                };
                self.size = fresh.metadata().map_or(0, |m| m.len());
                self.confirmed = self.size;
                self.file = Some(fresh);
                self.reopen_failing = false;
                self.dir_id = dir_id(&self.opts.dir);
                // With the directory, the prepared file went too.
                self.staged = None;
                self.prepare_staging();
                let with = match rescued {
                    Ok(0) => String::new(),
                    Ok(n) => format!(
                        ", with the {n} bytes written into it after its directory was deleted"
                    ),
                    Err(e) => format!(
                        "; what was written into it after its directory was deleted could not be \
                         moved: {e}"
                    ),
                };
                report(format_args!(
                    "{} was removed or replaced; reopened it{with}",
                    self.path.display()
                ));
            }
            Err(e) => {
                if !self.reopen_failing {
                    report(format_args!(
                        "{} was removed or replaced and cannot be reopened: {e}; retrying",
                        self.path.display()
                    ));
                }
                self.reopen_failing = true;
            }
        }
    }

    /// Holds the lock of the file at the path again if the one held was deleted (with the
    /// directory). Another writer may have taken it meanwhile: then this one writes nothing
    /// more, and what it is given is counted as lost.
    fn relock(&mut self) -> io::Result<()> {
        if let Some(holder) = self.displaced {
            // Freed since?
            match lock::acquire(
                &self.opts.dir,
                &self.opts.name,
                self.opts.mode,
                Duration::ZERO,
            ) {
                Ok(lock) => {
                    self._lock = lock;
                    self.displaced = None;
                    return Ok(());
                }
                Err(lock::LockError::Held(pid)) => {
                    self.displaced = Some(pid.or(holder));
                    return Err(displaced_error(self.displaced.flatten()));
                }
                Err(lock::LockError::Io(e) | lock::LockError::Unsupported(e)) => return Err(e),
            }
        }
        if self._lock.is_current() {
            return Ok(());
        }
        match lock::acquire(
            &self.opts.dir,
            &self.opts.name,
            self.opts.mode,
            Duration::ZERO,
        ) {
            Ok(lock) => {
                self._lock = lock;
                Ok(())
            }
            Err(lock::LockError::Held(pid)) => {
                report(format_args!(
                    "{} is now written by another process{}, which started while its directory \
                     was gone: lines are counted as lost until it stops",
                    self.path.display(),
                    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
                ));
                self.displaced = Some(pid);
                Err(displaced_error(pid))
            }
            Err(lock::LockError::Io(e) | lock::LockError::Unsupported(e)) => Err(e),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn retention(&self) -> naming::Retention {
        naming::Retention {
            keep: self.opts.keep,
            max_total_bytes: self.opts.max_total_bytes,
        }
    }

    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "log file is not open",
                ))
            }
        };
        match file.write_all(chunk) {
            Ok(()) => {
                self.size += chunk.len() as u64;
                Ok(())
            }
            Err(e) => {
                // A short write (disk full) leaves part of a line: cut the file back to the last
                // whole line so no torn record stays behind. Never extend it: another tool may
                // have truncated it meanwhile (copytruncate).
                let len = file.metadata().map_or(self.size, |m| m.len());
                let _ = file.set_len(self.size.min(len));
                Err(e)
            }
        }
    }

    /// Moves the active file to its rotated name and puts a fresh one in its place. Returns
    /// whether it rotated: a failure to move it is counted and reported once, and writing goes
    /// on in the current file (nothing is lost, the file grows past its limit) until a retry a
    /// second later works.
    fn rotate(&mut self, now: i64) -> io::Result<bool> {
        // Not our file at the path any more (deleted, replaced): reopened first, so that the
        // rotation moves our lines away, never a file someone else put there.
        if !self.file_at_path() {
            if self.rotation_retry_at.is_some_and(|at| Instant::now() < at) {
                return Ok(false);
            }
            self.reopen_if_gone();
            if !self.file_at_path() {
                Counters::add(&self.counters.rotation_errors, 1);
                self.rotation_retry_at = Some(Instant::now() + Duration::from_secs(1));
                return Ok(false);
            }
        }
        self.next_rotation = self.opts.rotation.next_boundary(now, &self.opts.zone);
        if self.size == 0 {
            return Ok(false);
        }
        if self.rotation_retry_at.is_some_and(|at| Instant::now() < at) {
            return Ok(false);
        }
        let stuck = self.staged_leftover;
        if stuck {
            match settle_staged(&self.opts.dir, &self.opts.name) {
                Ok(settled) => {
                    self.staged_leftover = false;
                    if let Some(settled) = settled {
                        self.after_rotation(&settled);
                    }
                }
                // Still in the way: swapping would fail; rename-then-create does not need it.
                Err(_) => self.swap_supported = false,
            }
        }
        // Never replace a file already at the name (a clock set back, an earlier run, a copy put
        // back by hand): take the next free microsecond. Names are UTC, so a daylight-saving
        // change cannot make two rotations collide either.
        let stamp = now.max(self.last_rotation.saturating_add(1));
        let (stamp, rotated) = free_rotated_path(&self.opts.dir, &self.opts.name, stamp);
        let fresh = match self.move_out(&rotated) {
            Ok(fresh) => fresh,
            Err(e) => {
                Counters::add(&self.counters.rotation_errors, 1);
                if self.rotation_retry_at.is_none() {
                    report(format_args!(
                        "cannot rotate {} to {}: {e}; writing goes on in the current file",
                        self.path.display(),
                        rotated.display()
                    ));
                }
                self.rotation_retry_at = Some(Instant::now() + Duration::from_secs(1));
                return Ok(false);
            }
        };
        self.rotation_retry_at = None;
        self.last_rotation = stamp;
        self.file = None;
        self.size = 0;
        self.confirmed = 0;
        Counters::add(&self.counters.rotations, 1);
        // The fresh file first, retention and compression after: the sooner it is there, the
        // shorter the gap a tailer can see on the rename-then-create path.
        let fresh = match fresh {
            Some(file) => Ok(file),
            None => open_active(&self.path, self.opts.mode),
        };
        // Unless this very rotation left the old file staged (moved at the next one): a
        // leftover that is merely stuck must not stop retention and compression.
        let staged_here = self.staged_leftover && !stuck;
        if !staged_here {
            self.after_rotation(&rotated);
        }
        self.file = Some(fresh?);
        self.prepare_staging();
        Ok(true)
    }

    /// Creates the file the next rotation swaps in, unless it is there. A failure is not
    /// reported: the rotation tries again, and falls back to rename-then-create.
    fn prepare_staging(&mut self) {
        if !self.swap_supported || self.staged_leftover || self.staged.is_some() {
            return;
        }
        let staging = swap::staging_path(&self.opts.dir, &self.opts.name);
        self.staged = swap::create_staging(&staging, self.opts.mode).ok();
    }

    /// Moves the active file to `rotated`. Returns the fresh active file when it was swapped in
    /// atomically ([`swap`]), or `None` after a plain rename: the caller creates it then.
    fn move_out(&mut self, rotated: &Path) -> io::Result<Option<File>> {
        let staging = swap::staging_path(&self.opts.dir, &self.opts.name);
        // Prepared at the last rotation, unless deleted since (with the directory, say).
        let prepared = self.staged.take().filter(|f| same_file(f, &staging));
        let fresh = match prepared {
            Some(f) => Some(f),
            // Something else in the way: rename-then-create this time.
            None if self.swap_supported && !self.staged_leftover => {
                swap::create_staging(&staging, self.opts.mode).ok()
            }
            None => None,
        };
        if let Some(fresh) = fresh {
            match swap::swap_in(&self.path, &staging, fresh, rotated)? {
                swap::Swap::Done(file) => return Ok(Some(file)),
                swap::Swap::Staged(file, e) => {
                    // Rotated all the same: the fresh file is active. The old one is moved to a
                    // rotated name at the next rotation (or start), and retention skips it now.
                    report(format_args!(
                        "cannot rename {} to {}: {e}; its lines stay in {} until the next rotation",
                        staging.display(),
                        rotated.display(),
                        staging.display()
                    ));
                    self.staged_leftover = true;
                    return Ok(Some(file));
                }
                swap::Swap::Unsupported => self.swap_supported = false,
            }
        }
        fs::rename(&self.path, rotated)?;
        Ok(None)
    }

    fn after_rotation(&mut self, rotated: &Path) {
        #[cfg(feature = "gzip")]
        if let Some(compressor) = &self.compressor {
            // Compression and the pruning after it happen in order on one background thread.
            if compressor.submit(rotated.to_path_buf()) {
                return;
            }
        }
        let _ = rotated;
        naming::prune_reporting(&self.opts.dir, &self.opts.name, &self.retention(), None);
    }

    fn write_sized(&mut self, batch: &[u8], max: u64) -> Result<(), SinkError> {
        let mut rest = batch;
        while !rest.is_empty() {
            let at = batch.len() - rest.len();
            let fail = |error| SinkError {
                error,
                unwritten_from: at,
            };
            let room = max.saturating_sub(self.size);
            if rest.len() as u64 <= room {
                return self.write_chunk(rest).map_err(fail);
            }
            // The longest run of whole lines that still fits.
            let fits = memchr::memrchr(b'\n', &rest[..room as usize]).map_or(0, |i| i + 1);
            if fits > 0 {
                self.write_chunk(&rest[..fits]).map_err(fail)?;
                rest = &rest[fits..];
                continue;
            }
            if self.size > 0 {
                let now = self.opts.clock.now_micros();
                if !self.rotate(now).map_err(fail)? {
                    // Rotation is failing: keep every line, past the limit.
                    return self.write_chunk(rest).map_err(fail);
                }
                continue;
            }
            // Empty file and the next line alone is larger than the limit: it goes alone.
            let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            self.write_chunk(&rest[..end]).map_err(fail)?;
            rest = &rest[end..];
        }
        Ok(())
    }
}

/// The rotated path for `stamp`, or for the first later microsecond whose name (and its `.gz`)
/// is free. Returns the stamp used with the path.
fn free_rotated_path(dir: &Path, name: &str, mut stamp: i64) -> (i64, PathBuf) {
    loop {
        let rotated = naming::rotated_name(name, stamp);
        let candidate = dir.join(&rotated);
        let gz = dir.join(format!("{rotated}{}", naming::GZ_SUFFIX));
        if !candidate.exists() && !gz.exists() {
            return (stamp, candidate);
        }
        stamp += 1;
    }
}

/// Moves a file left at the staging path to the rotated name of its last write (see
/// [`swap::settle_leftover`]).
fn settle_staged(dir: &Path, name: &str) -> io::Result<Option<PathBuf>> {
    let staging = swap::staging_path(dir, name);
    swap::settle_leftover(&staging, |mtime| free_rotated_path(dir, name, mtime).1).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot move {} out of the way: {e}", staging.display()),
        )
    })
}

impl Sink for RollingFile {
    fn write_lines(&mut self, batch: &[u8]) -> Result<(), SinkError> {
        if let Some(holder) = self.displaced {
            return Err(SinkError {
                error: displaced_error(holder),
                unwritten_from: 0,
            });
        }
        let now = self.opts.clock.now_micros();
        if now >= self.next_rotation {
            let _rotated = self.rotate(now).map_err(|error| SinkError {
                error,
                unwritten_from: 0,
            })?;
        }
        let written = match self.opts.max_bytes {
            Some(max) => self.write_sized(batch, max),
            None => self.write_chunk(batch).map_err(|error| SinkError {
                error,
                unwritten_from: 0,
            }),
        };
        // Still at its path? Looked at after every batch (an `fstat` and an `lstat`), so that
        // what goes into a file deleted underneath is at most the batches written after the
        // deletion, which `reopen_if_gone` moves to the new file.
        self.reopen_if_gone();
        written
    }

    fn recover(&mut self) -> io::Result<()> {
        create_dir(&self.opts.dir)?;
        self.relock()?;
        let file = open_active(&self.path, self.opts.mode)?;
        self.size = file.metadata()?.len();
        self.confirmed = self.size;
        self.file = Some(file);
        Ok(())
    }

    fn housekeeping(&mut self) {
        self.reopen_if_gone();
    }

    fn finish(&mut self, deadline: Instant) {
        // The prepared file is empty: nothing to keep.
        // Only if the staging path is still that file: another process writing the same log
        // may have its own rotated file there for a moment.
        if let Some(staged) = self.staged.take() {
            let staging = swap::staging_path(&self.opts.dir, &self.opts.name);
            if same_file(&staged, &staging) {
                let _ = fs::remove_file(staging);
            }
        }
        #[cfg(feature = "gzip")]
        if let Some(compressor) = self.compressor.take() {
            compressor.finish(deadline);
        }
        let _ = deadline;
    }

    fn opening_notice(&mut self) -> Option<String> {
        let bytes = self.torn.take()?;
        Some(format!(
            "the previous writer of {} stopped in the middle of a line: its last {bytes} bytes \
             were ended with a newline so that the records after them are whole",
            self.path.display()
        ))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// How far back [`end_torn_line`] looks for the start of an unfinished last line.
const TORN_SCAN: u64 = 1 << 20;

/// If the file does not end with a newline (its writer stopped mid-line: killed, or a disk that
/// filled up), appends one and returns the length of the unfinished line (at most
/// [`TORN_SCAN`] is looked at).
fn end_torn_line(file: &mut File, len: u64) -> io::Result<Option<u64>> {
    use std::os::unix::fs::FileExt;
    if len == 0 {
        return Ok(None);
    }
    let reader = &*file;
    let mut last = [0];
    reader.read_exact_at(&mut last, len - 1)?;
    if last[0] == b'\n' {
        return Ok(None);
    }
    let start = len.saturating_sub(TORN_SCAN);
    let mut tail = vec![0; (len - start) as usize];
    reader.read_exact_at(&mut tail, start)?;
    let fragment = match memchr::memrchr(b'\n', &tail) {
        Some(i) => tail.len() - i - 1,
        None => tail.len(),
    };
    // Opened for appending: this goes at the end, whatever the offset.
    file.write_all(b"\n")?;
    Ok(Some(fragment as u64))
}

fn create_dir(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "exists and is not a directory",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir_all(dir),
        Err(e) => Err(e),
    }
}

fn probe_dir(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".logwarden-probe-{}", std::process::id()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    match options.open(&probe) {
        Ok(_) => fs::remove_file(&probe),
        // Left by a crashed run with our pid: still proves we can create files here.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fs::remove_file(&probe),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot create files in it ({e})"),
        )),
    }
}

/// Opens the active file for appending, creating it with `mode`, refusing to follow a symlink
/// planted at its path (it could point at a file the service must not overwrite).
pub(crate) fn open_active(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    // Readable too: what was written into a file deleted underneath is read back (see
    // `housekeeping`).
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a symbolic link; refusing to follow it",
            );
        }
        e
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        // A FIFO or device at the log path would block or misbehave; O_NONBLOCK above keeps the
        // open itself from hanging on a FIFO.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is not a regular file",
        ));
    }
    Ok(file)
}

/// Whether the open `file` is still the one at `path`.
/// Copies `range` of `from` to the end of `to`, a megabyte at a time. Returns the bytes copied.
/// On an error `to` is cut back to its length before, so no torn line stays in it.
fn copy_range(from: &File, range: std::ops::Range<u64>, to: &mut File) -> io::Result<u64> {
    use std::os::unix::fs::FileExt as _;
    let before = to.metadata()?.len();
    let mut buf = vec![0; (range.end - range.start).min(1 << 20) as usize];
    let mut at = range.start;
    let copied = (|| {
        while at < range.end {
            let want = buf.len().min((range.end - at) as usize);
            let n = from.read_at(&mut buf[..want], at)?;
            if n == 0 {
                break;
            }
            to.write_all(&buf[..n])?;
            at += n as u64;
        }
        Ok(at - range.start)
    })();
    if copied.is_err() {
        let _ = to.set_len(before);
    }
    copied
}

/// The identity of a directory, if it is there.
fn dir_id(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether `dir` is still the directory whose identity is `id`.
fn dir_is(dir: &Path, id: Option<(u64, u64)>) -> bool {
    id.is_some() && dir_id(dir) == id
}

fn displaced_error(holder: Option<u32>) -> io::Error {
    io::Error::other(format!(
        "another process{} writes this file now",
        holder.map(|p| format!(" (pid {p})")).unwrap_or_default()
    ))
}

/// Whether `file` has no name left (deleted, while we hold it open).
fn is_unlinked(file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata().is_ok_and(|m| m.nlink() == 0)
}

fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino() && a.nlink() > 0,
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

#[cfg(test)]
mod tests;

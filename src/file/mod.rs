//! The rolling log file: size and time triggers, rename-then-reopen, retention, compression.

#[cfg(feature = "gzip")]
mod gzip;
mod naming;
mod rotation;
mod timezone;

pub use rotation::Rotation;
pub use timezone::Timezone;
pub(crate) use timezone::Zone;

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
}

/// Why opening the log failed, so the builder can name the right setting.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The directory could not be created or is not a directory.
    Dir(io::Error),
    /// The active file could not be opened (permission, symlink, not a regular file).
    File(io::Error),
}

pub(crate) struct RollingFile {
    opts: FileOptions,
    path: PathBuf,
    file: Option<File>,
    /// Bytes in the active file, counted by us: no `stat` per write.
    size: u64,
    next_rotation: i64,
    last_rotation: i64,
    counters: Arc<Counters>,
    /// Set while renames fail: no new attempt before this time, so a directory that refuses
    /// renames costs one syscall a second, not one per batch.
    rotation_retry_at: Option<Instant>,
    /// Set while the active file cannot be reopened, so that it is reported once.
    reopen_failing: bool,
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
        let file = open_active(&path, opts.mode).map_err(OpenError::File)?;
        let meta = file.metadata().map_err(OpenError::File)?;
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
            size: meta.len(),
            path,
            file: Some(file),
            next_rotation,
            last_rotation: i64::MIN,
            counters,
            rotation_retry_at: None,
            reopen_failing: false,
            opts,
            #[cfg(feature = "gzip")]
            compressor: None,
        };
        #[cfg(feature = "gzip")]
        if file.opts.gzip {
            file.compressor = Some(gzip::Compressor::new(
                file.opts.dir.clone(),
                file.opts.name.clone(),
                file.retention(),
                file.opts.mode,
            ));
        }
        Ok(file)
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

    /// Renames the active file out of the way and opens a fresh one. Returns whether it rotated:
    /// a failed rename is counted and reported once, and writing goes on in the current file
    /// (nothing is lost, the file grows past its limit) until a retry a second later works.
    fn rotate(&mut self, now: i64) -> io::Result<bool> {
        self.next_rotation = self.opts.rotation.next_boundary(now, &self.opts.zone);
        if self.size == 0 {
            return Ok(false);
        }
        if self.rotation_retry_at.is_some_and(|at| Instant::now() < at) {
            return Ok(false);
        }
        // Never replace a file already at the name (a clock set back, an earlier run, a copy put
        // back by hand): take the next free microsecond. Names are UTC, so a daylight-saving
        // change cannot make two rotations collide either.
        let mut stamp = now.max(self.last_rotation.saturating_add(1));
        let rotated = loop {
            let name = naming::rotated_name(&self.opts.name, stamp);
            let candidate = self.opts.dir.join(&name);
            let gz = self.opts.dir.join(format!("{name}{}", naming::GZ_SUFFIX));
            if !candidate.exists() && !gz.exists() {
                break candidate;
            }
            stamp += 1;
        };
        if let Err(e) = fs::rename(&self.path, &rotated) {
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
        self.rotation_retry_at = None;
        self.last_rotation = stamp;
        self.file = None;
        self.size = 0;
        Counters::add(&self.counters.rotations, 1);
        self.after_rotation(&rotated);
        let file = open_active(&self.path, self.opts.mode)?;
        self.file = Some(file);
        Ok(true)
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
        prune_reporting(&self.opts.dir, &self.opts.name, &self.retention(), None);
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

fn prune_reporting(dir: &Path, name: &str, retention: &naming::Retention, settled: Option<i64>) {
    if let Err(e) = naming::prune(dir, name, retention, settled) {
        report(format_args!(
            "cannot delete old rotated files of {}: {e}",
            dir.join(name).display()
        ));
    }
}

impl Sink for RollingFile {
    fn write_lines(&mut self, batch: &[u8]) -> Result<(), SinkError> {
        let now = self.opts.clock.now_micros();
        if now >= self.next_rotation {
            let _rotated = self.rotate(now).map_err(|error| SinkError {
                error,
                unwritten_from: 0,
            })?;
        }
        match self.opts.max_bytes {
            Some(max) => self.write_sized(batch, max),
            None => self.write_chunk(batch).map_err(|error| SinkError {
                error,
                unwritten_from: 0,
            }),
        }
    }

    fn recover(&mut self) -> io::Result<()> {
        create_dir(&self.opts.dir)?;
        let file = open_active(&self.path, self.opts.mode)?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    fn housekeeping(&mut self) {
        // The active file deleted or replaced underneath (an operator's `rm`, a foreign rotation
        // tool): reopen by name so lines go where tailers look, instead of into an unlinked inode.
        let Some(file) = &self.file else { return };
        if !same_file(file, &self.path) {
            match open_active_after_dir(&self.opts.dir, &self.path, self.opts.mode) {
                Ok(f) => {
                    self.size = f.metadata().map_or(0, |m| m.len());
                    self.file = Some(f);
                    self.reopen_failing = false;
                    report(format_args!(
                        "{} was removed or replaced; reopened it",
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
    }

    fn finish(&mut self, deadline: Instant) {
        #[cfg(feature = "gzip")]
        if let Some(compressor) = self.compressor.take() {
            compressor.finish(deadline);
        }
        let _ = deadline;
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
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

fn open_active_after_dir(dir: &Path, path: &Path, mode: u32) -> io::Result<File> {
    create_dir(dir)?;
    open_active(path, mode)
}

/// Opens the active file for appending, creating it with `mode`, refusing to follow a symlink
/// planted at its path (it could point at a file the service must not overwrite).
pub(crate) fn open_active(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
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

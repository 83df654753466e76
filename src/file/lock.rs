//! One writer per active file: an advisory lock on a hidden file beside it (`.<active>.lock`),
//! held for the life of the rolling file. The kernel releases it when the process dies, so a
//! crash never leaves a stale lock; the file keeps the holder's pid for the error a second writer
//! gets, and is removed when the writer lets go.

use std::fs::File;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Held while it lives; removes its file when dropped.
#[derive(Debug)]
pub(crate) struct WriterLock {
    held: Option<(File, PathBuf)>,
}

impl WriterLock {
    /// Whether the file locked is still the one at its path (not deleted with its directory).
    /// Without a lock (a file system that has none), there is nothing to lose.
    pub(crate) fn is_current(&self) -> bool {
        match &self.held {
            None => true,
            Some((file, path)) => same_inode(file, path),
        }
    }
}

fn same_inode(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // Removed while still locked, then closed: a writer that opened the old file in between
        // finds it no longer at the path (see `acquire`) and starts again.
        if let Some((file, path)) = self.held.take() {
            // Only its own file: after the directory was deleted and the lock taken anew, the
            // file at the path is the new lock's.
            if same_inode(&file, &path) {
                let _ = std::fs::remove_file(&path);
            }
            drop(file);
        }
    }
}

/// Why the lock was not taken.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Another writer holds it: its pid, when the lock file says.
    Held(Option<u32>),
    /// The file system cannot lock.
    Unsupported(io::Error),
    Io(io::Error),
}

/// The lock file of `active` in `dir`: hidden, so that `*.log` and `<active>*` globs (tailers,
/// retention) never see it.
pub(crate) fn lock_path(dir: &Path, active: &str) -> PathBuf {
    dir.join(format!(".{active}.lock"))
}

/// Takes the lock of `active`, waiting up to `wait` for a holder to let go (a process stopping
/// while its successor starts). Where the file system has no locks, there is none, and that is
/// said once.
pub(crate) fn acquire(
    dir: &Path,
    active: &str,
    mode: u32,
    wait: Duration,
) -> Result<WriterLock, LockError> {
    let until = Instant::now() + wait.min(MAX_WAIT);
    loop {
        match try_acquire(dir, active, mode) {
            // Our own process: nothing to wait for.
            Err(LockError::Held(Some(pid))) if pid == std::process::id() => {
                return Err(LockError::Held(Some(pid)))
            }
            Err(LockError::Held(_)) if Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(LockError::Unsupported(e)) => {
                crate::diag::report(format_args!(
                    "cannot lock {}: {e}; a second writer of this file will not be refused",
                    lock_path(dir, active).display()
                ));
                let _ = std::fs::remove_file(lock_path(dir, active));
                return Ok(WriterLock { held: None });
            }
            other => return other,
        }
    }
}

/// The longest a start waits for the file's previous writer to let go.
const MAX_WAIT: Duration = Duration::from_secs(10);

#[cfg(any(target_os = "linux", target_os = "android"))]
fn try_acquire(dir: &Path, active: &str, mode: u32) -> Result<WriterLock, LockError> {
    use std::io::Read as _;
    use std::os::unix::fs::{FileExt, OpenOptionsExt};

    use rustix::fs::{flock, FlockOperation};

    use std::os::unix::fs::MetadataExt;

    let path = lock_path(dir, active);
    // A lock taken on a file its holder removed a moment before is no lock: taken again, until
    // the file locked is the one at the path.
    for _ in 0..100 {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(LockError::Io)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut text = String::new();
                let _ = (&mut file).take(32).read_to_string(&mut text);
                return Err(LockError::Held(text.trim().parse().ok()));
            }
            // A file system without `flock` (some network and FUSE ones).
            Err(e)
                if [
                    rustix::io::Errno::NOLCK,
                    rustix::io::Errno::OPNOTSUPP,
                    rustix::io::Errno::NOSYS,
                ]
                .contains(&e) =>
            {
                return Err(LockError::Unsupported(e.into()))
            }
            Err(e) => return Err(LockError::Io(e.into())),
        }
        let locked = file.metadata().map_err(LockError::Io)?;
        match std::fs::symlink_metadata(&path) {
            Ok(at_path) if at_path.dev() == locked.dev() && at_path.ino() == locked.ino() => {}
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(LockError::Io(e)),
        }
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.write_all_at(pid.as_bytes(), 0))
            .map_err(LockError::Io)?;
        return Ok(WriterLock {
            held: Some((file, path)),
        });
    }
    Err(LockError::Io(io::Error::other(
        "the lock file kept being replaced while it was taken",
    )))
}

/// Elsewhere there is no lock (only Linux is tested).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn try_acquire(_dir: &Path, _active: &str, _mode: u32) -> Result<WriterLock, LockError> {
    Ok(WriterLock { held: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "a.log", 0o640, Duration::ZERO).unwrap();
        let path = lock_path(dir.path(), "a.log");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        match acquire(dir.path(), "a.log", 0o640, Duration::ZERO) {
            Err(LockError::Held(pid)) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("a second writer was not refused: {other:?}"),
        }
        // Another file in the same directory is another lock.
        let _other = acquire(dir.path(), "b.log", 0o640, Duration::ZERO).unwrap();
        drop(first);
        assert!(!path.exists(), "the lock file is removed with the lock");
        acquire(dir.path(), "a.log", 0o640, Duration::ZERO).expect("free once the holder lets go");
    }
}

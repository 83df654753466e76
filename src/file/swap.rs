//! Rotation without a moment when the active file is missing.
//!
//! Rename-then-create leaves the active path empty between the two calls, and a tailer that looks
//! then reads the old file twice (DESIGN.md, "Why does rotation swap the file in with
//! `renameat2`?", has what rsyslog did).
//!
//! On Linux the fresh file waits under a hidden staging name (`.<active>.next`, which `*.log`
//! and `<active>*` globs do not match), is swapped with the active file in one
//! `renameat2(RENAME_EXCHANGE)`, and the old file then moves from the staging name to its
//! rotated name. Every look at the active path finds a file, and the old file appears under its
//! rotated name only after the active path already holds the fresh one. Where the kernel or the
//! filesystem cannot exchange, the caller falls back to rename-then-create.
//!
//! The caller creates the next fresh file right after a rotation, not just before the next one:
//! creating it is a directory event too, which must not land next to the swap.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Where a rotation prepares the fresh file, and where the old one waits between the exchange
/// and its rename.
pub(crate) fn staging_path(dir: &Path, active: &str) -> PathBuf {
    dir.join(format!(".{active}.next"))
}

/// What [`swap_in_fresh`] did.
#[derive(Debug)]
pub(crate) enum Swap {
    /// The fresh file is at the active path and the old one at its rotated path.
    Done(File),
    /// The fresh file is at the active path, but the old one could not be renamed and is still
    /// at the staging path.
    Staged(File, io::Error),
    /// The kernel or the filesystem cannot exchange two names: nothing was changed.
    Unsupported,
}

/// Exchanges `fresh`, the empty file at `staging` (see [`create_staging`]), with `active`, then
/// renames the old file from `staging` to `rotated`.
///
/// # Errors
/// If the exchange fails for another reason than lack of support; the active file is then
/// untouched and the staging file removed.
pub(crate) fn swap_in(
    active: &Path,
    staging: &Path,
    fresh: File,
    rotated: &Path,
) -> io::Result<Swap> {
    if let Err(e) = exchange(active, staging) {
        let _ = fs::remove_file(staging);
        return match e.raw_os_error() {
            Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => Ok(Swap::Unsupported),
            _ => Err(e),
        };
    }
    match fs::rename(staging, rotated) {
        Ok(()) => Ok(Swap::Done(fresh)),
        Err(e) => Ok(Swap::Staged(fresh, e)),
    }
}

/// A file left at the staging path by a crash or a failed rename: removed if empty (it never
/// became active), otherwise renamed to `rotated_for(its mtime in microseconds)`, where it
/// belongs.
///
/// # Errors
/// If the staging path is taken by something else than a regular file, or cannot be freed.
pub(crate) fn settle_leftover(
    staging: &Path,
    rotated_for: impl FnOnce(i64) -> PathBuf,
) -> io::Result<Option<PathBuf>> {
    let meta = match fs::symlink_metadata(staging) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "exists and is not a regular file",
        ));
    }
    if meta.len() == 0 {
        return fs::remove_file(staging).map(|()| None);
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_micros() as i64);
    let rotated = rotated_for(mtime);
    fs::rename(staging, &rotated)?;
    Ok(Some(rotated))
}

/// Creates the empty file the next rotation swaps in.
pub(crate) fn create_staging(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    // `create_new` (O_EXCL) never follows a symlink planted at the path.
    // Readable like the active file it becomes (see `RollingFile::housekeeping`).
    options.read(true).append(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode).custom_flags(libc::O_CLOEXEC);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    Ok(renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)?)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_file_goes_to_its_rotated_name_and_a_fresh_one_takes_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let active = dir.path().join("orders.log");
        let staging = staging_path(dir.path(), "orders.log");
        let rotated = dir.path().join("orders.log.1");
        fs::write(&active, "old\n").unwrap();
        let fresh = match swap_in(
            &active,
            &staging,
            create_staging(&staging, 0o640).unwrap(),
            &rotated,
        )
        .unwrap()
        {
            Swap::Done(f) => f,
            other => panic!("{other:?}"),
        };
        use std::io::Write;
        (&fresh).write_all(b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&rotated).unwrap(), "old\n");
        assert_eq!(fs::read_to_string(&active).unwrap(), "new\n");
        assert!(!staging.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&active).unwrap().permissions().mode() & 0o777;
            // The umask may take bits away, never add them.
            assert_eq!(mode & !0o640, 0, "{mode:o}");
        }
    }

    #[test]
    fn a_staged_file_that_cannot_be_renamed_stays_staged_and_the_fresh_one_is_active() {
        let dir = tempfile::tempdir().unwrap();
        let active = dir.path().join("orders.log");
        let staging = staging_path(dir.path(), "orders.log");
        fs::write(&active, "old\n").unwrap();
        // A rotated path in a directory that does not exist: the last rename fails.
        let rotated = dir.path().join("missing").join("orders.log.1");
        match swap_in(
            &active,
            &staging,
            create_staging(&staging, 0o640).unwrap(),
            &rotated,
        )
        .unwrap()
        {
            Swap::Staged(_, e) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read_to_string(&staging).unwrap(), "old\n");
        assert_eq!(fs::read_to_string(&active).unwrap(), "");
    }

    #[test]
    fn a_failed_exchange_leaves_everything_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        // No active file: the exchange fails with ENOENT.
        let active = dir.path().join("orders.log");
        let staging = staging_path(dir.path(), "orders.log");
        let rotated = dir.path().join("orders.log.1");
        let e = swap_in(
            &active,
            &staging,
            create_staging(&staging, 0o640).unwrap(),
            &rotated,
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(!staging.exists() && !active.exists() && !rotated.exists());
    }

    #[test]
    fn leftovers_are_removed_when_empty_and_rotated_when_not() {
        let dir = tempfile::tempdir().unwrap();
        let staging = staging_path(dir.path(), "orders.log");
        let rotated = dir.path().join("orders.log.1");
        settle_leftover(&staging, |_| unreachable!()).unwrap();

        File::create(&staging).unwrap();
        settle_leftover(&staging, |_| unreachable!()).unwrap();
        assert!(!staging.exists());

        fs::write(&staging, "lines of a crashed rotation\n").unwrap();
        let mut stamp = 0;
        settle_leftover(&staging, |mtime| {
            stamp = mtime;
            rotated.clone()
        })
        .unwrap();
        assert!(!staging.exists());
        assert_eq!(
            fs::read_to_string(&rotated).unwrap(),
            "lines of a crashed rotation\n"
        );
        assert!(stamp > 1_700_000_000_000_000, "mtime in micros: {stamp}");

        fs::create_dir(&staging).unwrap();
        assert!(settle_leftover(&staging, |_| unreachable!()).is_err());
    }
}

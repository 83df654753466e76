//! Names of rotated files, and retention: which of them to delete.
//!
//! A rotated file is named `<active name>.<YYYYMMDDTHHMMSS.ffffffZ>` (plus `.gz` once
//! compressed): the UTC time it was rotated out. The names sort chronologically as text, tailers
//! watching `*.log` do not pick them up, and retention recognises them by parsing, never by
//! prefix, so it cannot delete a file it did not create.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::timestamp::{parse_compact, push_compact};

pub(crate) const GZ_SUFFIX: &str = ".gz";

/// `<active>.<stamp>` for the given instant.
pub(crate) fn rotated_name(active: &str, micros: i64) -> String {
    let mut stamp = Vec::with_capacity(23);
    push_compact(&mut stamp, micros);
    // `push_compact` writes ASCII only.
    format!("{active}.{}", String::from_utf8_lossy(&stamp))
}

/// If `file_name` is one of ours for `active`, its rotation time and whether it is compressed.
pub(crate) fn parse_rotated(active: &str, file_name: &str) -> Option<(i64, bool)> {
    let rest = file_name.strip_prefix(active)?.strip_prefix('.')?;
    let (stamp, gz) = match rest.strip_suffix(GZ_SUFFIX) {
        Some(stamp) => (stamp, true),
        None => (rest, false),
    };
    parse_compact(stamp).map(|micros| (micros, gz))
}

/// One rotated file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rotated {
    pub(crate) micros: i64,
    pub(crate) gz: bool,
    pub(crate) path: PathBuf,
}

/// The rotated files of `active` in `dir`, oldest first.
pub(crate) fn list_rotated(dir: &Path, active: &str) -> io::Result<Vec<Rotated>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((micros, gz)) = parse_rotated(active, name) {
            // Only regular files: a directory or symlink with a matching name is not ours.
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                found.push(Rotated {
                    micros,
                    gz,
                    path: entry.path(),
                });
            }
        }
    }
    found.sort_by(|a, b| a.micros.cmp(&b.micros).then(a.gz.cmp(&b.gz)));
    Ok(found)
}

/// Deletes rotated files beyond the newest `keep` rotations (a rotation and its `.gz` count as
/// one). Returns the first error, after trying every file.
pub(crate) fn prune(dir: &Path, active: &str, keep: usize) -> io::Result<()> {
    let rotated = list_rotated(dir, active)?;
    let mut stamps: Vec<i64> = rotated.iter().map(|r| r.micros).collect();
    stamps.dedup();
    let Some(&oldest_kept) = stamps.len().checked_sub(keep).and_then(|i| stamps.get(i)) else {
        if keep == 0 {
            return remove_all(rotated.iter());
        }
        return Ok(());
    };
    remove_all(rotated.iter().filter(|r| r.micros < oldest_kept))
}

fn remove_all<'a>(files: impl Iterator<Item = &'a Rotated>) -> io::Result<()> {
    let mut first_error = None;
    for r in files {
        match fs::remove_file(&r.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_strictly() {
        let name = rotated_name("orders.log", 1_700_000_000_123_456);
        assert_eq!(name, "orders.log.20231114T221320.123456Z");
        assert_eq!(
            parse_rotated("orders.log", &name),
            Some((1_700_000_000_123_456, false))
        );
        assert_eq!(
            parse_rotated("orders.log", &format!("{name}.gz")),
            Some((1_700_000_000_123_456, true))
        );
        for foreign in [
            "orders.log",
            "orders.log.bak",
            "orders.log.1",
            "orders.logx.20231114T221320.123456Z",
            "orders.log.20231114T221320.123456Z.old",
            "orders.log.20231114T221320.123456Z.gz.tmp",
            "other.log.20231114T221320.123456Z",
        ] {
            assert_eq!(parse_rotated("orders.log", foreign), None, "{foreign}");
        }
    }
}

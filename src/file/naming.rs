//! Names of rotated files, and retention: which of them to delete.
//!
//! A rotated file is named `<active name>.<YYYYMMDDTHHMMSS.ffffffZ>` (plus `.gz` once
//! compressed): the UTC time it was rotated out, whatever [`Timezone`](crate::file::Timezone)
//! rotation follows. Retention recognises the names by parsing, never by prefix, so it cannot
//! delete a file it did not create (DESIGN.md has why, for both).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::diag::report;
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
    pub(crate) bytes: u64,
}

/// Which rotated files to keep: the newest `keep` rotations, fewer if their total size would
/// exceed `max_total_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Retention {
    pub(crate) keep: usize,
    pub(crate) max_total_bytes: Option<u64>,
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
                // Gone meanwhile (pruned by a previous run's compressor): nothing to count.
                let Ok(meta) = entry.metadata() else { continue };
                found.push(Rotated {
                    micros,
                    gz,
                    path: entry.path(),
                    bytes: meta.len(),
                });
            }
        }
    }
    found.sort_by(|a, b| a.micros.cmp(&b.micros).then(a.gz.cmp(&b.gz)));
    Ok(found)
}

/// Deletes the oldest rotated files beyond the newest `keep` rotations (a rotation and its `.gz`
/// count as one), then more of the oldest until the rest total at most `max_total_bytes`.
/// Returns the first error, after trying every file.
///
/// Rotations after `settled` (still queued for compression) are left out, neither counted nor
/// deleted: counted at their uncompressed size they would push out compressed files that fit.
/// They are pruned after their own compression.
pub(crate) fn prune(
    dir: &Path,
    active: &str,
    retention: &Retention,
    settled: Option<i64>,
) -> io::Result<()> {
    let mut rotated = list_rotated(dir, active)?;
    if let Some(settled) = settled {
        rotated.retain(|r| r.micros <= settled);
    }
    // Each rotation's stamp and size, oldest first.
    let mut rotations: Vec<(i64, u64)> = Vec::new();
    for r in &rotated {
        match rotations.last_mut() {
            Some((micros, bytes)) if *micros == r.micros => *bytes += r.bytes,
            _ => rotations.push((r.micros, r.bytes)),
        }
    }
    let mut first_kept = rotations.len().saturating_sub(retention.keep);
    if let Some(cap) = retention.max_total_bytes {
        let mut total: u64 = rotations[first_kept..].iter().map(|&(_, b)| b).sum();
        while total > cap {
            total -= rotations[first_kept].1;
            first_kept += 1;
        }
    }
    match rotations.get(first_kept) {
        Some(&(oldest_kept, _)) => remove_all(rotated.iter().filter(|r| r.micros < oldest_kept)),
        None => remove_all(rotated.iter()),
    }
}

/// [`prune`], with a failure reported on stderr: the caller (a rotation, a compression) has no
/// one to return it to, and goes on.
pub(crate) fn prune_reporting(dir: &Path, name: &str, retention: &Retention, settled: Option<i64>) {
    if let Err(e) = prune(dir, name, retention, settled) {
        report(format_args!(
            "cannot delete old rotated files of {}: {e}",
            dir.join(name).display()
        ));
    }
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

    /// Writes rotated files of the given sizes, one second apart, and returns the directory.
    fn rotated_files(sizes: &[usize], gz_of_first: Option<usize>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (i, &size) in sizes.iter().enumerate() {
            let name = rotated_name("a.log", 1_700_000_000_000_000 + i as i64 * 1_000_000);
            fs::write(dir.path().join(&name), vec![b'x'; size]).unwrap();
            if let (0, Some(gz)) = (i, gz_of_first) {
                fs::write(
                    dir.path().join(format!("{name}{GZ_SUFFIX}")),
                    vec![b'z'; gz],
                )
                .unwrap();
            }
        }
        fs::write(dir.path().join("a.log"), vec![b'x'; 10_000]).unwrap();
        dir
    }

    fn kept(dir: &Path) -> Vec<u64> {
        list_rotated(dir, "a.log")
            .unwrap()
            .iter()
            .map(|r| r.bytes)
            .collect()
    }

    #[test]
    fn the_size_cap_deletes_the_oldest_first_after_the_count_limit() {
        let dir = rotated_files(&[100, 200, 300, 400], None);
        let retention = |keep, max_total_bytes| Retention {
            keep,
            max_total_bytes,
        };
        // Count only: the newest three.
        prune(dir.path(), "a.log", &retention(3, None), None).unwrap();
        assert_eq!(kept(dir.path()), [200, 300, 400]);
        // Size: 200+300+400 = 900 > 800, so the oldest goes; 700 fits.
        prune(dir.path(), "a.log", &retention(3, Some(800)), None).unwrap();
        assert_eq!(kept(dir.path()), [300, 400]);
        // Exactly at the cap stays.
        prune(dir.path(), "a.log", &retention(3, Some(700)), None).unwrap();
        assert_eq!(kept(dir.path()), [300, 400]);
        // Smaller than the newest file: none left, the active file untouched.
        prune(dir.path(), "a.log", &retention(3, Some(399)), None).unwrap();
        assert_eq!(kept(dir.path()), Vec::<u64>::new());
        assert_eq!(
            fs::metadata(dir.path().join("a.log")).unwrap().len(),
            10_000
        );
    }

    #[test]
    fn a_rotation_and_its_gz_count_together_against_the_cap() {
        // A crash between writing the .gz and removing the original leaves both: 100 + 50.
        let dir = rotated_files(&[100, 200], Some(50));
        let retention = Retention {
            keep: 10,
            max_total_bytes: Some(349),
        };
        prune(dir.path(), "a.log", &retention, None).unwrap();
        assert_eq!(kept(dir.path()), [200]);
    }

    #[test]
    fn rotations_still_queued_for_compression_are_neither_counted_nor_deleted() {
        let dir = rotated_files(&[100, 200, 300, 400], None);
        let retention = Retention {
            keep: 1,
            max_total_bytes: Some(250),
        };
        // Only the first two are settled: the second is kept (the newest settled one, 200
        // bytes), the first goes, the two queued ones stay whatever their size.
        let second = list_rotated(dir.path(), "a.log").unwrap()[1].micros;
        prune(dir.path(), "a.log", &retention, Some(second)).unwrap();
        assert_eq!(kept(dir.path()), [200, 300, 400]);
    }

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

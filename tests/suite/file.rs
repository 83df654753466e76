//! The rolling file through the public API: rotation by size and time, exactness under many
//! threads, retention, foreign files, permissions, deletion underneath.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use crate::support;
use crate::support::read_records;

/// The rotated files of `active`, oldest first, then the active file.
fn log_files(dir: &Path, active: &str) -> Vec<PathBuf> {
    let mut files = support::rotated_files(dir, active);
    let active = dir.join(active);
    if active.exists() {
        files.push(active);
    }
    files
}

/// The messages of each file, in order.
fn messages_per_file(files: &[PathBuf]) -> Vec<Vec<String>> {
    files
        .iter()
        .map(|f| {
            read_records(f)
                .iter()
                .map(|r| r["message"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

/// Builds the layer (without the global `log` bridge) and a dispatcher for it.
fn start_logging(builder: logwarden::Builder) -> (Dispatch, logwarden::Guard) {
    let (layer, guard) = builder.capture_log(false).build().unwrap();
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        guard,
    )
}

#[test]
fn eight_threads_every_line_once_in_order_across_many_rotations() {
    const THREADS: u64 = 8;
    const LINES: u64 = 50_000;
    const MAX: u64 = 256 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("orders")
            .dir(dir.path())
            .max_bytes(MAX)
            .keep(100_000),
    );
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let dispatch = dispatch.clone();
            thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let span = tracing::info_span!("worker", thread = t);
                    let _e = span.enter();
                    for seq in 0..LINES {
                        tracing::info!(seq, pad = "some payload to make lines longer", "line");
                    }
                })
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(guard.flush());

    let files = log_files(dir.path(), "orders.log");
    assert!(
        files.len() > 20,
        "expected many rotations, got {} files",
        files.len()
    );
    let mut next = vec![0u64; THREADS as usize];
    for f in &files {
        let size = fs::metadata(f).unwrap().len();
        assert!(
            size <= MAX,
            "{} is {size} bytes, over the {MAX} limit",
            f.display()
        );
        for r in read_records(f) {
            let t = r["thread"].as_u64().unwrap() as usize;
            let seq = r["seq"].as_u64().unwrap();
            // In order per thread, no gap, no duplicate: every line exactly once.
            assert_eq!(seq, next[t], "thread {t} in {}", f.display());
            next[t] += 1;
        }
    }
    assert_eq!(next, vec![LINES; THREADS as usize]);
    let stats = guard.stats();
    assert_eq!(stats.rotations, files.len() as u64 - 1);
    assert_eq!(
        (stats.lines_dropped, stats.lines_lost, stats.write_errors),
        (0, 0, 0)
    );
}

#[test]
fn retention_keeps_exactly_keep_rotated_files_and_never_touches_foreign_ones() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = [
        "orders.log.bak",
        "orders.log.1",
        "orders.log.20200101T000000.000000Z.old",
        "orders.log.20200101T000000.000000Z.gz.tmp",
        "orders.logger",
        "other.log.20200101T000000.000000Z",
    ];
    for name in foreign {
        fs::write(dir.path().join(name), name).unwrap();
    }
    // A directory with one of our names is not ours to delete either.
    fs::create_dir(dir.path().join("orders.log.20000101T000000.000000Z")).unwrap();

    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("orders")
            .dir(dir.path())
            .max_bytes(4096)
            .keep(3),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..2_000 {
            tracing::info!(seq, "filling");
        }
    });
    assert!(guard.flush());
    assert!(guard.stats().rotations >= 10, "{:?}", guard.stats());

    let rotated = log_files(dir.path(), "orders.log")
        .into_iter()
        .filter(|p| p.is_file() && p.file_name().unwrap() != "orders.log")
        .count();
    assert_eq!(rotated, 3);
    for name in foreign {
        assert_eq!(fs::read_to_string(dir.path().join(name)).unwrap(), name);
    }
    assert!(dir
        .path()
        .join("orders.log.20000101T000000.000000Z")
        .is_dir());
    // The newest lines survive: the last record is the last one logged.
    let last = read_records(&dir.path().join("orders.log")).pop().unwrap();
    assert_eq!(last["seq"], 1_999);
}

#[cfg(unix)]
#[test]
fn a_symlink_named_like_a_rotated_file_is_neither_counted_nor_deleted() {
    // Retention deletes only regular files it could have made: a symlink with a rotated file's
    // name, planted to make the writer delete or count something else, is left as it is.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious");
    fs::write(&target, "not a log\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    // One older than every rotation (pruned first were it counted), one newer (kept first).
    let links = [
        dir.path().join("orders.log.20000101T000000.000000Z"),
        dir.path().join("orders.log.29991231T235959.999999Z"),
    ];
    for link in &links {
        std::os::unix::fs::symlink(&target, link).unwrap();
    }

    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("orders")
            .dir(dir.path())
            .max_bytes(4096)
            .keep(3),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..2_000 {
            tracing::info!(seq, "filling");
        }
    });
    assert!(guard.flush());
    assert!(guard.stats().rotations >= 10, "{:?}", guard.stats());

    let regular = support::rotated_files(dir.path(), "orders.log")
        .into_iter()
        .filter(|p| fs::symlink_metadata(p).unwrap().file_type().is_file())
        .count();
    assert_eq!(regular, 3, "the links took the place of rotated files");
    for link in &links {
        let meta = fs::symlink_metadata(link)
            .unwrap_or_else(|e| panic!("{} was deleted: {e}", link.display()));
        assert!(meta.file_type().is_symlink(), "{}", link.display());
        assert_eq!(fs::read_link(link).unwrap(), target);
    }
    assert_eq!(fs::read_to_string(&target).unwrap(), "not a log\n");
}

#[test]
fn a_line_larger_than_the_limit_goes_alone_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("big")
            .dir(dir.path())
            .max_bytes(1024)
            .keep(10),
    );
    let huge = "x".repeat(5_000);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("before");
        assert!(guard.flush());
        tracing::info!(huge = huge.as_str(), "huge");
        assert!(guard.flush());
        tracing::info!("after");
    });
    assert!(guard.flush());
    let files = log_files(dir.path(), "big.log");
    let messages = messages_per_file(&files);
    assert_eq!(messages, vec![vec!["before"], vec!["huge"], vec!["after"]]);
    assert_eq!(
        read_records(&files[1])[0]["huge"].as_str().unwrap().len(),
        5_000
    );
}

#[test]
fn hourly_rotation_follows_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    // 2026-01-01T10:59:59Z
    let start = UNIX_EPOCH + Duration::from_secs(1_767_265_199);
    let clock = logwarden::testing::ManualClock::new(start);
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("clocked")
            .dir(dir.path())
            .max_bytes(None)
            .rotation(logwarden::file::Rotation::HOURLY)
            .keep(10)
            .clock(clock.clone()),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("ten fifty-nine");
        assert!(guard.flush());
        clock.advance(Duration::from_secs(2)); // 11:00:01
        tracing::info!("eleven");
        tracing::info!("still eleven");
        assert!(guard.flush());
        clock.advance(Duration::from_secs(30 * 60)); // 11:30:01, same hour
        tracing::info!("half past");
        assert!(guard.flush());
        clock.advance(Duration::from_secs(3 * 3600)); // 14:30:01, skipped hours
        tracing::info!("two thirty");
    });
    assert!(guard.flush());

    let files = log_files(dir.path(), "clocked.log");
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "clocked.log.20260101T110001.000000Z",
            "clocked.log.20260101T143001.000000Z",
            "clocked.log"
        ]
    );
    let messages = messages_per_file(&files);
    assert_eq!(
        messages,
        vec![
            vec!["ten fifty-nine"],
            vec!["eleven", "still eleven", "half past"],
            vec!["two thirty"]
        ]
    );
    // Record timestamps follow the same clock.
    assert_eq!(
        read_records(&files[2])[0]["timestamp"],
        "2026-01-01T14:30:01.000000Z"
    );
}

#[test]
fn size_and_time_triggers_combine() {
    let dir = tempfile::tempdir().unwrap();
    let clock =
        logwarden::testing::ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_767_225_600)); // midnight
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("both")
            .dir(dir.path())
            .max_bytes(2048)
            .rotation(logwarden::file::Rotation::DAILY)
            .keep(100)
            .clock(clock.clone()),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..40 {
            tracing::info!(seq, "day one");
        }
        assert!(guard.flush());
        clock.advance(Duration::from_secs(86_400));
        tracing::info!(seq = 40, "day two");
    });
    assert!(guard.flush());
    let files = log_files(dir.path(), "both.log");
    assert!(
        files.len() >= 4,
        "size rotations on day one plus the daily one: {files:?}"
    );
    let active = read_records(files.last().unwrap());
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["message"], "day two");
    let all: Vec<u64> = files
        .iter()
        .flat_map(|f| read_records(f))
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(all, (0..=40).collect::<Vec<_>>());
}

#[cfg(unix)]
#[test]
fn files_are_created_0640_by_default_and_0600_on_request() {
    use std::os::unix::fs::PermissionsExt;
    for (mode, expected) in [(None, 0o640), (Some(0o600), 0o600)] {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = logwarden::builder()
            .service("perm")
            .dir(dir.path())
            .max_bytes(512)
            .capture_log(false);
        if let Some(m) = mode {
            builder = builder.file_mode(m);
        }
        let (dispatch, guard) = start_logging(builder);
        tracing::dispatcher::with_default(&dispatch, || {
            for seq in 0..20 {
                tracing::info!(seq, "rotate me");
            }
        });
        assert!(guard.flush());
        let files = log_files(dir.path(), "perm.log");
        assert!(files.len() > 1);
        for f in files {
            let got = fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            // The umask can only remove bits; it never adds group or other access.
            assert_eq!(got & !expected, 0, "{} has mode {got:o}", f.display());
            assert_eq!(got & 0o600, 0o600, "{} has mode {got:o}", f.display());
            if let Some(umask) = umask() {
                assert_eq!(
                    got,
                    expected & !umask,
                    "{} has mode {got:o} under the umask {umask:03o}",
                    f.display()
                );
            }
        }
    }
}

/// The process's umask, which the kernel takes from the mode a file is created with; `None`
/// where `/proc` does not say (it cannot be read without setting it).
#[cfg(unix)]
fn umask() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

#[test]
fn a_deleted_active_file_and_directory_are_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("nested").join("logs");
    let (dispatch, guard) = start_logging(logwarden::builder().service("gone").dir(&logs));
    let path = guard.log_path().unwrap().to_path_buf();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("first");
        assert!(guard.flush());
        fs::remove_file(&path).unwrap();
        // The writer checks the file's identity about once a second, on its own schedule.
        thread::sleep(Duration::from_millis(1_200));
        tracing::info!("after the file was deleted");
        assert!(guard.flush());
        assert_eq!(
            read_records(&path).len(),
            1,
            "the line went to the unlinked file"
        );

        fs::remove_dir_all(&logs).unwrap();
        thread::sleep(Duration::from_millis(1_200));
        tracing::info!("after the directory was deleted");
    });
    assert!(guard.flush());
    let messages: Vec<Value> = read_records(&path)
        .into_iter()
        .map(|r| r["message"].clone())
        .collect();
    assert_eq!(messages, ["after the directory was deleted"]);
    assert_eq!(guard.stats().lines_lost, 0);
}

#[test]
fn guard_drop_writes_a_large_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("backlog")
            .dir(dir.path())
            .max_bytes(None)
            .buffer_bytes(256 << 20),
    );
    let path = guard.log_path().unwrap().to_path_buf();
    const N: u64 = 200_000;
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..N {
            tracing::info!(seq, "backlog");
        }
    });
    drop(guard);
    let seqs: Vec<u64> = read_records(&path)
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len() as u64, N);
    assert!(seqs.iter().copied().eq(0..N));
}

#[cfg(feature = "gzip")]
#[test]
fn rotated_files_are_gzipped_and_retention_counts_them() {
    use std::collections::HashSet;
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("zipped")
            .dir(dir.path())
            .max_bytes(4096)
            .keep(4)
            .compress(true),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..400 {
            tracing::info!(seq, "compress me");
        }
    });
    // Dropping the guard waits for the compression threads.
    drop(guard);
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let gz: Vec<&String> = names.iter().filter(|n| n.ends_with(".gz")).collect();
    assert_eq!(gz.len(), 4, "{names:?}");
    assert_eq!(
        names.len(),
        5,
        "only the kept .gz files and the active file: {names:?}"
    );
    let mut seqs = HashSet::new();
    for name in gz {
        let mut text = String::new();
        flate2::read::GzDecoder::new(fs::File::open(dir.path().join(name)).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            assert!(seqs.insert(r["seq"].as_u64().unwrap()));
        }
    }
    assert!(!seqs.is_empty());
}

#[test]
fn log_path_is_the_stable_active_name() {
    let dir = tempfile::tempdir().unwrap();
    let (_layer, guard) = logwarden::builder()
        .service("svc")
        .file_name("custom.jsonl")
        .dir(dir.path())
        .capture_log(false)
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    assert_eq!(guard.log_path().unwrap(), dir.path().join("custom.jsonl"));
}

#[test]
fn a_failing_rotation_keeps_writing_instead_of_spinning() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("spin")
            .dir(&logs)
            .max_bytes(2048)
            .shutdown_timeout(Duration::from_secs(10)),
    );
    let path = guard.log_path().unwrap().to_path_buf();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("first");
        assert!(guard.flush());
        // The directory replaced by a plain file: neither renaming the active file for the size
        // rotation nor recreating it can work. The writer must keep writing, not retry forever.
        fs::remove_dir_all(&logs).unwrap();
        fs::write(&logs, "in the way").unwrap();
        for seq in 0..200 {
            tracing::info!(seq, "past the limit while rotation fails");
        }
        assert!(guard.flush(), "the writer is stuck");
        let stats = guard.stats();
        assert!(stats.rotation_errors >= 1, "{stats:?}");
        // Once the directory can be made again, what was written meanwhile is in it.
        fs::remove_file(&logs).unwrap();
        tracing::info!("after");
    });
    assert!(guard.flush());
    let records: Vec<Value> = log_files(&logs, "spin.log")
        .iter()
        .flat_map(|f| read_records(f))
        .collect();
    let seqs: Vec<u64> = records.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(
        seqs,
        (0..200).collect::<Vec<_>>(),
        "every line, once, in order"
    );
    assert!(records.iter().any(|r| r["message"] == "after"));
    assert_eq!(guard.stats().lines_lost, 0);
    assert!(path.exists());
}

#[test]
fn an_unbounded_shutdown_timeout_means_wait_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("forever")
            .dir(dir.path())
            .shutdown_timeout(Duration::MAX),
    );
    let path = guard.log_path().unwrap().to_path_buf();
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("kept"));
    assert!(guard.flush());
    assert!(guard.flush_timeout(Duration::MAX));
    drop(guard);
    assert_eq!(read_records(&path).len(), 1);
}

/// The rotated files of `active` (not the active file itself) and their total size.
fn rotated_total(dir: &Path, active: &str) -> (Vec<PathBuf>, u64) {
    let rotated: Vec<PathBuf> = log_files(dir, active)
        .into_iter()
        .filter(|p| p.file_name().unwrap() != active)
        .collect();
    let total = rotated.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
    (rotated, total)
}

#[test]
fn the_rotated_files_stay_under_the_total_size_cap_and_the_oldest_go_first() {
    const MAX: u64 = 2048;
    const CAP: u64 = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("capped")
            .dir(dir.path())
            .max_bytes(MAX)
            .keep(1_000)
            .max_total_bytes(CAP),
    );
    let mut seq = 0u64;
    tracing::dispatcher::with_default(&dispatch, || {
        for round in 0..60 {
            for _ in 0..20 {
                tracing::info!(seq, round, "filling");
                seq += 1;
            }
            // Without gzip, pruning happens in the writer before the flush returns.
            assert!(guard.flush());
            let (rotated, total) = rotated_total(dir.path(), "capped.log");
            assert!(total <= CAP, "round {round}: {total} bytes in {rotated:?}");
        }
    });
    assert!(guard.stats().rotations >= 30, "{:?}", guard.stats());
    let (rotated, total) = rotated_total(dir.path(), "capped.log");
    // Not more deleted than needed: one more file (at most MAX bytes) would not have fit.
    assert!(
        total + MAX > CAP,
        "{total} bytes in {} files",
        rotated.len()
    );
    // The newest lines are the ones kept: the kept files and the active one hold one unbroken
    // run of sequence numbers that ends with the last line logged.
    let kept: Vec<u64> = log_files(dir.path(), "capped.log")
        .iter()
        .flat_map(|f| read_records(f))
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    let first = kept[0];
    assert!(first > 0, "nothing was deleted");
    assert_eq!(kept, (first..seq).collect::<Vec<_>>());
}

#[test]
fn the_count_limit_and_the_size_cap_both_apply() {
    let run = |keep: usize, cap: u64| {
        let dir = tempfile::tempdir().unwrap();
        let (dispatch, guard) = start_logging(
            logwarden::builder()
                .service("both")
                .dir(dir.path())
                .max_bytes(2048)
                .keep(keep)
                .max_total_bytes(cap),
        );
        tracing::dispatcher::with_default(&dispatch, || {
            for seq in 0..1_000 {
                tracing::info!(seq, "filling");
            }
        });
        assert!(guard.flush());
        assert!(guard.stats().rotations >= 20, "{:?}", guard.stats());
        rotated_total(dir.path(), "both.log")
    };
    // The count binds: three files of about 2 KiB are far under 1 MB.
    let (rotated, _) = run(3, 1_000_000);
    assert_eq!(rotated.len(), 3);
    // The size binds: 5000 bytes hold two files of about 2 KiB, not the ten `keep` allows.
    let (rotated, total) = run(10, 5_000);
    assert!(total <= 5_000, "{total}");
    assert_eq!(rotated.len(), 2, "{rotated:?}");
}

#[test]
fn a_cap_smaller_than_one_file_keeps_no_rotated_file_and_never_the_active_one() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("tiny")
            .dir(dir.path())
            .max_bytes(1024)
            .keep(10)
            .max_total_bytes(100),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..200 {
            tracing::info!(seq, "filling");
        }
    });
    assert!(guard.flush());
    assert!(guard.stats().rotations >= 10, "{:?}", guard.stats());
    let (rotated, _) = rotated_total(dir.path(), "tiny.log");
    assert_eq!(rotated, Vec::<PathBuf>::new());
    let active = read_records(&dir.path().join("tiny.log"));
    assert!(!active.is_empty());
    assert_eq!(active.last().unwrap()["seq"], 199);
}

#[cfg(feature = "gzip")]
#[test]
fn the_size_cap_counts_the_compressed_size() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("zcap")
            .dir(dir.path())
            .max_bytes(4096)
            .keep(1_000)
            .max_total_bytes(4096)
            .compress(true),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..2_000 {
            tracing::info!(seq, "compress me, repetitive text compresses well");
        }
    });
    // Dropping the guard waits for the compression thread and its pruning.
    drop(guard);
    let mut gz_total = 0;
    let mut gz_count = 0;
    for entry in fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name == "zcap.log" {
            continue;
        }
        assert!(name.ends_with(".gz"), "{name} left uncompressed");
        gz_total += fs::metadata(dir.path().join(&name)).unwrap().len();
        gz_count += 1;
    }
    assert!(gz_total <= 4096, "{gz_total}");
    // Uncompressed, not even one 4 KiB file would fit beside another: several .gz files do.
    assert!(gz_count >= 3, "{gz_count} .gz files");
}

/// A tailer that looks at the active path while a rotation happens must always find a file
/// there: rsyslog's imfile, finding it missing, takes the rotated file for a new one and reads
/// it twice (tests/suite/rsyslog.rs). A thread `lstat`s the path in a loop through 500 rotations;
/// with rename-then-create it found the path missing in 7% of its looks.
#[test]
fn the_active_path_never_goes_missing_during_rotation() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    const LINES: u64 = 3_000;
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(
        logwarden::builder()
            .service("swap")
            .dir(dir.path())
            .max_bytes(1024)
            .keep(100_000),
    );
    let path = guard.log_path().unwrap().to_path_buf();
    let stop = Arc::new(AtomicBool::new(false));
    let (looks, gaps) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let watcher = {
        let (stop, looks, gaps) = (stop.clone(), looks.clone(), gaps.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if fs::symlink_metadata(&path).is_err() {
                    gaps.fetch_add(1, Ordering::Relaxed);
                }
                looks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..LINES {
            tracing::info!(seq, "rotating");
            if seq % 100 == 0 {
                assert!(guard.flush());
            }
        }
    });
    assert!(guard.flush());
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let rotations = guard.stats().rotations;
    assert!(rotations >= 400, "{rotations} rotations");
    assert_eq!(
        gaps.load(Ordering::Relaxed),
        0,
        "the active file was missing in {} of {} looks, over {rotations} rotations",
        gaps.load(Ordering::Relaxed),
        looks.load(Ordering::Relaxed)
    );
    // Nothing staged is left behind, and every line is in a rotated or the active file once.
    drop(guard);
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "{names:?}");
    let seqs: Vec<u64> = log_files(dir.path(), "swap.log")
        .iter()
        .flat_map(|f| read_records(f))
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..LINES).collect::<Vec<_>>());
}

/// A crash between the swap of a rotation and its rename leaves the old file at the hidden
/// staging name (`.<name>.next`): the next start gives it its rotated name, so its lines are
/// neither lost nor hidden from retention. An empty leftover never held lines and is removed.
#[test]
fn a_file_left_staged_by_a_crash_is_rotated_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".crashed.log.next"),
        "{\"message\":\"from before the crash\"}\n",
    )
    .unwrap();
    let (dispatch, guard) = start_logging(logwarden::builder().service("crashed").dir(dir.path()));
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("after the restart"));
    assert!(guard.flush());
    let files = log_files(dir.path(), "crashed.log");
    let messages = messages_per_file(&files);
    assert_eq!(
        messages,
        vec![vec!["from before the crash"], vec!["after the restart"]]
    );
    // What is there now is the empty file prepared for the next rotation, removed at the end.
    let staging = dir.path().join(".crashed.log.next");
    assert_eq!(fs::metadata(&staging).unwrap().len(), 0);
    drop(guard);
    assert!(!staging.exists());

    // An empty leftover never held lines: no rotated file is made of it.
    fs::File::create(&staging).unwrap();
    let (_dispatch, guard) = start_logging(logwarden::builder().service("crashed").dir(dir.path()));
    assert_eq!(log_files(dir.path(), "crashed.log").len(), 2);
    drop(guard);
    assert!(!staging.exists());
}

//! A real full disk: the log directory on a 64 KiB tmpfs. Needs root (to mount), so it is
//! `#[ignore]`d for plain `cargo test` and run by `.ci/run` with `--ignored`, where a failure
//! to mount fails the test instead of skipping it.

use std::fs;
use std::path::Path;
use std::process::Command;

use tracing_subscriber::layer::SubscriberExt;

use crate::support;

struct Tmpfs<'a>(&'a Path);

impl<'a> Tmpfs<'a> {
    fn mount(at: &'a Path, size: &str) -> Self {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("cannot run mount");
        assert!(
            status.success(),
            "mounting a tmpfs at {} failed (needs root)",
            at.display()
        );
        Tmpfs(at)
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
#[ignore = "needs root to mount a tmpfs; run by .ci/run with --ignored"]
fn disk_full_loses_only_counted_whole_lines_and_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let _mount = Tmpfs::mount(dir.path(), "64k");
    // Take half the space with a file we can delete later to "free the disk".
    let filler = dir.path().join("filler");
    fs::write(&filler, vec![b'x'; 32 * 1024]).unwrap();

    let (layer, guard) = logwarden::builder()
        .service("full")
        .dir(dir.path())
        .max_bytes(None)
        .capture_log(false)
        .build()
        .unwrap();
    let path = guard.log_path().unwrap().to_path_buf();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let mut logged = 0u64;
    tracing::dispatcher::with_default(&dispatch, || {
        // Fill the disk: keep logging until the writer reports lost lines.
        while guard.stats().lines_lost == 0 {
            for _ in 0..50 {
                tracing::info!(
                    seq = logged,
                    pad = "0123456789abcdef0123456789abcdef",
                    "filling"
                );
                logged += 1;
            }
            assert!(guard.flush());
            assert!(logged < 100_000, "the disk never filled up");
        }
        // Every line in the file is whole: the torn tail of the failed write was cut off.
        support::read_records(&path);

        fs::remove_file(&filler).unwrap();
        tracing::info!(seq = logged, "space is back");
        logged += 1;
    });
    assert!(guard.flush());

    let stats = guard.stats();
    assert!(stats.write_errors >= 1);
    let records = support::read_records(&path);
    let written = records
        .iter()
        .filter(|r| r["target"] != "logwarden")
        .count() as u64;
    assert_eq!(
        written + stats.lines_lost,
        logged,
        "every line is written or counted as lost"
    );
    assert_eq!(records.last().unwrap()["message"], "space is back");
    // A full disk can flap (a truncated short write frees a little space), so there may be
    // several runs of failures: each gets its own record, and together they account for every
    // lost line.
    let reported: u64 = records
        .iter()
        .filter(|r| r["target"] == "logwarden")
        .map(|r| {
            let message = r["message"].as_str().unwrap();
            assert!(message.contains("No space left on device"), "{message}");
            let n = message
                .strip_prefix("logwarden lost ")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok());
            n.unwrap_or_else(|| panic!("unexpected record: {message}"))
        })
        .sum();
    assert!(reported > 0, "a record reports the loss");
    assert_eq!(reported, stats.lines_lost);
}

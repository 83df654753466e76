//! What a failing disk prints on stderr, read from a child process: one line when writing starts
//! failing, however many writes fail, and one line when it works again.
//!
//! The test re-runs its own binary with `LWTEST_WRITER_CHILD` set.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt;

use crate::support;

/// A writer that fails with ENOSPC while `failing` is set.
struct Flaky {
    failing: Arc<AtomicBool>,
}

impl Write for Flaky {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failing.load(Ordering::SeqCst) {
            Err(io::Error::from_raw_os_error(28)) // ENOSPC
        } else {
            Ok(buf.len())
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn child() {
    if std::env::var("LWTEST_WRITER_CHILD").is_err() {
        return; // only runs as a child of the test below
    }
    let failing = Arc::new(AtomicBool::new(true));
    let (layer, guard) = logwarden::builder()
        .writer(Flaky {
            failing: Arc::clone(&failing),
        })
        .alerts(false)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for seq in 0..50 {
            tracing::info!(seq, "into a full disk");
            assert!(guard.flush()); // one failed write per line
        }
        failing.store(false, Ordering::SeqCst);
        tracing::info!("space again");
        assert!(guard.flush());
    });
    let stats = guard.stats();
    assert_eq!((stats.lines_lost, stats.write_errors), (50, 50));
}

#[test]
fn fifty_failed_writes_print_one_line_and_recovery_prints_one_more() {
    let out = support::child::run_test(
        support::child::this_test(module_path!(), "child").env("LWTEST_WRITER_CHILD", "1"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}");
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("logwarden:"))
        .collect();
    assert_eq!(ours.len(), 2, "{stderr}");
    assert!(
        ours[0].contains("failed: No space left on device"),
        "{}",
        ours[0]
    );
    assert!(
        ours[1].contains("works again; 50 lines were lost"),
        "{}",
        ours[1]
    );
}

//! A `Debug` impl that logs while logwarden formats it, under the global dispatcher (where
//! tracing delivers the nested event to the subscriber again). One global subscriber per
//! process, so the test runs in a child process of its own.

use std::fmt;
use std::sync::mpsc;
use std::time::Duration;

use crate::support;

struct LogsWhileFormatted(&'static str);

impl fmt::Debug for LogsWhileFormatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::warn!(inner = self.0, "logged from Debug");
        f.write_str("formatted")
    }
}

#[test]
fn an_event_logged_while_formatting_is_written_too() {
    support::child::alone(
        module_path!(),
        "an_event_logged_while_formatting_is_written_too",
        scenario,
    );
}

/// The test, in its child process.
fn scenario() {
    let dir = tempfile::tempdir().unwrap();
    let guard = logwarden::builder()
        .service("orders")
        .env("test")
        .dir(dir.path())
        .capture_log(false)
        .init()
        .expect("init");

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let span = tracing::info_span!("request", trace_id = "t", v = ?LogsWhileFormatted("span"));
        let _e = span.enter();
        span.record("v", tracing::field::debug(LogsWhileFormatted("record")));
        tracing::info!(value = ?LogsWhileFormatted("event"), "outer");
        tracing::info!("after");
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("logging thread deadlocked or panicked");

    assert!(guard.flush());
    let lines = support::read_lines(guard.log_path().unwrap());
    let records: Vec<_> = lines.iter().map(|l| support::parse_line(l)).collect();
    for l in &lines {
        support::assert_no_duplicate_keys(l);
    }
    let inner = support::with_message(&records, "logged from Debug");
    let sources: Vec<&str> = inner.iter().map(|r| r["inner"].as_str().unwrap()).collect();
    assert_eq!(sources, ["span", "record", "event"], "{records:#?}");

    let outer = support::one(&records, "outer");
    assert_eq!(outer["value"], "formatted");
    assert_eq!(outer["v"], "formatted");
    assert_eq!(outer["trace_id"], "t");
    // The nested event raised while formatting "outer" is inside the same span.
    assert_eq!(inner[2]["span"], "request");
    assert_eq!(inner[2]["trace_id"], "t");
    assert_eq!(records.last().unwrap()["message"], "after");
}

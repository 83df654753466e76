//! `log`-crate events through the global `init()` (which installs the `log` bridge). Only one
//! global subscriber can exist per process, so the test runs in a child process of its own.

use crate::support;

#[test]
fn log_crate_events_become_records_without_bridge_metadata() {
    support::child::alone(
        module_path!(),
        "log_crate_events_become_records_without_bridge_metadata",
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
        .init()
        .expect("init");

    log::warn!(target: "legacy", "from log {}", 1);
    log::debug!(target: "legacy", "below the default info filter");
    log::error!("default target {:?}", "q\"uote");

    assert!(guard.flush());
    let path = guard.log_path().unwrap().to_owned();
    let lines = support::read_lines(&path);
    let records: Vec<_> = lines.iter().map(|l| support::parse_line(l)).collect();
    assert_eq!(records.len(), 2, "{lines:#?}");
    for l in &lines {
        support::assert_no_duplicate_keys(l);
        for k in support::keys(l) {
            assert!(
                !k.starts_with("log."),
                "bridge metadata {k:?} leaked into {l}"
            );
        }
        assert_eq!(
            support::keys(l),
            [
                "timestamp",
                "level",
                "message",
                "target",
                "service",
                "env",
                "host",
                "pid"
            ],
        );
    }

    let r = support::one(&records, "from log 1");
    assert_eq!(r["level"], "WARN");
    assert_eq!(r["target"], "legacy");
    assert_eq!(r["service"], "orders");
    assert_eq!(r["env"], "test");
    assert_eq!(r["pid"], std::process::id());

    let r = support::one(&records, "default target \"q\\\"uote\"");
    assert_eq!(r["level"], "ERROR");
    assert_eq!(r["target"], "global::log_bridge");

    // A second init in the same process is refused, not a panic.
    let again = logwarden::builder().dir(dir.path()).init();
    match again {
        Err(e) => assert_eq!(e.kind(), logwarden::ErrorKind::AlreadyInitialized),
        Ok(_) => panic!("a second init() succeeded"),
    }
}

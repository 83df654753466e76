//! After `init()`, a runtime change to `debug` must reach `log`-crate records too: the `log`
//! crate drops records above its own max level before they reach the bridge, so the handle
//! moves that level with the filter. Alone in a child process: `init()` is process-wide.

use crate::support;

#[test]
fn a_runtime_change_reaches_log_crate_records_both_ways() {
    support::child::alone(
        module_path!(),
        "a_runtime_change_reaches_log_crate_records_both_ways",
        scenario,
    );
}

/// The test, in its child process.
fn scenario() {
    let dir = tempfile::tempdir().unwrap();
    let guard = logwarden::builder()
        .service("orders")
        .dir(dir.path())
        .init()
        .expect("init");
    log::debug!(target: "legacy", "log debug before");
    guard.filter_handle().set("debug").unwrap();
    tracing::debug!("tracing debug");
    log::debug!(target: "legacy", "log debug");
    guard.filter_handle().set("info").unwrap();
    log::debug!(target: "legacy", "log debug after");
    assert_eq!(log::max_level(), log::LevelFilter::Info);
    assert!(guard.flush());
    let records = support::read_records(guard.log_path().unwrap());
    let messages: Vec<&str> = records
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["tracing debug", "log debug"]);
}

//! `logwarden::init()` itself: the environment, a failed call that installs nothing, and a second
//! call. One test, in a child process of its own, because a process has one global subscriber
//! and one environment.

use std::env;
use std::fs;

use logwarden::ErrorKind;

use crate::support;

#[test]
fn init_reads_the_environment_fails_cleanly_and_refuses_a_second_call() {
    support::child::alone(
        module_path!(),
        "init_reads_the_environment_fails_cleanly_and_refuses_a_second_call",
        scenario,
    );
}

/// The test, in its child process.
fn scenario() {
    let dir = tempfile::tempdir().unwrap();
    env::set_var("LOGWARDEN_DIR", dir.path());
    env::set_var("LOGWARDEN_SERVICE", "checkout");
    env::set_var("LOGWARDEN_ENV", "staging");
    env::set_var("RUST_LOG", "info,noisy=warn");

    // A bad value: an error that names the variable and the value, and nothing is installed.
    env::set_var("LOGWARDEN_MAX_BYTES", "ten megabytes");
    let err = logwarden::init().expect_err("an unparsable size must be refused");
    assert_eq!(err.kind(), ErrorKind::InvalidSetting);
    assert_eq!(
        err.to_string(),
        r#"LOGWARDEN_MAX_BYTES="ten megabytes": expected a byte count such as 10485760 or 10MiB (or `off` for no size limit)"#
    );
    assert!(
        !tracing::dispatcher::has_been_set(),
        "a failed init() installed a subscriber"
    );
    assert!(
        fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a failed init() created files"
    );

    // Corrected, the same call succeeds.
    env::set_var("LOGWARDEN_MAX_BYTES", "1MiB");
    let guard = logwarden::init().expect("a corrected init() succeeds");
    assert!(tracing::dispatcher::has_been_set());

    // A second call is an error, never a panic, and the first setup keeps working.
    let second = logwarden::init().expect_err("init() twice must fail");
    assert_eq!(second.kind(), ErrorKind::AlreadyInitialized);
    assert_eq!(second.setting(), None);

    tracing::info!(order = 7, "placed");
    tracing::info!(target: "noisy", "filtered out by RUST_LOG");
    tracing::warn!(target: "noisy", "kept");
    assert!(guard.flush());

    let path = dir.path().join("checkout.log");
    assert_eq!(guard.log_path(), Some(path.as_path()));
    let records = support::read_records(&path);
    let messages: Vec<&str> = records
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["placed", "kept"]);
    assert_eq!(records[0]["service"], "checkout");
    assert_eq!(records[0]["env"], "staging");
    assert_eq!(records[0]["order"], 7);
}

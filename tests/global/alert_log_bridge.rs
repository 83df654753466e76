//! ERROR records of the `log` crate count toward the alert threshold. This needs the global
//! `init()` (which installs the `log` bridge), and only one global subscriber can exist per
//! process, so the test runs in a child process of its own.

use std::time::Duration;

use crate::support;
use crate::support::http::{Reply, Server};
use crate::support::{HOOK, WAIT};

#[test]
fn log_crate_errors_open_an_incident() {
    support::child::alone(
        module_path!(),
        "log_crate_errors_open_an_incident",
        scenario,
    );
}

/// The test, in its child process.
fn scenario() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let guard = logwarden::builder()
        .dir(dir.path())
        .service("bridge")
        .env("test")
        .slack_webhook(server.url(HOOK))
        .alert_threshold(3)
        .alert_retries(3, Duration::from_millis(50))
        .init()
        .expect("init");

    for i in 0..3 {
        log::error!("legacy failure {i}");
    }

    let got = server.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "no alert was posted");
    let v = got[0].json();
    let text = v["text"].as_str().unwrap();
    assert!(
        text.contains("Incident #1: 3 ERROR events in 1m 00s in bridge (test) on "),
        "{text}"
    );
    // One group: the same `log::error!` call site, whatever its arguments.
    assert!(text.contains("*3×* `legacy failure 0`"), "{text}");
    assert_eq!(guard.incidents().opened, 1);
    drop(guard);
    // Then the open incident's last word, once.
    let got = server.requests();
    assert_eq!(got.len(), 2);
    assert!(
        got[1].body.contains("Incident #1 still open when"),
        "{}",
        got[1].body
    );
}

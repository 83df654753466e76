//! ERROR records of the `log` crate count toward the alert threshold. This needs the global
//! `init()` (which installs the `log` bridge), and only one global subscriber can exist per
//! process, so this binary has a single test.

mod support;

use std::time::Duration;

use support::http::{Reply, Server};

#[test]
fn log_crate_errors_open_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let guard = logwarden::builder()
        .dir(dir.path())
        .service("bridge")
        .env("test")
        .slack_webhook(server.url("/services/T000/B000/SECRETTOKEN123"))
        .alert_threshold(3)
        .alert_retries(3, Duration::from_millis(50))
        .init()
        .expect("init");

    for i in 0..3 {
        log::error!("legacy failure {i}");
    }

    let got = server.wait_for(1, Duration::from_secs(5));
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
    assert_eq!(server.requests().len(), 1);
}

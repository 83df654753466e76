//! An ERROR logged from a `Debug` impl while an ERROR event is being formatted, under the global
//! dispatcher: only there does tracing deliver the nested event to the subscriber again (a scoped
//! `with_default` dispatcher drops re-entrant events), so only there can the alert layer, which
//! formats its sample under the engine's lock, be re-entered. One global subscriber per process,
//! so the test runs in a child process of its own.

use std::fmt;
use std::sync::mpsc;

use crate::support;
use crate::support::http::{Reply, Server};
use crate::support::{HANG, HOOK, WAIT};

struct LogsWhileFormatted;

impl fmt::Debug for LogsWhileFormatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::error!("logged from Debug");
        f.write_str("formatted")
    }
}

#[test]
fn an_error_logged_while_an_error_is_formatted_does_not_deadlock_the_alert_layer() {
    support::child::alone(
        module_path!(),
        "an_error_logged_while_an_error_is_formatted_does_not_deadlock_the_alert_layer",
        scenario,
    );
}

/// The test, in its child process.
fn scenario() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let guard = logwarden::builder()
        .dir(dir.path())
        .service("orders")
        .env("test")
        .capture_log(false)
        .slack_webhook(server.url(HOOK))
        .alert_threshold(3)
        .init()
        .expect("init");

    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        for _ in 0..3 {
            tracing::error!(value = ?LogsWhileFormatted, "outer {:?}", LogsWhileFormatted);
        }
        let _ = tx.send(());
    });
    rx.recv_timeout(HANG)
        .expect("the logging thread deadlocked or panicked");
    worker.join().expect("the logging thread panicked");

    let got = server.wait_for(1, WAIT);
    assert_eq!(got.len(), 1, "no alert was posted");
    let text = got[0].json()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("Incident #1: 3 ERROR events"), "{text}");
    assert!(text.contains("`outer formatted`"), "{text}");
    assert!(text.contains("`logged from Debug`"), "{text}");
    assert_eq!(guard.incidents().opened, 1);

    let path = guard.log_path().unwrap().to_owned();
    drop(guard);
    let records = support::read_records(&path);
    assert_eq!(support::with_message(&records, "outer formatted").len(), 3);
    assert!(!support::with_message(&records, "logged from Debug").is_empty());
}

//! What the alert path prints on stderr, read from a child process: the alert itself when no
//! webhook is configured, and a delivery failure without the webhook's secret path.
//!
//! The test re-runs its own binary with `LWTEST_STDERR_CHILD` set; the child logs through a
//! global `init()` and exits, the parent reads the child's stderr.

use std::time::Duration;

use crate::support;
#[cfg(feature = "http")]
use crate::support::http::{Reply, Server};
#[cfg(feature = "http")]
use crate::support::HOOK;
use crate::support::{SECRET, WAIT};

fn run_child(scenario: &str, webhook: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = support::child::this_test(module_path!(), "child");
    cmd.env("LWTEST_STDERR_CHILD", scenario)
        .env("LOGWARDEN_DIR", dir.path())
        .env("LOGWARDEN_SERVICE", "child")
        .env("LOGWARDEN_ALERT_THRESHOLD", "3")
        .env_remove("SLACK_WEBHOOK_URL");
    if let Some(url) = webhook {
        cmd.env("SLACK_WEBHOOK_URL", url);
    }
    let out = support::child::run_test(&mut cmd);
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(dir.path().join("child.log")).unwrap();
    assert!(!log.contains(SECRET), "the secret is in the log file");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The child: three errors, then a guard drop that waits for delivery.
#[test]
fn child() {
    let Ok(scenario) = std::env::var("LWTEST_STDERR_CHILD") else {
        return; // only runs as a child of the tests below
    };
    let guard = logwarden::builder()
        .alert_retries(2, Duration::from_millis(20))
        .shutdown_timeout(Duration::from_secs(4))
        .from_env()
        .init()
        .unwrap();
    for i in 0..3 {
        tracing::error!(attempt = i, "payment provider failed <!channel>\u{1b}[31m");
    }
    if scenario == "wait" {
        // Give the delivery thread time to try and fail before the guard drops.
        let deadline = std::time::Instant::now() + WAIT;
        while guard.incidents().alerts_failed == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    drop(guard);
}

#[test]
fn without_a_webhook_the_alert_is_printed_on_stderr() {
    let stderr = run_child("plain", None);
    assert!(stderr.contains("ALERT"), "{stderr}");
    assert!(stderr.contains("Incident #1: 3 ERROR events"), "{stderr}");
    assert!(stderr.contains("3× payment provider failed"), "{stderr}");
    assert!(
        stderr.contains("SLACK_WEBHOOK_URL"),
        "the hint is missing: {stderr}"
    );
    // Log content cannot drive the terminal: the escape character arrives escaped.
    assert!(
        !stderr.contains('\u{1b}'),
        "raw escape sequence on stderr: {stderr:?}"
    );
}

#[cfg(feature = "http")]
#[test]
fn a_failed_delivery_is_reported_without_the_secret() {
    let server = Server::start(vec![], Reply::status(404, "no_service"));
    let stderr = run_child("wait", Some(&server.url(HOOK)));
    // The opening and, as the child stops, the incident's last word; neither is retried.
    let got = server.requests();
    assert_eq!(got.len(), 2, "a 404 is not retried");
    assert!(got[1].body.contains("still open when"), "{}", got[1].body);
    assert!(stderr.contains("not delivered"), "{stderr}");
    assert!(stderr.contains("HTTP 404 no_service"), "{stderr}");
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{}", server.port())),
        "{stderr}"
    );
    assert!(
        !stderr.contains(SECRET),
        "the secret is on stderr: {stderr}"
    );
}

#[cfg(feature = "http")]
#[test]
fn a_refused_connection_is_reported_without_the_secret() {
    let url = support::http::refused_url(HOOK);
    let stderr = run_child("wait", Some(&url));
    assert!(stderr.contains("not delivered"), "{stderr}");
    assert!(
        !stderr.contains(SECRET),
        "the secret is on stderr: {stderr}"
    );
}

//! The panic hook, in child processes: a hook is process-wide state, so each scenario gets a
//! process of its own. The test re-runs its own binary with `LWTEST_PANIC_CHILD` set; the
//! child installs logwarden through the global `init()` and panics; the parent reads the file,
//! the child's stderr and what a loopback webhook received.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

use crate::support;
#[cfg(feature = "http")]
use crate::support::http::{Reply, Server};
use crate::support::{read_records, WAIT};

/// The exit code a child uses after the panic, skipping destructors: the guard is never dropped,
/// so whatever is in the file got there through the hook's own flush.
const EXIT_WITHOUT_GUARD: i32 = 42;

fn run_child(scenario: &str, dir: &std::path::Path, extra: &[(&str, &str)]) -> Output {
    let mut cmd = support::child::this_test(module_path!(), "child");
    cmd.env("LWTEST_PANIC_CHILD", scenario)
        .env("LOGWARDEN_DIR", dir)
        .env("LOGWARDEN_SERVICE", "child")
        .env("RUST_BACKTRACE", "1")
        .env_remove("SLACK_WEBHOOK_URL")
        .env_remove("LOGWARDEN_PANIC_HOOK");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    support::child::run_test(&mut cmd)
}

fn panic_records(dir: &std::path::Path) -> Vec<Value> {
    read_records(&dir.join("child.log"))
        .into_iter()
        .filter(|r| r["target"] == "logwarden_panic")
        .collect()
}

/// The child. Scenarios: `thread` (a worker thread panics inside spans, then the process exits
/// without dropping the guard), `main` (main panics; the process dies of it).
#[test]
fn child() {
    let Ok(scenario) = std::env::var("LWTEST_PANIC_CHILD") else {
        return; // only runs as a child of the tests below
    };
    // A hook installed before logwarden's: it must still run, after ours.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        eprintln!("PREVIOUS HOOK RAN");
        previous(info);
    }));
    let guard = logwarden::builder()
        .alert_retries(1, Duration::from_millis(10))
        .from_env()
        .allow_http_webhook(true)
        .init()
        .unwrap();
    match scenario.as_str() {
        "thread" => {
            let worker = std::thread::Builder::new()
                .name("payments-worker".into())
                .spawn(|| {
                    let _request =
                        tracing::info_span!("request", trace_id = "4bf92f3577b34da6").entered();
                    let _payment = tracing::info_span!("payment", user_id = 42).entered();
                    tracing::info!("charging");
                    let amounts: Vec<u32> = Vec::new();
                    let _ = amounts[3]; // index out of bounds
                })
                .unwrap();
            assert!(worker.join().is_err());
            if std::env::var("WAIT_FOR_ALERT").is_ok() {
                let deadline = std::time::Instant::now() + WAIT;
                while guard.incidents().alerts_sent == 0 && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            std::process::exit(EXIT_WITHOUT_GUARD);
        }
        "main" => {
            let _span = tracing::info_span!("startup", phase = "config").entered();
            panic!("config file missing: {}", "/etc/app.toml");
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// A child that builds its stacks with `build()` (no `init()`): scenarios `twice` (two stacks
/// built with the hook, the first dropped) and `writer` (the sink itself panics).
#[test]
fn build_child() {
    let Ok(scenario) = std::env::var("LWTEST_PANIC_BUILD_CHILD") else {
        return;
    };
    let dir = std::path::PathBuf::from(std::env::var("LOGWARDEN_DIR").unwrap());
    match scenario.as_str() {
        "twice" => {
            let first = tempfile::tempdir().unwrap();
            let built = logwarden::builder()
                .dir(first.path())
                .service("first")
                .panic_hook(true)
                .build::<tracing_subscriber::Registry>()
                .unwrap();
            drop(built);
            let (layer, guard) = logwarden::builder()
                .dir(&dir)
                .service("child")
                .panic_hook(true)
                .build()
                .unwrap();
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
                .unwrap();
            let worker = std::thread::spawn(|| panic!("once only"));
            assert!(worker.join().is_err());
            assert!(guard.flush());
        }
        "writer" => {
            /// A sink that panics on its first write, on logwarden's writer thread.
            struct Panicky;
            impl std::io::Write for Panicky {
                fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                    panic!("the sink panicked");
                }
                fn flush(&mut self) -> std::io::Result<()> {
                    Ok(())
                }
            }
            let (layer, guard) = logwarden::builder()
                .writer(Panicky)
                .panic_hook(true)
                .shutdown_timeout(Duration::MAX)
                .build()
                .unwrap();
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
                .unwrap();
            tracing::info!("the write that panics");
            // The writer thread is gone: the flush returns (nothing waits for a dead thread, and
            // the hook did not make the writer wait for itself).
            guard.flush();
            println!("FLUSH RETURNED");
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// Runs [`build_child`] with `scenario`. A hang is the failure being tested for: the child's run
/// is bounded (it is killed and the test fails) rather than hanging the suite.
fn run_build_child(scenario: &str, dir: &std::path::Path) -> Output {
    support::child::run_test(
        support::child::this_test(module_path!(), "build_child")
            .env("LWTEST_PANIC_BUILD_CHILD", scenario)
            .env("LOGWARDEN_DIR", dir),
    )
}

#[test]
fn building_twice_with_the_hook_records_a_panic_once_in_the_latest_stack() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_build_child("twice", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = panic_records(dir.path());
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["panic.payload"], "once only");
}

#[test]
fn a_panic_on_the_writer_thread_does_not_make_it_wait_for_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_build_child("writer", dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("FLUSH RETURNED"), "{stdout}");
}

#[test]
fn a_filter_that_does_not_name_the_panic_target_still_lets_panics_through() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_child(
        "thread",
        dir.path(),
        &[("RUST_LOG", "some_other_crate=debug")],
    );
    assert_eq!(
        out.status.code(),
        Some(EXIT_WITHOUT_GUARD),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(panic_records(dir.path()).len(), 1);
    // The directive only concerns the panic target: the INFO line of the worker is filtered.
    let all = read_records(&dir.path().join("child.log"));
    assert!(all.iter().all(|r| r["message"] != "charging"), "{all:?}");
}

#[test]
fn a_panicking_thread_is_written_as_an_error_record_with_its_context_before_the_process_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_child("thread", dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_WITHOUT_GUARD), "{stderr}");

    let records = panic_records(dir.path());
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r["level"], "ERROR");
    assert_eq!(r["panic.thread"], "payments-worker");
    let location = r["panic.location"].as_str().unwrap();
    assert!(
        location.starts_with("tests/suite/panic_hook.rs:"),
        "{location}"
    );
    let payload = r["panic.payload"].as_str().unwrap();
    assert!(payload.contains("index out of bounds"), "{payload}");
    let message = r["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!("thread 'payments-worker' panicked at {location}: {payload}")
    );
    // The span context, as for any event inside those spans.
    assert_eq!(r["trace_id"], "4bf92f3577b34da6");
    assert_eq!(r["user_id"], 42);
    assert_eq!(r["span"], "payment");
    // RUST_BACKTRACE=1 in the child: the backtrace is captured.
    let backtrace = r["panic.backtrace"].as_str().unwrap();
    assert!(backtrace.contains("panic_hook"), "{backtrace}");

    // The hook that was there before still ran, and so did std's default message.
    assert!(stderr.contains("PREVIOUS HOOK RAN"), "{stderr}");
    assert!(stderr.contains("panicked at"), "{stderr}");
}

#[cfg(feature = "http")]
#[test]
fn a_panic_counts_toward_the_alert_threshold() {
    let server = Server::start(vec![], Reply::ok());
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/services/T000/B000/XXXX");
    let out = run_child(
        "thread",
        dir.path(),
        &[
            ("SLACK_WEBHOOK_URL", url.as_str()),
            ("LOGWARDEN_ALERT_THRESHOLD", "1"),
            ("WAIT_FOR_ALERT", "1"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(EXIT_WITHOUT_GUARD),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = server.wait_for(1, WAIT);
    assert_eq!(requests.len(), 1);
    let body = requests[0].json().to_string();
    assert!(body.contains("payments-worker"), "{body}");
    assert!(body.contains("index out of bounds"), "{body}");
}

#[test]
fn a_panic_on_the_main_thread_is_recorded_and_the_process_still_dies_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_child("main", dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let records = panic_records(dir.path());
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        records[0]["panic.payload"],
        "config file missing: /etc/app.toml"
    );
    assert_eq!(records[0]["phase"], "config");
    assert!(stderr.contains("PREVIOUS HOOK RAN"), "{stderr}");
}

#[test]
fn the_hook_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_child("thread", dir.path(), &[("LOGWARDEN_PANIC_HOOK", "off")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_WITHOUT_GUARD), "{stderr}");
    // Without the hook nothing flushes before `exit`: the panic is not in the file.
    assert!(panic_records(dir.path()).is_empty());
    assert!(stderr.contains("PREVIOUS HOOK RAN"), "{stderr}");
}

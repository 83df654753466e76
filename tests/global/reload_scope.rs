//! A filter change made on a thread where the stack is not the default dispatcher, while it is
//! the only dispatcher in the process: `tracing_core` then rebuilds callsite interest against
//! the calling thread's default, which would turn every callsite off for the stack. Alone in a
//! child process of its own, so that no other dispatcher exists.

use crate::support;

#[test]
fn a_change_made_outside_the_stacks_scope_keeps_its_callsites_on() {
    support::child::alone(
        module_path!(),
        "a_change_made_outside_the_stacks_scope_keeps_its_callsites_on",
        scenario,
    );
}

/// The test, in its child process.
fn scenario() {
    let dir = tempfile::tempdir().unwrap();
    let (subscriber, guard) = logwarden::builder()
        .service("orders")
        .dir(dir.path())
        .capture_log(false)
        .alerts(false)
        .subscriber()
        .unwrap();
    let dispatch = tracing::Dispatch::new(subscriber);
    let log = |round: u64| {
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!(round, "info");
            tracing::debug!(round, "debug");
        })
    };
    log(1);
    // Here, outside `with_default`: the calling thread's default is the no-op dispatcher.
    guard.filter_handle().set("debug").unwrap();
    log(2);
    guard.filter_handle().set("info").unwrap();
    log(3);
    assert!(guard.flush());
    let seen: Vec<(u64, String)> = support::read_records(guard.log_path().unwrap())
        .iter()
        .map(|r| {
            (
                r["round"].as_u64().unwrap(),
                r["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [(1, "info"), (2, "info"), (2, "debug"), (3, "info")];
    assert_eq!(
        seen,
        expected.map(|(r, m)| (r, m.to_owned())),
        "records after changes made outside the stack's scope"
    );
}

//! With the stack as the global default (as `init()` installs it), a span field whose `Debug`
//! logs while the filter formats it for a span-scoped directive (under the directives' read
//! lock) must not deadlock against a concurrent `FilterHandle::set` waiting to write. Alone in
//! a child process: it installs a global default.

use std::fmt;
use std::sync::mpsc;
use std::time::Duration;

use crate::support;

struct LogsInDebug(mpsc::Sender<()>);

impl fmt::Debug for LogsInDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tell the other thread to call `set()` now, and give it time to queue for the lock.
        let _ = self.0.send(());
        std::thread::sleep(Duration::from_millis(300));
        tracing::info!("logged from Debug");
        f.write_str("v")
    }
}

#[test]
fn set_while_a_span_fields_debug_logs_does_not_deadlock() {
    support::child::alone(
        module_path!(),
        "set_while_a_span_fields_debug_logs_does_not_deadlock",
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
        .filter("info,[req{v=x}]=debug")
        .subscriber()
        .unwrap();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let filter = guard.filter_handle();
    let (tx, rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _s = tracing::info_span!("req", v = ?LogsInDebug(tx)).entered();
        let _ = done_tx.send(());
    });
    std::thread::spawn(move || {
        while rx.recv_timeout(Duration::from_secs(2)).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
            filter.set("info,[req{v=x}]=debug").unwrap();
        }
    });
    assert!(
        done_rx.recv_timeout(support::HANG).is_ok(),
        "deadlock: the thread creating the span never finished"
    );
}

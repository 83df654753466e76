//! The panic hook: a panic becomes an ERROR record, on disk, before the thread or process goes.
//!
//! The hook logs through `tracing` (span fields, and the alert threshold, as any ERROR), flushes
//! with a bound, then runs the hook installed before it (DESIGN.md, "Why a panic hook, and why the
//! target `logwarden_panic`?").

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::panic::PanicHookInfo;
use std::sync::Once;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::deadline_after;
use crate::diag::on_quiet_thread;
use crate::writer::Flusher;

/// The target of panic records. The builder adds a `logwarden_panic=error` directive to the
/// filter unless the directives name this target, so `RUST_LOG=my_app=debug` does not silence
/// panics. Not plain `panic`: `EnvFilter` matches targets by prefix, and a `panic=error`
/// directive would also govern a crate such as `panic_handler`.
pub(crate) const TARGET: &str = "logwarden_panic";

/// The writers the hook flushes: those of the latest `init()`/`build()` that asked for the hook.
static WRITERS: Mutex<Option<(Flusher, Duration)>> = Mutex::new(None);
static INSTALLED: Once = Once::new();

/// Installs the hook in front of the current one, once per process; later calls only point it at
/// new writers, so building twice neither stacks hooks nor records a panic twice.
pub(crate) fn install(flusher: Flusher, timeout: Duration) {
    *WRITERS.lock() = Some((flusher, timeout));
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The crate's own threads are left alone: a writer thread logging its own panic
            // would wait for itself. Such a panic is a logwarden bug, shown by the previous hook.
            if !on_quiet_thread() {
                record(info);
                let writers = WRITERS.lock().clone();
                if let Some((flusher, timeout)) = writers {
                    flusher.flush_until(deadline_after(timeout));
                }
            }
            previous(info);
        }));
    });
}

/// The panic's message, whatever the payload type.
fn payload_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

fn record(info: &PanicHookInfo<'_>) {
    let payload = payload_text(info.payload());
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("<unnamed>");
    // Captured only when RUST_BACKTRACE / RUST_LIB_BACKTRACE ask for it, as std does.
    let backtrace = Backtrace::capture();
    let backtrace = (backtrace.status() == BacktraceStatus::Captured)
        .then(|| tracing::field::display(backtrace));
    let at = location.as_deref().unwrap_or("an unknown location");
    tracing::error!(
        target: TARGET,
        // Braces: a dotted first field right after `target:` is ambiguous to the macro.
        {
            panic.payload = payload,
            panic.location = location.as_deref(),
            panic.thread = thread,
            panic.backtrace = backtrace,
        },
        "thread '{thread}' panicked at {at}: {payload}"
    );
}

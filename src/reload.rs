//! Changing the filter directives of a running stack, e.g. to turn a service to `debug` while
//! investigating, without a restart: [`Guard::filter_handle`](crate::Guard::filter_handle).
//!
//! Only the directives sit behind a read lock, which the hot path does not reach; after a change
//! the callsite interest cache is rebuilt (DESIGN.md, "Why not `tracing_subscriber::reload`?").

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use tracing_core::dispatcher::{self, Dispatch, WeakDispatch};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};

use crate::error::Error;

/// The directives shared by the stack, its filter and the handle.
pub(crate) type Directives = Arc<RwLock<EnvFilter>>;

/// Reads the directives. Recursively: the filter formats span field values for span-scoped
/// directives, and a `Debug` impl that logs comes back here on the same thread; a plain read
/// would queue behind a `set()` waiting to write, which waits for this very thread.
#[inline]
pub(crate) fn read(directives: &Directives) -> RwLockReadGuard<'_, EnvFilter> {
    directives.read_recursive()
}

/// The `log` crate's level for a `tracing` one.
pub(crate) fn log_level(level: LevelFilter) -> tracing_log::log::LevelFilter {
    use tracing_log::log::LevelFilter as Log;
    match level {
        LevelFilter::OFF => Log::Off,
        LevelFilter::ERROR => Log::Error,
        LevelFilter::WARN => Log::Warn,
        LevelFilter::INFO => Log::Info,
        LevelFilter::DEBUG => Log::Debug,
        _ => Log::Trace,
    }
}

/// The dispatcher the stack was installed in, told by the stack when it is registered
/// (weak: the handle must not keep a dropped subscriber alive).
///
/// Needed because `tracing_core` rebuilds the interest cache against the calling thread's
/// default dispatcher when only one dispatcher exists: a change made on a thread where the
/// stack is not the default (a `with_default` scope elsewhere, a test) would otherwise
/// disable every callsite for it.
#[derive(Clone, Default)]
pub(crate) struct DispatchSlot(Arc<Mutex<Option<WeakDispatch>>>);

impl DispatchSlot {
    pub(crate) fn set(&self, dispatch: &Dispatch) {
        *self.0.lock() = Some(dispatch.downgrade());
    }

    fn get(&self) -> Option<Dispatch> {
        self.0.lock().as_ref().and_then(WeakDispatch::upgrade)
    }
}

/// Parses `directives`, adding the panic records' target at ERROR when the panic hook is on and
/// the directives do not name it (so `RUST_LOG=my_app=debug` cannot silence panics).
/// The error is the reason, for the caller to wrap with the setting's name.
pub(crate) fn parse(directives: &str, panic_hook: bool) -> Result<EnvFilter, String> {
    let names_panic = directives
        .split(',')
        .any(|d| d.trim().starts_with(crate::panic::TARGET));
    let text = if panic_hook && !names_panic {
        format!("{directives},{}=error", crate::panic::TARGET)
    } else {
        directives.to_owned()
    };
    EnvFilter::builder()
        .parse(&text)
        .map_err(|e| format!("invalid filter directives: {e}"))
}

/// Changes the filter directives of the stack it came from, at runtime. Cheap to clone; keep
/// one in an admin endpoint or a signal handler.
///
/// ```
/// # fn main() -> Result<(), logwarden::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// let (subscriber, guard) = logwarden::builder().dir(dir.path()).subscriber()?;
/// let filter = guard.filter_handle();
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::debug!("not written: the filter is `info`");
///     filter.set("info,my_app=debug")?;
///     tracing::debug!(target: "my_app", "written");
///     Ok::<_, logwarden::Error>(())
/// })?;
/// assert_eq!(filter.current(), "info,my_app=debug");
/// # Ok(()) }
/// ```
///
/// Spans that were open when the directives changed are judged by the new ones from then on,
/// except span-scoped directives (`[request{user_id=42}]=debug`), which only match spans
/// created after the change.
#[derive(Clone)]
pub struct FilterHandle {
    directives: Directives,
    text: Arc<Mutex<String>>,
    panic_hook: bool,
    dispatch: DispatchSlot,
    /// Set once `init()` installed the `log` bridge: `log`'s own max level then follows.
    log_bridge: Arc<AtomicBool>,
}

impl FilterHandle {
    pub(crate) fn new(
        directives: Directives,
        text: String,
        panic_hook: bool,
        dispatch: DispatchSlot,
    ) -> FilterHandle {
        FilterHandle {
            directives,
            text: Arc::new(Mutex::new(text)),
            panic_hook,
            dispatch,
            log_bridge: Arc::default(),
        }
    }

    /// `init()` installed the `log` bridge, whose records `log` drops above its own max level:
    /// from now on a change raises or lowers that level with the filter's.
    pub(crate) fn follow_log_bridge(&self) {
        self.log_bridge.store(true, Ordering::Relaxed);
    }

    /// Replaces the directives (`RUST_LOG` syntax) for every event from now on. ERROR events
    /// still reach the alert layer whatever the directives say.
    ///
    /// # Errors
    /// Invalid directives: the error names `FilterHandle::set` and the value, and the
    /// directives in force are kept.
    pub fn set(&self, directives: &str) -> Result<(), Error> {
        let filter = parse(directives, self.panic_hook)
            .map_err(|reason| Error::invalid("FilterHandle::set", directives, reason))?;
        // One change at a time, so the text and the filter in force always agree.
        let mut text = self.text.lock();
        *self.directives.write() = filter;
        directives.clone_into(&mut text);
        drop(text);
        // Outside the lock: rebuilding asks the filter about every callsite. Under the stack's
        // own dispatcher (see `DispatchSlot`).
        match self.dispatch.get() {
            Some(dispatch) => {
                dispatcher::with_default(&dispatch, tracing_core::callsite::rebuild_interest_cache)
            }
            None => tracing_core::callsite::rebuild_interest_cache(),
        }
        if self.log_bridge.load(Ordering::Relaxed) {
            tracing_log::log::set_max_level(log_level(LevelFilter::current()));
        }
        Ok(())
    }

    /// The directives in force, as last given (without the panic target the crate adds).
    pub fn current(&self) -> String {
        self.text.lock().clone()
    }
}

impl fmt::Debug for FilterHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilterHandle")
            .field("directives", &*self.text.lock())
            .finish_non_exhaustive()
    }
}

//! Finishing a [`Builder`]: a validated [`Plan`] becomes a running stack, the log file opened and
//! the writer and alert threads started, then one layer (or one subscriber) and its [`Guard`],
//! returned or installed.

use std::io;
use std::sync::Arc;

use tracing_core::Subscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::Layer;

use super::builder::Builder;
use super::validate::{validate, Output, Plan};
use crate::alert::{self, AlertLayer, Tracker};
use crate::diag::{report, Counters};
use crate::error::Error;
use crate::file::{OpenError, RollingFile};
use crate::guard::{Alerts, Guard};
use crate::notify;
use crate::record::JsonLayer;
use crate::reload::{Directives, DispatchSlot};
use crate::stack::{Stack, StackFilter};
use crate::stdout::pretty_layer;
use crate::writer::{self, IoSink, NonBlocking, Sink};

/// Finishing: build the stack, or install it.
impl Builder {
    /// Builds the layers without installing them, for an application that assembles its own
    /// `tracing_subscriber::registry()` stack. The returned layer carries its own filter (the
    /// `filter`/`RUST_LOG` directives), so it does not restrict the other layers.
    ///
    /// `log`-crate events reach it only if the application installs `tracing_log::LogTracer`.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    /// # fn main() -> Result<(), logwarden::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (layer, guard) = logwarden::builder().service("orders").dir(dir.path()).build()?;
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
    /// assert!(guard.flush());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Builder::init`], except that nothing global is checked.
    pub fn build<S>(self) -> Result<(Box<dyn Layer<S> + Send + Sync>, Guard), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let panic_hook = self.panic_hook == Some(true);
        let (layer, guard, _) = start(validate(self, panic_hook)?)?.into_layer();
        if panic_hook {
            let (flusher, timeout) = guard.flusher();
            crate::panic::install(flusher, timeout);
        }
        Ok((Box::new(layer), guard))
    }

    /// Builds the subscriber [`init`](Builder::init) would install, without installing it: for
    /// a test, or a program that scopes logging with `tracing::subscriber::with_default`. Its
    /// filter applies to the whole subscriber, which makes it a little cheaper per event than
    /// [`build`](Builder::build)'s layer; nothing global is touched (no `log` bridge, and the
    /// panic hook only if asked for with [`panic_hook`](Builder::panic_hook)).
    ///
    /// ```
    /// # fn main() -> Result<(), logwarden::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (subscriber, guard) = logwarden::builder().service("orders").dir(dir.path()).subscriber()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
    /// assert!(guard.flush());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Builder::init`], except that nothing global is checked.
    pub fn subscriber(
        self,
    ) -> Result<
        (
            impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
            Guard,
        ),
        Error,
    > {
        let panic_hook = self.panic_hook == Some(true);
        let (subscriber, guard, _) = start(validate(self, panic_hook)?)?.into_subscriber();
        if panic_hook {
            let (flusher, timeout) = guard.flusher();
            crate::panic::install(flusher, timeout);
        }
        Ok((subscriber, guard))
    }

    /// Validates the settings, opens the log file, starts the writer and installs the global
    /// subscriber (and the `log`-crate bridge, unless turned off).
    ///
    /// # Errors
    /// An [`Error`] naming the setting when a value is invalid, when the log directory cannot be
    /// created or written, when the log path is a symlink or not a regular file, or when a
    /// global subscriber is already installed. Nothing is installed then, so a corrected second
    /// call can succeed.
    pub fn init(self) -> Result<Guard, Error> {
        if tracing::dispatcher::has_been_set() {
            return Err(Error::already_initialized());
        }
        let panic_hook = self.panic_hook != Some(false);
        let (subscriber, guard, capture_log) =
            start(validate(self, panic_hook)?)?.into_subscriber();
        let max_level = tracing_core::Subscriber::max_level_hint(&subscriber);
        // On failure `guard` is dropped here: the threads stop, nothing stays behind.
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|_| Error::already_initialized())?;
        if capture_log {
            let level = crate::reload::log_level(max_level.unwrap_or(LevelFilter::TRACE));
            match tracing_log::LogTracer::builder()
                .with_max_level(level)
                .init()
            {
                // The `log` crate's own gate follows later filter changes too.
                Ok(()) => guard.filter_handle().follow_log_bridge(),
                Err(e) => report(format_args!("`log` events are not captured: {e}")),
            }
        }
        if panic_hook {
            let (flusher, timeout) = guard.flusher();
            crate::panic::install(flusher, timeout);
        }
        Ok(guard)
    }
}

/// The parts of a running stack, before they are put together as a layer or a subscriber.
pub(super) struct Assembled {
    filter: Directives,
    dispatch: DispatchSlot,
    json: JsonLayer<NonBlocking>,
    pretty: Option<NonBlocking>,
    alert: Option<AlertLayer>,
    capture_log: bool,
    counters: Arc<Counters>,
    guard: Guard,
}

/// Opens the log and starts the threads. On an error, whatever was started stops again.
pub(super) fn start(plan: Plan) -> Result<Assembled, Error> {
    let counters = Arc::new(Counters::default());
    // Bound before anything starts: an address in use fails here, with nothing to stop.
    #[cfg(feature = "metrics")]
    let metrics_listener = match plan.metrics_addr {
        Some((addr, from)) => Some(crate::metrics::Bound::bind(addr).map_err(|e| {
            Error::io(
                from,
                &addr.to_string(),
                "cannot serve metrics on this address",
                e,
            )
        })?),
        None => None,
    };
    let layer = plan.layer;
    let notice = layer.notice();
    let (sink, path): (Box<dyn Sink>, _) = match plan.output {
        Output::Writer(w) => (Box::new(IoSink::new(w, "the configured writer")), None),
        Output::File {
            options,
            dir_from,
            name_from,
        } => {
            let dir = options.dir.clone();
            let name = options.name.clone();
            let dir_display = dir.display().to_string();
            let path = dir.join(&options.name);
            let file = RollingFile::open(options, Arc::clone(&counters)).map_err(|e| match e {
                OpenError::Dir(io) => {
                    Error::io(dir_from, &dir_display, "cannot use the log directory", io)
                }
                OpenError::File(io) if path.symlink_metadata().is_ok() => Error::io(
                    name_from,
                    &path.display().to_string(),
                    "cannot open the log file",
                    io,
                ),
                OpenError::File(io) => Error::io(
                    dir_from,
                    &dir_display,
                    "cannot create the log file in this directory",
                    io,
                ),
                OpenError::Busy(pid) => Error::in_use(
                    name_from,
                    &path.display().to_string(),
                    busy_reason(pid, &name),
                ),
            })?;
            let path = file.path().to_path_buf();
            (Box::new(file), Some(path))
        }
    };

    let spawn = |sink: Box<dyn Sink>, name: &str, main: bool| {
        writer::spawn(
            sink,
            plan.buffer_bytes,
            plan.overflow,
            Arc::clone(&counters),
            Some(Box::new(notice.clone())),
            name,
            main,
        )
        .map_err(|e| Error::io("writer thread", name, "cannot start the writer thread", e))
    };
    let mut workers = vec![spawn(sink, "logwarden-writer", true)?];
    let mut records = NonBlocking::new(&workers[0]);
    let mut pretty = None;
    if plan.stdout.is_json() || plan.stdout.is_pretty() {
        let stdout = spawn(
            Box::new(IoSink::new(stdout_writer(), "stdout")),
            "logwarden-stdout",
            false,
        )?;
        if plan.stdout.is_json() {
            records = records.with_tee(&stdout);
        } else {
            pretty = Some(NonBlocking::new(&stdout));
        }
        workers.push(stdout);
    }
    let (alert, alerts) = match plan.alerting {
        Some(alerting) => {
            let tracker = Tracker::new(alerting.settings, plan.clock);
            let (outbox, inbox) = alert::outbox(alerting.delivery.queue);
            let counters = Arc::clone(&outbox.counters);
            let delivery = notify::spawn(
                alerting.destinations,
                tracker.clone(),
                (outbox.clone(), inbox),
                Some((records.clone(), notice)),
                alerting.delivery,
            )
            .map_err(|e| {
                Error::io(
                    "alert thread",
                    "logwarden-alerts",
                    "cannot start the alert delivery thread",
                    e,
                )
            })?;
            let layer = AlertLayer::new(tracker.clone(), outbox, layer.policy(), layer.view());
            let alerts = Alerts {
                delivery,
                tracker,
                counters,
            };
            (Some(layer), Some(alerts))
        }
        None => (None, None),
    };
    #[cfg(feature = "metrics")]
    let exported = {
        let metrics = Arc::new(crate::metrics::Metrics::new(
            &plan.service,
            &plan.env,
            Arc::clone(&counters),
            alerts
                .as_ref()
                .map(|a| (Arc::clone(&a.counters), a.tracker.clone())),
        ));
        let server = match metrics_listener {
            Some(bound) => Some(
                crate::metrics::Server::start(bound, Arc::clone(&metrics)).map_err(|e| {
                    Error::io(
                        "metrics thread",
                        "logwarden-metrics",
                        "cannot start the metrics thread",
                        e,
                    )
                })?,
            ),
            None => None,
        };
        crate::metrics::Exported { metrics, server }
    };
    #[cfg_attr(not(feature = "metrics"), allow(unused_mut))]
    let mut guard = Guard::new(
        workers,
        alerts,
        Arc::clone(&counters),
        plan.shutdown_timeout,
        path,
        plan.filter_handle,
    );
    #[cfg(feature = "metrics")]
    guard.set_metrics(exported);
    Ok(Assembled {
        filter: plan.directives,
        dispatch: plan.dispatch,
        json: layer.with_writer(records),
        pretty,
        alert,
        capture_log: plan.capture_log,
        counters,
        guard,
    })
}

/// Why a file held by another writer cannot be ours, and how to give each writer its own.
fn busy_reason(pid: Option<u32>, name: &str) -> String {
    let holder = match pid {
        Some(pid) if pid == std::process::id() => {
            format!("another logwarden stack of this process (pid {pid})")
        }
        Some(pid) => format!("another process (pid {pid})"),
        None => "another process".to_owned(),
    };
    let own = match name.strip_suffix(".log") {
        Some(stem) => format!("{stem}-{{pid}}.log"),
        None => format!("{name}-{{pid}}"),
    };
    format!(
        "is already being written by {holder}; give each process its own file, such as \
         LOGWARDEN_FILE={own} ({{pid}} becomes the process id) or its own LOGWARDEN_DIR"
    )
}

/// Stdout for the writer thread. On Unix a duplicate of fd 1, written without `std`'s stdout
/// lock: an application that holds that lock while it logs would otherwise wait for the writer,
/// which waits for the lock.
fn stdout_writer() -> Box<dyn io::Write + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() {
            return Box::new(std::fs::File::from(fd));
        }
    }
    Box::new(io::stdout())
}

impl Assembled {
    /// The whole stack as one layer behind one filter (see [`crate::stack`]): the outputs
    /// where the `filter`/`RUST_LOG` directives enable them, the alert layer on every ERROR
    /// event, so that ERROR events of every target count even where the directives silence a
    /// target's output.
    fn into_parts<S>(self) -> (Stack<impl Layer<S> + Send + Sync>, StackFilter, Guard, bool)
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let policy = self.json.policy();
        let outputs = self
            .json
            .and_then(self.pretty.map(|w| pretty_layer(w, policy)));
        let (stack, filter) = crate::stack::stack(
            outputs,
            self.alert,
            self.filter,
            self.dispatch,
            self.counters,
        );
        (stack, filter, self.guard, self.capture_log)
    }

    /// The stack as a layer carrying its own filter, for a registry shared with other layers.
    pub(super) fn into_layer<S>(self) -> (impl Layer<S> + Send + Sync, Guard, bool)
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let (stack, filter, guard, capture_log) = self.into_parts();
        (stack.with_filter(filter), guard, capture_log)
    }

    /// The stack on a registry of its own, its filter global: no per-layer filtering to pay for
    /// on each event and span.
    pub(super) fn into_subscriber(
        self,
    ) -> (
        impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
        Guard,
        bool,
    ) {
        let (stack, filter, guard, capture_log) =
            self.into_parts::<Layered<StackFilter, Registry>>();
        let subscriber = tracing_subscriber::registry().with(filter).with(stack);
        (subscriber, guard, capture_log)
    }
}

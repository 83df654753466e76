//! Heap allocations on the caller's thread, counted by a global allocator: the steady-state cost
//! of an event through the whole stack (`build()`'s layer and `subscriber()`, as `init()`
//! installs it: JSON record, redaction, rotating file writer, alert layer) must be zero
//! allocations, and a span at most what the registry needs plus one for its rendered fields.
//! Counts are deterministic where times are not, so this is the performance guard that runs in
//! CI. A binary of its own: a global allocator is the whole binary's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tracing_subscriber::layer::SubscriberExt;

/// Counts allocations (and reallocations) made by the current thread while counting is on.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; only a thread-local counter
// is touched besides, and `Cell` accesses cannot allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by this thread while running `f`.
fn allocations(f: impl FnOnce()) -> u64 {
    COUNT.set(0);
    COUNTING.set(true);
    f();
    COUNTING.set(false);
    COUNT.get()
}

/// The workload of one typical request: a `request` span (`trace_id`, `method`) containing a
/// `payment` span (`user_id`), ten INFO events with an integer, a float and a message, and a
/// filtered-out DEBUG event after each.
fn request(n: u64) {
    let request = tracing::info_span!(
        "request",
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
        method = "POST"
    );
    let _request = request.enter();
    let payment = tracing::info_span!("payment", user_id = 4242_u64);
    let _payment = payment.enter();
    for i in 0..10 {
        tracing::info!(items = n + i, total = 59.9_f64, "order placed");
        tracing::debug!(detail = i, "filtered out");
    }
}

/// The whole stack (JSON file with rotation, redaction defaults, alert layer, no webhook):
/// `build()`'s layer on a registry (`global: false`), or the subscriber `init()` installs
/// (`global: true`).
fn whole_stack(dir: &std::path::Path, global: bool) -> (tracing::Dispatch, logwarden::Guard) {
    whole_stack_with(dir, global, |b| b)
}

/// [`whole_stack`] with extra builder settings.
fn whole_stack_with(
    dir: &std::path::Path,
    global: bool,
    configure: impl FnOnce(logwarden::Builder) -> logwarden::Builder,
) -> (tracing::Dispatch, logwarden::Guard) {
    let builder = configure(
        logwarden::builder()
            .service("orders")
            .dir(dir)
            .capture_log(false),
    );
    if global {
        let (subscriber, guard) = builder.subscriber().unwrap();
        (tracing::Dispatch::new(subscriber), guard)
    } else {
        let (layer, guard) = builder.build().unwrap();
        (
            tracing::Dispatch::new(tracing_subscriber::registry().with(layer)),
            guard,
        )
    }
}

type Configure = fn(logwarden::Builder) -> logwarden::Builder;

/// The layouts checked: the default under both filter placements, then each preset (with a
/// fixed field and a renamed key, which must cost nothing per event either) under `init()`'s.
fn layouts() -> Vec<(&'static str, bool, Configure)> {
    use logwarden::record::{Format, Key, TimeFormat};
    vec![
        ("default, per-layer filter", false, |b| b),
        ("default", true, |b| b),
        ("ecs", true, |b| {
            b.format(Format::ECS).field("version", "1.4.2")
        }),
        ("gcp", true, |b| {
            b.format(Format::GCP).rename(Key::HOST, "hostname")
        }),
        ("datadog", true, |b| b.format(Format::DATADOG)),
        ("unix_ms", true, |b| b.timestamp(TimeFormat::UNIX_MS)),
    ]
}

#[derive(Debug)]
struct Timeout(std::io::Error);

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream timed out")
    }
}

impl std::error::Error for Timeout {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn events_allocate_nothing_on_the_callers_thread_in_steady_state() {
    let error = Timeout(std::io::Error::from(std::io::ErrorKind::TimedOut));
    for (layout, global, configure) in layouts() {
        let dir = tempfile::tempdir().unwrap();
        let (dispatch, guard) = whole_stack_with(dir.path(), global, configure);
        tracing::dispatcher::with_default(&dispatch, || {
            let request =
                tracing::info_span!("request", trace_id = "4bf92f3577b34da6", method = "POST");
            let _request = request.enter();
            let payment = tracing::info_span!("payment", user_id = 4242_u64);
            let _payment = payment.enter();
            let events = |i: u64| {
                tracing::info!(items = i, total = 59.9_f64, "order placed");
                tracing::debug!(detail = i, "filtered out");
                // An error field with a cause chain (WARN: ERROR events feed the alert engine,
                // which keeps samples by design).
                tracing::warn!(error = &error as &dyn std::error::Error, "retrying");
            };
            // Warm up: thread-local buffers, callsite registration, the writer's buffers. No pause
            // before counting: a writer idle for a second releases its buffers (by design).
            (0..10_000_u64).for_each(events);
            let n = allocations(|| (0..10_000_u64).for_each(events));
            assert_eq!(
                n, 0,
                "allocations for 20 000 events (and 10 000 filtered out), {layout}"
            );
        });
        assert!(guard.flush());
    }
}

/// Allocations per request of the workload under `subscriber`, after a warm-up.
fn per_request(dispatch: &tracing::Dispatch) -> f64 {
    const REQUESTS: u64 = 1_000;
    tracing::dispatcher::with_default(dispatch, || {
        for n in 0..REQUESTS {
            request(n);
        }
        let n = allocations(|| {
            for n in 0..REQUESTS {
                request(n);
            }
        });
        n as f64 / REQUESTS as f64
    })
}

#[test]
fn a_request_allocates_at_most_one_buffer_per_span_beyond_the_registry() {
    // The floor: the registry and an `EnvFilter` with a layer that does nothing.
    struct Nothing;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Nothing {}
    let floor = per_request(&tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(Nothing),
    ));
    for global in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (dispatch, guard) = whole_stack(dir.path(), global);
        let ours = per_request(&dispatch);
        assert!(guard.flush());
        eprintln!("allocations per request (2 spans, 10 events, 10 filtered out): {ours} with logwarden (global filter: {global}), {floor} for the registry and EnvFilter alone");
        // Two spans per request: one buffer each for the rendered fields.
        assert!(
            ours <= floor + 2.0,
            "{ours} allocations per request, floor {floor}, global filter: {global}"
        );
    }
}

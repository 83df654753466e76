//! Span fields when a registry holds more than one logwarden layer, or gains one while spans
//! already exist: each layer stores its own rendering of every span (its redaction, its caps,
//! the ancestors its filter lets it see), and a layer added later still follows the records of
//! spans created before it.

use std::io;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::Layer;

use crate::support;

/// An in-memory `MakeWriter`.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
    type Writer = Buf;
    fn make_writer(&'a self) -> Buf {
        self.clone()
    }
}

impl Buf {
    fn records(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().map(support::parse_line).collect()
    }
}

/// `a` (info) → `b` (debug) → `c` (info), and an event in `c`.
fn three_spans() {
    let _a = tracing::info_span!("a", a = 1).entered();
    let _b = tracing::debug_span!("b", b = 2).entered();
    let _c = tracing::info_span!("c", c = 3).entered();
    tracing::info!("event");
}

#[test]
fn two_json_layers_with_different_filters_each_show_their_own_spans() {
    // Both orders: whichever layer stores last must not decide for the other.
    for info_first in [false, true] {
        let (all, info) = (Buf::default(), Buf::default());
        let unfiltered = logwarden::JsonLayer::new(all.clone());
        let filtered = logwarden::JsonLayer::new(info.clone());
        if info_first {
            let s = tracing_subscriber::registry()
                .with(filtered.with_filter(LevelFilter::INFO))
                .with(unfiltered);
            tracing::subscriber::with_default(s, three_spans);
        } else {
            let s = tracing_subscriber::registry()
                .with(unfiltered)
                .with(filtered.with_filter(LevelFilter::INFO));
            tracing::subscriber::with_default(s, three_spans);
        }
        let (all, info) = (&all.records()[0], &info.records()[0]);
        assert_eq!(
            (&all["a"], &all["b"], &all["c"]),
            (&Value::from(1), &Value::from(2), &Value::from(3)),
            "unfiltered layer: {all}"
        );
        assert!(info.get("b").is_none(), "info layer: {info}");
        assert_eq!((&info["a"], &info["c"]), (&Value::from(1), &Value::from(3)));
    }
}

#[test]
fn two_built_layers_with_different_filters_each_show_their_own_spans() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let builder = |dir: &std::path::Path, filter: &str| {
        logwarden::builder()
            .dir(dir)
            .capture_log(false)
            .alerts(false)
            .filter(filter)
    };
    let (info_layer, info_guard) = builder(d1.path(), "info").build().unwrap();
    let (debug_layer, debug_guard) = builder(d2.path(), "debug").build().unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(info_layer)
        .with(debug_layer);
    tracing::subscriber::with_default(subscriber, three_spans);
    assert!(info_guard.flush() && debug_guard.flush());
    let info = support::read_records(info_guard.log_path().unwrap());
    let debug = support::read_records(debug_guard.log_path().unwrap());
    let (i, d) = (support::one(&info, "event"), support::one(&debug, "event"));
    assert_eq!(d["b"], 2, "the debug file lost the debug span's field: {d}");
    assert!(
        i.get("b").is_none(),
        "the info file shows a span its filter disabled: {i}"
    );
}

/// A layer that redacts nothing next to one with the default keys: the secret in a span field
/// must not reach the second through what the first stored, in either order.
#[test]
fn each_layer_renders_span_fields_under_its_own_redaction() {
    for plain_first in [false, true] {
        let (plain, safe) = (Buf::default(), Buf::default());
        let open = logwarden::JsonLayer::new(plain.clone())
            .redaction(logwarden::redact::Redaction::none());
        let guarded = logwarden::JsonLayer::new(safe.clone());
        let login = || {
            let _s = tracing::info_span!("login", password = "hunter2").entered();
            tracing::info!("in");
        };
        if plain_first {
            let s = tracing_subscriber::registry().with(open).with(guarded);
            tracing::subscriber::with_default(s, login);
        } else {
            let s = tracing_subscriber::registry().with(guarded).with(open);
            tracing::subscriber::with_default(s, login);
        }
        assert_eq!(plain.records()[0]["password"], "hunter2");
        assert_eq!(
            safe.records()[0]["password"],
            "[REDACTED]",
            "plain first: {plain_first}"
        );
    }
}

/// A registry whose logwarden layer is swapped in (`reload`) after spans exist.
fn reloadable() -> (
    impl tracing::Subscriber + Send + Sync,
    reload::Handle<Option<logwarden::JsonLayer<Buf>>, tracing_subscriber::Registry>,
) {
    let (layer, handle) = reload::Layer::new(None::<logwarden::JsonLayer<Buf>>);
    // The level filter keeps spans enabled while the slot is empty.
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(LevelFilter::TRACE);
    (subscriber, handle)
}

#[test]
fn a_span_older_than_the_layer_can_be_recorded_into_before_and_after_it_has_children() {
    let out = Buf::default();
    let (subscriber, handle) = reloadable();
    let result = tracing::subscriber::with_default(subscriber, || {
        let parent = tracing::info_span!("parent", a = tracing::field::Empty);
        handle
            .reload(Some(logwarden::JsonLayer::new(out.clone())))
            .unwrap();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            parent.record("a", 1);
            let child = tracing::info_span!(parent: &parent, "child");
            parent.record("a", 2);
            child.in_scope(|| tracing::info!("event"));
        }))
    });
    assert!(
        result.is_ok(),
        "span.record panicked on the caller's thread"
    );
    assert_eq!(out.records()[0]["a"], 2, "{}", out.records()[0]);
}

#[test]
fn a_record_into_a_span_older_than_the_layer_reaches_its_children() {
    let out = Buf::default();
    let (subscriber, handle) = reloadable();
    tracing::subscriber::with_default(subscriber, || {
        let parent = tracing::info_span!("parent", a = tracing::field::Empty);
        handle
            .reload(Some(logwarden::JsonLayer::new(out.clone())))
            .unwrap();
        let child = tracing::info_span!(parent: &parent, "child");
        parent.record("a", 1);
        child.in_scope(|| tracing::info!("event"));
    });
    assert_eq!(out.records()[0]["a"], 1, "{}", out.records()[0]);
}

/// Records into the root and the middle of a chain while other threads create descendants and
/// log in them: every event logged after a record sees it, at every depth.
#[test]
fn records_at_every_depth_racing_with_descendants_on_other_threads() {
    const THREADS: usize = 3;
    const ROUNDS: u64 = 150;
    let (_, records) = support::capture(|| {
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        let root = tracing::info_span!("root", r = 0_u64);
        let mid = tracing::info_span!(parent: &root, "mid", m = 0_u64);
        let barrier = std::sync::Barrier::new(THREADS + 1);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (dispatch, mid, barrier) = (&dispatch, &mid, &barrier);
                scope.spawn(move || {
                    tracing::dispatcher::with_default(dispatch, || {
                        let leaf = tracing::info_span!(parent: mid, "leaf", t);
                        for round in 1..=ROUNDS {
                            let early = tracing::info_span!(parent: &leaf, "early");
                            let deep = tracing::info_span!(parent: &early, "deep");
                            barrier.wait();
                            for _ in 0..3 {
                                let racing = tracing::info_span!(parent: &deep, "racing");
                                racing.in_scope(|| tracing::info!(round, "during"));
                            }
                            barrier.wait();
                            deep.in_scope(|| tracing::info!(round, "after"));
                            early.in_scope(|| tracing::info!(round, "after"));
                            leaf.in_scope(|| tracing::info!(round, "after"));
                            let late = tracing::info_span!(parent: &deep, "late");
                            late.in_scope(|| tracing::info!(round, "after"));
                            barrier.wait();
                        }
                    })
                });
            }
            for round in 1..=ROUNDS {
                barrier.wait();
                if round % 2 == 0 {
                    root.record("r", round);
                    mid.record("m", round);
                } else {
                    mid.record("m", round);
                    root.record("r", round);
                }
                barrier.wait();
                barrier.wait();
            }
        });
    });
    let after = support::with_message(&records, "after");
    assert_eq!(after.len(), THREADS * ROUNDS as usize * 4);
    for r in after {
        assert_eq!((&r["r"], &r["m"]), (&r["round"], &r["round"]), "{r}");
    }
}

/// One step of [`an_event_sees_the_span_the_registry_reports_whatever_the_order`].
#[derive(Clone, Debug)]
enum Step {
    Enter(usize),
    Exit(usize),
    /// Records `v` (declared with a value) or `x` (declared empty) into a span, on this
    /// thread or on another.
    Record {
        span: usize,
        new_field: bool,
        value: u64,
        elsewhere: bool,
    },
    Event,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (0..4usize).prop_map(Step::Enter),
        3 => (0..4usize).prop_map(Step::Exit),
        2 => (0..4usize, any::<bool>(), 0..1000u64, any::<bool>()).prop_map(
            |(span, new_field, value, elsewhere)| Step::Record { span, new_field, value, elsewhere }
        ),
        4 => Just(Step::Event),
    ]
}

/// The innermost span entered, the registry's way: the last entry that is not a span entered
/// again, among those `enabled` lets through.
fn innermost(stack: &[(usize, bool)], enabled: impl Fn(usize) -> bool) -> Option<usize> {
    stack
        .iter()
        .rev()
        .find(|(i, again)| !again && enabled(*i))
        .map(|(i, _)| *i)
}

/// A record without its time: what two events logged in one place share.
fn without_time(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("timestamp");
    v
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

    /// Enters and exits in any order (a span entered twice, exits out of order, exits of spans
    /// not entered) and records into any span from any thread: an event placed by the current
    /// span gets the same span and fields as one given that span as its explicit parent, which
    /// the layer always looks up in the registry. One layer sees every span; one, filtered,
    /// not the debug span `s3`.
    #[test]
    fn an_event_sees_the_span_the_registry_reports_whatever_the_order(
        steps in proptest::collection::vec(step(), 1..48)
    ) {
        let (all, info) = (Buf::default(), Buf::default());
        let subscriber = tracing_subscriber::registry()
            .with(logwarden::JsonLayer::new(all.clone()))
            .with(logwarden::JsonLayer::new(info.clone()).with_filter(LevelFilter::INFO));
        let dispatch = tracing::Dispatch::new(subscriber);
        let mut events = 0;
        tracing::dispatcher::with_default(&dispatch, || {
            let s0 = tracing::info_span!("s0", v = 0_u64, x = tracing::field::Empty);
            let s1 = tracing::info_span!(parent: &s0, "s1", v = 1_u64, x = tracing::field::Empty);
            let s2 = tracing::info_span!(parent: &s1, "s2", v = 2_u64, x = tracing::field::Empty);
            let s3 = tracing::debug_span!(parent: &s1, "s3", v = 3_u64, x = tracing::field::Empty);
            let spans = [s0, s1, s2, s3];
            let ids: Vec<_> = spans.iter().map(|s| s.id().expect("enabled")).collect();
            let mut stack: Vec<(usize, bool)> = Vec::new();
            for step in &steps {
                match *step {
                    Step::Enter(i) => {
                        let again = stack.iter().any(|(s, _)| *s == i);
                        stack.push((i, again));
                        dispatch.enter(&ids[i]);
                    }
                    Step::Exit(i) => {
                        if let Some(at) = stack.iter().rposition(|(s, _)| *s == i) {
                            stack.remove(at);
                        }
                        dispatch.exit(&ids[i]);
                    }
                    Step::Record { span, new_field, value, elsewhere } => {
                        let field = if new_field { "x" } else { "v" };
                        let span = &spans[span];
                        if elsewhere {
                            std::thread::scope(|s| {
                                s.spawn(|| span.record(field, value));
                            });
                        } else {
                            span.record(field, value);
                        }
                    }
                    Step::Event => {
                        let current = innermost(&stack, |_| true);
                        proptest::prop_assert_eq!(
                            tracing::Span::current().id(),
                            current.map(|i| ids[i].clone()),
                            "the model of the registry's stack is wrong"
                        );
                        let filtered = innermost(&stack, |i| i != 3);
                        tracing::info!(n = events, "here");
                        let parent = |at: Option<usize>| at.map(|i| ids[i].clone());
                        tracing::info!(parent: parent(current), n = events, "here");
                        tracing::info!(parent: parent(filtered), n = events, "here");
                        events += 1;
                    }
                }
            }
            Ok(())
        })?;
        let (all, info) = (all.records(), info.records());
        proptest::prop_assert_eq!(all.len(), 3 * events);
        proptest::prop_assert_eq!(info.len(), 3 * events);
        for (n, (a, i)) in all.chunks(3).zip(info.chunks(3)).enumerate() {
            proptest::prop_assert_eq!(
                without_time(a[0].clone()), without_time(a[1].clone()), "event {}, all spans", n
            );
            proptest::prop_assert_eq!(
                without_time(i[0].clone()), without_time(i[2].clone()), "event {}, info spans", n
            );
        }
    }
}

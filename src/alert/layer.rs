//! The `tracing` adapter of the threshold engine: ERROR events in, alerts to the delivery queue.

use std::cell::Cell;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::engine::{Sample, MESSAGE_MAX};
use super::outbox::Outbox;
use super::tracker::Tracker;
use crate::diag::on_quiet_thread;
use crate::record::Policy;
use crate::redact::redact_text;
use crate::text::{cut, floor_boundary, CappedString};

thread_local! {
    /// Set while this thread is inside the layer: an event raised from within (a `Debug` impl
    /// that logs while the sample is formatted) is not counted instead of deadlocking.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Counts ERROR events in a sliding window and hands alerts to the delivery thread.
///
/// Built and installed by [`init()`](crate::init) and [`Builder::build`](crate::Builder::build)
/// inside the one layer they return;
/// its cost on non-ERROR events is one comparison, and on ERROR events one short lock and O(1)
/// work (plus formatting a sample the first time a kind of error is seen).
pub(crate) struct AlertLayer {
    tracker: Tracker,
    outbox: Outbox,
    /// The records' redaction rules: an alert never shows what the file would not.
    policy: Arc<Policy>,
    /// The record layer whose span fields the alert quotes (rendered under the same rules).
    view: u64,
}

impl fmt::Debug for AlertLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertLayer").finish_non_exhaustive()
    }
}

impl AlertLayer {
    pub(crate) fn new(tracker: Tracker, outbox: Outbox, policy: Arc<Policy>, view: u64) -> Self {
        AlertLayer {
            tracker,
            outbox,
            policy,
            view,
        }
    }
}

/// Identifies the message template: events from the same place in the code form one group.
fn group_key(meta: &Metadata<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    meta.target().hash(&mut h);
    meta.file().hash(&mut h);
    meta.line().hash(&mut h);
    meta.name().hash(&mut h);
    h.finish()
}

/// Collects the message and a `trace_id` field of an event (unless `trace_id` is a redacted key).
/// The first value of each wins, as in the record.
struct SampleVisitor<'a> {
    message: Option<String>,
    trace_id: Option<String>,
    policy: &'a Policy,
}

impl SampleVisitor<'_> {
    fn not_message(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() != "message" {
            self.record_debug(field, value);
        }
    }

    /// Where the value of `field` goes, if it is wanted and not taken yet.
    fn slot(&mut self, field: &Field) -> Option<&mut Option<String>> {
        let slot = match field.name() {
            "message" => &mut self.message,
            "trace_id" if !self.policy.redaction.redacts_field(field.name()) => &mut self.trace_id,
            _ => return None,
        };
        slot.is_none().then_some(slot)
    }
}

/// The message and `trace_id` are taken up to the records' field cap, masked, and only then cut
/// to what an alert shows: the alert shows a prefix of what the file's record says, never a
/// secret that masking would have caught there (a pattern cut in half is not recognised).
impl Visit for SampleVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let cap = self.policy.max_field;
        if let Some(slot) = self.slot(field) {
            *slot = Some(value[..floor_boundary(value, cap)].to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let cap = self.policy.max_field;
        if let Some(slot) = self.slot(field) {
            *slot = Some(CappedString::format(cap, format_args!("{value:?}")).text);
        }
    }

    // Numbers, booleans and errors named `message` are not the record's message (it writes them
    // as `fields.message`), so they are not the alert's either; a numeric `trace_id` still is.
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.not_message(field, &value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.not_message(field, &value);
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.not_message(field, &value);
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.not_message(field, &value);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.not_message(field, &value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.not_message(field, &value);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.not_message(field, &format_args!("{value}"));
    }
}

impl<S> Layer<S> for AlertLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // `log` records arrive on one callsite per level, so this also sees their real level.
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        // The crate's own records never count, nor does anything raised on its own threads.
        let target = meta.target();
        if target == "logwarden" || target.starts_with("logwarden::") || on_quiet_thread() {
            return;
        }
        if INSIDE.replace(true) {
            return;
        }
        // Reset on every way out, a panicking `Debug` impl of the host's included.
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                INSIDE.set(false);
            }
        }
        let _leave = Leave;
        let key = group_key(meta);
        let alerts = self.tracker.observe(self.tracker.now(), key, || {
            let mut visitor = SampleVisitor {
                message: None,
                trace_id: None,
                policy: &self.policy,
            };
            event.record(&mut visitor);
            let patterns = self.policy.redaction.value_patterns();
            // Like every text in the record: taken up to the field cap, masked, then cut.
            let shown = |text: String| cut(redact_text(text, patterns), MESSAGE_MAX);
            let target = meta.target();
            let target = &target[..floor_boundary(target, self.policy.max_field)];
            let (span_trace_id, context) = crate::record::span_context(event, &ctx, self.view);
            Sample {
                message: shown(visitor.message.unwrap_or_default()),
                target: shown(target.to_owned()),
                location: meta.file().map(|f| match meta.line() {
                    Some(line) => format!("{f}:{line}"),
                    None => f.to_owned(),
                }),
                trace_id: visitor.trace_id.map(shown).or(span_trace_id),
                context: context.map(|c| cut(c, MESSAGE_MAX)),
            }
        });
        self.outbox.send(alerts);
    }
}

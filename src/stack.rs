//! The layer [`init()`](crate::init) installs and [`Builder::build`](crate::Builder::build)
//! returns: the outputs and the alert layer behind one per-layer filter.
//!
//! One filter, whose answer per callsite is fixed, so an `info!` costs no filter call; an ERROR
//! event pays one directive match to know whether the outputs want it too (DESIGN.md, "Why one
//! filter for the outputs and the alerts?").

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use std::sync::Arc;

use crate::alert::AlertLayer;
use crate::diag::Counters;
use crate::reload::{read, Directives, DispatchSlot};

/// Outputs (`O`: the JSON file layer, with stdout) and, optionally, the alert layer.
pub(crate) struct Stack<O> {
    outputs: O,
    alert: Option<AlertLayer>,
    /// Events by level, for the metrics.
    events: Arc<Counters>,
    directives: Directives,
    /// Told the dispatcher at registration, for the filter handle.
    dispatch: DispatchSlot,
}

/// Lets through what the output's directives enable, and every ERROR event when alerts are on,
/// whatever the directives say about its target.
pub(crate) struct StackFilter {
    directives: Directives,
    alerts: bool,
}

/// The stack and its filter, ready for `with_filter`.
pub(crate) fn stack<O>(
    outputs: O,
    alert: Option<AlertLayer>,
    directives: Directives,
    dispatch: DispatchSlot,
    events: Arc<Counters>,
) -> (Stack<O>, StackFilter) {
    let filter = StackFilter {
        directives: Directives::clone(&directives),
        alerts: alert.is_some(),
    };
    let stack = Stack {
        outputs,
        alert,
        events,
        directives,
        dispatch,
    };
    (stack, filter)
}

fn is_error_event(meta: &Metadata<'_>) -> bool {
    meta.is_event() && *meta.level() == Level::ERROR
}

impl<S, O> Layer<S> for Stack<O>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    O: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.dispatch.set(subscriber);
        self.outputs.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.outputs.on_layer(subscriber);
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.outputs.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.outputs.on_record(id, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.outputs.on_follows_from(span, follows, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.outputs.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.outputs.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.outputs.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.outputs.on_id_change(old, new, ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.events.events.count(event.metadata().level());
        let Some(alert) = self
            .alert
            .as_ref()
            .filter(|_| is_error_event(event.metadata()))
        else {
            // Only the directives let this event through: it is the outputs'.
            return self.outputs.on_event(event, ctx);
        };
        // An ERROR event: here for the alerts in any case, for the outputs if the directives
        // want it. `log` records are judged by their own target, as when they were enabled.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let wanted = Filter::<S>::enabled(&*read(&self.directives), meta, &ctx);
        if wanted {
            self.outputs.on_event(event, ctx.clone());
        }
        alert.on_event(event, ctx);
    }
}

impl<S> Filter<S> for StackFilter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        (self.alerts && is_error_event(meta)) || Filter::enabled(&*read(&self.directives), meta, cx)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.alerts && is_error_event(meta) {
            Interest::always()
        } else {
            Filter::<S>::callsite_enabled(&*read(&self.directives), meta)
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let hint = Filter::<S>::max_level_hint(&*read(&self.directives));
        if self.alerts {
            Some(hint.map_or(LevelFilter::TRACE, |l| l.max(LevelFilter::ERROR)))
        } else {
            hint
        }
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        Filter::on_new_span(&*read(&self.directives), attrs, id, ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        Filter::on_record(&*read(&self.directives), id, values, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        Filter::on_enter(&*read(&self.directives), id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        Filter::on_exit(&*read(&self.directives), id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        Filter::on_close(&*read(&self.directives), id, ctx);
    }
}

/// The same filter, global: [`Builder::subscriber`](crate::Builder::subscriber) and
/// [`init()`](crate::init) own the whole registry, so it can filter for everyone.
impl<S> Layer<S> for StackFilter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        Filter::<S>::callsite_enabled(self, meta)
    }

    fn enabled(&self, meta: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        Filter::enabled(self, meta, &ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Filter::<S>::max_level_hint(self)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        Layer::on_new_span(&*read(&self.directives), attrs, id, ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        Layer::on_record(&*read(&self.directives), id, values, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        Layer::on_enter(&*read(&self.directives), id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        Layer::on_exit(&*read(&self.directives), id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        Layer::on_close(&*read(&self.directives), id, ctx);
    }
}

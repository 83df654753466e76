//! Which callsites the alert layer sees: every ERROR event, whatever the output directives say,
//! and the spans the output directives enable, so an alert can carry their context.

use tracing_core::subscriber::Interest;
use tracing_core::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

/// A per-layer filter: events by level (ERROR only), spans by the same directives as the output.
#[derive(Debug)]
pub(crate) struct AlertFilter {
    spans: EnvFilter,
}

impl AlertFilter {
    /// `spans` must be built from the same directives as the output layer's filter, so that the
    /// spans the alert layer sees are the ones whose fields the record layer rendered.
    pub(crate) fn new(spans: EnvFilter) -> Self {
        AlertFilter { spans }
    }
}

impl<S> Filter<S> for AlertFilter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        if meta.is_event() {
            *meta.level() == Level::ERROR
        } else {
            Filter::enabled(&self.spans, meta, cx)
        }
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if meta.is_event() {
            if *meta.level() == Level::ERROR {
                Interest::always()
            } else {
                Interest::never()
            }
        } else {
            Filter::<S>::callsite_enabled(&self.spans, meta)
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(
            Filter::<S>::max_level_hint(&self.spans)
                .map_or(LevelFilter::TRACE, |l| l.max(LevelFilter::ERROR)),
        )
    }

    fn on_new_span(
        &self,
        attrs: &tracing_core::span::Attributes<'_>,
        id: &tracing_core::span::Id,
        ctx: Context<'_, S>,
    ) {
        Filter::on_new_span(&self.spans, attrs, id, ctx);
    }

    fn on_record(
        &self,
        id: &tracing_core::span::Id,
        values: &tracing_core::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        Filter::on_record(&self.spans, id, values, ctx);
    }

    fn on_enter(&self, id: &tracing_core::span::Id, ctx: Context<'_, S>) {
        Filter::on_enter(&self.spans, id, ctx);
    }

    fn on_exit(&self, id: &tracing_core::span::Id, ctx: Context<'_, S>) {
        Filter::on_exit(&self.spans, id, ctx);
    }

    fn on_close(&self, id: tracing_core::span::Id, ctx: Context<'_, S>) {
        Filter::on_close(&self.spans, id, ctx);
    }
}

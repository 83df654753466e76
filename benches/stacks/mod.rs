//! The subscriber stacks the benchmarks compare, each behind `EnvFilter("info")` and generic
//! over the writer: logwarden's `JsonLayer`, tracing-subscriber's JSON formatter (with the span
//! options users turn on to get span fields), and tracing-bunyan-formatter.

use tracing::Subscriber;
use tracing_bunyan_formatter::{BunyanFormattingLayer, JsonStorageLayer};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::EnvFilter;

pub const FILTER: &str = "info";

pub fn logwarden<W>(w: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(EnvFilter::new(FILTER))
        .with(logwarden::JsonLayer::new(w).service("orders").env("bench"))
}

/// [`logwarden`] with a record layout other than the default (`JsonLayer::format`, …).
#[allow(dead_code)] // the workload bench's; `per_event` shares this module
pub fn logwarden_layout<W>(
    w: W,
    layout: impl FnOnce(logwarden::JsonLayer<W>) -> logwarden::JsonLayer<W>,
) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(EnvFilter::new(FILTER))
        .with(layout(
            logwarden::JsonLayer::new(w).service("orders").env("bench"),
        ))
}

pub fn ts_json<W>(w: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(EnvFilter::new(FILTER))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .with_writer(w),
        )
}

pub fn bunyan<W>(w: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(EnvFilter::new(FILTER))
        .with(JsonStorageLayer)
        .with(BunyanFormattingLayer::new("orders".into(), w))
}

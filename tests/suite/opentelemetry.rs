//! The OpenTelemetry ids in each record (feature `opentelemetry`): a real `opentelemetry_sdk`
//! tracer provider (no exporter) behind a `tracing-opentelemetry` layer in the same registry.

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use serde_json::Value;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

use crate::support;
use crate::support::{assert_no_duplicate_keys, read_lines};

/// The ids OpenTelemetry gave a span: (trace id as 32 hex, span id as 16 hex).
fn ids_of(span: &tracing::Span) -> (String, String) {
    let cx = span.context();
    let otel = cx.span();
    let sc = otel.span_context();
    assert!(sc.is_valid(), "OpenTelemetry tracks the span");
    (sc.trace_id().to_string(), sc.span_id().to_string())
}

/// Logs through logwarden (`format`) next to a tracing-opentelemetry layer; returns the
/// records and the OpenTelemetry ids of the outer and inner spans.
fn run(format: logwarden::record::Format) -> (Vec<Value>, (String, String), (String, String)) {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("logwarden-test"));
    let dir = tempfile::tempdir().unwrap();
    let (layer, guard) = logwarden::builder()
        .service("orders")
        .dir(dir.path())
        .format(format)
        .capture_log(false)
        .alerts(false)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer).with(otel);
    let (outer_ids, inner_ids) = tracing::subscriber::with_default(subscriber, || {
        tracing::info!("outside any span");
        let outer = tracing::info_span!("request", trace_id = "user-supplied");
        let _o = outer.enter();
        tracing::info!("in request");
        let inner = tracing::info_span!("payment");
        let _i = inner.enter();
        tracing::info!(span_id = "user span id", "in payment");
        (ids_of(&outer), ids_of(&inner))
    });
    assert!(guard.flush());
    let lines = read_lines(guard.log_path().unwrap());
    lines.iter().for_each(|l| assert_no_duplicate_keys(l));
    let records = lines.iter().map(|l| support::parse_line(l)).collect();
    (records, outer_ids, inner_ids)
}

#[test]
fn each_record_in_a_span_carries_the_opentelemetry_ids() {
    let (records, (trace, outer_span), (inner_trace, inner_span)) =
        run(logwarden::record::Format::LOGWARDEN);
    assert_eq!(trace, inner_trace, "one trace");
    assert_ne!(outer_span, inner_span);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(
        hex(&trace, 32) && hex(&outer_span, 16),
        "{trace} {outer_span}"
    );

    assert!(records[0].get("trace_id").is_none(), "no span, no ids");
    assert_eq!(records[1]["trace_id"], trace.as_str());
    assert_eq!(records[1]["span_id"], outer_span.as_str());
    assert_eq!(records[2]["trace_id"], trace.as_str());
    assert_eq!(records[2]["span_id"], inner_span.as_str());
    // The user's own fields of those names are kept, renamed.
    assert_eq!(records[1]["fields.trace_id"], "user-supplied");
    assert_eq!(records[2]["fields.span_id"], "user span id");
}

#[test]
fn each_preset_writes_the_ids_under_its_own_keys() {
    for (format, trace_key, span_key) in [
        (logwarden::record::Format::ECS, "trace.id", "span.id"),
        (
            logwarden::record::Format::GCP,
            "logging.googleapis.com/trace",
            "logging.googleapis.com/spanId",
        ),
    ] {
        let (records, (trace, _), (_, inner_span)) = run(format);
        assert_eq!(records[2][trace_key], trace.as_str(), "{format:?}");
        assert_eq!(records[2][span_key], inner_span.as_str(), "{format:?}");
        // Not reserved in these presets: the user's `trace_id` keeps its name.
        assert_eq!(records[1]["trace_id"], "user-supplied");
    }
}

#[test]
fn datadog_gets_the_decimal_form() {
    let (records, (trace, _), (_, inner_span)) = run(logwarden::record::Format::DATADOG);
    // Datadog's 64-bit ids: the low 64 bits of the 128-bit trace id, in decimal.
    let low = u64::from_str_radix(&trace[16..], 16).unwrap();
    let span = u64::from_str_radix(&inner_span, 16).unwrap();
    assert_eq!(records[2]["dd.trace_id"], low.to_string());
    assert_eq!(records[2]["dd.span_id"], span.to_string());
}

#[test]
fn without_an_opentelemetry_layer_nothing_is_added() {
    let (_, records) = support::capture(|| {
        let _s = tracing::info_span!("request").entered();
        tracing::info!("x");
    });
    assert!(records[0].get("trace_id").is_none() && records[0].get("span_id").is_none());
}

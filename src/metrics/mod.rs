//! Metrics a fleet can sum (cargo feature `metrics`): the counters the stack keeps anyway, in the
//! Prometheus text format, from [`Guard::metrics`](crate::Guard::metrics) or served on
//! `GET /metrics` by a small background thread (`LOGWARDEN_METRICS_ADDR`).
//!
//! Nothing here runs on a caller's thread: the only hot-path cost is the relaxed add per event
//! in [`EventCounts`](crate::diag::EventCounts); the text is made at scrape time.

mod serve;

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

pub(crate) use serve::{parse_addr, Bound, Server};

use crate::alert::{AlertCounters, Tracker};
use crate::diag::{Counters, LEVELS};

/// What the metrics are read from.
#[derive(Clone)]
struct Sources {
    counters: Arc<Counters>,
    alerts: Option<(Arc<AlertCounters>, Tracker)>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

/// The registry of one stack: its counters, labelled with its service and env.
pub(crate) struct Metrics {
    registry: Registry,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new(
        service: &str,
        env: &str,
        counters: Arc<Counters>,
        alerts: Option<(Arc<AlertCounters>, Tracker)>,
    ) -> Self {
        // Every series says whose it is, so that a fleet's are summed `by (service)`; the
        // replica is the scrape target's `instance`.
        let labels = [
            (Cow::Borrowed("service"), Cow::Owned(service.to_owned())),
            (Cow::Borrowed("env"), Cow::Owned(env.to_owned())),
        ];
        let mut registry = Registry::with_labels(labels.into_iter());
        registry.register_collector(Box::new(Sources { counters, alerts }));
        Metrics { registry }
    }

    /// The exposition, in the Prometheus text format (version 0.0.4).
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// The metrics of a stack, and the thread serving them if asked: what the guard keeps.
#[derive(Debug)]
pub(crate) struct Exported {
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) server: Option<Server>,
}

/// The `Content-Type` of [`Metrics::render`]'s text.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for Sources {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let c = &*self.counters;
        {
            let events = ConstCounter::new(0u64);
            let mut family = encoder.encode_descriptor(
                "logwarden_events",
                "Events logged, by level; ERROR events are counted for the alerts whether or not \
                 the filter writes them",
                None,
                events.metric_type(),
            )?;
            for (level, count) in LEVELS.iter().zip(c.events.get()) {
                let labels = [("level", *level)];
                ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
            }
        }
        let writer = [
            (
                "logwarden_lines_written",
                "Records written to the log file",
                &c.lines_written,
            ),
            (
                "logwarden_lines_dropped",
                "Records not queued: the buffer was full under the DROP overflow policy, or they \
                 came after the guard was dropped",
                &c.lines_dropped,
            ),
            (
                "logwarden_lines_lost",
                "Records queued but not written because the file could not be written",
                &c.lines_lost,
            ),
            (
                "logwarden_write_errors",
                "Failed write or open attempts",
                &c.write_errors,
            ),
            ("logwarden_rotations", "Rotations done", &c.rotations),
            (
                "logwarden_rotation_errors",
                "Rotations that failed",
                &c.rotation_errors,
            ),
        ];
        for (name, help, value) in writer {
            counter(&mut encoder, name, help, get(value))?;
        }
        let Some((alerts, tracker)) = &self.alerts else {
            return Ok(());
        };
        let history = tracker.history();
        let alerting = [
            (
                "logwarden_alerts_sent",
                "Alert messages delivered, per destination (each Alertmanager instance counts)",
                get(&alerts.sent),
            ),
            (
                "logwarden_alerts_failed",
                "Alert messages given up on: permanent errors, retries exhausted, shutdown",
                get(&alerts.failed),
            ),
            (
                "logwarden_alerts_dropped",
                "Alerts not queued because the delivery queue was full",
                get(&alerts.dropped),
            ),
            (
                "logwarden_incidents_opened",
                "Incidents opened: the ERROR threshold crossed",
                history.opened,
            ),
            (
                "logwarden_incidents_resolved",
                "Incidents resolved: a window passed below the threshold",
                history.resolved,
            ),
        ];
        for (name, help, value) in alerting {
            counter(&mut encoder, name, help, value)?;
        }
        let e = &mut encoder;
        let open = ConstGauge::new(i64::from(history.open_since.is_some()));
        open.encode(e.encode_descriptor(
            "logwarden_incidents_open",
            "Incidents open now (0 or 1 per process)",
            None,
            open.metric_type(),
        )?)
    }
}

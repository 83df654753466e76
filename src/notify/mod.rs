//! Delivering alerts: the [`Notifier`] trait, its Slack and generic-JSON implementations, the
//! webhook secret, and the background delivery thread with its retries.

mod slack;
mod webhook;
mod worker;

pub use slack::SlackNotifier;
pub use webhook::Webhook;

pub(crate) use worker::{enqueue, spawn, AlertCounters, Delivery, DeliveryOptions, Job};

use serde_json::json;

use crate::alert::Alert;

/// A destination for alerts. The delivery thread posts [`Notifier::body`] as JSON to
/// [`Notifier::webhook`], with timeouts and retries; implementations only shape the payload.
pub trait Notifier: Send + Sync + std::fmt::Debug + 'static {
    /// A short name for diagnostics (`slack`, `webhook`). Never the URL.
    fn name(&self) -> &str;
    /// Where to post.
    fn webhook(&self) -> &Webhook;
    /// The JSON request body for `alert`. Escape everything that came from logs for the
    /// destination's markup.
    fn body(&self, alert: &Alert) -> String;
}

/// Posts alerts as a plain JSON object (for a receiver of your own, Alertmanager-style bridges,
/// or anything that is not Slack-compatible): `kind`, `incident`, `service`, `env`, `host`,
/// `threshold`, `window_secs`, `errors_in_window`, `errors_since_last`, `errors_total`,
/// `first_error_at`, `last_error_at`, `opened_at`, `resolved_at`, `duration_secs`, `top_errors`,
/// `other_errors` and a human-readable `text`.
#[derive(Debug, Clone)]
pub struct JsonNotifier {
    webhook: Webhook,
}

impl JsonNotifier {
    /// A notifier posting to `webhook`.
    pub fn new(webhook: Webhook) -> Self {
        JsonNotifier { webhook }
    }
}

fn rfc3339(t: std::time::SystemTime) -> String {
    crate::timestamp::rfc3339(crate::clock::micros_of(t))
}

impl Notifier for JsonNotifier {
    fn name(&self) -> &str {
        "webhook"
    }

    fn webhook(&self) -> &Webhook {
        &self.webhook
    }

    fn body(&self, alert: &Alert) -> String {
        let top: Vec<_> = alert
            .top_errors
            .iter()
            .map(|g| {
                json!({
                    "message": g.message, "target": g.target, "location": g.location,
                    "count": g.count, "trace_id": g.trace_id, "context": g.context,
                })
            })
            .collect();
        json!({
            "kind": alert.kind.as_str(),
            "incident": alert.incident,
            "service": alert.service,
            "env": alert.env,
            "host": alert.host,
            "threshold": alert.threshold,
            "window_secs": alert.window.as_secs_f64(),
            "errors_in_window": alert.errors_in_window,
            "errors_since_last": alert.errors_since_last,
            "errors_total": alert.errors_total,
            "first_error_at": rfc3339(alert.first_error_at),
            "last_error_at": rfc3339(alert.last_error_at),
            "opened_at": rfc3339(alert.opened_at),
            "resolved_at": alert.resolved_at.map(rfc3339),
            "duration_secs": alert.duration().as_secs_f64(),
            "top_errors": top,
            "other_errors": alert.other_errors,
            "text": slack::headline(alert),
        })
        .to_string()
    }
}

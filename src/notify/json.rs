//! The plain JSON payload, for receivers that are not Slack-compatible.

use serde_json::json;

use super::{slack, Notifier, Webhook};
use crate::alert::Alert;
use crate::timestamp::rfc3339_of as rfc3339;

/// Posts alerts as a plain JSON object (for a receiver of your own, Alertmanager-style bridges,
/// or anything that is not Slack-compatible): `kind`, `incident`, `service`, `env`, `host`,
/// `threshold`, `window_secs`, `errors_in_window`, `errors_since_last`, `errors_total`,
/// `first_error_at`, `last_error_at`, `opened_at`, `resolved_at`, `stopped_at`, `duration_secs`, `top_errors`,
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
            "stopped_at": alert.stopped_at.map(rfc3339),
            "duration_secs": alert.duration().as_secs_f64(),
            "top_errors": top,
            "other_errors": alert.other_errors,
            "text": slack::headline(alert),
        })
        .to_string()
    }
}

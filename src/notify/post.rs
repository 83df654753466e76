//! Posting an alert over HTTP (feature `http`): `ureq` with explicit timeouts and no redirects,
//! retries with backoff, and nothing of the URL in what it reports.

use std::io::Read;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::webhook::Webhook;
use super::{DeliveryOptions, Notifier};
use crate::alert::{Alert, AlertCounters};
use crate::diag::report;

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// Worth another try, after at least this long (a 429's `Retry-After`).
    Retry(String, Option<Duration>),
    /// Retrying cannot help (400, 403, 404, 410…).
    Permanent(String),
}

/// A notifier and the HTTP client that posts what it shapes.
pub(super) struct Destination {
    notifier: Box<dyn Notifier>,
    agent: ureq::Agent,
    rng: u64,
}

impl Destination {
    pub(super) fn new(notifier: Box<dyn Notifier>, options: &DeliveryOptions) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(options.connect_timeout))
            .timeout_global(Some(options.request_timeout))
            .http_status_as_error(false)
            // A webhook that redirects is misconfigured; following it could leak the payload.
            .max_redirects(0)
            .user_agent(concat!("logwarden/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Destination {
            notifier,
            agent,
            rng: seed(),
        }
    }

    /// Posts `alert`, retrying as `options` say; `sleep` waits between attempts and says whether
    /// to go on (not past the shutdown deadline). Every outcome is counted; a failure is
    /// reported once.
    pub(super) fn deliver(
        &mut self,
        alert: &Alert,
        options: &DeliveryOptions,
        counters: &AlertCounters,
        sleep: &dyn Fn(Duration) -> bool,
    ) {
        let body = self.notifier.body(alert);
        let mut attempt = 1;
        let last_error = loop {
            let (error, at_least) = match self.post(self.notifier.webhook(), &body) {
                Attempt::Delivered => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Attempt::Permanent(error) => break format!("{error} (not retried)"),
                Attempt::Retry(error, at_least) => (error, at_least),
            };
            if attempt >= options.max_attempts {
                break format!("{error} (after {attempt} attempts)");
            }
            let wait = at_least
                .unwrap_or(backoff(options, &mut self.rng, attempt))
                .min(options.max_backoff);
            if !sleep(wait) {
                break format!("{error} (gave up at shutdown after {attempt} attempts)");
            }
            counters.retries.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
        };
        counters.failed.fetch_add(1, Ordering::Relaxed);
        report(format_args!(
            "{} alert for incident #{} not delivered to {} ({}): {last_error}",
            alert.kind.as_str(),
            alert.incident,
            self.notifier.name(),
            self.notifier.webhook(),
        ));
    }

    fn post(&self, webhook: &Webhook, body: &str) -> Attempt {
        let result = self
            .agent
            .post(webhook.expose())
            .header("Content-Type", "application/json; charset=utf-8")
            .send(body);
        let mut response = match result {
            Ok(r) => r,
            // Errors of the HTTP stack may quote the URL: never show them unredacted.
            Err(e) => return Attempt::Retry(webhook.redact(&e.to_string()), None),
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Attempt::Delivered;
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut text = String::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(512)
            .read_to_string(&mut text);
        let text: String = webhook
            .redact(text.trim())
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let error = if text.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status} {text}")
        };
        match status {
            // Without `Retry-After`, the usual backoff applies.
            429 => Attempt::Retry(error, retry_after),
            500..=599 => Attempt::Retry(error, None),
            _ => Attempt::Permanent(error),
        }
    }
}

/// Exponential backoff with ±25 % jitter, so that many processes alerting at once do not retry
/// in lockstep.
fn backoff(options: &DeliveryOptions, rng: &mut u64, attempt: u32) -> Duration {
    let base = options
        .backoff
        .saturating_mul(1 << attempt.saturating_sub(1).min(16));
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let jitter = 0.75 + (*rng % 1000) as f64 / 2000.0;
    base.mul_f64(jitter)
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id()).rotate_left(32)) | 1
}

//! Where alerts go: the [`Notifier`] trait that shapes a request body, its Slack and plain-JSON
//! implementations, and the [`Webhook`] URL they post to, which is a secret; and Alertmanager,
//! which keeps an alert alive by resending it rather than receiving messages.
//!
//! Posting happens on a background thread with timeouts and retries (cargo feature `http`, on by
//! default); without a notifier, or without the feature, alerts go to stderr and the log file.

mod alertmanager;
mod json;
#[cfg(feature = "http")]
mod post;
mod slack;
mod webhook;
mod worker;

pub use json::JsonNotifier;
pub use slack::SlackNotifier;
pub use webhook::Webhook;

pub(crate) use alertmanager::{Alertmanager, DEFAULT_ALERTNAME, DEFAULT_RESEND};
pub(crate) use worker::{spawn, Delivery, Destinations};

use std::time::Duration;

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

/// Timeouts and retry policy.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryOptions {
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Duration,
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) max_backoff: Duration,
    pub(crate) queue: usize,
    /// Also print each alert's headline on stdout as it is taken for delivery: `logwarden watch`
    /// shows every decision, whether or not a webhook is configured.
    pub(crate) echo: bool,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            queue: 64,
            echo: false,
        }
    }
}

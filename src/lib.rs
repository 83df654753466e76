//! Proactive structured logging for [`tracing`]: call [`init()`] once, and every event becomes
//! one enriched JSON line in a log file that rotates by size and/or time, written by a background
//! thread, losslessly by default.
//!
//! ```no_run
//! fn main() -> Result<(), logwarden::Error> {
//!     // Reads RUST_LOG and LOGWARDEN_* (see `Builder`); keep the guard until the end of main.
//!     let _guard = logwarden::init()?;
//!
//!     let span = tracing::info_span!("request", trace_id = "4bf92f3577b34da6", user_id = 42);
//!     let _entered = span.enter();
//!     tracing::info!(items = 3, total = 59.90, "order placed");
//!     Ok(())
//! }
//! ```
//!
//! writes to `logs/<service>.log`:
//!
//! ```text
//! {"timestamp":"2026-11-25T22:00:59.123456Z","level":"INFO","message":"order placed","target":"orders","service":"orders","env":"development","host":"web-1","pid":4242,"span":"request","trace_id":"4bf92f3577b34da6","user_id":42,"items":3,"total":59.9}
//! ```
//!
//! # The record
//! Keys come in a fixed order: `timestamp` (RFC 3339, UTC, microseconds), `level`, `message`,
//! `target`, `service`, `env`, `host`, `pid`, `span` (the innermost span's name, only inside a
//! span), then the fields of the enclosing spans (outermost first; an inner span's field shadows
//! an outer one of the same name), then the event's own fields (which shadow span fields).
//! A user field named like a reserved key is written as `fields.<name>`, never dropped. Numbers
//! and booleans stay JSON numbers and booleans; NaN and ±infinity become the strings `"NaN"`,
//! `"inf"`, `"-inf"`. Control characters, quotes, backslashes and U+2028/U+2029 are escaped, so
//! one event is always exactly one line. Log platforms' layouts: [`record::Format`].
//!
//! # Alerts
//! ERROR events are counted in a sliding window (5 within 60 s by default); when the threshold
//! is crossed, an [`alert::Alert`] is posted to a Slack webhook (`SLACK_WEBHOOK_URL`, or
//! [`Builder::slack_webhook`]) from a background thread, then a resolved notice with the
//! incident's duration. [`Guard::incidents`] reports the incident history and MTTR. Without a
//! webhook, alerts go to stderr and to the log file. Other destinations: [`notify`].
//!
//! # Privacy and limits
//! Fields whose name contains a sensitive word (`password`, `token`, `authorization`, … see
//! [`redact::Redaction`]) are written as `"[REDACTED]"` in the file, on stdout and in alerts
//! alike; secret-shaped values (e-mail addresses, card numbers, bearer tokens, JWTs, AWS keys)
//! can be masked inside any text ([`redact::ValuePatterns`]). Each value is capped (32 KiB by
//! default) and each line too (96 KiB), with a visible marker, so one huge field cannot make a
//! huge line.
//!
//! # Composing with your own stack
//! [`Builder::build`] returns the layer (with its own filter) and the [`Guard`] without
//! installing anything; [`Builder::subscriber`] returns the whole subscriber `init()` would
//! install, for a test or a `with_default` scope; [`JsonLayer`] alone formats records for any
//! writer.
//!
//! # Modules
//! The root holds what every user touches; the rest is grouped by concern:
//! [`record`] (the line and its layouts), [`file`](mod@file) (rotation and its wall clock), [`writer`]
//! (overflow and the stdout copy), [`redact`] (what is never written), [`alert`] (what an alert
//! says, the incident history), [`notify`] (where alerts go) and [`testing`] (a manual clock).
//!
//! # Cargo features
//! - `http` (on by default): alerts are posted to webhooks over HTTPS (`ureq` with `rustls`).
//!   Without it nothing of the HTTP stack is built; alerts go to stderr and the log file, and a
//!   configured webhook or notifier makes `init()` return an [`Error`] naming the setting.
//! - `metrics` (on by default): [`Guard::metrics`] gives the stack's counters in the Prometheus
//!   text format, and [`Builder::metrics_addr`] (`LOGWARDEN_METRICS_ADDR`) serves them on
//!   `GET /metrics` (`prometheus-client`). Without it, asking to serve them is an [`Error`].
//! - `gzip` (off by default): compress rotated files to `.gz` on a background thread
//!   ([`Builder::compress`], `LOGWARDEN_COMPRESS`). Without it, asking for compression makes
//!   `init()` return an [`Error`] rather than keep the files uncompressed.
//! - `opentelemetry` (off by default): records inside a span carry the OpenTelemetry trace and
//!   span ids that a `tracing-opentelemetry` layer in the same registry gave the span, under the
//!   keys of the record's [`record::Format`]. Records without such ids are unchanged.
//! - `cli` (off by default): the `logwarden` command (`watch`, `incidents`, `report`); library
//!   users compile none of it.

#![forbid(unsafe_code)]
// Every public item is documented: a published crate's docs are its interface.
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub, rust_2018_idioms)]
// On docs.rs only (it passes `--cfg docsrs` to a nightly rustdoc): label each feature-gated item
// with the feature it needs. `doc_auto_cfg` was merged into `doc_cfg` in 2025 (rust#138907).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod alert;
#[cfg(feature = "cli")]
mod cli;
mod clock;
mod config;
mod diag;
mod error;
pub mod file;
mod guard;
mod host;
#[cfg(feature = "metrics")]
mod metrics;
pub mod notify;
mod panic;
mod parse;
#[cfg(feature = "cli")]
mod read;
pub mod record;
pub mod redact;
mod reload;
mod stack;
mod stdout;
pub mod testing;
mod text;
mod timestamp;
pub mod writer;

pub use config::{builder, init, Builder};
pub use diag::Stats;
pub use error::{Error, ErrorKind};
pub use guard::Guard;
pub use record::JsonLayer;
pub use reload::FilterHandle;

/// The `logwarden` command's entry point, for `src/bin/logwarden.rs` only: not part of the
/// library's API, exempt from semver, and absent unless the `cli` feature is on.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub fn __cli_main() -> std::process::ExitCode {
    cli::main()
}

/// The README's examples, compiled and run as doctests so the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The alerts guide's examples, likewise (`docs/configuration.md` is `Builder`'s own docs).
#[cfg(doctest)]
#[doc = include_str!("../docs/alerts.md")]
pub struct AlertsDoctests;

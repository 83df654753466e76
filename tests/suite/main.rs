//! The integration tests, as one binary of modules: one module per subject, all linked once
//! (one binary per file linked the whole dependency graph 31 times). What must not share its
//! process with other tests is elsewhere: process-wide state (a global subscriber, `init()`) in
//! `tests/global/`, the counting global allocator in `tests/allocations.rs`.
//!
//! Some tests here run their subject in a child process (the panic hook, what is printed on
//! stderr or stdout, the `TZ` of the process): they re-run this binary on one test by its exact
//! name, through `support::child`.

#[path = "../support/mod.rs"]
mod support;

mod alert;
mod alert_stderr;
#[cfg(feature = "http")]
mod alertmanager;
#[cfg(feature = "cli")]
mod cli_incidents;
#[cfg(feature = "cli")]
mod cli_report;
#[cfg(feature = "cli")]
mod cli_serve;
#[cfg(feature = "cli")]
mod cli_watch;
mod config;
mod disk_full;
mod file;
#[cfg(all(feature = "http", feature = "metrics"))]
mod fleet;
mod formats;
mod http_server_selftest;
mod lnav;
#[cfg(feature = "opentelemetry")]
mod opentelemetry;
mod otel_collector;
mod panic_hook;
mod privacy;
mod processes;
#[cfg(all(feature = "http", feature = "metrics"))]
mod prometheus;
mod properties;
mod record;
mod reload;
mod rotation_timezone;
mod rsyslog;
#[cfg(all(feature = "gzip", feature = "http"))]
mod soak;
mod span_views;
#[cfg(not(feature = "http"))]
mod without_http;
mod writer;
mod writer_stderr;

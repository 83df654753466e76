//! Alerts: what they say ([`Alert`]), and the incident history a process reports
//! ([`Incidents`]).
//!
//! ERROR events are counted in a sliding window (5 within 60 s by default); crossing the
//! threshold opens an incident and sends an [`Alert`] of kind [`AlertKind::Opened`], reminders
//! follow at most once per cooldown, and a [`AlertKind::Resolved`] alert with the incident's
//! duration once the window holds fewer errors than the threshold; a process that stops with
//! an incident open says so with a [`AlertKind::Stopped`] alert. Where alerts are sent is the
//! [`notify`](crate::notify) module's concern.

mod engine;
mod layer;
mod message;
mod outbox;
mod tracker;

pub use message::{Alert, AlertKind, ErrorGroup};
pub use tracker::Incidents;

#[cfg(feature = "cli")]
pub(crate) use engine::Engine;
pub(crate) use engine::Settings;
#[cfg(feature = "cli")]
pub(crate) use engine::{Sample, MESSAGE_MAX};
pub(crate) use layer::AlertLayer;
pub(crate) use outbox::{outbox, AlertCounters, Job, Outbox};
pub(crate) use tracker::Tracker;

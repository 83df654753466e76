//! Proactive alerting: the threshold engine (pure), the layer that feeds it ERROR events, and
//! what an alert says.

mod engine;
mod layer;
mod message;

pub use layer::AlertLayer;
pub use message::{Alert, AlertKind, ErrorGroup};

#[cfg(feature = "cli")]
pub(crate) use engine::Sample;
pub(crate) use engine::{Engine, Settings};
#[cfg(feature = "cli")]
pub(crate) use layer::{cut, MESSAGE_MAX};
pub(crate) use message::human_duration;
#[cfg(feature = "cli")]
pub(crate) use message::system_time;

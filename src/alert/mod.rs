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
pub(crate) use message::human_duration;

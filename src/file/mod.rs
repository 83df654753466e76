//! The log file: when it rotates ([`Rotation`], on the wall clock of a [`Timezone`]), and the
//! rolling file itself, which rotates by an atomic swap so the active path never goes missing,
//! keeps a bounded history and can compress it.

#[cfg(feature = "gzip")]
mod gzip;
mod lock;
mod naming;
mod rolling;
mod rotation;
mod swap;
mod timezone;

pub use rotation::Rotation;
pub use timezone::Timezone;

pub(crate) use rolling::{FileOptions, OpenError, RollingFile};

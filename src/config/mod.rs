//! Configuration: the [`Builder`] and its settings, the environment it reads, and the two steps
//! that finish it: validate everything, then start the stack.

mod builder;
mod env;
mod start;
mod validate;

pub use builder::{builder, Builder};
#[cfg(feature = "cli")]
pub(crate) use validate::Alerting;

use crate::error::Error;
use crate::guard::Guard;

/// Configures from the environment and installs the global subscriber: `builder().from_env().init()`.
///
/// # Errors
/// See [`Builder::init`]: invalid variables (named in the message), an unusable log directory,
/// or a second call.
pub fn init() -> Result<Guard, Error> {
    builder().from_env().init()
}

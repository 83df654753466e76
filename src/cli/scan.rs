//! Reading the inputs of `incidents` and `report` into a [`Summary`].

use super::{Failure, Scope};
use crate::read::history::Summary;

/// Reads every line of `scope` (in time order, `.gz` included) and adds it up. A progress line
/// goes to stderr when it is a terminal.
pub(crate) fn summarize(scope: &Scope) -> Result<Summary, Failure> {
    let _ = scope;
    Err(Failure("reading logs is not written yet".into()))
}

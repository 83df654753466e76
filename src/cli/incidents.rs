//! `logwarden incidents`.

use super::{Failure, IncidentsArgs};

pub(crate) fn run(args: IncidentsArgs) -> Result<(), Failure> {
    let _ = args;
    Err(Failure("`incidents` is not written yet".into()))
}

//! `logwarden report`.

use super::{Failure, ReportArgs};

pub(crate) fn run(args: ReportArgs) -> Result<(), Failure> {
    let _ = args;
    Err(Failure("`report` is not written yet".into()))
}

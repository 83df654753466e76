//! `logwarden watch`.

use super::{Failure, WatchArgs};

pub(crate) fn run(args: WatchArgs) -> Result<(), Failure> {
    let _ = args;
    Err(Failure("`watch` is not written yet".into()))
}

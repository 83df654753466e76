//! Tools for testing code that logs through logwarden.
//!
//! A [`ManualClock`] given to [`Builder::clock`](crate::Builder::clock) drives every time-based
//! part of the stack (record timestamps, time rotation, rotated file names, alert windows), so a
//! test can cross an hour boundary or a whole alert window without sleeping.

pub use crate::clock::ManualClock;

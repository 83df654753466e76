//! The JSON line: [`JsonLayer`], which writes one record per event to any writer, and the
//! choices of its layout ([`Format`] for a log platform's keys, [`Key`] to rename one,
//! [`TimeFormat`] for the timestamp).
//!
//! Inside: span fields rendered once per span, the field visitor, escaping, the size caps, and
//! the crate's own records (lines lost, alerts) in the same layout.

mod callsite;
mod current;
mod escape;
mod fields;
mod keys;
mod layer;
mod notice;
mod policy;
mod schema;
mod snippet;
mod spans;

#[cfg(test)]
pub(crate) use escape::escape_into;
pub(crate) use layer::span_context;
pub use layer::JsonLayer;
pub(crate) use notice::Notice;
pub(crate) use policy::{
    Policy, DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_LINE_BYTES, MIN_FIELD_BYTES, MIN_LINE_BYTES,
};
pub(crate) use schema::Layout;
pub use schema::{Format, Key, TimeFormat};

//! The JSON record: escaping, field rendering, span-context storage and the layer.

mod escape;
mod fields;
mod layer;

pub use layer::JsonLayer;
pub(crate) use layer::{span_context, Notice};

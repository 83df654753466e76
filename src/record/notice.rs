//! The crate's own records (lines lost, lines dropped, alerts), rendered in the same layout as
//! events, for the writer and delivery threads to put straight into the file: never `tracing`
//! events, which would go through filters, other layers and the alert counter.

use std::sync::Arc;

use tracing_core::Level;

use super::escape::{escape_into, quoted_into};
use super::schema::Schema;
use crate::clock::Clock;
use crate::writer::Announce;

/// Renders the crate's own records (lines lost, lines dropped) in the same schema as events, with
/// target `logwarden`, for the writer thread to put straight into the file.
#[derive(Clone, Debug)]
pub(crate) struct Notice {
    schema: Arc<Schema>,
    clock: Clock,
}

impl Notice {
    pub(crate) fn new(schema: Arc<Schema>, clock: Clock) -> Self {
        Notice { schema, clock }
    }

    pub(crate) fn render(&self, out: &mut Vec<u8>, level: &str, message: &str) {
        self.render_with(out, level, "logwarden", message, &serde_json::Value::Null);
    }

    /// A record with extra top-level fields (an object; anything else adds nothing).
    pub(crate) fn render_with(
        &self,
        out: &mut Vec<u8>,
        level: &str,
        target: &str,
        message: &str,
        extra: &serde_json::Value,
    ) {
        let level = match level {
            "ERROR" => Level::ERROR,
            "WARN" => Level::WARN,
            "DEBUG" => Level::DEBUG,
            "TRACE" => Level::TRACE,
            _ => Level::INFO,
        };
        self.schema
            .head(out, self.clock.now_micros(), &level, false);
        escape_into(out, message);
        self.schema.after_message(out);
        escape_into(out, target);
        self.schema.after_target(out, None, None);
        if let serde_json::Value::Object(fields) = extra {
            for (key, value) in fields {
                out.push(b',');
                if self.schema.writes(key) {
                    // A fixed field or renamed key of the same name: ours gives way.
                    quoted_into(out, &format!("logwarden.{key}"));
                } else {
                    quoted_into(out, key);
                }
                out.push(b':');
                // serde_json writes valid JSON; only U+2028/9 would need our extra escaping, and
                // values here are numbers and short texts that pass through `quoted_into` below.
                match value {
                    serde_json::Value::String(s) => quoted_into(out, s),
                    other => out.extend_from_slice(other.to_string().as_bytes()),
                }
            }
        }
        out.extend_from_slice(b"}\n");
    }
}

impl Announce for Notice {
    fn render(&self, out: &mut Vec<u8>, level: &str, message: &str) {
        Notice::render(self, out, level, message);
    }
}

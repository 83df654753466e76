//! The optional copy of every record on stdout, for containers and local development.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::Subscriber;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::record::Policy;
use crate::redact::{redact_text, REDACTED};
use crate::text::CappedString;
use crate::writer::NonBlocking;

/// The human-readable layer: tracing-subscriber's compact format, written off-thread, with our
/// own field formatting so that redaction and the size caps apply here exactly as in the file.
pub(crate) fn pretty_layer<S>(
    writer: NonBlocking,
    policy: Arc<Policy>,
) -> impl Layer<S> + Send + Sync
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .compact()
        .with_ansi(std::io::stdout().is_terminal())
        .fmt_fields(PrettyFields(policy))
        .with_writer(writer)
}

/// Formats fields as `message name=value …`.
struct PrettyFields(Arc<Policy>);

impl<'w> FormatFields<'w> for PrettyFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = PrettyVisitor {
            policy: &self.0,
            out: String::new(),
        };
        fields.record(&mut visitor);
        writer.write_str(&visitor.out)
    }
}

struct PrettyVisitor<'a> {
    policy: &'a Policy,
    out: String,
}

impl PrettyVisitor<'_> {
    fn push(&mut self, field: &Field, value: fmt::Arguments<'_>, quote: bool) {
        if !self.out.is_empty() {
            self.out.push(' ');
        }
        let name = field.name();
        if name != "message" {
            let _ = write!(self.out, "{name}=");
            if self.policy.redaction.redacts_field(name) {
                self.out.push_str(REDACTED);
                return;
            }
        }
        let text = CappedString::format(self.policy.max_field, value);
        let mut text_out = redact_text(text.text, self.policy.redaction.value_patterns());
        if text.dropped > 0 {
            let _ = write!(text_out, "…[truncated {} bytes]", text.dropped);
        }
        if quote && name != "message" {
            let _ = write!(self.out, "{text_out:?}");
        } else {
            push_without_controls(&mut self.out, &text_out);
        }
    }
}

/// Appends `text` with control characters (C0, DEL, C1) written as escapes: a logged value can
/// then neither start a fake line nor send escape sequences to the terminal.
fn push_without_controls(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

impl Visit for PrettyVisitor<'_> {
    // Bridged `log` records carry their metadata as `log.*` fields, already in the target.
    fn record_u64(&mut self, field: &Field, value: u64) {
        if !field.name().starts_with("log.") {
            self.push(field, format_args!("{value}"), false);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !field.name().starts_with("log.") {
            self.push(field, format_args!("{value}"), true);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format_args!("{value:?}"), false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let mut out = String::new();
        push_without_controls(&mut out, "a\u{1b}]0;x\u{7}\nb\u{85}é");
        assert_eq!(out, "a\\u{1b}]0;x\\u{7}\\nb\\u{85}é");
    }
}

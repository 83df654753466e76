//! The Slack incoming-webhook payload: `text` as the fallback plus Block Kit blocks, with every
//! piece of log content escaped and Slack's size limits respected.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{Notifier, Webhook};
use crate::alert::{Alert, AlertKind};
use crate::text::human_duration;

/// Slack's limit on a section block's text, in characters.
const SECTION_MAX: usize = 3_000;
/// Slack's limit on the top-level `text`, in characters.
const TEXT_MAX: usize = 40_000;
/// How much of one error message is shown.
const MESSAGE_MAX: usize = 500;
const TRUNCATED: &str = "… [truncated]";

/// Posts alerts to a Slack incoming webhook (Mattermost and Discord's `/slack` endpoints accept
/// the same payload).
#[derive(Debug, Clone)]
pub struct SlackNotifier {
    webhook: Webhook,
}

impl SlackNotifier {
    /// A notifier posting to `webhook`.
    pub fn new(webhook: Webhook) -> Self {
        SlackNotifier { webhook }
    }
}

impl Notifier for SlackNotifier {
    fn name(&self) -> &str {
        "slack"
    }

    fn webhook(&self) -> &Webhook {
        &self.webhook
    }

    fn body(&self, alert: &Alert) -> String {
        payload(alert).to_string()
    }
}

/// Escapes text for Slack's `mrkdwn`: with `&`, `<` and `>` replaced, log content cannot form a
/// mention (`<!channel>`, `<@U123>`) or a link (`<https://…|label>`).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Backticks would end the code span the message sits in.
            '`' => out.push('\''),
            // A line break would start a line of its own (a fake "resolved" one), a bidi override
            // reorder what follows: shown as what they are.
            c if c.is_control() || crate::text::is_invisible(c) => {
                out.extend(c.escape_default());
            }
            c => out.push(c),
        }
    }
    out
}

/// Cuts `text` to at most `max` characters, on a character boundary, ending with a marker.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(TRUNCATED.chars().count());
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    format!("{}{TRUNCATED}", &text[..end])
}

/// Seconds are enough for people.
fn time(t: std::time::SystemTime) -> String {
    crate::timestamp::rfc3339_seconds(crate::clock::micros_of(t))
}

/// The one-line summary, also the notification text on phones: plain text, for a terminal, a
/// record or a JSON payload (see [`headline_with`] for Slack's).
pub(crate) fn headline(alert: &Alert) -> String {
    headline_with(alert, &|s| s.to_owned())
}

/// The summary with each label from logs (service, env, host) written by `label`.
fn headline_with(alert: &Alert, label: &dyn Fn(&str) -> String) -> String {
    let who = format!(
        "{} ({}) on {}",
        label(&alert.service),
        label(&alert.env),
        label(&alert.host)
    );
    match alert.kind {
        AlertKind::Opened => format!(
            "🔴 Incident #{}: {} ERROR events in {} in {who}",
            alert.incident,
            alert.errors_in_window,
            human_duration(alert.window)
        ),
        AlertKind::Reminder => format!(
            "🟠 Incident #{} still open: {} more ERROR events in {who} ({} in total, open for {})",
            alert.incident,
            alert.errors_since_last,
            alert.errors_total,
            human_duration(alert.duration())
        ),
        AlertKind::Resolved => format!(
            "✅ Incident #{} resolved in {who} after {}, {} ERROR events in total",
            alert.incident,
            human_duration(alert.duration()),
            alert.errors_total
        ),
        AlertKind::Stopped => format!(
            "⚪ Incident #{} still open when {who} stopped: open for {}, {} ERROR events so far; \
             not resolved, and no more news of it from this process",
            alert.incident,
            human_duration(alert.duration()),
            alert.errors_total
        ),
    }
}

/// Text from logs outside a code span, for `mrkdwn`: escaped, and in a code span of its own
/// when it holds a character Slack formats with (`*bold*`, `_italic_`, `~strike~`), which has
/// no escape of its own.
fn label(text: &str) -> String {
    if text.contains(['*', '_', '~', '`']) {
        format!("`{}`", escape(text))
    } else {
        escape(text)
    }
}

/// The headline for Slack, labels escaped.
fn slack_headline(alert: &Alert) -> String {
    headline_with(alert, &label)
}

/// The details as mrkdwn lines: times, then the top errors with their source and context.
fn details(alert: &Alert) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "*Threshold:* {} ERROR events in {}   *First error:* {}   *Last error:* {}",
        alert.threshold,
        human_duration(alert.window),
        time(alert.first_error_at),
        time(alert.last_error_at)
    );
    if let Some(resolved) = alert.resolved_at {
        let _ = writeln!(
            out,
            "*Opened:* {}   *Resolved:* {}",
            time(alert.opened_at),
            time(resolved)
        );
    }
    if let Some(stopped) = alert.stopped_at {
        let _ = writeln!(
            out,
            "*Opened:* {}   *Process stopped:* {}",
            time(alert.opened_at),
            time(stopped)
        );
    }
    if alert.kind == AlertKind::Resolved {
        return out;
    }
    out.push_str("*Top errors:*\n");
    for g in &alert.top_errors {
        let _ = write!(
            out,
            "• *{}×* `{}` — {}",
            g.count,
            escape(&truncate(&g.message, MESSAGE_MAX)),
            label(&g.target)
        );
        if let Some(location) = &g.location {
            let _ = write!(out, " at {}", label(location));
        }
        if let Some(trace_id) = &g.trace_id {
            let _ = write!(out, "\n    trace_id `{}`", escape(trace_id));
        } else if let Some(context) = &g.context {
            let _ = write!(
                out,
                "\n    context `{}`",
                escape(&truncate(context, MESSAGE_MAX))
            );
        }
        out.push('\n');
    }
    if alert.other_errors > 0 {
        let _ = writeln!(out, "• and {} more of other kinds", alert.other_errors);
    }
    out
}

/// The fallback `text` (no blocks): what Slack shows in notifications and old clients.
pub(crate) fn plain_text(alert: &Alert) -> String {
    let mut text = String::new();
    if let Some(mention) = &alert.mention {
        text.push_str(mention);
        text.push(' ');
    }
    text.push_str(&slack_headline(alert));
    text.push('\n');
    text.push_str(&details(alert));
    truncate(&text, TEXT_MAX)
}

/// The whole Slack payload.
pub(crate) fn payload(alert: &Alert) -> Value {
    let mut headline_text = slack_headline(alert);
    if let Some(mention) = &alert.mention {
        // The one piece that is not escaped: it comes from the configuration, not from logs.
        headline_text = format!("{mention} {headline_text}");
    }
    json!({
        "text": plain_text(alert),
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": truncate(&headline_text, SECTION_MAX) } },
            { "type": "section", "text": { "type": "mrkdwn", "text": truncate(&details(alert), SECTION_MAX) } },
            { "type": "context", "elements": [
                { "type": "mrkdwn", "text": format!(
                    "logwarden · service {} · env {} · host {} · incident #{}",
                    label(&alert.service), label(&alert.env), label(&alert.host), alert.incident
                ) }
            ] }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_bidi_overrides_from_logs_are_shown_escaped() {
        assert_eq!(escape("a\n✅ b\u{202E}c"), "a\\n✅ b\\u{202e}c");
        assert_eq!(
            label("orders\n✅ Incident #1 resolved"),
            "orders\\n✅ Incident #1 resolved"
        );
    }

    #[test]
    fn formatting_from_logs_lands_in_a_code_span() {
        assert_eq!(label("orders"), "orders");
        assert_eq!(label("*bold* _it_ ~st~"), "`*bold* _it_ ~st~`");
        assert_eq!(label("a`b <!here>"), "`a'b &lt;!here&gt;`");
    }

    #[test]
    fn escaping_defuses_mentions_and_links() {
        assert_eq!(
            escape("<!channel> & <@U123> <https://x|y>"),
            "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://x|y&gt;"
        );
    }

    #[test]
    fn truncation_respects_characters_and_marks_the_cut() {
        let s = "é".repeat(5_000);
        let t = truncate(&s, 3_000);
        assert_eq!(t.chars().count(), 3_000);
        assert!(t.ends_with(TRUNCATED));
        assert_eq!(truncate("short", 3_000), "short");
    }
}

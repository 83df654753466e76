//! `logwarden incidents`: the incident table and MTTR, or one JSON object with `--json`.

use std::io::{IsTerminal as _, Write as _};

use serde_json::json;

use super::scan::summarize;
use super::{bytes, Failure, IncidentsArgs};
use crate::read::history::{Source, Summary};
use crate::text::for_terminal;
use crate::text::human_duration;
use crate::timestamp::rfc3339;

pub(crate) fn run(args: IncidentsArgs) -> Result<(), Failure> {
    let summary = summarize(&args.scope)?;
    let text = if args.json {
        let json = serde_json::to_string_pretty(&as_json(&summary)).expect("plain JSON");
        let mut text = crate::text::json_visible(json);
        text.push('\n');
        text
    } else {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        table(&summary, colour)
    };
    // A closed stdout (`| head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    super::scan::complete(&summary)
}

fn seconds(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}

/// The `--json` object: `incidents` (oldest first), `count` (all of them), `total_s` and
/// `mttr_s` (resolved incidents only), and what an open incident means.
pub(crate) fn as_json(summary: &Summary) -> serde_json::Value {
    let incidents: Vec<_> = summary
        .incidents
        .iter()
        .map(|i| {
            json!({
                "opened_at": rfc3339(i.opened_at),
                "resolved_at": i.resolved_at.map(rfc3339),
                "stopped_at": i.stopped_at.filter(|_| i.resolved_at.is_none()).map(rfc3339),
                "duration_s": i.duration().map(seconds),
                "errors": i.errors,
                "top_message": i.top_message,
                "first_error_at": rfc3339(i.first_error_at),
                "first_alert_at": rfc3339(i.first_alert_at),
                "service": i.service,
            })
        })
        .collect();
    let source = match summary.source {
        Source::Records => "alert records",
        Source::Derived { .. } => "derived from ERROR times",
        Source::Mixed { .. } => "alert records, derived where there are none",
    };
    let rule = summary.source.rule().map(
        |(threshold, window)| json!({"threshold": threshold, "window_s": window.as_secs_f64()}),
    );
    json!({
        "incidents": incidents,
        "count": summary.incidents.len(),
        "resolved": summary.resolved().count(),
        "open": summary.still_open(),
        "stopped": summary.stopped(),
        "total_s": seconds(summary.total()),
        "mttr_s": summary.mttr().map(seconds),
        "longest_s": summary.longest().and_then(|i| i.duration()).map(seconds),
        "errors": summary.errors,
        "errors_per_hour": summary.errors_per_hour(),
        "source": source,
        "rule": rule,
        "lines": summary.lines,
        "skipped": summary.skipped,
        "note": "an incident still open at the end of the input has resolved_at null, one its \
                 process stopped with has stopped_at instead; both are left out of total_s and \
                 mttr_s",
    })
}

/// `2026-11-25 22:00:59`: the table's times (UTC, said in the header).
fn clock(micros: i64) -> String {
    rfc3339(micros)[..19].replace('T', " ")
}

fn table(summary: &Summary, colour: bool) -> String {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    let services: std::collections::BTreeSet<_> = summary
        .incidents
        .iter()
        .filter_map(|i| i.service.as_deref())
        .collect();
    let with_service = services.len() > 1;
    let mut rows = vec![{
        let mut head = vec![
            "#",
            "opened (UTC)",
            "first alert",
            "resolved",
            "duration",
            "errors",
        ];
        if with_service {
            head.push("service");
        }
        head.push("top message");
        head.into_iter().map(str::to_owned).collect::<Vec<_>>()
    }];
    for (n, i) in summary.incidents.iter().enumerate() {
        let mut row = vec![
            (n + 1).to_string(),
            clock(i.opened_at),
            clock(i.first_alert_at),
            match (i.resolved_at, i.stopped_at) {
                (Some(at), _) => clock(at),
                (None, Some(at)) => format!("stopped {}", clock(at)),
                (None, None) => "open".to_owned(),
            },
            i.duration().map_or_else(|| "-".to_owned(), human_duration),
            i.errors.to_string(),
        ];
        if with_service {
            row.push(for_terminal(i.service.as_deref().unwrap_or(""), 20));
        }
        row.push(for_terminal(&i.top_message, 60));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    if !summary.incidents.is_empty() {
        for (r, row) in rows.iter().enumerate() {
            let last = row.len() - 1;
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c == last {
                    line.push_str(cell);
                } else {
                    let pad = widths[c] - cell.chars().count();
                    // Numbers right-aligned, text left-aligned.
                    if c == 0 || c == 5 {
                        line.push_str(&" ".repeat(pad));
                        line.push_str(cell);
                    } else {
                        line.push_str(cell);
                        line.push_str(&" ".repeat(pad));
                    }
                    line.push_str("  ");
                }
            }
            let line = line.trim_end().to_owned();
            out.push_str(&match r {
                0 => paint("1", &line),
                _ if row[3] == "open" => paint("31", &line),
                _ => line,
            });
            out.push('\n');
        }
        out.push('\n');
    }
    let open = summary.still_open();
    out.push_str(&format!(
        "{} incident{}",
        summary.incidents.len(),
        if summary.incidents.len() == 1 {
            ""
        } else {
            "s"
        }
    ));
    let stopped = summary.stopped();
    let unended = match (open, stopped) {
        (0, 0) => None,
        (open, 0) => Some(format!("{open} still open")),
        (0, stopped) => Some(format!("{stopped} ended by its process stopping")),
        (open, stopped) => Some(format!(
            "{open} still open, {stopped} ended by its process stopping"
        )),
    };
    if let Some(unended) = unended {
        out.push_str(&format!(" ({unended}, left out of the total and MTTR)"));
    }
    out.push_str(", ");
    out.push_str(&summary.source.describe());
    out.push('\n');
    let mttr = summary
        .mttr()
        .map_or_else(|| "-".to_owned(), human_duration);
    out.push_str(&format!(
        "time in incident: {}   MTTR: {}",
        human_duration(summary.total()),
        paint("1", &mttr)
    ));
    if let Some(longest) = summary.longest() {
        let n = summary
            .incidents
            .iter()
            .position(|i| std::ptr::eq(i, longest))
            .map_or(0, |p| p + 1);
        out.push_str(&format!(
            "   longest: {} (#{n})",
            longest.duration().map_or_else(String::new, human_duration)
        ));
    }
    out.push('\n');
    out.push_str(&format!("errors: {}", summary.errors));
    if let Some(rate) = summary.errors_per_hour() {
        out.push_str(&format!(" ({rate:.1} per hour)"));
    }
    out.push_str(&format!(
        "   lines: {} ({} skipped)   read: {} in {} file{}\n",
        summary.lines,
        summary.skipped,
        bytes(summary.bytes),
        summary.files.len(),
        if summary.files.len() == 1 { "" } else { "s" }
    ));
    out
}

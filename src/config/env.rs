//! The environment as one table: each variable the crate reads, what it sets, what it expects,
//! its default, its builder method, and how its value applies. The table drives parsing, the
//! error an unparsable value gets, the warning for a misspelt name, and the check that the
//! documentation's table says the same.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use super::builder::{Builder, Val, WebhookKind};
use crate::diag::report;
use crate::error::Error;
use crate::file::{Rotation, Timezone};
use crate::parse;
use crate::record::{Format, TimeFormat};
use crate::redact::ValuePatterns;
use crate::writer::{Overflow, StdoutMode};

/// Why a value was refused: not what `expects` describes, or a reason of its own.
type Refusal = Option<String>;

/// One environment variable. `sets`, `default` and `method` are read by the check that the
/// documentation's table is this one.
#[cfg_attr(not(test), allow(dead_code))]
pub(super) struct Var {
    pub(super) name: &'static str,
    /// What it configures, in a few words.
    pub(super) sets: &'static str,
    /// The accepted values, as an error message puts them after "expected".
    pub(super) expects: &'static str,
    pub(super) default: &'static str,
    /// The builder method that sets the same thing, or `–`.
    pub(super) method: &'static str,
    /// Not read when this other variable is set (the more specific one wins).
    unless: Option<&'static str>,
    /// Still refused when not valid UTF-8 although `unless` is set (as it always was).
    checked_anyway: bool,
    /// A credential: its value is never shown, not even in an error.
    secret: bool,
    apply: fn(&mut Builder, &'static str, &str) -> Result<(), Refusal>,
}

/// `value` parsed by `parse`, or refused with the variable's `expects`.
fn parsed<T>(value: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, Refusal> {
    parse(value).ok_or(None)
}

/// A size limit that `off` turns off.
fn limit(value: &str) -> Result<Option<u64>, Refusal> {
    parsed(value, |s| match s.trim().to_ascii_lowercase().as_str() {
        "off" | "none" | "unlimited" => Some(None),
        _ => parse::byte_size(s).filter(|&n| n > 0).map(Some),
    })
}

fn size(value: &str) -> Result<usize, Refusal> {
    parsed(value, |s| {
        parse::byte_size(s).and_then(|n| usize::try_from(n).ok())
    })
}

/// Every variable the crate reads, in the order they apply: the first refused one is the error
/// (the order the variables were always read in).
pub(super) const VARS: &[Var] = &[
    Var {
        name: "RUST_LOG",
        sets: "the filter directives of the outputs",
        expects: "EnvFilter directives such as info,my_crate=debug",
        default: "`info`",
        method: "filter()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.filter = Val::new(v.to_owned(), name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_SERVICE",
        sets: "the `service` field, and the default file name",
        expects: "a name such as orders",
        default: "`OTEL_SERVICE_NAME`, else the executable's file stem",
        method: "service()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.identity.service = Some(Val::new(v.to_owned(), name));
            Ok(())
        },
    },
    Var {
        name: "OTEL_SERVICE_NAME",
        sets: "the service, when `LOGWARDEN_SERVICE` is unset",
        expects: "a name such as orders",
        default: "unset",
        method: "service()",
        unless: Some("LOGWARDEN_SERVICE"),
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.identity.service = Some(Val::new(v.to_owned(), name));
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_ENV",
        sets: "the `env` field",
        expects: "a name such as production",
        default: "`APP_ENV`, else `development`",
        method: "env()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.identity.env = Some(v.to_owned());
            Ok(())
        },
    },
    Var {
        name: "APP_ENV",
        sets: "the `env` field, when `LOGWARDEN_ENV` is unset",
        expects: "a name such as production",
        default: "unset",
        method: "env()",
        unless: Some("LOGWARDEN_ENV"),
        checked_anyway: true,
        secret: false,
        apply: |b, _, v| {
            b.identity.env = Some(v.to_owned());
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_DIR",
        sets: "the log directory, created with its parents if missing",
        expects: "a directory path",
        default: "`logs`",
        method: "dir()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.file.dir = Val::new(PathBuf::from(v), name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_FILE",
        sets: "the active file's name; `{pid}` in it becomes the process id",
        expects: "a plain file name such as orders.log (no path separators)",
        default: "`<service>.log`",
        method: "file_name()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.file.name = Some(Val::new(v.to_owned(), name));
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_MAX_BYTES",
        sets: "the size trigger: rotate before a write would exceed it",
        expects: "a byte count such as 10485760 or 10MiB (or `off` for no size limit)",
        default: "`10MiB`",
        method: "max_bytes()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.file.max_bytes = Val::new(limit(v)?, name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_MAX_TOTAL_BYTES",
        sets: "a cap on the rotated files' total size",
        expects: "a byte count such as 1073741824 or 1GiB (or `off` for no size limit)",
        default: "`off`",
        method: "max_total_bytes()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.file.max_total_bytes = Val::new(limit(v)?, name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_ROTATION",
        sets: "the time trigger, combined with the size trigger",
        expects: "one of never, minutely, hourly, daily",
        default: "`never`",
        method: "rotation()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.file.rotation = parsed(v, Rotation::parse)?;
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_TIMEZONE",
        sets: "the wall clock of the time trigger (timestamps and file names stay UTC)",
        expects: "utc, local (TZ, else /etc/localtime) or a zone name such as Europe/Berlin",
        default: "`utc`",
        method: "timezone()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            let timezone = Timezone::parse(v);
            // Checked now, so that a later `timezone()` in code cannot hide a bad variable.
            timezone.resolve().map_err(Some)?;
            b.file.timezone = Val::new(timezone, name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_KEEP",
        sets: "how many rotated files are kept",
        expects: "a number of rotated files to keep, such as 5",
        default: "`5`",
        method: "keep()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.file.keep = parsed(v, |s| s.trim().parse::<usize>().ok())?;
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_STDOUT",
        sets: "a copy of every record on stdout",
        expects: "one of json, pretty, off",
        default: "`off`",
        method: "stdout()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.writer.stdout = parsed(v, StdoutMode::parse)?;
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_BUFFER_BYTES",
        sets: "the writer's buffer cap",
        expects: "a byte count such as 1048576 or 1MiB",
        default: "`1MiB`",
        method: "buffer_bytes()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            let bytes = parsed(v, |s| {
                parse::byte_size(s)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
            })?;
            b.writer.buffer_bytes = Val::new(bytes, name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_OVERFLOW",
        sets: "what happens when the buffer is full",
        expects: "block (lossless) or drop",
        default: "`block`",
        method: "overflow()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.writer.overflow = parsed(v, |s| match s.trim().to_ascii_lowercase().as_str() {
                "block" => Some(Overflow::BLOCK),
                "drop" => Some(Overflow::DROP),
                _ => None,
            })?;
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_SHUTDOWN_TIMEOUT",
        sets: "how long dropping the guard may wait for the writer",
        expects: "a duration such as 5s, 500ms or 1m",
        default: "`5s`",
        method: "shutdown_timeout()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.writer.shutdown_timeout = parsed(v, parse::duration)?;
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_FILE_MODE",
        sets: "the permission bits of created files",
        expects: "octal permission bits such as 0640 or 0600",
        default: "`0640`",
        method: "file_mode()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.file.mode = parsed(v, parse::file_mode)?;
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_COMPRESS",
        sets: "gzip of rotated files (cargo feature `gzip`)",
        expects: "true or false",
        default: "`false`",
        method: "compress()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.file.compress = Val::new(parsed(v, parse::boolean)?, name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_ALERTS",
        sets: "the ERROR-threshold alerts",
        expects: "on or off",
        default: "`on`",
        method: "alerts()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.alerts.on = parsed(v, parse::boolean)?;
            Ok(())
        },
    },
    Var {
        name: "SLACK_WEBHOOK_URL",
        sets: "the Slack incoming webhook alerts are posted to",
        expects: "a Slack incoming-webhook URL (https://, or http:// on loopback only)",
        default: "unset: alerts go to stderr and the log file",
        method: "slack_webhook()",
        unless: None,
        checked_anyway: false,
        secret: true,
        apply: |b, name, v| {
            // Validated at init, so that the error names the variable and shows scheme and host only.
            b.alerts.webhook = Some((Val::new(v.to_owned(), name), WebhookKind::Slack));
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_ALERT_THRESHOLD",
        sets: "the ERROR events within the window that open an incident",
        expects: "a number of ERROR events, at least 1",
        default: "`5`",
        method: "alert_threshold()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            let n = parsed(v, |s| s.trim().parse::<usize>().ok().filter(|&n| n >= 1))?;
            b.alerts.threshold = Val::new(n, name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_ALERT_WINDOW",
        sets: "the sliding window",
        expects: "a duration such as 60, 60s or 5m",
        default: "`60s`",
        method: "alert_window()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            let window = parsed(v, |s| parse::duration(s).filter(|d| !d.is_zero()))?;
            b.alerts.window = Val::new(window, name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_ALERT_COOLDOWN",
        sets: "the least time between two messages about one open incident",
        expects: "a duration such as 300, 5m or 1h",
        default: "`5m`",
        method: "alert_cooldown()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.alerts.cooldown = parsed(v, parse::duration)?;
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_ALERT_MENTION",
        sets: "a mention put in front of every alert",
        expects: "a Slack mention such as <!here>",
        default: "unset",
        method: "mention()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.alerts.mention = Some(v.to_owned());
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_ALERTMANAGER_URL",
        sets: "the Alertmanager instances alerts are posted to, besides or instead of Slack",
        expects: "one or more Alertmanager base URLs separated by commas, such as http://alertmanager:9093",
        default: "unset",
        method: "alertmanager()",
        unless: None,
        checked_anyway: false,
        secret: true,
        apply: |b, name, v| {
            // Validated at init, like the webhook: the error shows scheme and host only.
            b.alerts.alertmanager.urls = Some(Val::new(v.to_owned(), name));
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_ALERTMANAGER_ALERTNAME",
        sets: "the `alertname` label of alerts posted to Alertmanager",
        expects: "a label value that is not empty",
        default: "`LogwardenErrors`",
        method: "alertmanager_alertname()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.alerts.alertmanager.alertname = Val::new(v.to_owned(), name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_ALERTMANAGER_RESEND",
        sets: "how often an open incident is posted to Alertmanager again",
        expects: "a duration such as 60s, 30s or 1m, at least 100ms",
        default: "`1m`",
        method: "alertmanager_resend()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            let resend = parsed(v, parse::duration)?;
            b.alerts.alertmanager.resend = Val::new(resend, name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_METRICS_ADDR",
        sets: "where `GET /metrics` is served, in the Prometheus text format (cargo feature `metrics`)",
        expects: "an address to listen on such as 127.0.0.1:9464, or :9464 for loopback",
        default: "unset: not served",
        method: "metrics_addr()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            // Parsed at init, where a name is resolved and the error can say why.
            b.metrics_addr = Some(Val::new(v.to_owned(), name));
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_REDACT_KEYS",
        sets: "more field names to redact, added to the code's and the defaults",
        expects: "field names separated by commas",
        default: "the 14 default keys",
        method: "redaction()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.record.env_redact_keys = v.split(',').map(str::to_owned).collect();
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_REDACT_VALUES",
        sets: "value patterns masked in any text, added to the code's",
        expects: "a comma-separated list of email, card, bearer, jwt, aws_key (or all, none)",
        default: "`none`",
        method: "redaction()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.record.env_redact_values = parsed(v, ValuePatterns::parse)?;
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_MAX_FIELD_BYTES",
        sets: "a cap on one value's JSON text, and on the message",
        expects: "a byte count such as 32768 or 32KiB",
        default: "`32KiB`",
        method: "max_field_bytes()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.record.max_field_bytes = Some(Val::new(size(v)?, name));
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_MAX_LINE_BYTES",
        sets: "a cap on one line",
        expects: "a byte count such as 98304 or 96KiB",
        default: "`96KiB`",
        method: "max_line_bytes()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, name, v| {
            b.record.max_line_bytes = Val::new(size(v)?, name);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_PANIC_HOOK",
        sets: "panics written as ERROR records",
        expects: "on or off",
        default: "`on` with `init()`, `off` with `build()`",
        method: "panic_hook()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.panic_hook = Some(parsed(v, parse::boolean)?);
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_FORMAT",
        sets: "the record layout",
        expects: "logwarden, ecs, gcp or datadog",
        default: "`logwarden`",
        method: "format()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.record.layout.format = parsed(v, Format::parse)?;
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_TIMESTAMP",
        sets: "how the record's time is written",
        expects: "rfc3339 or unix_ms",
        default: "`rfc3339`",
        method: "timestamp()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.record.layout.time = parsed(v, TimeFormat::parse)?;
            Ok(())
        },
    },
    Var {
        name: "LOGWARDEN_FIELDS",
        sets: "fixed fields on every line, added to the code's",
        expects: "key=value pairs separated by commas, each key once, such as \
                  version=1.4.2,region=eu-west-1",
        default: "none",
        method: "field()",
        unless: None,
        checked_anyway: false,
        secret: false,
        apply: |b, _, v| {
            b.record.env_fields = parsed(v, parse::key_values)?;
            Ok(())
        },
    },
];

/// Whether `name` is one the crate might read: ours, and the few shared ones in the table.
fn is_candidate(name: &str) -> bool {
    name.starts_with("LOGWARDEN_") || VARS.iter().any(|v| v.name == name)
}

impl Builder {
    /// Applies the process environment (see the table above).
    pub fn from_env(self) -> Self {
        self.from_vars(std::env::vars_os())
    }

    /// Applies variables from `vars` as if they were the environment: for configuration read
    /// from elsewhere (a file, a secret store), and for tests.
    ///
    /// Unset and empty variables leave the setting alone. A variable that does not parse is
    /// remembered and returned as the error of [`Builder::init`]/[`Builder::build`]. A
    /// `LOGWARDEN_*` name the crate does not know (a typo such as `LOGWARDEN_MAX_BYTE`) is not
    /// an error, so that a newer configuration still starts an older binary: it gets one line
    /// on stderr naming the closest known variable.
    pub fn from_vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let vars: HashMap<String, OsString> = vars
            .into_iter()
            .filter_map(|(k, v)| {
                let k = k.as_ref().to_str()?;
                is_candidate(k).then(|| (k.to_owned(), v.as_ref().to_owned()))
            })
            .collect();
        let mut unknown: Vec<&str> = vars
            .keys()
            .map(String::as_str)
            .filter(|k| !VARS.iter().any(|v| v.name == *k))
            .collect();
        unknown.sort_unstable();
        for name in unknown {
            report(format_args!("{}", unknown_variable(name)));
        }
        if let Err(e) = apply(&mut self, &vars) {
            self.env_error.get_or_insert(e);
        }
        self
    }
}

fn apply(builder: &mut Builder, vars: &HashMap<String, OsString>) -> Result<(), Error> {
    let value = |var: &Var| -> Result<Option<&str>, Error> {
        match vars.get(var.name) {
            None => Ok(None),
            Some(v) => match v.to_str() {
                Some(s) if s.trim().is_empty() => Ok(None),
                Some(s) => Ok(Some(s)),
                None => {
                    let shown = if var.secret {
                        "<hidden>".into()
                    } else {
                        v.to_string_lossy()
                    };
                    Err(Error::invalid(var.name, &shown, "is not valid UTF-8"))
                }
            },
        }
    };
    let named = |name: &str| {
        VARS.iter()
            .find(|v| v.name == name)
            .expect("a variable of the table")
    };
    for var in VARS {
        if let Some(other) = var.unless {
            if value(named(other))?.is_some() {
                if var.checked_anyway {
                    value(var)?;
                }
                continue;
            }
        }
        let Some(v) = value(var)? else {
            continue;
        };
        (var.apply)(builder, var.name, v).map_err(|refusal| {
            let reason = refusal.unwrap_or_else(|| format!("expected {}", var.expects));
            Error::invalid(var.name, if var.secret { "<hidden>" } else { v }, reason)
        })?;
    }
    Ok(())
}

/// The warning for a `LOGWARDEN_*` name the crate does not read.
fn unknown_variable(name: &str) -> String {
    let closest = VARS
        .iter()
        .map(|v| (edit_distance(name, v.name), v.name))
        .min()
        .filter(|&(d, _)| d <= 3.max(name.len() / 4));
    match closest {
        Some((_, known)) => {
            format!("{name} is not a logwarden variable and is ignored; did you mean {known}?")
        }
        None => format!(
            "{name} is not a logwarden variable and is ignored (see the configuration table)"
        ),
    }
}

/// Levenshtein distance, on bytes (variable names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The table as `docs/configuration.md` holds it, rendered from [`VARS`].
#[cfg(test)]
fn markdown_table() -> String {
    let mut out =
        String::from("| variable | sets | expects | default | in code |\n|---|---|---|---|---|\n");
    let cell = |s: &str| s.replace('|', "\\|");
    for v in VARS {
        let method = match v.method {
            "–" => "–".to_owned(),
            m => format!("`{m}`"),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {method} |\n",
            v.name,
            cell(v.sets),
            cell(v.expects),
            cell(v.default),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_table_is_the_one_the_code_reads() {
        let doc = include_str!("../../docs/configuration.md");
        let begin = "<!-- environment:begin -->\n";
        let end = "<!-- environment:end -->";
        let start = doc
            .find(begin)
            .expect("docs/configuration.md marks its table")
            + begin.len();
        let stop = doc[start..].find(end).expect("the table's end is marked") + start;
        let expected = markdown_table();
        assert!(
            doc[start..stop].trim() == expected.trim(),
            "docs/configuration.md's environment table differs from the variables the code \
             reads; the code's table is:\n\n{expected}"
        );
    }

    #[test]
    fn names_are_unique_and_fallbacks_point_at_known_variables() {
        for (i, v) in VARS.iter().enumerate() {
            assert!(
                VARS[..i].iter().all(|w| w.name != v.name),
                "{} twice",
                v.name
            );
            if let Some(other) = v.unless {
                assert!(VARS.iter().any(|w| w.name == other), "{other} unknown");
            }
        }
    }

    #[test]
    fn a_misspelt_variable_is_told_the_closest_name() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        let warning = unknown_variable("LOGWARDEN_MAX_BYTE");
        assert!(
            warning.contains("did you mean LOGWARDEN_MAX_BYTES?"),
            "{warning}"
        );
        let warning = unknown_variable("LOGWARDEN_ALERT_TRESHOLD");
        assert!(warning.contains("LOGWARDEN_ALERT_THRESHOLD"), "{warning}");
        let warning = unknown_variable("LOGWARDEN_SOMETHING_ELSE_ENTIRELY");
        assert!(!warning.contains("did you mean"), "{warning}");
    }

    #[test]
    fn unset_empty_and_fallback_variables() {
        let b = Builder::default().from_vars([("LOGWARDEN_KEEP", "  "), ("APP_ENV", "staging")]);
        assert!(b.env_error.is_none());
        assert_eq!(b.file.keep, 5);
        assert_eq!(b.identity.env.as_deref(), Some("staging"));
        let b = Builder::default().from_vars([
            ("APP_ENV", "staging"),
            ("LOGWARDEN_ENV", "production"),
            ("OTEL_SERVICE_NAME", "otel"),
        ]);
        assert_eq!(b.identity.env.as_deref(), Some("production"));
        let service = b.identity.service.expect("set from OTEL_SERVICE_NAME");
        assert_eq!(
            (service.value.as_str(), service.from),
            ("otel", "OTEL_SERVICE_NAME")
        );
    }

    #[test]
    fn of_two_bad_variables_the_one_read_first_is_the_error_as_it_always_was() {
        let first = |vars: [(&str, &str); 2]| {
            let e = Builder::default()
                .from_vars(vars)
                .env_error
                .expect("refused");
            e.setting().unwrap().to_owned()
        };
        let (rotation, total) = (
            ("LOGWARDEN_ROTATION", "weekly"),
            ("LOGWARDEN_MAX_TOTAL_BYTES", "x"),
        );
        assert_eq!(first([rotation, total]), "LOGWARDEN_MAX_TOTAL_BYTES");
        let (fields, time) = (("LOGWARDEN_FIELDS", "x"), ("LOGWARDEN_TIMESTAMP", "x"));
        assert_eq!(first([fields, time]), "LOGWARDEN_TIMESTAMP");
    }

    #[test]
    fn a_variable_not_in_utf8_is_refused_and_a_secret_one_not_shown() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let bad =
            || OsString::from_vec(b"https://hooks.slack.com/services/T/B/SECRET\xff".to_vec());
        let e = Builder::default()
            .from_vars([(OsString::from("SLACK_WEBHOOK_URL"), bad())])
            .env_error
            .expect("refused");
        assert_eq!(e.setting(), Some("SLACK_WEBHOOK_URL"));
        assert!(!e.to_string().contains("SECRET"), "{e}");
        // Refused although LOGWARDEN_ENV wins over it, as before the table.
        let e = Builder::default()
            .from_vars([
                (OsString::from("LOGWARDEN_ENV"), OsString::from("prod")),
                (
                    OsString::from("APP_ENV"),
                    OsString::from_vec(b"x\xff".to_vec()),
                ),
            ])
            .env_error
            .expect("refused");
        assert_eq!(e.setting(), Some("APP_ENV"));
    }

    #[test]
    fn a_refusal_names_the_variable_and_says_what_it_expects() {
        let b = Builder::default().from_vars([("LOGWARDEN_ROTATION", "weekly")]);
        let e = b.env_error.expect("refused");
        assert_eq!(
            e.to_string(),
            "LOGWARDEN_ROTATION=\"weekly\": expected one of never, minutely, hourly, daily"
        );
    }
}

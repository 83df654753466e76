//! The `logwarden` command (feature `cli`): `watch` a JSON log like the in-process layer does,
//! rebuild `incidents` and MTTR from logs, and draw a `report`.
//!
//! Private to the library, which runs it for the binary (`__cli_main`): the command uses the
//! crate's own engine, notifiers and reader, none of which is public API.

mod incidents;
mod report;
mod scan;
mod serve;
mod watch;

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Structured-logging companion: watch any JSON log and alert like the in-process layer,
/// rebuild incidents and MTTR from logs, draw a dashboard.
#[derive(Debug, Parser)]
#[command(name = "logwarden", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Follow a JSON log (across rotation and truncation) and alert when ERRORs cross the
    /// threshold, with the same engine and notifiers as the library (SLACK_WEBHOOK_URL,
    /// LOGWARDEN_ALERT_*).
    Watch(WatchArgs),
    /// List the incidents in logs (current, rotated and .gz files, in time order), with MTTR.
    Incidents(IncidentsArgs),
    /// Write a self-contained HTML dashboard: events per minute, incidents, MTTR, top errors.
    Report(ReportArgs),
    /// Serve a live dashboard of a log directory: events per minute, incidents and MTTR, and a
    /// filterable tail of the lines, updated as they are written.
    Serve(ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), e.g.
    /// `logwarden completions bash > /etc/bash_completion.d/logwarden`.
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// The alert rule, when given on the command line (otherwise `LOGWARDEN_ALERT_*`, then the
/// library's defaults: 5 errors within 60 s, reminders every 5 min).
#[derive(Debug, Clone, Args)]
pub(crate) struct Rule {
    /// ERROR lines within the window that open an incident [env: LOGWARDEN_ALERT_THRESHOLD]
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub(crate) threshold: Option<usize>,
    /// The sliding window, such as 60s or 5m [env: LOGWARDEN_ALERT_WINDOW]
    #[arg(long, value_name = "DURATION", value_parser = positive_duration)]
    pub(crate) window: Option<Duration>,
}

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// The log file to follow, or a directory holding one active `*.log` file.
    #[arg(value_name = "FILE|DIR")]
    pub(crate) path: PathBuf,
    #[command(flatten)]
    pub(crate) rule: Rule,
    /// At most one reminder per incident this often, such as 5m [env: LOGWARDEN_ALERT_COOLDOWN]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub(crate) cooldown: Option<Duration>,
    /// Read the file from its start instead of from its end (replays what is already there).
    #[arg(long)]
    pub(crate) from_start: bool,
    /// The service named in alerts when the lines name none (their `service` or `service.name`)
    /// [env: LOGWARDEN_SERVICE; default: the file's name]
    #[arg(long, value_name = "NAME", value_parser = non_empty)]
    pub(crate) service: Option<String>,
    /// How long to wait for a pending alert to be delivered when stopping.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5s")]
    pub(crate) shutdown_timeout: Duration,
}

/// Which lines to read: shared by `incidents` and `report`.
#[derive(Debug, Clone, Args)]
pub(crate) struct Scope {
    /// Log directories or files; a directory's current and rotated files (`.gz` too) are read.
    #[arg(value_name = "DIR|FILES", required = true)]
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) rule: Rule,
    /// Derive incidents from ERROR times even where the logs hold the crate's alert records.
    #[arg(long)]
    pub(crate) derive: bool,
    /// Only what happened at or after this time: RFC 3339 (2026-11-25T10:00:00Z), a date
    /// (2026-11-25, UTC) or an age such as 2h or 7d.
    #[arg(long, value_name = "TIME", value_parser = moment)]
    pub(crate) since: Option<i64>,
    /// Only what happened before this time (same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = moment)]
    pub(crate) until: Option<i64>,
}

#[derive(Debug, Args)]
pub(crate) struct IncidentsArgs {
    #[command(flatten)]
    pub(crate) scope: Scope,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) scope: Scope,
    /// Where to write the HTML file.
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    pub(crate) output: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The log directory: current, rotated and .gz files, of one service or several.
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Where to listen. Loopback by default; any other address needs an access token.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub(crate) addr: String,
    /// The access token every request must carry; needed for a non-loopback --addr
    /// [env: LOGWARDEN_SERVE_TOKEN]
    #[arg(long, value_name = "TOKEN", value_parser = token)]
    pub(crate) token: Option<serve::Token>,
    #[command(flatten)]
    pub(crate) rule: Rule,
}

/// Why a command stopped: its message names the file (and line) at fault. Exit code 1.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs the command line of this process. Exit codes: 0 done, 1 nothing to read or a bad input
/// path, 2 usage.
pub(crate) fn main() -> ExitCode {
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version print to stdout and exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    if let Command::Incidents(IncidentsArgs { scope, .. })
    | Command::Report(ReportArgs { scope, .. }) = &cli.command
    {
        if let (Some(since), Some(until)) = (scope.since, scope.until) {
            if since >= until {
                use clap::CommandFactory as _;
                let e = Cli::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--since must be earlier than --until",
                );
                let _ = e.print();
                return ExitCode::from(2);
            }
        }
    }
    if let Command::Serve(args) = &mut cli.command {
        if let Err(message) = serve::check_access(args) {
            use clap::CommandFactory as _;
            let e = Cli::command().error(clap::error::ErrorKind::MissingRequiredArgument, message);
            let _ = e.print();
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Watch(args) => watch::run(args),
        Command::Incidents(args) => incidents::run(args),
        Command::Report(args) => report::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            use std::io::Write as _;
            // Into memory first: clap_complete panics on a write error (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "logwarden", &mut script);
            let _ = std::io::stdout().lock().write_all(&script);
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "logwarden: {failure}");
            ExitCode::from(1)
        }
    }
}

fn non_empty(s: &str) -> Result<String, String> {
    match s.trim() {
        "" => Err("must not be empty".to_owned()),
        _ => Ok(s.to_owned()),
    }
}

fn token(s: &str) -> Result<serve::Token, String> {
    serve::Token::new(s)
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "expected a number of ERROR lines, at least 1, not `{s}`"
        )),
    }
}

fn duration(s: &str) -> Result<Duration, String> {
    crate::parse::duration(s)
        .ok_or_else(|| format!("expected a duration such as 30s, 5m or 1h, not `{s}`"))
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    duration(s).and_then(|d| {
        if d.is_zero() {
            Err("must be longer than zero".to_owned())
        } else {
            Ok(d)
        }
    })
}

/// A point in time for `--since`/`--until`, in microseconds since the epoch.
fn moment(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Some(t) = crate::read::line::parse_time(s) {
        return Ok(t);
    }
    if s.len() == 10 {
        if let Some(t) = crate::read::line::parse_time(&format!("{s}T00:00:00Z")) {
            return Ok(t);
        }
    }
    if let Some(age) = crate::parse::duration(s) {
        let now = crate::clock::Clock::System.now_micros();
        return Ok(now - i64::try_from(age.as_micros()).unwrap_or(i64::MAX / 2));
    }
    Err(format!(
        "expected an RFC 3339 time (2026-11-25T10:00:00Z), a date (2026-11-25) or an age (2h, 7d), not `{s}`"
    ))
}

/// `1.2 MB`, `999 bytes`: sizes in decimal units, as disks and `ls --si` count them.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} bytes");
    }
    let mut v = n as f64;
    let mut unit = "";
    for u in UNITS {
        v /= 1000.0;
        unit = u;
        if v < 1000.0 {
            break;
        }
    }
    format!("{v:.1} {unit}")
}

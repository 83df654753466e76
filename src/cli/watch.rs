//! `logwarden watch`: follow a JSON log and alert like the in-process layer, with the crate's own
//! engine, notifiers and delivery thread, configured from the same variables.
//!
//! Time: the engine and the delivery thread share a [`ManualClock`] that this command moves.
//! While it catches up on lines already in the file (`--from-start`), the clock follows the
//! lines' own timestamps (the latest so far, never past the wall clock), so a replay opens and
//! resolves incidents at the instants they happened. From the first time it reaches the end of the file, the clock is the
//! wall clock, set at each poll, and a line counts at the moment it is read (within one poll of
//! its writing): a writer whose clock is off (another host, local time written without an offset)
//! then cannot open or resolve incidents at the wrong time.

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Failure, WatchArgs};
use crate::alert::{self, AlertCounters, Outbox, Sample, Tracker, MESSAGE_MAX};
use crate::clock::{system_time, Clock, ManualClock};
use crate::config::Alerting;
use crate::diag::report;
use crate::notify;
use crate::read::follow::{Counts, Follower, Poll};
use crate::read::line;
use crate::text::{cut, human_duration};

/// How long to wait at the end of the file before looking again.
const IDLE: Duration = Duration::from_millis(100);

pub(crate) fn run(args: WatchArgs) -> Result<(), Failure> {
    let path = active_file(&args.path)?;
    let mut alerting = configure(&args, &path)?;
    // The lines may come from any number of processes: the alert speaks for none of them.
    alerting.settings.pid = None;
    let stop = stop_on_signals()?;
    let mut follower = Follower::open(&path, args.from_start, true)
        .map_err(|e| Failure(format!("{}: cannot read: {e}", path.display())))?;

    let settings = &alerting.settings;
    let rule = format!(
        "{} ERROR lines within {} open an incident, reminders at most every {}",
        settings.threshold,
        human_duration(settings.window),
        human_duration(settings.cooldown)
    );
    let has_webhook = alerting.destinations.any();
    let destination = if has_webhook {
        format!(
            "alerts go to {} and stdout",
            alerting.destinations.describe()
        )
    } else {
        "no SLACK_WEBHOOK_URL or LOGWARDEN_ALERTMANAGER_URL: alerts go to stdout and stderr only"
            .to_owned()
    };
    // A replay starts the clock at the epoch: the first timestamped line sets it.
    let clock = ManualClock::new(if args.from_start {
        UNIX_EPOCH
    } else {
        SystemTime::now()
    });
    let time = Clock::Manual(clock.clone());
    let labels = Labels {
        service: alerting.settings.service.clone(),
        env: alerting.settings.env.clone(),
        host: alerting.settings.host.clone(),
    };
    let tracker = Tracker::new(alerting.settings, time.clone());
    let options = notify::DeliveryOptions {
        echo: true,
        ..alerting.delivery
    };
    let (outbox, inbox) = alert::outbox(options.queue);
    let mut delivery = notify::spawn(
        alerting.destinations,
        tracker.clone(),
        (outbox.clone(), inbox),
        None,
        options,
    )
    .map_err(|e| Failure(format!("cannot start the alert delivery thread: {e}")))?;

    report(format_args!(
        "watching {} from its {}{}; {rule}; {destination}",
        path.display(),
        if args.from_start {
            "start"
        } else {
            "end (--from-start replays what is already there)"
        },
        if follower.is_watching() {
            ""
        } else {
            " (no inotify here: looking every 100 ms)"
        }
    ));
    let mut watcher = Watcher {
        labels,
        tracker: tracker.clone(),
        outbox: outbox.clone(),
        clock: clock.clone(),
        time: time.clone(),
        replaying: args.from_start,
        not_json: 0,
        errors: 0,
    };
    let result = watcher.follow(&mut follower, &path, &stop);

    // Stopping: one last look at the window (an incident gone quiet is resolved), then what is
    // queued is delivered, within the bound.
    if !watcher.replaying {
        clock.set(SystemTime::now());
    }
    outbox.send(tracker.due());
    let finished = delivery.shutdown(Instant::now() + args.shutdown_timeout);
    let counts = follower.counts();
    let history = tracker.history();
    let get = AlertCounters::get;
    let c = &outbox.counters;
    let alerts = if has_webhook {
        format!("alerts: {} sent, {} failed", get(&c.sent), get(&c.failed))
    } else {
        "alerts: printed only (no webhook)".to_owned()
    };
    let dropped = get(&c.dropped);
    report(format_args!(
        "stopped: {} lines, {} skipped ({} not JSON, {} torn, {} too long), {} errors; \
         files: {} rotations, {} read after a later rotation, {} gone unread; \
         incidents: {} opened, {} resolved, {} open when stopped; {alerts}{}{}",
        counts.lines,
        watcher.not_json + counts.torn + counts.too_long,
        watcher.not_json,
        counts.torn,
        counts.too_long,
        watcher.errors,
        counts.rotations,
        counts.caught_up,
        counts.missed,
        history.opened,
        history.resolved,
        history.stopped,
        if dropped > 0 {
            format!(", {dropped} dropped (queue full)")
        } else {
            String::new()
        },
        if finished {
            ""
        } else {
            "; alerts still in delivery at the --shutdown-timeout were abandoned"
        }
    ));
    result
}

/// The file to follow: `arg` itself, or the active `*.log` of a directory.
fn active_file(arg: &Path) -> Result<PathBuf, Failure> {
    let meta = fs::metadata(arg).map_err(|e| Failure(format!("{}: {e}", arg.display())))?;
    if !meta.is_dir() {
        return Ok(arg.to_owned());
    }
    let entries =
        fs::read_dir(arg).map_err(|e| Failure(format!("{}: cannot list: {e}", arg.display())))?;
    let mut logs: Vec<(SystemTime, bool, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".log") && !name.starts_with('.')
        })
        .filter_map(|e| {
            let meta = fs::metadata(e.path()).ok().filter(Metadata::is_file)?;
            let link = e.file_type().is_ok_and(|t| t.is_symlink());
            Some((meta.modified().unwrap_or(UNIX_EPOCH), link, e.path()))
        })
        .collect();
    // Newest first; between equal times a link (a `current.log` pointing at today's file keeps
    // pointing at the file being written after the date changes), then the name, so the choice
    // is stable.
    logs.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| b.1.cmp(&a.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    match logs.len() {
        0 => Err(Failure(format!(
            "{}: no *.log file to watch in this directory",
            arg.display()
        ))),
        n => {
            let path = logs.swap_remove(0).2;
            if n > 1 {
                report(format_args!(
                    "{} holds {n} *.log files; watching the most recently modified, {}",
                    arg.display(),
                    path.display()
                ));
            }
            Ok(path)
        }
    }
}

/// The library's alert configuration (`LOGWARDEN_ALERT_*`, `SLACK_WEBHOOK_URL`, …, checked as
/// `init()` checks them), with the command line on top. The service defaults to the file's name
/// without its extension (`orders` for `orders.log`, the name logwarden itself gives the file).
fn configure(args: &WatchArgs, path: &Path) -> Result<Alerting, Failure> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "logwarden".to_owned());
    let mut builder = crate::builder().service(stem).from_env();
    if let Some(n) = args.rule.threshold {
        builder = builder.alert_threshold(n);
    }
    if let Some(window) = args.rule.window {
        builder = builder.alert_window(window);
    }
    if let Some(cooldown) = args.cooldown {
        builder = builder.alert_cooldown(cooldown);
    }
    if let Some(service) = &args.service {
        builder = builder.service(service.clone());
    }
    builder.into_alerting().map_err(|e| Failure(e.to_string()))
}

/// SIGINT and SIGTERM set the returned flag; a second one while stopping ends the process at
/// once (exit 1), in case delivering hangs.
pub(crate) fn stop_on_signals() -> Result<Arc<AtomicBool>, Failure> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // The conditional exit is registered first, so it sees the flag as it was before this
        // signal set it.
        flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| Failure(format!("cannot handle SIGINT/SIGTERM: {e}")))?;
    }
    Ok(stop)
}

/// What alerts call the service, env and host when the lines do not say: the flags, then
/// `LOGWARDEN_SERVICE`/`LOGWARDEN_ENV`, then the file's name and this host.
struct Labels {
    service: String,
    env: String,
    host: String,
}

/// How much of a label taken from a line an alert shows.
const LABEL_MAX: usize = 100;

/// Turns lines into observations of the engine.
struct Watcher {
    labels: Labels,
    tracker: Tracker,
    outbox: Outbox,
    clock: ManualClock,
    /// The same clock, read.
    time: Clock,
    /// Catching up on lines that were there before (`--from-start`), until the first time at the
    /// end of the file.
    replaying: bool,
    not_json: u64,
    errors: u64,
}

impl Watcher {
    /// Reads until `stop` is set (or reading fails).
    fn follow(
        &mut self,
        follower: &mut Follower,
        path: &Path,
        stop: &AtomicBool,
    ) -> Result<(), Failure> {
        while !stop.load(Ordering::SeqCst) {
            if !self.replaying {
                self.clock.set(SystemTime::now());
            }
            let before = follower.counts();
            let poll = follower.poll(&mut |line| self.line(line));
            note_changes(path, before, follower.counts());
            match poll {
                Ok(Poll::More) => {}
                Ok(Poll::Idle) => {
                    if self.replaying {
                        self.replaying = false;
                        self.clock.set(SystemTime::now());
                        report(format_args!(
                            "replayed {} lines of {}; following it",
                            follower.counts().lines,
                            path.display()
                        ));
                    }
                    follower.wait(IDLE);
                }
                Err(e) => {
                    return Err(Failure(format!("{}: cannot read: {e}", path.display())));
                }
            }
        }
        Ok(())
    }

    fn line(&mut self, bytes: &[u8]) {
        let Some(entry) = line::parse(bytes) else {
            if !bytes.trim_ascii().is_empty() {
                self.not_json += 1;
            }
            return;
        };
        let now = self.time.now_micros();
        let at = match entry.at {
            Some(at) if self.replaying => {
                // Never past the wall clock: a log stamped ahead (local time written without an
                // offset, east of UTC) would otherwise drag the engine's time into the future,
                // where later errors pile up and nothing resolves.
                let at = at.min(crate::clock::Clock::System.now_micros());
                if at > now {
                    self.clock.set(system_time(at));
                }
                at
            }
            _ => now,
        };
        if !entry.is_error() {
            return;
        }
        self.errors += 1;
        if self.replaying && now == 0 && entry.at.is_none() {
            // Replaying, and no line has told the time yet: this error has no place on the time
            // axis (`incidents` leaves such lines out too). Counted, not observed.
            return;
        }
        // The lines say who they are (the seed's formatter writes `service` and `env`); the
        // configuration fills in what they do not.
        let label = |from_line: Option<&str>, default: &str| {
            cut(
                from_line
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or(default)
                    .to_owned(),
                LABEL_MAX,
            )
        };
        self.tracker.relabel(
            &label(entry.service.as_deref(), &self.labels.service),
            &label(entry.env.as_deref(), &self.labels.env),
            &label(entry.host.as_deref(), &self.labels.host),
        );
        let target = entry.target.as_deref().unwrap_or_default();
        let message = entry.message.as_deref().unwrap_or_default();
        let alerts = self.tracker.observe(at, entry.group_key(), || Sample {
            message: cut(message.to_owned(), MESSAGE_MAX),
            target: cut(target.to_owned(), MESSAGE_MAX),
            trace_id: entry
                .trace_id
                .as_deref()
                .map(|t| cut(t.to_owned(), MESSAGE_MAX)),
            ..Sample::default()
        });
        self.outbox.send(alerts);
    }
}

/// A line on stderr when the file was rotated or truncated under us.
fn note_changes(path: &Path, before: Counts, after: Counts) {
    if after.missed > before.missed {
        report(format_args!(
            "{}: {} file(s) rotated away and deleted before they could be read: their lines are \
             missing",
            path.display(),
            after.missed - before.missed
        ));
    }
    if after.rotations > before.rotations {
        report(format_args!(
            "{} was rotated; reading the new file from its start",
            path.display()
        ));
    }
    if after.truncations > before.truncations {
        report(format_args!(
            "{} was truncated; reading it again from its start",
            path.display()
        ));
    }
    if after.torn > before.torn {
        report(format_args!(
            "{}: an unfinished line was left behind by rotation or truncation (skipped)",
            path.display()
        ));
    }
}

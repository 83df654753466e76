//! Reading the inputs of `incidents` and `report` into a [`Summary`]: the files in time order,
//! each line through the tally, a progress line on a terminal, problems with a file named.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{bytes, Failure, Rule, Scope};
use crate::read::files::{self, Input};
use crate::read::history::{Options, Summary, Tally};

/// The threshold and window: the flags, else `LOGWARDEN_ALERT_THRESHOLD`/`_WINDOW` read exactly
/// as `init()` reads them, else the library's defaults.
pub(crate) fn alert_rule(rule: &Rule) -> Result<(usize, Duration), Failure> {
    let vars = std::env::vars_os()
        .filter(|(k, _)| k == "LOGWARDEN_ALERT_THRESHOLD" || k == "LOGWARDEN_ALERT_WINDOW");
    let alerting = crate::Builder::default()
        .from_vars(vars)
        .into_alerting()
        .map_err(|e| Failure(e.to_string()))?;
    let (threshold, window) = (alerting.settings.threshold, alerting.settings.window);
    Ok((
        rule.threshold.unwrap_or(threshold),
        rule.window.unwrap_or(window),
    ))
}

/// Reads every line of `scope` and adds it up. A progress line goes to stderr when it is a
/// terminal and the reading takes a moment.
pub(crate) fn summarize(scope: &Scope) -> Result<Summary, Failure> {
    let (threshold, window) = alert_rule(&scope.rule)?;
    let inputs = files::discover(&scope.paths).map_err(Failure)?;
    let mut tally = Tally::new(Options {
        threshold,
        window,
        derive: scope.derive,
        since: scope.since,
        until: scope.until,
    });
    let read = Arc::new(AtomicU64::new(0));
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| Progress::start(&inputs, Arc::clone(&read)));
    let mut any = false;
    let troubles = files::for_each_line(&inputs, &read, |i, line| {
        any = true;
        tally.add(line, &inputs[i].family);
    });
    drop(progress);
    for t in &troubles {
        let _ = writeln!(std::io::stderr(), "logwarden: warning: {}", t.message);
    }
    if !any {
        let names: Vec<String> = scope
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(Failure(format!(
            "nothing to read in {}{}",
            names.join(", "),
            if troubles.is_empty() {
                ": the files are empty"
            } else {
                ""
            }
        )));
    }
    Ok(tally.finish(inputs.into_iter().map(|i| i.path).collect(), troubles.len()))
}

/// `reading 412 MB of 1.0 GB (41 %), 350 MB/s` on stderr, redrawn in place, erased when done.
struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(inputs: &[Input], read: Arc<AtomicU64>) -> Progress {
        let total: u64 = inputs.iter().map(|i| i.len).sum();
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut shown = false;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let elapsed = start.elapsed();
                // Small inputs finish before anything is drawn.
                if elapsed < Duration::from_millis(500) || stop.load(Ordering::Relaxed) {
                    continue;
                }
                let n = read.load(Ordering::Relaxed);
                let rate = n as f64 / elapsed.as_secs_f64();
                let pct = (n * 100).checked_div(total).unwrap_or(100);
                let _ = write!(
                    std::io::stderr(),
                    "\r\x1b[2Kreading {} of {} ({pct} %), {}/s",
                    bytes(n),
                    bytes(total),
                    bytes(rate as u64)
                );
                shown = true;
            }
            if shown {
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
            }
        });
        Progress {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// After the output: files that could not be read to their end make the command fail (exit 1),
/// since its figures leave out what they held.
pub(crate) fn complete(summary: &Summary) -> Result<(), Failure> {
    match summary.unread {
        0 => Ok(()),
        n => Err(Failure(format!(
            "{n} file{} could not be read to the end (see above): the figures leave out what \
             {} held",
            if n == 1 { "" } else { "s" },
            if n == 1 { "it" } else { "they" }
        ))),
    }
}

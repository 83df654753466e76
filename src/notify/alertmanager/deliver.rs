//! Posting to the Alertmanager instances without waiting on any of them: each post is one
//! attempt per instance, and an instance that failed news is tried again later, on its own
//! backoff, from the delivery thread's loop. One instance down never delays the others, a stop
//! notice, or a resend.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::{Alertmanager, Resends};
use crate::alert::{Alert, AlertCounters};
use crate::diag::report;
use crate::notify::post::{self, About, Attempt, Poster};
use crate::notify::DeliveryOptions;

/// News an instance has not taken yet.
#[derive(Debug)]
struct Retry {
    /// "opened alert for incident #3".
    what: String,
    attempts: u32,
    at: Instant,
}

#[derive(Debug, Default)]
struct Instance {
    retry: Option<Retry>,
    /// A resend failed: said when it starts and when it ends, not at every resend.
    failing: bool,
}

/// The instances of one configuration, and what each still has to hear.
#[derive(Debug)]
pub(in crate::notify) struct Instances {
    am: Alertmanager,
    resends: Resends,
    instances: Vec<Instance>,
    rng: u64,
}

impl Instances {
    pub(in crate::notify) fn new(am: Alertmanager) -> Self {
        let instances = am.targets.iter().map(|_| Instance::default()).collect();
        Instances {
            am,
            resends: Resends::default(),
            instances,
            rng: post::seed(),
        }
    }

    /// How long until [`Instances::tick`] has something to do, if ever.
    pub(in crate::notify) fn next(&self, now: Instant) -> Option<Duration> {
        let retries = self
            .instances
            .iter()
            .filter_map(|i| i.retry.as_ref())
            .map(|r| r.at.saturating_duration_since(now));
        retries.chain(self.resends.next(now)).min()
    }

    /// Posts `alert`, just decided, once to every instance; those that fail are tried again
    /// from [`Instances::tick`].
    pub(in crate::notify) fn news(
        &mut self,
        poster: &Poster,
        alert: &Alert,
        options: &DeliveryOptions,
        counters: &AlertCounters,
    ) {
        let now = Instant::now();
        let body = self.resends.news(&self.am, alert, now, SystemTime::now());
        let what = post::alert_name(alert);
        for i in 0..self.instances.len() {
            // Newer news replaces what an instance had not taken yet.
            if let Some(old) = self.instances[i].retry.take() {
                let why = format!("superseded by newer news after {} attempts", old.attempts);
                self.give_up(i, &old, &why, counters);
            }
            let retry = Retry {
                what: what.clone(),
                attempts: 0,
                at: now,
            };
            self.attempt(i, retry, &body, poster, options, counters);
        }
    }

    /// Retries the news that are due, then the resend that is due.
    pub(in crate::notify) fn tick(
        &mut self,
        poster: &Poster,
        options: &DeliveryOptions,
        counters: &AlertCounters,
    ) {
        let now = Instant::now();
        let wall = SystemTime::now();
        for i in 0..self.instances.len() {
            let due = self.instances[i]
                .retry
                .as_ref()
                .is_some_and(|r| r.at <= now);
            if due {
                let retry = self.instances[i].retry.take().expect("due");
                if let Some(body) = self.resends.current(&self.am, wall) {
                    self.attempt(i, retry, &body, poster, options, counters);
                }
            }
        }
        let Some(body) = self.resends.due(&self.am, now, wall) else {
            return;
        };
        for i in 0..self.instances.len() {
            if self.instances[i].retry.is_some() {
                // Its news is on a backoff of its own; the retry carries the same state.
                continue;
            }
            let target = &self.am.targets[i];
            let instance = &mut self.instances[i];
            match poster.post(target, &body) {
                Attempt::Delivered if instance.failing => {
                    instance.failing = false;
                    report(format_args!(
                        "alerts are reaching alertmanager ({target}) again"
                    ));
                }
                Attempt::Delivered => {}
                Attempt::Retry(error, _) | Attempt::Permanent(error) if !instance.failing => {
                    instance.failing = true;
                    report(format_args!(
                        "alertmanager ({target}) did not take a resend of an alert: {error}; \
                         resending every {}",
                        crate::text::human_duration(self.am.resend)
                    ));
                }
                Attempt::Retry(..) | Attempt::Permanent(_) => {}
            }
        }
    }

    /// The process is stopping: news not taken by now never will be.
    pub(in crate::notify) fn stop(&mut self, counters: &AlertCounters) {
        for i in 0..self.instances.len() {
            if let Some(retry) = self.instances[i].retry.take() {
                let why = format!("gave up at shutdown after {} attempts", retry.attempts);
                self.give_up(i, &retry, &why, counters);
            }
        }
    }

    /// One attempt of `retry`'s news to instance `i`: counted if taken, scheduled again if
    /// worth it, given up on otherwise.
    fn attempt(
        &mut self,
        i: usize,
        mut retry: Retry,
        body: &str,
        poster: &Poster,
        options: &DeliveryOptions,
        counters: &AlertCounters,
    ) {
        retry.attempts += 1;
        let error = match poster.post(&self.am.targets[i], body) {
            Attempt::Delivered => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
                self.instances[i].failing = false;
                return;
            }
            Attempt::Permanent(error) => {
                return self.give_up(i, &retry, &format!("{error} (not retried)"), counters);
            }
            Attempt::Retry(error, at_least) => {
                if retry.attempts < options.max_attempts {
                    let wait = at_least
                        .unwrap_or(post::backoff(options, &mut self.rng, retry.attempts))
                        .min(options.max_backoff);
                    retry.at = Instant::now() + wait;
                    self.instances[i].retry = Some(retry);
                    counters.retries.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                error
            }
        };
        let why = format!("{error} (after {} attempts)", retry.attempts);
        self.give_up(i, &retry, &why, counters);
    }

    /// Counts `retry`'s news as not delivered to instance `i`, and says why.
    fn give_up(&self, i: usize, retry: &Retry, why: &str, counters: &AlertCounters) {
        let about = About {
            what: retry.what.clone(),
            name: "alertmanager",
        };
        post::failed(&about, &self.am.targets[i], why, counters);
    }
}

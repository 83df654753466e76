//! The hand-off between deciding and delivering: a bounded queue of alerts that the deciding side
//! fills without ever waiting, and the counters of what became of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use super::message::Alert;
use crate::diag::report;

/// What the delivery thread takes from the queue.
#[derive(Debug)]
pub(crate) enum Job {
    Alert(Box<Alert>),
    /// Nothing to deliver: look at the shutdown deadline now.
    Wake,
}

/// What became of the alerts, read through the guard and `watch`'s summary.
#[derive(Debug, Default)]
pub(crate) struct AlertCounters {
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) retries: AtomicU64,
}

impl AlertCounters {
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The sending end: cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub(crate) struct Outbox {
    queue: SyncSender<Job>,
    pub(crate) counters: Arc<AlertCounters>,
}

/// A queue of `capacity` alerts (at least one): the outbox, and the end the delivery thread reads.
pub(crate) fn outbox(capacity: usize) -> (Outbox, Receiver<Job>) {
    let (queue, inbox) = mpsc::sync_channel(capacity.max(1));
    let outbox = Outbox {
        queue,
        counters: Arc::default(),
    };
    (outbox, inbox)
}

impl Outbox {
    /// Queues `alerts` without ever waiting: a full queue means the delivery thread is far behind
    /// (a hung webhook), and one more alert would not help; the loss is counted and reported once.
    pub(crate) fn send(&self, alerts: impl IntoIterator<Item = Alert>) {
        for alert in alerts {
            if self.queue.try_send(Job::Alert(Box::new(alert))).is_err()
                && self.counters.dropped.fetch_add(1, Ordering::Relaxed) == 0
            {
                report(format_args!(
                    "the alert queue is full; alerts are being dropped"
                ));
            }
        }
    }

    /// Wakes the delivery thread (to see a shutdown deadline), unless the queue is full, in which
    /// case it is awake anyway.
    pub(crate) fn wake(&self) {
        let _ = self.queue.try_send(Job::Wake);
    }
}

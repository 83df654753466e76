//! Where "now" comes from: the system clock, or a clock a test moves by hand.
//!
//! Everything time-based (record timestamps, time rotation, the rotated files' names) reads the
//! same [`Clock`], so a test can cross an hour boundary without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The source of time: the system clock, or a [`ManualClock`].
///
/// An enum rather than a trait object so that the per-event read is a branch, not a virtual call.
#[derive(Clone, Debug, Default)]
pub(crate) enum Clock {
    #[default]
    System,
    Manual(ManualClock),
}

impl Clock {
    /// Microseconds since the Unix epoch (negative before 1970).
    #[inline]
    pub(crate) fn now_micros(&self) -> i64 {
        match self {
            Clock::System => system_micros(),
            Clock::Manual(m) => m.micros.load(Ordering::Acquire),
        }
    }
}

fn system_micros() -> i64 {
    micros_of(SystemTime::now())
}

/// Microseconds since the Unix epoch of `t` (negative before 1970).
pub(crate) fn micros_of(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros().min(i64::MAX as u128) as i64,
        Err(e) => -(e.duration().as_micros().min(i64::MAX as u128) as i64),
    }
}

/// The time `micros` microseconds after the Unix epoch (before it, when negative).
pub(crate) fn system_time(micros: i64) -> SystemTime {
    if micros >= 0 {
        UNIX_EPOCH + Duration::from_micros(micros as u64)
    } else {
        UNIX_EPOCH - Duration::from_micros(micros.unsigned_abs())
    }
}

/// `now + timeout`, saturating: `Duration::MAX` means "as long as it takes" (a century).
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

/// A clock that only moves when told to: for tests and simulations of time rotation.
///
/// Clones share the same time, so a test keeps one handle and gives another to
/// [`Builder::clock`](crate::Builder::clock).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let clock = logwarden::testing::ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(1_700_003_600));
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    micros: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: SystemTime) -> Self {
        let clock = ManualClock {
            micros: Arc::new(AtomicI64::new(0)),
        };
        clock.set(start);
        clock
    }

    /// Moves the clock to `time` (backwards too: wall clocks do jump).
    pub fn set(&self, time: SystemTime) {
        self.micros.store(micros_of(time), Ordering::Release);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.micros
            .fetch_add(by.as_micros() as i64, Ordering::AcqRel);
    }

    /// The time the clock shows.
    pub fn now(&self) -> SystemTime {
        system_time(self.micros.load(Ordering::Acquire))
    }
}

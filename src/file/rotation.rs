//! The time trigger for rotation: period boundaries on the wall clock of a [`Zone`].

use std::fmt;

use super::timezone::Zone;

/// Offset changes looked at while searching one boundary. Real zones have at most two a year;
/// the bound only keeps a corrupt tz file from looping.
const MAX_TRANSITIONS: usize = 16;

/// How often the active file is rotated by time, in addition to (or instead of) the size
/// trigger. Periods follow the wall clock of the configured [`Timezone`](crate::file::Timezone), UTC
/// by default.
///
/// A newtype over a private enum so that periods can be added without breaking callers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rotation(Period);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Period {
    Never,
    Minutely,
    Hourly,
    Daily,
}

impl Rotation {
    /// No time trigger (the default): only the size trigger rotates.
    pub const NEVER: Rotation = Rotation(Period::Never);
    /// At the start of every minute.
    pub const MINUTELY: Rotation = Rotation(Period::Minutely);
    /// At the start of every hour (and at a change of UTC offset).
    pub const HOURLY: Rotation = Rotation(Period::Hourly);
    /// At midnight (or the first instant of a day whose midnight a clock change skips).
    pub const DAILY: Rotation = Rotation(Period::Daily);

    fn period_micros(self) -> Option<i64> {
        match self.0 {
            Period::Never => None,
            Period::Minutely => Some(60_000_000),
            Period::Hourly => Some(3_600_000_000),
            Period::Daily => Some(86_400_000_000),
        }
    }

    /// Start of the period containing `now`, or `None` for [`Rotation::NEVER`]: the last
    /// boundary at or before `now`.
    pub(crate) fn period_start(self, now_micros: i64, zone: &Zone) -> Option<i64> {
        let period = self.period_micros()?;
        let mut to = now_micros;
        for _ in 0..MAX_TRANSITIONS {
            // The last period start under the offset in effect at `to`, valid back to the
            // previous change of offset.
            let local = to.saturating_add(zone.offset_micros(to));
            let start = to.saturating_sub(local.rem_euclid(period));
            match zone.transition_at_or_before(to) {
                Some(t) if t >= start => {
                    if self.is_boundary(t, zone) {
                        return Some(t);
                    }
                    to = t - 1;
                }
                _ => return Some(start),
            }
        }
        Some(to)
    }

    /// The first boundary strictly after `now` (`i64::MAX` for never).
    ///
    /// Boundaries are the instants where the local clock reaches a multiple of the period
    /// (midnight, the hour, the minute) under the offset in effect, plus changes of offset: for
    /// hourly and minutely rotation every change, so the hour New York repeats in November is
    /// two periods; for daily rotation only a change across which the local date changes, so a
    /// 23- or 25-hour day is one period.
    pub(crate) fn next_boundary(self, now_micros: i64, zone: &Zone) -> i64 {
        let Some(period) = self.period_micros() else {
            return i64::MAX;
        };
        let mut from = now_micros;
        for _ in 0..MAX_TRANSITIONS {
            let local = from.saturating_add(zone.offset_micros(from));
            let next = from.saturating_add(period - local.rem_euclid(period));
            match zone.transition_after(from) {
                Some(t) if t <= next => {
                    if self.is_boundary(t, zone) {
                        return t;
                    }
                    from = t;
                }
                _ => return next,
            }
        }
        from.saturating_add(period)
    }

    /// Whether the change of offset at `t` starts a new period.
    fn is_boundary(self, t: i64, zone: &Zone) -> bool {
        if self.0 != Period::Daily {
            return true;
        }
        let day = |at: i64| {
            at.saturating_add(zone.offset_micros(at))
                .div_euclid(86_400_000_000)
        };
        day(t) != day(t - 1)
    }

    /// Parses the environment spelling (`never`, `minutely`, `hourly`, `daily`).
    pub(crate) fn parse(s: &str) -> Option<Rotation> {
        match s.trim().to_ascii_lowercase().as_str() {
            "never" | "none" | "off" => Some(Rotation::NEVER),
            "minutely" => Some(Rotation::MINUTELY),
            "hourly" => Some(Rotation::HOURLY),
            "daily" => Some(Rotation::DAILY),
            _ => None,
        }
    }
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation::NEVER
    }
}

impl fmt::Debug for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            Period::Never => "NEVER",
            Period::Minutely => "MINUTELY",
            Period::Hourly => "HOURLY",
            Period::Daily => "DAILY",
        };
        write!(f, "Rotation::{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::Timezone;

    #[test]
    fn boundaries_are_utc_period_starts() {
        let utc = &Zone::UTC;
        let t = 1_700_000_000_123_456; // 2023-11-14T22:13:20.123456Z
        assert_eq!(
            Rotation::HOURLY.next_boundary(t, utc),
            1_700_002_800_000_000
        );
        assert_eq!(Rotation::DAILY.next_boundary(t, utc), 1_700_006_400_000_000);
        assert_eq!(
            Rotation::MINUTELY.next_boundary(t, utc),
            1_700_000_040_000_000
        );
        assert_eq!(Rotation::NEVER.next_boundary(t, utc), i64::MAX);
        // Exactly on a boundary: the next one is a whole period later.
        assert_eq!(
            Rotation::HOURLY.next_boundary(1_700_002_800_000_000, utc),
            1_700_006_400_000_000
        );
        assert_eq!(
            Rotation::HOURLY.period_start(t, utc),
            Some(1_699_999_200_000_000)
        );
        assert_eq!(Rotation::NEVER.period_start(t, utc), None);
    }

    /// The zone's rules twice: ours, and jiff's to check the local wall clock with. A zone
    /// missing from the tz database fails the test (the bundled copy makes that unlikely).
    fn zone(name: &str) -> (Zone, jiff::tz::TimeZone) {
        let ours = Timezone::named(name)
            .resolve()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        (ours, jiff::tz::TimeZone::get(name).unwrap())
    }

    fn local(tz: &jiff::tz::TimeZone, micros: i64) -> jiff::ZonedDateTime {
        jiff::Timestamp::from_microsecond(micros)
            .unwrap()
            .to_zoned_datetime(tz.clone())
    }

    /// Every boundary from `start` for `count` periods, checking the invariants that hold in any
    /// zone: strictly increasing, each the start of its own period, and the period start of any
    /// instant inside a period is that period's boundary.
    fn walk(rotation: Rotation, zone: &Zone, start: i64, count: usize) -> Vec<i64> {
        let mut bounds = vec![rotation.next_boundary(start, zone)];
        for _ in 0..count {
            let b = *bounds.last().unwrap();
            let next = rotation.next_boundary(b, zone);
            assert!(next > b);
            assert_eq!(rotation.period_start(b, zone), Some(b));
            assert_eq!(rotation.period_start(next - 1, zone), Some(b));
            assert_eq!(rotation.period_start(b + (next - b) / 2, zone), Some(b));
            assert_eq!(rotation.next_boundary(next - 1, zone), next);
            bounds.push(next);
        }
        bounds
    }

    const JAN_1_2026: i64 = 1_767_225_600_000_000;

    #[test]
    fn daily_boundaries_start_each_local_date_exactly_once() {
        // Berlin and New York change at 02:00/03:00; Santiago at midnight (its September day
        // starts at 01:00, its April Saturday lasts 25 hours); Lord Howe by half an hour;
        // Kolkata never, at +05:30.
        for name in [
            "America/New_York",
            "Europe/Berlin",
            "America/Santiago",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ] {
            let (ours, tz) = zone(name);
            let bounds = walk(Rotation::DAILY, &ours, JAN_1_2026, 366);
            let mut lengths = std::collections::BTreeSet::new();
            for pair in bounds.windows(2) {
                let (a, b) = (local(&tz, pair[0]), local(&tz, pair[1]));
                assert_eq!(
                    b.date(),
                    a.date().tomorrow().unwrap(),
                    "{name}: {a} then {b}"
                );
                // The day before `b` ends is still `a`'s date: one period per local date.
                assert_eq!(local(&tz, pair[1] - 1).date(), a.date(), "{name}: {a}");
                assert!(
                    b.time() == jiff::civil::Time::midnight()
                        || local(&tz, pair[1] - 1).date() != b.date(),
                    "{name}: {b} is neither midnight nor the first instant of its date"
                );
                lengths.insert((pair[1] - pair[0]) / 60_000_000);
            }
            let expected: &[i64] = match name {
                "Asia/Kolkata" => &[1440],
                "Australia/Lord_Howe" => &[1410, 1440, 1470],
                _ => &[1380, 1440, 1500],
            };
            assert_eq!(lengths.into_iter().collect::<Vec<_>>(), expected, "{name}");
        }
    }

    #[test]
    fn hourly_boundaries_follow_the_local_hour_and_every_offset_change() {
        for name in [
            "America/New_York",
            "Europe/Berlin",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ] {
            let (ours, tz) = zone(name);
            let bounds = walk(Rotation::HOURLY, &ours, JAN_1_2026, 24 * 366);
            for pair in bounds.windows(2) {
                let (a, b) = (local(&tz, pair[0]), local(&tz, pair[1]));
                assert!(pair[1] - pair[0] <= 3_600_000_000, "{name}: {a} then {b}");
                let offset_changed = a.offset() != b.offset();
                // Whole local hours, except where a half-hour change of offset lands.
                assert!(
                    (b.minute(), b.second()) == (0, 0) || offset_changed,
                    "{name}: {b}"
                );
            }
        }
        // New York, 2026-11-01: 01:00 EDT (05:00Z), 01:00 EST (06:00Z), 02:00 EST (07:00Z).
        let (ny, _) = zone("America/New_York");
        let fall_back = 1_793_509_200_000_000; // 05:00Z
        assert_eq!(
            walk(Rotation::HOURLY, &ny, fall_back - 1, 2),
            [
                fall_back,
                fall_back + 3_600_000_000,
                fall_back + 7_200_000_000
            ]
        );
        // 2026-03-08: 01:00 EST (06:00Z), then 03:00 EDT (07:00Z); 02:00 does not exist.
        let spring = 1_772_949_600_000_000; // 06:00Z
        assert_eq!(
            walk(Rotation::HOURLY, &ny, spring - 1, 1),
            [spring, spring + 3_600_000_000]
        );
        // Kolkata's hours start at half past the UTC hour.
        let (kolkata, _) = zone("Asia/Kolkata");
        assert_eq!(
            Rotation::HOURLY.next_boundary(JAN_1_2026, &kolkata),
            JAN_1_2026 + 1_800_000_000
        );
    }

    #[test]
    fn parses_the_environment_spelling() {
        assert_eq!(Rotation::parse("Daily"), Some(Rotation::DAILY));
        assert_eq!(Rotation::parse("never"), Some(Rotation::NEVER));
        assert_eq!(Rotation::parse("weekly"), None);
    }
}

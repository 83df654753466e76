//! The time trigger for rotation.

use std::fmt;

/// How often the active file is rotated by time, in UTC, in addition to (or instead of) the size
/// trigger.
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
    /// At the start of every UTC minute.
    pub const MINUTELY: Rotation = Rotation(Period::Minutely);
    /// At the start of every UTC hour.
    pub const HOURLY: Rotation = Rotation(Period::Hourly);
    /// At midnight UTC.
    pub const DAILY: Rotation = Rotation(Period::Daily);

    fn period_micros(self) -> Option<i64> {
        match self.0 {
            Period::Never => None,
            Period::Minutely => Some(60_000_000),
            Period::Hourly => Some(3_600_000_000),
            Period::Daily => Some(86_400_000_000),
        }
    }

    /// Start of the period containing `now`, or `None` for [`Rotation::NEVER`].
    pub(crate) fn period_start(self, now_micros: i64) -> Option<i64> {
        self.period_micros().map(|p| now_micros.div_euclid(p) * p)
    }

    /// The first boundary strictly after `now` (`i64::MAX` for never).
    pub(crate) fn next_boundary(self, now_micros: i64) -> i64 {
        match self.period_micros() {
            Some(p) => (now_micros.div_euclid(p) + 1).saturating_mul(p),
            None => i64::MAX,
        }
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

    #[test]
    fn boundaries_are_utc_period_starts() {
        let t = 1_700_000_000_123_456; // 2023-11-14T22:13:20.123456Z
        assert_eq!(Rotation::HOURLY.next_boundary(t), 1_700_002_800_000_000);
        assert_eq!(Rotation::DAILY.next_boundary(t), 1_700_006_400_000_000);
        assert_eq!(Rotation::MINUTELY.next_boundary(t), 1_700_000_040_000_000);
        assert_eq!(Rotation::NEVER.next_boundary(t), i64::MAX);
        // Exactly on a boundary: the next one is a whole period later.
        assert_eq!(
            Rotation::HOURLY.next_boundary(1_700_002_800_000_000),
            1_700_006_400_000_000
        );
        assert_eq!(
            Rotation::HOURLY.period_start(t),
            Some(1_699_999_200_000_000)
        );
    }

    #[test]
    fn parses_the_environment_spelling() {
        assert_eq!(Rotation::parse("Daily"), Some(Rotation::DAILY));
        assert_eq!(Rotation::parse("never"), Some(Rotation::NEVER));
        assert_eq!(Rotation::parse("weekly"), None);
    }
}

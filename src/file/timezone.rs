//! The wall clock that time rotation follows: UTC (the default), the system's local time zone,
//! or a named IANA zone. Only rotation boundaries depend on it; record timestamps and rotated
//! file names stay UTC (see [`Timezone`]).
//!
//! Offsets and daylight-saving transitions come from `jiff`, which reads the tz database files
//! (`/usr/share/zoneinfo`, `TZ`, `/etc/localtime`) itself: no `localtime_r`, whose use from a
//! multi-threaded process races with any `setenv`.

use std::fmt;

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The time zone whose wall clock [`Rotation`](crate::file::Rotation) follows: daily rotation at local
/// midnight, hourly at the start of each local hour.
///
/// Only *when* the file rotates depends on it. The record's `timestamp` stays UTC (RFC 3339 with
/// `Z`), and rotated files keep their UTC names (`<name>.YYYYMMDDTHHMMSS.ffffffZ`, the instant of
/// the rotation): those names sort chronologically all year and stay unique through the hour
/// that happens twice when clocks go back.
///
/// Across daylight-saving changes: a local day of 23 or 25 hours is still one daily file; with
/// hourly rotation the repeated hour (01:00–02:00 twice in New York in November) gives two
/// files, and the hour that does not exist gives none. Hourly (and minutely) rotation also
/// happens at any change of UTC offset, so no file mixes two offsets' hours.
///
/// A newtype over a private enum so that kinds can be added without breaking callers.
#[derive(Clone, PartialEq, Eq)]
pub struct Timezone(Kind);

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    Utc,
    Local,
    Named(String),
}

impl Timezone {
    /// UTC (the default): boundaries are those of UTC hours and days.
    pub const UTC: Timezone = Timezone(Kind::Utc);
    /// The system's time zone (`TZ`, else `/etc/localtime`), looked up once when logging
    /// starts. If it cannot be determined, `init()`/`build()` fail rather than silently
    /// rotating on UTC.
    pub const LOCAL: Timezone = Timezone(Kind::Local);

    /// A zone of the IANA tz database, such as `"Europe/Berlin"`: for a container without
    /// `/etc/localtime`, or to rotate on another place's midnight. An unknown name is an error
    /// of `init()`/`build()` naming the setting.
    pub fn named(name: impl Into<String>) -> Timezone {
        Timezone(Kind::Named(name.into()))
    }

    /// Parses the environment spelling: `utc`, `local`, or an IANA zone name.
    pub(crate) fn parse(s: &str) -> Timezone {
        let s = s.trim();
        if s.eq_ignore_ascii_case("utc") || s == "Z" {
            Timezone::UTC
        } else if s.eq_ignore_ascii_case("local") {
            Timezone::LOCAL
        } else {
            Timezone::named(s)
        }
    }

    /// The zone's rules, or why they cannot be had.
    pub(crate) fn resolve(&self) -> Result<Zone, String> {
        match &self.0 {
            Kind::Utc => Ok(Zone::UTC),
            Kind::Local => TimeZone::try_system().map(Zone::rules).map_err(|e| {
                format!(
                    "cannot determine the local time zone ({e}); set TZ, or name the zone, \
                     such as Europe/Berlin"
                )
            }),
            Kind::Named(name) => TimeZone::get(name).map(Zone::rules).map_err(|e| {
                format!("expected utc, local or a time zone name such as Europe/Berlin ({e})")
            }),
        }
    }

    /// The spelling shown in errors and `Debug`.
    pub(crate) fn name(&self) -> &str {
        match &self.0 {
            Kind::Utc => "utc",
            Kind::Local => "local",
            Kind::Named(name) => name,
        }
    }
}

impl Default for Timezone {
    fn default() -> Self {
        Timezone::UTC
    }
}

impl fmt::Debug for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Utc => f.write_str("Timezone::UTC"),
            Kind::Local => f.write_str("Timezone::LOCAL"),
            Kind::Named(name) => write!(f, "Timezone::named({name:?})"),
        }
    }
}

/// A resolved zone: its offsets and transitions, in microseconds since the epoch. `None` is UTC,
/// which needs no lookups.
#[derive(Clone, Debug)]
pub(crate) struct Zone(Option<TimeZone>);

impl Zone {
    pub(crate) const UTC: Zone = Zone(None);

    fn rules(tz: TimeZone) -> Zone {
        Zone(Some(tz))
    }

    /// The UTC offset in effect at `at` (local = `at` + offset). A transition's instant already
    /// has the new offset.
    pub(crate) fn offset_micros(&self, at: i64) -> i64 {
        match (&self.0, timestamp(at)) {
            (Some(tz), Some(ts)) => i64::from(tz.to_offset(ts).seconds()) * 1_000_000,
            _ => 0,
        }
    }

    /// The first change of offset strictly after `at`.
    pub(crate) fn transition_after(&self, at: i64) -> Option<i64> {
        let tz = self.0.as_ref()?;
        let t = tz.following(timestamp(at)?).next()?;
        Some(t.timestamp().as_microsecond())
    }

    /// The last change of offset at or before `at`.
    pub(crate) fn transition_at_or_before(&self, at: i64) -> Option<i64> {
        let tz = self.0.as_ref()?;
        let t = tz.preceding(timestamp(at.checked_add(1)?)?).next()?;
        Some(t.timestamp().as_microsecond())
    }
}

/// `None` outside jiff's range (about ±9999 years): such a clock is treated as UTC.
fn timestamp(micros: i64) -> Option<Timestamp> {
    Timestamp::from_microsecond(micros).ok()
}

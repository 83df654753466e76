//! UTC calendar arithmetic and the two timestamp spellings the crate writes: RFC 3339 in records
//! (`2026-11-25T22:00:59.123456Z`) and a file-name-safe compact form for rotated files
//! (`20261125T220059.123456Z`).
//!
//! Hand-written, although `jiff` is a dependency for time zones: UTC needs only the days-to-civil
//! conversion, and the record path a per-second cached prefix (DESIGN.md, "Why `jiff` for time
//! zones, but hand-written timestamps?").

use std::cell::Cell;
use std::time::SystemTime;

use crate::clock::micros_of;

/// A UTC instant broken into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

/// Splits microseconds since the epoch into whole seconds and the microsecond remainder, rounding
/// towards negative infinity so that times before 1970 still get a remainder in `0..1_000_000`.
pub(crate) fn split_micros(micros: i64) -> (i64, u32) {
    (
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000) as u32,
    )
}

/// Converts seconds since the epoch to UTC calendar fields (proleptic Gregorian).
pub(crate) fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's days_from_civil inverse, valid for the whole i64 day range we can reach.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
    }
}

/// Seconds since the epoch of midnight UTC at the start of the given civil date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn push_2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

fn push_year(out: &mut Vec<u8>, year: i64) {
    // Four digits for the years anybody logs in; wider years still come out readable.
    if (0..=9999).contains(&year) {
        let y = year as u32;
        push_2(out, y / 100);
        push_2(out, y % 100);
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(year).as_bytes());
    }
}

/// Appends six digits, two at a time from a table: a digit at a time was a tenth of a record's
/// cost.
fn push_micros(out: &mut Vec<u8>, micros: u32) {
    let pair = |v: u32| {
        let i = (v % 100) as usize * 2;
        [PAIRS[i], PAIRS[i + 1]]
    };
    let ([a, b], [c, d], [e, f]) = (pair(micros / 10_000), pair(micros / 100), pair(micros));
    out.extend_from_slice(&[a, b, c, d, e, f]);
}

/// `00` to `99`.
static PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Appends `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) fn push_rfc3339(out: &mut Vec<u8>, micros: i64) {
    let (secs, frac) = split_micros(micros);
    push_rfc3339_seconds(out, secs);
    push_micros(out, frac);
    out.push(b'Z');
}

/// Appends `YYYY-MM-DDTHH:MM:SS.` (the part that only changes once a second).
fn push_rfc3339_seconds(out: &mut Vec<u8>, secs: i64) {
    let c = civil(secs);
    push_year(out, c.year);
    out.push(b'-');
    push_2(out, c.month);
    out.push(b'-');
    push_2(out, c.day);
    out.push(b'T');
    push_2(out, c.hour);
    out.push(b':');
    push_2(out, c.minute);
    out.push(b':');
    push_2(out, c.second);
    out.push(b'.');
}

/// Appends `YYYYMMDDTHHMMSS.ffffffZ`: sorts chronologically as text and is safe in file names.
pub(crate) fn push_compact(out: &mut Vec<u8>, micros: i64) {
    let (secs, frac) = split_micros(micros);
    let c = civil(secs);
    push_year(out, c.year);
    push_2(out, c.month);
    push_2(out, c.day);
    out.push(b'T');
    push_2(out, c.hour);
    push_2(out, c.minute);
    push_2(out, c.second);
    out.push(b'.');
    push_micros(out, frac);
    out.push(b'Z');
}

/// [`push_rfc3339`] as a `String`: `2026-11-25T22:00:59.123456Z`.
pub(crate) fn rfc3339(micros: i64) -> String {
    let mut out = Vec::with_capacity(27);
    push_rfc3339(&mut out, micros);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`rfc3339`] of a `SystemTime`.
pub(crate) fn rfc3339_of(t: SystemTime) -> String {
    rfc3339(micros_of(t))
}

/// To the second, for people: `2026-11-25T22:00:59Z`.
pub(crate) fn rfc3339_seconds(micros: i64) -> String {
    let mut out = Vec::with_capacity(20);
    push_rfc3339_seconds(&mut out, micros.div_euclid(1_000_000));
    out.pop(); // the `.` before the fraction
    out.push(b'Z');
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses exactly the [`push_compact`] form back into microseconds; anything else is `None`.
pub(crate) fn parse_compact(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 23 || b[8] != b'T' || b[15] != b'.' || b[22] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[range];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            part.iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')),
        )
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let frac = num(16..22)?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    if civil(days * 86_400).day != day {
        return None; // e.g. 20260231
    }
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some(secs * 1_000_000 + i64::from(frac))
}

thread_local! {
    /// The last second this thread formatted, and its `YYYY-MM-DDTHH:MM:SS.` rendering.
    static SECOND_PREFIX: Cell<(i64, [u8; 20])> = const { Cell::new((i64::MIN, [0; 20])) };
}

/// [`push_rfc3339`] with the per-second part cached per thread: within one second only the six
/// sub-second digits are formatted.
#[inline]
pub(crate) fn push_rfc3339_cached(out: &mut Vec<u8>, micros: i64) {
    let (secs, frac) = split_micros(micros);
    let (cached_secs, prefix) = SECOND_PREFIX.get();
    if cached_secs == secs {
        out.extend_from_slice(&prefix);
    } else {
        let start = out.len();
        push_rfc3339_seconds(out, secs);
        let rendered = &out[start..];
        if rendered.len() == 20 {
            let mut p = [0u8; 20];
            p.copy_from_slice(rendered);
            SECOND_PREFIX.set((secs, p));
        }
    }
    push_micros(out, frac);
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc(micros: i64) -> String {
        let mut v = Vec::new();
        push_rfc3339(&mut v, micros);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc(1_700_000_000_123_456), "2023-11-14T22:13:20.123456Z");
        assert_eq!(rfc(1_700_000_000_010_203), "2023-11-14T22:13:20.010203Z");
        // Leap day and end of a leap year.
        assert_eq!(rfc(951_782_400_000_000), "2000-02-29T00:00:00.000000Z");
        assert_eq!(rfc(1_483_228_799_999_999), "2016-12-31T23:59:59.999999Z");
        assert_eq!(rfc(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn string_forms() {
        let t = 1_795_987_259_123_456;
        assert_eq!(rfc3339(t), "2026-11-29T21:20:59.123456Z");
        assert_eq!(rfc3339_seconds(t), "2026-11-29T21:20:59Z");
        assert_eq!(rfc3339_seconds(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn cached_matches_uncached_across_seconds() {
        for micros in [
            0,
            999_999,
            1_000_000,
            1_700_000_000_000_000,
            1_700_000_000_999_999,
            1_700_000_001_000_000,
            5,
        ] {
            let mut v = Vec::new();
            push_rfc3339_cached(&mut v, micros);
            assert_eq!(String::from_utf8(v).unwrap(), rfc(micros));
        }
    }

    #[test]
    fn compact_round_trips_and_is_strict() {
        for micros in [0, 1_700_000_000_123_456, 4_102_444_799_999_999] {
            let mut v = Vec::new();
            push_compact(&mut v, micros);
            let s = String::from_utf8(v).unwrap();
            assert_eq!(parse_compact(&s), Some(micros), "{s}");
        }
        for bad in [
            "20231114T221320.123456",
            "20231114T221320.123456ZZ",
            "2023111XT221320.123456Z",
            "20230231T221320.123456Z",
            "20231314T221320.123456Z",
            "20231114T251320.123456Z",
            "20231114 221320.123456Z",
            "",
        ] {
            assert_eq!(parse_compact(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_round_trips_over_many_days() {
        for day in (-800_000i64..800_000).step_by(97) {
            let c = civil(day * 86_400);
            assert_eq!(days_from_civil(c.year, c.month, c.day), day);
        }
    }
}

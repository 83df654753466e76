//! Parsers for the human spellings of settings (`10MiB`, `5s`, `0640`). Pure functions; the
//! builder turns their `None` into an error that names the setting.

use std::time::Duration;

/// A byte count: `10485760`, `10MB` (10⁷), `10MiB` (10·2²⁰), `512k`, `1.5GiB`. Case-insensitive,
/// optional space before the unit, optional trailing `B`.
pub(crate) fn byte_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = unit.trim_start().to_ascii_lowercase();
    let multiplier: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        _ => return None,
    };
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(multiplier);
    }
    // Fractions (`1.5GiB`): exact enough for sizes, and rejected if they would overflow.
    let value: f64 = number.parse().ok()?;
    let bytes = value * multiplier as f64;
    (bytes.is_finite() && bytes < u64::MAX as f64).then(|| bytes.round() as u64)
}

/// Fixed fields: `version=1.4.2,region=eu-west-1`. Spaces around keys and values are
/// trimmed, empty items skipped; a value may contain `=`. An item without `=`, an empty key or a
/// key given twice is refused.
pub(crate) fn key_values(s: &str) -> Option<Vec<(String, String)>> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = item.split_once('=')?;
        let key = key.trim();
        if key.is_empty() || pairs.iter().any(|(k, _)| k == key) {
            return None;
        }
        pairs.push((key.to_owned(), value.trim().to_owned()));
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// A duration: `60` (seconds), `250ms`, `60s`, `5m`, `2h`, `1d`.
pub(crate) fn duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().ok()?;
    let secs = |mult: u64| n.checked_mul(mult).map(Duration::from_secs);
    match unit.trim_start().to_ascii_lowercase().as_str() {
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" | "sec" | "secs" => secs(1),
        "m" | "min" | "mins" => secs(60),
        "h" => secs(3_600),
        "d" => secs(86_400),
        _ => None,
    }
}

/// A Unix permission mode in octal (`0640`, `640`, `0o600`); only the permission bits.
pub(crate) fn file_mode(s: &str) -> Option<u32> {
    let s = s.trim();
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 {
        return None;
    }
    let mode = u32::from_str_radix(digits, 8).ok()?;
    (mode <= 0o777).then_some(mode)
}

/// `true`/`false` in the usual spellings.
pub(crate) fn boolean(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_lists() {
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            key_values(" version = 1.4.2 ,region=eu-west-1,"),
            Some(pairs(&[("version", "1.4.2"), ("region", "eu-west-1")]))
        );
        assert_eq!(key_values("q=a=b"), Some(pairs(&[("q", "a=b")])));
        assert_eq!(key_values("empty="), Some(pairs(&[("empty", "")])));
        for bad in ["version", "=1", "a=1,a=2", " , "] {
            assert_eq!(key_values(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(byte_size("10485760"), Some(10_485_760));
        assert_eq!(byte_size("10MB"), Some(10_000_000));
        assert_eq!(byte_size("10MiB"), Some(10_485_760));
        assert_eq!(byte_size("10 mib"), Some(10_485_760));
        assert_eq!(byte_size("512k"), Some(512_000));
        assert_eq!(byte_size("1.5GiB"), Some(1_610_612_736));
        assert_eq!(byte_size("2KiB"), Some(2048));
        for bad in [
            "",
            "ten megabytes",
            "10XB",
            "-5",
            "1..5",
            ".5M",
            "5.",
            "99999999999999999999",
            "20000000000GiB",
        ] {
            assert_eq!(byte_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("60"), Some(Duration::from_secs(60)));
        assert_eq!(duration("60s"), Some(Duration::from_secs(60)));
        assert_eq!(duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(duration("1d"), Some(Duration::from_secs(86_400)));
        for bad in ["", "s", "5 weeks", "-1s", "1.5s"] {
            assert_eq!(duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn modes() {
        assert_eq!(file_mode("0640"), Some(0o640));
        assert_eq!(file_mode("600"), Some(0o600));
        assert_eq!(file_mode("0o600"), Some(0o600));
        for bad in ["", "0800", "rw-r-----", "07777", "17777"] {
            assert_eq!(file_mode(bad), None, "{bad}");
        }
    }

    #[test]
    fn booleans() {
        assert_eq!(boolean("TRUE"), Some(true));
        assert_eq!(boolean("off"), Some(false));
        assert_eq!(boolean("maybe"), None);
    }
}

//! Text for people and bounded text: durations that read well, cutting on character
//! boundaries, terminal-safe log text, and a `String` writer with a cap.

use std::fmt;
use std::time::Duration;

/// The largest char boundary of `s` at or below `max`.
pub(crate) fn floor_boundary(s: &str, max: usize) -> usize {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// `s` cut to at most `max` bytes on a character boundary, marked with `…` when cut.
pub(crate) fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        s.truncate(floor_boundary(&s, max));
        s.push('…');
    }
    s
}

/// `2m 13s`, `1h 02m`, `850ms`: durations for people.
pub(crate) fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m"),
    }
}

/// Characters that change how the text around them is shown without being seen themselves:
/// bidirectional overrides and isolates (U+202E makes `gpj.exe` read `exe.jpg`), marks and
/// zero-width characters.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Log text made safe for a terminal, cut to `max` characters (with `…`): control characters
/// and invisible ones are shown escaped, so a message can neither drive the terminal nor
/// reorder what it shows.
pub(crate) fn for_terminal(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control() || is_invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON text with the invisible characters of [`is_invisible`] written as `\uXXXX` escapes,
/// which mean the same to a JSON reader but show as what they are on a terminal. They can only
/// stand inside strings, where the escape is valid.
#[cfg(any(test, feature = "cli"))]
pub(crate) fn json_visible(json: String) -> String {
    if !json.chars().any(is_invisible) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_invisible(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A `String` writer that stops growing at `room` bytes (on a character boundary) and only
/// counts the rest, so formatting a huge `Debug` value costs time but not memory.
#[derive(Debug)]
pub(crate) struct CappedString {
    pub(crate) text: String,
    room: usize,
    pub(crate) dropped: usize,
}

impl CappedString {
    pub(crate) fn new(room: usize) -> Self {
        CappedString {
            text: String::new(),
            room,
            dropped: 0,
        }
    }

    /// Formats `value` into a new capped string.
    pub(crate) fn format(room: usize, value: fmt::Arguments<'_>) -> Self {
        let mut out = CappedString::new(room);
        let _ = fmt::write(&mut out, value);
        out
    }
}

impl fmt::Write for CappedString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.dropped > 0 {
            self.dropped += s.len();
            return Ok(());
        }
        let fits = floor_boundary(s, self.room);
        self.text.push_str(&s[..fits]);
        self.room -= fits;
        self.dropped = s.len() - fits;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_on_a_character_boundary_and_counts_the_rest() {
        let c = CappedString::format(4, format_args!("{}{}", "abcé", "xyz"));
        assert_eq!(c.text, "abc");
        assert_eq!(c.dropped, 2 + 3);
        assert_eq!(floor_boundary("日本", 4), 3);
        assert_eq!(floor_boundary("ab", 9), 2);
    }

    #[test]
    fn invisible_characters_are_shown_escaped() {
        let spoof = "invoice\u{202E}gpj.exe";
        assert_eq!(for_terminal(spoof, 100), "invoice\\u{202e}gpj.exe");
        assert_eq!(for_terminal("a\u{1b}[31m", 100), "a\\u{1b}[31m");
        let json = serde_json::json!({ "s": spoof }).to_string();
        let visible = json_visible(json);
        assert_eq!(visible, r#"{"s":"invoice\u202egpj.exe"}"#);
        let back: serde_json::Value = serde_json::from_str(&visible).unwrap();
        assert_eq!(back["s"], spoof, "the same text to a JSON reader");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(human_duration(Duration::from_secs(45)), "45s");
        assert_eq!(human_duration(Duration::from_secs(133)), "2m 13s");
        assert_eq!(human_duration(Duration::from_secs(3720)), "1h 02m");
    }
}

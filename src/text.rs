//! Bounded text: cutting on character boundaries, and a `String` writer with a cap.

use std::fmt;

/// The largest char boundary of `s` at or below `max`.
pub(crate) fn floor_boundary(s: &str, max: usize) -> usize {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Log text made safe for a terminal, cut to `max` characters (with `…`): control characters
/// are shown escaped, so a message cannot drive the terminal.
pub(crate) fn for_terminal(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
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
}

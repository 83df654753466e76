//! JSON string escaping, in bulk: runs of ordinary bytes are copied with one `extend_from_slice`,
//! only the bytes that need it are rewritten.
//!
//! Beyond what JSON requires (`"`, `\`, U+0000–U+001F) we also escape DEL and U+2028/U+2029, so a
//! record stays one line for every reader — JavaScript-based viewers treat U+2028/9 as line breaks.

use std::fmt;

/// For each byte: 0 = copy as is, otherwise the escape class.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = 1;
        i += 1;
    }
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t[0x7f] = 1;
    // First byte of U+2028 / U+2029 (E2 80 A8 / E2 80 A9); checked further when seen.
    t[0xe2] = 2;
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// How many leading bytes of `bytes` are printable ASCII other than `"` and backslash: the run that
/// is copied as is. Eight bytes per step (SWAR): most keys, messages and values are plain
/// ASCII, and byte-at-a-time classification was the larger part of escaping them.
#[inline]
fn plain_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte that is below 0x20, `"`, `\`, DEL or not ASCII. A borrow can
    // also mark bytes after a marked one, never before it, so the lowest mark is exact.
    let marks = |w: u64| {
        let zero_at = |x: u64| x.wrapping_sub(ONES) & !x;
        let control = w.wrapping_sub(ONES * 0x20) & !w;
        (control
            | zero_at(w ^ (ONES * u64::from(b'"')))
            | zero_at(w ^ (ONES * u64::from(b'\\')))
            | zero_at(w ^ (ONES * 0x7f))
            | w)
            & HIGH
    };
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let m = marks(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    let m = match bytes.len() {
        n if n == i => return n,
        // The last eight bytes again, overlapping what was checked (those bytes carry no mark).
        n if n >= 8 => {
            let last = &bytes[n - 8..];
            marks(u64::from_le_bytes(last.try_into().expect("8 bytes"))) >> (8 * (8 - (n - i)))
        }
        // A short string, padded with plain bytes.
        _ => marks(
            bytes
                .iter()
                .rev()
                .fold(u64::from_ne_bytes([b'a'; 8]), |w, &b| {
                    (w << 8) | u64::from(b)
                }),
        ),
    };
    if m != 0 {
        i + (m.trailing_zeros() / 8) as usize
    } else {
        bytes.len()
    }
}

/// Whether `s` goes into a JSON string unchanged.
pub(crate) fn is_plain(s: &str) -> bool {
    plain_prefix(s.as_bytes()) == s.len()
}

/// Appends `s` escaped for the inside of a JSON string (no surrounding quotes).
#[inline]
pub(crate) fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let plain = plain_prefix(bytes);
    if plain == bytes.len() {
        out.extend_from_slice(bytes);
        return;
    }
    // From the first byte that needs a look on, byte by byte.
    let mut start = 0;
    let mut i = plain;
    while i < bytes.len() {
        let b = bytes[i];
        match CLASS[b as usize] {
            0 => {
                i += 1;
                continue;
            }
            2 => {
                if bytes.len() > i + 2
                    && bytes[i + 1] == 0x80
                    && (bytes[i + 2] == 0xa8 || bytes[i + 2] == 0xa9)
                {
                    out.extend_from_slice(&bytes[start..i]);
                    out.extend_from_slice(if bytes[i + 2] == 0xa8 {
                        b"\\u2028"
                    } else {
                        b"\\u2029"
                    });
                    i += 3;
                    start = i;
                } else {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]),
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends `"s"` (quoted and escaped).
#[inline]
pub(crate) fn quoted_into(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

/// How many bytes `c` takes once escaped by [`escape_into`].
#[inline]
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        '\u{0}'..='\u{1f}' | '\u{7f}' | '\u{2028}' | '\u{2029}' => 6,
        c => c.len_utf8(),
    }
}

/// [`escape_into`] writing at most `cap` bytes: the longest prefix of `s` (whole characters,
/// whole escapes) that fits. Returns how many bytes of `s` were left out.
///
/// Only the part that fits is ever looked at twice, so a 50 MB value costs what `cap` costs.
#[inline]
pub(crate) fn escape_capped(out: &mut Vec<u8>, s: &str, cap: usize) -> usize {
    let base = out.len();
    if s.len() <= cap {
        escape_into(out, s);
        if out.len() - base <= cap {
            return 0;
        }
        out.truncate(base);
    }
    let mut used = 0;
    let mut fits = 0;
    for (at, c) in s.char_indices() {
        used += escaped_len(c);
        if used > cap {
            break;
        }
        fits = at + c.len_utf8();
    }
    escape_into(out, &s[..fits]);
    s.len() - fits
}

/// The visible end of a cut value: `…[truncated 1234 bytes]` (counted in the original text).
pub(crate) fn push_cut_marker(out: &mut Vec<u8>, dropped: usize) {
    out.extend_from_slice("…[truncated ".as_bytes());
    out.extend_from_slice(itoa::Buffer::new().format(dropped).as_bytes());
    out.extend_from_slice(b" bytes]");
}

/// A `fmt::Write` that escapes as it goes, for `Debug` values and formatted messages: formatting
/// lands directly in the line buffer, never in a temporary `String`. Past `room` bytes it only
/// counts, so memory stays bounded however much a `Debug` impl writes.
pub(crate) struct Escaper<'a> {
    out: &'a mut Vec<u8>,
    room: usize,
    dropped: usize,
}

impl<'a> Escaper<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>, room: usize) -> Self {
        Escaper {
            out,
            room,
            dropped: 0,
        }
    }

    /// Bytes of formatted text left out.
    pub(crate) fn dropped(&self) -> usize {
        self.dropped
    }
}

impl fmt::Write for Escaper<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.dropped > 0 {
            self.dropped += s.len();
            return Ok(());
        }
        let before = self.out.len();
        self.dropped = escape_capped(self.out, s, self.room);
        self.room -= self.out.len() - before;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut v = Vec::new();
        quoted_into(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn round_trips_through_a_json_parser() {
        let samples = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "line\nbreak\r\ttab\u{8}\u{c}",
            "\u{0}\u{1}\u{1f}\u{7f}",
            "sep\u{2028}para\u{2029}end",
            "é ünïcödé 日本語 🎉 \u{e2}",
            "\u{2027}\u{202a}", // neighbours of the separators are left alone
        ];
        for s in samples {
            let json = esc(s);
            assert!(
                !json.contains('\n') && !json.contains('\u{2028}') && !json.contains('\u{2029}')
            );
            let back: String = serde_json::from_str(&json).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn capped_escaping_cuts_on_whole_characters_and_escapes() {
        let cut = |s: &str, cap: usize| {
            let mut v = Vec::new();
            let dropped = escape_capped(&mut v, s, cap);
            (String::from_utf8(v).unwrap(), dropped)
        };
        assert_eq!(cut("hello", 5), ("hello".to_owned(), 0));
        assert_eq!(cut("hello", 3), ("hel".to_owned(), 2));
        assert_eq!(cut("a\nb", 2), ("a".to_owned(), 2));
        assert_eq!(cut("ab\u{1}", 7), ("ab".to_owned(), 1));
        assert_eq!(cut("é日x", 4), ("é".to_owned(), 4));
        assert_eq!(cut("", 0), (String::new(), 0));
        let big = "x".repeat(50 << 20);
        assert_eq!(cut(&big, 10), ("x".repeat(10), (50 << 20) - 10));
    }

    #[test]
    fn the_escaper_stops_writing_but_keeps_counting() {
        use std::fmt::Write;
        let mut v = Vec::new();
        let mut e = Escaper::new(&mut v, 4);
        let (a, b, c) = ("ab", "cde", "fg");
        write!(e, "{a}{b}{c}").unwrap();
        assert_eq!(e.dropped(), 3); // "e" of "cde", then all of "fg"
        assert_eq!(v, b"abcd");
    }

    #[test]
    fn the_plain_run_ends_at_the_first_byte_that_needs_a_look() {
        // Every byte value, at every position of strings that cross the 8-byte steps.
        for len in 1..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut v = vec![b'x'; len];
                    v[at] = b;
                    let needs_look = CLASS[b as usize] != 0 || b >= 0x80;
                    let expected = if needs_look { at } else { len };
                    assert_eq!(plain_prefix(&v), expected, "byte {b:#x} at {at} of {len}");
                }
            }
        }
        assert_eq!(plain_prefix(b""), 0);
    }

    #[test]
    fn escapes_the_short_forms() {
        assert_eq!(esc("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(esc("\u{1}"), r#""\u0001""#);
        assert_eq!(esc("\u{2028}"), r#""\u2028""#);
    }
}

//! Value patterns: secrets recognised by their shape inside any text value and the message.
//!
//! The scanner works on text already escaped for JSON (the bytes of the line being built), so it
//! never allocates unless something matches, and it treats every escape sequence (`\n`, `\"`,
//! `\u0001`…) as a separator it never cuts into: a replacement can never break the escaping.
//! Every match starts and ends on an ASCII byte, so UTF-8 stays intact too.

use std::fmt;
use std::ops::BitOr;

use smallvec::SmallVec;

/// Which shapes of secret are masked wherever they appear in a text value or the message.
///
/// Off by default: each pattern costs a scan of every text value, and each has false positives
/// (see below). Turn on the ones your data needs with [`Redaction::values`](crate::redact::Redaction::values)
/// or `LOGWARDEN_REDACT_VALUES=email,card,bearer,jwt,aws_key` (or `all`).
///
/// | pattern | matches | written as | false positives |
/// |---|---|---|---|
/// | [`EMAIL`](Self::EMAIL) | `local@domain.tld` | `***@domain.tld` | rare: `user@host.name` style identifiers in text |
/// | [`CARD`](Self::CARD) | 13–19 digits starting with 2–6, single spaces or dashes between digits, passing the Luhn check | `[REDACTED:card]` | one in ten such numbers passes Luhn: long ids and timestamps in *text* can be masked (integer fields never are) |
/// | [`BEARER`](Self::BEARER) | `Bearer <token>` (any case), the token at least 16 characters, or 8 with a digit | `Bearer [REDACTED]` | prose such as "bearer instrument12" |
/// | [`JWT`](Self::JWT) | `eyJ…` three base64url segments joined by dots | `[REDACTED:jwt]` | practically none |
/// | [`AWS_KEY`](Self::AWS_KEY) | `AKIA`/`ASIA`/`ABIA`/`ACCA` and 16 upper-case letters or digits | `[REDACTED:aws_key]` | practically none |
///
/// A value cut by the size cap is scanned after the cut (only what is kept), so a secret straddling
/// the cut is not recognised and may leave its first digits or characters behind.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ValuePatterns(u8);

impl ValuePatterns {
    /// No value pattern (the default).
    pub const NONE: ValuePatterns = ValuePatterns(0);
    /// E-mail addresses; the domain is kept.
    pub const EMAIL: ValuePatterns = ValuePatterns(1);
    /// Payment card numbers (Luhn-checked).
    pub const CARD: ValuePatterns = ValuePatterns(2);
    /// `Bearer` tokens, as in an `Authorization` header.
    pub const BEARER: ValuePatterns = ValuePatterns(4);
    /// JSON Web Tokens.
    pub const JWT: ValuePatterns = ValuePatterns(8);
    /// AWS access key ids.
    pub const AWS_KEY: ValuePatterns = ValuePatterns(16);
    /// Every pattern above.
    pub const ALL: ValuePatterns = ValuePatterns(31);

    const NAMES: [(&'static str, ValuePatterns); 5] = [
        ("email", ValuePatterns::EMAIL),
        ("card", ValuePatterns::CARD),
        ("bearer", ValuePatterns::BEARER),
        ("jwt", ValuePatterns::JWT),
        ("aws_key", ValuePatterns::AWS_KEY),
    ];

    /// Whether every pattern of `other` is on in `self`.
    pub fn contains(self, other: ValuePatterns) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no pattern is on.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// `email,card,…`, `all` or `none`.
    pub(crate) fn parse(list: &str) -> Option<ValuePatterns> {
        let mut out = ValuePatterns::NONE;
        for item in list.split(',').map(|s| s.trim().to_ascii_lowercase()) {
            match item.as_str() {
                "" => {}
                "all" => out = ValuePatterns::ALL,
                "none" | "off" => {}
                name => {
                    let name = if name == "aws" { "aws_key" } else { name };
                    out = out | Self::NAMES.iter().find(|(n, _)| *n == name)?.1;
                }
            }
        }
        Some(out)
    }
}

impl BitOr for ValuePatterns {
    type Output = ValuePatterns;
    fn bitor(self, rhs: ValuePatterns) -> ValuePatterns {
        ValuePatterns(self.0 | rhs.0)
    }
}

impl fmt::Debug for ValuePatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on: Vec<&str> = Self::NAMES
            .iter()
            .filter(|(_, p)| self.contains(*p))
            .map(|(n, _)| *n)
            .collect();
        write!(
            f,
            "ValuePatterns({})",
            if on.is_empty() {
                "none".to_owned()
            } else {
                on.join("|")
            }
        )
    }
}

#[derive(Clone, Copy)]
enum Replace {
    EmailLocal,
    Card,
    Token,
    Jwt,
    AwsKey,
}

impl Replace {
    fn text(self) -> &'static [u8] {
        match self {
            Replace::EmailLocal => b"***",
            Replace::Card => b"[REDACTED:card]",
            Replace::Token => b"[REDACTED]",
            Replace::Jwt => b"[REDACTED:jwt]",
            Replace::AwsKey => b"[REDACTED:aws_key]",
        }
    }
}

#[inline]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Bytes of an e-mail local part: RFC 5322's `atext` and dots, and any non-ASCII byte (SMTPUTF8
/// addresses), so that no part of an unusual address is left in front of the mask.
#[inline]
fn is_email_local(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || !b.is_ascii()
        || matches!(
            b,
            b'.' | b'!'
                | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
                | b'-'
        )
}

#[inline]
fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Rewrites every match of `patterns` in `buf[start..]`. With `escaped`, the bytes are the
/// inside of a JSON string and `\` starts an escape sequence; otherwise they are plain text.
pub(crate) fn redact(buf: &mut Vec<u8>, start: usize, patterns: ValuePatterns, escaped: bool) {
    if patterns.is_empty() || buf.len() <= start {
        return;
    }
    let patterns = candidates(&buf[start..], patterns);
    if patterns.is_empty() {
        return;
    }
    let end = buf.len();
    let mut edits: SmallVec<[(usize, usize, Replace); 2]> = SmallVec::new();
    let mut i = start;
    let mut prev_word = false;
    let mut local_start: Option<usize> = None;
    while i < end {
        let b = buf[i];
        if escaped && b == b'\\' {
            i += if buf.get(i + 1) == Some(&b'u') { 6 } else { 2 };
            prev_word = false;
            local_start = None;
            continue;
        }
        if !prev_word {
            let found = match b {
                b'2'..=b'6' if patterns.contains(ValuePatterns::CARD) => {
                    card(buf, i, end).map(|e| (i, e, Replace::Card))
                }
                b'e' if patterns.contains(ValuePatterns::JWT) => {
                    jwt(buf, i, end).map(|e| (i, e, Replace::Jwt))
                }
                b'A' if patterns.contains(ValuePatterns::AWS_KEY) => {
                    aws_key(buf, i, end).map(|e| (i, e, Replace::AwsKey))
                }
                b'B' | b'b' if patterns.contains(ValuePatterns::BEARER) => {
                    bearer(buf, i, end).map(|(s, e)| (s, e, Replace::Token))
                }
                _ => None,
            };
            if let Some((s, e, r)) = found {
                edits.push((s, e, r));
                i = e;
                prev_word = true;
                local_start = None;
                continue;
            }
        }
        if b == b'@' && patterns.contains(ValuePatterns::EMAIL) {
            if let Some(ls) = local_start {
                if let Some(e) = domain(buf, i + 1, end) {
                    edits.push((ls, i, Replace::EmailLocal));
                    i = e;
                    prev_word = true;
                    local_start = None;
                    continue;
                }
            }
        }
        if is_email_local(b) {
            local_start.get_or_insert(i);
        } else {
            local_start = None;
        }
        prev_word = is_word(b);
        i += 1;
    }
    if edits.is_empty() {
        return;
    }
    let mut tail = Vec::with_capacity(end - start);
    let mut at = start;
    for (s, e, r) in edits {
        tail.extend_from_slice(&buf[at..s]);
        tail.extend_from_slice(r.text());
        at = e;
    }
    tail.extend_from_slice(&buf[at..end]);
    buf.truncate(start);
    buf.extend_from_slice(&tail);
}

/// For the one-pass survey of short values: which bytes hint at which pattern.
const HINT_AT: u8 = 1;
const HINT_DIGIT: u8 = 2;
const HINT_B: u8 = 4;
const HINT_J: u8 = 8;
const HINT_A: u8 = 16;

static HINTS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'@' as usize] = HINT_AT;
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = HINT_DIGIT;
        d += 1;
    }
    t[b'b' as usize] = HINT_B;
    t[b'B' as usize] = HINT_B;
    t[b'J' as usize] = HINT_J;
    t[b'A' as usize] = HINT_A;
    t
};

/// Values up to this length are surveyed in one pass over a table; longer ones with `memchr`.
const SHORT: usize = 256;

/// The patterns that could match somewhere in `text`, from what each needs to be present: most
/// text has no `@`, no 13 digits, no `bearer`, `eyJ` or `AKIA`, and is then never walked by the
/// scanner. Short values (messages, targets, most fields) are surveyed in one pass; a pattern's
/// own search then runs only if its hint byte was seen.
fn candidates(text: &[u8], patterns: ValuePatterns) -> ValuePatterns {
    if text.len() <= SHORT {
        let (mut seen, mut digits) = (0u8, 0usize);
        for &b in text {
            let hint = HINTS[b as usize];
            seen |= hint;
            digits += usize::from(hint == HINT_DIGIT);
        }
        let mut hinted = ValuePatterns::NONE;
        for (hint, pattern) in [
            (HINT_AT, ValuePatterns::EMAIL),
            (HINT_B, ValuePatterns::BEARER),
            (HINT_J, ValuePatterns::JWT),
            (HINT_A, ValuePatterns::AWS_KEY),
        ] {
            if seen & hint != 0 {
                hinted = hinted | pattern;
            }
        }
        if digits >= 13 {
            hinted = hinted | ValuePatterns::CARD;
        }
        let patterns = ValuePatterns(patterns.0 & hinted.0);
        if patterns.is_empty() {
            return patterns;
        }
        return confirmed(text, patterns);
    }
    confirmed(text, patterns)
}

/// [`candidates`]' searches, one per pattern.
fn confirmed(text: &[u8], patterns: ValuePatterns) -> ValuePatterns {
    // Single-byte searches on a byte that is rare in prose, then a look around it: cheaper on
    // short values than a substring searcher.
    let around = |needle: u8, at: &dyn Fn(usize) -> bool| memchr::memchr_iter(needle, text).any(at);
    let mut out = ValuePatterns::NONE;
    let mut check = |p: ValuePatterns, present: &dyn Fn() -> bool| {
        if patterns.contains(p) && present() {
            out = out | p;
        }
    };
    check(ValuePatterns::EMAIL, &|| {
        memchr::memchr(b'@', text).is_some()
    });
    check(ValuePatterns::CARD, &|| {
        text.len() >= 13 && text.iter().filter(|b| b.is_ascii_digit()).count() >= 13
    });
    check(ValuePatterns::BEARER, &|| {
        memchr::memchr2_iter(b'b', b'B', text).any(|i| {
            text.get(i..i + 6)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"bearer"))
        })
    });
    check(ValuePatterns::JWT, &|| {
        around(b'J', &|i| i >= 2 && &text[i - 2..i] == b"ey")
    });
    check(ValuePatterns::AWS_KEY, &|| {
        around(b'A', &|i| {
            matches!(
                text.get(i..i + 4),
                Some(b"AKIA" | b"ASIA" | b"ABIA" | b"ACCA")
            )
        })
    });
    out
}

/// [`redact`] for plain text, allocating only when something matches.
pub(crate) fn redact_text(text: String, patterns: ValuePatterns) -> String {
    if patterns.is_empty() {
        return text;
    }
    let mut bytes = text.into_bytes();
    redact(&mut bytes, 0, patterns, false);
    // Matches start and end on ASCII bytes and replacements are ASCII: still UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A card number starting at `i`: returns its end. The run of digit groups may go on past the
/// card (`4111 1111 1111 1111 123` with the CVV, `…-2024` with a year): the longest prefix that
/// ends a group, has 13–19 digits and passes Luhn is the card.
fn card(buf: &[u8], i: usize, end: usize) -> Option<usize> {
    let mut digits: SmallVec<[u8; 19]> = SmallVec::new();
    let mut best = None;
    let mut j = i;
    loop {
        while j < end && buf[j].is_ascii_digit() {
            if digits.len() == 19 {
                return best;
            }
            digits.push(buf[j] - b'0');
            j += 1;
        }
        let bounded = j >= end || !is_word(buf[j]);
        if (13..=19).contains(&digits.len()) && bounded && luhn(&digits) {
            best = Some(j);
        }
        let separator_then_digit =
            j + 1 < end && (buf[j] == b' ' || buf[j] == b'-') && buf[j + 1].is_ascii_digit();
        if !separator_then_digit {
            return best;
        }
        j += 1;
    }
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            match (k % 2 == 1, d * 2) {
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
                (false, _) => d,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A JWT starting at `i` (`eyJ` + base64url, `.`, base64url, `.`, optional base64url).
fn jwt(buf: &[u8], i: usize, end: usize) -> Option<usize> {
    if !buf[i..end].starts_with(b"eyJ") {
        return None;
    }
    let run = |from: usize| {
        let mut j = from;
        while j < end && is_b64url(buf[j]) {
            j += 1;
        }
        j
    };
    let h = run(i);
    if h - i < 10 || buf.get(h) != Some(&b'.') || h + 1 >= end {
        return None;
    }
    let p = run(h + 1);
    if p - (h + 1) < 2 || p >= end || buf[p] != b'.' {
        return None;
    }
    Some(run(p + 1))
}

/// An AWS access key id starting at `i`.
fn aws_key(buf: &[u8], i: usize, end: usize) -> Option<usize> {
    let s = &buf[i..end];
    if s.len() < 20 || !matches!(&s[..4], b"AKIA" | b"ASIA" | b"ABIA" | b"ACCA") {
        return None;
    }
    let ok = s[4..20]
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    (ok && !s.get(20).is_some_and(|&b| is_word(b))).then_some(i + 20)
}

/// `Bearer <token>` at `i`: returns the token's range.
fn bearer(buf: &[u8], i: usize, end: usize) -> Option<(usize, usize)> {
    if end - i < 8 || !buf[i..i + 6].eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let mut s = i + 6;
    if buf[s] != b' ' {
        return None;
    }
    while s < end && buf[s] == b' ' {
        s += 1;
    }
    // RFC 6750's token68, plus `%` for tokens that went through URL encoding.
    let is_token = |b: u8| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'%')
    };
    let mut e = s;
    while e < end && is_token(buf[e]) {
        e += 1;
    }
    while e < end && buf[e] == b'=' {
        e += 1;
    }
    let token = &buf[s..e];
    let long_enough =
        token.len() >= 16 || (token.len() >= 8 && token.iter().any(u8::is_ascii_digit));
    long_enough.then_some((s, e))
}

/// The end of an e-mail domain starting at `i`: at least two dot-separated labels, the last of
/// two or more letters.
fn domain(buf: &[u8], i: usize, end: usize) -> Option<usize> {
    let is_label = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    let mut j = i;
    let mut labels = 0;
    let mut last_label = (i, i);
    loop {
        let s = j;
        while j < end && is_label(buf[j]) {
            j += 1;
        }
        if j == s {
            break;
        }
        labels += 1;
        last_label = (s, j);
        if j + 1 < end && buf[j] == b'.' && is_label(buf[j + 1]) {
            j += 1;
        } else {
            break;
        }
    }
    let tld = &buf[last_label.0..last_label.1];
    (labels >= 2 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
        .then_some(last_label.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, p: ValuePatterns) -> String {
        redact_text(text.to_owned(), p)
    }

    fn run_escaped(text: &str, p: ValuePatterns) -> String {
        let mut buf = Vec::new();
        crate::record::escape_into(&mut buf, text);
        redact(&mut buf, 0, p, true);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn emails_keep_their_domain() {
        let p = ValuePatterns::EMAIL;
        assert_eq!(
            run("mail bob.smith+x@example.co.uk now", p),
            "mail ***@example.co.uk now"
        );
        assert_eq!(run("<a@b.io>.", p), "<***@b.io>.");
        assert_eq!(
            run("not@mail, @x.com, a@localhost, a@b.c1", p),
            "not@mail, @x.com, a@localhost, a@b.c1"
        );
        assert_eq!(run("ünï a@ex.com", p), "ünï ***@ex.com");
        assert_eq!(
            run("o'brien@ex.com jörg@ex.de first/last@ex.com", p),
            "***@ex.com ***@ex.de ***@ex.com"
        );
    }

    #[test]
    fn cards_need_luhn_a_plausible_first_digit_and_boundaries() {
        let p = ValuePatterns::CARD;
        assert_eq!(
            run("card 4111 1111 1111 1111 ok", p),
            "card [REDACTED:card] ok"
        );
        assert_eq!(run("4111-1111-1111-1111", p), "[REDACTED:card]");
        assert_eq!(run("5500005555555559,", p), "[REDACTED:card],");
        assert_eq!(run("378282246310005", p), "[REDACTED:card]");
        // Luhn fails, first digit 1 (a timestamp), too long, glued to a word.
        assert_eq!(run("4111111111111112", p), "4111111111111112");
        assert_eq!(run("1764121352000000000", p), "1764121352000000000");
        assert_eq!(run("41111111111111110000", p), "41111111111111110000");
        assert_eq!(
            run("x4111111111111111 4111111111111111y", p),
            "x4111111111111111 4111111111111111y"
        );
    }

    #[test]
    fn bearer_tokens_jwts_and_aws_keys() {
        let p = ValuePatterns::ALL;
        assert_eq!(
            run("Authorization: Bearer abcDEF123.xyz_-~+/== end", p),
            "Authorization: Bearer [REDACTED] end"
        );
        assert_eq!(run("the bearer of bad news", p), "the bearer of bad news");
        assert_eq!(run("bearer ab%2Fcdef%3D1234", p), "bearer [REDACTED]");
        let jwt =
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(run(&format!("t={jwt};"), p), "t=[REDACTED:jwt];");
        assert_eq!(
            run("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", p),
            "[REDACTED:jwt]"
        );
        assert_eq!(
            run("key AKIAIOSFODNN7EXAMPLE used", p),
            "key [REDACTED:aws_key] used"
        );
        assert_eq!(run("AKIAIOSFODNN7EXAMPLEX", p), "AKIAIOSFODNN7EXAMPLEX");
    }

    #[test]
    fn never_cuts_into_an_escape_sequence() {
        let p = ValuePatterns::ALL;
        let out = run_escaped(
            "\nbob@example.com\t4111111111111111\"AKIAIOSFODNN7EXAMPLE\u{1}",
            p,
        );
        assert_eq!(
            out,
            r#"\n***@example.com\t[REDACTED:card]\"[REDACTED:aws_key]\u0001"#
        );
        let back: String = serde_json::from_str(&format!("\"{out}\"")).unwrap();
        assert!(back.starts_with("\n***@example.com"));
    }

    #[test]
    fn parses_lists() {
        assert_eq!(
            ValuePatterns::parse("email, CARD"),
            Some(ValuePatterns::EMAIL | ValuePatterns::CARD)
        );
        assert_eq!(ValuePatterns::parse("all"), Some(ValuePatterns::ALL));
        assert_eq!(ValuePatterns::parse("none"), Some(ValuePatterns::NONE));
        assert_eq!(ValuePatterns::parse("aws"), Some(ValuePatterns::AWS_KEY));
        assert_eq!(ValuePatterns::parse("emails"), None);
        assert_eq!(
            format!("{:?}", ValuePatterns::EMAIL | ValuePatterns::JWT),
            "ValuePatterns(email|jwt)"
        );
    }
}

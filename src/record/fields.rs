//! Field values rendered to JSON fragments, and the per-span storage of those fragments.
//!
//! A span's fields are rendered once, when the span is created or recorded into, and kept as
//! `"key":value` byte ranges in the span's extensions. An event then copies bytes; nothing is
//! re-serialized or re-parsed per event.

use std::fmt;
use std::ptr;

use smallvec::SmallVec;
use tracing_core::field::{Field, Visit};

use super::escape::{escape_capped, push_cut_marker, Escaper};
use super::keys::{intern_joined, push_key, push_plain_key};
use super::policy::{FieldKey, Policy};
use super::snippet::Snippet;
use crate::redact::{redact, REDACTED};

/// Whether two entries are the same JSON key. Entry names are final keys (reserved names
/// already carry their prefix, see [`Reserved`](super::keys::Reserved)), so this is equality;
/// names are usually the callsite's own `&'static str`, so the pointer often decides.
#[inline]
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && (std::ptr::eq(a, b) || a == b)
}

/// Causes written per error field: a `source()` chain that loops forever must not hang the
/// caller.
const MAX_CAUSES: usize = 32;

/// After an error field's key: the key of its cause chain (`error.chain`).
pub(crate) const CHAIN_SUFFIX: &str = ".chain";

/// Appends an `f64` as a JSON number; NaN and the infinities, which JSON cannot express, become
/// the strings `"NaN"`, `"inf"` and `"-inf"` so the value is still visible.
#[inline]
pub(crate) fn push_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v > 0.0 {
        out.extend_from_slice(b"\"inf\"");
    } else {
        out.extend_from_slice(b"\"-inf\"");
    }
}

/// Appends a text value (no quotes): cut at `cap` bytes of JSON text, value patterns applied,
/// then the cut marker if anything was left out.
///
/// Masks can be a couple of bytes longer than what they replace (`a@b.io` → `***@b.io`), so a
/// masked value may pass `cap` by that much; the line cap still holds, it counts real lengths.
#[inline]
pub(crate) fn push_text(out: &mut Vec<u8>, cap: usize, policy: &Policy, s: &str) {
    let start = out.len();
    let dropped = escape_capped(out, s, cap);
    finish_text(out, policy, start, dropped);
}

/// [`push_text`] for formatted values, written straight into `out`.
#[inline]
fn push_formatted(out: &mut Vec<u8>, cap: usize, policy: &Policy, args: fmt::Arguments<'_>) {
    let start = out.len();
    let mut escaper = Escaper::new(out, cap);
    let _ = fmt::write(&mut escaper, args);
    let dropped = escaper.dropped();
    finish_text(out, policy, start, dropped);
}

#[inline]
fn finish_text(out: &mut Vec<u8>, policy: &Policy, start: usize, dropped: usize) {
    redact(out, start, policy.redaction.value_patterns(), true);
    if dropped > 0 {
        push_cut_marker(out, dropped);
    }
}

/// One rendered field: its name and where its `"key":value` fragment lies in the buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub(crate) name: &'static str,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// A set of rendered fields: the span storage, and the per-event scratch for the event's own.
#[derive(Debug, Default)]
pub(crate) struct Rendered {
    buf: Vec<u8>,
    entries: SmallVec<[Entry; 4]>,
    /// A bit per key hash, kept from [`LINEAR_KEYS`] entries on: whether a key may be present
    /// is then one look, so that an event with many fields costs linear time, not quadratic.
    seen: [u64; 4],
}

/// Up to this many entries, a key's presence is checked by comparing it with each.
const LINEAR_KEYS: usize = 8;

/// The bit of [`Rendered::seen`] for `name` (FNV-1a over its bytes).
fn key_bit(name: &str) -> (usize, u64) {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (((h >> 6) & 3) as usize, 1 << (h & 63))
}

impl Rendered {
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
        self.seen = [0; 4];
    }

    fn push_entry(&mut self, entry: Entry) {
        self.entries.push(entry);
        match self.entries.len() {
            n if n < LINEAR_KEYS => {}
            LINEAR_KEYS => {
                for e in &self.entries {
                    let (word, bit) = key_bit(e.name);
                    self.seen[word] |= bit;
                }
            }
            _ => {
                let (word, bit) = key_bit(entry.name);
                self.seen[word] |= bit;
            }
        }
    }

    /// Releases a buffer that one huge event grew beyond `keep` bytes.
    pub(crate) fn shrink(&mut self, keep: usize) {
        if self.buf.capacity() > keep {
            self.buf = Vec::new();
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The `"key":value` fragment of an entry.
    #[inline]
    pub(crate) fn fragment(&self, e: &Entry) -> &[u8] {
        &self.buf[e.start as usize..e.end as usize]
    }

    /// Whether a field under key `name` is here.
    #[inline]
    pub(crate) fn has(&self, name: &str) -> bool {
        if self.entries.len() >= LINEAR_KEYS {
            let (word, bit) = key_bit(name);
            if self.seen[word] & bit == 0 {
                return false;
            }
        }
        self.entries.iter().any(|e| same_key(e.name, name))
    }

    /// Appends an already rendered `"key":value` fragment.
    pub(crate) fn push_fragment(&mut self, name: &'static str, fragment: &[u8]) {
        let start = self.buf.len() as u32;
        self.buf.extend_from_slice(fragment);
        let end = self.buf.len() as u32;
        self.push_entry(Entry { name, start, end });
    }
}

/// What a callsite's field becomes, worked out before its first value is visited.
#[derive(Clone, Debug)]
pub(crate) struct KnownField {
    pub(crate) decided: FieldKey,
    /// `"key":`, escaped.
    pub(crate) key: Snippet,
}

/// How a field's `"key":` is written.
#[derive(Clone, Copy)]
enum KeyText<'a> {
    /// Already rendered.
    Rendered(&'a Snippet),
    /// Copied, known to need no escaping.
    Plain,
    Escaped,
}

/// What is known of a callsite's fields before its values are visited.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Known<'a> {
    /// What each field becomes, by the field's index in the callsite's field set; empty when
    /// each is to be looked up.
    pub(crate) keys: &'a [KnownField],
    /// Whether no two fields can end up under one key.
    pub(crate) distinct: bool,
    /// Whether the event is a `log` record bridged into `tracing`.
    pub(crate) bridged: bool,
}

/// The visitor: renders each field into a [`Rendered`], and the `message` field (if a message
/// buffer is given) into its own buffer, since the message has a fixed place in the record.
pub(crate) struct Recorder<'a> {
    fields: &'a mut Rendered,
    message: Option<&'a mut Vec<u8>>,
    /// Events bridged from the `log` crate carry their metadata as `log.*` fields; those are
    /// already in `target` and are skipped.
    skip_log_fields: bool,
    policy: &'a Policy,
    /// The message's cap: the field cap, or less when the line cap needs the room.
    message_cap: usize,
    /// Whether the message has been written (`message` is `None` from then on).
    message_taken: bool,
    /// The callsite's keys by field index, worked out before (empty: look each up).
    keys: &'a [KnownField],
    /// Whether the callsite's fields all have keys of their own: then a field seen once is never
    /// looked for among those already written.
    distinct: bool,
    /// A bit per field index below 64 already visited: the same field given twice is a
    /// duplicate even when the callsite's keys are distinct.
    visited: u64,
}

impl<'a> Recorder<'a> {
    /// A visitor into `fields` (and `message`, for an event) under `policy`, with what is known
    /// of the callsite's fields.
    pub(crate) fn new(
        fields: &'a mut Rendered,
        message: Option<&'a mut Vec<u8>>,
        policy: &'a Policy,
        message_cap: usize,
        site: Known<'a>,
    ) -> Self {
        Recorder {
            fields,
            message,
            skip_log_fields: site.bridged,
            policy,
            message_cap,
            message_taken: false,
            keys: site.keys,
            distinct: site.distinct,
            visited: 0,
        }
    }

    /// Starts a field, or returns `None` if its value must not be visited: a duplicate, bridge
    /// metadata, or a redacted key (written here, whole, as `"[REDACTED]"`).
    #[inline(always)]
    fn begin(&mut self, field: &Field) -> Option<(u32, &'static str)> {
        let name = field.name();
        let index = field.index();
        if let Some(known) = self.known(field) {
            let first = match 1u64.checked_shl(index as u32) {
                Some(bit) if self.distinct => {
                    let first = self.visited & bit == 0;
                    self.visited |= bit;
                    if !first {
                        return None;
                    }
                    true
                }
                _ => false,
            };
            let d = &known.decided;
            let key = KeyText::Rendered(&known.key);
            return self.begin_decided(name, d.key, d.redacted, key, first);
        }
        if self.skip_log_fields && name.starts_with("log.") {
            return None;
        }
        let decided = self.policy.field(name);
        let key = if decided.plain {
            KeyText::Plain
        } else {
            KeyText::Escaped
        };
        self.begin_decided(name, decided.key, decided.redacted, key, false)
    }

    /// What the callsite's keys say of `field`, if they cover it.
    #[inline(always)]
    fn known(&self, field: &Field) -> Option<&'a KnownField> {
        let keys = self.keys;
        keys.get(field.index())
            .filter(|k| ptr::eq(k.decided.name, field.name()))
    }

    /// [`Recorder::begin`] with the final key already chosen; `new_key`: known not to be among
    /// the fields written so far.
    #[inline]
    fn begin_as(&mut self, name: &'static str, key: &'static str) -> Option<(u32, &'static str)> {
        let redacted = self.policy.redaction.redacts_field(name);
        self.begin_decided(name, key, redacted, KeyText::Escaped, false)
    }

    #[inline(always)]
    fn begin_decided(
        &mut self,
        name: &'static str,
        key: &'static str,
        redacted: bool,
        text: KeyText<'_>,
        new_key: bool,
    ) -> Option<(u32, &'static str)> {
        if (!new_key && self.fields.has(key)) || (self.message_taken && name == "message") {
            return None;
        }
        let start = self.fields.buf.len() as u32;
        match text {
            KeyText::Rendered(rendered) => rendered.push_to(&mut self.fields.buf),
            KeyText::Plain => push_plain_key(&mut self.fields.buf, key),
            KeyText::Escaped => push_key(&mut self.fields.buf, key),
        }
        if redacted {
            let out = &mut self.fields.buf;
            out.push(b'"');
            out.extend_from_slice(REDACTED.as_bytes());
            out.push(b'"');
            self.end(key, start);
            return None;
        }
        Some((start, key))
    }

    #[inline]
    fn text(&mut self, (start, key): (u32, &'static str), value: fmt::Arguments<'_>) {
        let out = &mut self.fields.buf;
        out.push(b'"');
        push_formatted(out, self.policy.max_field, self.policy, value);
        out.push(b'"');
        self.end(key, start);
    }

    #[inline]
    fn end(&mut self, key: &'static str, start: u32) {
        let end = self.fields.buf.len() as u32;
        self.fields.push_entry(Entry {
            name: key,
            start,
            end,
        });
    }

    #[inline]
    fn message_buf(&mut self, field: &Field) -> Option<&mut Vec<u8>> {
        let is_message = match self.known(field) {
            Some(known) => known.decided.message,
            None => field.name() == "message",
        };
        if is_message {
            // Taken once: a second text `message` (`info!(message = "a", "b")`) is a duplicate
            // like any other, and the first wins.
            self.message_taken |= self.message.is_some();
            self.message.take()
        } else {
            None
        }
    }

    #[inline]
    fn raw(&mut self, field: &Field, value: &[u8]) {
        if let Some((start, key)) = self.begin(field) {
            self.fields.buf.extend_from_slice(value);
            self.end(key, start);
        }
    }
}

impl Visit for Recorder<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if let Some((start, key)) = self.begin(field) {
            push_f64(&mut self.fields.buf, value);
            self.end(key, start);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.raw(field, itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.raw(field, itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, if value { b"true" } else { b"false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let policy = self.policy;
        let message_cap = self.message_cap;
        if let Some(msg) = self.message_buf(field) {
            push_text(msg, message_cap, policy, value);
        } else if let Some((start, key)) = self.begin(field) {
            let out = &mut self.fields.buf;
            out.push(b'"');
            push_text(out, policy.max_field, policy, value);
            out.push(b'"');
            self.end(key, start);
        }
    }

    /// The error's message, then its causes (`source()` chain) as a field of their own: under
    /// `<key>.chain`, an array of messages, or for a field named `error` in a preset with error
    /// attributes, the vendor's keys (`error.message`, and the chain as text with one
    /// `caused by:` line per cause). A field already under the chain's key wins over it.
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let name = field.name();
        if self.skip_log_fields && name.starts_with("log.") {
            return;
        }
        let vendor = self.policy.reserved.error_keys.filter(|_| name == "error");
        let key = match vendor {
            Some((message, _)) => message,
            None => self.policy.reserved.key(name),
        };
        let Some(started) = self.begin_as(name, key) else {
            return;
        };
        self.text(started, format_args!("{value}"));
        let causes = || std::iter::successors(value.source(), |e| e.source()).take(MAX_CAUSES);
        if causes().next().is_none() {
            return;
        }
        let chain_key = match vendor {
            Some((_, stack)) => stack,
            None => intern_joined(key, CHAIN_SUFFIX),
        };
        if self.fields.has(chain_key) {
            return;
        }
        let (policy, cap) = (self.policy, self.policy.max_field);
        let out = &mut self.fields.buf;
        let start = out.len() as u32;
        push_key(out, chain_key);
        if vendor.is_some() {
            out.push(b'"');
            let text_start = out.len();
            let mut escaper = Escaper::new(out, cap);
            let _ = fmt::write(&mut escaper, format_args!("{value}"));
            for cause in causes() {
                let _ = fmt::write(&mut escaper, format_args!("\ncaused by: {cause}"));
            }
            let dropped = escaper.dropped();
            finish_text(out, policy, text_start, dropped);
            out.push(b'"');
        } else {
            out.push(b'[');
            for (i, cause) in causes().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                push_formatted(out, cap, policy, format_args!("{cause}"));
                out.push(b'"');
            }
            out.push(b']');
        }
        self.end(chain_key, start);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let (policy, message_cap) = (self.policy, self.message_cap);
        if let Some(msg) = self.message_buf(field) {
            // The message arrives as `fmt::Arguments`, whose Debug is its Display.
            push_formatted(msg, message_cap, policy, format_args!("{value:?}"));
        } else if let Some(started) = self.begin(field) {
            self.text(started, format_args!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_among_many_entries_and_an_absent_one_is_not() {
        // Past the linear scan, presence is first looked up by hash: every key pushed must still
        // be found, through a clear, and keys never pushed (same length, same first byte) not.
        let names: Vec<&'static str> = (0..40)
            .map(|i| &*Box::leak(format!("f{i:02}").into_boxed_str()))
            .collect();
        let mut r = Rendered::default();
        for round in 0..2 {
            for (i, name) in names.iter().enumerate() {
                assert!(!r.has(name), "round {round}: {name} before it was pushed");
                r.push_fragment(name, b"\"k\":1");
                for earlier in &names[..=i] {
                    // Another string with the same text: found by content, not address.
                    let copy: String = earlier.chars().collect();
                    assert!(r.has(&copy), "round {round}: {earlier} after {i}");
                }
            }
            for absent in ["f40", "f99", "g00", "f0", "f000"] {
                assert!(!r.has(absent), "round {round}: {absent}");
            }
            r.clear();
        }
    }

    #[test]
    fn floats_that_json_cannot_hold_become_strings() {
        let mut v = Vec::new();
        for f in [1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300] {
            push_f64(&mut v, f);
            v.push(b' ');
        }
        assert_eq!(
            String::from_utf8(v).unwrap(),
            r#"1.5 "NaN" "inf" "-inf" 1e+300 "#
        );
    }
}

//! What a record may contain: the redaction rules and the size caps, shared by every output.

use std::cell::Cell;

use super::escape::is_plain;
use super::keys::Reserved;
use crate::redact::Redaction;

/// Default cap on one value's JSON text: a long stack trace fits, a runaway `Debug` does not.
pub(crate) const DEFAULT_MAX_FIELD_BYTES: usize = 32 * 1024;
/// Default cap on one line: under Vector's default `max_line_bytes` (102 400) and Loki's and
/// Cloud Logging's 256 KB, so no shipper drops or splits our lines.
pub(crate) const DEFAULT_MAX_LINE_BYTES: usize = 96 * 1024;
/// Room for the cut marker and a little text.
pub(crate) const MIN_FIELD_BYTES: usize = 64;
/// Room for the record's own keys and one capped field.
pub(crate) const MIN_LINE_BYTES: usize = 1024;

/// The key that counts the fields left out of a line that reached the line cap.
pub(crate) const DROPPED_FIELDS_KEY: &str = "logwarden.dropped_fields";

#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub(crate) redaction: Redaction,
    pub(crate) max_field: usize,
    pub(crate) max_line: usize,
    /// The record's own keys, which user fields must not take.
    pub(crate) reserved: Reserved,
}

impl Policy {
    /// The default redaction and caps, with `reserved` as the record's own keys.
    pub(crate) fn new(reserved: Reserved) -> Self {
        Policy {
            redaction: Redaction::default(),
            max_field: DEFAULT_MAX_FIELD_BYTES,
            max_line: DEFAULT_MAX_LINE_BYTES,
            reserved,
        }
    }

    /// Brings the caps into the range that keeps the guarantees (a field always fits in a line,
    /// twice over), for callers that cannot return an error. The builder rejects such values.
    pub(crate) fn clamped(mut self) -> Self {
        self.max_line = self.max_line.max(MIN_LINE_BYTES);
        self.max_field = self.max_field.clamp(MIN_FIELD_BYTES, self.max_line / 2);
        self
    }
}

/// What a field name becomes under one policy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldKey {
    /// The field's name.
    pub(crate) name: &'static str,
    /// The final key (renamed when the name is one of the record's own).
    pub(crate) key: &'static str,
    /// Whether the value is replaced by the redaction marker.
    pub(crate) redacted: bool,
    /// Whether the key needs no escaping, so it is copied as is.
    pub(crate) plain: bool,
    /// Whether the field is named `message`, the event's text.
    pub(crate) message: bool,
}

/// A [`FieldKey`] remembered for a name under one policy.
#[derive(Clone, Copy)]
struct Decision {
    addr: usize,
    len: usize,
    redaction: u64,
    reserved: u64,
    field: FieldKey,
}

const EMPTY: Decision = Decision {
    addr: 0,
    len: 0,
    redaction: 0,
    reserved: 0,
    field: FieldKey {
        name: "",
        key: "",
        redacted: false,
        plain: false,
        message: false,
    },
};

/// Sets of two; see [`Policy::field`].
const SLOTS: usize = 128;

thread_local! {
    static DECISIONS: [Cell<Decision>; SLOTS] = const { [const { Cell::new(EMPTY) }; SLOTS] };
}

impl Policy {
    /// The final key of a field named `name`, whether its value is redacted and whether the key
    /// needs escaping, remembered per thread: a program has few distinct field names, and the
    /// answers cost more to work out (key matching word by word, the reserved-key lookup, a scan
    /// for bytes to escape) than to look up.
    ///
    /// Keyed by the name's address, which is sound because field names are `'static`: the text
    /// at an address never changes. Two ways per set, so that two names whose addresses fall in
    /// one set do not evict each other on every event.
    #[inline(always)]
    pub(crate) fn field(&self, name: &'static str) -> FieldKey {
        let addr = name.as_ptr() as usize;
        let (redaction, reserved) = (self.redaction.id(), self.reserved.id);
        let set = ((addr ^ (addr >> 7) ^ name.len()) % SLOTS) & !1;
        DECISIONS.with(|cache| {
            for slot in [set, set + 1] {
                let d = cache[slot].get();
                if d.addr == addr
                    && d.len == name.len()
                    && d.redaction == redaction
                    && d.reserved == reserved
                {
                    return d.field;
                }
            }
            let key = self.reserved.key(name);
            let d = Decision {
                addr,
                len: name.len(),
                redaction,
                reserved,
                field: FieldKey {
                    name,
                    key,
                    redacted: self.redaction.redacts_key(name),
                    plain: is_plain(key),
                    message: name == "message",
                },
            };
            cache[set + 1].set(cache[set].get());
            cache[set].set(d);
            d.field
        })
    }
}

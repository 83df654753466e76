//! What a callsite's fixed parts become under one policy: its fields' final keys, its target as
//! record text and its name quoted, worked out on a callsite's first event on a thread and then
//! looked up once per event instead of once per field.

use std::ptr;

use tracing_core::Metadata;

use super::escape::quoted_into;
use super::fields::{push_text, Known, KnownField, CHAIN_SUFFIX};
use super::keys::push_key;
use super::policy::{FieldKey, Policy};
use super::snippet::Snippet;
use crate::redact::ValuePatterns;

/// One callsite under one policy.
#[derive(Debug, Default)]
pub(crate) struct Callsite {
    tag: Tag,
    /// What each field becomes, by the field's index in the callsite's field set.
    keys: Vec<KnownField>,
    /// Whether no two of the callsite's fields can end up under one key, so a field need not be
    /// looked for among those already written (see [`distinct`]).
    distinct: bool,
    /// Whether events of this callsite are `log` records bridged into `tracing`.
    bridged: bool,
    /// The target as escaped, redacted and capped text (no quotes), as every record has it.
    target: Snippet,
    /// The name, quoted (`"payment"`): what a record of an event in this span writes.
    name: Snippet,
    /// Scratch for rendering the above.
    scratch: Vec<u8>,
}

/// What a [`Callsite`] was worked out for: the metadata's address and everything in the policy
/// that changes the answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tag {
    addr: usize,
    redaction: u64,
    reserved: u64,
    max_field: usize,
    patterns: ValuePatterns,
}

impl Tag {
    fn of(meta: &'static Metadata<'static>, policy: &Policy) -> Tag {
        Tag {
            addr: ptr::from_ref(meta) as usize,
            redaction: policy.redaction.id(),
            reserved: policy.reserved.id,
            max_field: policy.max_field,
            patterns: policy.redaction.value_patterns(),
        }
    }
}

impl Callsite {
    /// What the field visitor may take as known: the keys, unless the fields need the slow
    /// path (a bridged `log` record, whose `log.*` fields are skipped).
    #[inline]
    pub(crate) fn known(&self) -> Known<'_> {
        Known {
            keys: if self.bridged { &[] } else { &self.keys },
            distinct: self.distinct,
            bridged: self.bridged,
        }
    }

    #[inline]
    pub(crate) fn bridged(&self) -> bool {
        self.bridged
    }

    /// The target's record text, valid for events whose metadata is the callsite's own.
    #[inline]
    pub(crate) fn target(&self) -> &Snippet {
        &self.target
    }

    #[inline]
    pub(crate) fn quoted_name(&self) -> &Snippet {
        &self.name
    }

    /// Works the answers out again, reusing the buffers of what was there before.
    fn fill(&mut self, tag: Tag, meta: &'static Metadata<'static>, policy: &Policy, bridged: bool) {
        self.tag = tag;
        self.bridged = bridged;
        let scratch = &mut self.scratch;
        let mut snippet = |write: &mut dyn FnMut(&mut Vec<u8>)| {
            scratch.clear();
            write(scratch);
            Snippet::new(scratch)
        };
        self.keys.clear();
        for field in meta.fields().iter() {
            let decided = policy.field(field.name());
            let key = snippet(&mut |out| push_key(out, decided.key));
            self.keys.push(KnownField { decided, key });
        }
        self.target = snippet(&mut |out| push_text(out, policy.max_field, policy, meta.target()));
        self.name = snippet(&mut |out| quoted_into(out, meta.name()));
        self.distinct = distinct(self.keys.iter().map(|k| &k.decided), policy);
    }
}

/// Whether writing `keys` without checking for a key already written can duplicate none: the keys
/// differ, and none is one that an error field writes beside its own (its cause chain, or a
/// layout's error attributes).
fn distinct<'k>(keys: impl Iterator<Item = &'k FieldKey> + Clone, policy: &Policy) -> bool {
    let vendor = policy.reserved.error_keys;
    keys.clone().enumerate().all(|(i, k)| {
        !k.key.ends_with(CHAIN_SUFFIX)
            && vendor.is_none_or(|(message, chain)| k.key != message && k.key != chain)
            && keys.clone().take(i).all(|earlier| earlier.key != k.key)
    })
}

/// Sets of two, like the per-thread field decisions; see [`Callsites::get`].
const SLOTS: usize = 64;

/// The per-thread table of [`Callsite`]s.
#[derive(Debug, Default)]
pub(crate) struct Callsites {
    slots: Vec<Callsite>,
}

impl Callsites {
    /// `meta`'s answers under `policy`, worked out on a miss; `bridged` tells whether its events
    /// are `log` records, asked only then.
    ///
    /// Keyed by the metadata's address, which is sound because callsite metadata is `'static`:
    /// what lies at an address never changes. Two ways per set, so that two callsites whose
    /// addresses share a set do not evict each other on every event; a miss reuses the evicted
    /// entry's key list (text over 32 bytes, rare, is copied anew).
    #[inline]
    pub(crate) fn get(
        &mut self,
        meta: &'static Metadata<'static>,
        policy: &Policy,
        bridged: impl FnOnce() -> bool,
    ) -> &Callsite {
        let at = self.find(meta, policy, bridged);
        self.at(at)
    }

    /// [`Callsites::get`], as a place that [`Callsites::at`] reads until the next lookup.
    #[inline]
    pub(crate) fn find(
        &mut self,
        meta: &'static Metadata<'static>,
        policy: &Policy,
        bridged: impl FnOnce() -> bool,
    ) -> usize {
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, Callsite::default);
        }
        let tag = Tag::of(meta, policy);
        let set = ((tag.addr >> 4 ^ tag.addr >> 11) % SLOTS) & !1;
        if self.slots[set].tag == tag {
            return set;
        }
        if self.slots[set + 1].tag != tag {
            // The newest in the first way, the one it displaces in the second, the oldest
            // refilled.
            self.slots[set + 1].fill(tag, meta, policy, bridged());
        }
        self.slots.swap(set, set + 1);
        set
    }

    /// The callsite [`Callsites::find`] returned `at` for.
    #[inline]
    pub(crate) fn at(&self, at: usize) -> &Callsite {
        &self.slots[at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::keys::Reserved;

    fn keys_of(names: &[&'static str], policy: &Policy) -> Vec<FieldKey> {
        names.iter().map(|n| policy.field(n)).collect()
    }

    #[test]
    fn fields_that_may_meet_under_one_key_are_not_distinct() {
        let policy = Policy::new(Reserved::new(
            ["level"],
            Some(("error.message", "error.stack")),
        ));
        let distinct_of =
            |names: &[&'static str]| distinct(keys_of(names, &policy).iter(), &policy);
        assert!(distinct_of(&["items", "total", "user_id"]));
        assert!(distinct_of(&[]));
        // Renamed apart: `fields.level` and `fields.fields.level`.
        assert!(distinct_of(&["level", "fields.level"]));
        for names in [
            &["items", "items"][..],
            &["error", "error.chain"],
            &["err", "err.chain"],
            &["error.message", "error"],
            &["error.stack"],
        ] {
            assert!(!distinct_of(names), "{names:?}");
        }
    }
}

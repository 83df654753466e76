//! What each span stores for the events inside it: its own fields and its ancestors', already
//! rendered, shadowed and joined, so an event copies one block instead of walking the spans.
//!
//! The ancestors' part is a copy taken when the span was created. It goes stale when an ancestor
//! is recorded into afterwards (`span.record(..)` on a span that has children): such a record
//! moves the global [`EPOCH`], and a span whose copy is older than the epoch is rebuilt from the
//! ancestors' own fields the next time an event needs it. Recording into the innermost span, the
//! usual case, moves nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use smallvec::SmallVec;

use super::fields::{same_key, Entry, Rendered};

/// Moves when a span that has children is recorded into: copies taken before are stale.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// The epoch now; read before a copy is taken, so a record racing with it leaves it stale.
pub(crate) fn epoch() -> u64 {
    EPOCH.load(Ordering::Acquire)
}

/// A span's extension: one [`SpanFields`] per `JsonLayer` in the registry. Layers can differ
/// in redaction, caps and, behind per-layer filters, in which ancestors they see, so none may
/// read what another rendered. Usually one layer: stored inline.
#[derive(Debug, Default)]
pub(crate) struct SpanStore(SmallVec<[(u64, SpanFields); 1]>);

impl SpanStore {
    /// What layer `layer` stored.
    #[inline]
    pub(crate) fn view(&self, layer: u64) -> Option<&SpanFields> {
        self.0.iter().find(|(l, _)| *l == layer).map(|(_, f)| f)
    }

    pub(crate) fn view_mut(&mut self, layer: u64) -> Option<&mut SpanFields> {
        self.0.iter_mut().find(|(l, _)| *l == layer).map(|(_, f)| f)
    }

    /// A store holding layer `layer`'s `fields` only.
    pub(crate) fn of(layer: u64, fields: SpanFields) -> Self {
        SpanStore(smallvec::smallvec![(layer, fields)])
    }

    /// Stores `fields` as layer `layer`'s, replacing what it had.
    pub(crate) fn set(&mut self, layer: u64, fields: SpanFields) {
        match self.view_mut(layer) {
            Some(old) => *old = fields,
            None => self.0.push((layer, fields)),
        }
    }
}

/// One stored field: where its `"key":value` fragment lies, and whether it is the span's own
/// (rather than inherited).
#[derive(Clone, Copy, Debug)]
struct Stored {
    entry: Entry,
    own: bool,
}

/// A span's rendered fields as stored in its extensions. Every span gets one, even without
/// fields, so that a record into it can tell whether children copied it. Small spans (the usual
/// `trace_id`, `user_id`, `method`) fit inline, so storing them costs only the registry's box
/// for the extension: one allocation per span.
#[derive(Debug, Default)]
pub(crate) struct SpanFields {
    /// The fragments, comma-separated: inherited ones first (root first), then the span's own.
    block: SmallVec<[u8; 128]>,
    fields: SmallVec<[Stored; 4]>,
    /// The epoch at which the inherited part was taken; `None`: never current (taken from a span
    /// this layer did not see created), rebuilt before first use.
    epoch: Option<u64>,
    /// Set when a child copied this span's fields.
    has_children: AtomicBool,
}

impl SpanFields {
    /// A new span's storage: `parent`'s fields that `own` does not shadow, then `own`.
    pub(crate) fn new(own: &Rendered, parent: Option<&SpanFields>) -> Self {
        let mut fields = SpanFields {
            epoch: parent.map_or_else(|| Some(epoch()), |p| p.epoch),
            ..SpanFields::default()
        };
        if let Some(parent) = parent {
            // Before the copy, so that a record into the parent after it sees the flag.
            parent.has_children.store(true, Ordering::Relaxed);
            for s in &parent.fields {
                if !own.entries().iter().any(|o| same_key(o.name, s.entry.name)) {
                    fields.push(s.entry.name, parent.fragment(&s.entry), false);
                }
            }
        }
        for e in own.entries() {
            fields.push(e.name, own.fragment(e), true);
        }
        fields
    }

    /// Makes this a copy of `other`'s fields, keeping this one's buffers.
    pub(crate) fn copy_from(&mut self, other: &SpanFields) {
        self.block.clear();
        self.block.extend_from_slice(&other.block);
        self.fields.clear();
        self.fields.extend_from_slice(&other.fields);
        self.epoch = other.epoch;
    }

    /// Storage for a span this layer did not see created (it was added to a running registry):
    /// its inherited part is rebuilt before first use. `has_children` when a child found it
    /// missing: the span's later records must reach that child.
    pub(crate) fn orphan(own: &Rendered, has_children: bool) -> Self {
        SpanFields {
            epoch: None,
            has_children: AtomicBool::new(has_children),
            ..SpanFields::new(own, None)
        }
    }

    /// Notes that a child copied this span's fields (see [`SpanFields::new`]).
    pub(crate) fn adopt(&self) {
        self.has_children.store(true, Ordering::Relaxed);
    }

    /// Whether the inherited part is current.
    #[inline]
    pub(crate) fn is_fresh(&self) -> bool {
        self.epoch == Some(epoch())
    }

    /// Every field, comma-separated: what an event inside copies when none of its own fields
    /// shadows one of these.
    #[inline]
    pub(crate) fn block(&self) -> &[u8] {
        &self.block
    }

    /// Every field (inherited and own), in block order.
    #[inline]
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.fields.iter().map(|s| &s.entry)
    }

    /// The span's own fields.
    pub(crate) fn own(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.fields.iter().filter(|s| s.own).map(|s| &s.entry)
    }

    /// The `"key":value` fragment of an entry.
    #[inline]
    pub(crate) fn fragment(&self, e: &Entry) -> &[u8] {
        &self.block[e.start as usize..e.end as usize]
    }

    /// `span.record(..)`: a field that already has a value here is replaced in place, a new one
    /// appended; either now shadows an inherited field of the same name. Children that copied
    /// this span are made stale.
    pub(crate) fn record(&mut self, update: &Rendered) {
        let was_fresh = self.is_fresh();
        let mut next = SpanFields {
            epoch: self.epoch,
            ..SpanFields::default()
        };
        for s in &self.fields {
            match update
                .entries()
                .iter()
                .find(|u| same_key(u.name, s.entry.name))
            {
                Some(u) if s.own => next.push(s.entry.name, update.fragment(u), true),
                Some(_) => {}
                None => next.push(s.entry.name, self.fragment(&s.entry), s.own),
            }
        }
        for u in update.entries() {
            if !next
                .fields
                .iter()
                .any(|s| s.own && same_key(s.entry.name, u.name))
            {
                next.push(u.name, update.fragment(u), true);
            }
        }
        if self.has_children.load(Ordering::Relaxed) {
            next.has_children = AtomicBool::new(true);
            // This span stays current if it was and nobody else moved the epoch meanwhile.
            let moved = match self.epoch {
                Some(seen) if was_fresh => EPOCH
                    .compare_exchange(seen, seen + 1, Ordering::AcqRel, Ordering::Acquire)
                    .ok()
                    .map(|_| seen + 1),
                _ => None,
            };
            match moved {
                Some(now) => next.epoch = Some(now),
                None => {
                    EPOCH.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
        *self = next;
    }

    /// Rebuilds the inherited part from `chain`: the ancestors' own fields, root first (an inner
    /// span's field after an outer one's of the same name), taken at epoch `at`.
    pub(crate) fn rebuild(&mut self, chain: &Rendered, at: u64) {
        let mut next = SpanFields {
            epoch: Some(at),
            has_children: AtomicBool::new(self.has_children.load(Ordering::Relaxed)),
            ..SpanFields::default()
        };
        let own = self.fields.iter().filter(|s| s.own);
        let inherited = chain
            .entries()
            .iter()
            .map(|e| (e.name, chain.fragment(e), false));
        let own = own.map(|s| (s.entry.name, self.fragment(&s.entry), true));
        for (name, fragment, is_own) in inherited.chain(own) {
            // An inner span's field replaces an outer one's of the same name.
            if let Some(i) = next
                .fields
                .iter()
                .position(|s| same_key(s.entry.name, name))
            {
                next.remove(i);
            }
            next.push(name, fragment, is_own);
        }
        *self = next;
    }

    fn push(&mut self, name: &'static str, fragment: &[u8], own: bool) {
        if !self.block.is_empty() {
            self.block.push(b',');
        }
        let start = self.block.len() as u32;
        self.block.extend_from_slice(fragment);
        let end = self.block.len() as u32;
        self.fields.push(Stored {
            entry: Entry { name, start, end },
            own,
        });
    }

    /// Removes field `i` (rare: only when rebuilding with shadowed names).
    fn remove(&mut self, i: usize) {
        let old = std::mem::take(self);
        *self = SpanFields {
            epoch: old.epoch,
            has_children: old.has_children,
            ..SpanFields::default()
        };
        for (j, s) in old.fields.iter().enumerate() {
            if j != i {
                self.push(
                    s.entry.name,
                    &old.block[s.entry.start as usize..s.entry.end as usize],
                    s.own,
                );
            }
        }
    }
}

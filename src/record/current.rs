//! Each thread's innermost span as the layer saw it entered, with a copy of what that span
//! stores, so that an event between two enters or exits finds its span's fields without
//! asking the registry (two slab lookups, a lock and a map lookup per event).
//!
//! The copy is trusted only while nothing can have changed it: it is taken on an event that
//! asked the registry and got the same span, and dropped on the thread's next enter or exit and
//! on any record into any span. A thread whose view ever disagrees with the registry's (the
//! layer joined while spans were entered, or a wrapper that does not pass enters on) asks the
//! registry until both agree that no span is entered.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_core::span::Id;
use tracing_core::Metadata;

use super::spans::SpanFields;

/// Moves on every record into any span: copies taken before are stale.
static RECORDS: AtomicU64 = AtomicU64::new(0);

/// Notes a record into a span, after its stored fields changed.
pub(crate) fn recorded() {
    RECORDS.fetch_add(1, Ordering::AcqRel);
}

/// What [`observe`] is told the copy was taken at: read before the registry is asked.
pub(crate) fn records() -> u64 {
    RECORDS.load(Ordering::Acquire)
}

/// One layer's view of one thread.
#[derive(Debug, Default)]
struct Mirror {
    /// The layer (see `JsonLayer::view`).
    view: u64,
    /// The spans entered, innermost last, each with whether it was already entered below (the
    /// registry does not count a re-entered span as current).
    stack: Vec<(Id, bool)>,
    /// Set when this view and the registry's were seen to differ.
    broken: bool,
    copy: Option<Copied>,
}

#[derive(Debug)]
struct Copied {
    id: Id,
    /// [`RECORDS`] when it was taken.
    records: u64,
    meta: &'static Metadata<'static>,
    fields: SpanFields,
}

impl Mirror {
    /// The innermost span entered, as the registry reports the current one.
    fn top(&self) -> Option<&Id> {
        self.stack
            .iter()
            .rev()
            .find(|(_, again)| !again)
            .map(|(id, _)| id)
    }
}

thread_local! {
    static MIRRORS: RefCell<Vec<Mirror>> = const { RefCell::new(Vec::new()) };
    /// Set when an enter or exit could not be noted (the mirrors were in use further up this
    /// thread's stack): every view of this thread is untrusted from the next look on.
    static LOST: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on layer `view`'s mirror of this thread; `None` while the thread's locals are torn
/// down or the mirror is in use further up this thread's stack.
fn with_mirror<R>(view: u64, f: impl FnOnce(&mut Mirror) -> R) -> Option<R> {
    MIRRORS
        .try_with(|mirrors| {
            let mut mirrors = mirrors.try_borrow_mut().ok()?;
            if LOST.try_with(|lost| lost.replace(false)).unwrap_or(true) {
                for m in mirrors.iter_mut() {
                    m.broken = true;
                    m.copy = None;
                }
            }
            let at = match mirrors.iter().position(|m| m.view == view) {
                Some(at) => at,
                None => {
                    mirrors.push(Mirror {
                        view,
                        ..Mirror::default()
                    });
                    mirrors.len() - 1
                }
            };
            Some(f(&mut mirrors[at]))
        })
        .ok()
        .flatten()
}

/// Span `id` was entered on this thread.
pub(crate) fn entered(view: u64, id: &Id) {
    let seen = with_mirror(view, |m| {
        let again = m.stack.iter().any(|(i, _)| i == id);
        m.stack.push((id.clone(), again));
        m.copy = None;
    });
    if seen.is_none() {
        lost();
    }
}

/// Span `id` was exited on this thread.
pub(crate) fn exited(view: u64, id: &Id) {
    let seen = with_mirror(view, |m| {
        if let Some(at) = m.stack.iter().rposition(|(i, _)| i == id) {
            m.stack.remove(at);
        }
        m.copy = None;
    });
    if seen.is_none() {
        lost();
    }
}

/// An enter or exit could not be noted: the views can no longer be trusted. (The mirrors are
/// busy only while an event copies from one, or while this thread's locals are torn down.)
fn lost() {
    let _ = LOST.try_with(|lost| lost.set(true));
}

/// Calls `f` with the innermost span's metadata, id and stored fields if this thread holds a
/// current copy of them; returns whether it did.
#[inline]
pub(crate) fn with_copy(
    view: u64,
    f: impl FnOnce(&'static Metadata<'static>, &Id, &SpanFields),
) -> bool {
    with_mirror(view, |m| {
        let copy = m.copy.as_ref().filter(|_| !m.broken)?;
        if m.top() != Some(&copy.id) || copy.records != records() {
            return None;
        }
        f(copy.meta, &copy.id, &copy.fields);
        Some(())
    })
    .flatten()
    .is_some()
}

/// What the registry said this thread's innermost span is (for an event placed by the current
/// span): `leaf` with what it stores, read after [`records`] returned `records`. Keeps a copy if
/// this view agrees.
pub(crate) fn observe(
    view: u64,
    records: u64,
    leaf: Option<(&Id, &'static Metadata<'static>, &SpanFields)>,
) {
    let _ = with_mirror(view, |m| match leaf {
        None => {
            // Both agree that no span is entered: a fresh start.
            m.broken = m.top().is_some();
            m.copy = None;
        }
        Some((id, meta, fields)) => {
            if m.broken || m.top() != Some(id) {
                m.broken = true;
                m.copy = None;
                return;
            }
            match &mut m.copy {
                Some(copy) => {
                    copy.id = id.clone();
                    copy.records = records;
                    copy.meta = meta;
                    copy.fields.copy_from(fields);
                }
                None => {
                    let mut copied = SpanFields::default();
                    copied.copy_from(fields);
                    m.copy = Some(Copied {
                        id: id.clone(),
                        records,
                        meta,
                        fields: copied,
                    });
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_core::callsite::Callsite;
    use tracing_core::field::FieldSet;
    use tracing_core::metadata::Kind;
    use tracing_core::subscriber::Interest;
    use tracing_core::{identify_callsite, Level};

    struct Site;
    static SITE: Site = Site;
    static META: Metadata<'static> = Metadata::new(
        "span",
        "test",
        Level::INFO,
        None,
        None,
        None,
        FieldSet::new(&[], identify_callsite!(&SITE)),
        Kind::SPAN,
    );
    impl Callsite for Site {
        fn set_interest(&self, _: Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            &META
        }
    }

    #[test]
    fn an_enter_that_could_not_be_noted_untrusts_the_copy() {
        let view = u64::MAX - 7;
        let (a, b) = (Id::from_u64(1), Id::from_u64(2));
        let fields = SpanFields::default();
        let used = || with_copy(view, |_, _, _| {});
        // Records in other tests of this binary may spoil a copy at any time: a copy just taken
        // must be used unless one came in between, so a few attempts are allowed.
        let taken_and_used = |id: &Id| {
            (0..1000).any(|_| {
                observe(view, records(), Some((id, &META, &fields)));
                used()
            })
        };

        entered(view, &a);
        assert!(!used(), "no copy before an event asked the registry");
        assert!(taken_and_used(&a));
        // The registry names another span: the view is wrong, the copy is not used.
        observe(view, records(), Some((&b, &META, &fields)));
        assert!(!used());
        exited(view, &a);
        observe(view, records(), None);
        assert!(!used());

        // Trusted again once both agree that no span is entered.
        entered(view, &a);
        assert!(taken_and_used(&a));
        // A record anywhere makes the copy stale.
        recorded();
        assert!(!used());
        assert!(taken_and_used(&a));
        // An enter while the copy is being read cannot be noted ...
        let nested = (0..1000).any(|_| {
            observe(view, records(), Some((&a, &META, &fields)));
            with_copy(view, |_, _, _| entered(view, &b))
        });
        assert!(nested);
        // ... so the view is no longer trusted.
        assert!(!taken_and_used(&a));
    }
}

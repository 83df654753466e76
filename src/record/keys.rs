//! The text of the record's keys: which names user fields may not take (and what they are
//! written as instead), the keys the crate makes and keeps for the life of the process, and the
//! writing of `"key":`.

use parking_lot::Mutex;

use super::escape::escape_into;

/// The prefix a user field named like one of the record's own keys gets.
pub(crate) const COLLISION_PREFIX: &str = "fields.";

/// The keys a user field must not take, and what it is written as instead (`fields.<name>`).
///
/// The renamed names are `&'static str` (interned once per distinct name) so that an entry's
/// name is its final key and two fields are the same key exactly when their names are equal.
#[derive(Clone, Debug)]
pub(crate) struct Reserved {
    /// Bit [`Reserved::bit`] set for each reserved name, so most names are let through on one
    /// test of their length and first and last bytes.
    bits: u128,
    names: Vec<(Box<str>, &'static str)>,
    /// Where an error-valued field named `error` goes, and its chain; see [`Format`].
    pub(crate) error_keys: Option<(&'static str, &'static str)>,
    /// Identifies this set in the per-thread cache of field decisions (never 0).
    pub(crate) id: u64,
}

impl Reserved {
    /// `names`: the keys the record writes itself; `error_keys`: where the layout puts an
    /// error-valued field named `error`.
    pub(crate) fn new<'a>(
        names: impl IntoIterator<Item = &'a str>,
        error_keys: Option<(&'static str, &'static str)>,
    ) -> Reserved {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let mut reserved = Reserved {
            bits: 0,
            names: Vec::new(),
            error_keys,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        for name in names {
            if reserved.names.iter().any(|(n, _)| **n == *name) {
                continue;
            }
            reserved.bits |= Reserved::bit(name);
            let renamed = intern(format!("{COLLISION_PREFIX}{name}"));
            reserved.names.push((name.into(), renamed));
        }
        reserved
    }

    /// A cheap hash of a name into 0..128: its length and its first and last bytes.
    #[inline]
    fn bit(name: &str) -> u128 {
        let b = name.as_bytes();
        let (first, last) = (b.first().copied(), b.last().copied());
        let h = b
            .len()
            .wrapping_mul(31)
            .wrapping_add(usize::from(first.unwrap_or(0)).wrapping_mul(7))
            .wrapping_add(usize::from(last.unwrap_or(0)));
        1u128 << (h & 127)
    }

    /// The key a user field named `name` is written under.
    ///
    /// A name that already starts with the prefix gets it again (`fields.level` →
    /// `fields.fields.level`), so that no two names end up under one key: `level` takes
    /// `fields.level`.
    #[inline]
    pub(crate) fn key(&self, name: &'static str) -> &'static str {
        if name.len() > COLLISION_PREFIX.len()
            && name.as_bytes()[COLLISION_PREFIX.len() - 1] == b'.'
            && name.starts_with(COLLISION_PREFIX)
        {
            return intern_joined(COLLISION_PREFIX, name);
        }
        if self.bits & Reserved::bit(name) == 0 {
            return name;
        }
        // Lengths first: a name that shares a bit with a reserved one (`total` and `timestamp`
        // do) is usually told apart without comparing text.
        self.names
            .iter()
            .find(|(n, _)| n.len() == name.len() && n.as_bytes() == name.as_bytes())
            .map_or(name, |(_, renamed)| renamed)
    }
}

/// Interned keys made by the crate (`fields.level`, `error.chain`): each distinct one is
/// leaked once, however many layers and events make it. Field names are the program's own
/// `&'static str`s, so the set is bounded by the program's text.
static INTERNED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

pub(crate) fn intern(name: String) -> &'static str {
    intern_joined("", &name)
}

/// `a` followed by `b`, interned; allocates only the first time.
pub(crate) fn intern_joined(a: &str, b: &str) -> &'static str {
    let mut names = INTERNED.lock();
    let same = |n: &&&str| n.len() == a.len() + b.len() && n.starts_with(a) && n.ends_with(b);
    if let Some(found) = names.iter().find(same) {
        return found;
    }
    let leaked: &'static str = Box::leak(format!("{a}{b}").into_boxed_str());
    names.push(leaked);
    leaked
}

/// Appends `"key":` for a field whose final key is `key`.
#[inline]
pub(crate) fn push_key(out: &mut Vec<u8>, key: &str) {
    out.push(b'"');
    escape_into(out, key);
    out.extend_from_slice(b"\":");
}

/// [`push_key`] for a key known to need no escaping (a cached decision said so): the key of
/// nearly every field, copied without looking at its bytes.
#[inline]
pub(crate) fn push_plain_key(out: &mut Vec<u8>, key: &str) {
    out.reserve(key.len() + 3);
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_get_the_prefix_and_others_pass() {
        let r = Reserved::new(["level", "logwarden.dropped_fields"], None);
        assert_eq!(r.key("level"), "fields.level");
        assert_eq!(r.key("levels"), "levels");
        assert_eq!(
            r.key("logwarden.dropped_fields"),
            "fields.logwarden.dropped_fields"
        );
        assert_eq!(r.key("fields.level"), "fields.fields.level");
        // Interned: the same renamed key is the same string, whichever layer asked.
        assert!(std::ptr::eq(
            Reserved::new(["level"], None).key("level"),
            r.key("level")
        ));
    }
}

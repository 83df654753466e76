//! What must never be written: sensitive keys and, opt-in, secret-shaped values.
//!
//! Applied where the text is produced, so the file, stdout and alerts all get the same result:
//! a key is redacted when the span or event field is recorded, before anything is copied.

mod keys;
mod patterns;

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

pub use patterns::ValuePatterns;
pub(crate) use patterns::{redact, redact_text};

use keys::Key;

/// What a redacted field's value is replaced with.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// Which field names and which value shapes are never written.
///
/// The default redacts the values of fields whose name contains one of
/// [`Redaction::DEFAULT_KEYS`] as a word (case-insensitive; `db_password`, `X-Api-Key` and
/// `userPassword` all match, `passwords_enabled` does not), and no value patterns.
///
/// ```
/// use logwarden::redact::{Redaction, ValuePatterns};
/// // The defaults plus two keys of our own, and e-mail addresses masked in any text.
/// let redaction = Redaction::default()
///     .keys(["iban", "national_id"])
///     .values(ValuePatterns::EMAIL);
/// # let dir = tempfile::tempdir().unwrap();
/// let (layer, _guard) = logwarden::builder().dir(dir.path()).redaction(redaction)
///     .build::<tracing_subscriber::Registry>().unwrap();
/// ```
///
/// The `message` field is never redacted by key, only by value pattern; numbers and booleans are
/// redacted by key only.
#[derive(Clone)]
pub struct Redaction {
    keys: Vec<Key>,
    values: ValuePatterns,
    /// Identifies this list of keys in the per-thread cache of decisions (see `redacts_field`).
    /// Changes whenever the list does; clones share it.
    id: u64,
}

impl PartialEq for Redaction {
    fn eq(&self, other: &Redaction) -> bool {
        self.keys == other.keys && self.values == other.values
    }
}

impl Eq for Redaction {}

/// Ids for [`Redaction::id`]; 0 is never used, so an empty cache slot never matches.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Slots of the per-thread decision cache: (name address, name length, id << 1 | redacted).
const CACHE_SLOTS: usize = 128;

thread_local! {
    static DECISIONS: [Cell<(usize, usize, u64)>; CACHE_SLOTS] =
        const { [const { Cell::new((0, 0, 0)) }; CACHE_SLOTS] };
}

impl Redaction {
    /// The keys redacted by default.
    pub const DEFAULT_KEYS: [&'static str; 14] = [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "authorization",
        "cookie",
        "set-cookie",
        "session",
        "credit_card",
        "card_number",
        "cvv",
        "ssn",
    ];

    /// Nothing redacted: the starting point for a list of your own (`Redaction::none().keys(…)`).
    pub fn none() -> Redaction {
        Redaction {
            keys: Vec::new(),
            values: ValuePatterns::NONE,
            id: next_id(),
        }
    }

    /// Adds keys to the list. Entries are split into words like field names are, so
    /// `"api-key"` and `"api_key"` are the same entry; entries without any letter or digit are
    /// ignored.
    pub fn keys<I>(mut self, keys: I) -> Redaction
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for k in keys {
            if let Some(key) = Key::new(k.as_ref()) {
                if !self.keys.contains(&key) {
                    self.keys.push(key);
                }
            }
        }
        self.id = next_id();
        self
    }

    /// Sets the value patterns (replacing earlier ones).
    pub fn values(mut self, patterns: ValuePatterns) -> Redaction {
        self.values = patterns;
        self
    }

    /// Whether a field of this name is written as `"[REDACTED]"`.
    pub fn redacts_key(&self, name: &str) -> bool {
        keys::matches(&self.keys, name)
    }

    /// [`Redaction::redacts_key`] for a field name, remembered per thread: matching a name
    /// word by word costs more than formatting the field, and a program has few distinct names.
    ///
    /// Keyed by the name's address, which is sound only because field names are `'static`: the
    /// text at that address never changes.
    #[inline]
    pub(crate) fn redacts_field(&self, name: &'static str) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        let addr = name.as_ptr() as usize;
        // Two ways per set: two names whose addresses fall in one set (the program's layout
        // decides) would otherwise evict each other on every event, and every event would pay
        // the word matching (measured: 300 instructions per event).
        let set = ((addr ^ (addr >> 7) ^ name.len()) % CACHE_SLOTS) & !1;
        DECISIONS.with(|cache| {
            for slot in [set, set + 1] {
                let (a, len, tagged) = cache[slot].get();
                if a == addr && len == name.len() && tagged >> 1 == self.id {
                    return tagged & 1 == 1;
                }
            }
            let redacted = self.redacts_key(name);
            // The newest in the first way, the one it displaces in the second.
            cache[set + 1].set(cache[set].get());
            cache[set].set((addr, name.len(), self.id << 1 | u64::from(redacted)));
            redacted
        })
    }

    /// Identifies this list of keys (clones share it; a change makes a new one).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The value patterns in use.
    pub fn value_patterns(&self) -> ValuePatterns {
        self.values
    }
}

impl Default for Redaction {
    fn default() -> Redaction {
        Redaction::none().keys(Redaction::DEFAULT_KEYS)
    }
}

impl fmt::Debug for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redaction")
            .field(
                "keys",
                &self.keys.iter().map(|k| &k.text).collect::<Vec<_>>(),
            )
            .field("values", &self.values)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_decisions_belong_to_one_list_of_keys() {
        let defaults = Redaction::default();
        let custom = Redaction::none().keys(["user"]);
        for _ in 0..3 {
            assert!(defaults.redacts_field("password"));
            assert!(!defaults.redacts_field("user_id"));
            assert!(custom.redacts_field("user_id"));
            assert!(!custom.redacts_field("password"));
        }
        // Adding keys makes a new list: old decisions do not apply.
        let more = defaults.clone().keys(["user"]);
        assert!(more.redacts_field("user_id"));
        assert!(!defaults.redacts_field("user_id"));
        assert_eq!(Redaction::default(), Redaction::default());
    }

    #[test]
    fn defaults_cover_the_usual_spellings() {
        let r = Redaction::default();
        for name in [
            "password",
            "Authorization",
            "set_cookie",
            "x-api-key",
            "accessToken",
            "cvv",
        ] {
            assert!(r.redacts_key(name), "{name}");
        }
        for name in ["user_id", "trace_id", "message", "tokens_used", "amount"] {
            assert!(!r.redacts_key(name), "{name}");
        }
        assert!(!Redaction::none().redacts_key("password"));
        assert!(Redaction::none().keys(["iban"]).redacts_key("payer_IBAN"));
    }
}

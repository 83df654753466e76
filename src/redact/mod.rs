//! What must never be written: sensitive keys and, opt-in, secret-shaped values.
//!
//! Applied where the text is produced, so the file, stdout and alerts all get the same result:
//! a key is redacted when the span or event field is recorded, before anything is copied.

mod keys;
mod patterns;

use std::fmt;

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
/// use logwarden::{Redaction, ValuePatterns};
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
#[derive(Clone, PartialEq, Eq)]
pub struct Redaction {
    keys: Vec<Key>,
    values: ValuePatterns,
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

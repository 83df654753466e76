//! Matching field names against the list of sensitive keys.
//!
//! Names are compared word by word, case-insensitively: `password` matches `password`,
//! `db_password`, `DB-Password`, `userPassword` and `password2`, but not `lesson` (for `ssn`).
//! Splitting into words is what makes one list cover `snake_case`, `kebab-case`, `dotted.names`
//! and `camelCase` without a pattern per spelling. A key of five letters or more also matches at
//! the start or the end of a word (`newpassword`, `csrftoken`, `sessionid`), since all-lowercase
//! compounds are common, but not its plural (`tokens_used`, `passwords_enabled` are counts and
//! flags): redaction errs on the side of hiding.

use smallvec::SmallVec;

/// A word of a name: a byte range.
type Words = SmallVec<[(u16, u16); 8]>;

/// Splits `name` into words at every non-alphanumeric ASCII byte, at camelCase boundaries
/// (`userPassword` → user|Password, `HTTPCookie` → HTTP|Cookie) and between letters and digits
/// (`cvv2` → cvv|2). Non-ASCII bytes belong to words.
fn words(name: &str) -> Words {
    let b = name.as_bytes();
    let mut out = Words::new();
    // Names longer than this are not split further: no real key is that long.
    let len = crate::text::floor_boundary(name, u16::MAX as usize);
    let is_word = |c: u8| c.is_ascii_alphanumeric() || !c.is_ascii();
    let mut start: Option<usize> = None;
    for i in 0..len {
        let c = b[i];
        if !is_word(c) {
            if let Some(s) = start.take() {
                out.push((s as u16, i as u16));
            }
            continue;
        }
        if let Some(s) = start {
            let prev = b[i - 1];
            let camel = c.is_ascii_uppercase()
                && (prev.is_ascii_lowercase()
                    || (prev.is_ascii_uppercase()
                        && b.get(i + 1).is_some_and(|n| n.is_ascii_lowercase())));
            let digits = c.is_ascii_digit() != prev.is_ascii_digit() && prev.is_ascii();
            if camel || digits {
                out.push((s as u16, i as u16));
                start = Some(i);
            }
        } else {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s as u16, len as u16));
    }
    out
}

/// One entry of the list, kept both as given (for `Debug` and docs) and as lowercase words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) text: String,
    words: Vec<String>,
}

impl Key {
    /// `None` for an entry without any word (empty, or only punctuation): it would match nothing.
    pub(crate) fn new(text: &str) -> Option<Key> {
        let text = text.trim();
        let words: Vec<String> = words(text)
            .iter()
            .map(|&(s, e)| text[s as usize..e as usize].to_ascii_lowercase())
            .collect();
        (!words.is_empty()).then(|| Key {
            text: text.to_owned(),
            words,
        })
    }
}

/// Whether `name` contains the words of any key, in order and adjacent, or a word that starts or
/// ends with a long one-word key.
pub(crate) fn matches(keys: &[Key], name: &str) -> bool {
    if keys.is_empty() {
        return false;
    }
    let spans = words(name);
    let b = name.as_bytes();
    let word = |i: usize| {
        let (s, e) = spans[i];
        &b[s as usize..e as usize]
    };
    keys.iter().any(|key| {
        let n = key.words.len();
        let whole_words = n <= spans.len()
            && (0..=spans.len() - n).any(|first| {
                key.words
                    .iter()
                    .enumerate()
                    .all(|(k, w)| word(first + k).eq_ignore_ascii_case(w.as_bytes()))
            });
        whole_words || (n == 1 && (0..spans.len()).any(|i| affix(word(i), &key.words[0])))
    })
}

/// Whether `word` starts or ends with `key` (five letters or more), other than as its plural.
fn affix(word: &[u8], key: &str) -> bool {
    let key = key.as_bytes();
    if key.len() < 5 || word.len() <= key.len() {
        return false;
    }
    let plural = word.len() == key.len() + 1 && word[key.len()].eq_ignore_ascii_case(&b's');
    let starts = word[..key.len()].eq_ignore_ascii_case(key) && !plural;
    let ends = word[word.len() - key.len()..].eq_ignore_ascii_case(key);
    starts || ends
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(name: &str) -> Vec<&str> {
        words(name)
            .iter()
            .map(|&(s, e)| &name[s as usize..e as usize])
            .collect()
    }

    #[test]
    fn splits_every_common_spelling_into_words() {
        assert_eq!(split("user_password"), ["user", "password"]);
        assert_eq!(split("X-Api-Key"), ["X", "Api", "Key"]);
        assert_eq!(split("http.request.cookie"), ["http", "request", "cookie"]);
        assert_eq!(split("userPassword"), ["user", "Password"]);
        assert_eq!(split("HTTPCookie"), ["HTTP", "Cookie"]);
        assert_eq!(split("APIKEY"), ["APIKEY"]);
        assert_eq!(split("oauth2Token"), ["oauth", "2", "Token"]);
        assert_eq!(split("cvv2"), ["cvv", "2"]);
        assert_eq!(split("__"), Vec::<&str>::new());
        assert_eq!(split("mot_de_passé"), ["mot", "de", "passé"]);
    }

    fn list(keys: &[&str]) -> Vec<Key> {
        keys.iter().filter_map(|k| Key::new(k)).collect()
    }

    #[test]
    fn matches_whole_words_in_any_case_and_spelling() {
        let keys = list(&["password", "api_key", "set-cookie", "ssn"]);
        for name in [
            "password",
            "PASSWORD",
            "db_password",
            "dbPassword",
            "password_hash",
            "api_key",
            "x-api-key",
            "apiKey",
            "API_KEY",
            "Set-Cookie",
            "setCookie",
            "ssn",
            "user.ssn",
            "ssn2",
            "password2",
            "newpassword",
            "PASSWORDHASH",
        ] {
            assert!(matches(&keys, name), "{name} should match");
        }
        for name in [
            "passwords_enabled",
            "apikey",
            "api",
            "key",
            "cookie",
            "lesson",
            "ssns",
            "assnotes",
            "",
            "user_id",
        ] {
            assert!(!matches(&keys, name), "{name} should not match");
        }
    }

    #[test]
    fn long_keys_match_inside_lowercase_compounds_but_not_as_plurals() {
        let keys = list(&["token", "session", "cvv"]);
        for name in [
            "csrftoken",
            "authToken",
            "sessionid",
            "SESSIONID",
            "accesstoken",
        ] {
            assert!(matches(&keys, name), "{name} should match");
        }
        for name in ["tokens_used", "total_tokens", "sessions", "cvvs", "tok"] {
            assert!(!matches(&keys, name), "{name} should not match");
        }
    }

    #[test]
    fn a_huge_entry_or_name_never_splits_a_character() {
        let long = format!("{}é", "a".repeat(65_534));
        assert!(Key::new(&long).is_some());
        assert!(!matches(&list(&["password"]), &long));
    }

    #[test]
    fn entries_without_words_are_rejected() {
        assert!(Key::new("").is_none());
        assert!(Key::new(" -_. ").is_none());
        assert!(matches(&list(&["Api-Key"]), "api_key"));
    }
}

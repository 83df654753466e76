//! Short byte strings that every record copies (a field's `"key":`, the target, a span's name),
//! held so that the short ones, nearly all of them, are copied with one fixed-size move instead
//! of a call to `memcpy` for a few bytes.

/// The longest text held inline.
const SHORT: usize = 32;

#[derive(Clone, Debug)]
pub(crate) enum Snippet {
    Short { bytes: [u8; SHORT], len: u8 },
    Long(Vec<u8>),
}

impl Default for Snippet {
    fn default() -> Self {
        Snippet::Short {
            bytes: [0; SHORT],
            len: 0,
        }
    }
}

impl Snippet {
    pub(crate) fn new(text: &[u8]) -> Snippet {
        if text.len() > SHORT {
            return Snippet::Long(text.to_vec());
        }
        let mut bytes = [0; SHORT];
        bytes[..text.len()].copy_from_slice(text);
        Snippet::Short {
            bytes,
            len: text.len() as u8,
        }
    }

    /// Appends the text: a short one as all [`SHORT`] bytes, then cut back to its length.
    #[inline(always)]
    pub(crate) fn push_to(&self, out: &mut Vec<u8>) {
        match self {
            Snippet::Short { bytes, len } => {
                let end = out.len() + usize::from(*len);
                out.extend_from_slice(bytes);
                out.truncate(end);
            }
            Snippet::Long(v) => out.extend_from_slice(v),
        }
    }

    #[cfg(test)]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Snippet::Short { bytes, len } => &bytes[..usize::from(*len)],
            Snippet::Long(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_comes_out_whole_after_what_was_there() {
        for len in [0, 1, 7, SHORT - 1, SHORT, SHORT + 1, 100, 3, 200, 0] {
            let text: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let s = Snippet::new(&text);
            assert_eq!(s.as_bytes(), &text[..], "{len}");
            let mut out = b"head".to_vec();
            s.push_to(&mut out);
            assert_eq!(&out[..4], b"head");
            assert_eq!(&out[4..], &text[..], "{len}");
        }
    }
}

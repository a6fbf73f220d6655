//! A pragmatic email check: what a CRM can send mail to, not every RFC 5322 corner.
//!
//! The walks split at ASCII bytes (`@`, `.`) by position rather than with `str::split`, whose
//! searcher costs a plugin more fuel than the short strings it searches. An ASCII address
//! (nearly all of them) is checked in one pass over its bytes with a table of what each byte may
//! be ([`is_valid_ascii`]): about a fifth of the fuel of the general walk, with the same answers.

/// `email` must already be lower-case.
pub fn is_valid(email: &str) -> bool {
    if email.is_ascii() { is_valid_ascii(email.as_bytes()) } else { is_valid_general(email) }
}

/// What a byte may be in an ASCII address: a bit per role.
const LOCAL: u8 = 1;
const LABEL: u8 = 2;
const LETTER: u8 = 4;

/// The roles of each byte: in the local part (letters, digits, `.`, `-` and the specials RFC 5322
/// allows unquoted), in a domain label (letters, digits, `-`), a letter (the last label).
const CLASSES: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut byte = 0;
    while byte < 128 {
        let c = byte as u8;
        let letter = c.is_ascii_alphabetic();
        let label = c.is_ascii_alphanumeric() || c == b'-';
        let local = label
            || matches!(c, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'/' | b'=' | b'?' | b'^'..=b'`' | b'{'..=b'~' | b'.');
        let mut class = 0;
        if local {
            class |= LOCAL;
        }
        if label {
            class |= LABEL;
        }
        if letter {
            class |= LETTER;
        }
        classes[byte] = class;
        byte += 1;
    }
    classes
};

/// [`is_valid_general`] for an ASCII address, in one pass.
fn is_valid_ascii(email: &[u8]) -> bool {
    let Some(at) = email.iter().position(|&byte| byte == b'@') else { return false };
    let local = &email[..at];
    if local.is_empty() || local.len() > 64 || local[0] == b'.' || local[local.len() - 1] == b'.' {
        return false;
    }
    let mut previous = 0;
    for &byte in local {
        if CLASSES[byte as usize] & LOCAL == 0 || (byte == b'.' && previous == b'.') {
            return false;
        }
        previous = byte;
    }
    let domain = &email[at + 1..];
    if domain.len() > 253 {
        return false;
    }
    // Each label: 1 to 63 letters, digits or `-`, neither first nor last a `-`; at least two
    // labels, the last of two or more letters.
    let (mut labels, mut label_start, mut all_letters) = (0, 0, true);
    for (index, &byte) in domain.iter().chain(std::iter::once(&b'.')).enumerate() {
        if byte != b'.' {
            let class = CLASSES[byte as usize];
            if class & LABEL == 0 {
                return false;
            }
            all_letters &= class & LETTER != 0;
            continue;
        }
        let label = &domain[label_start..index];
        if label.is_empty() || label.len() > 63 || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return false;
        }
        labels += 1;
        if index == domain.len() {
            return labels >= 2 && label.len() >= 2 && all_letters;
        }
        label_start = index + 1;
        all_letters = true;
    }
    unreachable!("the chained dot ends the last label")
}

/// Any address, Unicode included (letters and digits of any script).
fn is_valid_general(email: &str) -> bool {
    let Some(at) = email.bytes().position(|byte| byte == b'@') else { return false };
    let (local, domain) = (&email[..at], &email[at + 1..]);
    let local_bytes = local.as_bytes();
    !local.is_empty()
        && local.len() <= 64
        && local_bytes[0] != b'.'
        && local_bytes[local.len() - 1] != b'.'
        && !local_bytes.windows(2).any(|pair| pair == b"..")
        && all_chars(local, |c| {
            c.is_alphanumeric()
                || matches!(c, '!' | '#'..='\'' | '*' | '+' | '/' | '=' | '?' | '^'..='`' | '{'..='~' | '.' | '-')
        })
        && is_valid_domain(domain)
}

pub fn is_valid_domain(domain: &str) -> bool {
    if domain.len() > 253 {
        return false;
    }
    let mut labels = 0;
    let mut start = 0;
    loop {
        let end =
            domain.as_bytes()[start..].iter().position(|&byte| byte == b'.').map_or(domain.len(), |dot| start + dot);
        let label = &domain[start..end];
        labels += 1;
        let label_valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && all_chars(label, |c| c.is_alphanumeric() || c == '-');
        if !label_valid {
            return false;
        }
        if end == domain.len() {
            return labels >= 2 && label.len() >= 2 && all_chars(label, char::is_alphabetic);
        }
        start = end + 1;
    }
}

/// Whether every character of `text` is `ok`; ASCII text (nearly every address) is walked by
/// bytes, without decoding UTF-8.
fn all_chars(text: &str, ok: impl Fn(char) -> bool) -> bool {
    if text.is_ascii() { text.bytes().all(|byte| ok(char::from(byte))) } else { text.chars().all(ok) }
}

/// True when `domain` is `listed` or one of its subdomains.
pub fn domain_matches(domain: &str, listed: &str) -> bool {
    domain == listed || domain.strip_suffix(listed).is_some_and(|prefix| prefix.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::{is_valid, is_valid_ascii, is_valid_domain, is_valid_general};

    /// The one-pass ASCII check answers as the general walk on every string made of the bytes
    /// that matter (letters, digits, `@`, `.`, `-`, a special, a space, an upper-case letter),
    /// up to six bytes, and on long labels and parts around the length limits.
    #[test]
    fn the_ascii_pass_agrees_with_the_general_walk() {
        let alphabet = ['a', '0', '@', '.', '-', '+', ' ', 'Z', '_'];
        let checked = crate::tests::every_string(&alphabet, 6, |email| {
            assert_eq!(is_valid_ascii(email.as_bytes()), is_valid_general(email), "{email:?}");
        });
        assert_eq!(checked, (0..=6).map(|len| alphabet.len().pow(len)).sum::<usize>());
        let label = "a".repeat(63);
        for email in [
            format!("{}@b.co", "a".repeat(64)),
            format!("{}@b.co", "a".repeat(65)),
            format!("x@{label}.co"),
            format!("x@a{label}.co"),
            format!("x@{label}.{label}.{label}.{}.co", "a".repeat(58)),
            format!("x@{label}.{label}.{label}.{}.co", "a".repeat(59)),
            "o'neil+tag@mail.example.org".into(),
            "x@a.b-c.de".into(),
            "x@1.co".into(),
            "x@a.c1".into(),
        ] {
            assert_eq!(is_valid_ascii(email.as_bytes()), is_valid_general(&email), "{email}");
        }
    }

    #[test]
    fn addresses_and_domains_at_the_edges() {
        for good in ["a@b.co", "ada.lovelace@example.com", "o'neil+tag@mail.example.org", "zofia@żółw.pl", "x@a-b.io"]
        {
            assert!(is_valid(good), "{good}");
        }
        let bad = [
            "",
            "@b.co",
            "a@",
            "a@b",
            "a@b.c",
            ".a@b.co",
            "a.@b.co",
            "a..b@b.co",
            "a@b..co",
            "a@.b.co",
            "a@b.co.",
            "a@-b.co",
            "a@b-.co",
            "a@b.c0",
            "a@b@c.co",
            "a b@c.co",
            "a@b_c.co",
        ];
        for bad in bad {
            assert!(!is_valid(bad), "{bad}");
        }
        assert!(is_valid(&format!("{}@b.co", "a".repeat(64))) && !is_valid(&format!("{}@b.co", "a".repeat(65))));
        let label = "a".repeat(63);
        assert!(is_valid_domain(&format!("{label}.co")) && !is_valid_domain(&format!("a{label}.co")));
        let long = format!("{label}.{label}.{label}.{}.co", "a".repeat(58));
        assert_eq!(long.len(), 253);
        assert!(is_valid_domain(&long) && !is_valid_domain(&format!("a{long}")));
    }
}

//! A pragmatic email check: what a CRM can send mail to, not every RFC 5322 corner.
//!
//! The walks split at ASCII bytes (`@`, `.`) by position rather than with `str::split`, whose
//! searcher costs a plugin more fuel than the short strings it searches.

/// `email` must already be lower-case.
pub fn is_valid(email: &str) -> bool {
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
    use super::{is_valid, is_valid_domain};

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

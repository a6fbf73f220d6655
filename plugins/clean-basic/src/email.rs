//! A pragmatic email check: what a CRM can send mail to, not every RFC 5322 corner.

/// `email` must already be lower-case.
pub fn is_valid(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.as_bytes().windows(2).any(|pair| pair[0] == b'.' && pair[1] == b'.')
        && all_chars(local, |c| {
            c.is_alphanumeric()
                || matches!(c, '!' | '#'..='\'' | '*' | '+' | '/' | '=' | '?' | '^'..='`' | '{'..='~' | '.' | '-')
        })
        && is_valid_domain(domain)
}

pub fn is_valid_domain(domain: &str) -> bool {
    let mut labels = 0;
    let mut last_label = "";
    let labels_valid = domain.split('.').all(|label| {
        labels += 1;
        last_label = label;
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && all_chars(label, |c| c.is_alphanumeric() || c == '-')
    });
    labels_valid
        && labels >= 2
        && domain.len() <= 253
        && last_label.len() >= 2
        && all_chars(last_label, char::is_alphabetic)
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

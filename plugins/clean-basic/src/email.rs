//! A pragmatic email check: what a CRM can send mail to, not every RFC 5322 corner.

/// `email` must already be lower-case.
pub fn is_valid(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| {
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
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    labels_valid
        && labels >= 2
        && domain.len() <= 253
        && last_label.len() >= 2
        && last_label.chars().all(char::is_alphabetic)
}

/// True when `domain` is `listed` or one of its subdomains.
pub fn domain_matches(domain: &str, listed: &str) -> bool {
    domain == listed || domain.strip_suffix(listed).is_some_and(|prefix| prefix.ends_with('.'))
}

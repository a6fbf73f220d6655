//! Match keys: emails and phone numbers normalized so the host can compare them as exact strings.

/// A phone number needs this many digits to identify anyone.
const MIN_PHONE_DIGITS: usize = 7;

/// Domains of the one Gmail mailbox namespace, which ignores dots and `+suffixes`.
const GMAIL_DOMAINS: &[&str] = &["gmail.com", "googlemail.com"];

/// `email:<address>`, trimmed and lower-cased; with `gmail_normalization`, a Gmail address
/// also loses the dots and `+suffix` of its local part and is written `@gmail.com`.
/// `None` for a blank address.
pub fn email(raw: &str, gmail_normalization: bool) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return None;
    }
    if gmail_normalization
        && let Some((local, domain)) = email.rsplit_once('@')
        && GMAIL_DOMAINS.contains(&domain)
    {
        let mailbox = local.split('+').next().unwrap_or_default().replace('.', "");
        if !mailbox.is_empty() {
            return Some(format!("email:{mailbox}@gmail.com"));
        }
    }
    Some(format!("email:{email}"))
}

/// `phone:<digits>`, a leading `+` kept; `None` for fewer than 7 digits.
pub fn phone(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < MIN_PHONE_DIGITS {
        return None;
    }
    let plus = if raw.starts_with('+') { "+" } else { "" };
    Some(format!("phone:{plus}{digits}"))
}

//! A hook's error: the plugin's own words on why it cannot handle a batch. The host quarantines
//! the batch's records with it as their reason (escaped and cut again on its side).

use std::fmt;

/// Why a hook gave up. Return it instead of panicking: the batch goes to quarantine with this
/// message, naming the record (or tag) the SDK was at, and the migration goes on.
///
/// ```
/// use crm_migrate_plugin_sdk::HookError;
///
/// let error = "x1".parse::<u32>().map_err(HookError::new).unwrap_err();
/// assert_eq!(error.message(), "invalid digit found in string");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HookError {
    message: String,
}

impl HookError {
    /// A message longer than this is cut (on a character boundary) and says how long it was:
    /// a reason is read by a person, and every byte of an answer counts in the host's output limit.
    pub const MAX_MESSAGE_BYTES: usize = 512;

    pub fn new(message: impl fmt::Display) -> Self {
        HookError { message: bounded(&message.to_string(), Self::MAX_MESSAGE_BYTES) }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HookError {}

/// `text` cut to at most `max_bytes` (plus a note of its full length) on a character boundary.
pub(crate) fn bounded(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let cut = (0..=max_bytes).rev().find(|&end| text.is_char_boundary(end)).unwrap_or(0);
    format!("{}... ({} bytes in all)", &text[..cut], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_is_cut_on_a_character_boundary_and_says_its_length() {
        let error = HookError::new("ż".repeat(1000));
        assert!(error.message().len() < HookError::MAX_MESSAGE_BYTES + 32, "{}", error.message().len());
        assert!(error.message().ends_with("... (2000 bytes in all)"), "{}", error.message());
        assert_eq!(HookError::new("short").message(), "short");
    }
}

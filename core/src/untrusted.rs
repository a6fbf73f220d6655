//! Text that came from a plugin or an export, made safe to show: printed to a terminal, an
//! escape sequence can erase lines and forge others (a fake `digest` line under the real one).
//!
//! [`escape`] is the one function for the terminal (the report escapers, `report::markdown`
//! and `report::html`, build on [`is_unsafe`] and [`escape`]); [`quote`] is for naming a bad
//! value in an error, bounded.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal raw: C0 and C1 controls and DEL (newline, carriage
/// return, escape, bell...), and the bidirectional overrides and isolates that reorder what a
/// reader sees (the "Trojan Source" characters).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every unsafe character written as a visible escape (`\n`, `\r`, `\t`,
/// `\u{1b}`), so that it stays on one line and does nothing to the terminal. Safe text is
/// returned as it is, without copying.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// At most this many characters of a bad value are shown in an error.
pub const QUOTE_CHARS: usize = 64;

/// `text` in double quotes, [`escape`]d, cut after [`QUOTE_CHARS`] characters with its full
/// length said: an error names a bad value without copying a plugin's megabytes into every
/// record's quarantine reason.
pub fn quote(text: &str) -> String {
    let cut = text.char_indices().nth(QUOTE_CHARS).map_or(text.len(), |(at, _)| at);
    let shown = escape(&text[..cut]).replace('"', "\\\"");
    if cut < text.len() { format!("\"{shown}...\" ({} bytes)", text.len()) } else { format!("\"{shown}\"") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_and_safe_text_is_not_copied() {
        assert!(matches!(escape("Zubr sp. z o.o. ąę"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\nb\r\tc\u{1b}[2Kd\u{7}\u{9b}e\u{202e}f\u{7f}"),
            "a\\nb\\r\\tc\\u{1b}[2Kd\\u{7}\\u{9b}e\\u{202e}f\\u{7f}"
        );
    }

    #[test]
    fn quotes_are_bounded() {
        assert_eq!(quote("a\"b\n"), "\"a\\\"b\\n\"");
        let long = "x".repeat(10_000);
        let quoted = quote(&long);
        assert!(quoted.len() < 100 && quoted.ends_with("(10000 bytes)"), "{quoted}");
    }
}

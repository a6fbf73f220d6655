//! Whitespace normalization that allocates only when a value actually changes.
//!
//! Most values are already clean, so the check runs over bytes and decodes a character only
//! where a byte is not ASCII (where Unicode whitespace such as a no-break space can hide).

/// The normalized text, or `None` when `text` is already normal. Single-line fields collapse
/// every run of whitespace (line breaks too) into one space; multi-line fields keep their line
/// breaks and lose trailing spaces on each line.
pub fn normalize(text: &str, multiline: bool) -> Option<String> {
    if is_normal(text, multiline) {
        return None;
    }
    if multiline {
        let lines: Vec<String> = text.lines().map(collapse).collect();
        Some(lines.join("\n").trim_matches('\n').to_owned())
    } else {
        Some(collapse(text))
    }
}

fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(char::is_whitespace).filter(|word| !word.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn is_normal(text: &str, multiline: bool) -> bool {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else { return true };
    if first == b' ' || last == b' ' || (multiline && (first == b'\n' || last == b'\n')) {
        return false;
    }
    let mut previous = 0u8;
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            b' ' if previous == b' ' => return false,
            b'\n' if multiline && previous == b' ' => return false,
            b' ' => {}
            b'\n' if multiline => {}
            b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => return false,
            0x80.. if is_unicode_whitespace_at(text, index) => return false,
            _ => {}
        }
        previous = byte;
    }
    true
}

/// Whether a non-ASCII whitespace character (no-break space, em space, ...) starts at `index`.
fn is_unicode_whitespace_at(text: &str, index: usize) -> bool {
    text.is_char_boundary(index) && text[index..].chars().next().is_some_and(char::is_whitespace)
}

//! Whitespace normalization that allocates only when a value actually changes.
//!
//! Most values are already clean, so the check runs over bytes and decodes a character only
//! where a byte is not ASCII (where Unicode whitespace such as a no-break space can hide).

/// The normalized text, or `None` when `text` is already normal. Single-line fields collapse
/// every run of whitespace (line breaks too) into one space; multi-line fields keep their line
/// breaks and lose trailing spaces on each line. `multiline_field` says whether the field is one
/// that keeps its breaks: asked only for a text that has one and is not normal as one line.
pub fn normalize(text: &str, multiline_field: impl FnOnce() -> bool) -> Option<String> {
    // Normal as a single line means no line break at all: normal whatever the field.
    if is_normal(text, false) {
        return None;
    }
    let multiline = text.contains('\n') && multiline_field();
    if multiline && is_normal(text, true) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    if multiline {
        // Lines as `str::lines` cuts them (a `\r` before `\n` is whitespace, collapsed away),
        // joined by `\n`, without empty lines at either end.
        let mut breaks = 0;
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 && !out.is_empty() {
                breaks += 1;
            }
            let before = out.len();
            for _ in 0..breaks {
                out.push('\n');
            }
            let start = out.len();
            collapse_into(line, &mut out);
            if out.len() == start {
                // An empty line: its break is written only if words follow.
                out.truncate(before);
            } else {
                breaks = 0;
            }
        }
    } else {
        collapse_into(text, &mut out);
    }
    Some(out)
}

/// Appends the words of `text` (split by `char::is_whitespace`) to `out`, one space apart.
/// Bytes are looked at one by one; a character is decoded only where a byte is not ASCII, and
/// words are copied whole.
fn collapse_into(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let start_len = out.len();
    let mut word_start = None;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        let (space, width) = if byte < 0x80 {
            (matches!(byte, b' ' | b'\t'..=b'\r'), 1)
        } else {
            let c = text[at..].chars().next().expect("a character starts here");
            (c.is_whitespace(), c.len_utf8())
        };
        match (space, word_start) {
            (true, Some(start)) => {
                push_word(out, start_len, &text[start..at]);
                word_start = None;
            }
            (false, None) => word_start = Some(at),
            _ => {}
        }
        at += width;
    }
    if let Some(start) = word_start {
        push_word(out, start_len, &text[start..]);
    }
}

fn push_word(out: &mut String, start_len: usize, word: &str) {
    if out.len() > start_len {
        out.push(' ');
    }
    out.push_str(word);
}

fn is_normal(text: &str, multiline: bool) -> bool {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else { return true };
    if first == b' ' || last == b' ' || (multiline && (first == b'\n' || last == b'\n')) {
        return false;
    }
    // Eight bytes at a time (a WebAssembly operation costs fuel: this is about 10x fewer of
    // them than a byte at a time). A chunk of printable ASCII is normal unless it holds two
    // spaces in a row; a chunk with a control or non-ASCII byte goes byte by byte.
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * ONES;
    let mut previous = 0u8;
    let mut chunks = bytes.chunks_exact(8);
    let mut index = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // High bit set in each byte below 0x20 (exact per byte: no carry crosses bytes).
        let control = !((word & !HIGH) + 0x60 * ONES) & !word & HIGH;
        if (word & HIGH) | control != 0 {
            for &byte in chunk {
                if !byte_is_normal(text, index, byte, previous, multiline) {
                    return false;
                }
                previous = byte;
                index += 1;
            }
            continue;
        }
        let spaced = word ^ (0x20 * ONES);
        let spaces = !(((spaced & !HIGH) + !HIGH) | spaced) & HIGH;
        if spaces & (spaces << 8) != 0 || (previous == b' ' && chunk[0] == b' ') {
            return false;
        }
        previous = chunk[7];
        index += 8;
    }
    for &byte in chunks.remainder() {
        if !byte_is_normal(text, index, byte, previous, multiline) {
            return false;
        }
        previous = byte;
        index += 1;
    }
    true
}

/// Whether `byte`, at `index` of `text` and after `previous`, leaves the text normal.
#[inline]
fn byte_is_normal(text: &str, index: usize, byte: u8, previous: u8, multiline: bool) -> bool {
    match byte {
        b' ' if previous == b' ' => false,
        b'\n' if multiline && previous == b' ' => false,
        b' ' => true,
        b'\n' if multiline => true,
        b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => false,
        0x80.. => !is_unicode_whitespace_at(text, index),
        _ => true,
    }
}

/// Whether a non-ASCII whitespace character (no-break space, em space, ...) starts at `index`.
fn is_unicode_whitespace_at(text: &str, index: usize) -> bool {
    text.is_char_boundary(index) && text[index..].chars().next().is_some_and(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    /// What normalizing means, written with the standard library (the slow, obvious way).
    fn expected(text: &str, multiline: bool) -> String {
        let collapse = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
        if multiline {
            text.lines().map(collapse).collect::<Vec<_>>().join("\n").trim_matches('\n').to_owned()
        } else {
            collapse(text)
        }
    }

    #[test]
    fn the_byte_walk_agrees_with_the_obvious_way() {
        let texts = [
            "",
            "plain",
            "Acme  Sp. z o.o.",
            " lead",
            "trail ",
            "a\tb",
            "exactly8 bytes!!",
            "eight by  tes, then double",
            "Zieli\u{144}ski  Wi\u{15b}niewska",
            "no\u{a0}break\u{2009}thin\u{3000}ideographic",
            "\u{a0}\u{a0}",
            "first line  \r\nsecond   line\n",
            "\n\n  lead\n\n\nmiddle \n trail\n\n",
            "only\rcarriage\r",
            "line\n \n\u{2028}end",
            "   \n \t ",
        ];
        for text in texts {
            for multiline in [false, true] {
                let got = normalize(text, || multiline).unwrap_or_else(|| text.to_owned());
                assert_eq!(got, expected(text, multiline), "{text:?} multiline {multiline}");
            }
        }
    }
}

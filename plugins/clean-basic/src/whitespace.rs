//! Whitespace normalization that allocates only when a value actually changes.
//!
//! Most values are already clean, so the check looks at sixteen bytes at a time (one vector:
//! `simd128` in a component, SSE2 natively) for bytes that may be whitespace (a space, a control
//! byte, a non-ASCII byte), and decodes a character only where a byte may start Unicode
//! whitespace such as a no-break space. The rewrite skips eight bytes at a time.

/// The normalized text, or `None` when `text` is already normal. Single-line fields collapse
/// every run of whitespace (line breaks too) into one space; multi-line fields keep their line
/// breaks and lose trailing spaces on each line. `multiline_field` says whether the field is one
/// that keeps its breaks: asked only for a text that has one and is not normal as one line.
pub fn normalize(text: &str, multiline_field: impl FnOnce() -> bool) -> Option<String> {
    // Normal as a single line means no line break at all: normal whatever the field.
    if is_normal(text, false) {
        return None;
    }
    let multiline = has_line_break(text.as_bytes()) && multiline_field();
    if multiline && is_normal(text, true) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    collapse_into(text, multiline, &mut out);
    Some(out)
}

/// Writes the words of `text` (split by `char::is_whitespace`) to the empty `out`, one space
/// apart; with `multiline`, words on different lines are `\n` apart instead, as many as there
/// were line breaks between them (so an empty line inside the text stays, those at either end
/// go: `str::lines` collapsed line by line and joined by `\n`). One pass: the scan skips eight
/// bytes at a time to the next byte that may be whitespace, and words are copied whole.
fn collapse_into(text: &str, multiline: bool, out: &mut String) {
    let bytes = text.as_bytes();
    let mut breaks = 0;
    let mut at = 0;
    loop {
        // The word runs from `at` to the next whitespace character.
        let mut space = next_special(bytes, at);
        let mut width = 0;
        while space < bytes.len() {
            width = whitespace_width(text, space);
            if width > 0 {
                break;
            }
            space = next_special(bytes, space + 1);
        }
        if space > at {
            if !out.is_empty() {
                if breaks == 0 {
                    out.push(' ');
                }
                for _ in 0..breaks {
                    out.push('\n');
                }
            }
            out.push_str(&text[at..space]);
            breaks = 0;
        }
        if space >= bytes.len() {
            return;
        }
        if multiline && bytes[space] == b'\n' && !out.is_empty() {
            breaks += 1;
        }
        at = space + width;
    }
}

/// The width of the whitespace character at `at`, or 0 when none starts there.
#[inline]
fn whitespace_width(text: &str, at: usize) -> usize {
    match text.as_bytes()[at] {
        b' ' | b'\t'..=b'\r' => 1,
        byte if is_unicode_whitespace_lead(byte) && is_unicode_whitespace_at(text, at) => {
            text[at..].chars().next().map_or(0, char::len_utf8)
        }
        _ => 0,
    }
}

fn is_normal(text: &str, multiline: bool) -> bool {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else { return true };
    if first == b' ' || last == b' ' || (multiline && (first == b'\n' || last == b'\n')) {
        return false;
    }
    // Sixteen bytes at a time, a bit a byte. A block whose only special bytes are spaces is
    // normal unless two spaces touch (in it, or across its first byte); in any other block each
    // byte that may be whitespace is looked at one by one.
    let mut at = 0;
    while at < bytes.len() {
        let (specials, spaces) = block_masks(bytes, at);
        if specials & !spaces == 0 {
            let first_after_space = spaces & 1 != 0 && at > 0 && bytes[at - 1] == b' ';
            if spaces & (spaces >> 1) != 0 || first_after_space {
                return false;
            }
        } else {
            let mut left = specials;
            while left != 0 {
                let index = at + left.trailing_zeros() as usize;
                let previous = if index > 0 { bytes[index - 1] } else { 0 };
                if !byte_is_normal(text, index, bytes[index], previous, multiline) {
                    return false;
                }
                left &= left - 1;
            }
        }
        at += BLOCK;
    }
    true
}

const BLOCK: usize = 16;

/// For the sixteen bytes from `at` (past the end of `bytes`, as many `a`s, a byte that is never
/// special): a bit for each byte that may be (part of) whitespace (a space, a control byte, a
/// non-ASCII byte), and a bit for each space.
#[inline]
fn block_masks(bytes: &[u8], at: usize) -> (u32, u32) {
    let mut block = [b'a'; BLOCK];
    match bytes.get(at..at + BLOCK) {
        Some(full) => block.copy_from_slice(full),
        None => block[..bytes.len() - at].copy_from_slice(&bytes[at..]),
    }
    masks_of(&block)
}

/// In a component built with `simd128` (see `.cargo/config.toml`): one load, two compares and
/// two bitmasks, where eight bytes as a word took about twenty operations.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn masks_of(block: &[u8; BLOCK]) -> (u32, u32) {
    use core::arch::wasm32::{i8x16_bitmask, i8x16_eq, i8x16_lt, i8x16_splat, v128, v128_load};
    // SAFETY: `block` is 16 readable bytes; `v128_load` has no alignment requirement.
    #[allow(unsafe_code)]
    let vector = unsafe { v128_load(block.as_ptr().cast::<v128>()) };
    // Signed: a non-ASCII byte is negative, so one compare finds it with the control bytes.
    let specials = i8x16_bitmask(i8x16_lt(vector, i8x16_splat(0x21)));
    let spaces = i8x16_bitmask(i8x16_eq(vector, i8x16_splat(b' ' as i8)));
    (u32::from(specials), u32::from(spaces))
}

/// Natively on x86-64 (the benchmark's baseline runs the same logic as the component): the
/// same operations in SSE2, which every x86-64 has.
#[cfg(target_arch = "x86_64")]
#[inline]
fn masks_of(block: &[u8; BLOCK]) -> (u32, u32) {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    // SAFETY: `block` is 16 readable bytes and `_mm_loadu_si128` has no alignment requirement;
    // the other intrinsics only need SSE2, part of every x86-64.
    #[allow(unsafe_code)]
    let (specials, spaces) = unsafe {
        let vector = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
        (
            _mm_movemask_epi8(_mm_cmplt_epi8(vector, _mm_set1_epi8(0x21))),
            _mm_movemask_epi8(_mm_cmpeq_epi8(vector, _mm_set1_epi8(b' ' as i8))),
        )
    };
    (specials as u32, spaces as u32)
}

/// Anywhere else, the same masks byte by byte.
#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
#[inline]
fn masks_of(block: &[u8; BLOCK]) -> (u32, u32) {
    masks_by_bytes(block)
}

/// What [`masks_of`] answers, byte by byte: its definition.
#[cfg(any(test, not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64"))))]
fn masks_by_bytes(block: &[u8; BLOCK]) -> (u32, u32) {
    let (mut specials, mut spaces) = (0, 0);
    for (index, &byte) in block.iter().enumerate() {
        specials |= u32::from(!(0x21..0x80).contains(&byte)) << index;
        spaces |= u32::from(byte == b' ') << index;
    }
    (specials, spaces)
}

/// The high bit of each byte of `word` that is zero (exact per byte: no carry crosses bytes).
#[inline]
fn zero_bytes(word: u64) -> u64 {
    !(((word & !HIGH) + !HIGH) | word) & HIGH
}

/// The high bit of each byte of `word` that may be (part of) whitespace: a space, a control
/// byte or a non-ASCII byte (exact per byte).
#[inline]
fn special_bytes(word: u64) -> u64 {
    let below_0x21 = !((word & !HIGH) + 0x5f * ONES) & !word & HIGH;
    below_0x21 | (word & HIGH)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x80 * ONES;

/// The index of the first byte at or after `at` that may be (part of) whitespace: a space, a
/// control byte or a non-ASCII byte; `bytes.len()` when there is none. Eight bytes at a time:
/// a WebAssembly operation costs fuel, and this is about a tenth of the operations of a walk
/// byte by byte over words of ordinary text.
#[inline]
fn next_special(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() {
        let special = special_bytes(word_at(bytes, at));
        if special != 0 {
            return at + (special.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    bytes.len()
}

/// Whether `bytes` holds a `\n`, eight bytes at a time (`<[u8]>::contains` calls `memchr`, whose
/// set-up costs more than these short texts).
fn has_line_break(bytes: &[u8]) -> bool {
    (0..bytes.len()).step_by(8).any(|at| zero_bytes(word_at(bytes, at) ^ (b'\n' as u64 * ONES)) != 0)
}

/// The eight bytes from `at`, little-endian; past the end of `bytes`, padded with `a` (a byte
/// that is never special, so the padding is never found).
#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(chunk) => u64::from_le_bytes(chunk.try_into().expect("8 bytes")),
        None => {
            let rest = &bytes[at..];
            let mut padded = [b'a'; 8];
            padded[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(padded)
        }
    }
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
        0x80.. => !(is_unicode_whitespace_lead(byte) && is_unicode_whitespace_at(text, index)),
        _ => true,
    }
}

/// Whether `byte` can start a non-ASCII whitespace character in UTF-8: U+0085 and U+00A0
/// start with 0xC2, U+1680 with 0xE1, U+2000 to U+205F with 0xE2, U+3000 with 0xE3. Letters
/// such as `ó` or `ł` never do, so they are not decoded.
#[inline]
fn is_unicode_whitespace_lead(byte: u8) -> bool {
    matches!(byte, 0xc2 | 0xe1 | 0xe2 | 0xe3)
}

/// Whether a non-ASCII whitespace character (no-break space, em space, ...) starts at `index`.
fn is_unicode_whitespace_at(text: &str, index: usize) -> bool {
    text.is_char_boundary(index) && text[index..].chars().next().is_some_and(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::{is_unicode_whitespace_lead, normalize};

    #[test]
    fn a_line_break_is_found_at_every_position() {
        for len in 0..20 {
            let mut text = vec![b'a'; len];
            assert!(!super::has_line_break(&text));
            for at in 0..len {
                text[at] = b'\n';
                assert!(super::has_line_break(&text), "{len} {at}");
                text[at] = 0x8a;
                assert!(!super::has_line_break(&text), "{len} {at}: 0x8a is not a line break");
                text[at] = b'a';
            }
        }
    }

    #[test]
    fn the_vector_masks_agree_with_their_byte_by_byte_definition_for_every_byte_at_every_place() {
        for byte in 0..=255u8 {
            for at in 0..super::BLOCK {
                let mut block = [b'a'; super::BLOCK];
                block[at] = byte;
                block[(at + 7) % super::BLOCK] = byte.wrapping_mul(31);
                assert_eq!(super::masks_of(&block), super::masks_by_bytes(&block), "{byte:#x} at {at}");
            }
        }
    }

    #[test]
    fn every_non_ascii_whitespace_character_starts_with_a_lead_byte_the_scan_decodes() {
        for c in (0x80..=0x10ffff).filter_map(char::from_u32).filter(|c| c.is_whitespace()) {
            let mut utf8 = [0; 4];
            c.encode_utf8(&mut utf8);
            assert!(is_unicode_whitespace_lead(utf8[0]), "{c:?}");
        }
    }

    /// What normalizing means, written with the standard library (the slow, obvious way).
    fn expected(text: &str, multiline: bool) -> String {
        let collapse = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
        if multiline {
            text.lines().map(collapse).collect::<Vec<_>>().join("\n").trim_matches('\n').to_owned()
        } else {
            collapse(text)
        }
    }

    /// Every string of up to six characters over the ones that matter (a letter, a non-ASCII
    /// letter, space, tab, line feed, carriage return, a no-break space, a line separator, a
    /// control byte that is not whitespace), as one line. (As many lines, a line that starts
    /// with a space after an otherwise normal text is left as it is: `is_normal` accepts it, as
    /// it did before the one-pass rewrite.)
    #[test]
    fn the_one_pass_rewrite_agrees_with_the_obvious_way_on_every_short_string() {
        let alphabet = ['a', '\u{144}', ' ', '\t', '\n', '\r', '\u{a0}', '\u{2028}', '\u{1}'];
        crate::tests::every_string(&alphabet, 6, |text| {
            let got = normalize(text, || false).unwrap_or_else(|| text.to_owned());
            assert_eq!(got, expected(text, false), "{text:?}");
        });
    }

    /// Longer strings than the exhaustive test reaches (up to 40 characters: several eight-byte
    /// words and tails of every length), drawn by a fixed seed from the same characters, mostly
    /// letters so that words span the words the scan loads.
    #[test]
    fn the_one_pass_rewrite_agrees_with_the_obvious_way_on_generated_long_strings() {
        let alphabet = [' ', '\t', '\n', '\r', '\u{a0}', '\u{2028}', '\u{1}', '\u{144}', '\u{3000}'];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as usize
        };
        let mut text = String::new();
        for _ in 0..200_000 {
            text.clear();
            for _ in 0..next() % 41 {
                let pick = next();
                text.push(if pick % 3 == 0 { alphabet[(pick >> 8) % alphabet.len()] } else { 'a' });
            }
            let got = normalize(&text, || false).unwrap_or_else(|| text.clone());
            assert_eq!(got, expected(&text, false), "{text:?}");
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
            "0123456789abcdef",
            "0123456789abcde ",
            "0123456 89abcdef",
            "0123456  9abcdef0",
            "long words with single spaces between them all",
            "Zieli\u{144}ski\u{2014}Wi\u{15b}niewska \u{20ac}5 \u{3042}",
            "x\u{2029}y\u{85}z\u{1680}w\u{202f}v\u{205f}u\u{200a}t",
            "ctl\u{1}\u{1f}bytes stay",
            "Firma  123 Sp. z o.o.",
            "Met at the expo.  \nWants a demo in Q3.",
        ];
        for text in texts {
            for multiline in [false, true] {
                let got = normalize(text, || multiline).unwrap_or_else(|| text.to_owned());
                assert_eq!(got, expected(text, multiline), "{text:?} multiline {multiline}");
            }
        }
    }
}

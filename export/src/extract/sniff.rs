//! What a file is before it is read: its text encoding (byte order mark, declared, or detected
//! from a sample) and its delimiter (sniffed from the header line), and a reader that decodes a
//! legacy encoding to UTF-8 as it streams.

use std::io::{self, Read};

use encoding_rs::{Decoder, Encoding, ISO_8859_5, UTF_8, WINDOWS_1250, WINDOWS_1251};

/// How much of a file is looked at to detect its encoding and delimiter.
pub const SAMPLE_BYTES: usize = 256 * 1024;

/// How the encoding was decided, for the audit to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodingSource {
    /// The file starts with a byte order mark.
    ByteOrderMark,
    /// Given by the user (`--encoding`).
    Declared,
    /// The sample is valid UTF-8 and not plain ASCII.
    ValidUtf8,
    /// The sample is plain ASCII: read as UTF-8; a later byte that is not UTF-8 is reported.
    AsciiSample,
    /// Not UTF-8: the legacy encoding whose letters fit the sample best.
    Detected,
}

impl EncodingSource {
    /// How the audit says it.
    pub fn describe(self) -> &'static str {
        match self {
            EncodingSource::ByteOrderMark => "byte order mark",
            EncodingSource::Declared => "declared (--encoding)",
            EncodingSource::ValidUtf8 => "valid UTF-8",
            EncodingSource::AsciiSample => "ASCII sample, read as UTF-8",
            EncodingSource::Detected => "detected from letters",
        }
    }
}

/// The encodings User.com's import documentation names, which exports of Polish and Cyrillic
/// accounts come in.
pub const LEGACY_CANDIDATES: [&Encoding; 3] = [WINDOWS_1250, WINDOWS_1251, ISO_8859_5];

/// Decides a file's encoding from its first bytes. Returns the encoding, how it was decided,
/// and the length of a byte order mark to skip.
pub fn detect_encoding(sample: &[u8]) -> (&'static Encoding, EncodingSource, usize) {
    if let Some((encoding, bom_length)) = Encoding::for_bom(sample) {
        return (encoding, EncodingSource::ByteOrderMark, bom_length);
    }
    if sample.is_ascii() {
        return (UTF_8, EncodingSource::AsciiSample, 0);
    }
    match std::str::from_utf8(sample) {
        Ok(_) => return (UTF_8, EncodingSource::ValidUtf8, 0),
        // A sample cut in the middle of a character is still UTF-8.
        Err(error) if error.error_len().is_none() => return (UTF_8, EncodingSource::ValidUtf8, 0),
        Err(_) => {}
    }
    // The first candidate with the best score: on a tie, Windows-1250 (Polish accounts first).
    let scores = LEGACY_CANDIDATES.map(|encoding| letter_score(&encoding.decode_without_bom_handling(sample).0));
    let best = scores.iter().max().expect("there are candidates");
    let index = scores.iter().position(|score| score == best).expect("the maximum is among the scores");
    (LEGACY_CANDIDATES[index], EncodingSource::Detected, 0)
}

/// How much a decoding looks like words: letters count for, symbols and control characters
/// against. Text decoded with the wrong single-byte table shows capitals in mid-word, Cyrillic
/// letters glued to Latin ones (Polish read as Windows-1251), or odd symbols (№, ¤, ˇ).
fn letter_score(text: &str) -> i64 {
    let mut score = 0i64;
    let mut previous = ' ';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied().unwrap_or(' ');
        if !c.is_ascii() {
            if c.is_alphabetic() {
                score += 1;
                if c.is_uppercase() && previous.is_lowercase() {
                    score -= 2;
                }
                let cyrillic = ('\u{0400}'..='\u{04FF}').contains(&c);
                if cyrillic && (previous.is_ascii_alphabetic() || next.is_ascii_alphabetic()) {
                    score -= 2;
                }
            } else if !"„”“‘’–—…«»°€§©®·\u{a0}".contains(c) {
                score -= 3;
            }
        }
        previous = c;
    }
    score
}

/// Looks an encoding up by its WHATWG label (`windows-1250`, `cp1250`, `iso-8859-5`, `utf-8`...).
pub fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes())
}

/// The delimiter of a CSV file: whichever of `,` `;` and tab occurs most in the header line
/// outside quotes (a header has at least one of them unless it has one column); `,` when none.
pub fn sniff_delimiter(text: &str) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for byte in text.bytes() {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(entry) = counts.iter_mut().find(|(delimiter, _)| *delimiter == byte) {
                    entry.1 += 1;
                }
            }
            _ => {}
        }
    }
    // On a tie the earlier one wins: comma, then semicolon, then tab.
    counts.iter().fold((b',', 0), |best, &(delimiter, count)| if count > best.1 { (delimiter, count) } else { best }).0
}

/// Decodes a stream in a legacy encoding (or UTF-16) to UTF-8 as it is read, a buffer at a time.
/// Bytes the encoding does not define become U+FFFD; `replacements` says whether that happened.
pub struct DecodingReader<R> {
    inner: R,
    decoder: Decoder,
    input: Box<[u8]>,
    input_start: usize,
    input_end: usize,
    input_done: bool,
    output: Box<[u8]>,
    output_start: usize,
    output_end: usize,
    finished: bool,
    pub replacements: bool,
}

impl<R: Read> DecodingReader<R> {
    /// `encoding`'s byte order mark, if the stream starts with one, is removed.
    pub fn new(inner: R, encoding: &'static Encoding) -> Self {
        DecodingReader {
            inner,
            decoder: encoding.new_decoder_with_bom_removal(),
            input: vec![0; 64 * 1024].into_boxed_slice(),
            input_start: 0,
            input_end: 0,
            input_done: false,
            output: vec![0; 3 * 64 * 1024 + 16].into_boxed_slice(),
            output_start: 0,
            output_end: 0,
            finished: false,
            replacements: false,
        }
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.output_start < self.output_end {
                let n = buf.len().min(self.output_end - self.output_start);
                buf[..n].copy_from_slice(&self.output[self.output_start..self.output_start + n]);
                self.output_start += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if self.input_start == self.input_end && !self.input_done {
                let n = self.inner.read(&mut self.input)?;
                self.input_start = 0;
                self.input_end = n;
                self.input_done = n == 0;
            }
            let (result, read, written, replaced) = self.decoder.decode_to_utf8(
                &self.input[self.input_start..self.input_end],
                &mut self.output,
                self.input_done,
            );
            self.replacements |= replaced;
            self.input_start += read;
            self.output_start = 0;
            self.output_end = written;
            if self.input_done && result == encoding_rs::CoderResult::InputEmpty {
                self.finished = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::UTF_16LE;

    fn encode(encoding: &'static Encoding, text: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding.encode(text);
        assert!(!unmappable);
        bytes.into_owned()
    }

    const POLISH: &str = "id;name;city\n1;Łódzka Spółdzielnia Mleczarska „Żubr”;Łódź\n2;Zakład Ślusarski Wójcik;Częstochowa\n3;Piekarnia Źródło;Białystok\n";
    const RUSSIAN: &str =
        "id,name,city\n1,Общество с ограниченной ответственностью Ромашка,Москва\n2,Иван Петров,Санкт-Петербург\n";

    #[test]
    fn byte_order_marks_decide_first() {
        assert_eq!(detect_encoding(b"\xEF\xBB\xBFid,name\n"), (UTF_8, EncodingSource::ByteOrderMark, 3));
        assert_eq!(detect_encoding(b"\xFF\xFEi\0d\0"), (UTF_16LE, EncodingSource::ByteOrderMark, 2));
    }

    #[test]
    fn utf8_and_ascii_samples_are_utf8() {
        assert_eq!(detect_encoding(POLISH.as_bytes()).1, EncodingSource::ValidUtf8);
        assert_eq!(detect_encoding(b"id,name\n1,Ada\n").1, EncodingSource::AsciiSample);
        // A sample that ends in the middle of "ł" is still UTF-8.
        let cut = &"Łódź ł".as_bytes()[..7];
        assert_eq!(detect_encoding(cut).0, UTF_8);
    }

    #[test]
    fn polish_and_cyrillic_legacy_encodings_are_told_apart() {
        assert_eq!(detect_encoding(&encode(WINDOWS_1250, POLISH)), (WINDOWS_1250, EncodingSource::Detected, 0));
        assert_eq!(detect_encoding(&encode(WINDOWS_1251, RUSSIAN)).0, WINDOWS_1251);
        assert_eq!(detect_encoding(&encode(ISO_8859_5, RUSSIAN)).0, ISO_8859_5);
        // A single Polish letter among ASCII is enough.
        assert_eq!(detect_encoding(&encode(WINDOWS_1250, "id,name\n1,Paweł Nowak\n")).0, WINDOWS_1250);
    }

    #[test]
    fn labels_name_encodings() {
        assert_eq!(encoding_for_label("cp1250"), Some(WINDOWS_1250));
        assert_eq!(encoding_for_label(" Windows-1251 "), Some(WINDOWS_1251));
        assert_eq!(encoding_for_label("iso-8859-5"), Some(ISO_8859_5));
        assert_eq!(encoding_for_label("klingon"), None);
    }

    #[test]
    fn delimiter_is_sniffed_from_the_header_outside_quotes() {
        assert_eq!(sniff_delimiter("id,name,email\n1;2;3;4;5\n"), b',');
        assert_eq!(sniff_delimiter("ID;Name;\"a,b,c\"\r\n"), b';');
        assert_eq!(sniff_delimiter("id\tname\tnote\n"), b'\t');
        assert_eq!(sniff_delimiter("id\n1\n"), b',');
    }

    #[test]
    fn decoding_reader_streams_legacy_text_as_utf8_across_buffer_boundaries() {
        // Larger than one input buffer, so characters straddle reads.
        let text = POLISH.repeat(2000);
        let bytes = encode(WINDOWS_1250, &text);
        let mut reader = DecodingReader::new(&bytes[..], WINDOWS_1250);
        let mut decoded = String::new();
        // Small reads, as a parser may do.
        let mut chunk = [0u8; 7];
        let mut raw = Vec::new();
        loop {
            let n = reader.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
        }
        decoded.push_str(std::str::from_utf8(&raw).unwrap());
        assert_eq!(decoded, text);
        assert!(!reader.replacements);

        let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("Łódź".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let mut decoded = String::new();
        DecodingReader::new(&utf16[..], UTF_16LE).read_to_string(&mut decoded).unwrap();
        assert_eq!(decoded, "Łódź");
    }
}

//! Phone numbers to E.164 (`+48501234567`), with a default country for national numbers.

/// A country a national number may be written in: calling code, trunk prefix, and the length
/// of its national significant numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Country {
    pub code: &'static str,
    calling_code: &'static str,
    trunk_prefix: &'static str,
    national_digits: (usize, usize),
}

const COUNTRIES: &[Country] = &[
    Country { code: "PL", calling_code: "48", trunk_prefix: "", national_digits: (9, 9) },
    Country { code: "DE", calling_code: "49", trunk_prefix: "0", national_digits: (6, 13) },
    Country { code: "GB", calling_code: "44", trunk_prefix: "0", national_digits: (9, 10) },
    Country { code: "IE", calling_code: "353", trunk_prefix: "0", national_digits: (7, 9) },
    Country { code: "US", calling_code: "1", trunk_prefix: "1", national_digits: (10, 10) },
    Country { code: "CA", calling_code: "1", trunk_prefix: "1", national_digits: (10, 10) },
    Country { code: "FR", calling_code: "33", trunk_prefix: "0", national_digits: (9, 9) },
    Country { code: "ES", calling_code: "34", trunk_prefix: "", national_digits: (9, 9) },
    Country { code: "IT", calling_code: "39", trunk_prefix: "", national_digits: (6, 11) },
    Country { code: "NL", calling_code: "31", trunk_prefix: "0", national_digits: (9, 9) },
    Country { code: "BE", calling_code: "32", trunk_prefix: "0", national_digits: (8, 9) },
    Country { code: "AT", calling_code: "43", trunk_prefix: "0", national_digits: (4, 13) },
    Country { code: "CH", calling_code: "41", trunk_prefix: "0", national_digits: (9, 9) },
    Country { code: "CZ", calling_code: "420", trunk_prefix: "", national_digits: (9, 9) },
    Country { code: "SK", calling_code: "421", trunk_prefix: "0", national_digits: (9, 9) },
    Country { code: "UA", calling_code: "380", trunk_prefix: "0", national_digits: (9, 9) },
    Country { code: "LT", calling_code: "370", trunk_prefix: "8", national_digits: (8, 8) },
    Country { code: "SE", calling_code: "46", trunk_prefix: "0", national_digits: (7, 9) },
    Country { code: "DK", calling_code: "45", trunk_prefix: "", national_digits: (8, 8) },
    Country { code: "NO", calling_code: "47", trunk_prefix: "", national_digits: (8, 8) },
    Country { code: "PT", calling_code: "351", trunk_prefix: "", national_digits: (9, 9) },
];

impl Country {
    /// The country for an ISO 3166 alpha-2 code, any case.
    pub fn from_code(code: &str) -> Option<Country> {
        COUNTRIES.iter().copied().find(|country| country.code.eq_ignore_ascii_case(code.trim()))
    }
}

/// The number in E.164, or `None` when it cannot be one: letters, an extension, too few or
/// too many digits.
pub fn to_e164(raw: &str, default_country: Country) -> Option<String> {
    let raw = raw.trim();
    let (international, rest) = if let Some(rest) = raw.strip_prefix('+') {
        (true, rest)
    } else if let Some(rest) = raw.strip_prefix("00") {
        (true, rest)
    } else {
        (false, raw)
    };
    // Byte by byte: any byte not listed (a letter, a non-ASCII character) refuses the number.
    let mut digits = String::with_capacity(rest.len());
    for byte in rest.bytes() {
        match byte {
            b'0'..=b'9' => digits.push(char::from(byte)),
            b' ' | b'-' | b'.' | b'(' | b')' | b'/' => {}
            _ => return None,
        }
    }
    if international {
        let valid = (8..=15).contains(&digits.len()) && !digits.starts_with('0');
        return valid.then(|| plus(&[&digits]));
    }
    let national = match default_country.trunk_prefix {
        "" => digits.as_str(),
        prefix => digits
            .strip_prefix(prefix)
            .filter(|stripped| stripped.len() >= default_country.national_digits.0)
            .unwrap_or(&digits),
    };
    let (min, max) = default_country.national_digits;
    ((min..=max).contains(&national.len()) && !national.starts_with('0'))
        .then(|| plus(&[default_country.calling_code, national]))
}

/// `+` and the parts, without the formatting machinery (about a tenth of the instructions).
fn plus(parts: &[&str]) -> String {
    let mut number = String::with_capacity(1 + parts.iter().map(|part| part.len()).sum::<usize>());
    number.push('+');
    for part in parts {
        number.push_str(part);
    }
    number
}

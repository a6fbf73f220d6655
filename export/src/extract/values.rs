//! Tolerant parsing of single cell values, one function per rule, each saying what it expected
//! when it refuses. Nothing here guesses: a value either reads unambiguously or is refused (and
//! the caller keeps it raw).

use crm_migrate_core::record::{Date, DateTime};

/// `str::trim`, with a fast path for the usual value that has no space at either end.
#[inline]
pub fn trim(text: &str) -> &str {
    let bytes = text.as_bytes();
    let plain = |b: Option<&u8>| b.is_some_and(|b| *b > b' ' && *b < 0x80);
    if plain(bytes.first()) && plain(bytes.last()) { text } else { text.trim() }
}

/// `t/f`, `true/false`, `1/0`, `yes/no`, any letter case, surrounding spaces ignored.
pub fn parse_boolean(text: &str) -> Option<bool> {
    let text = trim(text);
    // `tak`/`nie`: a Polish-language panel's export.
    const TRUE: [&str; 5] = ["t", "true", "1", "yes", "tak"];
    const FALSE: [&str; 5] = ["f", "false", "0", "no", "nie"];
    if TRUE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(true)
    } else if FALSE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(false)
    } else {
        None
    }
}

/// Only the words (`t/f/true/false/yes/no`): what type inference takes as a boolean column,
/// because a column of `1` and `0` is as likely a count.
pub fn is_boolean_word(text: &str) -> bool {
    !matches!(trim(text), "1" | "0") && parse_boolean(text).is_some()
}

/// A decimal number: `1250.00`, `-3`, `1e3`, or written the Polish way (see
/// [`parse_grouped_number`]): `12,5`, `1 250`, `1 250,50`. No `inf`/`NaN`, no suffixes (`12.5k`).
pub fn parse_number(text: &str) -> Option<f64> {
    let text = trim(text);
    parse_plain_number(text).or_else(|| parse_grouped_number(text))
}

/// `1250.00`, `-3`, `1e3`: what Rust (and every export) writes, no separators.
fn parse_plain_number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(at) => (&digits[..at], Some(&digits[at + 1..])),
        None => (digits, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) || !exponent_ok {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// What separates thousands in Polish text: a space, a non-breaking space, a narrow
/// non-breaking space, a thin space (spreadsheets and User.com's CSV write each of them).
const THOUSANDS: [char; 4] = [' ', '\u{a0}', '\u{202f}', '\u{2009}'];

/// A number written the Polish way, read only where it cannot mean anything else:
/// - a decimal comma, `12,5`, `-0,75`, `1250,500`;
/// - thousands in groups of three after a first group of one to three digits (not starting with
///   0), separated by one of [`THOUSANDS`], `1 250`, `12 500 000`, with a decimal comma or point,
///   `1 250,50`, `1 250.50`.
///
/// Refused: `1,250` and `12,500` (one to three digits, a comma, three digits: a thousands
/// comma in English, a decimal one in Polish; `0,250` is not ambiguous and reads 0.25); a
/// leading `+` with groups (`+48 600 123 456` is a phone number); groups of other sizes
/// (`12 34`, `022 123 45 67`); a comma and a point together (`1,250.50`, `1.250,50`).
pub fn parse_grouped_number(text: &str) -> Option<f64> {
    let text = trim(text);
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let (whole, fraction, point) = match (unsigned.split_once(','), unsigned.split_once('.')) {
        (Some(_), Some(_)) => return None,
        (Some((whole, fraction)), None) => (whole, Some(fraction), ','),
        (None, Some((whole, fraction))) => (whole, Some(fraction), '.'),
        (None, None) => (unsigned, None, ','),
    };
    if fraction.is_some_and(|fraction| !all_digits(fraction)) {
        return None;
    }
    let groups: Vec<&str> = whole.split(THOUSANDS).collect();
    let digits: String = if let [single] = groups.as_slice() {
        // No thousands separator: only a decimal comma makes it a Polish number.
        let fraction = fraction.filter(|_| point == ',')?;
        let ambiguous = fraction.len() == 3 && (1..=3).contains(&single.len()) && !single.starts_with('0');
        if !all_digits(single) || ambiguous {
            return None;
        }
        (*single).to_owned()
    } else {
        let (first, rest) = groups.split_first()?;
        let first_ok = all_digits(first) && first.len() <= 3 && (first.len() == 1 || !first.starts_with('0'));
        if !first_ok || !rest.iter().all(|group| group.len() == 3 && all_digits(group)) {
            return None;
        }
        groups.concat()
    };
    let number = format!("{}{digits}.{}", if negative { "-" } else { "" }, fraction.unwrap_or("0"));
    number.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A whole number that a 64-bit float holds exactly (|n| <= 2^53): `42`, `-7`, `+3`, `1 250`.
pub fn parse_integer(text: &str) -> Option<i64> {
    let text = trim(text);
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok().filter(|n| n.unsigned_abs() <= 1 << 53);
    }
    // Thousands groups without a fraction: `1 250`.
    if text.contains([',', '.']) {
        return None;
    }
    parse_grouped_number(text).filter(|n| n.abs() <= (1u64 << 53) as f64).map(|n| n as i64)
}

/// `YYYY-MM-DD`, a real calendar date.
pub fn parse_date(text: &str) -> Option<Date> {
    let text = trim(text);
    let b = text.as_bytes();
    let (year, month, day) = match b {
        [_, _, _, _, b'-', _, _, b'-', _, _] => (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?),
        // `DD.MM.YYYY`, as a Polish (or any European) panel writes dates: dots always mean day
        // first (the ambiguous `MM/DD` vs `DD/MM` with slashes is not read).
        [_, _, b'.', _, _, b'.', _, _, _, _] => (digits(&b[6..10])?, digits(&b[3..5])?, digits(&b[0..2])?),
        _ => return None,
    };
    Date::new(i32::try_from(year).ok()?, u8::try_from(month).ok()?, u8::try_from(day).ok()?)
}

/// The value of a run of ASCII digits.
#[inline]
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, b| b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0')))
}

/// A datetime as read, and whether the text named its zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Moment {
    /// Date and time; `zoned` is false when the text had no zone and UTC was assumed.
    DateTime { value: DateTime, zoned: bool },
    /// Only a date was written: kept as a date, no time invented.
    Date(Date),
}

/// What a datetime column takes: ISO 8601 (`2024-03-01T09:30:00Z`, `...+01:00`, fractions),
/// PostgreSQL's `2024-03-01 09:30:00.123456+01` (zone `+HH`, `+HHMM` or `+HH:MM`), no zone
/// (read as UTC: User.com stores UTC), unix seconds (9 to 11 digits) or milliseconds (12 to 13),
/// or a date alone.
pub fn parse_moment(text: &str) -> Option<Moment> {
    let text = trim(text);
    usual_moment(text).or_else(|| any_moment(text))
}

/// The forms User.com itself writes, every part at its place: `YYYY-MM-DDTHH:MM:SSZ`,
/// `YYYY-MM-DD HH:MM:SS+HH` and `...+HH:MM` (or `-`). `None` for anything else, which
/// [`any_moment`] then reads: the same value, checked the same way, without the searches for
/// where each part ends (a datetime is in most rows of most files).
#[inline]
fn usual_moment(text: &str) -> Option<Moment> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let offset_minutes = match b[19] {
        b'Z' if b.len() == 20 => 0,
        // The sign is one byte: `text[19..]` starts on a character.
        b'+' | b'-' => parse_offset(&text[19..])?,
        _ => return None,
    };
    let date = Date::new(
        i32::try_from(digits(&b[0..4])?).ok()?,
        u8::try_from(digits(&b[5..7])?).ok()?,
        u8::try_from(digits(&b[8..10])?).ok()?,
    )?;
    let (hour, minute, second) =
        (i64::from(digits(&b[11..13])?), i64::from(digits(&b[14..16])?), i64::from(digits(&b[17..19])?));
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let local_seconds = days_since_epoch(date) * 86_400 + hour * 3600 + minute * 60 + second;
    let unix_millis = (local_seconds - i64::from(offset_minutes) * 60) * 1000;
    Some(Moment::DateTime { value: DateTime { unix_millis, offset_minutes }, zoned: true })
}

/// [`parse_moment`] for any form it takes (`text` trimmed).
fn any_moment(text: &str) -> Option<Moment> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let number: i64 = text.parse().ok()?;
        let unix_millis = match text.len() {
            9..=11 => number * 1000,
            12 | 13 => number,
            _ => return None,
        };
        return Some(Moment::DateTime { value: DateTime { unix_millis, offset_minutes: 0 }, zoned: true });
    }
    if text.len() == 10 {
        return parse_date(text).map(Moment::Date);
    }
    if text.len() < 16 {
        return None;
    }
    // `get`: a text of other characters (full-width digits) may not split at byte 10.
    let date = parse_date(text.get(..10)?)?;
    if !matches!(text.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let rest = &text[11..];
    // The time runs to the zone: Z, or a sign after the time's own digits.
    let zone_at = rest.bytes().position(|b| matches!(b, b'Z' | b'z' | b'+' | b'-')).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let time = time.trim_end();
    let (hms, fraction) = match time.bytes().position(|b| b == b'.' || b == b',') {
        Some(at) => (&time[..at], &time[at + 1..]),
        None => (time, ""),
    };
    let (hour, minute, second) = match hms.as_bytes() {
        [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?, 0),
        [h1, h2, b':', m1, m2, b':', s1, s2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?, digits(&[*s1, *s2])?),
        _ => return None,
    };
    let (hour, minute, second) = (i64::from(hour), i64::from(minute), i64::from(second));
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || (hms.len() != 8 && !fraction.is_empty()) {
        return None;
    }
    let millis =
        fraction.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    let (offset_minutes, zoned) = match zone {
        "" => (0, false),
        "Z" | "z" => (0, true),
        _ => (parse_offset(zone)?, true),
    };
    let local_seconds = days_since_epoch(date) * 86_400 + hour * 3600 + minute * 60 + second;
    let unix_millis = (local_seconds - i64::from(offset_minutes) * 60) * 1000 + millis;
    Some(Moment::DateTime { value: DateTime { unix_millis, offset_minutes }, zoned })
}

/// Days from 1970-01-01 to a date on the calendar (Howard Hinnant's `days_from_civil`): what
/// [`Date::days_since_epoch`] says, in a few integer operations instead of two trips through
/// the calendar library, once per datetime cell.
fn days_since_epoch(date: Date) -> i64 {
    let (month, day) = (i64::from(date.month), i64::from(date.day));
    // Years start in March, so that a leap day is the last day of its year.
    let year = i64::from(date.year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `+HH`, `+HHMM`, `+HH:MM` (or `-`), at most 18 hours.
fn parse_offset(zone: &str) -> Option<i16> {
    let sign: i16 = if zone.starts_with('-') { -1 } else { 1 };
    let digit = |b: u8| b.is_ascii_digit().then(|| i16::from(b - b'0'));
    let (hours, minutes) = match zone.as_bytes()[1..] {
        [h1, h2] => (digit(h1)? * 10 + digit(h2)?, 0),
        [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => (digit(h1)? * 10 + digit(h2)?, digit(m1)? * 10 + digit(m2)?),
        _ => return None,
    };
    (hours <= 18 && minutes < 60).then_some(sign * (hours * 60 + minutes))
}

/// A list of choices. `{}` and `{a,b}` are PostgreSQL array text (elements with spaces, commas
/// or quotes are double-quoted, `\` escapes, an unquoted `NULL` is no element); `[a, b]` and
/// `["a", "b"]` are JSON-like; `a,b` is a plain list. Empty elements are dropped. `None` for an
/// unterminated quote or bracket.
pub fn parse_choices(text: &str) -> Option<Vec<String>> {
    let mut items = Vec::new();
    parse_choices_into(text, &mut items).then_some(items)
}

/// [`parse_choices`] into `items`, reusing its strings (the reader's way: no allocation per
/// record once the buffers have grown). Returns false, with `items` in no particular state,
/// when the text is not a list.
pub fn parse_choices_into(text: &str, items: &mut Vec<String>) -> bool {
    let text = trim(text);
    let (inner, postgres) = if let Some(inner) = text.strip_prefix('{') {
        match inner.strip_suffix('}') {
            Some(inner) => (inner, true),
            None => return false,
        }
    } else if let Some(inner) = text.strip_prefix('[') {
        match inner.strip_suffix(']') {
            Some(inner) => (inner, false),
            None => return false,
        }
    } else if text.ends_with(['}', ']']) {
        return false;
    } else {
        (text, false)
    };
    split_list(inner, postgres, items)
}

fn split_list(inner: &str, postgres: bool, items: &mut Vec<String>) -> bool {
    let mut used = 0;
    let bytes = inner.as_bytes();
    let mut at = 0;
    let mut push = |items: &mut Vec<String>, text: &str| {
        if used < items.len() {
            items[used].clear();
            items[used].push_str(text);
        } else {
            items.push(text.to_owned());
        }
        used += 1;
    };
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < bytes.len() && bytes[at] == b'"' {
            // Quoted: up to the closing quote, `\` escaping the next character.
            let quoted = &inner[at + 1..];
            let first = memchr::memchr2(b'"', b'\\', quoted.as_bytes());
            let escaped_item;
            let item: &str = match first {
                // The usual element, no escapes: borrowed as it is.
                Some(close) if quoted.as_bytes()[close] == b'"' => {
                    at += 1 + close + 1;
                    &quoted[..close]
                }
                _ => {
                    let mut owned = String::new();
                    let mut chars = quoted.char_indices();
                    let mut closed = None;
                    while let Some((offset, c)) = chars.next() {
                        match c {
                            '\\' => match chars.next() {
                                Some((_, escaped)) => owned.push(escaped),
                                None => return false,
                            },
                            '"' => {
                                closed = Some(at + 1 + offset + 1);
                                break;
                            }
                            c => owned.push(c),
                        }
                    }
                    let Some(end) = closed else { return false };
                    at = end;
                    escaped_item = owned;
                    &escaped_item
                }
            };
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            if at < bytes.len() && bytes[at] != b',' {
                return false;
            }
            if !item.is_empty() {
                push(items, item);
            }
        } else {
            let end = bytes[at..].iter().position(|b| *b == b',').map_or(bytes.len(), |p| at + p);
            let item = trim(&inner[at..end]);
            if item.contains('"') || (postgres && item.contains(['{', '}'])) {
                return false;
            }
            if !item.is_empty() && (!postgres || item != "NULL") {
                push(items, item);
            }
            at = end;
        }
        if at >= bytes.len() {
            items.truncate(used);
            return true;
        }
        at += 1; // the comma
    }
}

/// Looks like an address mail can go to: one `@`, a local part, a domain with a dot and no empty
/// label, no spaces or commas. Deliberately loose (RFC 5322 allows more); it catches what breaks
/// in exports: `jan@`, `jan at firma.pl`, `jan@@firma.pl`, `jan@firma`, trailing commas.
pub fn is_email(text: &str) -> bool {
    let text = trim(text);
    let Some(at) = text.bytes().position(|b| b == b'@') else { return false };
    let (local, domain) = (&text.as_bytes()[..at], &text.as_bytes()[at + 1..]);
    let bad = |b: &u8| {
        b.is_ascii_whitespace() || matches!(b, b',' | b';' | b'<' | b'>' | b'(' | b')' | b'[' | b']' | b'"' | b'@')
    };
    !local.is_empty()
        && !local.iter().any(bad)
        && !domain.iter().any(bad)
        && domain.contains(&b'.')
        && domain
            .split(|b| *b == b'.')
            .all(|label| !label.is_empty() && label[0] != b'-' && label[label.len() - 1] != b'-')
}

/// Plausible phone number: digits with spaces, `+`, `-`, `.`, `/`, parentheses; 6 to 15 digits.
pub fn is_phone(text: &str) -> bool {
    let text = trim(text);
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    text.bytes().all(|b| b.is_ascii_digit() || b" +-./()".contains(&b)) && (6..=15).contains(&digits)
}

/// A value written as a phone number is, not as a number is: a `+` prefix (`+48 600 123 456`), a
/// leading 0 before more digits (`0600123456`), or digit groups as long as a phone number
/// (`600 123 456`, `600-123-456`: 9 or more digits with spaces, dashes or parentheses). Such a column stays text,
/// so its formatting and leading zeros reach Pipedrive as written.
pub fn is_phone_like(text: &str) -> bool {
    let text = trim(text);
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let grouped = digits >= 9 && text.trim_start_matches(['+', '-']).contains([' ', '-', '(', ')', '/']);
    let leading_zero = text.starts_with('0') && text.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
    is_phone(text) && (text.starts_with('+') || leading_zero || grouped)
}

/// A code User.com writes as a number, with the word it stands for. Words are accepted too.
fn coded(text: &str, codes: &[(&str, &'static str)]) -> Option<&'static str> {
    let text = trim(text);
    codes.iter().find(|(code, word)| *code == text || word.eq_ignore_ascii_case(text)).map(|(_, word)| *word)
}

/// Deal status: 0 abandoned, 1 in progress, 2 won, 3 lost, 4 archived.
pub fn parse_deal_status(text: &str) -> Option<&'static str> {
    coded(text, &[("0", "abandoned"), ("1", "in_progress"), ("2", "won"), ("3", "lost"), ("4", "archived")])
}

/// Gender: 1 unknown, 2 male, 3 female.
pub fn parse_gender(text: &str) -> Option<&'static str> {
    coded(text, &[("1", "unknown"), ("2", "male"), ("3", "female")])
}

/// Contact status: 1 visitor, 2 user.
pub fn parse_contact_status(text: &str) -> Option<&'static str> {
    coded(text, &[("1", "visitor"), ("2", "user")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_forms_read_as_the_general_rules_read_them() {
        let bases = [
            "2024-03-01T10:20:30Z",
            "2024-03-01 10:20:30+01",
            "2024-03-01T10:20:30-05:30",
            "2024-02-29 23:59:60+18:00",
            "1999-12-31T00:00:00+0130",
        ];
        let bytes = ["0", "9", "1", "3", "-", ":", "+", "Z", "z", "T", " ", ".", "ł", "２", ""];
        let mut checked = 0;
        for base in bases {
            // Every byte replaced by each of the others (or dropped), and the base itself.
            for at in 0..=base.len() {
                for replacement in bytes {
                    let text = format!("{}{replacement}{}", &base[..at], base.get(at + 1..).unwrap_or(""));
                    let general = any_moment(trim(&text));
                    assert_eq!(parse_moment(&text), general, "{text:?}");
                    if let Some(usual) = usual_moment(trim(&text)) {
                        assert_eq!(Some(usual), general, "{text:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 50, "the usual forms took {checked} of them");
    }

    fn datetime(text: &str) -> (String, bool) {
        match parse_moment(text) {
            Some(Moment::DateTime { value, zoned }) => (value.to_string(), zoned),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn booleans_accept_postgres_letters_words_and_digits() {
        for yes in ["t", "T", "true", "TRUE", "1", "yes", " Yes ", "tak", "Tak"] {
            assert_eq!(parse_boolean(yes), Some(true), "{yes}");
        }
        for no in ["f", "false", "False", "0", "no", "NO", "nie"] {
            assert_eq!(parse_boolean(no), Some(false), "{no}");
        }
        for neither in ["", "maybe", "2", "y", "truee"] {
            assert_eq!(parse_boolean(neither), None, "{neither}");
        }
        assert!(is_boolean_word("t") && !is_boolean_word("1"));
    }

    #[test]
    fn plain_decimals_and_whole_numbers() {
        assert_eq!(parse_number("1250.00"), Some(1250.0));
        assert_eq!(parse_number(" -3 "), Some(-3.0));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        for bad in ["", "12,5 tys.", "12.5k", "inf", "NaN", "0x10", "1.2.3", "e5", "+", "TBD"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
        assert_eq!(parse_integer("42"), Some(42));
        assert_eq!(parse_integer("+7"), Some(7));
        assert_eq!(parse_integer("1 250"), Some(1250));
        for bad in ["4.0", "dwa", "", "-", "9007199254740993", "1 250,50", "12,5", "1,250"] {
            assert_eq!(parse_integer(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_written_the_polish_way_read_where_unambiguous() {
        let cases = [
            ("12,5", 12.5),
            ("-0,75", -0.75),
            ("0,250", 0.25),
            ("1250,500", 1250.5),
            ("1 250", 1250.0),
            ("1 250,50", 1250.5),
            ("1\u{a0}250,50", 1250.5),
            ("12\u{202f}500\u{2009}000", 12_500_000.0),
            ("1 250.50", 1250.5),
            ("-1 250", -1250.0),
            (" 1 250,5 ", 1250.5),
        ];
        for (text, number) in cases {
            assert_eq!(parse_number(text), Some(number), "{text:?}");
        }
        // A thousands comma or a decimal one; a phone number; groups of other sizes; both marks.
        for refused in [
            "1,250",
            "12,500",
            "999,000",
            "+48 600 123 456",
            "12 34",
            "022 123 45 67",
            "1  250",
            "1,250.50",
            "1.250,50",
            "1 250,",
            ",5",
            "12.5k",
            "1 250 zł",
        ] {
            assert_eq!(parse_number(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn dates_must_exist_in_the_calendar() {
        assert_eq!(parse_date("2024-02-29").unwrap().to_string(), "2024-02-29");
        for bad in ["2023-02-29", "1990-02-30", "31.02.1990", "2024-13-01", "2024-00-10", "2024-1-1"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn datetimes_in_every_form_user_com_writes() {
        assert_eq!(datetime("2024-03-01T09:30:00Z"), ("2024-03-01T09:30:00Z".into(), true));
        assert_eq!(datetime("2024-03-01T10:30:00+01:00"), ("2024-03-01T10:30:00+01:00".into(), true));
        assert_eq!(datetime("2024-03-01 11:30:00+02"), ("2024-03-01T11:30:00+02:00".into(), true));
        assert_eq!(datetime("2024-03-01 04:30:00-0500"), ("2024-03-01T04:30:00-05:00".into(), true));
        assert_eq!(datetime("2024-03-01 09:30:00.123456+00"), ("2024-03-01T09:30:00Z".into(), true));
        assert_eq!(datetime("2024-03-01T09:30"), ("2024-03-01T09:30:00Z".into(), false));
        assert_eq!(datetime("2024-03-01T09:30:00"), ("2024-03-01T09:30:00Z".into(), false));
        assert_eq!(datetime("1709285400"), ("2024-03-01T09:30:00Z".into(), true));
        assert_eq!(datetime("1709285400000"), ("2024-03-01T09:30:00Z".into(), true));
        let Some(Moment::DateTime { value, .. }) = parse_moment("2024-03-01 09:30:00.250Z") else { panic!() };
        assert_eq!(value.unix_millis, 1_709_285_400_250);
        assert_eq!(parse_moment("2024-03-01"), Some(Moment::Date(Date { year: 2024, month: 3, day: 1 })));
        // A Polish panel's day-first dates, with dots (never the ambiguous slashes).
        assert_eq!(parse_moment("01.03.2024"), Some(Moment::Date(Date { year: 2024, month: 3, day: 1 })));
        assert_eq!(datetime("01.03.2024 09:30:00"), ("2024-03-01T09:30:00Z".into(), false));
        for bad in [
            "yesterday",
            "",
            "2024-03-01T25:00:00Z",
            "2024-02-30 10:00:00",
            "03/01/2024",
            "31.02.2024",
            "2024-03-01T09:30:00+25",
            "12345",
            "2024-03-01X09:30:00",
        ] {
            assert_eq!(parse_moment(bad), None, "{bad}");
        }
    }

    #[test]
    fn choices_in_postgres_json_and_plain_forms() {
        let list = |items: &[&str]| Some(items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(parse_choices("{}"), list(&[]));
        assert_eq!(parse_choices("{a,b}"), list(&["a", "b"]));
        assert_eq!(parse_choices(r#"{"a b","c,d",e}"#), list(&["a b", "c,d", "e"]));
        assert_eq!(parse_choices(r#"{"say \"hi\"","back\\slash"}"#), list(&["say \"hi\"", "back\\slash"]));
        assert_eq!(parse_choices("{a,NULL,\"NULL\"}"), list(&["a", "NULL"]));
        assert_eq!(parse_choices("[a, b]"), list(&["a", "b"]));
        assert_eq!(parse_choices(r#"["kultura i sztuka", "sport"]"#), list(&["kultura i sztuka", "sport"]));
        assert_eq!(parse_choices("[]"), list(&[]));
        assert_eq!(parse_choices("sport, muzyka"), list(&["sport", "muzyka"]));
        assert_eq!(parse_choices("sport"), list(&["sport"]));
        for bad in ["{a,b", "[a,b", r#"{"a,b}"#, "a}", "{a{b}}"] {
            assert_eq!(parse_choices(bad), None, "{bad}");
        }
    }

    #[test]
    fn emails_and_phones_that_break_in_exports_are_caught() {
        for good in ["jan.kowalski@firma.pl", "Jan.Kowalski@FIRMA.PL", "a+tag@sub.example.co.uk"] {
            assert!(is_email(good), "{good}");
        }
        for bad in
            ["jan@", "jan at firma.pl", "jan@@firma.pl", "jan@firma", "jan@firma.pl,", "@firma.pl", "jan@.pl", ""]
        {
            assert!(!is_email(bad), "{bad}");
        }
        for good in ["+48 501 234 567", "0048 501-234-567", "(22) 123-45-67"] {
            assert!(is_phone(good), "{good}");
        }
        for bad in ["12345", "tel. 501234567", "+48 501 234 567 890 123 4"] {
            assert!(!is_phone(bad), "{bad}");
        }
    }

    #[test]
    fn phone_numbers_are_told_from_numbers() {
        for phone in ["600 123 456", "+48 600 123 456", "+48600123456", "0600123456", "(22) 123-45-67", "600-123-456"] {
            assert!(is_phone_like(phone), "{phone}");
        }
        for number in ["600123456", "1 250", "12 500 000", "0.123456", "1234567.89", "-3", "1709285400", "0"] {
            assert!(!is_phone_like(number), "{number}");
        }
    }

    #[test]
    fn user_com_codes_become_words() {
        let statuses: Vec<_> = ["0", "1", "2", "3", "4"].iter().map(|code| parse_deal_status(code).unwrap()).collect();
        assert_eq!(statuses, ["abandoned", "in_progress", "won", "lost", "archived"]);
        assert_eq!(parse_deal_status("Won"), Some("won"));
        assert_eq!(parse_deal_status("9"), None);
        assert_eq!(parse_gender("1"), Some("unknown"));
        assert_eq!(parse_gender("3"), Some("female"));
        assert_eq!(parse_gender("7"), None);
        assert_eq!(parse_contact_status("1"), Some("visitor"));
        assert_eq!(parse_contact_status("2"), Some("user"));
        assert_eq!(parse_contact_status("0"), None);
    }

    #[test]
    fn days_since_epoch_is_the_calendars() {
        let mut checked = 0;
        for year in (1..=9999).filter(|year| *year < 20 || (1890..2110).contains(year) || *year > 9980) {
            for month in 1..=12 {
                for day in 1..=31 {
                    if let Some(date) = Date::new(year, month, day) {
                        assert_eq!(Some(days_since_epoch(date)), date.days_since_epoch(), "{date}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 80_000, "{checked}");
    }
}

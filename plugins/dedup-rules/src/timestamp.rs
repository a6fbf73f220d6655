//! Dates and times as comparable instants: a datetime, a date, or ISO 8601 text.

use crm_migrate_plugin_sdk::Value;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since 1970-01-01T00:00:00Z. A date counts from its midnight UTC, as does text
/// without a UTC offset. `None` for any other value, and for text that is not ISO 8601
/// (`2024-03-01`, `2024-03-01T10:30`, `2024-03-01 10:30:00.250+01:00`, `...Z`).
pub fn unix_millis(value: &Value<'_>) -> Option<i64> {
    match value {
        Value::DateTime(datetime) => Some(datetime.unix_millis),
        Value::Date(date) => {
            Some(days_from_civil(date.year.into(), date.month.into(), date.day.into()) * MILLIS_PER_DAY)
        }
        Value::Text(text) => parse_iso(text.trim()),
        _ => None,
    }
}

fn parse_iso(text: &str) -> Option<i64> {
    let mut cursor = Cursor(text.as_bytes());
    let year = cursor.number(4)?;
    cursor.expect(b'-')?;
    let month = cursor.number(2)?;
    cursor.expect(b'-')?;
    let day = cursor.number(2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let midnight = days_from_civil(year, month, day) * MILLIS_PER_DAY;
    if cursor.0.is_empty() {
        return Some(midnight);
    }
    if !(cursor.eat(b'T') || cursor.eat(b't') || cursor.eat(b' ')) {
        return None;
    }
    let hour = cursor.number(2)?;
    cursor.expect(b':')?;
    let minute = cursor.number(2)?;
    let second = if cursor.eat(b':') { cursor.number(2)? } else { 0 };
    let millis = if cursor.eat(b'.') || cursor.eat(b',') { cursor.fraction_millis()? } else { 0 };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset_minutes = cursor.offset_minutes()?;
    if !cursor.0.is_empty() {
        return None;
    }
    Some(midnight + ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + millis)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// What is left of the text being parsed.
struct Cursor<'t>(&'t [u8]);

impl Cursor<'_> {
    fn eat(&mut self, byte: u8) -> bool {
        let ate = self.0.first() == Some(&byte);
        if ate {
            self.0 = &self.0[1..];
        }
        ate
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Exactly `width` decimal digits.
    fn number(&mut self, width: usize) -> Option<i64> {
        let digits = self.0.get(..width)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[width..];
        Some(decimal(digits))
    }

    /// A decimal fraction of a second (at least one digit), in whole milliseconds.
    fn fraction_millis(&mut self) -> Option<i64> {
        let len = self.0.iter().take_while(|byte| byte.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        let (digits, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(decimal(digits.iter().chain(b"000").take(3)))
    }

    /// `Z`, `+HH:MM`, `+HHMM`, `+HH` (or `-`), or nothing (UTC): minutes east of UTC.
    fn offset_minutes(&mut self) -> Option<i64> {
        if self.0.is_empty() || self.eat(b'Z') || self.eat(b'z') {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = self.number(2)?;
        let minutes = if self.0.is_empty() {
            0
        } else {
            self.eat(b':');
            self.number(2)?
        };
        Some(sign * (hours * 60 + minutes))
    }
}

/// The number ASCII digits spell.
fn decimal<'d>(digits: impl IntoIterator<Item = &'d u8>) -> i64 {
    digits.into_iter().fold(0, |number, digit| number * 10 + i64::from(digit - b'0'))
}

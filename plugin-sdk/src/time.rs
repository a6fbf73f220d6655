//! Calendar dates and instants: validated construction, ISO 8601 reading and writing, and the
//! arithmetic between them, so that no plugin parses dates by hand.

use std::fmt;

use crate::value::{Date, DateTime, Value};

const MILLIS_PER_DAY: i64 = 86_400_000;

/// 1970-01-01: day 0 of [`Date::days_since_epoch`].
const EPOCH_DAY: jiff::civil::Date = jiff::civil::Date::constant(1970, 1, 1);

impl Date {
    /// The date, when it is on the calendar: month 1 to 12, day within the month (leap years
    /// counted, proleptic Gregorian).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let date = Date { year, month, day };
        date.on_calendar().map(|_| date)
    }

    fn on_calendar(self) -> Option<jiff::civil::Date> {
        let (year, month, day) =
            (i16::try_from(self.year).ok()?, i8::try_from(self.month).ok()?, i8::try_from(self.day).ok()?);
        jiff::civil::Date::new(year, month, day).ok()
    }

    /// `2024-03-01` (surrounding spaces ignored); `None` for anything else, including a date
    /// with a time: read that with [`DateTime::parse_iso`].
    pub fn parse_iso(text: &str) -> Option<Date> {
        let mut cursor = Cursor(text.trim().as_bytes());
        let date = cursor.date()?;
        cursor.0.is_empty().then_some(date)
    }

    /// Days since 1970-01-01 (negative before). A date built field by field off the calendar
    /// counts on from its month's first day (30 February is 1 March, day 0 the month's eve), with
    /// the year held to -9999 to 9999 and the month to 1 to 12.
    pub fn days_since_epoch(self) -> i64 {
        let date = self.on_calendar().unwrap_or_else(|| {
            let (year, month) = (self.year.clamp(-9999, 9999) as i16, self.month.clamp(1, 12) as i8);
            let first = jiff::civil::Date::new(year, month, 1).unwrap_or(EPOCH_DAY);
            first.saturating_add(jiff::SignedDuration::from_hours((i64::from(self.day) - 1) * 24))
        });
        date.duration_since(EPOCH_DAY).as_hours() / 24
    }

    /// The date `days` after 1970-01-01, held to the calendar's years -9999 to 9999.
    pub fn from_days_since_epoch(days: i64) -> Date {
        // Eight million days is beyond the calendar both ways, and far from overflowing as hours.
        let hours = days.clamp(-8_000_000, 8_000_000) * 24;
        let date = EPOCH_DAY.saturating_add(jiff::SignedDuration::from_hours(hours));
        Date { year: i32::from(date.year()), month: date.month().unsigned_abs(), day: date.day().unsigned_abs() }
    }
}

impl fmt::Display for Date {
    /// ISO 8601: `2024-03-01`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl DateTime {
    /// The instant `unix_millis` after 1970-01-01T00:00:00Z, written in UTC.
    pub fn from_unix_millis(unix_millis: i64) -> DateTime {
        DateTime { unix_millis, offset_minutes: 0 }
    }

    /// Midnight UTC at the start of `date`.
    pub fn at_midnight_utc(date: Date) -> DateTime {
        DateTime::from_unix_millis(date.days_since_epoch() * MILLIS_PER_DAY)
    }

    /// ISO 8601 / RFC 3339 text (surrounding spaces ignored): `2024-03-01` (midnight UTC),
    /// `2024-03-01T10:30`, `2024-03-01 10:30:00.250+01:00`, `...Z`, `...-0500`. A time without
    /// an offset is read as UTC; the offset is kept. `None` for anything else.
    pub fn parse_iso(text: &str) -> Option<DateTime> {
        let mut cursor = Cursor(text.trim().as_bytes());
        let midnight = cursor.date()?.days_since_epoch() * MILLIS_PER_DAY;
        if cursor.0.is_empty() {
            return Some(DateTime::from_unix_millis(midnight));
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
        if !cursor.0.is_empty() || offset_minutes.abs() >= 24 * 60 {
            return None;
        }
        Some(DateTime {
            unix_millis: midnight + ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + millis,
            offset_minutes: offset_minutes as i16,
        })
    }

    /// The calendar date at this instant where it was written (in its offset).
    pub fn local_date(self) -> Date {
        Date::from_days_since_epoch(self.local_millis().div_euclid(MILLIS_PER_DAY))
    }

    fn local_millis(self) -> i64 {
        self.unix_millis + i64::from(self.offset_minutes) * 60_000
    }
}

impl fmt::Display for DateTime {
    /// RFC 3339 in the offset it was written with: `2024-03-01T11:30:00+01:00`, milliseconds
    /// when there are any, `Z` for UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.local_millis();
        let of_day = local.rem_euclid(MILLIS_PER_DAY);
        let (seconds, millis) = (of_day / 1000, of_day % 1000);
        write!(f, "{}T{:02}:{:02}:{:02}", self.local_date(), seconds / 3600, seconds / 60 % 60, seconds % 60)?;
        if millis != 0 {
            write!(f, ".{millis:03}")?;
        }
        match self.offset_minutes {
            0 => f.write_str("Z"),
            offset => {
                let sign = if offset < 0 { '-' } else { '+' };
                let offset = offset.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", offset / 60, offset % 60)
            }
        }
    }
}

impl Value<'_> {
    /// The value as an instant: a datetime, a date (midnight UTC) or ISO 8601 text
    /// ([`DateTime::parse_iso`]). `None` for any other value.
    pub fn as_datetime(&self) -> Option<DateTime> {
        match self {
            Value::DateTime(datetime) => Some(*datetime),
            Value::Date(date) => Some(DateTime::at_midnight_utc(*date)),
            Value::Text(text) => DateTime::parse_iso(text),
            _ => None,
        }
    }

    /// The value as a calendar date: a date, a datetime's date where it was written, or ISO
    /// 8601 text (a date, or a datetime's date in its own offset). `None` for any other value.
    pub fn as_date(&self) -> Option<Date> {
        match self {
            Value::Date(date) => Some(*date),
            Value::DateTime(datetime) => Some(datetime.local_date()),
            Value::Text(text) => DateTime::parse_iso(text).map(DateTime::local_date),
            _ => None,
        }
    }
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

    /// `YYYY-MM-DD`, on the calendar.
    fn date(&mut self) -> Option<Date> {
        let year = self.number(4)?;
        self.expect(b'-')?;
        let month = self.number(2)?;
        self.expect(b'-')?;
        let day = self.number(2)?;
        Date::new(year as i32, u8::try_from(month).ok()?, u8::try_from(day).ok()?)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(text: &str) -> Option<i64> {
        DateTime::parse_iso(text).map(|datetime| datetime.unix_millis)
    }

    #[test]
    fn iso_text_is_read_as_an_instant_keeping_its_offset() {
        assert_eq!(millis("1970-01-02"), Some(86_400_000));
        assert_eq!(millis("2024-03-01T10:30:00Z"), Some(1_709_289_000_000));
        assert_eq!(millis("2024-03-01 11:30+01:00"), Some(1_709_289_000_000));
        assert_eq!(millis("2024-03-01T05:30:00.250-0500"), Some(1_709_289_000_250));
        assert_eq!(millis("1969-12-31T23:59:59Z"), Some(-1_000));
        assert_eq!(DateTime::parse_iso("2024-03-01 11:30+01:00").unwrap().offset_minutes, 60);
        for bad in [
            "",
            "2024-13-01",
            "2024-02-30",
            "2024-03-01T25:00",
            "2024-03-01T10:30 UTC",
            "01.03.2024",
            "2024-03-01T10:30+99:00",
        ] {
            assert_eq!(millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_are_checked_against_the_calendar() {
        assert_eq!(Date::new(2024, 2, 29), Some(Date { year: 2024, month: 2, day: 29 }));
        assert_eq!(Date::new(2023, 2, 29), None);
        assert_eq!(Date::new(1900, 2, 29), None, "a century is not a leap year");
        assert_eq!(Date::new(2000, 2, 29).map(|date| date.day), Some(29), "unless it divides by 400");
        assert_eq!(Date::new(2024, 4, 31), None);
        assert_eq!(Date::parse_iso(" 2024-03-01 "), Date::new(2024, 3, 1));
        assert_eq!(Date::parse_iso("2024-03-01T10:00"), None);
    }

    #[test]
    fn days_since_epoch_round_trips_across_eras() {
        for days in [-800_000, -719_468, -1, 0, 1, 59, 19_783, 2_932_896] {
            let date = Date::from_days_since_epoch(days);
            assert_eq!(date.days_since_epoch(), days, "{date}");
            assert!(Date::new(date.year, date.month, date.day).is_some(), "{date}");
        }
        assert_eq!(Date::from_days_since_epoch(19_783).to_string(), "2024-03-01");
        assert_eq!(Date { year: 2024, month: 2, day: 30 }.days_since_epoch(), 19_783, "off the calendar: 1 March");
        assert_eq!(Date::from_days_since_epoch(i64::MAX).to_string(), "9999-12-31", "held to the calendar");
    }

    #[test]
    fn datetimes_print_as_rfc_3339_in_their_own_offset() {
        for text in ["2024-03-01T11:30:00+01:00", "2024-03-01T10:30:00.250Z", "1969-12-31T19:00:00-05:00"] {
            assert_eq!(DateTime::parse_iso(text).unwrap().to_string(), text);
        }
        let late_evening_in_new_york = DateTime::parse_iso("2024-03-01T23:30:00-05:00").unwrap();
        assert_eq!(late_evening_in_new_york.local_date().to_string(), "2024-03-01");
        assert_eq!(Value::DateTime(late_evening_in_new_york).as_date(), Date::new(2024, 3, 1));
    }

    #[test]
    fn values_read_as_instants_whatever_their_type() {
        assert_eq!(Value::from("2024-03-02").as_datetime(), Some(DateTime::from_unix_millis(1_709_337_600_000)));
        assert_eq!(
            Value::Date(Date::new(2024, 3, 2).unwrap()).as_datetime().map(|d| d.unix_millis),
            Some(1_709_337_600_000)
        );
        assert_eq!(Value::from("last Tuesday").as_datetime(), None);
        assert_eq!(Value::Number(5.0).as_date(), None);
        let record = crate::Record::contact("u1").with("updated_at", "2024-03-01T23:30:00-05:00");
        assert_eq!(record.datetime("updated_at").map(|at| at.unix_millis), Some(1_709_353_800_000));
        assert_eq!(record.date("updated_at"), Date::new(2024, 3, 1), "the date where it was written");
        assert_eq!(record.date("created_at"), None);
    }
}

//! The host's record model: what every stage (extract, plugins, plan, load) passes along.

use std::fmt;
use std::str::FromStr;

/// What a record is in User.com terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Contact,
    Company,
    Deal,
    Activity,
    Event,
    Conversation,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 6] = [
        ObjectKind::Contact,
        ObjectKind::Company,
        ObjectKind::Deal,
        ObjectKind::Activity,
        ObjectKind::Event,
        ObjectKind::Conversation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Contact => "contact",
            ObjectKind::Company => "company",
            ObjectKind::Deal => "deal",
            ObjectKind::Activity => "activity",
            ObjectKind::Event => "event",
            ObjectKind::Conversation => "conversation",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ObjectKind::ALL.into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(text.trim())).ok_or_else(|| {
            format!(
                "unknown object kind '{text}'; expected one of contact, company, deal, activity, event, conversation"
            )
        })
    }
}

/// A calendar date without a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

/// An instant, with the UTC offset the source wrote it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub unix_millis: i64,
    pub offset_minutes: i16,
}

/// Now, as UTC ISO 8601 to the second (`2026-11-29T08:41:07Z`).
pub fn now_utc() -> String {
    let millis =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_millis() as i64);
    DateTime { unix_millis: millis - millis % 1000, offset_minutes: 0 }.to_string()
}

/// A typed field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Number(f64),
    Boolean(bool),
    Date(Date),
    DateTime(DateTime),
    Choices(Vec<String>),
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// 1970-01-01: day 0 of [`Date::days_since_epoch`].
const EPOCH_DAY: jiff::civil::Date = jiff::civil::Date::constant(1970, 1, 1);

impl Date {
    /// The years the host writes (four digits, as ISO 8601 and Pipedrive take them).
    pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

    /// The date, when it is on the calendar (proleptic Gregorian, years -9999 to 9999): month 1
    /// to 12, day within the month, leap years counted. [`Date::check`] says whether the host
    /// writes it.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let date = Date { year, month, day };
        date.on_calendar().map(|_| date)
    }

    /// This date as jiff's, when it is on the calendar.
    fn on_calendar(self) -> Option<jiff::civil::Date> {
        let (year, month, day) =
            (i16::try_from(self.year).ok()?, i8::try_from(self.month).ok()?, i8::try_from(self.day).ok()?);
        jiff::civil::Date::new(year, month, day).ok()
    }

    fn from_calendar(date: jiff::civil::Date) -> Date {
        Date { year: i32::from(date.year()), month: date.month().unsigned_abs(), day: date.day().unsigned_abs() }
    }

    /// Why this date is not one the host writes: a year outside [`Date::YEARS`], a month
    /// outside 1 to 12, a day outside the month (day 0, 31 April, 29 February 2023).
    pub fn check(&self) -> Result<(), String> {
        if !Date::YEARS.contains(&self.year) {
            return Err(format!("date year {} is outside {} to {}", self.year, Date::YEARS.start(), Date::YEARS.end()));
        }
        if !(1..=12).contains(&self.month) {
            return Err(format!("date month {} is outside 1 to 12", self.month));
        }
        if self.on_calendar().is_none() {
            let first = Date { day: 1, ..*self }.on_calendar();
            let days = first.map_or(0, |first| first.days_in_month().unsigned_abs());
            return Err(format!(
                "date day {} is outside 1 to {days} ({:04}-{:02} has {days} days)",
                self.day, self.year, self.month
            ));
        }
        Ok(())
    }

    /// The date `days` days after 1970-01-01; `None` beyond the calendar's years -9999 to 9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        // Every day of the calendar is within an i32 of the epoch, and 24 times it an hour count
        // that `from_hours` takes without overflow.
        let hours = i64::from(i32::try_from(days).ok()?) * 24;
        EPOCH_DAY.checked_add(jiff::SignedDuration::from_hours(hours)).ok().map(Date::from_calendar)
    }

    /// Days since 1970-01-01 (negative before); `None` for a date not on the calendar.
    pub fn days_since_epoch(self) -> Option<i64> {
        Some(self.on_calendar()?.duration_since(EPOCH_DAY).as_hours() / 24)
    }
}

impl DateTime {
    /// UTC offsets the host accepts: ±18 hours, as ISO 8601 and java.time allow.
    pub const MAX_OFFSET_MINUTES: i16 = 18 * 60;
    /// 0001-01-01T00:00:00Z, the first instant of [`Date::YEARS`].
    pub const MIN_UNIX_MILLIS: i64 = -62_135_596_800_000;
    /// 9999-12-31T23:59:59.999Z, the last instant of [`Date::YEARS`].
    pub const MAX_UNIX_MILLIS: i64 = 253_402_300_799_999;

    /// Why this instant is not one the host writes: an offset beyond ±18 h, or an instant whose
    /// UTC or local time falls outside years 1 to 9999. What passes can be printed and added
    /// to without overflow.
    pub fn check(&self) -> Result<(), String> {
        if self.offset_minutes.unsigned_abs() > DateTime::MAX_OFFSET_MINUTES as u16 {
            return Err(format!(
                "datetime offset {} minutes is outside ±{} minutes (±18 h)",
                self.offset_minutes,
                DateTime::MAX_OFFSET_MINUTES
            ));
        }
        let range = DateTime::MIN_UNIX_MILLIS..=DateTime::MAX_UNIX_MILLIS;
        let local = self.local_millis();
        if !range.contains(&self.unix_millis) || !local.is_some_and(|local| range.contains(&local)) {
            return Err(format!(
                "datetime unix millis {} at offset {} minutes is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z \
                 ({} to {} unix millis, local time included)",
                self.unix_millis,
                self.offset_minutes,
                DateTime::MIN_UNIX_MILLIS,
                DateTime::MAX_UNIX_MILLIS
            ));
        }
        Ok(())
    }

    /// Milliseconds since 1970-01-01T00:00:00 in the source's offset; `None` on overflow.
    fn local_millis(&self) -> Option<i64> {
        self.unix_millis.checked_add(i64::from(self.offset_minutes) * 60_000)
    }

    /// The date and time of day where the source wrote it; `None` beyond the calendar's years
    /// -9999 to 9999. (Not through `jiff::Timestamp`: its range stops short of 9999-12-31 in UTC
    /// so that every offset of it is on the calendar, and the host writes that last day.)
    fn local(&self) -> Option<jiff::civil::DateTime> {
        let epoch = EPOCH_DAY.to_datetime(jiff::civil::Time::midnight());
        epoch.checked_add(jiff::SignedDuration::from_millis(self.local_millis()?)).ok()
    }
}

impl fmt::Display for DateTime {
    /// ISO 8601 in the offset the source used, e.g. `2024-03-01T09:30:00+01:00`.
    /// A value outside what [`DateTime::check`] accepts prints as its raw numbers, never
    /// wraps or panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(local) = self.check().ok().and_then(|()| self.local()) else {
            return write!(
                f,
                "(invalid datetime: unix millis {}, offset {} minutes)",
                self.unix_millis, self.offset_minutes
            );
        };
        let date = Date::from_calendar(local.date());
        write!(f, "{date}T{:02}:{:02}:{:02}", local.hour(), local.minute(), local.second())?;
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

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Text(text) => write!(f, "{text:?}"),
            Value::Number(number) => write!(f, "{number}"),
            Value::Boolean(boolean) => write!(f, "{boolean}"),
            Value::Date(date) => write!(f, "{date}"),
            Value::DateTime(datetime) => write!(f, "{datetime}"),
            Value::Choices(choices) => write!(f, "{choices:?}"),
        }
    }
}

/// One source record: its kind, its User.com id, and its fields in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: ObjectKind,
    pub source_id: String,
    pub fields: Vec<(String, Value)>,
}

impl Record {
    pub fn new(kind: ObjectKind, source_id: impl Into<String>) -> Self {
        Record { kind, source_id: source_id.into(), fields: Vec::new() }
    }

    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.set(name, value);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(field, _)| field == name).map(|(_, value)| value)
    }

    /// Sets a field, adding it at the end when the record lacks it.
    pub fn set(&mut self, name: &str, value: Value) {
        match self.fields.iter_mut().find(|(field, _)| field == name) {
            Some((_, existing)) => *existing = value,
            None => self.fields.push((name.to_owned(), value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_days_since_epoch() {
        for days in [-719_468, -1, 0, 1, 59, 60, 365, 11_016, 19_782, 2_932_896] {
            let date = Date::from_days_since_epoch(days).unwrap();
            assert_eq!(date.days_since_epoch(), Some(days), "{date}");
        }
        assert_eq!(Date::from_days_since_epoch(19_782).unwrap().to_string(), "2024-02-29");
        assert_eq!(Date::from_days_since_epoch(-719_468).unwrap().to_string(), "0000-03-01");
        assert_eq!(Date::from_days_since_epoch(i64::MAX), None, "beyond the calendar");
        assert_eq!(Date::from_days_since_epoch(2_932_897), None, "after 9999-12-31");
        assert_eq!(Date { year: 2023, month: 2, day: 29 }.days_since_epoch(), None, "not on the calendar");
    }

    #[test]
    fn datetimes_print_in_their_source_offset() {
        let utc = DateTime { unix_millis: 1_709_285_400_000, offset_minutes: 0 };
        assert_eq!(utc.to_string(), "2024-03-01T09:30:00Z");
        let warsaw = DateTime { unix_millis: 1_709_285_400_000, offset_minutes: 60 };
        assert_eq!(warsaw.to_string(), "2024-03-01T10:30:00+01:00");
        let new_york = DateTime { unix_millis: 1_709_285_400_000, offset_minutes: -300 };
        assert_eq!(new_york.to_string(), "2024-03-01T04:30:00-05:00");
    }

    #[test]
    fn extreme_datetimes_are_refused_by_check_and_print_without_panicking() {
        let extremes = [
            (0, i16::MIN),
            (0, i16::MAX),
            (0, 18 * 60 + 1),
            (i64::MAX, 0),
            (i64::MIN, 0),
            (i64::MAX, i16::MAX),
            (i64::MIN, i16::MIN),
            (DateTime::MAX_UNIX_MILLIS + 1, 0),
            (DateTime::MIN_UNIX_MILLIS - 1, 0),
            (DateTime::MAX_UNIX_MILLIS, 60),
            (DateTime::MIN_UNIX_MILLIS, -60),
        ];
        for (unix_millis, offset_minutes) in extremes {
            let datetime = DateTime { unix_millis, offset_minutes };
            assert!(datetime.check().is_err(), "{datetime:?} is refused");
            assert!(datetime.to_string().starts_with("(invalid datetime"), "{datetime:?} prints as numbers");
        }
        let first = DateTime { unix_millis: DateTime::MIN_UNIX_MILLIS, offset_minutes: 0 };
        assert_eq!(first.to_string(), "0001-01-01T00:00:00Z");
        let last = DateTime { unix_millis: DateTime::MAX_UNIX_MILLIS, offset_minutes: -18 * 60 };
        assert_eq!(last.to_string(), "9999-12-31T05:59:59-18:00");
        assert_eq!(DateTime { unix_millis: 0, offset_minutes: 18 * 60 }.to_string(), "1970-01-01T18:00:00+18:00");
    }

    #[test]
    fn dates_are_checked_for_year_month_and_day_of_the_month() {
        let bad = [
            (2024, 13, 1),
            (2024, 0, 1),
            (2024, 1, 0),
            (2023, 2, 29),
            (1900, 2, 29),
            (2024, 4, 31),
            (0, 1, 1),
            (10_000, 1, 1),
            (i32::MAX, 12, 31),
            (i32::MIN, 1, 1),
            (2024, 255, 255),
        ];
        for (year, month, day) in bad {
            assert!(Date { year, month, day }.check().is_err(), "{year}-{month}-{day}");
        }
        for (year, month, day) in [(2024, 2, 29), (2000, 2, 29), (1, 1, 1), (9999, 12, 31)] {
            assert_eq!(Date { year, month, day }.check(), Ok(()), "{year}-{month}-{day}");
        }
    }
}

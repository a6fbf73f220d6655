//! The sandbox clock (real time plus an offset a test can advance) and the two timestamp formats.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: u64 = 86_400;

/// Milliseconds since the Unix epoch as the sandbox sees them: the real clock (made monotonic
/// from the moment the clock was created) plus whatever `advance` added.
#[derive(Debug)]
pub struct Clock {
    start_instant: Instant,
    start_unix_ms: i64,
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn new(offset_ms: i64) -> Clock {
        let start_unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        Clock { start_instant: Instant::now(), start_unix_ms, offset_ms: AtomicI64::new(offset_ms) }
    }

    pub fn now_ms(&self) -> i64 {
        self.start_unix_ms + self.start_instant.elapsed().as_millis() as i64 + self.offset_ms.load(Ordering::SeqCst)
    }

    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    /// Days since the epoch, by UTC midnight: the daily token budget resets when this changes.
    pub fn day(&self) -> i64 {
        self.now_secs().div_euclid(SECONDS_PER_DAY as i64)
    }

    /// Whole seconds until the next midnight UTC of the sandbox clock (at least 1).
    pub fn seconds_to_midnight(&self) -> u64 {
        let now_ms = self.now_ms();
        let day_ms = SECONDS_PER_DAY as i64 * 1000;
        let next = (now_ms.div_euclid(day_ms) + 1) * day_ms;
        (((next - now_ms) + 999) / 1000).max(1) as u64
    }
}

/// 1970-01-01: day 0 of [`parse_date`].
const EPOCH_DAY: jiff::civil::Date = jiff::civil::Date::constant(1970, 1, 1);

/// The UTC date and time `secs` after the epoch. The sandbox clock is the real one, far inside
/// jiff's years -9999 to 9999; an instant beyond them is clamped to them.
fn utc(secs: i64) -> jiff::civil::DateTime {
    let instant = jiff::Timestamp::from_second(secs).unwrap_or(if secs < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    jiff::tz::Offset::UTC.to_datetime(instant)
}

/// `2024-01-01T00:00:00Z`, as API v2 writes timestamps.
pub fn rfc3339(secs: i64) -> String {
    let t = utc(secs);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())
}

/// `2024-01-01 00:00:00`, as API v1 writes timestamps (always UTC).
pub fn v1_time(secs: i64) -> String {
    let t = utc(secs);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())
}

fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses `YYYY-MM-DD` into days since the epoch.
pub fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&text[0..4])?, digits(&text[5..7])?, digits(&text[8..10])?);
    // Only dates on the calendar: not 2024-02-30 and the like.
    let date = jiff::civil::Date::new(i16::try_from(y).ok()?, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()?;
    Some(date.duration_since(EPOCH_DAY).as_hours() / 24)
}

/// Parses `HH:MM` or `HH:MM:SS` into seconds of the day.
pub fn parse_time_of_day(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|part| part.len() != 2) {
        return None;
    }
    let h = digits(parts[0])?;
    let m = digits(parts[1])?;
    let s = if parts.len() == 3 { digits(parts[2])? } else { 0 };
    (h < 24 && m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

/// Parses an RFC 3339 timestamp (`2024-01-01T10:00:00Z`, `...+02:00`, fractional seconds allowed)
/// into seconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    if text.len() < 20 || !matches!(text.as_bytes()[10], b'T' | b't') {
        return None;
    }
    let days = parse_date(&text[..10])?;
    let rest = &text[11..];
    let time_end = rest.find(['Z', 'z', '+', '-', '.'])?;
    if time_end != 8 {
        return None;
    }
    let seconds = parse_time_of_day(&rest[..8])?;
    let mut zone = &rest[8..];
    if let Some(fraction) = zone.strip_prefix('.') {
        let end = fraction.find(|c: char| !c.is_ascii_digit())?;
        if end == 0 {
            return None;
        }
        zone = &fraction[end..];
    }
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if zone.len() != 6 || zone.as_bytes()[3] != b':' {
                return None;
            }
            sign * (digits(&zone[1..3])? * 3600 + digits(&zone[4..6])? * 60)
        }
    };
    Some(days * 86_400 + seconds - offset)
}

/// Parses v1's `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn parse_v1_time(text: &str) -> Option<i64> {
    if text.len() != 19 || text.as_bytes()[10] != b' ' {
        return None;
    }
    Some(parse_date(&text[..10])? * 86_400 + parse_time_of_day(&text[11..])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_in_both_formats() {
        let secs = parse_rfc3339("2024-02-29T23:59:58Z").unwrap();
        assert_eq!(rfc3339(secs), "2024-02-29T23:59:58Z");
        assert_eq!(v1_time(secs), "2024-02-29 23:59:58");
        assert_eq!(parse_v1_time("2024-02-29 23:59:58"), Some(secs));
        assert_eq!(parse_rfc3339("2024-03-01T01:59:58.123+02:00"), Some(secs));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_rfc3339("2024-01-01 00:00:00"), None);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}

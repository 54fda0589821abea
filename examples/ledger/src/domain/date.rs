//! `Date`, a calendar day (proleptic Gregorian, years 1 to 9999), and `Timestamp`, seconds
//! since the Unix epoch.
//!
//! Dates are stored as a day number (days since 1970-01-01), so they compare, sort and index
//! as integers; text is always `YYYY-MM-DD`. No time zones and no clock reads: callers pass
//! the current time in. Tests are at the bottom of this file.

use kiln::calendar;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A calendar day. Invariant: between 0001-01-01 and 9999-12-31.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    days_since_epoch: i32,
}

/// A point in time: whole seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

/// Why a text is not a date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateError {
    /// The text that was refused (cut to 32 bytes at a character boundary).
    pub text: String,
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a date (YYYY-MM-DD): {:?}", self.text)
    }
}

impl std::error::Error for DateError {}

impl Date {
    /// The day `year-month-day`, or `None` if no such day exists (or it is outside 1..=9999).
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        valid.then(|| Date {
            days_since_epoch: days_from_civil(year, month, day),
        })
    }

    /// The day with this number (days since 1970-01-01), if it is in range.
    pub fn from_days_since_epoch(days: i32) -> Option<Date> {
        let (year, _, _) = civil_from_days(days);
        (1..=9999).contains(&year).then_some(Date {
            days_since_epoch: days,
        })
    }

    /// Days since 1970-01-01 (negative before it); what the store keeps.
    pub fn days_since_epoch(self) -> i32 {
        self.days_since_epoch
    }

    /// The calendar day a timestamp falls on (UTC).
    pub fn of_timestamp(at: Timestamp) -> Option<Date> {
        let days = at.0.div_euclid(86_400);
        Date::from_days_since_epoch(i32::try_from(days).ok()?)
    }

    /// Parses exactly `YYYY-MM-DD` (four-digit year, two-digit month and day).
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let error = || DateError {
            text: text.chars().take(32).collect(),
        };
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-';
        if !shaped {
            return Err(error());
        }
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = &text[range];
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())
                .flatten()
        };
        let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10))
        else {
            return Err(error());
        };
        let year = i32::try_from(year).map_err(|_| error())?;
        Date::from_ymd(year, month, day).ok_or_else(error)
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.days_since_epoch)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.ymd();
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

impl TryFrom<String> for Date {
    type Error = DateError;
    fn try_from(text: String) -> Result<Date, DateError> {
        Date::parse(&text)
    }
}

impl From<Date> for String {
    fn from(date: Date) -> String {
        date.to_string()
    }
}

/// Days in a month of a year of the ledger's range (kiln's calendar works in i64).
fn days_in_month(year: i32, month: u32) -> u32 {
    calendar::days_in_month(i64::from(year), month)
}

/// The day number of a real date in 1..=9999 (which fits an i32 many times over).
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let days = calendar::days_from_civil(i64::from(year), month, day);
    i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX })
}

/// `(year, month, day)` of a day number; a year beyond an i32 saturates (and is then out
/// of the ledger's range, which is all callers check).
fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let (year, month, day) = calendar::civil_from_days(i64::from(days));
    let year = i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX });
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_day_zero_and_round_trips() {
        let epoch = Date::parse("1970-01-01").expect("epoch");
        assert_eq!(epoch.days_since_epoch(), 0);
        for text in [
            "0001-01-01",
            "2000-02-29",
            "2024-12-31",
            "9999-12-31",
            "1969-12-31",
        ] {
            assert_eq!(Date::parse(text).expect(text).to_string(), text);
        }
        assert_eq!(
            Date::parse("1969-12-31").map(Date::days_since_epoch),
            Ok(-1)
        );
    }

    #[test]
    fn every_day_number_round_trips_through_civil() {
        let first = Date::parse("0001-01-01").expect("first").days_since_epoch();
        let last = Date::parse("9999-12-31").expect("last").days_since_epoch();
        assert_eq!((first, last), (-719_162, 2_932_896));
        assert_eq!(Date::from_days_since_epoch(first - 1), None);
        assert_eq!(Date::from_days_since_epoch(last + 1), None);
        for days in first..=last {
            let date = Date::from_days_since_epoch(days).expect("in range");
            let (year, month, day) = date.ymd();
            assert_eq!(Date::from_ymd(year, month, day), Some(date));
        }
    }

    #[test]
    fn refuses_impossible_and_misshapen_dates() {
        for text in [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "0000-01-01",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "2024-01-01 ",
            "+202-01-01",
            "２０２４-01-01",
        ] {
            assert!(Date::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn timestamps_fall_on_their_utc_day() {
        let day = |s| Date::of_timestamp(Timestamp(s)).map(|d| d.to_string());
        assert_eq!(day(0).as_deref(), Some("1970-01-01"));
        assert_eq!(day(86_399).as_deref(), Some("1970-01-01"));
        assert_eq!(day(-1).as_deref(), Some("1969-12-31"));
        assert_eq!(day(1_700_000_000).as_deref(), Some("2023-11-14"));
    }
}

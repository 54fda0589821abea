//! The `date` filter: `{{ value|date("%d %b %Y") }}` (default format `%Y-%m-%d`).
//!
//! Accepts Unix seconds (integer or float, read as UTC) or an ISO 8601 / RFC 3339 string:
//! `2024-03-05`, `2024-03-05T14:30`, `2024-03-05 14:30:00` (SQLite's form),
//! `2024-03-05T14:30:00.123Z`, `...+02:00`. A string is formatted in the wall time it carries;
//! offsets are kept (`%z`), never converted, and there are no time zones.
//!
//! Format: `%Y %y %m %d %e %H %I %p %M %S %j %a %A %b %B %u %w %F %T %R %z %s %%`, with
//! `%-d`-style no-padding for numeric fields (English names only). An unknown directive is an
//! error. Years 1 to 9999 only. Tests: at the bottom of this file.

use crate::calendar::{civil_from_days, days_from_civil, days_in_month, weekday};
use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};
use std::fmt::Write;

/// Unix seconds of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59Z: the supported range.
const UNIX_SECONDS_MIN: i64 = -62_135_596_800;
const UNIX_SECONDS_MAX: i64 = 253_402_300_799;
const SECONDS_PER_DAY: i64 = 86_400;

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(crate) fn register(env: &mut minijinja::Environment<'static>) {
    env.add_filter("date", date);
}

/// A calendar date and wall-clock time, already validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DateTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// Minutes east of UTC, when the input said.
    offset_minutes: Option<i32>,
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

fn date(value: Value, format: Option<&str>) -> Result<String, Error> {
    let moment = match value.kind() {
        ValueKind::Number if value.is_integer() => from_unix(i64::try_from(value.clone())?),
        ValueKind::Number => {
            let seconds = f64::try_from(value.clone())?.floor();
            let in_range = (UNIX_SECONDS_MIN as f64..=UNIX_SECONDS_MAX as f64).contains(&seconds);
            from_unix(if in_range { seconds as i64 } else { i64::MAX })
        }
        ValueKind::String => parse_iso(value.as_str().unwrap_or_default()),
        _ => None,
    };
    let moment = moment.ok_or_else(|| {
        invalid(format!(
            "date: expected an ISO 8601 date/time string or Unix seconds (years 1-9999), got \
             {value:?}"
        ))
    })?;
    format_date(&moment, format.unwrap_or("%Y-%m-%d"))
}

fn from_unix(seconds: i64) -> Option<DateTime> {
    if !(UNIX_SECONDS_MIN..=UNIX_SECONDS_MAX).contains(&seconds) {
        return None;
    }
    let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY) as u32;
    Some(DateTime {
        year,
        month,
        day,
        hour: second_of_day / 3600,
        minute: second_of_day / 60 % 60,
        second: second_of_day % 60,
        offset_minutes: Some(0),
    })
}

/// A cursor over ASCII input for the ISO parser.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    fn number(&mut self, digits: usize) -> Option<u32> {
        if self.rest.len() < digits || !self.rest[..digits].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = self.rest[..digits]
            .iter()
            .fold(0, |n, b| n * 10 + u32::from(b - b'0'));
        self.rest = &self.rest[digits..];
        Some(value)
    }

    fn eat(&mut self, allowed: &[u8]) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        if !allowed.contains(&first) {
            return None;
        }
        self.rest = rest;
        Some(first)
    }
}

fn parse_iso(text: &str) -> Option<DateTime> {
    let mut at = Cursor {
        rest: text.trim().as_bytes(),
    };
    let year = at.number(4)?;
    at.eat(b"-")?;
    let month = at.number(2)?;
    at.eat(b"-")?;
    let day = at.number(2)?;
    let mut moment = DateTime {
        year: i64::from(year),
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        offset_minutes: None,
    };
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(moment.year, month) {
        return None;
    }
    if year == 0 || at.rest.is_empty() {
        return (year > 0).then_some(moment);
    }
    at.eat(b"Tt ")?;
    moment.hour = at.number(2)?;
    at.eat(b":")?;
    moment.minute = at.number(2)?;
    if at.eat(b":").is_some() {
        moment.second = at.number(2)?;
        if at.eat(b".,").is_some() {
            at.number(1)?;
            while at.number(1).is_some() {}
        }
    }
    if moment.hour > 23 || moment.minute > 59 || moment.second > 60 {
        return None;
    }
    moment.offset_minutes = match at.eat(b"Zz+-") {
        None => None,
        Some(b'Z' | b'z') => Some(0),
        Some(sign) => {
            let hours = at.number(2)?;
            at.eat(b":");
            let minutes = at.number(2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = (hours * 60 + minutes) as i32;
            Some(if sign == b'-' { -total } else { total })
        }
    };
    at.rest.is_empty().then_some(moment)
}

fn format_date(moment: &DateTime, format: &str) -> Result<String, Error> {
    let days = days_from_civil(moment.year, moment.month, moment.day);
    let weekday = weekday(days) as usize;
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut directive = chars.next();
        let pad = directive != Some('-');
        if !pad {
            directive = chars.next();
        }
        let number = |out: &mut String, value: i64, width: usize| {
            let _ = if pad {
                write!(out, "{value:0width$}")
            } else {
                write!(out, "{value}")
            };
        };
        match directive {
            Some('Y') => number(&mut out, moment.year, 4),
            Some('y') => number(&mut out, moment.year % 100, 2),
            Some('m') => number(&mut out, i64::from(moment.month), 2),
            Some('d') => number(&mut out, i64::from(moment.day), 2),
            Some('e') => {
                let _ = write!(out, "{:>2}", moment.day);
            }
            Some('H') => number(&mut out, i64::from(moment.hour), 2),
            Some('I') => number(&mut out, i64::from((moment.hour + 11) % 12 + 1), 2),
            Some('p') => out.push_str(if moment.hour < 12 { "AM" } else { "PM" }),
            Some('M') => number(&mut out, i64::from(moment.minute), 2),
            Some('S') => number(&mut out, i64::from(moment.second), 2),
            Some('j') => {
                let day_of_year = days - days_from_civil(moment.year, 1, 1) + 1;
                number(&mut out, day_of_year, 3);
            }
            Some('a') => out.push_str(&WEEKDAYS[weekday][..3]),
            Some('A') => out.push_str(WEEKDAYS[weekday]),
            Some('b' | 'h') => out.push_str(&MONTHS[moment.month as usize - 1][..3]),
            Some('B') => out.push_str(MONTHS[moment.month as usize - 1]),
            Some('u') => number(&mut out, if weekday == 0 { 7 } else { weekday as i64 }, 1),
            Some('w') => number(&mut out, weekday as i64, 1),
            Some('F') => out.push_str(&format_date(moment, "%Y-%m-%d")?),
            Some('T') => out.push_str(&format_date(moment, "%H:%M:%S")?),
            Some('R') => out.push_str(&format_date(moment, "%H:%M")?),
            Some('z') => {
                if let Some(offset) = moment.offset_minutes {
                    let sign = if offset < 0 { '-' } else { '+' };
                    let offset = offset.unsigned_abs();
                    let _ = write!(out, "{sign}{:02}{:02}", offset / 60, offset % 60);
                }
            }
            Some('s') => {
                let local = days * SECONDS_PER_DAY
                    + i64::from(moment.hour * 3600 + moment.minute * 60 + moment.second);
                let offset = i64::from(moment.offset_minutes.unwrap_or(0)) * 60;
                let _ = write!(out, "{}", local - offset);
            }
            Some('%') => out.push('%'),
            Some(other) => return Err(invalid(format!("date: unknown format directive %{other}"))),
            None => return Err(invalid("date: format ends with a lone %".to_owned())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(format: &str, value: impl Into<Value>) -> Result<String, Error> {
        date(value.into(), Some(format))
    }

    #[test]
    fn unix_seconds_are_utc() {
        assert_eq!(render("%F %T %z", 0).unwrap(), "1970-01-01 00:00:00 +0000");
        assert_eq!(
            render("%F %T", 1_700_000_000).unwrap(),
            "2023-11-14 22:13:20"
        );
        assert_eq!(render("%F %T", -1).unwrap(), "1969-12-31 23:59:59");
        assert_eq!(
            render("%F %T", 1_700_000_000.9).unwrap(),
            "2023-11-14 22:13:20"
        );
        assert_eq!(render("%F", 951_782_400).unwrap(), "2000-02-29");
        assert_eq!(render("%s", 1_700_000_000).unwrap(), "1700000000");
        assert_eq!(date(Value::from(0), None).unwrap(), "1970-01-01");
    }

    #[test]
    fn iso_strings_in_their_wall_time() {
        assert_eq!(render("%d %b %Y", "2024-03-05").unwrap(), "05 Mar 2024");
        assert_eq!(
            render("%A %-d %B", "2024-03-05").unwrap(),
            "Tuesday 5 March"
        );
        assert_eq!(render("%H:%M", "2024-03-05T14:30").unwrap(), "14:30");
        assert_eq!(render("%T", "2024-03-05 14:30:07").unwrap(), "14:30:07");
        assert_eq!(
            render("%T %z", "2024-03-05T14:30:07.123456Z").unwrap(),
            "14:30:07 +0000"
        );
        assert_eq!(
            render("%T %z", "2024-03-05T14:30:07+02:00").unwrap(),
            "14:30:07 +0200"
        );
        assert_eq!(
            render("%s", "2024-03-05T14:30:07+02:00").unwrap(),
            "1709641807"
        );
        assert_eq!(render("%z", "2024-03-05").unwrap(), "");
        assert_eq!(render("%I %p", "2024-03-05T00:10").unwrap(), "12 AM");
        assert_eq!(render("%I %p", "2024-03-05T13:10").unwrap(), "01 PM");
    }

    #[test]
    fn calendar_fields() {
        assert_eq!(render("%j %u %w %a", "2024-12-31").unwrap(), "366 2 2 Tue");
        assert_eq!(render("%j %u %w", "2023-01-01").unwrap(), "001 7 0");
        assert_eq!(render("%e|%y|%%", "0999-01-02").unwrap(), " 2|99|%");
        assert_eq!(render("%F", "9999-12-31").unwrap(), "9999-12-31");
        for days in [-719_162, -1, 0, 59, 60, 10_957, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn invalid_inputs_are_errors_not_panics() {
        for bad in [
            "2024-02-30",
            "2023-02-29",
            "2024-13-01",
            "0000-01-01",
            "2024-3-5",
            "2024-03-05T25:00",
            "2024-03-05T12:00:00+24:00",
            "2024-03-05T12:00:00 junk",
            "2024-03-05T",
            "tomorrow",
            "",
        ] {
            assert!(render("%F", bad).is_err(), "{bad}");
        }
        assert!(render("%F", i64::MAX).is_err());
        assert!(render("%F", 1e300).is_err());
        assert!(render("%F", f64::NAN).is_err());
        assert!(render("%F", true).is_err());
        assert!(render("%Q", 0).is_err());
        assert!(render("100%", 0).is_err());
        assert!(render("%F", "2024-02-29").is_ok());
    }
}

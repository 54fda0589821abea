//! The `Date` header value: a Unix time in seconds rendered as an IMF-fixdate
//! (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7).
//!
//! Pure arithmetic (the calendar is `crate::calendar`): no dependency, no syscall and no
//! clock. Reading the clock and caching the value once per second is the server's job. Dates
//! after 9999-12-31T23:59:59 are clamped to it, since the format has a four-digit year.
//! Tests are at the bottom of this file.

use crate::calendar;

/// Length of an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
const IMF_FIXDATE_BYTES: usize = 29;
const SECONDS_PER_MINUTE: u64 = 60;
const SECONDS_PER_HOUR: u64 = 60 * SECONDS_PER_MINUTE;
const SECONDS_PER_DAY: u64 = 24 * SECONDS_PER_HOUR;
/// 9999-12-31T23:59:59Z, the last instant with a four-digit year.
const LAST_FOUR_DIGIT_YEAR_SECS: u64 = 253_402_300_799;
const WEEKDAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A rendered IMF-fixdate, ready to be copied into a response head.
///
/// Invariant: `bytes` is 29 ASCII bytes in the IMF-fixdate format.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HttpDate {
    bytes: [u8; IMF_FIXDATE_BYTES],
}

/// A calendar date and time of day in UTC.
struct Civil {
    year: u64,
    month: u64,
    day: u64,
    weekday: u64,
    hour: u64,
    minute: u64,
    second: u64,
}

impl HttpDate {
    /// Renders `secs` seconds after the Unix epoch (clamped to the year 9999).
    pub fn from_unix_secs(secs: u64) -> HttpDate {
        let civil = Civil::from_unix_secs(secs.min(LAST_FOUR_DIGIT_YEAR_SECS));
        HttpDate {
            bytes: civil.to_imf_fixdate(),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes).expect("an IMF-fixdate is ASCII")
    }
}

impl std::fmt::Debug for HttpDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpDate({})", self.as_str())
    }
}

impl std::fmt::Display for HttpDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Civil {
    fn from_unix_secs(secs: u64) -> Civil {
        let days = secs / SECONDS_PER_DAY;
        let second_of_day = secs % SECONDS_PER_DAY;
        // Callers clamp `secs` to the year 9999, so the day count fits an i64 and the year
        // that comes back is between 1970 and 9999.
        let days = i64::try_from(days).unwrap_or(i64::MAX / 2);
        let (year, month, day) = calendar::civil_from_days(days);
        Civil {
            year: u64::try_from(year).unwrap_or(0),
            month: u64::from(month),
            day: u64::from(day),
            weekday: u64::from(calendar::weekday(days)),
            hour: second_of_day / SECONDS_PER_HOUR,
            minute: second_of_day % SECONDS_PER_HOUR / SECONDS_PER_MINUTE,
            second: second_of_day % SECONDS_PER_MINUTE,
        }
    }

    /// `Www, DD Mmm YYYY HH:MM:SS GMT`. Every field is already in range, so indexing the name
    /// tables cannot fail (the `% len` keeps that true even if a caller broke the invariant).
    fn to_imf_fixdate(&self) -> [u8; IMF_FIXDATE_BYTES] {
        let weekday = WEEKDAYS[(self.weekday as usize) % WEEKDAYS.len()];
        let month = MONTHS[(self.month as usize).saturating_sub(1) % MONTHS.len()];
        let mut out = [0u8; IMF_FIXDATE_BYTES];
        out[0..3].copy_from_slice(weekday);
        out[3..5].copy_from_slice(b", ");
        out[5..7].copy_from_slice(&two_digits(self.day));
        out[7] = b' ';
        out[8..11].copy_from_slice(month);
        out[11] = b' ';
        out[12..14].copy_from_slice(&two_digits(self.year / 100));
        out[14..16].copy_from_slice(&two_digits(self.year % 100));
        out[16] = b' ';
        out[17..19].copy_from_slice(&two_digits(self.hour));
        out[19] = b':';
        out[20..22].copy_from_slice(&two_digits(self.minute));
        out[22] = b':';
        out[23..25].copy_from_slice(&two_digits(self.second));
        out[25..29].copy_from_slice(b" GMT");
        out
    }
}

/// Two ASCII digits of a value below 100.
fn two_digits(value: u64) -> [u8; 2] {
    const DECIMAL_BASE: u64 = 10;
    // Both digits are below 10, so the casts cannot truncate.
    [
        b'0' + (value / DECIMAL_BASE % DECIMAL_BASE) as u8,
        b'0' + (value % DECIMAL_BASE) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_render_as_imf_fixdate() {
        let cases: &[(u64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 GMT"),
            (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 GMT"),
            (1_709_251_200, "Fri, 01 Mar 2024 00:00:00 GMT"),
            (1_704_067_199, "Sun, 31 Dec 2023 23:59:59 GMT"),
            (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
            (4_107_456_000, "Sun, 28 Feb 2100 00:00:00 GMT"),
            (2_147_483_647, "Tue, 19 Jan 2038 03:14:07 GMT"),
            (LAST_FOUR_DIGIT_YEAR_SECS, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for &(secs, expected) in cases {
            assert_eq!(HttpDate::from_unix_secs(secs).as_str(), expected, "{secs}");
        }
    }

    #[test]
    fn year_2100_is_not_a_leap_year() {
        // 2100-02-28 + 1 day is 2100-03-01, never 2100-02-29.
        let feb_28 = 4_107_456_000;
        assert_eq!(
            HttpDate::from_unix_secs(feb_28 + SECONDS_PER_DAY).as_str(),
            "Mon, 01 Mar 2100 00:00:00 GMT"
        );
    }

    #[test]
    fn dates_beyond_year_9999_are_clamped() {
        let clamped = "Fri, 31 Dec 9999 23:59:59 GMT";
        assert_eq!(
            HttpDate::from_unix_secs(LAST_FOUR_DIGIT_YEAR_SECS + 1).as_str(),
            clamped
        );
        assert_eq!(HttpDate::from_unix_secs(u64::MAX).as_str(), clamped);
    }

    #[test]
    fn every_day_for_a_few_centuries_renders_its_calendar_day_and_the_next_weekday() {
        let mut previous_weekday = WEEKDAYS.iter().position(|name| *name == b"Wed").unwrap();
        for days in 0..(400 * 366_u64) {
            let rendered = HttpDate::from_unix_secs(days * SECONDS_PER_DAY + 1);
            let text = rendered.as_str();
            assert_eq!(text.len(), IMF_FIXDATE_BYTES);
            let (year, month, day) = calendar::civil_from_days(days as i64);
            let month_name = std::str::from_utf8(MONTHS[month as usize - 1]).unwrap();
            assert_eq!(
                &text[5..25],
                format!("{day:02} {month_name} {year:04} 00:00:01"),
                "day {days}"
            );
            let weekday = WEEKDAYS
                .iter()
                .position(|name| name[..] == text.as_bytes()[0..3])
                .unwrap();
            assert_eq!(weekday, (previous_weekday + 1) % 7, "day {days}: {text}");
            previous_weekday = weekday;
        }
    }
}

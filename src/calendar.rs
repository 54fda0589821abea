//! Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01): the one
//! copy that the `Date` header (`http::date`), the template `date` filter and apps share.
//!
//! Howard Hinnant's public-domain `civil_from_days` / `days_from_civil`: eras are 400-year
//! cycles of 146,097 days starting on 0000-03-01, so a leap day falls at the end of its year.
//! Pure functions, exact for any year an `i64` day count can hold without overflow (far beyond
//! 9999 either way). No clocks, no time zones, no parsing or formatting: callers do those.

/// Days from 0000-03-01 (the start of era 0) to 1970-01-01.
const DAYS_FROM_ERA_START_TO_EPOCH: i64 = 719_468;
/// Days in one 400-year era.
const DAYS_PER_ERA: i64 = 146_097;
/// Years in one era.
const YEARS_PER_ERA: i64 = 400;
/// 1970-01-01 was a Thursday: weekday 4 counting from Sunday = 0.
const EPOCH_WEEKDAY: i64 = 4;

/// Whether `year` has a 29 February.
pub fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1..=12) of `year`; 31 for a month outside 1..=12 (callers check months).
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (negative before it) to `(year, month 1..=12, day 1..=31)`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + DAYS_FROM_ERA_START_TO_EPOCH;
    let era = z.div_euclid(DAYS_PER_ERA);
    let day_of_era = z.rem_euclid(DAYS_PER_ERA); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let shifted_month = (5 * day_of_year + 2) / 153; // [0, 11], March = 0
    // Both are in range by the bounds above, so the casts cannot truncate.
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32; // [1, 31]
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * YEARS_PER_ERA + i64::from(month <= 2);
    (year, month, day)
}

/// `(year, month 1..=12, day)` to days since 1970-01-01: the inverse of `civil_from_days`
/// for every real date (callers validate the month and day first).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(YEARS_PER_ERA);
    let year_of_era = year.rem_euclid(YEARS_PER_ERA);
    let shifted_month = i64::from((month + 9) % 12);
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - DAYS_FROM_ERA_START_TO_EPOCH
}

/// Weekday of a day number, counting from Sunday = 0 to Saturday = 6 (C's `tm_wday`).
pub fn weekday(days: i64) -> u32 {
    // rem_euclid(7) is in 0..7, so the cast cannot truncate.
    (days + EPOCH_WEEKDAY).rem_euclid(7) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
        assert_eq!(days_from_civil(2024, 3, 1), 19_783);
        assert_eq!(weekday(0), 4); // Thursday
        assert_eq!(weekday(-1), 3);
        assert_eq!(weekday(days_from_civil(2023, 1, 1)), 0); // Sunday
        assert_eq!(weekday(days_from_civil(1994, 11, 6)), 0);
    }

    #[test]
    fn every_day_from_year_1_to_9999_round_trips_and_follows_the_calendar() {
        let mut previous = civil_from_days(-719_163);
        assert_eq!(previous, (0, 12, 31));
        for days in -719_162..=2_932_896 {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
            let next_day = (previous.0, previous.1, previous.2 + 1);
            let next_month = (previous.0, previous.1 + 1, 1);
            let next_year = (previous.0 + 1, 1, 1);
            let expected = if previous.2 < days_in_month(previous.0, previous.1) {
                next_day
            } else if previous.1 < 12 {
                next_month
            } else {
                next_year
            };
            assert_eq!((year, month, day), expected, "day {days}");
            previous = (year, month, day);
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000) && is_leap_year(2024) && is_leap_year(0));
        assert!(!is_leap_year(1900) && !is_leap_year(2023) && !is_leap_year(2100));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2023, 11), 30);
    }
}

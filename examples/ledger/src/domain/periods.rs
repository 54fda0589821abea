//! Report periods: `periods(from, to, step)` splits the days from `from` to `to` (both
//! included) into calendar months, quarters or years, the columns of a period-over-period
//! report. The first and last periods may be partial (a range starting on 2024-01-15 by month
//! starts with 2024-01-15 to 2024-01-31); the periods cover the range exactly, in order,
//! without gaps or overlaps.
//!
//! Pure, no clock: the caller passes the dates. Bounded: more than `REPORT_PERIODS_MAX`
//! periods is an error, counted before anything is built. Not here: fiscal years that start
//! in another month, weeks, time zones. Tests at the bottom.

use super::date::Date;
use crate::limits::REPORT_PERIODS_MAX;
use std::fmt;

/// How long one period of a report is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    Month,
    Quarter,
    Year,
}

impl Step {
    /// Every step, shortest first.
    pub const ALL: [Step; 3] = [Step::Month, Step::Quarter, Step::Year];

    /// The stable lowercase name (`month`, `quarter`, `year`), as in a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Month => "month",
            Step::Quarter => "quarter",
            Step::Year => "year",
        }
    }

    /// The inverse of `as_str`.
    pub fn from_str_exact(text: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|step| step.as_str() == text)
    }

    /// The calendar period containing `date` as a number that grows by one per period
    /// (months and quarters counted from year 0).
    fn index(self, date: Date) -> i64 {
        let (year, month, _) = date.ymd();
        let (year, month) = (i64::from(year), i64::from(month));
        match self {
            Step::Month => year * 12 + month - 1,
            Step::Quarter => year * 4 + (month - 1) / 3,
            Step::Year => year,
        }
    }

    /// The last day of the calendar period containing `date`.
    fn period_end(self, date: Date) -> Date {
        let (year, month, _) = date.ymd();
        let last_month = match self {
            Step::Month => month,
            Step::Quarter => (month - 1) / 3 * 3 + 3,
            Step::Year => 12,
        };
        last_day_of_month(year, last_month).unwrap_or(date)
    }

    /// A short name for the calendar period containing `date`: `2024-03`, `2024-Q1`, `2024`.
    pub fn label(self, date: Date) -> String {
        let (year, month, _) = date.ymd();
        match self {
            Step::Month => format!("{year:04}-{month:02}"),
            Step::Quarter => format!("{year:04}-Q{}", (month - 1) / 3 + 1),
            Step::Year => format!("{year:04}"),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn last_day_of_month(year: i32, month: u32) -> Option<Date> {
    (28..=31)
        .rev()
        .find_map(|day| Date::from_ymd(year, month, day))
}

/// Why a range cannot be split into report periods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeriodError {
    /// The range ends before it starts.
    Reversed { from: Date, to: Date },
    /// The range has more periods of this step than a report may show.
    TooMany { count: i64, step: Step, max: usize },
}

impl fmt::Display for PeriodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeriodError::Reversed { from, to } => {
                write!(f, "the period ends ({to}) before it starts ({from})")
            }
            PeriodError::TooMany { count, step, max } => write!(
                f,
                "this range makes {count} {step} columns; a report has at most {max}: choose a \
                 longer step or a shorter range"
            ),
        }
    }
}

impl std::error::Error for PeriodError {}

/// `[from, to]` as calendar periods of `step`, each `(first day, last day)`, in order.
pub fn periods(from: Date, to: Date, step: Step) -> Result<Vec<(Date, Date)>, PeriodError> {
    if to < from {
        return Err(PeriodError::Reversed { from, to });
    }
    let count = step.index(to) - step.index(from) + 1;
    let fits = usize::try_from(count).is_ok_and(|count| count <= REPORT_PERIODS_MAX);
    if !fits {
        return Err(PeriodError::TooMany {
            count,
            step,
            max: REPORT_PERIODS_MAX,
        });
    }
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut start = from;
    loop {
        let end = step.period_end(start).min(to);
        out.push((start, end));
        if end >= to {
            return Ok(out);
        }
        match Date::from_days_since_epoch(end.days_since_epoch() + 1) {
            Some(next) => start = next,
            None => return Ok(out), // `end` < `to` <= 9999-12-31, so this is unreachable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        Date::parse(text).expect(text)
    }

    fn texts(periods: &[(Date, Date)]) -> Vec<String> {
        periods
            .iter()
            .map(|(from, to)| format!("{from}..{to}"))
            .collect()
    }

    #[test]
    fn months_split_at_month_ends_with_partial_first_and_last_periods() {
        let months = periods(day("2024-01-15"), day("2024-04-10"), Step::Month).expect("months");
        assert_eq!(
            texts(&months),
            [
                "2024-01-15..2024-01-31",
                "2024-02-01..2024-02-29",
                "2024-03-01..2024-03-31",
                "2024-04-01..2024-04-10",
            ]
        );
    }

    #[test]
    fn quarters_and_years_follow_the_calendar() {
        let quarters =
            periods(day("2023-11-20"), day("2024-08-31"), Step::Quarter).expect("quarters");
        assert_eq!(
            texts(&quarters),
            [
                "2023-11-20..2023-12-31",
                "2024-01-01..2024-03-31",
                "2024-04-01..2024-06-30",
                "2024-07-01..2024-08-31",
            ]
        );
        let years = periods(day("2022-07-01"), day("2024-12-31"), Step::Year).expect("years");
        assert_eq!(
            texts(&years),
            [
                "2022-07-01..2022-12-31",
                "2023-01-01..2023-12-31",
                "2024-01-01..2024-12-31",
            ]
        );
    }

    #[test]
    fn one_day_is_one_period_and_a_reversed_range_is_refused() {
        let single = day("2024-02-29");
        for step in Step::ALL {
            assert_eq!(periods(single, single, step), Ok(vec![(single, single)]));
        }
        assert_eq!(
            periods(day("2024-03-01"), day("2024-02-29"), Step::Month),
            Err(PeriodError::Reversed {
                from: day("2024-03-01"),
                to: day("2024-02-29"),
            })
        );
    }

    #[test]
    fn the_periods_cover_the_range_exactly() {
        for step in Step::ALL {
            let (from, to) = (day("2021-02-13"), day("2023-12-30"));
            let split = periods(from, to, step).expect("periods");
            assert_eq!(split.first().map(|p| p.0), Some(from));
            assert_eq!(split.last().map(|p| p.1), Some(to));
            for pair in split.windows(2) {
                assert_eq!(
                    pair[0].1.days_since_epoch() + 1,
                    pair[1].0.days_since_epoch()
                );
            }
            for (start, end) in &split {
                assert!(start <= end);
                assert_eq!(step.label(*start), step.label(*end), "one calendar period");
            }
        }
    }

    #[test]
    fn more_periods_than_report_periods_max_are_refused() {
        // 36 months fit exactly; one day more starts a 37th.
        let from = day("2022-01-01");
        let fits = periods(from, day("2024-12-31"), Step::Month).expect("36 months");
        assert_eq!(fits.len(), REPORT_PERIODS_MAX);
        assert_eq!(
            periods(from, day("2025-01-01"), Step::Month),
            Err(PeriodError::TooMany {
                count: 37,
                step: Step::Month,
                max: REPORT_PERIODS_MAX,
            })
        );
        // The whole calendar by year is counted, not built.
        let everything = periods(day("0001-01-01"), day("9999-12-31"), Step::Year);
        assert!(matches!(
            everything,
            Err(PeriodError::TooMany { count: 9999, .. })
        ));
        let message = periods(from, day("2025-01-01"), Step::Month)
            .expect_err("too many")
            .to_string();
        assert!(message.contains("37 month columns"), "{message}");
        assert!(message.contains("at most 36"), "{message}");
    }

    #[test]
    fn the_last_day_of_the_calendar_ends_a_period() {
        let last = day("9999-12-31");
        for step in Step::ALL {
            let split = periods(day("9999-11-15"), last, step).expect("periods");
            assert_eq!(split.last().map(|p| p.1), Some(last));
        }
    }

    #[test]
    fn labels_and_names() {
        assert_eq!(Step::Month.label(day("2024-03-09")), "2024-03");
        assert_eq!(Step::Quarter.label(day("2024-12-09")), "2024-Q4");
        assert_eq!(Step::Year.label(day("2024-03-09")), "2024");
        for step in Step::ALL {
            assert_eq!(Step::from_str_exact(step.as_str()), Some(step));
        }
        assert_eq!(Step::from_str_exact("week"), None);
        assert_eq!(Step::from_str_exact("Month"), None);
    }
}

//! Number filters registered on every kiln environment: `thousands`, `fixed` and `decimal`.
//!
//! - `{{ 1234567|thousands }}` → `1,234,567`; `{{ n|thousands(" ") }}` picks the separator.
//!   Works on integers, floats and numeric strings (`"-1234.50"` → `-1,234.50`).
//! - `{{ 3.14159|fixed(2) }}` → `3.14`: float formatting with that many decimals (binary
//!   floating point, so `2.675|fixed(2)` is `2.67`, like every float formatter).
//! - `{{ "2.675"|decimal(2) }}` → `2.68`: exact decimal rounding, half away from zero, on the
//!   number's decimal digits (a float is first written in its shortest round-trip form), for
//!   money. `decimal` defaults to 2 places; `scale=n` reads an integer as units of `10^-n`, so
//!   `{{ 123456|decimal(2, scale=2) }}` (cents) → `1234.56`. Chain with `thousands` for
//!   `1,234.56`.
//!
//! Non-numbers are errors, not silently passed through. Dates are in `date.rs`.
//! Tests: at the bottom of this file.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// Most decimal places `fixed` and `decimal` produce.
const DECIMAL_PLACES_MAX: usize = 18;
/// Largest `scale` `decimal` accepts.
const DECIMAL_SCALE_MAX: usize = 38;

pub(crate) fn register(env: &mut minijinja::Environment<'static>) {
    env.add_filter("thousands", thousands);
    env.add_filter("fixed", fixed);
    env.add_filter("decimal", decimal);
}

/// A number as its decimal digits, without exponent.
#[derive(Debug, PartialEq, Eq)]
struct Digits {
    negative: bool,
    /// At least one digit.
    integer: String,
    fraction: String,
}

impl Digits {
    fn parse(text: &str) -> Option<Digits> {
        let text = text.trim();
        let (negative, unsigned) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (integer, fraction) = match unsigned.split_once('.') {
            Some((_, "")) => return None,
            Some((integer, fraction)) => (integer, fraction),
            None => (unsigned, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let valid = !integer.is_empty() && all_digits(integer) && all_digits(fraction);
        valid.then(|| Digits {
            negative,
            integer: integer.to_owned(),
            fraction: fraction.to_owned(),
        })
    }

    fn is_zero(&self) -> bool {
        self.integer
            .bytes()
            .chain(self.fraction.bytes())
            .all(|b| b == b'0')
    }

    fn render(&self, separator: Option<&str>) -> String {
        let mut out = String::with_capacity(self.integer.len() * 2 + self.fraction.len() + 2);
        if self.negative && !self.is_zero() {
            out.push('-');
        }
        let integer = self.integer.trim_start_matches('0');
        let integer = if integer.is_empty() { "0" } else { integer };
        for (i, digit) in integer.chars().enumerate() {
            if let Some(separator) = separator
                && i > 0
                && (integer.len() - i) % 3 == 0
            {
                out.push_str(separator);
            }
            out.push(digit);
        }
        if !self.fraction.is_empty() {
            out.push('.');
            out.push_str(&self.fraction);
        }
        out
    }

    /// Rounds (half away from zero) or pads to exactly `places` fraction digits.
    fn round(mut self, places: usize) -> Digits {
        if self.fraction.len() <= places {
            let padding = places - self.fraction.len();
            self.fraction.extend(std::iter::repeat_n('0', padding));
            return self;
        }
        let round_up = self.fraction.as_bytes()[places] >= b'5';
        self.fraction.truncate(places);
        if round_up {
            let mut all: Vec<u8> = self.integer.bytes().chain(self.fraction.bytes()).collect();
            let mut i = all.len();
            loop {
                if i == 0 {
                    all.insert(0, b'1');
                    break;
                }
                i -= 1;
                if all[i] == b'9' {
                    all[i] = b'0';
                } else {
                    all[i] += 1;
                    break;
                }
            }
            let split = all.len() - places;
            self.fraction = String::from_utf8_lossy(&all[split..]).into_owned();
            self.integer = String::from_utf8_lossy(&all[..split]).into_owned();
        }
        self
    }

    /// Divides by `10^scale` by moving the decimal point.
    fn shift_left(self, scale: usize) -> Digits {
        let mut integer = self.integer;
        if integer.len() <= scale {
            let padding = scale + 1 - integer.len();
            integer.insert_str(0, &"0".repeat(padding));
        }
        let fraction = format!("{}{}", &integer[integer.len() - scale..], self.fraction);
        integer.truncate(integer.len() - scale);
        Digits {
            negative: self.negative,
            integer,
            fraction,
        }
    }
}

fn not_a_number(filter: &str, value: &Value) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{filter}: expected a number or a numeric string, got {value:?}"),
    )
}

/// The exact decimal digits of a number value (floats in shortest round-trip form).
fn digits_of(filter: &str, value: &Value) -> Result<Digits, Error> {
    let text = match value.kind() {
        ValueKind::Number if value.is_integer() => value.to_string(),
        ValueKind::Number => {
            let float = f64::try_from(value.clone())?;
            if !float.is_finite() {
                return Err(not_a_number(filter, value));
            }
            format!("{float}")
        }
        ValueKind::String => value.as_str().unwrap_or_default().to_owned(),
        _ => return Err(not_a_number(filter, value)),
    };
    Digits::parse(&text).ok_or_else(|| not_a_number(filter, value))
}

fn thousands(value: Value, separator: Option<&str>) -> Result<String, Error> {
    let digits = digits_of("thousands", &value)?;
    Ok(digits.render(Some(separator.unwrap_or(","))))
}

fn check_places(filter: &str, places: usize) -> Result<(), Error> {
    if places > DECIMAL_PLACES_MAX {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("{filter}: at most {DECIMAL_PLACES_MAX} decimal places"),
        ));
    }
    Ok(())
}

fn fixed(value: Value, places: usize) -> Result<String, Error> {
    check_places("fixed", places)?;
    if value.kind() == ValueKind::Number && value.is_integer() {
        return Ok(digits_of("fixed", &value)?.round(places).render(None));
    }
    let float = match value.as_str() {
        Some(text) => text.trim().parse::<f64>().ok(),
        None if value.kind() == ValueKind::Number => f64::try_from(value.clone()).ok(),
        None => None,
    };
    let float = float
        .filter(|float| float.is_finite())
        .ok_or_else(|| not_a_number("fixed", &value))?;
    let text = format!("{float:.places$}");
    // `-0.00` reads as a sign error on a page: write zero without a sign.
    let digits = Digits::parse(&text).ok_or_else(|| not_a_number("fixed", &value))?;
    Ok(digits.render(None))
}

fn decimal(value: Value, places: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let places = places.unwrap_or(2);
    let scale: Option<usize> = kwargs.get("scale")?;
    kwargs.assert_all_used()?;
    check_places("decimal", places)?;
    let scale = scale.unwrap_or(0);
    if scale > DECIMAL_SCALE_MAX {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("decimal: scale is at most {DECIMAL_SCALE_MAX}"),
        ));
    }
    let digits = digits_of("decimal", &value)?.shift_left(scale);
    Ok(digits.round(places).render(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, value: Value) -> Result<String, Error> {
        let mut env = minijinja::Environment::new();
        register(&mut env);
        env.render_str(source, minijinja::context! { v => value })
    }

    fn ok(source: &str, value: impl Into<Value>) -> String {
        render(source, value.into()).unwrap()
    }

    #[test]
    fn thousands_groups_integers_floats_and_strings() {
        assert_eq!(ok("{{ v|thousands }}", 1234567), "1,234,567");
        assert_eq!(ok("{{ v|thousands }}", 999), "999");
        assert_eq!(ok("{{ v|thousands }}", 0), "0");
        assert_eq!(ok("{{ v|thousands }}", -1234), "-1,234");
        assert_eq!(ok("{{ v|thousands }}", 1234.5), "1,234.5");
        assert_eq!(ok("{{ v|thousands(' ') }}", 1000000), "1 000 000");
        assert_eq!(ok("{{ v|thousands }}", "-1234567.50"), "-1,234,567.50");
        assert_eq!(
            ok("{{ v|thousands }}", u64::MAX),
            "18,446,744,073,709,551,615"
        );
        assert_eq!(
            ok("{{ v|thousands }}", i128::MIN),
            "-170,141,183,460,469,231,731,687,303,715,884,105,728"
        );
    }

    #[test]
    fn non_numbers_are_errors() {
        for value in [
            Value::from("12a"),
            Value::from(true),
            Value::from(()),
            Value::from("1e5"),
        ] {
            assert!(
                render("{{ v|thousands }}", value.clone()).is_err(),
                "{value:?}"
            );
            assert!(
                render("{{ v|decimal }}", value.clone()).is_err(),
                "{value:?}"
            );
        }
        assert!(render("{{ v|fixed(2) }}", Value::from(f64::NAN)).is_err());
        assert!(render("{{ v|decimal }}", Value::from(".5")).is_err());
        assert!(render("{{ v|decimal }}", Value::from("5.")).is_err());
    }

    #[test]
    fn fixed_formats_floats() {
        assert_eq!(ok("{{ v|fixed(2) }}", 1.23456), "1.23");
        assert_eq!(ok("{{ v|fixed(0) }}", 2.5), "2");
        assert_eq!(ok("{{ v|fixed(3) }}", 7), "7.000");
        assert_eq!(ok("{{ v|fixed(1) }}", "2.25"), "2.2");
        assert_eq!(ok("{{ v|fixed(2) }}", -0.001), "0.00");
        assert!(render("{{ v|fixed(19) }}", Value::from(1)).is_err());
    }

    #[test]
    fn decimal_rounds_exactly_half_away_from_zero() {
        assert_eq!(ok("{{ v|decimal }}", 2.675), "2.68");
        assert_eq!(ok("{{ v|decimal(2) }}", "2.675"), "2.68");
        assert_eq!(ok("{{ v|decimal(2) }}", "-2.675"), "-2.68");
        assert_eq!(ok("{{ v|decimal(2) }}", "2.674999"), "2.67");
        assert_eq!(ok("{{ v|decimal(2) }}", "9.995"), "10.00");
        assert_eq!(ok("{{ v|decimal(0) }}", "999.5"), "1000");
        assert_eq!(ok("{{ v|decimal(3) }}", 5), "5.000");
        assert_eq!(ok("{{ v|decimal(2) }}", "-0.001"), "0.00");
        assert_eq!(ok("{{ v|decimal(2) }}", "007.1"), "7.10");
        assert_eq!(ok("{{ v|decimal(1) }}", 0.1), "0.1");
    }

    #[test]
    fn decimal_scale_reads_minor_units() {
        assert_eq!(ok("{{ v|decimal(2, scale=2) }}", 123456), "1234.56");
        assert_eq!(ok("{{ v|decimal(2, scale=2) }}", -5), "-0.05");
        assert_eq!(ok("{{ v|decimal(1, scale=2) }}", 5), "0.1");
        assert_eq!(
            ok("{{ v|decimal(2, scale=2)|thousands }}", 123456789),
            "1,234,567.89"
        );
        assert!(render("{{ v|decimal(2, scal=2) }}", Value::from(1)).is_err());
        assert!(render("{{ v|decimal(2, scale=39) }}", Value::from(1)).is_err());
    }
}

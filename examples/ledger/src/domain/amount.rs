//! Money without floats: `Amount` (an integer count of a commodity's minor units),
//! `Commodity` (a code and its precision), and `Decimal` (an exact decimal as written, before
//! it meets a commodity).
//!
//! Text becomes an `Amount` in two exact steps: `Decimal::parse` reads the digits, and
//! `Decimal::to_minor_units` scales them to the commodity's precision. A value that would need
//! rounding (`12.345` in USD) is an error, never rounded; trailing zeros beyond the precision
//! (`12.340`) are accepted because nothing is lost. Thousands separators, exponents, leading
//! `+` and a bare `.5` or `5.` are refused. Amounts are `i64` because that is what SQLite's
//! INTEGER and PostgreSQL's BIGINT hold; every operation is checked, and overflow is an error.
//! This module reads no commodity table and knows nothing of accounts. Tests at the bottom.

use crate::limits::{AMOUNT_TEXT_BYTES_MAX, COMMODITY_CODE_BYTES_MAX, COMMODITY_PRECISION_MAX};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A signed count of minor units (cents for USD, yen for JPY, satoshis for BTC). Positive is a
/// debit, negative a credit, as in hledger and ledger.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Amount(pub i64);

/// An exact decimal as written: `units * 10^-scale`. Invariant: `scale <= COMMODITY_PRECISION_MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decimal {
    units: i64,
    scale: u8,
}

/// A commodity's code (`USD`, `€`, `BTC`). Invariant: 1 to `COMMODITY_CODE_BYTES_MAX` bytes of
/// letters, `_` or currency symbols; no digits, spaces or punctuation (journal syntax stays
/// unambiguous).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommodityCode(String);

/// A commodity and the number of digits after its decimal mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commodity {
    /// Its code, unique within a tenant.
    pub code: CommodityCode,
    /// Digits after the decimal mark, at most `COMMODITY_PRECISION_MAX`.
    pub precision: u8,
}

/// Why text is not an amount, or an amount does not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AmountError {
    /// Not a plain decimal number (or longer than `AMOUNT_TEXT_BYTES_MAX`).
    Malformed,
    /// More significant fractional digits than the commodity has.
    Precision { precision: u8 },
    /// The value does not fit in an `i64` of minor units.
    Overflow,
}

/// Why text is not a commodity code, or a precision is out of range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommodityError {
    /// Empty, too long, or a character outside the allowed set.
    InvalidCode,
    /// More than `COMMODITY_PRECISION_MAX` digits.
    PrecisionTooLarge,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmountError::Malformed => f.write_str("not a decimal amount"),
            AmountError::Precision { precision } => {
                write!(f, "more than {precision} digits after the decimal mark")
            }
            AmountError::Overflow => f.write_str("amount out of range"),
        }
    }
}

impl fmt::Display for CommodityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommodityError::InvalidCode => {
                f.write_str("a commodity code is 1 to 24 bytes of letters, `_` or currency symbols")
            }
            CommodityError::PrecisionTooLarge => {
                write!(f, "a precision is at most {COMMODITY_PRECISION_MAX} digits")
            }
        }
    }
}

impl std::error::Error for AmountError {}
impl std::error::Error for CommodityError {}

impl Amount {
    /// Zero minor units.
    pub const ZERO: Amount = Amount(0);

    /// `self + other`, or `Overflow`.
    pub fn checked_add(self, other: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_add(other.0)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// `self - other`, or `Overflow`.
    pub fn checked_sub(self, other: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_sub(other.0)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// `-self`, or `Overflow` (for `i64::MIN`).
    pub fn checked_neg(self) -> Result<Amount, AmountError> {
        self.0
            .checked_neg()
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// Parses `text` for a commodity with `precision` digits: `Decimal::parse` then
    /// `to_minor_units`.
    pub fn parse(text: &str, precision: u8) -> Result<Amount, AmountError> {
        Decimal::parse(text)?.to_minor_units(precision)
    }

    /// Formats with exactly `precision` fractional digits: `-1234.50`, `7`, `0.00000001`.
    /// `Amount::parse` reads the result back to the same amount.
    pub fn format(self, precision: u8) -> String {
        let magnitude = self.0.unsigned_abs().to_string();
        let precision = usize::from(precision);
        let padded = format!("{magnitude:0>width$}", width = precision + 1);
        let (whole, fraction) = padded.split_at(padded.len() - precision);
        let sign = if self.0 < 0 { "-" } else { "" };
        if fraction.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{fraction}")
        }
    }
}

impl Decimal {
    /// Reads `-?DIGITS(.DIGITS)?` exactly. At most `COMMODITY_PRECISION_MAX` fractional digits
    /// are kept as written (more is `Malformed`: no commodity could hold them).
    pub fn parse(text: &str) -> Result<Decimal, AmountError> {
        if text.len() > AMOUNT_TEXT_BYTES_MAX {
            return Err(AmountError::Malformed);
        }
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let well_formed = is_digits(whole)
            && (fraction.is_empty() || is_digits(fraction))
            && !digits.ends_with('.');
        if !well_formed || fraction.len() > usize::from(COMMODITY_PRECISION_MAX) {
            return Err(AmountError::Malformed);
        }
        // Accumulate with the sign so that `i64::MIN` itself parses.
        let units = whole
            .bytes()
            .chain(fraction.bytes())
            .try_fold(0i64, |acc, digit| {
                let digit = i64::from(digit - b'0');
                let shifted = acc.checked_mul(10)?;
                if negative {
                    shifted.checked_sub(digit)
                } else {
                    shifted.checked_add(digit)
                }
            })
            .ok_or(AmountError::Overflow)?;
        let scale = u8::try_from(fraction.len()).map_err(|_| AmountError::Malformed)?;
        Ok(Decimal { units, scale })
    }

    /// The same value in minor units of a commodity with `precision` digits, exactly.
    pub fn to_minor_units(self, precision: u8) -> Result<Amount, AmountError> {
        if self.scale <= precision {
            let factor = pow10(precision - self.scale).ok_or(AmountError::Overflow)?;
            return self
                .units
                .checked_mul(factor)
                .map(Amount)
                .ok_or(AmountError::Overflow);
        }
        let divisor = pow10(self.scale - precision).ok_or(AmountError::Overflow)?;
        if self.units % divisor != 0 {
            return Err(AmountError::Precision { precision });
        }
        Ok(Amount(self.units / divisor))
    }
}

impl Decimal {
    /// Digits after the decimal mark as written (`12.50` has 2).
    pub fn scale(self) -> u8 {
        self.scale
    }

    /// Whether two decimals are the same number (`12.5` and `12.50` are). Exact: both are
    /// widened to the larger scale in an `i128` (at most `i64::MAX * 10^18`, which fits).
    pub fn same_value(self, other: Decimal) -> bool {
        let scale = self.scale.max(other.scale);
        let widen = |d: Decimal| i128::from(d.units) * 10i128.pow(u32::from(scale - d.scale));
        widen(self) == widen(other)
    }
}

fn pow10(exponent: u8) -> Option<i64> {
    10i64.checked_pow(u32::from(exponent))
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Amount(self.units).format(self.scale))
    }
}

impl Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = String::deserialize(deserializer)?;
        Decimal::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl CommodityCode {
    /// Checks `code` against the rules of the type.
    pub fn new(code: &str) -> Result<CommodityCode, CommodityError> {
        let allowed = |c: char| c.is_alphabetic() || c == '_' || "$€£¥₹₩₽¢".contains(c);
        let valid =
            !code.is_empty() && code.len() <= COMMODITY_CODE_BYTES_MAX && code.chars().all(allowed);
        if valid {
            Ok(CommodityCode(code.to_owned()))
        } else {
            Err(CommodityError::InvalidCode)
        }
    }

    /// The code as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommodityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CommodityCode {
    type Error = CommodityError;
    fn try_from(code: String) -> Result<CommodityCode, CommodityError> {
        CommodityCode::new(&code)
    }
}

impl From<CommodityCode> for String {
    fn from(code: CommodityCode) -> String {
        code.0
    }
}

impl Commodity {
    /// A commodity, if `code` and `precision` are valid.
    pub fn new(code: &str, precision: u8) -> Result<Commodity, CommodityError> {
        if precision > COMMODITY_PRECISION_MAX {
            return Err(CommodityError::PrecisionTooLarge);
        }
        Ok(Commodity {
            code: CommodityCode::new(code)?,
            precision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_within_precision() {
        assert_eq!(Amount::parse("12.34", 2), Ok(Amount(1234)));
        assert_eq!(Amount::parse("12.3", 2), Ok(Amount(1230)));
        assert_eq!(Amount::parse("12", 2), Ok(Amount(1200)));
        assert_eq!(Amount::parse("-0.01", 2), Ok(Amount(-1)));
        assert_eq!(Amount::parse("1500", 0), Ok(Amount(1500)));
        assert_eq!(Amount::parse("0.00000001", 8), Ok(Amount(1)));
    }

    #[test]
    fn over_precision_is_an_error_never_a_rounding() {
        assert_eq!(
            Amount::parse("12.345", 2),
            Err(AmountError::Precision { precision: 2 })
        );
        assert_eq!(
            Amount::parse("1.5", 0),
            Err(AmountError::Precision { precision: 0 })
        );
        assert_eq!(
            Amount::parse("0.000000001", 8),
            Err(AmountError::Precision { precision: 8 })
        );
    }

    #[test]
    fn trailing_zeros_beyond_precision_lose_nothing() {
        assert_eq!(Amount::parse("12.340", 2), Ok(Amount(1234)));
        assert_eq!(Amount::parse("7.000", 0), Ok(Amount(7)));
    }

    #[test]
    fn refuses_anything_but_plain_decimals() {
        for text in [
            "", "-", ".", "1.", ".5", "+1", "1,000", "1 000", "1e3", "1.2.3", "--1", " 1", "1 ",
            "0x10", "١٢", "NaN",
        ] {
            assert_eq!(
                Amount::parse(text, 2),
                Err(AmountError::Malformed),
                "{text:?}"
            );
        }
    }

    #[test]
    fn amount_text_longer_than_the_limit_is_refused() {
        let at_limit = format!("1.{}", "0".repeat(AMOUNT_TEXT_BYTES_MAX - 2));
        assert_eq!(at_limit.len(), AMOUNT_TEXT_BYTES_MAX);
        assert_eq!(Decimal::parse(&at_limit), Err(AmountError::Malformed)); // 46 fraction digits
        let long_zeros = "0".repeat(AMOUNT_TEXT_BYTES_MAX);
        assert_eq!(Amount::parse(&long_zeros, 2), Ok(Amount(0)));
        assert_eq!(
            Amount::parse(&format!("{long_zeros}0"), 2),
            Err(AmountError::Malformed)
        );
    }

    #[test]
    fn decimals_compare_by_value() {
        let d = |t| Decimal::parse(t).expect(t);
        assert!(d("12.5").same_value(d("12.50")));
        assert!(d("-0").same_value(d("0.000")));
        assert!(!d("12.5").same_value(d("12.05")));
        // The widest case: i64::MAX at scale 0 against scale 18 fits the i128.
        assert!(!d("9223372036854775807").same_value(d("0.000000000000000001")));
        assert!(d("-9223372036854775808").same_value(d("-9223372036854775808")));
    }

    #[test]
    fn overflow_is_an_error() {
        assert_eq!(
            Amount::parse("92233720368547758.07", 2),
            Ok(Amount(i64::MAX))
        );
        assert_eq!(
            Amount::parse("92233720368547758.08", 2),
            Err(AmountError::Overflow)
        );
        assert_eq!(
            Amount::parse("99999999999999999999", 0),
            Err(AmountError::Overflow)
        );
        assert_eq!(Amount::parse("10", 18), Err(AmountError::Overflow));
        assert_eq!(
            Amount(i64::MAX).checked_add(Amount(1)),
            Err(AmountError::Overflow)
        );
        assert_eq!(
            Amount(i64::MIN).checked_sub(Amount(1)),
            Err(AmountError::Overflow)
        );
        assert_eq!(Amount(i64::MIN).checked_neg(), Err(AmountError::Overflow));
    }

    #[test]
    fn formats_with_the_commodity_precision() {
        assert_eq!(Amount(-123450).format(2), "-1234.50");
        assert_eq!(Amount(5).format(2), "0.05");
        assert_eq!(Amount(-5).format(2), "-0.05");
        assert_eq!(Amount(1500).format(0), "1500");
        assert_eq!(Amount(1).format(8), "0.00000001");
        assert_eq!(Amount(i64::MIN).format(2), "-92233720368547758.08");
    }

    #[test]
    fn commodity_codes_and_precisions() {
        assert!(Commodity::new("USD", 2).is_ok());
        assert!(Commodity::new("€", 2).is_ok());
        assert!(Commodity::new("BTC", 8).is_ok());
        assert_eq!(
            Commodity::new("USD", 19),
            Err(CommodityError::PrecisionTooLarge)
        );
        assert!(Commodity::new("USD", COMMODITY_PRECISION_MAX).is_ok());
        for code in [
            "",
            "US D",
            "U1",
            "a-b",
            "\"X\"",
            "X;",
            &"A".repeat(COMMODITY_CODE_BYTES_MAX + 1),
        ] {
            assert_eq!(
                CommodityCode::new(code),
                Err(CommodityError::InvalidCode),
                "{code:?}"
            );
        }
        assert!(CommodityCode::new(&"A".repeat(COMMODITY_CODE_BYTES_MAX)).is_ok());
    }

    proptest! {
        #[test]
        fn format_then_parse_is_the_identity(units in any::<i64>(), precision in 0u8..=COMMODITY_PRECISION_MAX) {
            let text = Amount(units).format(precision);
            prop_assert_eq!(Amount::parse(&text, precision), Ok(Amount(units)));
        }

        #[test]
        fn parse_then_format_is_canonical(whole in 0u32..1_000_000, cents in 0u32..100, negative: bool) {
            let text = format!("{}{whole}.{cents:02}", if negative && (whole, cents) != (0, 0) { "-" } else { "" });
            let amount = Amount::parse(&text, 2).map(|a| a.format(2));
            prop_assert_eq!(amount, Ok(text));
        }
    }
}

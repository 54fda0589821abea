//! Prices: what one unit of a commodity is worth in another on a date (`Price`), as an exact
//! decimal `Rate`, and the pure arithmetic of reports that value balances with them
//! (`convert`, `convert_inverse`, `value_at`).
//!
//! A `Rate` is `units * 10^-scale` with `units` a positive `i64` and `scale` at most
//! `PRICE_RATE_SCALE_MAX`: no floats anywhere. Text is read exactly (`1.0842`); a sign, an
//! exponent, digit groups, zero, more than `PRICE_RATE_SCALE_MAX` significant decimals or
//! more than `PRICE_RATE_TEXT_BYTES_MAX` bytes are refused with the reason, never rounded.
//! Trailing fractional zeros are dropped (`1.0840` is `1.084`), so `==` is equality of value.
//!
//! Rounding rule (reports only): a converted amount is rounded to the target commodity's
//! minor unit, **half to even** (banker's rounding, as hledger does; ledger-cli rounds an
//! exact half toward zero, so the two tools can differ by one minor unit on an exact half).
//! Postings are never converted: a price changes no entry and no stored balance, only what a
//! report shows. `value_at` rounds each commodity's value on its own, then adds the rounded
//! values (so a total can differ from a tool that rounds once by half a minor unit per
//! commodity converted).
//!
//! Not here: storage (`Store::set_price`), journal syntax (`interop::parse`), chains of
//! prices (EUR -> USD -> JPY): `value_at` uses a direct or an inverse pair only. Tests at the
//! bottom.

use super::{Amount, Commodity, CommodityCode, Date};
use crate::limits::{PRICE_RATE_SCALE_MAX, PRICE_RATE_TEXT_BYTES_MAX};
use std::fmt;

/// An exact positive decimal, `units * 10^-scale`. Invariants: `units > 0`, `scale <=
/// PRICE_RATE_SCALE_MAX`, and no trailing fractional zero (`units % 10 != 0` when `scale >
/// 0`), so each value has one representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    units: i64,
    scale: u8,
}

/// Why text or digits are not a `Rate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RateError {
    /// Longer than `PRICE_RATE_TEXT_BYTES_MAX` bytes.
    TooLong { bytes: usize },
    /// Not `DIGITS[.DIGITS]` (empty, letters, a sign, an exponent, digit groups...).
    Malformed,
    /// Zero or negative: a price is always positive.
    NotPositive,
    /// More than `PRICE_RATE_SCALE_MAX` significant digits after the decimal mark.
    TooManyDecimals { scale: usize },
    /// More significant digits than an `i64` holds (about 18).
    TooLarge,
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateError::TooLong { bytes } => write!(
                f,
                "a rate is at most {PRICE_RATE_TEXT_BYTES_MAX} bytes of text, this one is {bytes}"
            ),
            RateError::Malformed => f.write_str(
                "a rate is a plain decimal number such as 1.0842 (no sign, exponent or `,`)",
            ),
            RateError::NotPositive => f.write_str("a rate is greater than zero"),
            RateError::TooManyDecimals { scale } => write!(
                f,
                "a rate has at most {PRICE_RATE_SCALE_MAX} digits after the decimal mark, this one \
                 has {scale} (rates are never rounded)"
            ),
            RateError::TooLarge => f.write_str("a rate has too many significant digits"),
        }
    }
}

impl std::error::Error for RateError {}

impl Rate {
    /// Reads `DIGITS[.DIGITS]` exactly: `1.0842`, `150`, `0.00001234`.
    pub fn parse(text: &str) -> Result<Rate, RateError> {
        if text.len() > PRICE_RATE_TEXT_BYTES_MAX {
            return Err(RateError::TooLong { bytes: text.len() });
        }
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let well_formed = is_digits(whole) && (fraction.is_empty() || is_digits(fraction));
        if !well_formed || unsigned.ends_with('.') {
            return Err(RateError::Malformed);
        }
        if unsigned.len() != text.len() {
            return Err(RateError::NotPositive);
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > usize::from(PRICE_RATE_SCALE_MAX) {
            return Err(RateError::TooManyDecimals {
                scale: fraction.len(),
            });
        }
        let units = whole
            .bytes()
            .chain(fraction.bytes())
            .try_fold(0i64, |acc, digit| {
                acc.checked_mul(10)?.checked_add(i64::from(digit - b'0'))
            })
            .ok_or(RateError::TooLarge)?;
        let scale = u8::try_from(fraction.len()).map_err(|_| RateError::Malformed)?;
        Rate::new(units, scale)
    }

    /// `units * 10^-scale`, with trailing zeros taken off (a store reads its columns back
    /// through this, so a hand-edited row is checked too).
    pub fn new(units: i64, scale: u8) -> Result<Rate, RateError> {
        if units <= 0 {
            return Err(RateError::NotPositive);
        }
        if scale > PRICE_RATE_SCALE_MAX {
            return Err(RateError::TooManyDecimals {
                scale: usize::from(scale),
            });
        }
        let (mut units, mut scale) = (units, scale);
        while scale > 0 && units % 10 == 0 {
            units /= 10;
            scale -= 1;
        }
        Ok(Rate { units, scale })
    }

    /// The significant digits as an integer (`1.0842` -> 10842).
    pub fn units(self) -> i64 {
        self.units
    }

    /// Digits after the decimal mark (`1.0842` -> 4).
    pub fn scale(self) -> u8 {
        self.scale
    }
}

impl fmt::Display for Rate {
    /// As `Rate::parse` reads it back: `1.0842`, `150`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Amount(self.units).format(self.scale))
    }
}

/// On `date`, one unit of `commodity` is worth `rate` units of `quote` (`P 2024-03-01 EUR
/// 1.0842 USD`). A tenant has at most one price per commodity, quote and date.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Price {
    pub date: Date,
    /// The commodity priced; never the same as `quote` (`Price::new` and the store refuse it).
    pub commodity: CommodityCode,
    /// The commodity the rate is counted in.
    pub quote: CommodityCode,
    pub rate: Rate,
}

/// Why a price is not one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriceError {
    /// A commodity priced in itself.
    SameCommodity(CommodityCode),
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceError::SameCommodity(code) => {
                write!(
                    f,
                    "a price converts between two commodities, not {code} into itself"
                )
            }
        }
    }
}

impl std::error::Error for PriceError {}

impl Price {
    /// A price, unless `commodity` and `quote` are the same.
    pub fn new(
        date: Date,
        commodity: CommodityCode,
        quote: CommodityCode,
        rate: Rate,
    ) -> Result<Price, PriceError> {
        let price = Price {
            date,
            commodity,
            quote,
            rate,
        };
        price.check()?;
        Ok(price)
    }

    /// Checks the invariant the public fields cannot enforce: two different commodities.
    pub fn check(&self) -> Result<(), PriceError> {
        if self.commodity == self.quote {
            return Err(PriceError::SameCommodity(self.commodity.clone()));
        }
        Ok(())
    }
}

/// A converted amount does not fit in an `i64` of the target's minor units (or a precision
/// beyond `COMMODITY_PRECISION_MAX` was given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the converted amount is out of range")
    }
}

impl std::error::Error for Overflow {}

/// `amount_minor` (in minor units of a commodity with `from_precision` digits) times `rate`,
/// in minor units of a commodity with `to_precision` digits, rounded half to even. For a
/// price of the amount's commodity in the target (`EUR` -> `USD` with `P EUR 1.0842 USD`).
pub fn convert(
    amount_minor: Amount,
    from_precision: u8,
    to_precision: u8,
    rate: Rate,
) -> Result<Amount, Overflow> {
    // value = amount * 10^-from * units * 10^-scale, counted in 10^-to.
    let exponent = i32::from(to_precision) - i32::from(from_precision) - i32::from(rate.scale);
    let numerator = i128::from(amount_minor.0) * i128::from(rate.units);
    scaled_quotient(numerator, 1, exponent)
}

/// `amount_minor` divided by `rate`, rounded half to even: for a price of the target in the
/// amount's commodity (`JPY` -> `USD` with `P USD 150.25 JPY`). Same units as `convert`.
pub fn convert_inverse(
    amount_minor: Amount,
    from_precision: u8,
    to_precision: u8,
    rate: Rate,
) -> Result<Amount, Overflow> {
    // value = amount * 10^-from / (units * 10^-scale), counted in 10^-to.
    let exponent = i32::from(to_precision) - i32::from(from_precision) + i32::from(rate.scale);
    scaled_quotient(i128::from(amount_minor.0), i128::from(rate.units), exponent)
}

/// `numerator * 10^exponent / denominator` (`denominator > 0`) rounded half to even, as an
/// `i64`. Within the limits (precisions and scales at most 18, `i64` amounts and units) every
/// intermediate fits an `i128` unless the result could not fit an `i64` anyway: a product
/// over `i128::MAX` (~1.7 * 10^38) divided by at most `i64::MAX` (~9.2 * 10^18) is still over
/// `i64::MAX`. So an overflow anywhere is the answer `Overflow`, never a wrong number.
fn scaled_quotient(numerator: i128, denominator: i128, exponent: i32) -> Result<Amount, Overflow> {
    let power = |e: i32| {
        u32::try_from(e)
            .ok()
            .and_then(|e| 10i128.checked_pow(e))
            .ok_or(Overflow)
    };
    let (numerator, denominator) = if exponent >= 0 {
        (
            numerator.checked_mul(power(exponent)?).ok_or(Overflow)?,
            denominator,
        )
    } else {
        let factor = power(exponent.checked_neg().ok_or(Overflow)?)?;
        (numerator, denominator.checked_mul(factor).ok_or(Overflow)?)
    };
    let rounded = divide_half_even(numerator, denominator).ok_or(Overflow)?;
    i64::try_from(rounded).map(Amount).map_err(|_| Overflow)
}

/// `numerator / denominator` rounded to the nearest integer, an exact half to the even one.
/// `None` for a zero or negative denominator.
fn divide_half_even(numerator: i128, denominator: i128) -> Option<i128> {
    if denominator <= 0 {
        return None;
    }
    let quotient = numerator / denominator; // toward zero
    let remainder = (numerator % denominator).unsigned_abs(); // < denominator
    let rest = denominator.unsigned_abs() - remainder;
    let away = remainder > rest || (remainder == rest && quotient % 2 != 0);
    if !away {
        return Some(quotient);
    }
    Some(if numerator < 0 {
        quotient - 1
    } else {
        quotient + 1
    })
}

/// One commodity's balance, with the commodity's precision (what `convert` needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holding {
    pub commodity: Commodity,
    pub amount: Amount,
}

/// Which price valued a holding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriceUsed {
    /// The holding is in the target commodity: taken as it is.
    Target,
    /// A price of the holding's commodity in the target (`convert`).
    Direct(Price),
    /// A price of the target in the holding's commodity (`convert_inverse`).
    Inverse(Price),
}

/// A holding and what it is worth in the target commodity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Valued {
    pub commodity: CommodityCode,
    pub amount: Amount,
    /// In minor units of the target, rounded half to even.
    pub value: Amount,
    pub price: PriceUsed,
}

/// Balances valued in one commodity at a date.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Valuation {
    /// The sum of `valued`'s values, in minor units of the target. Leaves `unpriced` out.
    pub total: Amount,
    /// Every holding that could be valued, in the order given.
    pub valued: Vec<Valued>,
    /// Holdings with no price to the target on or before the date, unconverted, in the order
    /// given: reported, never dropped and never counted as zero.
    pub unpriced: Vec<Holding>,
}

/// Values `balances` in `target` at `date`. For each holding not in the target, the price
/// used is the latest one dated on or before `date` of the pair in either direction (a price
/// of the holding's commodity in the target, or of the target in the holding's commodity,
/// divided by); on the same day the direct price wins, and among equal candidates the later
/// in `prices` (as the later `P` line in a journal). This is ledger-cli's choice; hledger
/// prefers any direct price to a later inverse one. `prices` need not be sorted. Overflow of
/// a value or of the total is an error.
pub fn value_at(
    balances: &[Holding],
    prices: &[Price],
    target: &Commodity,
    date: Date,
) -> Result<Valuation, Overflow> {
    let mut valuation = Valuation::default();
    for holding in balances {
        let code = &holding.commodity.code;
        let from = holding.commodity.precision;
        let to = target.precision;
        let (value, price) = if *code == target.code {
            let value = convert(holding.amount, from, to, Rate { units: 1, scale: 0 })?;
            (value, PriceUsed::Target)
        } else {
            match latest_price(prices, code, &target.code, date) {
                Some((price, true)) => (
                    convert(holding.amount, from, to, price.rate)?,
                    PriceUsed::Direct(price.clone()),
                ),
                Some((price, false)) => (
                    convert_inverse(holding.amount, from, to, price.rate)?,
                    PriceUsed::Inverse(price.clone()),
                ),
                None => {
                    valuation.unpriced.push(holding.clone());
                    continue;
                }
            }
        };
        valuation.total = valuation.total.checked_add(value).map_err(|_| Overflow)?;
        valuation.valued.push(Valued {
            commodity: code.clone(),
            amount: holding.amount,
            value,
            price,
        });
    }
    Ok(valuation)
}

/// The latest price between `from` and `to` on or before `date`, and whether it is direct
/// (`from` priced in `to`); see `value_at` for the tie rules.
fn latest_price<'a>(
    prices: &'a [Price],
    from: &CommodityCode,
    to: &CommodityCode,
    date: Date,
) -> Option<(&'a Price, bool)> {
    let candidates = prices.iter().filter(|p| p.date <= date).filter_map(|p| {
        let direct = p.commodity == *from && p.quote == *to;
        let inverse = p.commodity == *to && p.quote == *from;
        (direct || inverse).then_some(((p.date, direct), p))
    });
    // `max_by_key` keeps the last of equal maxima: the later price in the slice.
    let ((_, direct), price) = candidates.max_by_key(|(key, _)| *key)?;
    Some((price, direct))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::COMMODITY_PRECISION_MAX;
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    fn rate(text: &str) -> Rate {
        Rate::parse(text).expect(text)
    }

    fn code(text: &str) -> CommodityCode {
        CommodityCode::new(text).expect(text)
    }

    fn day(text: &str) -> Date {
        Date::parse(text).expect(text)
    }

    fn price(date: &str, commodity: &str, rate_text: &str, quote: &str) -> Price {
        Price::new(day(date), code(commodity), code(quote), rate(rate_text)).expect("price")
    }

    fn holding(code: &str, precision: u8, amount: i64) -> Holding {
        Holding {
            commodity: Commodity::new(code, precision).expect(code),
            amount: Amount(amount),
        }
    }

    fn usd() -> Commodity {
        Commodity::new("USD", 2).expect("USD")
    }

    #[test]
    fn rates_parse_exactly_and_print_back() {
        for (text, units, scale, shown) in [
            ("1.0842", 10_842, 4, "1.0842"),
            ("150", 150, 0, "150"),
            ("150.25", 15_025, 2, "150.25"),
            ("0.00001234", 1_234, 8, "0.00001234"),
            ("1.0840", 1_084, 3, "1.084"),
            ("007.50", 75, 1, "7.5"),
            ("2.000", 2, 0, "2"),
        ] {
            let parsed = rate(text);
            assert_eq!((parsed.units(), parsed.scale()), (units, scale), "{text}");
            assert_eq!(parsed.to_string(), shown);
            assert_eq!(Rate::parse(shown), Ok(parsed));
        }
        assert_eq!(rate("1.5"), rate("1.50000"));
        assert_eq!(Rate::new(15_000, 4), Ok(rate("1.5")));
    }

    #[test]
    fn garbage_zero_and_negative_rates_are_refused_with_the_reason() {
        for text in [
            "", ".", "1.", ".5", "+1", "1,000.5", "1e3", "1.2.3", "--1", " 1", "1 ", "NaN", "abc",
            "1.5 USD", "-", "0x10",
        ] {
            assert_eq!(Rate::parse(text), Err(RateError::Malformed), "{text:?}");
        }
        for text in ["0", "0.000", "-1.5", "-0"] {
            assert_eq!(Rate::parse(text), Err(RateError::NotPositive), "{text:?}");
        }
        assert_eq!(Rate::new(0, 0), Err(RateError::NotPositive));
        assert_eq!(Rate::new(-3, 1), Err(RateError::NotPositive));
        assert_eq!(
            Rate::parse("99999999999999999999"),
            Err(RateError::TooLarge)
        );
        assert!(
            RateError::Malformed
                .to_string()
                .contains("plain decimal number")
        );
    }

    #[test]
    fn rate_text_longer_than_the_limit_is_refused() {
        let at_limit = format!("1.{}", "0".repeat(PRICE_RATE_TEXT_BYTES_MAX - 2));
        assert_eq!(at_limit.len(), PRICE_RATE_TEXT_BYTES_MAX);
        assert_eq!(Rate::parse(&at_limit), Ok(rate("1")));
        let over = format!("{at_limit}0");
        assert_eq!(
            Rate::parse(&over),
            Err(RateError::TooLong {
                bytes: PRICE_RATE_TEXT_BYTES_MAX + 1
            })
        );
        assert!(
            RateError::TooLong { bytes: 49 }
                .to_string()
                .contains("at most 48 bytes")
        );
    }

    #[test]
    fn rate_scale_beyond_the_limit_is_refused_not_rounded() {
        let scale = usize::from(PRICE_RATE_SCALE_MAX);
        let at_limit = format!("0.{}1", "0".repeat(scale - 1));
        assert_eq!(rate(&at_limit).scale(), PRICE_RATE_SCALE_MAX);
        let over = format!("0.{}1", "0".repeat(scale));
        assert_eq!(
            Rate::parse(&over),
            Err(RateError::TooManyDecimals { scale: scale + 1 })
        );
        assert_eq!(
            Rate::new(1, PRICE_RATE_SCALE_MAX + 1),
            Err(RateError::TooManyDecimals { scale: scale + 1 })
        );
        // Trailing zeros beyond the limit lose nothing: accepted.
        assert_eq!(
            Rate::parse(&format!("1.5{}", "0".repeat(scale))),
            Ok(rate("1.5"))
        );
    }

    #[test]
    fn a_commodity_priced_in_itself_is_refused() {
        assert_eq!(
            Price::new(day("2024-03-01"), code("USD"), code("USD"), rate("1")),
            Err(PriceError::SameCommodity(code("USD")))
        );
    }

    #[test]
    fn convert_scales_between_precisions() {
        // 100.01 EUR at 1.0842 = 108.430842 USD -> 108.43.
        assert_eq!(
            convert(Amount(10_001), 2, 2, rate("1.0842")),
            Ok(Amount(10_843))
        );
        // 1,000 JPY (0 places) at 0.0067 = 6.70 USD.
        assert_eq!(
            convert(Amount(1_000), 0, 2, rate("0.0067")),
            Ok(Amount(670))
        );
        // 1.5 BTC (8 places) at 64000.5 USD = 96000.75 USD.
        assert_eq!(
            convert(Amount(150_000_000), 8, 2, rate("64000.5")),
            Ok(Amount(9_600_075))
        );
        // 12.34 USD at 150.25 JPY = 1854.085 JPY -> 1854.
        assert_eq!(
            convert(Amount(1_234), 2, 0, rate("150.25")),
            Ok(Amount(1_854))
        );
        assert_eq!(
            convert(Amount(-1_234), 2, 0, rate("150.25")),
            Ok(Amount(-1_854))
        );
        assert_eq!(convert(Amount::ZERO, 2, 8, rate("3")), Ok(Amount::ZERO));
    }

    #[test]
    fn convert_rounds_half_to_even() {
        let half = rate("0.5");
        for (cents, expected) in [(25, 12), (35, 18), (-25, -12), (-35, -18), (45, 22), (1, 0)] {
            assert_eq!(
                convert(Amount(cents), 2, 2, half),
                Ok(Amount(expected)),
                "{cents}"
            );
        }
        // Just above and below a half go to the nearest.
        assert_eq!(convert(Amount(25), 2, 2, rate("0.5001")), Ok(Amount(13)));
        assert_eq!(convert(Amount(35), 2, 2, rate("0.4999")), Ok(Amount(17)));
    }

    #[test]
    fn convert_inverse_divides_by_the_rate() {
        // 1,000 JPY at 150.25 JPY per USD = 6.65557... USD -> 6.66.
        assert_eq!(
            convert_inverse(Amount(1_000), 0, 2, rate("150.25")),
            Ok(Amount(666))
        );
        assert_eq!(
            convert_inverse(Amount(-1_000), 0, 2, rate("150.25")),
            Ok(Amount(-666))
        );
        // 1 USD at 3 USD per X (X with 2 places) = 0.333.. -> 0.33; 0.03 / 2 = 0.015 -> 0.02.
        assert_eq!(
            convert_inverse(Amount(100), 2, 2, rate("3")),
            Ok(Amount(33))
        );
        assert_eq!(convert_inverse(Amount(3), 2, 2, rate("2")), Ok(Amount(2)));
        assert_eq!(convert_inverse(Amount(5), 2, 2, rate("2")), Ok(Amount(2)));
    }

    #[test]
    fn overflow_is_an_error_never_a_wrong_number() {
        let huge = rate("9223372036854775807");
        assert_eq!(convert(Amount(i64::MAX), 0, 18, huge), Err(Overflow));
        assert_eq!(convert(Amount(i64::MIN), 0, 0, rate("2")), Err(Overflow));
        assert_eq!(
            convert(Amount(i64::MAX), 0, 0, rate("1")),
            Ok(Amount(i64::MAX))
        );
        assert_eq!(
            convert_inverse(Amount(i64::MAX), 0, 18, rate("0.000000000000000001")),
            Err(Overflow)
        );
        // The widest exponents within the limits do not panic.
        let max = COMMODITY_PRECISION_MAX;
        let tiny = rate("0.000000000000000001");
        assert_eq!(convert(Amount(i64::MAX), max, 0, tiny), Ok(Amount::ZERO));
        assert_eq!(convert_inverse(Amount(1), max, 0, huge), Ok(Amount::ZERO));
        // Precisions beyond the limits are an error, not a panic.
        assert_eq!(convert(Amount(1), 0, 200, rate("1")), Err(Overflow));
        assert_eq!(convert_inverse(Amount(1), 200, 0, rate("1")), Err(Overflow));
    }

    #[test]
    fn value_at_uses_the_latest_price_on_or_before_the_date() {
        let prices = [
            price("2024-03-05", "EUR", "1.09", "USD"),
            price("2024-03-01", "EUR", "1.0842", "USD"),
            price("2024-03-01", "USD", "150.25", "JPY"),
        ];
        let balances = [
            holding("EUR", 2, 10_001),
            holding("JPY", 0, 1_000),
            holding("USD", 2, 1_000),
        ];
        let valued = value_at(&balances, &prices, &usd(), day("2024-03-03")).expect("valued");
        let values: Vec<i64> = valued.valued.iter().map(|v| v.value.0).collect();
        assert_eq!(values, vec![10_843, 666, 1_000]);
        assert_eq!(valued.total, Amount(12_509));
        assert!(valued.unpriced.is_empty());
        assert_eq!(valued.valued[0].price, PriceUsed::Direct(prices[1].clone()));
        assert_eq!(
            valued.valued[1].price,
            PriceUsed::Inverse(prices[2].clone())
        );
        assert_eq!(valued.valued[2].price, PriceUsed::Target);
        let later = value_at(&balances, &prices, &usd(), day("2024-03-05")).expect("valued");
        assert_eq!(later.valued[0].value, Amount(10_901));
    }

    #[test]
    fn commodities_without_a_price_are_reported_not_dropped() {
        let prices = [
            price("2024-03-01", "EUR", "1.0842", "USD"),
            price("2024-03-01", "GBP", "1.27", "CHF"),
        ];
        let balances = [
            holding("EUR", 2, 100),
            holding("GBP", 2, 500),
            holding("USD", 2, 7),
        ];
        // Before the first price nothing but USD has one.
        let early = value_at(&balances, &prices, &usd(), day("2024-02-29")).expect("valued");
        assert_eq!(early.total, Amount(7));
        assert_eq!(early.unpriced, balances[..2].to_vec());
        let on_the_day = value_at(&balances, &prices, &usd(), day("2024-03-01")).expect("valued");
        assert_eq!(on_the_day.total, Amount(108 + 7));
        assert_eq!(on_the_day.unpriced, vec![balances[1].clone()]);
    }

    #[test]
    fn the_later_of_a_direct_and_an_inverse_price_wins_and_direct_breaks_a_tie() {
        let balances = [holding("EUR", 2, 10_000)];
        let direct = price("2024-03-01", "EUR", "1.08", "USD");
        let inverse = price("2024-03-05", "USD", "0.8", "EUR");
        let prices = [direct.clone(), inverse.clone()];
        let before = value_at(&balances, &prices, &usd(), day("2024-03-04")).expect("valued");
        assert_eq!(before.total, Amount(10_800));
        let after = value_at(&balances, &prices, &usd(), day("2024-03-05")).expect("valued");
        assert_eq!(after.total, Amount(12_500));
        assert_eq!(after.valued[0].price, PriceUsed::Inverse(inverse));
        let same_day = price("2024-03-05", "EUR", "1.1", "USD");
        let prices = [same_day.clone(), prices[1].clone()];
        let tie = value_at(&balances, &prices, &usd(), day("2024-03-05")).expect("valued");
        assert_eq!(tie.valued[0].price, PriceUsed::Direct(same_day));
        // Two equal candidates: the later in the slice.
        let first = price("2024-03-05", "EUR", "1.2", "USD");
        let second = price("2024-03-05", "EUR", "1.3", "USD");
        let twice = value_at(&balances, &[first, second], &usd(), day("2024-03-05"));
        assert_eq!(twice.map(|v| v.total), Ok(Amount(13_000)));
    }

    #[test]
    fn value_at_reports_overflow_of_a_total() {
        let balances = [holding("USD", 2, i64::MAX), holding("USD", 2, 1)];
        let result = value_at(&balances, &[], &usd(), day("2024-01-01"));
        assert_eq!(result, Err(Overflow));
    }

    proptest! {
        // A fixed seed: the same cases on every run.
        #![proptest_config(ProptestConfig {
            rng_seed: RngSeed::Fixed(0x5EED_0F9A_1CE5),
            ..ProptestConfig::default()
        })]

        #[test]
        fn a_rate_of_one_between_equal_precisions_is_the_identity(
            amount in any::<i64>(),
            precision in 0u8..=COMMODITY_PRECISION_MAX,
        ) {
            let one = rate("1");
            prop_assert_eq!(convert(Amount(amount), precision, precision, one), Ok(Amount(amount)));
            let inverse = convert_inverse(Amount(amount), precision, precision, one);
            prop_assert_eq!(inverse, Ok(Amount(amount)));
        }

        #[test]
        fn rounding_is_within_half_a_minor_unit(
            amount in -1_000_000_000i64..1_000_000_000,
            units in 1i64..100_000_000,
            scale in 0u8..=8,
        ) {
            let rate = Rate::new(units, scale).expect("rate");
            let value = convert(Amount(amount), 2, 2, rate).expect("fits");
            // Both sides times 10^scale: |value - amount * rate| <= 1/2.
            let exact = i128::from(amount) * i128::from(rate.units());
            let unit = 10i128.pow(u32::from(rate.scale()));
            let error = (i128::from(value.0) * unit - exact).abs();
            prop_assert!(2 * error <= unit);
        }

        #[test]
        fn rate_display_then_parse_is_the_identity(
            units in 1i64..=i64::MAX,
            scale in 0u8..=PRICE_RATE_SCALE_MAX,
        ) {
            let rate = Rate::new(units, scale).expect("rate");
            prop_assert_eq!(Rate::parse(&rate.to_string()), Ok(rate));
        }
    }
}

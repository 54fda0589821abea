//! The market price directive of hledger and ledger-cli journals, read into a `Price`:
//! `P DATE COMMODITY AMOUNT` (`P 2024-03-01 EUR 1.0842 USD`, `P 2024/03/01 "€" $1.08`).
//!
//! Pure: the text after `P` in, a `Price` or the reason out; `parse.rs` calls it and keeps the
//! line. The date is read as a transaction's (`-`, `/` or `.`); the commodity is a code, bare
//! or in double quotes; the amount is any form `parse::parse_amount` reads, its number read
//! exactly as a `Rate` (positive, at most `PRICE_RATE_SCALE_MAX` decimals, never rounded).
//! Refused with a reason: a time of day (ledger-cli's `P 2024/03/01 12:00:00 ...`: one price
//! per day here), a commodity priced in itself, a missing part. The writing side is
//! `journal::JournalWriter::prices`. Tests at the bottom.

use super::parse::split_amount;
use crate::domain::{CommodityCode, Date, Price, Rate};

/// How the directive is written, for messages.
const USAGE: &str = "a price is `P DATE COMMODITY AMOUNT` (`P 2024-03-01 EUR 1.0842 USD`)";

/// Reads the text after `P` (a trailing `; comment` is dropped).
pub fn parse_price_directive(rest: &str) -> Result<Price, String> {
    let rest = rest
        .split_once(';')
        .map_or(rest, |(before, _)| before)
        .trim();
    let (date_text, rest) = split_word(rest);
    let date = Date::parse(&date_text.replace(['/', '.'], "-"))
        .map_err(|_| format!("`{}` is not a date YYYY-MM-DD", excerpt(date_text)))?;
    let (commodity_text, amount_text) = match rest.strip_prefix('"') {
        Some(quoted) => quoted
            .split_once('"')
            .ok_or_else(|| "an unclosed quote".to_owned())?,
        None => split_word(rest),
    };
    if commodity_text.starts_with(|c: char| c.is_ascii_digit()) && commodity_text.contains(':') {
        return Err("a time of day in a price is not supported (one price per day)".into());
    }
    if commodity_text.is_empty() || amount_text.trim().is_empty() {
        return Err(USAGE.into());
    }
    let commodity = CommodityCode::new(commodity_text)
        .map_err(|error| format!("`{}`: {error}", excerpt(commodity_text)))?;
    let (quote, number) = split_amount(amount_text)?;
    let rate = Rate::parse(&number).map_err(|error| format!("`{}`: {error}", excerpt(&number)))?;
    Price::new(date, commodity, quote, rate).map_err(|error| error.to_string())
}

/// The first word and the rest, both trimmed.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim();
    match text.split_once([' ', '\t']) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}

/// At most 40 characters of user text, for a message.
fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::PRICE_RATE_SCALE_MAX;

    fn price(date: &str, commodity: &str, rate: &str, quote: &str) -> Price {
        Price::new(
            Date::parse(date).expect(date),
            CommodityCode::new(commodity).expect(commodity),
            CommodityCode::new(quote).expect(quote),
            Rate::parse(rate).expect(rate),
        )
        .expect("price")
    }

    #[test]
    fn hledger_and_ledger_forms_are_read() {
        let cases = [
            (
                "2024-03-01 EUR 1.0842 USD",
                price("2024-03-01", "EUR", "1.0842", "USD"),
            ),
            (
                "2024/03/01 EUR $1.08",
                price("2024-03-01", "EUR", "1.08", "$"),
            ),
            (
                "2024.03.01\tEUR\tUSD 1.08",
                price("2024-03-01", "EUR", "1.08", "USD"),
            ),
            (
                "2024-03-01 \"€\" 1.5 \"$\"  ; ecb",
                price("2024-03-01", "€", "1.5", "$"),
            ),
            (
                "2024-03-01 BTC 64,000.50 USD",
                price("2024-03-01", "BTC", "64000.5", "USD"),
            ),
            (
                "2024-03-01 USD 150.2500 JPY",
                price("2024-03-01", "USD", "150.25", "JPY"),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_price_directive(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn bad_directives_are_refused_with_the_reason() {
        let scale = usize::from(PRICE_RATE_SCALE_MAX);
        let too_precise = format!("2024-03-01 EUR 0.{}1 USD", "0".repeat(scale));
        let cases = [
            ("", "is not a date"),
            ("2024-13-01 EUR 1 USD", "not a date"),
            ("2024-03-01", USAGE),
            ("2024-03-01 EUR", USAGE),
            ("2024-03-01 12:00:00 EUR 1.08 USD", "time of day"),
            ("2024-03-01 EUR 1.08", "needs a commodity"),
            ("2024-03-01 EUR 0 USD", "greater than zero"),
            ("2024-03-01 EUR -1.08 USD", "greater than zero"),
            ("2024-03-01 EUR 1.08 EUR", "not EUR into itself"),
            ("2024-03-01 E1 1.08 USD", "`E1`"),
            ("2024-03-01 \"EUR 1.08 USD", "unclosed quote"),
            ("2024-03-01 EUR 1,08 USD", "decimal commas"),
            ("2024-03-01 EUR 1.2.3 USD", "plain decimal number"),
            (
                too_precise.as_str(),
                "at most 18 digits after the decimal mark",
            ),
        ];
        for (text, fragment) in cases {
            match parse_price_directive(text) {
                Err(reason) => assert!(reason.contains(fragment), "{text}: {reason}"),
                Ok(price) => panic!("{text}: accepted {price:?}"),
            }
        }
    }
}

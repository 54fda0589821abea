//! Export: a tenant's books as a plain-text journal that both hledger (1.25) and ledger-cli
//! (3.3) read unchanged, with the same balances as the store's to the minor unit.
//!
//! `JournalWriter` turns store data into text, appended to a `String`: `header` (a comment,
//! one bare `commodity CODE` line per commodity, one `account NAME  ; type: A, opened: DATE`
//! line per account), `prices` (one `P DATE COMMODITY RATE QUOTE` line per price, the rate
//! exactly as stored; hledger lets a rate's decimals widen how it displays the quote,
//! `1000.00 JPY`, but its assertions compare exact amounts, as ledger's do), `entry` (one
//! transaction per stored entry, in the order the caller gives) and `assertions` (a last,
//! all-zero transaction whose postings assert every account's balance per commodity,
//! `ACCOUNT  0.00 USD = 87.50 USD`, so both tools check the store's balance tables against
//! their own sums of the postings). Pure: no I/O, no store.
//!
//! The forms were chosen because both tools parse them alike (checked on this machine):
//! - Amounts are `QUANTITY CODE` with exactly the commodity's precision (`-12.50 USD`, `5 JPY`,
//!   `0.00000001 BTC`), no thousands separators; a code that is not letters and `_` only is
//!   quoted (`"$"`). `commodity` directives carry no `format` line: hledger wants a decimal
//!   mark in it (`1000. JPY`) and ledger refuses that; both infer the display precision
//!   from the amounts, which always carry it in full.
//! - The entry id is the transaction code, `DATE (ID) DESCRIPTION`: after a code neither tool
//!   reads a status mark, so a description starting with `*`, `!` or `(` stays text. A payee
//!   is written hledger's way, `PAYEE | DESCRIPTION` (ledger keeps the whole as its payee).
//! - Tags are `; TAG:` comment lines and metadata `; KEY: VALUE` lines (hledger reads both as
//!   tags, ledger as metadata); links are `; reverses: ID`, `; posts: ID`, `; reversed-by: ID`.
//! - What a line cannot hold is replaced, and only in the text written: control characters
//!   become spaces; in the transaction line `;` (a comment start for both tools) becomes
//!   `,`, and `|` in a payee becomes `/`.
//!
//! Pending (two-phase) entries only reserve: they are not in the store's posted balances, so
//! they are written as a one-line comment, not as transactions (an entry that posted one is
//! an ordinary entry with `; posts: ID`). Tests at the bottom; the cross-check against the
//! real tools is `tests/cli/cross_check.rs`.

use crate::domain::{
    Account, AccountType, Amount, Commodity, CommodityCode, Date, EntryLink, Price,
};
use crate::store::{BalanceLine, StoredEntry};
use std::collections::BTreeMap;
use std::fmt::{self, Write};

/// Why store data could not be written as a journal (only a damaged store gets here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalError {
    /// An amount names a commodity the tenant does not have.
    UnknownCommodity(CommodityCode),
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::UnknownCommodity(code) => {
                write!(f, "an amount is in {code}, which the tenant does not have")
            }
        }
    }
}

impl std::error::Error for JournalError {}

/// Writes one tenant's journal; knows the tenant's commodities and their precisions.
#[derive(Clone, Debug)]
pub struct JournalWriter {
    precisions: BTreeMap<CommodityCode, u8>,
}

impl JournalWriter {
    /// A writer for a tenant with these commodities.
    pub fn new(commodities: &[Commodity]) -> JournalWriter {
        let precisions = commodities
            .iter()
            .map(|commodity| (commodity.code.clone(), commodity.precision))
            .collect();
        JournalWriter { precisions }
    }

    /// The opening comment, the `commodity` directives and the `account` directives.
    pub fn header(&self, out: &mut String, tenant: &str, accounts: &[Account]) {
        let tenant = clean_comment(tenant);
        push_line(
            out,
            format_args!("; Books of tenant {tenant}, exported by the Kiln ledger example."),
        );
        out.push_str(
            "; hledger and ledger-cli read this file as is; its last transaction asserts every\n\
             ; account's balance in every commodity.\n\n",
        );
        for code in self.precisions.keys() {
            push_line(out, format_args!("commodity {}", commodity_text(code)));
        }
        out.push('\n');
        for account in accounts {
            let mut tags = format!(
                "type: {}, opened: {}",
                type_letter(account.account_type),
                account.opened
            );
            if let Some(closed) = account.closed {
                let _ = write!(tags, ", closed: {closed}");
            }
            push_line(out, format_args!("account {}  ; {tags}", account.name));
        }
        out.push('\n');
    }

    /// The tenant's prices as `P DATE COMMODITY RATE QUOTE` lines in the order given, then a
    /// blank line (nothing for none).
    pub fn prices(&self, out: &mut String, prices: &[Price]) {
        for price in prices {
            push_line(
                out,
                format_args!(
                    "P {} {} {} {}",
                    price.date,
                    commodity_text(&price.commodity),
                    price.rate,
                    commodity_text(&price.quote)
                ),
            );
        }
        if !prices.is_empty() {
            out.push('\n');
        }
    }

    /// One stored entry as a transaction (or, for a pending entry, a one-line comment),
    /// followed by a blank line.
    pub fn entry(&self, out: &mut String, stored: &StoredEntry) -> Result<(), JournalError> {
        let entry = &stored.entry;
        if let Some(status) = stored.status {
            push_line(
                out,
                format_args!(
                    "; {} ({}) pending entry {}, {}: a reservation, not posted\n",
                    entry.date,
                    stored.id.0,
                    status.as_str(),
                    clean_comment(&entry.description)
                ),
            );
            return Ok(());
        }
        push_line(
            out,
            format_args!(
                "{} ({}) {}",
                entry.date,
                stored.id.0,
                transaction_text(entry.payee.as_deref(), &entry.description)
            ),
        );
        match entry.link {
            Some(EntryLink::Reverses(id)) => {
                push_line(out, format_args!("    ; reverses: {}", id.0))
            }
            Some(EntryLink::Posts(id)) => push_line(out, format_args!("    ; posts: {}", id.0)),
            None => {}
        }
        if let Some(id) = stored.reversed_by {
            push_line(out, format_args!("    ; reversed-by: {}", id.0));
        }
        for tag in &entry.tags {
            push_line(out, format_args!("    ; {}:", clean_comment(tag)));
        }
        for (key, value) in &entry.metadata {
            let (key, value) = (clean_comment(key), clean_comment(value));
            push_line(out, format_args!("    ; {key}: {value}"));
        }
        for posting in &entry.postings {
            let amount = self.amount(posting.amount, &posting.commodity)?;
            push_line(out, format_args!("    {}  {amount}", posting.account));
        }
        out.push('\n');
        Ok(())
    }

    /// The closing transaction dated `date` (on or after the last entry): for every balance
    /// line, a zero posting that asserts the account's balance in that commodity.
    pub fn assertions(
        &self,
        out: &mut String,
        date: Date,
        balances: &[BalanceLine],
    ) -> Result<(), JournalError> {
        if balances.is_empty() {
            return Ok(());
        }
        push_line(
            out,
            format_args!("{date} Balance assertions (the store's balances)"),
        );
        for line in balances {
            let zero = self.amount(Amount::ZERO, &line.commodity)?;
            let balance = self.amount(line.balance, &line.commodity)?;
            push_line(
                out,
                format_args!("    {}  {zero} = {balance}", line.account),
            );
        }
        out.push('\n');
        Ok(())
    }

    /// `QUANTITY CODE` with the commodity's precision.
    fn amount(&self, amount: Amount, code: &CommodityCode) -> Result<String, JournalError> {
        let precision = self
            .precisions
            .get(code)
            .ok_or_else(|| JournalError::UnknownCommodity(code.clone()))?;
        Ok(format!(
            "{} {}",
            amount.format(*precision),
            commodity_text(code)
        ))
    }
}

fn push_line(out: &mut String, line: fmt::Arguments<'_>) {
    // Writing to a `String` cannot fail.
    let _ = out.write_fmt(line);
    out.push('\n');
}

/// hledger's account type letters (ledger reads the `type:` tag as a comment).
fn type_letter(account_type: AccountType) -> char {
    match account_type {
        AccountType::Asset => 'A',
        AccountType::Liability => 'L',
        AccountType::Equity => 'E',
        AccountType::Income => 'R',
        AccountType::Expense => 'X',
    }
}

/// A code as both tools read it: bare if letters and `_` only, else in double quotes (a
/// code never holds a quote, digits, spaces or punctuation: `CommodityCode`'s invariant).
fn commodity_text(code: &CommodityCode) -> String {
    let bare = code.as_str().chars().all(|c| c.is_alphabetic() || c == '_');
    if bare {
        code.to_string()
    } else {
        format!("\"{code}\"")
    }
}

/// Text for a comment: control characters (a newline would end the comment) become spaces.
fn clean_comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The text after a transaction's date and code: `PAYEE | DESCRIPTION` or `DESCRIPTION`.
fn transaction_text(payee: Option<&str>, description: &str) -> String {
    let clean = |text: &str| clean_comment(text).replace(';', ",");
    match payee {
        Some(payee) => format!(
            "{} | {}",
            clean(payee).replace('|', "/").trim(),
            clean(description).trim()
        ),
        None => clean(description).trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountName, Entry, EntryId, PendingStatus, PendingTerms, Posting, Rate};
    use crate::interop::price_directive::parse_price_directive;
    use std::collections::BTreeSet;

    fn code(text: &str) -> CommodityCode {
        CommodityCode::new(text).expect(text)
    }

    fn day(text: &str) -> Date {
        Date::parse(text).expect(text)
    }

    fn writer() -> JournalWriter {
        let commodities = [("USD", 2), ("JPY", 0), ("BTC", 8), ("€", 2)]
            .map(|(c, p)| Commodity::new(c, p).expect("commodity"));
        JournalWriter::new(&commodities)
    }

    fn posting(account: &str, commodity: &str, amount: i64) -> Posting {
        Posting {
            account: AccountName::new(account).expect(account),
            commodity: code(commodity),
            amount: Amount(amount),
        }
    }

    fn stored(id: i64, postings: Vec<Posting>) -> StoredEntry {
        StoredEntry {
            id: EntryId(id),
            entry: Entry {
                date: day("2024-03-05"),
                description: "Lunch".into(),
                payee: None,
                tags: BTreeSet::new(),
                metadata: BTreeMap::new(),
                postings,
                pending: None,
                link: None,
            },
            status: None,
            reversed_by: None,
        }
    }

    #[test]
    fn amounts_carry_the_commodity_precision_and_sign() {
        let writer = writer();
        let cases = [
            (Amount(-1250), "USD", "-12.50 USD"),
            (Amount(5), "USD", "0.05 USD"),
            (Amount(-7), "JPY", "-7 JPY"),
            (Amount(1), "BTC", "0.00000001 BTC"),
            (Amount(-123_456_789_012), "BTC", "-1234.56789012 BTC"),
            (Amount::ZERO, "JPY", "0 JPY"),
            (Amount(100), "€", "1.00 \"€\""),
        ];
        for (amount, commodity, expected) in cases {
            assert_eq!(writer.amount(amount, &code(commodity)), Ok(expected.into()));
        }
        assert_eq!(
            writer.amount(Amount(1), &code("EUR")),
            Err(JournalError::UnknownCommodity(code("EUR")))
        );
    }

    #[test]
    fn header_declares_commodities_and_typed_accounts() {
        let mut bank = Account::new(
            AccountName::new("Assets:Bank").expect("name"),
            AccountType::Asset,
            day("2024-01-01"),
        );
        bank.closed = Some(day("2024-12-31"));
        let sales = Account::new(
            AccountName::new("Sales").expect("name"),
            AccountType::Income,
            day("2024-01-01"),
        );
        let mut out = String::new();
        writer().header(&mut out, "acme", &[bank, sales]);
        assert!(out.starts_with("; Books of tenant acme,"), "{out}");
        assert!(out.contains("\ncommodity BTC\ncommodity JPY\ncommodity USD\ncommodity \"€\"\n"));
        assert!(out.contains(
            "\naccount Assets:Bank  ; type: A, opened: 2024-01-01, closed: 2024-12-31\n"
        ));
        assert!(out.contains("\naccount Sales  ; type: R, opened: 2024-01-01\n"));
    }

    #[test]
    fn an_entry_writes_code_payee_tags_metadata_links_and_postings() {
        let mut entry = stored(
            17,
            vec![
                posting("Expenses:Food", "USD", 1250),
                posting("Assets:Bank", "USD", -1250),
            ],
        );
        entry.entry.payee = Some("Café | Bar".into());
        entry.entry.description = "* lunch; with\nteam".into();
        entry.entry.tags.insert("meal".into());
        entry.entry.metadata.insert("receipt".into(), "R-1".into());
        entry.entry.link = Some(EntryLink::Reverses(EntryId(3)));
        entry.reversed_by = Some(EntryId(20));
        let mut out = String::new();
        writer().entry(&mut out, &entry).expect("written");
        assert_eq!(
            out,
            "2024-03-05 (17) Café / Bar | * lunch, with team\n    ; reverses: 3\n    \
             ; reversed-by: 20\n    ; meal:\n    ; receipt: R-1\n    \
             Expenses:Food  12.50 USD\n    Assets:Bank  -12.50 USD\n\n"
        );
    }

    #[test]
    fn a_pending_entry_is_a_comment_not_a_transaction() {
        let mut entry = stored(
            4,
            vec![
                posting("Assets:Bank", "JPY", 5),
                posting("Income:Sales", "JPY", -5),
            ],
        );
        entry.entry.pending = Some(PendingTerms::default());
        entry.status = Some(PendingStatus::Voided);
        let mut out = String::new();
        writer().entry(&mut out, &entry).expect("written");
        assert_eq!(
            out,
            "; 2024-03-05 (4) pending entry voided, Lunch: a reservation, not posted\n\n"
        );
    }

    #[test]
    fn assertions_are_zero_postings_with_the_balance() {
        let line = |account: &str, commodity: &str, balance: i64| BalanceLine {
            account: AccountName::new(account).expect(account),
            commodity: code(commodity),
            balance: Amount(balance),
        };
        let mut out = String::new();
        let lines = [
            line("Assets:Bank", "USD", 8750),
            line("Assets:Bank", "BTC", -3),
        ];
        writer()
            .assertions(&mut out, day("2024-12-31"), &lines)
            .expect("written");
        assert_eq!(
            out,
            "2024-12-31 Balance assertions (the store's balances)\n    \
             Assets:Bank  0.00 USD = 87.50 USD\n    \
             Assets:Bank  0.00000000 BTC = -0.00000003 BTC\n\n"
        );
        let mut empty = String::new();
        writer()
            .assertions(&mut empty, day("2024-12-31"), &[])
            .expect("written");
        assert!(empty.is_empty());
    }

    #[test]
    fn prices_are_p_lines_that_the_parser_reads_back() {
        let price = |date: &str, commodity: &str, rate: &str, quote: &str| {
            Price::new(
                day(date),
                code(commodity),
                code(quote),
                Rate::parse(rate).expect(rate),
            )
            .expect("price")
        };
        let prices = [
            price("2024-03-01", "EUR", "1.0842", "USD"),
            price("2024-03-01", "USD", "150.25", "JPY"),
            price("2024-03-02", "€", "0.00001234", "BTC"),
        ];
        let mut out = String::new();
        writer().prices(&mut out, &prices);
        assert_eq!(
            out,
            "P 2024-03-01 EUR 1.0842 USD\nP 2024-03-01 USD 150.25 JPY\n\
             P 2024-03-02 \"€\" 0.00001234 BTC\n\n"
        );
        let read: Vec<Price> = out
            .lines()
            .filter_map(|line| line.strip_prefix("P "))
            .map(|rest| parse_price_directive(rest).expect(rest))
            .collect();
        assert_eq!(read, prices);
        let mut empty = String::new();
        writer().prices(&mut empty, &[]);
        assert!(empty.is_empty());
    }

    #[test]
    fn an_unknown_commodity_is_an_error_not_a_guess() {
        let entry = stored(
            1,
            vec![
                posting("Assets:Bank", "GBP", 1),
                posting("Income", "GBP", -1),
            ],
        );
        let mut out = String::new();
        assert_eq!(
            writer().entry(&mut out, &entry),
            Err(JournalError::UnknownCommodity(code("GBP")))
        );
    }
}

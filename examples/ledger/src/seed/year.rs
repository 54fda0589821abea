//! The demo company's year, simulated day by day (`Generator`): what happens on which day,
//! with which payees and amounts, and the cash management that keeps checking above zero.
//! The entries it records are the demo book (`seed/mod.rs` wraps them with the chart).
//!
//! Pure: dates and a seeded SplitMix64 in, `NewEntry`s out. Every amount is an integer count
//! of cents, bounded by the ranges below, so no sum can overflow. Tests: `seed/mod.rs`.

use super::{
    BANK_FEES, CARD, CHECKING, CONSULTING, CONVERSION, CREDIT_LINE, EURO_BANK, INTEREST_EXPENSE,
    INTEREST_INCOME, MEALS, OFFICE, OPENING, PAYABLE, PAYROLL, PAYROLL_TAXES, PROFESSIONAL_FEES,
    RECEIVABLE, RENT, SALES, SAVINGS, SOFTWARE, SeedError, SplitMix64, TAXES, TRAVEL, UTILITIES,
    add_days, code, generator_error, name,
};
use crate::domain::price::{Price, Rate};
use crate::domain::{Amount, Date, Decimal, NewEntry, NewPosting};
use std::collections::BTreeMap;

/// USD customers: sales (licenses, implementation) or consulting (hours at a rate).
const CUSTOMERS: [&str; 8] = [
    "Northwind Traders",
    "Globex Corporation",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Foundation",
    "Acme Fulfilment",
    "Hooli Cloud",
];
const EURO_CUSTOMERS: [&str; 2] = ["Brandt Maschinenbau GmbH", "Atelier Lumière SARL"];
const SALES_ITEMS: [&str; 4] = [
    "annual license",
    "implementation milestone",
    "support renewal",
    "data migration",
];

/// Card spend: payee, account, and the range of an amount in cents.
const CARD_SPEND: [(&str, &str, i64, i64); 14] = [
    ("Delta Air Lines", TRAVEL, 24_000, 89_000),
    ("United Airlines", TRAVEL, 19_000, 76_000),
    ("Marriott", TRAVEL, 18_000, 62_000),
    ("Hilton", TRAVEL, 16_000, 54_000),
    ("Uber", TRAVEL, 1_200, 6_500),
    ("Lyft", TRAVEL, 1_100, 5_800),
    ("Blue Bottle Coffee", MEALS, 800, 4_200),
    ("Sweetgreen", MEALS, 1_400, 9_800),
    ("Chipotle", MEALS, 1_100, 6_400),
    ("Staples", OFFICE, 1_900, 24_000),
    ("Office Depot", OFFICE, 2_400, 18_000),
    ("Amazon Business", OFFICE, 1_500, 42_000),
    ("FedEx", OFFICE, 1_800, 9_500),
    ("Best Buy", OFFICE, 4_900, 189_900),
];

/// Monthly subscriptions on the card: day of month, payee, cents (`None`: metered, varies).
const SUBSCRIPTIONS: [(u32, &str, Option<i64>); 6] = [
    (1, "Google Workspace", Some(16_800)),
    (2, "Amazon Web Services", None),
    (3, "GitHub", Some(8_400)),
    (7, "Slack", Some(26_250)),
    (12, "Figma", Some(7_500)),
    (18, "Zoom", Some(14_990)),
];

/// Half a month's gross pay, in cents (a December bonus comes on top).
const PAYROLL_GROSS: i64 = 2_145_000;

/// Monday is 0 (1970-01-01 was a Thursday).
fn weekday(date: Date) -> i32 {
    (date.days_since_epoch() + 3).rem_euclid(7)
}

fn is_business_day(date: Date) -> bool {
    weekday(date) < 5
}

fn is_month_end(date: Date) -> bool {
    let (_, month, _) = date.ymd();
    add_days(date, 1).is_none_or(|next| next.ymd().1 != month)
}

/// A receivable or payable still open: who, what, how much, in which commodity, and the day it
/// is settled (`None`: after the last representable day).
#[derive(Clone, Debug)]
struct Open {
    counterparty: &'static str,
    reference: String,
    commodity: &'static str,
    cents: i64,
    settles: Option<Date>,
}

/// What one entry says, before its postings.
struct Memo<'a> {
    payee: &'a str,
    description: String,
    tags: &'a [&'a str],
    metadata: Vec<(&'a str, String)>,
}

impl<'a> Memo<'a> {
    fn new(payee: &'a str, description: impl Into<String>) -> Memo<'a> {
        Memo {
            payee,
            description: description.into(),
            tags: &[],
            metadata: Vec::new(),
        }
    }

    fn tags(mut self, tags: &'a [&'a str]) -> Memo<'a> {
        self.tags = tags;
        self
    }

    fn meta(mut self, key: &'a str, value: impl Into<String>) -> Memo<'a> {
        self.metadata.push((key, value.into()));
        self
    }
}

/// The simulation's state: the entries so far and what it needs to decide the next ones.
pub(super) struct Generator {
    rng: SplitMix64,
    euro_opens: Date,
    entries: Vec<NewEntry>,
    /// The EUR price in USD on each conversion day (the rate the bank gave).
    prices: Vec<Price>,
    /// Every account's balance per commodity so far, in cents, debit-positive.
    balances: BTreeMap<(&'static str, &'static str), i64>,
    receivables: Vec<Open>,
    payables: Vec<Open>,
    /// Card spend since the last statement, and the last statement's unpaid total.
    card_unbilled: i64,
    card_due: i64,
    invoices: u32,
    bills: u32,
}

impl Generator {
    pub(super) fn new(seed: u64, euro_opens: Date) -> Generator {
        Generator {
            rng: SplitMix64::new(seed),
            euro_opens,
            entries: Vec::new(),
            prices: Vec::new(),
            balances: BTreeMap::new(),
            receivables: Vec::new(),
            payables: Vec::new(),
            card_unbilled: 0,
            card_due: 0,
            invoices: 0,
            bills: 0,
        }
    }

    /// The entries so far, in the order they happened.
    pub(super) fn into_entries(self) -> Vec<NewEntry> {
        self.entries
    }

    /// The prices seen while generating (one per currency conversion), in date order.
    pub(super) fn prices(&self) -> Vec<Price> {
        self.prices.clone()
    }

    fn balance(&self, account: &'static str, commodity: &'static str) -> i64 {
        self.balances
            .get(&(account, commodity))
            .copied()
            .unwrap_or(0)
    }

    /// Records an entry; `postings` are (account, commodity, cents) and balance per commodity.
    fn entry(
        &mut self,
        date: Date,
        memo: Memo<'_>,
        postings: &[(&'static str, &'static str, i64)],
    ) -> Result<(), SeedError> {
        let mut new_postings = Vec::with_capacity(postings.len());
        for &(account, commodity, cents) in postings {
            let text = Amount(cents).format(2);
            new_postings.push(NewPosting {
                account: name(account)?,
                commodity: code(commodity)?,
                amount: Decimal::parse(&text).map_err(|e| generator_error(&text, e))?,
            });
            *self.balances.entry((account, commodity)).or_default() += cents;
        }
        self.entries.push(NewEntry {
            date,
            description: memo.description,
            payee: Some(memo.payee.to_owned()),
            tags: memo.tags.iter().map(|tag| (*tag).to_owned()).collect(),
            metadata: memo
                .metadata
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
            postings: new_postings,
            pending: None,
        });
        Ok(())
    }

    /// Pays `cents` from checking to `account` (an expense, or a liability paid down), after
    /// making sure checking holds it.
    fn pay(
        &mut self,
        date: Date,
        memo: Memo<'_>,
        account: &'static str,
        cents: i64,
    ) -> Result<(), SeedError> {
        self.fund_checking(date, cents)?;
        self.entry(
            date,
            memo,
            &[(account, "USD", cents), (CHECKING, "USD", -cents)],
        )
    }

    /// Tops checking up to at least `needed` plus a buffer: from savings, then from the line of
    /// credit, in whole thousands.
    fn fund_checking(&mut self, date: Date, needed: i64) -> Result<(), SeedError> {
        let checking = self.balance(CHECKING, "USD");
        if checking >= needed {
            return Ok(());
        }
        let wanted = round_up(needed - checking + 500_000, 100_000);
        let from_savings = wanted.min(self.balance(SAVINGS, "USD") / 100_000 * 100_000);
        if from_savings > 0 {
            let memo = Memo::new("First Harbor Bank", "Transfer from savings");
            self.entry(
                date,
                memo,
                &[
                    (CHECKING, "USD", from_savings),
                    (SAVINGS, "USD", -from_savings),
                ],
            )?;
        }
        let drawn = wanted - from_savings;
        if drawn > 0 {
            let memo = Memo::new("First Harbor Bank", "Line of credit draw").tags(&["financing"]);
            self.entry(
                date,
                memo,
                &[(CHECKING, "USD", drawn), (CREDIT_LINE, "USD", -drawn)],
            )?;
        }
        Ok(())
    }

    pub(super) fn opening(&mut self, start: Date) -> Result<(), SeedError> {
        let (checking, savings, card) = (8_425_000, 5_000_000, -187_342);
        self.card_due = -card;
        let memo = Memo::new(
            "Opening balances",
            "Balances carried over from the old books",
        );
        self.entry(
            start,
            memo,
            &[
                (CHECKING, "USD", checking),
                (SAVINGS, "USD", savings),
                (CARD, "USD", card),
                (OPENING, "USD", -(checking + savings + card)),
            ],
        )
    }

    /// One day's events, money in before money out.
    pub(super) fn day(&mut self, date: Date, end: Date) -> Result<(), SeedError> {
        let (_, month, day) = date.ymd();
        self.settle_receivables(date)?;
        if day == 1 {
            let memo = Memo::new("Harbor Point Properties", "Office rent").meta("lease", "HPP-114");
            self.pay(date, memo, RENT, 480_000)?;
        }
        self.subscriptions(date, day)?;
        if is_business_day(date) {
            self.invoice(date, end)?;
            self.card_spend(date)?;
            self.euro_spend(date)?;
        }
        self.vendor_bills(date, day, end)?;
        self.settle_payables(date)?;
        if day == 10 {
            self.remit_payroll_taxes(date)?;
        }
        if day == 15 || is_month_end(date) {
            self.payroll(date, month == 12 && is_month_end(date))?;
        }
        if day == 15 && matches!(month, 1 | 4 | 6 | 9) {
            let cents = self.rng.between(650_000, 950_000);
            let memo = Memo::new("IRS", "Estimated income tax").tags(&["tax"]);
            self.pay(date, memo, TAXES, cents)?;
        }
        if day == 25 && self.card_due > 0 {
            let cents = self.card_due;
            self.card_due = 0;
            let memo = Memo::new("Harbor Card Services", "Card statement payment");
            self.pay(date, memo, CARD, cents)?;
        }
        if day == 28 {
            self.convert_euros(date)?;
        }
        if is_month_end(date) {
            self.month_end(date)?;
        }
        Ok(())
    }

    fn settle_receivables(&mut self, date: Date) -> Result<(), SeedError> {
        let (due, open): (Vec<Open>, Vec<Open>) = std::mem::take(&mut self.receivables)
            .into_iter()
            .partition(|item| item.settles == Some(date));
        self.receivables = open;
        for item in due {
            let bank = if item.commodity == "EUR" {
                EURO_BANK
            } else {
                CHECKING
            };
            let memo = Memo::new(item.counterparty, format!("Payment for {}", item.reference))
                .meta("invoice", item.reference.clone());
            self.entry(
                date,
                memo,
                &[
                    (bank, item.commodity, item.cents),
                    (RECEIVABLE, item.commodity, -item.cents),
                ],
            )?;
        }
        Ok(())
    }

    fn settle_payables(&mut self, date: Date) -> Result<(), SeedError> {
        let (due, open): (Vec<Open>, Vec<Open>) = std::mem::take(&mut self.payables)
            .into_iter()
            .partition(|item| item.settles == Some(date));
        self.payables = open;
        for item in due {
            let memo = Memo::new(
                item.counterparty,
                format!("Payment of bill {}", item.reference),
            )
            .meta("bill", item.reference.clone());
            self.pay(date, memo, PAYABLE, item.cents)?;
        }
        Ok(())
    }

    fn subscriptions(&mut self, date: Date, day: u32) -> Result<(), SeedError> {
        for (on, payee, fixed) in SUBSCRIPTIONS {
            if on == day {
                let cents = fixed.unwrap_or_else(|| self.rng.between(31_000, 94_000));
                let memo = Memo::new(payee, "Monthly subscription").tags(&["subscription"]);
                self.card(date, memo, SOFTWARE, cents)?;
            }
        }
        Ok(())
    }

    /// A purchase on the card: `account` debited, the card credited.
    fn card(
        &mut self,
        date: Date,
        memo: Memo<'_>,
        account: &'static str,
        cents: i64,
    ) -> Result<(), SeedError> {
        self.card_unbilled += cents;
        self.entry(
            date,
            memo,
            &[(account, "USD", cents), (CARD, "USD", -cents)],
        )
    }

    fn card_spend(&mut self, date: Date) -> Result<(), SeedError> {
        for _ in 0..self.rng.below(3) {
            let Some(&(payee, account, low, high)) = self.rng.pick(&CARD_SPEND) else {
                continue;
            };
            let cents = self.rng.between(low, high);
            let tags: &[&str] = if account == TRAVEL { &["travel"] } else { &[] };
            let mut memo = Memo::new(payee, "Card purchase").tags(tags);
            if self.rng.one_in(3) {
                memo = memo.meta("receipt", format!("R-{:06}", self.rng.below(1_000_000)));
            }
            self.card(date, memo, account, cents)?;
        }
        Ok(())
    }

    /// Sometimes a customer invoice: USD sales or consulting, or (once the euro account is
    /// open) a EUR sale. Paid 10 to 50 days later; payments after `end` stay receivable.
    fn invoice(&mut self, date: Date, end: Date) -> Result<(), SeedError> {
        let euro = date >= self.euro_opens && self.rng.one_in(30);
        if !euro && !self.rng.one_in(3) {
            return Ok(());
        }
        self.invoices += 1;
        let (year, _, _) = date.ymd();
        let reference = format!("INV-{year}-{:04}", self.invoices);
        let (customer, commodity, account, cents, what) = if euro {
            let customer = self.rng.pick(&EURO_CUSTOMERS).copied().unwrap_or("");
            let cents = self.rng.between(2_500, 8_500) * 100;
            (
                customer,
                "EUR",
                SALES,
                cents,
                "implementation milestone".to_owned(),
            )
        } else if self.rng.one_in(2) {
            let customer = self.rng.pick(&CUSTOMERS).copied().unwrap_or("");
            let hours = self.rng.between(12, 80);
            let what = format!("{hours} h of consulting at 185.00");
            (customer, "USD", CONSULTING, hours * 18_500, what)
        } else {
            let customer = self.rng.pick(&CUSTOMERS).copied().unwrap_or("");
            let cents = self.rng.between(40, 200) * 10_000;
            let what = self
                .rng
                .pick(&SALES_ITEMS)
                .copied()
                .unwrap_or("")
                .to_owned();
            (customer, "USD", SALES, cents, what)
        };
        let terms = self.rng.between(10, 50);
        let settles = add_days(date, i32::try_from(terms).unwrap_or(30)).filter(|d| *d <= end);
        let due = add_days(date, 30).map_or_else(String::new, |d| d.to_string());
        let memo = Memo::new(customer, format!("Invoice {reference}: {what}"))
            .tags(if euro { &["export"] } else { &[] })
            .meta("invoice", reference.clone())
            .meta("due", due);
        self.entry(
            date,
            memo,
            &[(RECEIVABLE, commodity, cents), (account, commodity, -cents)],
        )?;
        self.receivables.push(Open {
            counterparty: customer,
            reference,
            commodity,
            cents,
            settles,
        });
        Ok(())
    }

    /// Now and then travel paid from the euro account, when it holds enough.
    fn euro_spend(&mut self, date: Date) -> Result<(), SeedError> {
        if date < self.euro_opens || self.balance(EURO_BANK, "EUR") < 100_000 {
            return Ok(());
        }
        if !self.rng.one_in(20) {
            return Ok(());
        }
        let choices = [
            ("Deutsche Bahn", 8_900, 24_000),
            ("Hotel Adlon", 21_000, 64_000),
        ];
        let Some(&(payee, low, high)) = self.rng.pick(&choices) else {
            return Ok(());
        };
        let cents = self.rng.between(low, high);
        let memo = Memo::new(payee, "Client visit, Europe").tags(&["travel"]);
        self.entry(
            date,
            memo,
            &[(TRAVEL, "EUR", cents), (EURO_BANK, "EUR", -cents)],
        )
    }

    /// Legal and accounting on the 5th (net 30), utilities on the 20th (net 21), as payables.
    fn vendor_bills(&mut self, date: Date, day: u32, end: Date) -> Result<(), SeedError> {
        let (vendor, account, cents, terms) = match day {
            5 => (
                "Hale & Partners LLP",
                PROFESSIONAL_FEES,
                self.rng.between(120_000, 350_000),
                30,
            ),
            20 => (
                "Pacific Gas & Electric",
                UTILITIES,
                self.rng.between(18_000, 42_000),
                21,
            ),
            _ => return Ok(()),
        };
        self.bills += 1;
        let reference = format!("B-{:04}", self.bills);
        let memo = Memo::new(vendor, format!("Bill {reference}")).meta("bill", reference.clone());
        self.entry(
            date,
            memo,
            &[(account, "USD", cents), (PAYABLE, "USD", -cents)],
        )?;
        self.payables.push(Open {
            counterparty: vendor,
            reference,
            commodity: "USD",
            cents,
            settles: add_days(date, terms).filter(|d| *d <= end),
        });
        Ok(())
    }

    /// Half a month's payroll: gross and the employer's share of payroll taxes are expenses;
    /// net pay leaves checking; withholding and both shares of payroll taxes are owed.
    fn payroll(&mut self, date: Date, with_bonus: bool) -> Result<(), SeedError> {
        let gross = PAYROLL_GROSS + if with_bonus { 1_500_000 } else { 0 };
        let withholding = gross * 18 / 100;
        let payroll_tax = gross * 765 / 10_000;
        let net = gross - withholding - payroll_tax;
        self.fund_checking(date, net)?;
        let tags: &[&str] = if with_bonus {
            &["payroll", "bonus"]
        } else {
            &["payroll"]
        };
        let (year, month, day) = date.ymd();
        let half = if day == 15 { "first" } else { "second" };
        let memo = Memo::new("Gusto Payroll", "Payroll")
            .tags(tags)
            .meta("period", format!("{year}-{month:02} {half} half"));
        self.entry(
            date,
            memo,
            &[
                (PAYROLL, "USD", gross),
                (TAXES, "USD", payroll_tax),
                (CHECKING, "USD", -net),
                (PAYROLL_TAXES, "USD", -(withholding + 2 * payroll_tax)),
            ],
        )
    }

    fn remit_payroll_taxes(&mut self, date: Date) -> Result<(), SeedError> {
        let owed = -self.balance(PAYROLL_TAXES, "USD");
        if owed <= 0 {
            return Ok(());
        }
        let memo = Memo::new("IRS EFTPS", "Payroll tax deposit").tags(&["tax", "payroll"]);
        self.pay(date, memo, PAYROLL_TAXES, owed)
    }

    /// Converts the euro account's balance above 1,000.00 EUR (in whole hundreds) to USD at a
    /// rate between 1.0500 and 1.1200, through `Equity:Conversion`.
    fn convert_euros(&mut self, date: Date) -> Result<(), SeedError> {
        let euros = (self.balance(EURO_BANK, "EUR") - 100_000) / 10_000 * 10_000;
        if euros < 300_000 {
            return Ok(());
        }
        let rate = self.rng.between(10_500, 11_200);
        let dollars = euros * rate / 10_000;
        let memo = Memo::new("First Harbor Bank", "Currency conversion EUR to USD")
            .meta("rate", format!("{}.{:04}", rate / 10_000, rate % 10_000));
        let price = Rate::new(rate, 4)
            .map_err(|e| generator_error("rate", e))
            .and_then(|rate| {
                Price::new(date, code("EUR")?, code("USD")?, rate)
                    .map_err(|e| generator_error("price", e))
            })?;
        self.prices.push(price);
        self.entry(
            date,
            memo,
            &[
                (CHECKING, "USD", dollars),
                (CONVERSION, "USD", -dollars),
                (CONVERSION, "EUR", euros),
                (EURO_BANK, "EUR", -euros),
            ],
        )
    }

    /// Interest, fees, the card statement, and cash management: repay the credit line, then
    /// sweep checking above 110,000.00 down to 75,000.00 into savings.
    fn month_end(&mut self, date: Date) -> Result<(), SeedError> {
        let interest = self.balance(SAVINGS, "USD") * 35 / 12_000;
        if interest > 0 {
            let memo = Memo::new("First Harbor Bank", "Savings interest");
            self.entry(
                date,
                memo,
                &[
                    (SAVINGS, "USD", interest),
                    (INTEREST_INCOME, "USD", -interest),
                ],
            )?;
        }
        let owed = -self.balance(CREDIT_LINE, "USD");
        if owed > 0 {
            let memo = Memo::new("First Harbor Bank", "Line of credit interest");
            self.pay(date, memo, INTEREST_EXPENSE, owed * 9 / 1_200)?;
        }
        self.pay(
            date,
            Memo::new("First Harbor Bank", "Monthly service fee"),
            BANK_FEES,
            1_500,
        )?;
        if date >= self.euro_opens && self.balance(EURO_BANK, "EUR") >= 500 {
            let memo = Memo::new("First Harbor Bank", "Euro account fee");
            self.entry(
                date,
                memo,
                &[(BANK_FEES, "EUR", 500), (EURO_BANK, "EUR", -500)],
            )?;
        }
        self.card_due += std::mem::take(&mut self.card_unbilled);
        self.manage_cash(date)
    }

    fn manage_cash(&mut self, date: Date) -> Result<(), SeedError> {
        let owed = -self.balance(CREDIT_LINE, "USD");
        let spare = self.balance(CHECKING, "USD") - 6_000_000;
        if owed > 0 && spare > 0 {
            let memo =
                Memo::new("First Harbor Bank", "Line of credit repayment").tags(&["financing"]);
            self.pay(date, memo, CREDIT_LINE, owed.min(spare))?;
        }
        let checking = self.balance(CHECKING, "USD");
        if checking > 11_000_000 {
            let cents = (checking - 7_500_000) / 100_000 * 100_000;
            let memo = Memo::new("First Harbor Bank", "Transfer to savings");
            self.entry(
                date,
                memo,
                &[(SAVINGS, "USD", cents), (CHECKING, "USD", -cents)],
            )?;
        }
        Ok(())
    }
}

/// `value` rounded up to a multiple of `step` (both positive here).
fn round_up(value: i64, step: i64) -> i64 {
    (value + step - 1) / step * step
}

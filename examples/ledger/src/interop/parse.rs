//! Import, step one: the common subset of hledger and ledger-cli journals, read into typed
//! items. Pure: text in, `Journal` (or every problem, each with its 1-based line) out; no
//! store, no I/O. `import.rs` checks it against a tenant's books and writes it.
//!
//! Read: transactions `DATE [*|!] [(CODE)] DESCRIPTION  [; comment]` (a description
//! `PAYEE | NOTE` is split as hledger splits it; dates `YYYY-MM-DD`, `/` or `.` accepted as
//! separators; a secondary date `=DATE2` is ignored); postings `ACCOUNT  AMOUNT [= ASSERTION]`
//! (two spaces or a tab after the account) with amounts `-12.50 USD`, `USD -12.50`, `$12.50`,
//! `-$12.50`, `12.50 "X"`; at most one posting per transaction without an amount (inferred so
//! the transaction balances; an error when several commodities would need it); comment lines
//! (`;`, `#`, `*` at the start, `comment` ... `end comment` blocks) and trailing comments;
//! tags in transaction comments before the first posting (`; NAME:` is a tag, `; KEY: VALUE`
//! metadata, the whole rest of the comment being the value); `account NAME  ; type: A,
//! opened: DATE, closed: DATE` (every part optional) and `commodity CODE` or `commodity
//! SAMPLE` (`commodity 1,000.00 USD`) with an optional indented `format SAMPLE` line; market
//! prices `P DATE COMMODITY AMOUNT` (read by `price_directive.rs`; both commodities count as
//! named, and a rate's decimals are not an amount's, so they set no precision); `payee` and
//! `tag` declarations are read and ignored.
//!
//! Refused, with a reason on the line: virtual postings, transaction prices (`@`), total assertions
//! (`==`), balance assignments (an assertion without an amount), amounts without a commodity,
//! digit group separators in amounts, `include` and every other directive. Precision: a
//! commodity's is its directive's sample, else the most decimals its amounts are written with;
//! an amount written with more decimals than the directive allows is an error (no rounding).
//! Posting comments (after the first posting) are read and dropped. Every problem is kept, up
//! to `IMPORT_PROBLEMS_MAX` (the rest are counted). Tests at the bottom.

use super::price_directive::parse_price_directive;
use crate::domain::{
    AccountName, AccountType, Amount, CommodityCode, Date, Decimal, NewEntry, NewPosting, Price,
};
use crate::limits::IMPORT_PROBLEMS_MAX;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One rejected line and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number in the file.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.reason)
    }
}

/// The problems found: at most `IMPORT_PROBLEMS_MAX` kept (by line), the rest counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems {
    pub shown: Vec<Problem>,
    pub not_shown: usize,
}

impl Problems {
    /// Records a problem (or counts it, past the maximum).
    pub fn push(&mut self, line: usize, reason: impl Into<String>) {
        if self.shown.len() < IMPORT_PROBLEMS_MAX {
            self.shown.push(Problem {
                line,
                reason: reason.into(),
            });
        } else {
            self.not_shown += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    fn sorted(mut self) -> Problems {
        self.shown.sort_by_key(|problem| problem.line);
        self
    }
}

/// What an `account` directive said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountDirective {
    pub line: usize,
    pub account_type: Option<AccountType>,
    pub opened: Option<Date>,
    pub closed: Option<Date>,
}

/// A balance assertion: the account's balance in the commodity after this posting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    pub line: usize,
    pub account: AccountName,
    pub commodity: CommodityCode,
    pub balance: Decimal,
}

/// A transaction, as the entry to write and the assertions to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The line of its date.
    pub line: usize,
    /// The entry; an elided amount is filled in.
    pub entry: NewEntry,
    pub assertions: Vec<Assertion>,
}

impl Transaction {
    /// Whether every posting is zero (an export's closing transaction): it only asserts, and
    /// no entry is written for it.
    pub fn asserts_only(&self) -> bool {
        let zero = Decimal::parse("0").ok();
        self.entry
            .postings
            .iter()
            .all(|posting| zero.is_some_and(|zero| posting.amount.same_value(zero)))
    }
}

/// A `P` directive: the price and its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceLine {
    pub line: usize,
    pub price: Price,
}

/// A parsed journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Journal {
    /// Every commodity named (in a directive or an amount) with its precision.
    pub commodities: BTreeMap<CommodityCode, u8>,
    /// `account` directives.
    pub accounts: BTreeMap<AccountName, AccountDirective>,
    /// In file order.
    pub transactions: Vec<Transaction>,
    /// `P` directives, in file order (a later one for the same commodity, quote and date
    /// replaces an earlier one when written).
    pub prices: Vec<PriceLine>,
}

/// A posting as read, before an elided amount is inferred.
struct RawPosting {
    line: usize,
    account: AccountName,
    amount: Option<(CommodityCode, Decimal)>,
}

/// A transaction being read.
struct RawTransaction {
    line: usize,
    entry: NewEntry,
    postings: Vec<RawPosting>,
    assertions: Vec<Assertion>,
    /// A posting line had a problem (already reported): the rest is not checked.
    broken: bool,
}

/// What indented lines belong to.
enum Block {
    None,
    Transaction(RawTransaction),
    Commodity(CommodityCode),
    Ignored,
}

#[derive(Default)]
struct Parser {
    journal: Journal,
    problems: Problems,
    /// Precision set by a `commodity` directive.
    declared: BTreeMap<CommodityCode, (usize, u8)>,
    /// Most decimals seen per commodity.
    seen: BTreeMap<CommodityCode, u8>,
    /// Every amount: line, commodity, decimals written (checked against `declared` at the end).
    amounts: Vec<(usize, CommodityCode, u8)>,
}

/// Reads a journal: the typed items, or every problem found.
pub fn parse_journal(text: &str) -> Result<Journal, Problems> {
    let mut parser = Parser::default();
    let mut block = Block::None;
    let mut in_comment_block = false;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.trim_end();
        if in_comment_block {
            in_comment_block = content.trim() != "end comment";
            continue;
        }
        if content.trim().is_empty() {
            parser.finish(std::mem::replace(&mut block, Block::None));
            continue;
        }
        if content.starts_with([' ', '\t']) {
            parser.indented(line, content.trim_start(), &mut block);
            continue;
        }
        parser.finish(std::mem::replace(&mut block, Block::None));
        if content.starts_with([';', '#', '*']) {
            continue;
        }
        if content == "comment" {
            in_comment_block = true;
            continue;
        }
        block = parser.top_level(line, content);
    }
    parser.finish(block);
    parser.settle()
}

impl Parser {
    fn top_level(&mut self, line: usize, content: &str) -> Block {
        if content.starts_with(|c: char| c.is_ascii_digit()) {
            return match self.header(line, content) {
                Some(transaction) => Block::Transaction(transaction),
                None => Block::Ignored,
            };
        }
        let (word, rest) = content.split_once([' ', '\t']).unwrap_or((content, ""));
        match word {
            "account" => {
                self.account_directive(line, rest);
                Block::Ignored
            }
            "commodity" => match self.commodity_directive(line, rest) {
                Some(code) => Block::Commodity(code),
                None => Block::Ignored,
            },
            "P" => {
                self.price_directive(line, rest);
                Block::Ignored
            }
            "payee" | "tag" => Block::Ignored,
            "include" => {
                self.problems.push(
                    line,
                    "`include` is not supported: import each file on its own",
                );
                Block::Ignored
            }
            other => {
                self.problems.push(
                    line,
                    format!("the directive `{}` is not supported", excerpt(other)),
                );
                Block::Ignored
            }
        }
    }

    /// `DATE[=DATE2] [*|!] [(CODE)] DESCRIPTION  [; comment]`.
    fn header(&mut self, line: usize, content: &str) -> Option<RawTransaction> {
        let (content, comment) = split_comment(content);
        let (date_text, rest) = content.split_once([' ', '\t']).unwrap_or((content, ""));
        let primary = date_text.split('=').next().unwrap_or(date_text);
        let Ok(date) = Date::parse(&primary.replace(['/', '.'], "-")) else {
            self.problems.push(
                line,
                format!("`{}` is not a date YYYY-MM-DD", excerpt(date_text)),
            );
            return None;
        };
        let mut rest = rest.trim();
        if let Some(after) = rest.strip_prefix(['*', '!']) {
            rest = after.trim_start();
        }
        if rest.starts_with('(')
            && let Some(close) = rest.find(')')
        {
            rest = rest[close + 1..].trim_start();
        }
        let (payee, description) = match rest.split_once('|') {
            Some((payee, note)) => (Some(payee.trim().to_owned()), note.trim().to_owned()),
            None => (None, rest.to_owned()),
        };
        let mut entry = NewEntry {
            date,
            description,
            payee,
            tags: BTreeSet::new(),
            metadata: BTreeMap::new(),
            postings: Vec::new(),
            pending: None,
        };
        if let Some(comment) = comment {
            add_tag(&mut entry, comment);
        }
        Some(RawTransaction {
            line,
            entry,
            postings: Vec::new(),
            assertions: Vec::new(),
            broken: false,
        })
    }

    fn indented(&mut self, line: usize, content: &str, block: &mut Block) {
        match block {
            Block::Transaction(transaction) => {
                if let Some(comment) = content.strip_prefix([';', '#']) {
                    if transaction.postings.is_empty() {
                        add_tag(&mut transaction.entry, comment);
                    }
                    return;
                }
                match self.posting(line, content, transaction) {
                    Some(posting) => transaction.postings.push(posting),
                    None => transaction.broken = true,
                }
            }
            Block::Commodity(code) => {
                if let Some(sample) = content.strip_prefix("format") {
                    let code = code.clone();
                    if let Some(precision) = self.sample_precision(line, sample) {
                        self.declare(line, code, precision);
                    }
                }
            }
            Block::Ignored => {}
            Block::None => {
                if !content.starts_with([';', '#']) {
                    self.problems
                        .push(line, "an indented line outside a transaction or directive");
                }
            }
        }
    }

    /// `[*|! ]ACCOUNT  [AMOUNT] [= ASSERTION]  [; comment]`.
    fn posting(
        &mut self,
        line: usize,
        content: &str,
        transaction: &mut RawTransaction,
    ) -> Option<RawPosting> {
        let (content, _comment) = split_comment(content);
        let content = content
            .strip_prefix(['*', '!'])
            .map_or(content, str::trim_start);
        let (name, amounts) = match content
            .find("  ")
            .into_iter()
            .chain(content.find('\t'))
            .min()
        {
            Some(at) => (&content[..at], content[at..].trim()),
            None => (content, ""),
        };
        if name.starts_with(['(', '[']) {
            self.problems
                .push(line, "virtual postings ( ) and [ ] are not supported");
            return None;
        }
        let account = match AccountName::new(name) {
            Ok(account) => account,
            Err(error) => {
                self.problems
                    .push(line, format!("`{}`: {error}", excerpt(name)));
                return None;
            }
        };
        if amounts.contains('@') {
            let reason = "transaction prices (@, @@) are not supported: use `P` lines";
            self.problems.push(line, reason);
            return None;
        }
        if amounts.contains("==") || amounts.contains("=*") {
            self.problems.push(
                line,
                "only single-commodity balance assertions (=) are supported",
            );
            return None;
        }
        let (amount_text, assertion_text) = match amounts.split_once('=') {
            Some((amount, assertion)) => (amount.trim(), Some(assertion.trim())),
            None => (amounts, None),
        };
        let amount = if amount_text.is_empty() {
            if assertion_text.is_some() {
                self.problems.push(
                    line,
                    "balance assignments (an assertion without an amount) are not supported",
                );
                return None;
            }
            None
        } else {
            Some(self.amount(line, amount_text)?)
        };
        if let Some(text) = assertion_text {
            let (commodity, balance) = self.amount(line, text)?;
            transaction.assertions.push(Assertion {
                line,
                account: account.clone(),
                commodity,
                balance,
            });
        }
        Some(RawPosting {
            line,
            account,
            amount,
        })
    }

    /// An amount, recorded for the precision rules.
    fn amount(&mut self, line: usize, text: &str) -> Option<(CommodityCode, Decimal)> {
        match parse_amount(text) {
            Ok((code, decimal)) => {
                let scale = decimal.scale();
                let seen = self.seen.entry(code.clone()).or_insert(0);
                *seen = (*seen).max(scale);
                self.amounts.push((line, code.clone(), scale));
                Some((code, decimal))
            }
            Err(reason) => {
                self.problems
                    .push(line, format!("`{}`: {reason}", excerpt(text)));
                None
            }
        }
    }

    fn account_directive(&mut self, line: usize, rest: &str) {
        let (rest, comment) = split_comment(rest);
        let name = rest.split("  ").next().unwrap_or(rest).trim();
        let account = match AccountName::new(name) {
            Ok(account) => account,
            Err(error) => {
                self.problems
                    .push(line, format!("`{}`: {error}", excerpt(name)));
                return;
            }
        };
        let mut directive = AccountDirective {
            line,
            account_type: None,
            opened: None,
            closed: None,
        };
        for part in comment.unwrap_or("").split(',') {
            let Some((key, value)) = part.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "type" => match account_type(value) {
                    Some(kind) => directive.account_type = Some(kind),
                    None => self.problems.push(
                        line,
                        format!(
                            "`{}` is not an account type (A, L, E, R, X or their names)",
                            excerpt(value)
                        ),
                    ),
                },
                key @ ("opened" | "closed") => match Date::parse(value) {
                    Ok(date) if key == "opened" => directive.opened = Some(date),
                    Ok(date) => directive.closed = Some(date),
                    Err(_) => self.problems.push(
                        line,
                        format!("`{}` is not a date YYYY-MM-DD", excerpt(value)),
                    ),
                },
                _ => {}
            }
        }
        if self.journal.accounts.contains_key(&account) {
            self.problems
                .push(line, format!("account {account} is declared twice"));
            return;
        }
        self.journal.accounts.insert(account, directive);
    }

    /// `P DATE COMMODITY AMOUNT`: both commodities are named (created if new, with the
    /// precision their amounts or directive give, else 0).
    fn price_directive(&mut self, line: usize, rest: &str) {
        match parse_price_directive(rest) {
            Ok(price) => {
                for code in [&price.commodity, &price.quote] {
                    self.seen.entry(code.clone()).or_insert(0);
                }
                self.journal.prices.push(PriceLine { line, price });
            }
            Err(reason) => self.problems.push(line, reason),
        }
    }

    /// `commodity CODE` or `commodity SAMPLE`: the code, with the sample's precision declared.
    fn commodity_directive(&mut self, line: usize, rest: &str) -> Option<CommodityCode> {
        let (rest, _comment) = split_comment(rest);
        let rest = rest.trim();
        if !rest.contains(|c: char| c.is_ascii_digit()) {
            return match CommodityCode::new(rest.trim_matches('"')) {
                Ok(code) => {
                    self.seen.entry(code.clone()).or_insert(0);
                    Some(code)
                }
                Err(error) => {
                    self.problems
                        .push(line, format!("`{}`: {error}", excerpt(rest)));
                    None
                }
            };
        }
        match parse_amount(&rest.replace(',', "")) {
            Ok((code, sample)) => {
                self.seen.entry(code.clone()).or_insert(0);
                self.declare(line, code.clone(), sample.scale());
                Some(code)
            }
            Err(reason) => {
                self.problems
                    .push(line, format!("`{}`: {reason}", excerpt(rest)));
                None
            }
        }
    }

    fn sample_precision(&mut self, line: usize, sample: &str) -> Option<u8> {
        match parse_amount(&sample.trim().replace(',', "")) {
            Ok((_, decimal)) => Some(decimal.scale()),
            Err(reason) => {
                self.problems
                    .push(line, format!("`{}`: {reason}", excerpt(sample)));
                None
            }
        }
    }

    fn declare(&mut self, line: usize, code: CommodityCode, precision: u8) {
        match self.declared.get(&code) {
            Some((_, earlier)) if *earlier != precision => self.problems.push(
                line,
                format!("{code} was declared with {earlier} decimals before"),
            ),
            _ => {
                self.declared.insert(code, (line, precision));
            }
        }
    }

    /// Ends the block: a transaction gets its elided amount and joins the journal.
    fn finish(&mut self, block: Block) {
        let Block::Transaction(raw) = block else {
            return;
        };
        if raw.broken {
            return;
        }
        let mut elided = raw.postings.iter().filter(|p| p.amount.is_none());
        if let (Some(_), Some(second)) = (elided.next(), elided.next()) {
            self.problems.push(
                second.line,
                "a second posting without an amount (at most one per transaction)",
            );
            return;
        }
        let inferred = match infer_elided(&raw.postings) {
            Ok(inferred) => inferred,
            Err(reason) => {
                let line = raw
                    .postings
                    .iter()
                    .find(|p| p.amount.is_none())
                    .map_or(raw.line, |p| p.line);
                self.problems.push(line, reason);
                return;
            }
        };
        let mut entry = raw.entry;
        for posting in raw.postings {
            let Some((commodity, amount)) = posting.amount.or_else(|| inferred.clone()) else {
                continue;
            };
            entry.postings.push(NewPosting {
                account: posting.account,
                commodity,
                amount,
            });
        }
        self.journal.transactions.push(Transaction {
            line: raw.line,
            entry,
            assertions: raw.assertions,
        });
    }

    /// Settles precisions and checks every amount against its commodity's declared one.
    fn settle(mut self) -> Result<Journal, Problems> {
        for (line, code, scale) in &self.amounts {
            if let Some((_, precision)) = self.declared.get(code)
                && scale > precision
            {
                self.problems.push(
                    *line,
                    format!(
                        "an amount in {code} with {scale} decimals; its commodity directive \
                         allows {precision} (amounts are never rounded)"
                    ),
                );
            }
        }
        for (code, seen) in &self.seen {
            let precision = self.declared.get(code).map_or(*seen, |(_, p)| *p);
            self.journal.commodities.insert(code.clone(), precision);
        }
        if self.problems.is_empty() {
            Ok(self.journal)
        } else {
            Err(self.problems.sorted())
        }
    }
}

/// The amount of the one posting without one: minus the others' sum, in the only commodity
/// that does not balance (or zero, if there is one commodity and it balances).
fn infer_elided(postings: &[RawPosting]) -> Result<Option<(CommodityCode, Decimal)>, String> {
    if postings.iter().all(|p| p.amount.is_some()) {
        return Ok(None);
    }
    let mut sums: BTreeMap<&CommodityCode, (u8, Vec<Decimal>)> = BTreeMap::new();
    for (code, amount) in postings.iter().filter_map(|p| p.amount.as_ref()) {
        let sum = sums.entry(code).or_default();
        sum.0 = sum.0.max(amount.scale());
        sum.1.push(*amount);
    }
    let overflow = || "the amounts overflow".to_owned();
    let mut open = Vec::new();
    for (code, (scale, amounts)) in &sums {
        let mut total = Amount::ZERO;
        for amount in amounts {
            let units = amount.to_minor_units(*scale).map_err(|_| overflow())?;
            total = total.checked_add(units).map_err(|_| overflow())?;
        }
        if total != Amount::ZERO || sums.len() == 1 {
            let negated = total.checked_neg().map_err(|_| overflow())?;
            let decimal = Decimal::parse(&negated.format(*scale)).map_err(|_| overflow())?;
            open.push(((*code).clone(), decimal));
        }
    }
    match open.len() {
        0 if sums.is_empty() => Err("no other posting has an amount to balance".into()),
        0 => {
            Err("a posting without an amount, but the others balance in several commodities".into())
        }
        1 => Ok(open.pop()),
        _ => {
            let codes: Vec<String> = open.iter().map(|(code, _)| code.to_string()).collect();
            Err(format!(
                "the amount left out is ambiguous: the other postings leave {} unbalanced",
                codes.join(", ")
            ))
        }
    }
}

/// `-12.50 USD`, `12.50USD`, `-12.50 "X"`, `USD -12.50`, `$12.50`, `-$12.50`, `$-12.50`.
pub fn parse_amount(text: &str) -> Result<(CommodityCode, Decimal), String> {
    let (code, signed) = split_amount(text)?;
    let decimal = Decimal::parse(&signed).map_err(|error| error.to_string())?;
    Ok((code, decimal))
}

/// An amount's commodity and its number as text, signed and without digit groups (`USD
/// -12.50` -> `USD`, `-12.50`), for a caller that reads the number its own way (a price's
/// rate).
pub(crate) fn split_amount(text: &str) -> Result<(CommodityCode, String), String> {
    let text = text.trim();
    let (mut negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text.strip_prefix('+').unwrap_or(text).trim_start()),
    };
    let is_number = |c: char| c.is_ascii_digit() || c == '.' || c == ',';
    let (number, code) = if rest.starts_with(is_number) {
        let end = rest.find(|c: char| !is_number(c)).unwrap_or(rest.len());
        (&rest[..end], rest[end..].trim())
    } else {
        let (code, after) = match rest.strip_prefix('"') {
            Some(quoted) => match quoted.split_once('"') {
                Some((code, after)) => (code, after),
                None => return Err("an unclosed quote".into()),
            },
            None => {
                let end = rest
                    .find(|c: char| is_number(c) || c == '-' || c == '+' || c.is_whitespace())
                    .unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        let mut after = after.trim_start();
        if let Some(unsigned) = after.strip_prefix('-') {
            if negative {
                return Err("two minus signs".into());
            }
            negative = true;
            after = unsigned.trim_start();
        }
        (after, code)
    };
    let code = code.trim_matches('"');
    if code.is_empty() {
        return Err("an amount needs a commodity (`12.50 USD`, `$12.50`)".into());
    }
    let number = ungroup(number)?;
    if number.is_empty() {
        return Err("no number".into());
    }
    let code = CommodityCode::new(code).map_err(|error| error.to_string())?;
    let signed = if negative {
        format!("-{number}")
    } else {
        number
    };
    Ok((code, signed))
}

/// `1,234,567.89` without its digit group separators; a `,` anywhere else (a decimal comma,
/// groups not of three) is refused.
fn ungroup(number: &str) -> Result<String, String> {
    if !number.contains(',') {
        return Ok(number.to_owned());
    }
    let whole = number.split('.').next().unwrap_or(number);
    let mut groups = whole.split(',');
    let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()));
    if first_ok && groups.all(|group| group.len() == 3) {
        Ok(number.replace(',', ""))
    } else {
        Err(
            "`,` only as a digit group separator (`1,000.00`); decimal commas are not supported"
                .into(),
        )
    }
}

/// hledger's type letters and names (`C`ash is an asset here).
fn account_type(text: &str) -> Option<AccountType> {
    match text.to_lowercase().as_str() {
        "a" | "asset" | "assets" | "c" | "cash" => Some(AccountType::Asset),
        "l" | "liability" | "liabilities" => Some(AccountType::Liability),
        "e" | "equity" => Some(AccountType::Equity),
        "r" | "revenue" | "revenues" | "income" => Some(AccountType::Income),
        "x" | "expense" | "expenses" => Some(AccountType::Expense),
        _ => None,
    }
}

/// Splits `TEXT ; comment` at the first `;`.
fn split_comment(text: &str) -> (&str, Option<&str>) {
    match text.split_once(';') {
        Some((before, comment)) => (before.trim_end(), Some(comment)),
        None => (text, None),
    }
}

/// `NAME:` is a tag, `KEY: VALUE` metadata (the whole rest is the value); other comments are
/// dropped.
fn add_tag(entry: &mut NewEntry, comment: &str) {
    let comment = comment.trim();
    let Some((name, value)) = comment.split_once(':') else {
        return;
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return;
    }
    let value = value.trim();
    if value.is_empty() {
        entry.tags.insert(name.to_owned());
    } else {
        entry.metadata.insert(name.to_owned(), value.to_owned());
    }
}

/// At most 40 characters of user text, for a message.
fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Journal {
        parse_journal(text).unwrap_or_else(|problems| panic!("{problems:?}"))
    }

    /// The problems as `(line, reason fragment)` checks.
    fn refused(text: &str) -> Vec<Problem> {
        match parse_journal(text) {
            Ok(journal) => panic!("accepted: {journal:?}"),
            Err(problems) => problems.shown,
        }
    }

    fn assert_refused(text: &str, line: usize, fragment: &str) {
        let problems = refused(text);
        assert!(
            problems
                .iter()
                .any(|p| p.line == line && p.reason.contains(fragment)),
            "expected line {line}: {fragment}; got {problems:?}"
        );
    }

    fn decimal(text: &str) -> Decimal {
        Decimal::parse(text).expect(text)
    }

    fn code(text: &str) -> CommodityCode {
        CommodityCode::new(text).expect(text)
    }

    #[test]
    fn a_transaction_with_status_code_payee_note_and_tags() {
        let journal = parsed(
            "2024/01/05 ! (101) Grocer | weekly shop  ; food:\n    ; receipt: R-17\n    \
             ; just a note\n    Expenses:Food  $42.50\n    Assets:Bank  -42.50 $  ; paid:\n",
        );
        let [transaction] = journal.transactions.as_slice() else {
            panic!("one transaction");
        };
        let entry = &transaction.entry;
        assert_eq!(transaction.line, 1);
        assert_eq!(entry.date, Date::parse("2024-01-05").expect("date"));
        assert_eq!(entry.payee.as_deref(), Some("Grocer"));
        assert_eq!(entry.description, "weekly shop");
        assert_eq!(entry.tags, BTreeSet::from(["food".to_owned()]));
        assert_eq!(
            entry.metadata.get("receipt").map(String::as_str),
            Some("R-17")
        );
        assert_eq!(entry.postings.len(), 2);
        assert_eq!(entry.postings[1].amount, decimal("-42.50"));
        assert_eq!(journal.commodities.get(&code("$")), Some(&2));
    }

    #[test]
    fn amount_forms() {
        let cases = [
            ("-12.50 USD", "USD", "-12.50"),
            ("12.50USD", "USD", "12.50"),
            ("USD -12.50", "USD", "-12.50"),
            ("$12.50", "$", "12.50"),
            ("-$12.50", "$", "-12.50"),
            ("$-12.50", "$", "-12.50"),
            ("5 \"€\"", "€", "5"),
            ("$1,234,567.89", "$", "1234567.89"),
        ];
        for (text, commodity, quantity) in cases {
            assert_eq!(
                parse_amount(text),
                Ok((code(commodity), decimal(quantity))),
                "{text}"
            );
        }
        for text in ["12.50", "1,23.00 USD", "--5 USD", "-$-5", "USD", "1e5 USD"] {
            assert!(parse_amount(text).is_err(), "{text}");
        }
    }

    #[test]
    fn an_elided_amount_is_inferred() {
        let journal = parsed("2024-01-01 x\n  a:b  1.5 USD\n  a:c  2.25 USD\n  Equity\n");
        let postings = &journal.transactions[0].entry.postings;
        assert_eq!(postings[2].amount, decimal("-3.75"));
        assert_eq!(postings[2].commodity, code("USD"));
    }

    #[test]
    fn two_elided_amounts_and_an_ambiguous_one_are_refused_on_their_lines() {
        assert_refused(
            "2024-01-01 x\n  a:b  1 USD\n  a:c\n  a:d\n",
            4,
            "a second posting without an amount",
        );
        assert_refused(
            "2024-01-01 x\n  a:b  1 USD\n  a:c  1 EUR\n  a:d\n",
            4,
            "ambiguous: the other postings leave EUR, USD unbalanced",
        );
    }

    #[test]
    fn account_and_commodity_directives() {
        let journal = parsed(
            "account Savings  ; type: A, opened: 2023-02-01\naccount Stuff  ; type: X\n\
             commodity 1,000.000 EUR\ncommodity USD\n  format 1.00 USD\ncommodity \"$\"\n",
        );
        let savings = &journal.accounts[&AccountName::new("Savings").expect("name")];
        assert_eq!(savings.account_type, Some(AccountType::Asset));
        assert_eq!(savings.opened, Date::parse("2023-02-01").ok());
        assert_eq!(savings.line, 1);
        assert_eq!(journal.commodities.get(&code("EUR")), Some(&3));
        assert_eq!(journal.commodities.get(&code("USD")), Some(&2));
        assert_eq!(journal.commodities.get(&code("$")), Some(&0));
    }

    #[test]
    fn precision_is_the_most_decimals_seen_without_a_directive() {
        let journal = parsed("2024-01-01 x\n  a  1.5 BTC\n  b  -1.50000000 BTC\n");
        assert_eq!(journal.commodities.get(&code("BTC")), Some(&8));
    }

    #[test]
    fn more_decimals_than_the_directive_is_refused_not_rounded() {
        assert_refused(
            "commodity 1.00 USD\n\n2024-01-01 x\n  a  1.005 USD\n  b\n",
            4,
            "3 decimals; its commodity directive allows 2",
        );
    }

    #[test]
    fn balance_assertions_are_read_with_their_line() {
        let journal = parsed("2024-01-01 x\n  a  0.00 USD = 5.00 USD\n  b  0 USD\n");
        let transaction = &journal.transactions[0];
        assert!(transaction.asserts_only());
        assert_eq!(transaction.assertions.len(), 1);
        assert_eq!(transaction.assertions[0].line, 2);
        assert_eq!(transaction.assertions[0].balance, decimal("5.00"));
    }

    #[test]
    fn comments_and_comment_blocks_are_skipped() {
        let journal = parsed(
            "; one\n# two\n* three\ncomment\n2024-01-01 not read\nend comment\n\
             2024-01-01 x  ; note without tag\n  a  1 USD\n  b  -1 USD\n",
        );
        assert_eq!(journal.transactions.len(), 1);
        assert!(journal.transactions[0].entry.tags.is_empty());
    }

    #[test]
    fn unsupported_constructs_are_refused_with_their_line() {
        let cases = [
            ("2024-01-01 x\n  (a)  1 USD\n  b\n", 2, "virtual postings"),
            ("2024-01-01 x\n  a  1 USD @ 2 EUR\n  b\n", 2, "prices"),
            (
                "2024-01-01 x\n  a  1 USD == 1 USD\n  b\n",
                2,
                "single-commodity",
            ),
            (
                "2024-01-01 x\n  a  = 1 USD\n  b  1 USD\n",
                2,
                "balance assignments",
            ),
            ("2024-01-01 x\n  a  10\n  b\n", 2, "needs a commodity"),
            ("2024-01-01 x\n  a  1,5 EUR\n  b\n", 2, "decimal commas"),
            ("include other.journal\n", 1, "`include` is not supported"),
            ("D 1000.00 USD\n", 1, "directive `D` is not supported"),
            ("P 2024-01-01 EUR 0 USD\n", 1, "greater than zero"),
            ("2024-13-01 x\n", 1, "not a date"),
            ("account X  ; type: Q\n", 1, "not an account type"),
            ("  a  1 USD\n", 1, "indented line outside"),
            ("2024-01-01 x\n  a\n", 2, "no other posting has an amount"),
        ];
        for (text, line, fragment) in cases {
            assert_refused(text, line, fragment);
        }
    }

    #[test]
    fn price_directives_are_read_with_their_line_and_set_no_precision() {
        let text = "commodity 1.00 USD\nP 2024-03-01 EUR 1.0842 USD\nP 2024/03/02 \"€\" $1.1\n";
        let journal = parsed(text);
        let lines: Vec<usize> = journal.prices.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 3]);
        assert_eq!(journal.prices[1].price.quote, code("$"));
        // Every commodity named is created; a rate's decimals are not an amount's.
        let precisions: Vec<(&str, u8)> = (journal.commodities.iter())
            .map(|(code, precision)| (code.as_str(), *precision))
            .collect();
        assert_eq!(precisions, vec![("$", 0), ("EUR", 0), ("USD", 2), ("€", 0)]);
    }

    #[test]
    fn every_problem_is_reported_not_only_the_first() {
        let problems = refused("2024-13-01 x\n\n2024-01-01 y\n  a  1 USD @ 1 EUR\n  b\nfoo\n");
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![1, 4, 6]);
    }

    #[test]
    fn problems_stop_at_import_problems_max_and_the_rest_are_counted() {
        let text = "bad\n".repeat(IMPORT_PROBLEMS_MAX + 7);
        let problems = parse_journal(&text).expect_err("refused");
        assert_eq!(problems.shown.len(), IMPORT_PROBLEMS_MAX);
        assert_eq!(problems.not_shown, 7);
        assert_eq!(problems.shown[0].line, 1);
    }
}

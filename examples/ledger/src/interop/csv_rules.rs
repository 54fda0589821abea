//! The mapping file of a bank CSV import (`ledger import FILE --csv-rules RULES`). Pure: text
//! in, `CsvRules` (or every problem, each with its 1-based line) out.
//!
//! One `KEY VALUE` per line, like hledger's rules files; blank lines and lines starting with
//! `#` or `;` are comments:
//!
//! ```text
//! skip 1                                   # header lines to skip (default 0)
//! separator ,                              # one character, or `tab` (default `,`)
//! fields date, description, amount         # the columns, in order; `_` or empty ignores one
//! date-format %d/%m/%Y                     # %Y (4 digits), %m, %d (1 or 2 digits), literals
//! account Assets:Bank:Checking             # the bank account
//! currency USD                             # the statement's commodity
//! precision 2                              # needed only if the tenant lacks the commodity
//! default-account Expenses:Unsorted        # the counter-account when no rule matches
//! if grocer -> Expenses:Food               # description contains `grocer` (any case)
//! ```
//!
//! `fields` names `date`, `description`, and either `amount` (positive: money into the bank
//! account) or both `debit` (money out) and `credit` (money in); `payee` is optional. `if
//! TEXT -> ACCOUNT` is a case-insensitive substring match on the description (not a regular
//! expression); the first matching rule, in file order, wins. Required: `fields`,
//! `date-format`, `account`, `currency`, `default-account`. Only `%Y`, `%m` and `%d` are
//! supported in dates (other `%` directives are refused). Bounded: at most
//! `CSV_MATCH_RULES_MAX` rules. Tests at the bottom.

use super::parse::Problems;
use crate::domain::{AccountName, CommodityCode, Date};
use crate::limits::{COMMODITY_PRECISION_MAX, CSV_MATCH_RULES_MAX};

/// Where each value is found in a record (0-based column indexes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    pub date: usize,
    pub description: usize,
    pub amount: AmountColumns,
    pub payee: Option<usize>,
}

/// One signed amount column, or money out and money in in two columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountColumns {
    Signed(usize),
    DebitCredit { debit: usize, credit: usize },
}

/// One piece of a date format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatePart {
    Year,
    Month,
    Day,
    Literal(char),
}

/// A date format made of `%Y`, `%m`, `%d` and literal characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateFormat(Vec<DatePart>);

/// `if TEXT -> ACCOUNT`: `needle` is lowercase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchRule {
    pub line: usize,
    pub needle: String,
    pub account: AccountName,
}

/// A parsed rules file. Account fields carry the line that named them (for later problems).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvRules {
    pub skip: usize,
    pub separator: char,
    pub columns: Columns,
    pub date_format: DateFormat,
    pub account: (usize, AccountName),
    pub currency: (usize, CommodityCode),
    pub precision: Option<u8>,
    pub default_account: (usize, AccountName),
    pub rules: Vec<MatchRule>,
}

impl CsvRules {
    /// The counter-account for a description: the first matching rule's, else the default.
    pub fn counter_account(&self, description: &str) -> &AccountName {
        let lower = description.to_lowercase();
        self.rules
            .iter()
            .find(|rule| lower.contains(&rule.needle))
            .map_or(&self.default_account.1, |rule| &rule.account)
    }
}

impl DateFormat {
    /// Reads a format; only `%Y`, `%m` and `%d`, each exactly once.
    pub fn parse(text: &str) -> Result<DateFormat, String> {
        let mut parts = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            parts.push(match (c, c == '%') {
                (_, true) => match chars.next() {
                    Some('Y') => DatePart::Year,
                    Some('m') => DatePart::Month,
                    Some('d') => DatePart::Day,
                    other => {
                        let shown = other.map(String::from).unwrap_or_default();
                        return Err(format!(
                            "unsupported date directive %{shown}: use %Y, %m and %d"
                        ));
                    }
                },
                (literal, false) => DatePart::Literal(literal),
            });
        }
        for part in [DatePart::Year, DatePart::Month, DatePart::Day] {
            if parts.iter().filter(|p| **p == part).count() != 1 {
                return Err(format!(
                    "a date format needs %Y, %m and %d once each: {text:?}"
                ));
            }
        }
        Ok(DateFormat(parts))
    }

    /// Reads a date in this format (surrounding spaces ignored).
    pub fn read(&self, text: &str) -> Option<Date> {
        let mut rest = text.trim();
        let (mut year, mut month, mut day) = (0, 0, 0);
        for part in &self.0 {
            match part {
                DatePart::Literal(c) => rest = rest.strip_prefix(*c)?,
                DatePart::Year => year = take_digits(&mut rest, 4, 4)?,
                DatePart::Month => month = take_digits(&mut rest, 1, 2)?,
                DatePart::Day => day = take_digits(&mut rest, 1, 2)?,
            }
        }
        let year = i32::try_from(year).ok()?;
        rest.is_empty().then(|| Date::from_ymd(year, month, day))?
    }
}

impl std::fmt::Display for DateFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.0 {
            match part {
                DatePart::Year => f.write_str("%Y")?,
                DatePart::Month => f.write_str("%m")?,
                DatePart::Day => f.write_str("%d")?,
                DatePart::Literal(c) => write!(f, "{c}")?,
            }
        }
        Ok(())
    }
}

/// Takes `min..=max` ASCII digits off the front of `rest`.
fn take_digits(rest: &mut &str, min: usize, max: usize) -> Option<u32> {
    let count = rest
        .bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count();
    if count < min {
        return None;
    }
    let (digits, tail) = rest.split_at(count);
    *rest = tail;
    digits.parse().ok()
}

/// What has been read so far; `finish` checks the required keys.
#[derive(Default)]
struct Partial {
    skip: usize,
    separator: Option<char>,
    columns: Option<Columns>,
    date_format: Option<DateFormat>,
    account: Option<(usize, AccountName)>,
    currency: Option<(usize, CommodityCode)>,
    precision: Option<u8>,
    default_account: Option<(usize, AccountName)>,
    rules: Vec<MatchRule>,
}

/// Parses a rules file: the rules, or every problem with its line.
pub fn parse_rules(text: &str) -> Result<CsvRules, Problems> {
    let mut problems = Problems::default();
    let mut partial = Partial::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let (key, value) = trimmed
            .split_once(char::is_whitespace)
            .map_or((trimmed, ""), |(k, v)| (k, v.trim()));
        if let Err(reason) = read_line(&mut partial, line, key, value) {
            problems.push(line, reason);
        }
    }
    if !problems.is_empty() {
        return Err(problems); // a key with a bad value is not also reported missing
    }
    finish(partial).map_err(|missing| {
        problems.push(text.lines().count().max(1), missing);
        problems
    })
}

fn read_line(partial: &mut Partial, line: usize, key: &str, value: &str) -> Result<(), String> {
    let account = |value: &str| {
        AccountName::new(value).map_err(|e| format!("bad account name {value:?}: {e}"))
    };
    match key {
        "skip" => {
            partial.skip = value
                .parse()
                .map_err(|_| format!("skip takes a number of lines, not {value:?}"))?;
        }
        "separator" => partial.separator = Some(separator(value)?),
        "fields" => partial.columns = Some(columns(value)?),
        "date-format" => partial.date_format = Some(DateFormat::parse(value)?),
        "account" => partial.account = Some((line, account(value)?)),
        "default-account" => partial.default_account = Some((line, account(value)?)),
        "currency" => {
            let code = CommodityCode::new(value)
                .map_err(|e| format!("bad commodity code {value:?}: {e}"))?;
            partial.currency = Some((line, code));
        }
        "precision" => {
            let places: u8 = value
                .parse()
                .map_err(|_| format!("bad precision {value:?}"))?;
            if places > COMMODITY_PRECISION_MAX {
                return Err(format!("precision is at most {COMMODITY_PRECISION_MAX}"));
            }
            partial.precision = Some(places);
        }
        "if" => {
            if partial.rules.len() >= CSV_MATCH_RULES_MAX {
                return Err(format!("more than {CSV_MATCH_RULES_MAX} `if` rules"));
            }
            let Some((needle, target)) = value.split_once("->") else {
                return Err("an `if` rule is `if TEXT -> ACCOUNT`".into());
            };
            let needle = needle.trim().to_lowercase();
            if needle.is_empty() {
                return Err("an `if` rule needs text to match".into());
            }
            partial.rules.push(MatchRule {
                line,
                needle,
                account: account(target.trim())?,
            });
        }
        other => return Err(format!("unknown key {other:?}")),
    }
    Ok(())
}

fn separator(value: &str) -> Result<char, String> {
    if value == "tab" {
        return Ok('\t');
    }
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c != '"' && c != '\r' && c != '\n' => Ok(c),
        _ => Err(format!(
            "a separator is one character (or `tab`), not {value:?}"
        )),
    }
}

/// `fields date, _, description, amount`: each name at most once.
fn columns(value: &str) -> Result<Columns, String> {
    let names: Vec<&str> = value.split(',').map(str::trim).collect();
    let find = |wanted: &str| -> Result<Option<usize>, String> {
        let mut found = names.iter().enumerate().filter(|(_, n)| **n == wanted);
        let first = found.next().map(|(index, _)| index);
        match found.next() {
            Some(_) => Err(format!("field {wanted} is named twice")),
            None => Ok(first),
        }
    };
    const KNOWN: [&str; 8] = [
        "date",
        "description",
        "amount",
        "debit",
        "credit",
        "payee",
        "_",
        "",
    ];
    if let Some(unknown) = names.iter().find(|n| !KNOWN.contains(n)) {
        return Err(format!(
            "unknown field {unknown:?}: use date, description, amount or debit and credit, \
             payee, or _ to ignore a column"
        ));
    }
    let required = |name: &str| find(name)?.ok_or(format!("fields must name {name}"));
    let amount = match (find("amount")?, find("debit")?, find("credit")?) {
        (Some(amount), None, None) => AmountColumns::Signed(amount),
        (None, Some(debit), Some(credit)) => AmountColumns::DebitCredit { debit, credit },
        _ => return Err("fields must name either amount, or both debit and credit".into()),
    };
    Ok(Columns {
        date: required("date")?,
        description: required("description")?,
        amount,
        payee: find("payee")?,
    })
}

fn finish(partial: Partial) -> Result<CsvRules, String> {
    let missing = |key: &str| format!("the rules file has no `{key}` line");
    Ok(CsvRules {
        skip: partial.skip,
        separator: partial.separator.unwrap_or(','),
        columns: partial.columns.ok_or_else(|| missing("fields"))?,
        date_format: partial.date_format.ok_or_else(|| missing("date-format"))?,
        account: partial.account.ok_or_else(|| missing("account"))?,
        currency: partial.currency.ok_or_else(|| missing("currency"))?,
        precision: partial.precision,
        default_account: partial
            .default_account
            .ok_or_else(|| missing("default-account"))?,
        rules: partial.rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "# a bank
skip 1
fields date, description, _, amount
date-format %d/%m/%Y
account Assets:Bank
currency USD
default-account Expenses:Unsorted
if GROCER -> Expenses:Food
if grocer's deli -> Expenses:Deli
";

    #[test]
    fn a_rules_file_parses() {
        let rules = parse_rules(RULES).expect("parses");
        assert_eq!(rules.skip, 1);
        assert_eq!(rules.separator, ',');
        assert_eq!(rules.columns.amount, AmountColumns::Signed(3));
        assert_eq!(rules.columns.description, 1);
        assert_eq!(rules.account.0, 5);
        assert_eq!(rules.rules.len(), 2);
        assert_eq!(rules.rules[0].needle, "grocer");
    }

    #[test]
    fn the_first_matching_rule_wins_case_insensitively() {
        let rules = parse_rules(RULES).expect("parses");
        assert_eq!(
            rules.counter_account("Grocer's Deli").as_str(),
            "Expenses:Food"
        );
        assert_eq!(
            rules.counter_account("BIG GROCERY").as_str(),
            "Expenses:Food"
        );
        assert_eq!(
            rules.counter_account("Cinema").as_str(),
            "Expenses:Unsorted"
        );
    }

    #[test]
    fn debit_and_credit_columns_and_payee() {
        let text = RULES.replace(
            "date, description, _, amount",
            "date,payee,description,debit,credit",
        );
        let rules = parse_rules(&text).expect("parses");
        assert_eq!(
            rules.columns.amount,
            AmountColumns::DebitCredit {
                debit: 3,
                credit: 4
            }
        );
        assert_eq!(rules.columns.payee, Some(1));
    }

    #[test]
    fn every_problem_has_its_line() {
        let text = "skip many
fields date, amount, memo
date-format %d/%b/%Y
account not an account:
currency USD
default-account Expenses:X
if -> Expenses:Y
colour blue
";
        let problems = parse_rules(text).expect_err("bad");
        let lines: Vec<usize> = problems.shown.iter().map(|p| p.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 7, 8]);
        assert!(
            problems.shown[2]
                .reason
                .contains("unsupported date directive %b")
        );
    }

    #[test]
    fn amount_columns_must_be_amount_or_debit_and_credit() {
        for fields in [
            "date, description",
            "date, description, debit",
            "date, description, amount, credit",
        ] {
            let text = RULES.replace("date, description, _, amount", fields);
            let problems = parse_rules(&text).expect_err(fields);
            assert_eq!(problems.shown[0].line, 3, "{fields}");
        }
    }

    #[test]
    fn a_missing_key_is_named() {
        let text = RULES.replace("default-account Expenses:Unsorted\n", "");
        let problems = parse_rules(&text).expect_err("missing");
        assert!(
            problems.shown[0]
                .reason
                .contains("no `default-account` line")
        );
    }

    #[test]
    fn date_formats() {
        let dmy = DateFormat::parse("%d/%m/%Y").expect("format");
        assert_eq!(dmy.read("31/01/2024"), Date::from_ymd(2024, 1, 31));
        assert_eq!(dmy.read("1/2/2024"), Date::from_ymd(2024, 2, 1));
        assert_eq!(dmy.read("31/02/2024"), None);
        assert_eq!(dmy.read("2024-01-31"), None);
        let mdy = DateFormat::parse("%m/%d/%Y").expect("format");
        assert_eq!(mdy.read("01/31/2024"), Date::from_ymd(2024, 1, 31));
        let iso = DateFormat::parse("%Y-%m-%d").expect("format");
        assert_eq!(iso.read(" 2024-01-31 "), Date::from_ymd(2024, 1, 31));
        assert_eq!(iso.read("2024-01-31x"), None);
        assert!(DateFormat::parse("%Y-%m").is_err());
        assert!(DateFormat::parse("%Y-%m-%d %H").is_err());
    }

    #[test]
    fn too_many_match_rules_are_refused() {
        let mut text = RULES.to_owned();
        for index in 0..CSV_MATCH_RULES_MAX {
            text.push_str(&format!("if shop{index} -> Expenses:Shops\n"));
        }
        let problems = parse_rules(&text).expect_err("over the limit");
        let first_over = RULES.lines().count() + CSV_MATCH_RULES_MAX - 2 + 1;
        assert_eq!(problems.shown[0].line, first_over);
        assert_eq!(problems.shown.len() + problems.not_shown, 2);
    }
}

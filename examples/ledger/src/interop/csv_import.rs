//! Bank CSV import: `convert` (pure) turns a statement's records into two-posting entries with
//! a `CsvRules` mapping; `import_csv` drops the rows already imported and writes the rest with
//! `Store::import_book`, all or nothing.
//!
//! Each row becomes: the bank account `+amount`, the counter-account (first matching `if`
//! rule, else `default-account`) `-amount`, in the rules' `currency`. Amounts are plain
//! decimals (`-12.50`, `+3`, `12`); more decimals than the commodity's precision is an error
//! (never a rounding); digit group separators and currency symbols are refused. With
//! `debit`/`credit` columns the amount is `credit - debit` (an empty cell is zero; both empty
//! is an error). A zero amount is an error.
//!
//! Duplicates: every row carries a fingerprint in its entry's metadata under `csv-id`: the
//! SHA-256 of the bank account, date, amount (minor units), description and the row's
//! occurrence index among identical rows (same date, amount and description) in its file.
//! The index keeps two real, identical rows (two coffees on one day) as two entries, while
//! the k-th such row of an overlapping statement still meets the k-th of the earlier one.
//! Rows whose fingerprint the tenant already holds (`Store::existing_metadata`) are skipped
//! and counted. Why metadata, not idempotency keys: keys answer "same request, same result"
//! per entry and conflict on a different body; an import wants "already there, skip it",
//! and `import_book` writes entries without keys.
//!
//! Not done: an overlap that cuts through a day's identical rows (one statement holding one
//! of two identical coffees) can misalign the indexes; the duplicate check and the write are
//! two store calls, not one transaction (the CLI is one process). Tests at the bottom and in
//! `tests/cli/csv.rs`.

use super::csv_reader::read_records;
use super::csv_rules::{AmountColumns, CsvRules};
use super::parse::Problems;
use crate::domain::{
    Account, AccountName, AccountType, Amount, Commodity, Date, Decimal, NewEntry, NewPosting,
    TenantId,
};
use crate::store::{BookImport, Store, StoreError};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The metadata key of a row's fingerprint.
pub const CSV_ID_KEY: &str = "csv-id";

/// One converted row: its line in the CSV file, its fingerprint and its entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvRow {
    pub line: usize,
    pub fingerprint: String,
    pub entry: NewEntry,
}

/// What a CSV import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CsvSummary {
    pub imported: usize,
    pub skipped: usize,
    pub accounts: usize,
    pub commodities: usize,
}

/// Why nothing was imported: problems in the rules file or in the CSV (each with its line),
/// or a store failure.
#[derive(Debug)]
pub enum CsvImportError {
    Rules(Problems),
    Csv(Problems),
    Store(StoreError),
}

impl std::fmt::Display for CsvImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CsvImportError::Rules(p) => write!(f, "{} problems in the rules", p.shown.len()),
            CsvImportError::Csv(p) => write!(f, "{} problems in the statement", p.shown.len()),
            CsvImportError::Store(error) => write!(f, "the store failed: {error}"),
        }
    }
}

impl std::error::Error for CsvImportError {}

impl From<StoreError> for CsvImportError {
    fn from(error: StoreError) -> CsvImportError {
        CsvImportError::Store(error)
    }
}

/// Converts every record after the `skip` header records; every problem with its line.
pub fn convert(rules: &CsvRules, precision: u8, text: &str) -> Result<Vec<CsvRow>, Problems> {
    let mut problems = Problems::default();
    let records = match read_records(text, rules.separator) {
        Ok(records) => records,
        Err((line, reason)) => {
            problems.push(line, reason);
            return Err(problems);
        }
    };
    let mut seen: BTreeMap<(Date, Amount, String), usize> = BTreeMap::new();
    let mut rows = Vec::new();
    for record in records.iter().skip(rules.skip) {
        match convert_record(rules, precision, &record.fields) {
            Ok((date, amount, entry)) => {
                let key = (date, amount, entry.description.clone());
                let occurrence = seen.entry(key).or_insert(0);
                let fingerprint = fingerprint(
                    &rules.account.1,
                    date,
                    amount,
                    &entry.description,
                    *occurrence,
                );
                *occurrence += 1;
                let mut entry = entry;
                entry
                    .metadata
                    .insert(CSV_ID_KEY.into(), fingerprint.clone());
                rows.push(CsvRow {
                    line: record.line,
                    fingerprint,
                    entry,
                });
            }
            Err(reason) => problems.push(record.line, reason),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// The SHA-256 (hex) of the row's identity; see the module doc for why the occurrence index.
pub fn fingerprint(
    account: &AccountName,
    date: Date,
    amount: Amount,
    description: &str,
    occurrence: usize,
) -> String {
    let text = format!(
        "{account}\u{1f}{date}\u{1f}{}\u{1f}{description}\u{1f}{occurrence}",
        amount.0
    );
    let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    digest
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

fn convert_record(
    rules: &CsvRules,
    precision: u8,
    fields: &[String],
) -> Result<(Date, Amount, NewEntry), String> {
    let cell = |index: usize, name: &str| {
        fields.get(index).map(|f| f.trim()).ok_or_else(|| {
            format!(
                "the record has {} fields; the {name} is column {}",
                fields.len(),
                index + 1
            )
        })
    };
    let columns = &rules.columns;
    let date_text = cell(columns.date, "date")?;
    let date = rules
        .date_format
        .read(date_text)
        .ok_or_else(|| format!("not a date in format {}: {date_text:?}", rules.date_format))?;
    let amount = match columns.amount {
        AmountColumns::Signed(index) => {
            read_amount(cell(index, "amount")?, precision)?.ok_or("the amount is empty")?
        }
        AmountColumns::DebitCredit { debit, credit } => {
            let out = read_amount(cell(debit, "debit")?, precision)?;
            let into = read_amount(cell(credit, "credit")?, precision)?;
            if out.is_none() && into.is_none() {
                return Err("both debit and credit are empty".into());
            }
            let (out, into) = (out.unwrap_or(Amount::ZERO), into.unwrap_or(Amount::ZERO));
            into.checked_sub(out).map_err(|_| "the amount overflows")?
        }
    };
    if amount == Amount::ZERO {
        return Err("the amount is zero".into());
    }
    let description = cell(columns.description, "description")?.to_owned();
    let payee = match columns.payee {
        Some(index) => Some(cell(index, "payee")?.to_owned()).filter(|p| !p.is_empty()),
        None => None,
    };
    let counter = rules.counter_account(&description);
    let negated = amount.checked_neg().map_err(|_| "the amount overflows")?;
    let posting = |account: &AccountName, amount: Amount| -> Result<NewPosting, String> {
        Ok(NewPosting {
            account: account.clone(),
            commodity: rules.currency.1.clone(),
            amount: Decimal::parse(&amount.format(precision))
                .map_err(|_| "the amount overflows")?,
        })
    };
    let entry = NewEntry {
        date,
        description,
        payee,
        tags: BTreeSet::new(),
        metadata: BTreeMap::new(),
        postings: vec![
            posting(&rules.account.1, amount)?,
            posting(counter, negated)?,
        ],
        pending: None,
    };
    Ok((date, amount, entry))
}

/// A plain decimal in minor units; `None` for an empty cell. A leading `+` is allowed.
fn read_amount(text: &str, precision: u8) -> Result<Option<Amount>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let plain = text.strip_prefix('+').unwrap_or(text);
    let decimal = Decimal::parse(plain).map_err(|_| {
        format!(
            "not an amount: {text:?} (digits, an optional sign and `.`; no symbols or digit groups)"
        )
    })?;
    decimal
        .to_minor_units(precision)
        .map(Some)
        .map_err(|error| match error {
            crate::domain::amount::AmountError::Precision { .. } => format!(
                "{text} has more than {precision} decimals (the commodity's precision; no rounding)"
            ),
            _ => format!("the amount {text} does not fit"),
        })
}

/// Converts `text` with `rules` and imports the rows `tenant` does not hold yet, in one
/// transaction. Accounts and the commodity the tenant lacks are created (an account's type
/// inferred from its top-level name, opened on its first row's date).
pub fn import_csv(
    store: &mut impl Store,
    tenant: TenantId,
    rules: &CsvRules,
    text: &str,
) -> Result<CsvSummary, CsvImportError> {
    let plan = plan_csv(store, tenant, rules, text)?;
    if plan.rows.is_empty() {
        return Ok(plan.summary);
    }
    match store.import_book(tenant, &plan.book)? {
        Ok(_) => Ok(plan.summary),
        Err((index, error)) => Err(CsvImportError::Csv(plan.refusal(index, &error))),
    }
}

/// What a CSV import would write, checked against the tenant's books without writing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvPlan {
    /// The rows not imported before, in file order (`book.entries` holds their entries).
    pub rows: Vec<CsvRow>,
    pub book: BookImport,
    /// What writing `book` will have done (`skipped`: rows the tenant holds already).
    pub summary: CsvSummary,
}

impl CsvPlan {
    /// The problem to show when the store refuses `book.entries[index]`, at its CSV line.
    pub fn refusal(&self, index: usize, error: &impl std::fmt::Display) -> Problems {
        let mut problems = Problems::default();
        let line = self.rows.get(index).map_or(0, |row| row.line);
        problems.push(line, error.to_string());
        problems
    }
}

/// Converts `text` with `rules`, drops the rows `tenant` already holds, and returns what to
/// write, or every problem. Reads only.
pub fn plan_csv(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    rules: &CsvRules,
    text: &str,
) -> Result<CsvPlan, CsvImportError> {
    let (precision, commodities) = resolve_commodity(store, tenant, rules)?;
    let rows = convert(rules, precision, text).map_err(CsvImportError::Csv)?;
    let fingerprints: BTreeSet<String> = rows.iter().map(|r| r.fingerprint.clone()).collect();
    let existing = store.existing_metadata(tenant, CSV_ID_KEY, &fingerprints)?;
    let total = rows.len();
    let fresh: Vec<CsvRow> = rows
        .into_iter()
        .filter(|row| !existing.contains(&row.fingerprint))
        .collect();
    let skipped = total - fresh.len();
    if fresh.is_empty() {
        return Ok(CsvPlan {
            rows: fresh,
            book: BookImport::default(),
            summary: CsvSummary {
                skipped,
                ..CsvSummary::default()
            },
        });
    }
    let accounts = new_accounts(store, tenant, rules, &fresh)?;
    let book = BookImport {
        commodities,
        accounts,
        prices: Vec::new(),
        entries: fresh.iter().map(|row| row.entry.clone()).collect(),
    };
    let summary = CsvSummary {
        imported: book.entries.len(),
        skipped,
        accounts: book.accounts.len(),
        commodities: book.commodities.len(),
    };
    Ok(CsvPlan {
        rows: fresh,
        book,
        summary,
    })
}

/// The currency's precision (the tenant's, else the rules' `precision`), and the commodity to
/// create if the tenant lacks it.
fn resolve_commodity(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    rules: &CsvRules,
) -> Result<(u8, Vec<Commodity>), CsvImportError> {
    let (line, code) = &rules.currency;
    let known = store
        .commodities(tenant)?
        .into_iter()
        .find(|c| &c.code == code);
    let mut problems = Problems::default();
    match (known, rules.precision) {
        (Some(known), None) => return Ok((known.precision, Vec::new())),
        (Some(known), Some(places)) if known.precision == places => {
            return Ok((places, Vec::new()));
        }
        (Some(known), Some(places)) => problems.push(
            *line,
            format!(
                "{code} has precision {} in the books, the rules say {places}",
                known.precision
            ),
        ),
        (None, Some(places)) => {
            let commodity = Commodity {
                code: code.clone(),
                precision: places,
            };
            return Ok((places, vec![commodity]));
        }
        (None, None) => problems.push(
            *line,
            format!("the books have no commodity {code}: add `precision N` to the rules"),
        ),
    }
    Err(CsvImportError::Rules(problems))
}

/// The accounts the rows use that the tenant lacks; a name without an inferable type is a
/// problem at the rules line that named it.
fn new_accounts(
    store: &mut (impl Store + ?Sized),
    tenant: TenantId,
    rules: &CsvRules,
    rows: &[CsvRow],
) -> Result<Vec<Account>, CsvImportError> {
    let existing: BTreeSet<AccountName> = store
        .accounts(tenant)?
        .into_iter()
        .map(|a| a.name)
        .collect();
    let mut first_use: BTreeMap<&AccountName, Date> = BTreeMap::new();
    for row in rows {
        for posting in &row.entry.postings {
            let date = first_use.entry(&posting.account).or_insert(row.entry.date);
            *date = (*date).min(row.entry.date);
        }
    }
    let mut problems = Problems::default();
    let mut accounts = Vec::new();
    for (name, opened) in first_use
        .into_iter()
        .filter(|(n, _)| !existing.contains(*n))
    {
        match AccountType::infer(name) {
            Some(kind) => accounts.push(Account::new(name.clone(), kind, opened)),
            None => problems.push(
                rule_line(rules, name),
                format!(
                    "the type of account {name} is unknown: put it under Assets, Liabilities, \
                     Equity, Income or Expenses, or create it first"
                ),
            ),
        }
    }
    if problems.is_empty() {
        Ok(accounts)
    } else {
        Err(CsvImportError::Rules(problems))
    }
}

/// The first rules line that names `account`.
fn rule_line(rules: &CsvRules, account: &AccountName) -> usize {
    [&rules.account, &rules.default_account]
        .into_iter()
        .map(|(line, name)| (*line, name))
        .chain(rules.rules.iter().map(|rule| (rule.line, &rule.account)))
        .filter(|(_, name)| *name == account)
        .map(|(line, _)| line)
        .min()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::csv_rules::parse_rules;

    const RULES: &str = "skip 1
fields date, description, amount
date-format %d/%m/%Y
account Assets:Bank
currency USD
default-account Expenses:Unsorted
if coffee -> Expenses:Coffee
if coffee beans -> Expenses:Groceries
";

    fn rules(text: &str) -> CsvRules {
        parse_rules(text).expect("rules parse")
    }

    fn amounts(row: &CsvRow) -> Vec<(String, String)> {
        row.entry
            .postings
            .iter()
            .map(|p| (p.account.to_string(), p.amount.to_string()))
            .collect()
    }

    #[test]
    fn rows_become_balanced_two_posting_entries() {
        let csv =
            "Date,Description,Amount\n02/01/2024,Salary,2500.00\n03/01/2024,Coffee shop,-3.5\n";
        let rows = convert(&rules(RULES), 2, csv).expect("converts");
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[1].line), (2, 3));
        assert_eq!(
            rows[0].entry.date,
            Date::from_ymd(2024, 1, 2).expect("date")
        );
        assert_eq!(
            amounts(&rows[0]),
            [
                ("Assets:Bank".into(), "2500.00".into()),
                ("Expenses:Unsorted".into(), "-2500.00".into())
            ]
        );
        assert_eq!(
            amounts(&rows[1]),
            [
                ("Assets:Bank".into(), "-3.50".into()),
                ("Expenses:Coffee".into(), "3.50".into())
            ]
        );
        assert_eq!(
            rows[0].entry.metadata.get(CSV_ID_KEY),
            Some(&rows[0].fingerprint)
        );
    }

    #[test]
    fn rule_matching_order_first_match_wins() {
        let csv = "h\n01/01/2024,COFFEE BEANS 1kg,-12\n";
        let rows = convert(&rules(RULES), 2, csv).expect("converts");
        assert_eq!(
            rows[0].entry.postings[1].account.as_str(),
            "Expenses:Coffee"
        );
        let swapped = RULES.replace(
            "if coffee -> Expenses:Coffee\nif coffee beans -> Expenses:Groceries\n",
            "if coffee beans -> Expenses:Groceries\nif coffee -> Expenses:Coffee\n",
        );
        let rows = convert(&rules(&swapped), 2, csv).expect("converts");
        assert_eq!(
            rows[0].entry.postings[1].account.as_str(),
            "Expenses:Groceries"
        );
    }

    #[test]
    fn debit_and_credit_columns() {
        let text = RULES.replace(
            "date, description, amount",
            "date, description, debit, credit, payee",
        );
        let csv = "h\n01/01/2024,Rent,800.00,,Landlord\n02/01/2024,Refund,,12.00,\n03/01/2024,Nothing,,,\n";
        let problems = convert(&rules(&text), 2, csv).expect_err("both empty");
        assert_eq!(problems.shown.len(), 1);
        assert_eq!(problems.shown[0].line, 4);
        let rows = convert(
            &rules(&text),
            2,
            &csv.replace("03/01/2024,Nothing,,,\n", ""),
        )
        .expect("converts");
        assert_eq!(rows[0].entry.postings[0].amount.to_string(), "-800.00");
        assert_eq!(rows[0].entry.payee.as_deref(), Some("Landlord"));
        assert_eq!(rows[1].entry.postings[0].amount.to_string(), "12.00");
        assert_eq!(rows[1].entry.payee, None);
    }

    #[test]
    fn quoted_fields_with_commas() {
        let csv = "h\n\"01/01/2024\",\"Shop, Inc \"\"Main\"\"\",\"-5.00\"\n";
        let rows = convert(&rules(RULES), 2, csv).expect("converts");
        assert_eq!(rows[0].entry.description, "Shop, Inc \"Main\"");
    }

    #[test]
    fn bad_date_bad_precision_and_bad_amount_have_their_lines() {
        let csv = "h\n2024-01-01,A,1\n01/01/2024,B,1.005\n01/01/2024,C,\"1,000.00\"\n01/01/2024,D\n01/01/2024,E,0\n";
        let problems = convert(&rules(RULES), 2, csv).expect_err("bad rows");
        let lines: Vec<usize> = problems.shown.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6]);
        assert!(
            problems.shown[0]
                .reason
                .contains("not a date in format %d/%m/%Y"),
            "{:?}",
            problems.shown[0]
        );
        assert!(
            problems.shown[1].reason.contains("more than 2 decimals"),
            "{:?}",
            problems.shown[1]
        );
        assert!(
            problems.shown[2].reason.contains("not an amount"),
            "{:?}",
            problems.shown[2]
        );
        assert!(
            problems.shown[3].reason.contains("the amount is column 3"),
            "{:?}",
            problems.shown[3]
        );
        assert!(
            problems.shown[4].reason.contains("zero"),
            "{:?}",
            problems.shown[4]
        );
    }

    #[test]
    fn identical_rows_get_distinct_fingerprints_stable_across_files() {
        let csv = "h\n01/01/2024,Coffee,-3\n01/01/2024,Coffee,-3.00\n02/01/2024,Coffee,-3\n";
        let rows = convert(&rules(RULES), 2, csv).expect("converts");
        let ids: BTreeSet<&String> = rows.iter().map(|r| &r.fingerprint).collect();
        assert_eq!(ids.len(), 3);
        let overlap = "h\n01/01/2024,Coffee,-3\n01/01/2024,Coffee,-3\n";
        let again = convert(&rules(RULES), 2, overlap).expect("converts");
        assert_eq!(again[1].fingerprint, rows[1].fingerprint);
    }
}

//! `ledger check`'s report and its comparisons, pure over rows any store can read: the
//! balance tables against the postings they summarise, every trial balance zero per
//! commodity, and (through `domain::audit::ChainVerifier`) the audit chain.
//!
//! An implementation reads the rows (`sqlite/check.rs`) and hands them to these functions; a
//! second implementation reuses them unchanged. Rows are keyed by `(account, commodity)` as
//! text so that a problem names what a person would look for. Tests at the bottom; the
//! tampering tests (raw SQL on a real file) are in `store/tests.rs`.

use crate::domain::TenantSlug;
use crate::limits::CHECK_PROBLEMS_MAX;
use std::collections::BTreeMap;
use std::fmt;

/// An account name and a commodity code, as stored.
pub type AccountCommodity = (String, String);

/// What `Store::check` found. Clean when `problems` is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub tenants: u64,
    pub entries: u64,
    /// Rows of the per-account, per-commodity balance table compared.
    pub balance_rows: u64,
    /// Rows of the per-day balance table compared.
    pub daily_rows: u64,
    /// Audit records whose hash was recomputed.
    pub audit_records: u64,
    /// In check order per tenant (entries, balances, daily balances, trial balance, audit
    /// chain); at most `CHECK_PROBLEMS_MAX` per check and tenant, the rest counted in
    /// `problems_not_shown`.
    pub problems: Vec<Problem>,
    pub problems_not_shown: u64,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.problems_not_shown == 0
    }

    /// Adds the problems of one check, keeping at most `CHECK_PROBLEMS_MAX`.
    pub fn add(&mut self, tenant: &TenantSlug, check: Check, details: Vec<String>) {
        let shown = details.len().min(CHECK_PROBLEMS_MAX);
        self.problems_not_shown += (details.len() - shown) as u64;
        self.problems
            .extend(details.into_iter().take(shown).map(|detail| Problem {
                tenant: tenant.clone(),
                check,
                detail,
            }));
    }
}

/// One thing `check` found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub tenant: TenantSlug,
    pub check: Check,
    /// What is wrong and where (the entry, account and commodity, or audit sequence number).
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tenant {}: {}: {}",
            self.tenant,
            self.check.as_str(),
            self.detail
        )
    }
}

/// Which check a problem failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Check {
    /// An entry's postings do not sum to zero in a commodity.
    EntryBalance,
    /// A balance row (posted or reserved) differs from its postings.
    Balance,
    /// A daily closing balance differs from the postings up to that day, or is missing.
    DailyBalance,
    /// A tenant's posted balances do not sum to zero in a commodity.
    TrialBalance,
    /// An audit record breaks the hash chain.
    AuditChain,
}

impl Check {
    /// A stable name, as for error codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::EntryBalance => "entry_balance",
            Check::Balance => "balance",
            Check::DailyBalance => "daily_balance",
            Check::TrialBalance => "trial_balance",
            Check::AuditChain => "audit_chain",
        }
    }
}

/// An account's totals in one commodity: posted, and reserved by pending entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub posted: i128,
    pub pending_debits: i128,
    pub pending_credits: i128,
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "posted {}, pending debits {}, pending credits {}",
            self.posted, self.pending_debits, self.pending_credits
        )
    }
}

/// Every key whose table totals differ from the postings' (a key missing on one side counts
/// as zero there), in key order.
pub fn balance_mismatches(
    table: &BTreeMap<AccountCommodity, Totals>,
    postings: &BTreeMap<AccountCommodity, Totals>,
) -> Vec<String> {
    let mut keys: Vec<&AccountCommodity> = table.keys().chain(postings.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let stored = table.get(key).copied().unwrap_or_default();
            let summed = postings.get(key).copied().unwrap_or_default();
            (stored != summed).then(|| {
                format!(
                    "{} {}: the balances table says {stored}; the postings say {summed}",
                    key.0, key.1
                )
            })
        })
        .collect()
}

/// Every daily closing balance that is not the running sum of the postings up to its day, and
/// every day with postings that has no closing row, in key then day order.
pub fn daily_mismatches(
    table: &BTreeMap<(AccountCommodity, i64), i128>,
    posting_days: &BTreeMap<(AccountCommodity, i64), i128>,
) -> Vec<String> {
    let mut days: Vec<&(AccountCommodity, i64)> = table.keys().chain(posting_days.keys()).collect();
    days.sort();
    days.dedup();
    let mut problems = Vec::new();
    let mut running: Option<(&AccountCommodity, i128)> = None;
    for day in days {
        let (key, number) = (&day.0, day.1);
        let before = running.filter(|(k, _)| *k == key).map_or(0, |(_, sum)| sum);
        let expected = before + posting_days.get(day).copied().unwrap_or(0);
        running = Some((key, expected));
        match table.get(day) {
            Some(&closing) if closing == expected => {}
            Some(&closing) => problems.push(format!(
                "{} {} on day {number}: closing {closing}; the postings up to that day say {expected}",
                key.0, key.1
            )),
            None => problems.push(format!(
                "{} {} on day {number}: no closing row for a day with postings (they say {expected})",
                key.0, key.1
            )),
        }
    }
    problems
}

/// Every commodity whose posted balances do not sum to zero.
pub fn trial_balance_problems(table: &BTreeMap<AccountCommodity, Totals>) -> Vec<String> {
    let mut sums: BTreeMap<&str, i128> = BTreeMap::new();
    for ((_, commodity), totals) in table {
        *sums.entry(commodity).or_default() += totals.posted;
    }
    sums.into_iter()
        .filter(|(_, sum)| *sum != 0)
        .map(|(commodity, sum)| format!("posted balances in {commodity} sum to {sum}, not 0"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(account: &str, commodity: &str) -> AccountCommodity {
        (account.to_owned(), commodity.to_owned())
    }

    fn posted(amount: i128) -> Totals {
        Totals {
            posted: amount,
            ..Totals::default()
        }
    }

    #[test]
    fn equal_balances_pass_and_differences_are_named() {
        let table = BTreeMap::from([
            (key("Assets:Bank", "USD"), posted(100)),
            (key("Income:Salary", "USD"), posted(-100)),
        ]);
        assert!(balance_mismatches(&table, &table.clone()).is_empty());
        assert!(trial_balance_problems(&table).is_empty());

        let mut postings = table.clone();
        postings.insert(key("Assets:Bank", "USD"), posted(90));
        postings.insert(key("Assets:Cash", "JPY"), posted(5));
        let problems = balance_mismatches(&table, &postings);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("Assets:Bank USD:"), "{problems:?}");
        assert!(problems[1].starts_with("Assets:Cash JPY:"), "{problems:?}");
        assert_eq!(
            trial_balance_problems(&postings),
            [
                "posted balances in JPY sum to 5, not 0",
                "posted balances in USD sum to -10, not 0"
            ]
        );
    }

    #[test]
    fn daily_closings_are_running_sums_per_key() {
        let bank = key("Assets:Bank", "USD");
        let cash = key("Assets:Cash", "USD");
        let postings = BTreeMap::from([
            ((bank.clone(), 1), 10),
            ((bank.clone(), 3), 5),
            ((cash.clone(), 2), 7),
        ]);
        let mut table = BTreeMap::from([
            ((bank.clone(), 1), 10),
            ((bank.clone(), 3), 15),
            ((cash.clone(), 2), 7),
        ]);
        assert!(daily_mismatches(&table, &postings).is_empty());

        table.insert((bank.clone(), 3), 16);
        table.remove(&(cash.clone(), 2));
        let problems = daily_mismatches(&table, &postings);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("Assets:Bank USD on day 3: closing 16"));
        assert!(problems[1].contains("Assets:Cash USD on day 2: no closing row"));
    }

    #[test]
    fn reports_keep_at_most_the_limit_per_check() {
        let mut report = CheckReport::default();
        let slug = TenantSlug::new("acme").expect("slug");
        let many = (0..CHECK_PROBLEMS_MAX + 3).map(|n| n.to_string()).collect();
        report.add(&slug, Check::Balance, many);
        assert_eq!(report.problems.len(), CHECK_PROBLEMS_MAX);
        assert_eq!(report.problems_not_shown, 3);
        assert!(!report.is_clean());
        assert_eq!(report.problems[0].to_string(), "tenant acme: balance: 0");
    }
}

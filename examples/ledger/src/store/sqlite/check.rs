//! `Store::check` on SQLite: reads, per tenant, the aggregates `store::check` compares
//! (posted and reserved sums of postings against `balances`, per-day sums against
//! `daily_balances`, entries that do not balance) and streams the audit chain through
//! `domain::audit::ChainVerifier`.
//!
//! Read-only; runs in one read transaction so every figure comes from the same snapshot.
//! Sums are done by SQLite per group and compared in `i128`. Tests: `store/tests.rs`.

use super::audit::for_each_record;
use crate::domain::audit::ChainVerifier;
use crate::domain::{TenantId, TenantSlug};
use crate::limits::CHECK_PROBLEMS_MAX;
use crate::store::StoreError;
use crate::store::check::{
    AccountCommodity, Check, CheckReport, Totals, balance_mismatches, daily_mismatches,
    trial_balance_problems,
};
use rusqlite::{Connection, params};
use std::collections::BTreeMap;

/// Checks `tenant`, or every tenant.
pub(super) fn check(
    connection: &mut Connection,
    tenant: Option<TenantId>,
) -> Result<CheckReport, StoreError> {
    let transaction = connection.transaction()?;
    let mut report = CheckReport::default();
    for (id, slug) in tenants(&transaction, tenant)? {
        check_tenant(&transaction, id, &slug, &mut report)?;
        report.tenants += 1;
    }
    transaction.finish()?;
    Ok(report)
}

pub(super) fn tenants(
    connection: &Connection,
    only: Option<TenantId>,
) -> Result<Vec<(TenantId, TenantSlug)>, StoreError> {
    let mut statement = connection
        .prepare("SELECT id, slug FROM tenants WHERE ?1 IS NULL OR id = ?1 ORDER BY id")?;
    let rows = statement
        .query_map([only.map(|t| t.0)], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if let (Some(_), true) = (only, rows.is_empty()) {
        return Err(StoreError::UnknownTenant);
    }
    rows.into_iter()
        .map(|(id, slug)| {
            Ok((
                TenantId(id),
                TenantSlug::new(&slug).map_err(super::corrupt)?,
            ))
        })
        .collect()
}

fn check_tenant(
    connection: &Connection,
    tenant: TenantId,
    slug: &TenantSlug,
    report: &mut CheckReport,
) -> Result<(), StoreError> {
    report.entries += count(connection, "entries", tenant)?;
    report.add(
        slug,
        Check::EntryBalance,
        unbalanced_entries(connection, tenant)?,
    );
    let table = balance_table(connection, tenant)?;
    report.balance_rows += table.len() as u64;
    let postings = posting_totals(connection, tenant)?;
    report.add(slug, Check::Balance, balance_mismatches(&table, &postings));
    let (daily, posting_days) = daily_tables(connection, tenant)?;
    report.daily_rows += daily.len() as u64;
    report.add(
        slug,
        Check::DailyBalance,
        daily_mismatches(&daily, &posting_days),
    );
    report.add(slug, Check::TrialBalance, trial_balance_problems(&table));
    let mut verifier = ChainVerifier::default();
    let mut broken = None;
    for_each_record(connection, tenant, 0, usize::MAX, |record| {
        if broken.is_none() {
            report.audit_records += 1;
            broken = verifier.push(&record).err();
        }
        Ok(())
    })?;
    if let Some(first) = broken {
        let detail = format!(
            "audit record {} is the first broken one: {}",
            first.sequence, first.fault
        );
        report.add(slug, Check::AuditChain, vec![detail]);
    }
    Ok(())
}

fn count(connection: &Connection, table: &str, tenant: TenantId) -> Result<u64, StoreError> {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = ?1");
    let n: i64 = connection.query_row(&sql, [tenant.0], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn unbalanced_entries(
    connection: &Connection,
    tenant: TenantId,
) -> Result<Vec<String>, StoreError> {
    let mut statement = connection.prepare(
        "SELECT p.entry_id, c.code, SUM(p.amount) FROM postings p
         JOIN commodities c ON c.tenant_id = p.tenant_id AND c.id = p.commodity_id
         WHERE p.tenant_id = ?1 GROUP BY p.entry_id, c.code HAVING SUM(p.amount) <> 0
         ORDER BY p.entry_id, c.code LIMIT ?2",
    )?;
    let limit = i64::try_from(CHECK_PROBLEMS_MAX + 1).unwrap_or(i64::MAX);
    let rows = statement.query_map(params![tenant.0, limit], |row| {
        Ok(format!(
            "entry {} does not balance in {}: its postings sum to {}",
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Joins that turn ids into the account name and commodity code of a row aliased `x`.
const NAMES: &str = "JOIN accounts a ON a.tenant_id = x.tenant_id AND a.id = x.account_id
     JOIN commodities c ON c.tenant_id = x.tenant_id AND c.id = x.commodity_id";

fn balance_table(
    connection: &Connection,
    tenant: TenantId,
) -> Result<BTreeMap<AccountCommodity, Totals>, StoreError> {
    let sql = format!(
        "SELECT a.name, c.code, x.posted, x.pending_debits, x.pending_credits
         FROM balances x {NAMES} WHERE x.tenant_id = ?1"
    );
    let mut statement = connection.prepare(&sql)?;
    let mut rows = statement.query([tenant.0])?;
    let mut table = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let totals = Totals {
            posted: row.get::<_, i64>(2)?.into(),
            pending_debits: row.get::<_, i64>(3)?.into(),
            pending_credits: row.get::<_, i64>(4)?.into(),
        };
        table.insert((row.get(0)?, row.get(1)?), totals);
    }
    Ok(table)
}

/// Posted: the postings of entries that were never pending (a posted pending entry's amounts
/// live in the entry that posted it). Reserved: each still-pending entry's net change per
/// account and commodity, split by sign as `BalanceState::apply` does.
fn posting_totals(
    connection: &Connection,
    tenant: TenantId,
) -> Result<BTreeMap<AccountCommodity, Totals>, StoreError> {
    let sql = format!(
        "SELECT a.name, c.code, e.pending_status, SUM(x.amount) FROM postings x {NAMES}
         JOIN entries e ON e.tenant_id = x.tenant_id AND e.id = x.entry_id
         WHERE x.tenant_id = ?1 AND (e.pending_status IS NULL OR e.pending_status = 'pending')
         GROUP BY x.entry_id, x.account_id, x.commodity_id"
    );
    let mut statement = connection.prepare(&sql)?;
    let mut rows = statement.query([tenant.0])?;
    let mut totals: BTreeMap<AccountCommodity, Totals> = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let sum = i128::from(row.get::<_, i64>(3)?);
        let slot = totals.entry((row.get(0)?, row.get(1)?)).or_default();
        match (row.get::<_, Option<String>>(2)?, sum >= 0) {
            (None, _) => slot.posted += sum,
            (Some(_), true) => slot.pending_debits += sum,
            (Some(_), false) => slot.pending_credits += sum,
        }
    }
    Ok(totals)
}

type DayTable = BTreeMap<(AccountCommodity, i64), i128>;

/// The `daily_balances` rows, and the posted postings summed per account, commodity and day.
fn daily_tables(
    connection: &Connection,
    tenant: TenantId,
) -> Result<(DayTable, DayTable), StoreError> {
    let closing = format!(
        "SELECT a.name, c.code, x.day, x.closing FROM daily_balances x {NAMES} WHERE x.tenant_id = ?1"
    );
    let sums = format!(
        "SELECT a.name, c.code, e.day, SUM(x.amount) FROM postings x {NAMES}
         JOIN entries e ON e.tenant_id = x.tenant_id AND e.id = x.entry_id
         WHERE x.tenant_id = ?1 AND e.pending_status IS NULL
         GROUP BY x.account_id, x.commodity_id, e.day"
    );
    Ok((
        day_table(connection, &closing, tenant)?,
        day_table(connection, &sums, tenant)?,
    ))
}

fn day_table(connection: &Connection, sql: &str, tenant: TenantId) -> Result<DayTable, StoreError> {
    let mut statement = connection.prepare(sql)?;
    let mut rows = statement.query([tenant.0])?;
    let mut table = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let key = ((row.get(0)?, row.get(1)?), row.get(2)?);
        table.insert(key, i128::from(row.get::<_, i64>(3)?));
    }
    Ok(table)
}

//! An account's register on SQLite: its postings in journal order straight off the
//! `postings_register` index (tenant, account, day, entry), grouped per entry and commodity,
//! filtered by dates, text, tag and amount, with the posted balance after each line (the
//! closing of the day before, from `daily_balances`, plus the day's earlier postings) and
//! whether a finished reconciliation cleared it.
//!
//! Rows are read as a stream and reading stops once the page is full, so a page costs what it
//! shows plus what its filters skip. Not here: formatting (the web layer).

use super::{account_id, commodity_id, corrupt, require_tenant};
use crate::domain::AccountName;
use crate::domain::{Amount, CommodityCode, EntryId, TenantId};
use crate::limits::ENTRIES_PER_PAGE_MAX;
use crate::store::{EntryCursor, RegisterFilter, RegisterRow, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

/// One entry's net amount in one commodity in the account, as read.
struct Line {
    entry: i64,
    day: i64,
    commodity: i64,
    amount: i64,
}

pub(super) fn register(
    connection: &Connection,
    tenant: TenantId,
    account: &AccountName,
    filter: &RegisterFilter,
    after: Option<EntryCursor>,
    limit: usize,
) -> Result<Vec<RegisterRow>, StoreError> {
    require_tenant(connection, tenant)?;
    let account = account_id(connection, tenant, account)?;
    let limit = limit.min(ENTRIES_PER_PAGE_MAX);
    let range = match &filter.amount {
        Some(range) => Some((commodity_id(connection, tenant, &range.commodity)?, range)),
        None => None,
    };
    let (day, id) = after.map_or((i64::MIN, i64::MIN), |cursor| {
        (i64::from(cursor.date.days_since_epoch()), cursor.id.0)
    });
    let from = filter
        .from
        .map_or(i64::MIN, |d| i64::from(d.days_since_epoch()));
    let to = filter
        .to
        .map_or(i64::MAX, |d| i64::from(d.days_since_epoch()));
    let text = filter.text.as_ref().map(|t| t.to_ascii_lowercase());
    let mut statement = connection.prepare_cached(
        "SELECT p.entry_id, p.day, p.commodity_id, p.amount FROM postings p
         JOIN entries e ON e.tenant_id = p.tenant_id AND e.id = p.entry_id
         WHERE p.tenant_id = ?1 AND p.account_id = ?2
           AND (p.day > ?3 OR (p.day = ?3 AND p.entry_id > ?4))
           AND p.day >= ?5 AND p.day <= ?6
           AND (?7 IS NULL OR instr(lower(e.description || ' ' || coalesce(e.payee, '')), ?7) > 0)
           AND (?8 IS NULL OR EXISTS (SELECT 1 FROM json_each(e.tags) AS t WHERE t.value = ?8))
         ORDER BY p.day, p.entry_id",
    )?;
    let mut rows = statement.query(params![
        tenant.0, account, day, id, from, to, text, filter.tag
    ])?;
    // Group the stream per entry and commodity; stop once `limit` entries are complete.
    let mut lines: Vec<Line> = Vec::new();
    let mut entries = 0usize;
    let mut current: Option<i64> = None;
    let mut pending: Vec<Line> = Vec::new();
    let keep = |group: &mut Vec<Line>, lines: &mut Vec<Line>| -> bool {
        let kept: Vec<Line> = group
            .drain(..)
            .filter(|line| match &range {
                None => true,
                Some((commodity, range)) => {
                    let size = line.amount.checked_abs().unwrap_or(i64::MAX);
                    line.commodity == *commodity
                        && range.min.is_none_or(|min| size >= min.0)
                        && range.max.is_none_or(|max| size <= max.0)
                }
            })
            .collect();
        let any = !kept.is_empty();
        lines.extend(kept);
        any
    };
    while let Some(row) = rows.next()? {
        let line = Line {
            entry: row.get(0)?,
            day: row.get(1)?,
            commodity: row.get(2)?,
            amount: row.get(3)?,
        };
        if current != Some(line.entry) {
            if current.is_some() && keep(&mut pending, &mut lines) {
                entries += 1;
                if entries == limit {
                    break;
                }
            }
            current = Some(line.entry);
        }
        match pending.iter_mut().find(|l| l.commodity == line.commodity) {
            Some(same) => {
                same.amount = same
                    .amount
                    .checked_add(line.amount)
                    .ok_or_else(|| corrupt("a register line overflows"))?;
            }
            None => pending.push(line),
        }
    }
    if entries < limit && !pending.is_empty() {
        keep(&mut pending, &mut lines);
    }
    drop(rows);
    // Without text, tag or amount filters the page's lines follow each other in the account,
    // so one running balance per commodity, sought once, carries along the page.
    let contiguous = filter.text.is_none() && filter.tag.is_none() && filter.amount.is_none();
    let mut running: BTreeMap<i64, Amount> = BTreeMap::new();
    let mut codes: BTreeMap<i64, CommodityCode> = BTreeMap::new();
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let entry = super::write::load_entry(connection, tenant, EntryId(line.entry))?
            .ok_or_else(|| corrupt(format!("entry {} vanished while listing", line.entry)))?;
        let balance = if entry.status.is_some() {
            None // pending, or once pending: it never moved the posted balance itself
        } else {
            let after = match running.get(&line.commodity) {
                Some(before) if contiguous => before
                    .checked_add(Amount(line.amount))
                    .map_err(|_| corrupt("a running balance overflows"))?,
                _ => balance_after(connection, tenant, account, &line)?,
            };
            running.insert(line.commodity, after);
            Some(after)
        };
        let commodity = match codes.get(&line.commodity) {
            Some(code) => code.clone(),
            None => {
                let code = commodity_code(connection, tenant, line.commodity)?;
                codes.insert(line.commodity, code.clone());
                code
            }
        };
        let reconciled = reconciled(connection, tenant, account, &line)?;
        out.push(RegisterRow {
            entry,
            commodity,
            amount: Amount(line.amount),
            balance,
            reconciled,
        });
    }
    Ok(out)
}

/// The account's posted balance in the line's commodity after the line's entry: the closing
/// of the day before, plus the day's posted postings up to this entry.
fn balance_after(
    connection: &Connection,
    tenant: TenantId,
    account: i64,
    line: &Line,
) -> Result<Amount, StoreError> {
    let before: Option<i64> = connection
        .prepare_cached(
            "SELECT closing FROM daily_balances
             WHERE tenant_id = ?1 AND account_id = ?2 AND commodity_id = ?3 AND day < ?4
             ORDER BY day DESC LIMIT 1",
        )?
        .query_row(
            params![tenant.0, account, line.commodity, line.day],
            |row| row.get(0),
        )
        .optional()?;
    let day: Option<i64> = connection
        .prepare_cached(
            "SELECT SUM(p.amount) FROM postings p
             JOIN entries e ON e.tenant_id = p.tenant_id AND e.id = p.entry_id
             WHERE p.tenant_id = ?1 AND p.account_id = ?2 AND p.day = ?3 AND p.entry_id <= ?4
               AND p.commodity_id = ?5 AND e.pending_status IS NULL",
        )?
        .query_row(
            params![tenant.0, account, line.day, line.entry, line.commodity],
            |row| row.get(0),
        )?;
    before
        .unwrap_or(0)
        .checked_add(day.unwrap_or(0))
        .map(Amount)
        .ok_or_else(|| corrupt("a running balance overflows"))
}

/// Whether the line's entry was cleared on a finished reconciliation of the account.
fn reconciled(
    connection: &Connection,
    tenant: TenantId,
    account: i64,
    line: &Line,
) -> Result<bool, StoreError> {
    Ok(connection
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM cleared k JOIN reconciliations r
                 ON r.tenant_id = k.tenant_id AND r.id = k.reconciliation_id
             WHERE k.tenant_id = ?1 AND k.entry_id = ?2 AND r.account_id = ?3
               AND r.commodity_id = ?4 AND r.finished_at IS NOT NULL)",
        )?
        .query_row(
            params![tenant.0, line.entry, account, line.commodity],
            |row| row.get(0),
        )?)
}

fn commodity_code(
    connection: &Connection,
    tenant: TenantId,
    id: i64,
) -> Result<CommodityCode, StoreError> {
    let code: String = connection
        .prepare_cached("SELECT code FROM commodities WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![tenant.0, id], |row| row.get(0))?;
    CommodityCode::new(&code).map_err(corrupt)
}

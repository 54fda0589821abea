//! Reconciliation on SQLite: opening one (an account, a commodity, a statement date and
//! balance), its lines (the account's posted entries up to the statement date not reconciled
//! before, at most `RECONCILE_LINES_MAX`), ticking entries, and finishing it when the
//! statement balance equals what was reconciled before plus what is ticked (checked in the
//! finishing transaction). Each change appends its audit record. Not here: the signs a person
//! types (the web layer turns a liability's statement into the ledger's sign).

use super::audit::{self, Stamp};
use super::tx::Tx;
use super::{account_id, commodity_id, corrupt, date_of, require_tenant};
use crate::domain::audit::{Action, Json};
use crate::domain::{
    AccountName, Amount, CommodityCode, Date, EntryError, EntryId, TenantId, Timestamp,
};
use crate::limits::RECONCILE_LINES_MAX;
use crate::store::{
    Reconciliation, ReconciliationId, ReconciliationLine, ReconciliationState, StoreError,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str =
    "r.id, a.name, c.code, r.statement_day, r.statement_balance, r.started_at, r.finished_at";
const FROM: &str = "FROM reconciliations r
     JOIN accounts a ON a.tenant_id = r.tenant_id AND a.id = r.account_id
     JOIN commodities c ON c.tenant_id = r.tenant_id AND c.id = r.commodity_id";

fn read(row: &Row<'_>) -> Result<Reconciliation, StoreError> {
    Ok(Reconciliation {
        id: ReconciliationId(row.get(0)?),
        account: AccountName::new(&row.get::<_, String>(1)?).map_err(corrupt)?,
        commodity: CommodityCode::new(&row.get::<_, String>(2)?).map_err(corrupt)?,
        statement_date: date_of(row.get(3)?)?,
        statement_balance: Amount(row.get(4)?),
        started_at: Timestamp(row.get(5)?),
        finished_at: row.get::<_, Option<i64>>(6)?.map(Timestamp),
    })
}

fn refused(reason: &str) -> StoreError {
    StoreError::Refused(EntryError::invalid("reconciliation", reason))
}

pub(super) fn start(
    connection: &Tx<'_>,
    tenant: TenantId,
    account: &AccountName,
    commodity: &CommodityCode,
    statement_date: Date,
    statement_balance: Amount,
    stamp: Stamp<'_>,
) -> Result<ReconciliationId, StoreError> {
    require_tenant(connection, tenant)?;
    let account_row = account_id(connection, tenant, account)?;
    let commodity_row = commodity_id(connection, tenant, commodity)?;
    let open: Option<i64> = connection
        .prepare_cached(
            "SELECT id FROM reconciliations WHERE tenant_id = ?1 AND account_id = ?2
             AND commodity_id = ?3 AND finished_at IS NULL",
        )?
        .query_row(params![tenant.0, account_row, commodity_row], |row| {
            row.get(0)
        })
        .optional()?;
    if let Some(open) = open {
        return Err(refused(&format!(
            "reconciliation {open} of this account is still open: finish it first"
        )));
    }
    connection
        .prepare_cached(
            "INSERT INTO reconciliations (tenant_id, account_id, commodity_id, statement_day,
             statement_balance, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            tenant.0,
            account_row,
            commodity_row,
            statement_date.days_since_epoch(),
            statement_balance.0,
            stamp.at.0
        ])?;
    let id = ReconciliationId(connection.last_insert_rowid());
    let details = Json::object([
        ("id", Json::Int(id.0)),
        ("account", Json::text(account)),
        ("commodity", Json::text(commodity)),
        ("statement_date", Json::text(statement_date)),
        ("statement_balance", Json::Int(statement_balance.0)),
    ]);
    audit::append(
        connection,
        tenant,
        stamp,
        Action::ReconciliationStarted,
        &details,
    )?;
    Ok(id)
}

pub(super) fn list(
    connection: &Connection,
    tenant: TenantId,
) -> Result<Vec<Reconciliation>, StoreError> {
    require_tenant(connection, tenant)?;
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {COLUMNS} {FROM} WHERE r.tenant_id = ?1 ORDER BY r.id DESC"
    ))?;
    let rows = statement.query_map([tenant.0], |row| Ok(read(row)))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

/// The reconciliation's row ids: (account, commodity).
fn rows(
    connection: &Connection,
    tenant: TenantId,
    id: ReconciliationId,
) -> Result<Option<(Reconciliation, i64, i64)>, StoreError> {
    let found = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, r.account_id, r.commodity_id {FROM}
             WHERE r.tenant_id = ?1 AND r.id = ?2"
        ))?
        .query_row(params![tenant.0, id.0], |row| {
            Ok((read(row), row.get::<_, i64>(7)?, row.get::<_, i64>(8)?))
        })
        .optional()?;
    match found {
        Some((reconciliation, account, commodity)) => {
            Ok(Some((reconciliation?, account, commodity)))
        }
        None => Ok(None),
    }
}

pub(super) fn state(
    connection: &Connection,
    tenant: TenantId,
    id: ReconciliationId,
) -> Result<Option<ReconciliationState>, StoreError> {
    require_tenant(connection, tenant)?;
    let Some((reconciliation, account, commodity)) = rows(connection, tenant, id)? else {
        return Ok(None);
    };
    let day = reconciliation.statement_date.days_since_epoch();
    let limit = i64::try_from(RECONCILE_LINES_MAX + 1).unwrap_or(i64::MAX);
    let mut statement = connection.prepare_cached(
        "SELECT p.entry_id, p.day, e.description, SUM(p.amount),
                EXISTS (SELECT 1 FROM cleared k WHERE k.tenant_id = p.tenant_id
                        AND k.reconciliation_id = ?5 AND k.entry_id = p.entry_id)
         FROM postings p JOIN entries e ON e.tenant_id = p.tenant_id AND e.id = p.entry_id
         WHERE p.tenant_id = ?1 AND p.account_id = ?2 AND p.commodity_id = ?3 AND p.day <= ?4
           AND e.pending_status IS NULL
           AND NOT EXISTS (
               SELECT 1 FROM cleared k JOIN reconciliations r
                 ON r.tenant_id = k.tenant_id AND r.id = k.reconciliation_id
               WHERE k.tenant_id = p.tenant_id AND k.entry_id = p.entry_id
                 AND r.account_id = ?2 AND r.commodity_id = ?3 AND r.finished_at IS NOT NULL
                 AND r.id <> ?5)
         GROUP BY p.entry_id ORDER BY p.day, p.entry_id LIMIT ?6",
    )?;
    let rows = statement.query_map(
        params![tenant.0, account, commodity, day, id.0, limit],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, bool>(4)?,
            ))
        },
    )?;
    let mut lines = Vec::new();
    for row in rows {
        let (entry, day, description, amount, cleared) = row?;
        lines.push(ReconciliationLine {
            entry: EntryId(entry),
            date: date_of(day)?,
            description,
            amount: Amount(amount),
            cleared,
        });
    }
    let more = lines.len() > RECONCILE_LINES_MAX;
    lines.truncate(RECONCILE_LINES_MAX);
    let reconciled = sum_cleared(connection, tenant, account, commodity, None)?;
    let ticked = sum_cleared(connection, tenant, account, commodity, Some(id))?;
    Ok(Some(ReconciliationState {
        reconciliation,
        reconciled,
        ticked,
        lines,
        more,
    }))
}

/// The account's amounts on entries cleared on finished reconciliations (`None`), or on this
/// one (`Some`).
fn sum_cleared(
    connection: &Connection,
    tenant: TenantId,
    account: i64,
    commodity: i64,
    on: Option<ReconciliationId>,
) -> Result<Amount, StoreError> {
    let sum: Option<i64> = connection
        .prepare_cached(
            "SELECT SUM(p.amount) FROM cleared k
             JOIN reconciliations r ON r.tenant_id = k.tenant_id AND r.id = k.reconciliation_id
             JOIN postings p ON p.tenant_id = k.tenant_id AND p.entry_id = k.entry_id
                AND p.account_id = r.account_id AND p.commodity_id = r.commodity_id
             WHERE k.tenant_id = ?1 AND r.account_id = ?2 AND r.commodity_id = ?3
               AND ((?4 IS NULL AND r.finished_at IS NOT NULL) OR r.id = ?4)",
        )?
        .query_row(
            params![tenant.0, account, commodity, on.map(|id| id.0)],
            |row| row.get(0),
        )?;
    Ok(Amount(sum.unwrap_or(0)))
}

fn open_state(
    connection: &Tx<'_>,
    tenant: TenantId,
    id: ReconciliationId,
) -> Result<ReconciliationState, StoreError> {
    let state = state(connection, tenant, id)?.ok_or(StoreError::NotFound {
        what: "reconciliation",
        name: id.0.to_string(),
    })?;
    if state.reconciliation.finished_at.is_some() {
        return Err(refused("this reconciliation is finished"));
    }
    Ok(state)
}

pub(super) fn set_cleared(
    connection: &Tx<'_>,
    tenant: TenantId,
    id: ReconciliationId,
    entry: EntryId,
    cleared: bool,
    stamp: Stamp<'_>,
) -> Result<(), StoreError> {
    let state = open_state(connection, tenant, id)?;
    if !state.lines.iter().any(|line| line.entry == entry) {
        return Err(refused(&format!(
            "entry {entry} is not an unreconciled entry of this account up to the statement date"
        )));
    }
    let sql = if cleared {
        "INSERT INTO cleared (tenant_id, reconciliation_id, entry_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant_id, reconciliation_id, entry_id) DO NOTHING"
    } else {
        "DELETE FROM cleared WHERE tenant_id = ?1 AND reconciliation_id = ?2 AND entry_id = ?3"
    };
    connection
        .prepare_cached(sql)?
        .execute(params![tenant.0, id.0, entry.0])?;
    let details = Json::object([
        ("id", Json::Int(id.0)),
        ("entry", Json::Int(entry.0)),
        ("cleared", Json::text(if cleared { "yes" } else { "no" })),
    ]);
    audit::append(
        connection,
        tenant,
        stamp,
        Action::ReconciliationCleared,
        &details,
    )
}

pub(super) fn finish(
    connection: &Tx<'_>,
    tenant: TenantId,
    id: ReconciliationId,
    stamp: Stamp<'_>,
) -> Result<(), StoreError> {
    let state = open_state(connection, tenant, id)?;
    match state.difference() {
        Some(Amount(0)) => {}
        Some(difference) => {
            return Err(refused(&format!(
                "the difference is {} minor units, not zero",
                difference.0
            )));
        }
        None => return Err(StoreError::Refused(EntryError::Overflow)),
    }
    connection
        .prepare_cached(
            "UPDATE reconciliations SET finished_at = ?3 WHERE tenant_id = ?1 AND id = ?2",
        )?
        .execute(params![tenant.0, id.0, stamp.at.0])?;
    let details = Json::object([("id", Json::Int(id.0))]);
    audit::append(
        connection,
        tenant,
        stamp,
        Action::ReconciliationFinished,
        &details,
    )
}

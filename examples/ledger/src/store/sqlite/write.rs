//! Entry writes on SQLite: batches (independent or linked), reversals, pending transitions,
//! and the balances each write maintains in the caller's transaction (`balances` per account and
//! commodity, `daily_balances` per day), with balance constraints checked before commit and
//! the audit record of each write appended in the same transaction (one per entry written,
//! one per pending transition).
//!
//! The rules come from `crate::domain`; this file only loads what they need, applies their
//! verdicts and keeps the balance tables in step. Arithmetic on balances is checked in Rust
//! before any SQL adds (SQLite would silently turn an overflowing integer into a float).
//! Tests: `store/tests.rs`.

use super::audit::{self, Stamp};
use super::tx::Tx;
use super::{TxChart, account_commodity_amount, corrupt, date_of, require_tenant};
use crate::domain::audit::{Action, Json, entry_json};
use crate::domain::batch::{check_batch_size, settle, stops_after};
use crate::domain::constraint::{ChangeKind, ConstraintError};
use crate::domain::entry::{ReversalTarget, check_postings, reversal, validate};
use crate::domain::idempotency::{IdempotencyRecord, Replay, replay};
use crate::domain::pending::PendingEntry;
use crate::domain::{
    AccountName, Amount, BalanceConstraint, BalanceState, BatchMode, CommodityCode, Date, Entry,
    EntryError, EntryId, EntryLink, IdempotencyKey, NewEntry, PendingStatus, PendingTerms,
    PostAmounts, Posting, TenantId, Timestamp,
};
use crate::limits::{ENTRIES_PER_PAGE_MAX, SUGGESTIONS_MAX};
use crate::store::{BatchResults, EntryCursor, EntryFilter, EntryRequest, StoreError, StoredEntry};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, BTreeSet};

/// What one entry of a batch came to.
enum Attempt {
    /// Its key was seen before: the recorded outcome (or a conflict), nothing written.
    Replayed(Result<EntryId, EntryError>),
    /// It ran: written (and its key recorded), or refused (the caller records the key once
    /// the failed writes are rolled back).
    Ran(Result<EntryId, EntryError>),
}

impl Attempt {
    fn result(&self) -> &Result<EntryId, EntryError> {
        match self {
            Attempt::Replayed(result) | Attempt::Ran(result) => result,
        }
    }
}

/// Writes a batch in the caller's transaction: the entries of an independent batch one by one
/// (a refused entry writes nothing but its key), a linked batch in one savepoint.
pub(super) fn create_entries(
    connection: &Tx<'_>,
    tenant: TenantId,
    requests: &[EntryRequest],
    mode: BatchMode,
    stamp: Stamp<'_>,
) -> Result<BatchResults, StoreError> {
    check_batch_size(requests.len())?;
    require_tenant(connection, tenant)?;
    let mut chart = connection.take_chart(tenant)?;
    let results = match mode {
        BatchMode::Independent => {
            // No savepoint per entry: `attempt` refuses before it writes (see `insert_entry`).
            let mut results = Vec::with_capacity(requests.len());
            for request in requests {
                let attempt = attempt(connection, tenant, &mut chart, request, stamp)?;
                if attempt.result().is_err() {
                    record_failure(connection, tenant, request, &attempt)?;
                }
                results.push(attempt.result().clone());
            }
            results
        }
        BatchMode::Linked => write_linked(connection, tenant, &mut chart, requests, stamp)?,
    };
    connection.keep_chart(tenant, chart);
    Ok(results)
}

/// A savepoint in the caller's transaction, by SQL (so it needs only a shared `Tx` and nests:
/// each `SAVEPOINT` shadows the outer one of the same name until it is released). Dropped
/// without `release`, it rolls back: a `?` that leaves early undoes the savepoint's writes.
pub(super) struct Savepoint<'a, 'c> {
    connection: &'a Tx<'c>,
    open: bool,
}

impl<'a, 'c> Savepoint<'a, 'c> {
    /// Flushes the transaction's held balances (so a rollback to here loses nothing the cache
    /// held), then begins.
    pub(super) fn begin(connection: &'a Tx<'c>) -> Result<Savepoint<'a, 'c>, StoreError> {
        connection.flush()?;
        connection
            .prepare_cached("SAVEPOINT write_step")?
            .execute([])?;
        Ok(Savepoint {
            connection,
            open: true,
        })
    }

    /// Keeps the writes made since `begin` (they commit with the enclosing transaction).
    pub(super) fn release(mut self) -> Result<(), StoreError> {
        self.open = false;
        self.connection
            .prepare_cached("RELEASE write_step")?
            .execute([])?;
        Ok(())
    }

    /// Undoes the writes made since `begin`.
    pub(super) fn roll_back(mut self) -> Result<(), StoreError> {
        self.open = false;
        roll_back_to(self.connection)
    }
}

/// `ROLLBACK TO` then `RELEASE` (a rolled-back savepoint stays open until released).
fn roll_back_to(connection: &Tx<'_>) -> Result<(), StoreError> {
    // The cache may hold what the rollback undoes: SQL has the truth again.
    connection.forget();
    connection
        .prepare_cached("ROLLBACK TO write_step")?
        .execute([])?;
    connection
        .prepare_cached("RELEASE write_step")?
        .execute([])?;
    Ok(())
}

impl Drop for Savepoint<'_, '_> {
    fn drop(&mut self) {
        if self.open {
            // An error here means the transaction itself is gone (SQLite rolled it back after
            // an I/O error); the caller's own error already says the write failed.
            let _ = roll_back_to(self.connection);
        }
    }
}

/// Writes `entries` in order in the caller's transaction (an import): the ids, or the index of
/// the first refused entry and why (the caller then rolls the whole transaction back). No
/// batch-size limit: the import is bounded by the file it came from (`IMPORT_FILE_BYTES_MAX`).
pub(super) fn import_entries(
    connection: &Tx<'_>,
    tenant: TenantId,
    entries: &[NewEntry],
    stamp: Stamp<'_>,
) -> Result<Result<Vec<EntryId>, (usize, EntryError)>, StoreError> {
    let mut chart = TxChart::new(connection, tenant)?;
    let mut ids = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let request = EntryRequest {
            key: None,
            entry: entry.clone(),
        };
        match attempt(connection, tenant, &mut chart, &request, stamp)? {
            Attempt::Ran(Ok(id)) | Attempt::Replayed(Ok(id)) => ids.push(id),
            Attempt::Ran(Err(error)) | Attempt::Replayed(Err(error)) => {
                return Ok(Err((index, error)));
            }
        }
    }
    Ok(Ok(ids))
}

fn write_linked(
    connection: &Tx<'_>,
    tenant: TenantId,
    chart: &mut TxChart,
    requests: &[EntryRequest],
    stamp: Stamp<'_>,
) -> Result<BatchResults, StoreError> {
    let savepoint = Savepoint::begin(connection)?;
    let mut attempts = Vec::new();
    for request in requests {
        let attempt = attempt(connection, tenant, chart, request, stamp)?;
        let stop = stops_after(BatchMode::Linked, attempt.result());
        attempts.push(attempt);
        if stop {
            break;
        }
    }
    let ran = attempts.iter().map(|a| a.result().clone()).collect();
    let (commit, results) = settle(BatchMode::Linked, requests.len(), ran);
    if commit {
        savepoint.release()?;
    } else {
        savepoint.roll_back()?; // undoes the whole batch
        if let (Some(attempt), Some(request)) = (attempts.last(), requests.get(attempts.len() - 1))
        {
            record_failure(connection, tenant, request, attempt)?;
        }
    }
    Ok(results)
}

/// Runs one entry: replays its key, or validates and writes it with its audit record.
fn attempt(
    connection: &Tx<'_>,
    tenant: TenantId,
    chart: &mut TxChart,
    request: &EntryRequest,
    stamp: Stamp<'_>,
) -> Result<Attempt, StoreError> {
    if let Some(key) = &request.key {
        let record = load_key(connection, tenant, key)?;
        match replay(record.as_ref(), &request.entry) {
            Ok(Replay::Fresh) => {}
            Ok(Replay::Repeat(outcome)) => return Ok(Attempt::Replayed(outcome)),
            Err(conflict) => return Ok(Attempt::Replayed(Err(conflict))),
        }
    }
    chart.load(
        connection,
        tenant,
        request.entry.postings.iter().map(|p| &p.account),
    )?;
    let written = validate(&request.entry, &chart.chart)
        .map_err(StoreError::Refused)
        .and_then(|entry| {
            let id = insert_entry(connection, tenant, chart, &entry)?;
            let details = entry_json(id, &entry);
            audit::append(connection, tenant, stamp, Action::EntryCreated, &details)?;
            Ok(id)
        });
    let outcome = refusal_or_backend(written)?;
    if let (Some(key), Ok(_)) = (&request.key, &outcome) {
        save_key(connection, tenant, key, request, &outcome)?;
    }
    Ok(Attempt::Ran(outcome))
}

/// Splits a refusal (an outcome) from a backend failure (an error of the whole call).
fn refusal_or_backend<T>(
    result: Result<T, StoreError>,
) -> Result<Result<T, EntryError>, StoreError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(StoreError::Refused(error)) => Ok(Err(error)),
        Err(other) => Err(other),
    }
}

/// Records a refused entry's key, so that it keeps failing the same way.
fn record_failure(
    connection: &Tx<'_>,
    tenant: TenantId,
    request: &EntryRequest,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    match (attempt, &request.key) {
        (Attempt::Ran(outcome @ Err(_)), Some(key)) => {
            save_key(connection, tenant, key, request, outcome)
        }
        _ => Ok(()),
    }
}

fn load_key(
    connection: &Connection,
    tenant: TenantId,
    key: &IdempotencyKey,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    let row: Option<(String, String)> = connection
        .prepare_cached(
            "SELECT body, outcome FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2",
        )?
        .query_row(params![tenant.0, key.as_str()], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let Some((body, outcome)) = row else {
        return Ok(None);
    };
    Ok(Some(IdempotencyRecord {
        body: sonic_rs::from_str(&body).map_err(corrupt)?,
        outcome: sonic_rs::from_str(&outcome).map_err(corrupt)?,
    }))
}

fn save_key(
    connection: &Tx<'_>,
    tenant: TenantId,
    key: &IdempotencyKey,
    request: &EntryRequest,
    outcome: &Result<EntryId, EntryError>,
) -> Result<(), StoreError> {
    let body = sonic_rs::to_string(&request.entry).map_err(corrupt)?;
    let outcome = sonic_rs::to_string(outcome).map_err(corrupt)?;
    connection
        .prepare_cached(
            "INSERT INTO idempotency_keys (tenant_id, key, body, outcome) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![tenant.0, key.as_str(), body, outcome])?;
    Ok(())
}

/// Inserts a validated entry and applies its postings to the balances (reservations for a
/// pending entry). Every check (constraints, overflow) comes before the first write, so a
/// refusal writes nothing; only a backend failure can stop it half-way (and that fails the
/// whole transaction).
fn insert_entry(
    connection: &Tx<'_>,
    tenant: TenantId,
    chart: &TxChart,
    entry: &Entry,
) -> Result<EntryId, StoreError> {
    let kind = if entry.pending.is_some() {
        ChangeKind::Pending
    } else {
        ChangeKind::Posted
    };
    // Every check first (constraints, overflow): a refusal leaves nothing written, so a batch
    // needs no savepoint per entry.
    let mut planned = Vec::new();
    for ((account, commodity), delta) in net_changes(&entry.postings)? {
        let change = Change {
            account,
            commodity,
            delta,
            kind,
            date: entry.date,
        };
        planned.push(plan_change(connection, tenant, chart, change)?);
    }
    let (reverses, posts) = match entry.link {
        Some(EntryLink::Reverses(id)) => (Some(id.0), None),
        Some(EntryLink::Posts(id)) => (None, Some(id.0)),
        None => (None, None),
    };
    connection.prepare_cached("INSERT INTO entries (tenant_id, day, description, payee, tags, metadata, pending_status, expires_at, reverses, posts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?
.execute(
        params![
            tenant.0,
            entry.date.days_since_epoch(),
            entry.description,
            entry.payee,
            sonic_rs::to_string(&entry.tags).map_err(corrupt)?,
            sonic_rs::to_string(&entry.metadata).map_err(corrupt)?,
            entry.pending.map(|_| PendingStatus::Pending.as_str()),
            entry.pending.and_then(|terms| terms.expires_at).map(|at| at.0),
            reverses,
            posts,
        ],
    )?;
    let id = connection.last_insert_rowid();
    let mut insert = connection.prepare_cached(
        "INSERT INTO postings (tenant_id, entry_id, position, account_id, commodity_id, amount, day)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (position, posting) in entry.postings.iter().enumerate() {
        let (account, commodity) = (
            chart.account_id(&posting.account)?,
            chart.commodity_id(&posting.commodity)?,
        );
        insert.execute(params![
            tenant.0,
            id,
            position as i64,
            account,
            commodity,
            posting.amount.0,
            entry.date.days_since_epoch()
        ])?;
    }
    for change in planned {
        write_change(connection, tenant, change)?;
    }
    Ok(EntryId(id))
}

/// The net change per account and commodity (an entry may post to one account twice).
fn net_changes(
    postings: &[Posting],
) -> Result<BTreeMap<(&AccountName, &CommodityCode), Amount>, StoreError> {
    let mut changes: BTreeMap<(&AccountName, &CommodityCode), Amount> = BTreeMap::new();
    for posting in postings {
        let sum = changes
            .entry((&posting.account, &posting.commodity))
            .or_default();
        *sum = sum
            .checked_add(posting.amount)
            .map_err(|_| EntryError::Overflow)?;
    }
    Ok(changes)
}

struct Change<'a> {
    account: &'a AccountName,
    commodity: &'a CommodityCode,
    delta: Amount,
    kind: ChangeKind,
    date: Date,
}

/// A change to one account and commodity, checked and ready to write.
struct PlannedChange {
    pair: (i64, i64),
    after: BalanceState,
    /// For a posted change: its date, delta and per-day plan.
    daily: Option<(Date, Amount, DailyPlan)>,
}

/// Checks a change against the balance as it stands (overflow, the account's constraint) and
/// plans its writes; writes nothing, so a refusal here leaves nothing to undo.
fn plan_change(
    connection: &Tx<'_>,
    tenant: TenantId,
    chart: &TxChart,
    change: Change<'_>,
) -> Result<PlannedChange, StoreError> {
    let pair = (
        chart.account_id(change.account)?,
        chart.commodity_id(change.commodity)?,
    );
    let before = connection.balance(tenant, pair.0, pair.1)?;
    let after = before
        .apply(change.delta, change.kind)
        .map_err(|_| EntryError::Overflow)?;
    let constraint = chart
        .chart
        .accounts
        .get(change.account)
        .and_then(|a| a.constraint(change.commodity));
    if let Some(constraint) = constraint {
        constraint
            .check(before, after)
            .map_err(|error| match error {
                ConstraintError::Violated { balance, bound } => EntryError::Constraint {
                    account: change.account.clone(),
                    commodity: change.commodity.clone(),
                    balance,
                    bound,
                },
                ConstraintError::Overflow => EntryError::Overflow,
            })?;
    }
    let daily = if change.kind == ChangeKind::Posted {
        let plan = plan_daily(
            connection,
            tenant,
            pair,
            change.date,
            change.delta,
            before.posted,
        )?;
        Some((change.date, change.delta, plan))
    } else {
        None
    };
    Ok(PlannedChange { pair, after, daily })
}

fn write_change(
    connection: &Tx<'_>,
    tenant: TenantId,
    planned: PlannedChange,
) -> Result<(), StoreError> {
    let (account, commodity) = planned.pair;
    connection.set_balance(tenant, account, commodity, planned.after);
    if let Some((date, delta, plan)) = planned.daily {
        write_daily(connection, tenant, planned.pair, date, delta, plan)?;
    }
    Ok(())
}

pub(super) fn balance_state(
    connection: &Connection,
    tenant: TenantId,
    account: i64,
    commodity: i64,
) -> Result<BalanceState, StoreError> {
    let state = connection
        .prepare_cached(
            "SELECT posted, pending_debits, pending_credits FROM balances
             WHERE tenant_id = ?1 AND account_id = ?2 AND commodity_id = ?3",
        )?
        .query_row(params![tenant.0, account, commodity], |row| {
            Ok(BalanceState {
                posted: Amount(row.get(0)?),
                pending_debits: Amount(row.get(1)?),
                pending_credits: Amount(row.get(2)?),
            })
        })
        .optional()?;
    Ok(state.unwrap_or_default())
}

/// How a posted change moves the per-day closings of its account and commodity, decided (and
/// checked for overflow) before anything is written.
enum DailyPlan {
    /// No row on or after the date: a new row with this closing (the common case, entries
    /// written in date order; the closing before the date is the posted balance before).
    Append { closing: Amount },
    /// The date is the pair's last day with a row: its new closing.
    Last { closing: Amount },
    /// Rows on or after the date: add the delta to them, after creating the date's own row
    /// from the closing before it when it has none.
    Shift { new_row: Option<i64> },
}

/// Plans the per-day closings for a posted change of `delta` on `date` to a pair whose posted
/// balance over all dates is `posted_before`. Refuses (`overflow`) if any closing would not
/// fit; writes nothing.
fn plan_daily(
    connection: &Tx<'_>,
    tenant: TenantId,
    (account, commodity): (i64, i64),
    date: Date,
    delta: Amount,
    posted_before: Amount,
) -> Result<DailyPlan, StoreError> {
    let day = date.days_since_epoch();
    match connection.last_day(tenant, account, commodity)? {
        // No row on or after the date.
        None => return append(posted_before, delta),
        Some((last, _)) if last < day => return append(posted_before, delta),
        // The date is the last day with a row: only that row moves.
        Some((last, closing)) if last == day => {
            let closing = Amount(closing)
                .checked_add(delta)
                .map_err(|_| EntryError::Overflow)?;
            return Ok(DailyPlan::Last { closing });
        }
        Some(_) => {} // back-dated: rows after the date move too
    }
    // The rows on and after the date are read from SQL: write what the transaction holds.
    connection.flush()?;
    let key = params![tenant.0, account, commodity, day];
    let (low, high, has_day): (Option<i64>, Option<i64>, i64) = connection
        .prepare_cached(
            "SELECT MIN(closing), MAX(closing), SUM(CASE WHEN day = ?4 THEN 1 ELSE 0 END)
             FROM daily_balances
             WHERE tenant_id = ?1 AND account_id = ?2 AND commodity_id = ?3 AND day >= ?4",
        )?
        .query_row(key, |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get::<_, Option<i64>>(2)?.unwrap_or(0),
            ))
        })?;
    if low.is_none() {
        return append(posted_before, delta);
    }
    // A new row for `date` starts from the closing of the day before it.
    let new_row = if has_day == 0 {
        let previous: Option<i64> = connection
            .prepare_cached(
                "SELECT closing FROM daily_balances
                 WHERE tenant_id = ?1 AND account_id = ?2 AND commodity_id = ?3 AND day < ?4
                 ORDER BY day DESC LIMIT 1",
            )?
            .query_row(key, |row| row.get(0))
            .optional()?;
        Some(previous.unwrap_or(0))
    } else {
        None
    };
    for closing in [low, high, new_row].into_iter().flatten() {
        closing.checked_add(delta.0).ok_or(EntryError::Overflow)?;
    }
    Ok(DailyPlan::Shift { new_row })
}

/// A new last row: the posted balance before the change is the closing before `date`.
fn append(posted_before: Amount, delta: Amount) -> Result<DailyPlan, StoreError> {
    let closing = posted_before
        .checked_add(delta)
        .map_err(|_| EntryError::Overflow)?;
    Ok(DailyPlan::Append { closing })
}

/// Writes a planned change to the per-day closings.
fn write_daily(
    connection: &Tx<'_>,
    tenant: TenantId,
    (account, commodity): (i64, i64),
    date: Date,
    delta: Amount,
    plan: DailyPlan,
) -> Result<(), StoreError> {
    let day = date.days_since_epoch();
    let insert = |closing: i64| -> Result<(), StoreError> {
        connection
            .prepare_cached(
                "INSERT INTO daily_balances (tenant_id, account_id, commodity_id, day, closing)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![tenant.0, account, commodity, day, closing])?;
        Ok(())
    };
    match plan {
        DailyPlan::Append { closing } => {
            connection.set_last_day(tenant, account, commodity, (day, closing), true)
        }
        DailyPlan::Last { closing } => {
            connection.set_last_day(tenant, account, commodity, (day, closing), false)
        }
        DailyPlan::Shift { new_row } => {
            if let Some(previous) = new_row {
                insert(previous)?;
            }
            connection
                .prepare_cached(
                    "UPDATE daily_balances SET closing = closing + ?5
                     WHERE tenant_id = ?1 AND account_id = ?2 AND commodity_id = ?3 AND day >= ?4",
                )?
                .execute(params![tenant.0, account, commodity, day, delta.0])?;
            // Rows after the date moved in SQL: the next read of the last one goes there.
            connection.forget_last_day(tenant, account, commodity);
            Ok(())
        }
    }
}

/// Releases every reservation of a pending entry (posted, voided or expired).
fn release(
    connection: &Tx<'_>,
    tenant: TenantId,
    chart: &TxChart,
    entry: &Entry,
) -> Result<(), StoreError> {
    for ((account, commodity), delta) in net_changes(&entry.postings)? {
        let (account, commodity) = (chart.account_id(account)?, chart.commodity_id(commodity)?);
        let state = connection.balance(tenant, account, commodity)?;
        let released = state
            .release(delta)
            .map_err(|_| corrupt("a reservation larger than the reserved total"))?;
        connection.set_balance(tenant, account, commodity, released);
    }
    Ok(())
}

fn set_status(
    connection: &Tx<'_>,
    tenant: TenantId,
    id: EntryId,
    status: PendingStatus,
) -> Result<(), StoreError> {
    connection
        .prepare_cached("UPDATE entries SET pending_status = ?3 WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![tenant.0, id.0, status.as_str()])?;
    Ok(())
}

pub(super) fn set_constraint(
    connection: &Connection,
    tenant: TenantId,
    account: i64,
    constraint: &BalanceConstraint,
) -> Result<(), StoreError> {
    if let (Some(min), Some(max)) = (constraint.min, constraint.max)
        && min > max
    {
        return Err(EntryError::invalid("constraint", "min is at most max").into());
    }
    let commodity = super::commodity_id(connection, tenant, &constraint.commodity)?;
    connection.prepare_cached("INSERT INTO balance_constraints (tenant_id, account_id, commodity_id, min_amount, max_amount)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant_id, account_id, commodity_id) DO UPDATE SET
             min_amount = excluded.min_amount, max_amount = excluded.max_amount")?
.execute(
        params![tenant.0, account, commodity, constraint.min.map(|a| a.0), constraint.max.map(|a| a.0)],
    )?;
    Ok(())
}

/// Reads an entry of the tenant with its postings and links; `None` if the tenant has none
/// of this id (whether or not another tenant has).
pub(super) fn load_entry(
    connection: &Connection,
    tenant: TenantId,
    id: EntryId,
) -> Result<Option<StoredEntry>, StoreError> {
    type EntryRow = (
        i64,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let row: Option<EntryRow> = connection
        .prepare_cached("SELECT day, description, payee, tags, metadata, pending_status, expires_at, reverses, posts
             FROM entries WHERE tenant_id = ?1 AND id = ?2")?
.query_row(
            params![tenant.0, id.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?)),
        )
        .optional()?;
    let Some((day, description, payee, tags, metadata, status, expires_at, reverses, posts)) = row
    else {
        return Ok(None);
    };
    let status = status
        .map(|s| PendingStatus::from_str_exact(&s).ok_or_else(|| corrupt("unknown pending status")))
        .transpose()?;
    let link = match (reverses, posts) {
        (Some(original), _) => Some(EntryLink::Reverses(EntryId(original))),
        (None, Some(pending)) => Some(EntryLink::Posts(EntryId(pending))),
        (None, None) => None,
    };
    let entry = Entry {
        date: date_of(day)?,
        description,
        payee,
        tags: sonic_rs::from_str(&tags).map_err(corrupt)?,
        metadata: sonic_rs::from_str(&metadata).map_err(corrupt)?,
        postings: load_postings(connection, tenant, id)?,
        pending: status.map(|_| PendingTerms {
            expires_at: expires_at.map(Timestamp),
        }),
        link,
    };
    let reversed_by: Option<i64> = connection
        .prepare_cached("SELECT id FROM entries WHERE tenant_id = ?1 AND reverses = ?2")?
        .query_row(params![tenant.0, id.0], |r| r.get(0))
        .optional()?;
    Ok(Some(StoredEntry {
        id,
        entry,
        status,
        reversed_by: reversed_by.map(EntryId),
    }))
}

/// Ids of one page of entries in (day, id) order after the cursor (read with the
/// `entries_by_day` index), then each entry as `load_entry` reads it.
pub(super) fn latest_entries(
    connection: &Connection,
    tenant: TenantId,
    limit: usize,
) -> Result<Vec<StoredEntry>, StoreError> {
    let limit = i64::try_from(limit.min(ENTRIES_PER_PAGE_MAX)).unwrap_or(i64::MAX);
    let ids = connection
        .prepare_cached(
            "SELECT id FROM entries WHERE tenant_id = ?1 ORDER BY day DESC, id DESC LIMIT ?2",
        )?
        .query_map(params![tenant.0, limit], |row| row.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    let mut latest = Vec::with_capacity(ids.len());
    for id in ids {
        let entry = load_entry(connection, tenant, EntryId(id))?
            .ok_or_else(|| corrupt(format!("entry {id} vanished while listing")))?;
        latest.push(entry);
    }
    Ok(latest)
}

pub(super) fn recent_texts(
    connection: &Connection,
    tenant: TenantId,
) -> Result<crate::store::RecentTexts, StoreError> {
    let scanned = i64::try_from(ENTRIES_PER_PAGE_MAX).unwrap_or(i64::MAX);
    let mut statement = connection.prepare_cached(
        "SELECT description, payee FROM entries WHERE tenant_id = ?1
         ORDER BY day DESC, id DESC LIMIT ?2",
    )?;
    let mut rows = statement.query(params![tenant.0, scanned])?;
    let mut texts = crate::store::RecentTexts::default();
    let mut seen = (BTreeSet::new(), BTreeSet::new());
    while let Some(row) = rows.next()? {
        let description: String = row.get(0)?;
        if texts.descriptions.len() < SUGGESTIONS_MAX && seen.0.insert(description.clone()) {
            texts.descriptions.push(description);
        }
        if let Some(payee) = row.get::<_, Option<String>>(1)?
            && texts.payees.len() < SUGGESTIONS_MAX
            && seen.1.insert(payee.clone())
        {
            texts.payees.push(payee);
        }
    }
    Ok(texts)
}

pub(super) fn entries_page(
    connection: &Connection,
    tenant: TenantId,
    filter: &EntryFilter,
    after: Option<EntryCursor>,
    limit: usize,
) -> Result<Vec<StoredEntry>, StoreError> {
    let limit = limit.min(ENTRIES_PER_PAGE_MAX);
    let (day, id) = after.map_or((i64::MIN, i64::MIN), |cursor| {
        (i64::from(cursor.date.days_since_epoch()), cursor.id.0)
    });
    let from = filter
        .from
        .map_or(i64::MIN, |date| i64::from(date.days_since_epoch()));
    let to = filter
        .to
        .map_or(i64::MAX, |date| i64::from(date.days_since_epoch()));
    let account = match &filter.account {
        Some(name) => Some(super::account_id(connection, tenant, name)?),
        None => None,
    };
    let mut statement = connection.prepare_cached(
        "SELECT id FROM entries WHERE tenant_id = ?1 AND (day > ?2 OR (day = ?2 AND id > ?3))
         AND day >= ?5 AND day <= ?6
         AND (?7 IS NULL OR id IN
              (SELECT entry_id FROM postings WHERE tenant_id = ?1 AND account_id = ?7))
         ORDER BY day, id LIMIT ?4",
    )?;
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    let ids = statement
        .query_map(
            params![tenant.0, day, id, limit_sql, from, to, account],
            |row| row.get(0),
        )?
        .collect::<Result<Vec<i64>, _>>()?;
    let mut page = Vec::with_capacity(ids.len());
    for id in ids {
        let entry = load_entry(connection, tenant, EntryId(id))?
            .ok_or_else(|| corrupt(format!("entry {id} vanished while paging")))?;
        page.push(entry);
    }
    Ok(page)
}

fn load_postings(
    connection: &Connection,
    tenant: TenantId,
    id: EntryId,
) -> Result<Vec<Posting>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT a.name, c.code, p.amount FROM postings p
         JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
         JOIN commodities c ON c.tenant_id = p.tenant_id AND c.id = p.commodity_id
         WHERE p.tenant_id = ?1 AND p.entry_id = ?2 ORDER BY p.position",
    )?;
    let mut rows = statement.query(params![tenant.0, id.0])?;
    let mut postings = Vec::new();
    while let Some(row) = rows.next()? {
        let (account, commodity, amount) = account_commodity_amount(row)?;
        postings.push(Posting {
            account,
            commodity,
            amount,
        });
    }
    Ok(postings)
}

fn load_existing(
    connection: &Connection,
    tenant: TenantId,
    id: EntryId,
) -> Result<StoredEntry, StoreError> {
    load_entry(connection, tenant, id)?
        .ok_or(StoreError::Refused(EntryError::EntryNotFound { entry: id }))
}

pub(super) fn reverse_entry(
    connection: &Tx<'_>,
    tenant: TenantId,
    id: EntryId,
    date: Date,
    stamp: Stamp<'_>,
) -> Result<EntryId, StoreError> {
    let original = load_existing(connection, tenant, id)?;
    let target = ReversalTarget {
        id,
        entry: &original.entry,
        reversed: original.reversed_by.is_some(),
    };
    let reversing = reversal(target, date)?;
    let mut chart = TxChart::new(connection, tenant)?;
    chart.load(
        connection,
        tenant,
        reversing.postings.iter().map(|p| &p.account),
    )?;
    check_postings(&reversing, &chart.chart)?;
    let reversal_id = insert_entry(connection, tenant, &chart, &reversing)?;
    let details = entry_json(reversal_id, &reversing);
    audit::append(connection, tenant, stamp, Action::EntryReversed, &details)?;
    Ok(reversal_id)
}

/// Loads a pending entry and the chart its accounts need, in the caller's transaction.
fn load_pending(
    connection: &Connection,
    tenant: TenantId,
    id: EntryId,
) -> Result<(StoredEntry, TxChart), StoreError> {
    let stored = load_existing(connection, tenant, id)?;
    let mut chart = TxChart::new(connection, tenant)?;
    chart.load(
        connection,
        tenant,
        stored.entry.postings.iter().map(|p| &p.account),
    )?;
    Ok((stored, chart))
}

fn pending_view(stored: &StoredEntry) -> PendingEntry<'_> {
    PendingEntry {
        id: stored.id,
        entry: &stored.entry,
        status: stored.status.unwrap_or(PendingStatus::Posted),
    }
}

pub(super) fn post_pending(
    connection: &Tx<'_>,
    tenant: TenantId,
    id: EntryId,
    amounts: &PostAmounts,
    date: Date,
    now: Timestamp,
    stamp: Stamp<'_>,
) -> Result<EntryId, StoreError> {
    let (stored, chart) = load_pending(connection, tenant, id)?;
    let posting = pending_view(&stored).post(amounts, date, now)?;
    check_postings(&posting, &chart.chart)?;
    release(connection, tenant, &chart, &stored.entry)?;
    set_status(connection, tenant, id, PendingStatus::Posted)?;
    let posting_id = insert_entry(connection, tenant, &chart, &posting)?;
    let details = entry_json(posting_id, &posting);
    audit::append(connection, tenant, stamp, Action::PendingPosted, &details)?;
    Ok(posting_id)
}

pub(super) fn void_pending(
    connection: &Tx<'_>,
    tenant: TenantId,
    id: EntryId,
    now: Timestamp,
    stamp: Stamp<'_>,
) -> Result<(), StoreError> {
    let (stored, chart) = load_pending(connection, tenant, id)?;
    let status = pending_view(&stored).void(now)?;
    release(connection, tenant, &chart, &stored.entry)?;
    set_status(connection, tenant, id, status)?;
    audit::append(
        connection,
        tenant,
        stamp,
        Action::PendingVoided,
        &status_json(id, status),
    )?;
    Ok(())
}

pub(super) fn expire_pending(
    connection: &Tx<'_>,
    tenant: TenantId,
    now: Timestamp,
    stamp: Stamp<'_>,
) -> Result<Vec<EntryId>, StoreError> {
    require_tenant(connection, tenant)?;
    let due: Vec<i64> = connection
        .prepare(
            "SELECT id FROM entries WHERE tenant_id = ?1 AND pending_status = 'pending'
             AND expires_at IS NOT NULL AND expires_at <= ?2 ORDER BY id",
        )?
        .query_map(params![tenant.0, now.0], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut expired = Vec::with_capacity(due.len());
    for id in due.into_iter().map(EntryId) {
        let (stored, chart) = load_pending(connection, tenant, id)?;
        let status = pending_view(&stored).expire(now)?;
        release(connection, tenant, &chart, &stored.entry)?;
        set_status(connection, tenant, id, status)?;
        let details = status_json(id, status);
        audit::append(connection, tenant, stamp, Action::PendingExpired, &details)?;
        expired.push(id);
    }
    Ok(expired)
}

/// What a pending transition changed: the entry and its new status.
fn status_json(id: EntryId, status: PendingStatus) -> Json {
    Json::object([
        ("id", Json::Int(id.0)),
        ("status", Json::text(status.as_str())),
    ])
}

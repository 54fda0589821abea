//! `Tx`: a write transaction's connection with what the transaction has already read or
//! written kept in memory, so a batch of a thousand entries does not re-read the same rows a
//! thousand times: the balance state of each account and commodity (written back at `flush`),
//! the last per-day row of each (written back at `flush` too), and each tenant's audit chain
//! tip (written through).
//!
//! The cache is only ever a copy of what the transaction would read: `flush` writes the held
//! balances and last rows before a savepoint begins, before commit, and before any query that
//! reads per-day rows beyond the last one (a back-dated entry), and rolling a savepoint back drops
//! the whole cache (the next read goes to SQL again, which the rollback made right). A `Tx`
//! lives for one transaction and is dropped with it. Not here: what the rows mean
//! (`write.rs`, `audit.rs`).

use super::TxChart;
use crate::domain::{Amount, BalanceState, TenantId};
use crate::store::StoreError;
use rusqlite::{Connection, OptionalExtension, params};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Deref;

/// A tenant's account and commodity ids.
type Pair = (i64, i64, i64);

/// What a held last per-day row still needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Nothing,
    Insert,
    Update,
}

#[derive(Default)]
struct Cache {
    /// Balance states read or written; `true` when written and not yet flushed.
    balances: HashMap<Pair, (BalanceState, bool)>,
    /// The last per-day row (day, closing) of a pair, `None` when it has none, and whether it
    /// still has to be written.
    last_days: HashMap<Pair, (Option<(i32, i64)>, Pending)>,
    /// A tenant's last audit record: sequence and hash.
    audit_tips: HashMap<i64, (i64, String)>,
    /// A tenant's chart as loaded by earlier writes (commodities, and the accounts they
    /// named); dropped when an account, commodity or constraint changes.
    charts: HashMap<i64, TxChart>,
}

/// A connection inside a write transaction, with the transaction's cache.
pub(super) struct Tx<'c> {
    connection: &'c Connection,
    cache: RefCell<Cache>,
}

impl Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.connection
    }
}

impl<'c> Tx<'c> {
    /// Wraps a connection that is inside a transaction.
    pub(super) fn new(connection: &'c Connection) -> Tx<'c> {
        Tx {
            connection,
            cache: RefCell::new(Cache::default()),
        }
    }

    /// An account's balance state in one commodity, as this transaction has it.
    pub(super) fn balance(
        &self,
        tenant: TenantId,
        account: i64,
        commodity: i64,
    ) -> Result<BalanceState, StoreError> {
        let pair = (tenant.0, account, commodity);
        if let Some((state, _)) = self.cache.borrow().balances.get(&pair) {
            return Ok(*state);
        }
        let state = super::write::balance_state(self.connection, tenant, account, commodity)?;
        self.cache
            .borrow_mut()
            .balances
            .insert(pair, (state, false));
        Ok(state)
    }

    /// Sets a balance state; it reaches the table at the next `flush`.
    pub(super) fn set_balance(
        &self,
        tenant: TenantId,
        account: i64,
        commodity: i64,
        state: BalanceState,
    ) {
        self.cache
            .borrow_mut()
            .balances
            .insert((tenant.0, account, commodity), (state, true));
    }

    /// Writes every balance and last per-day row set since the last flush.
    pub(super) fn flush(&self) -> Result<(), StoreError> {
        let mut cache = self.cache.borrow_mut();
        for ((tenant, account, commodity), (row, pending)) in cache.last_days.iter_mut() {
            write_day(
                self.connection,
                (*tenant, *account, *commodity),
                *row,
                *pending,
            )?;
            *pending = Pending::Nothing;
        }
        let mut statement = self.connection.prepare_cached(
            "INSERT INTO balances (tenant_id, account_id, commodity_id, posted, pending_debits, pending_credits)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tenant_id, account_id, commodity_id) DO UPDATE SET
                 posted = excluded.posted,
                 pending_debits = excluded.pending_debits,
                 pending_credits = excluded.pending_credits",
        )?;
        for ((tenant, account, commodity), (state, dirty)) in cache.balances.iter_mut() {
            if *dirty {
                statement.execute(params![
                    tenant,
                    account,
                    commodity,
                    state.posted.0,
                    state.pending_debits.0,
                    state.pending_credits.0
                ])?;
                *dirty = false;
            }
        }
        Ok(())
    }

    /// Forgets everything (after a savepoint rolled back: SQL has the truth again). Only
    /// flushed balances may be forgotten: a savepoint flushes when it begins.
    pub(super) fn forget(&self) {
        *self.cache.borrow_mut() = Cache::default();
    }

    /// The last per-day row (day, closing) of a pair, if it has one.
    pub(super) fn last_day(
        &self,
        tenant: TenantId,
        account: i64,
        commodity: i64,
    ) -> Result<Option<(i32, i64)>, StoreError> {
        let pair = (tenant.0, account, commodity);
        if let Some((last, _)) = self.cache.borrow().last_days.get(&pair) {
            return Ok(*last);
        }
        let last: Option<(i32, i64)> = self
            .connection
            .prepare_cached(
                "SELECT day, closing FROM daily_balances
                 WHERE tenant_id = ?1 AND account_id = ?2 AND commodity_id = ?3
                 ORDER BY day DESC LIMIT 1",
            )?
            .query_row(params![tenant.0, account, commodity], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        self.cache
            .borrow_mut()
            .last_days
            .insert(pair, (last, Pending::Nothing));
        Ok(last)
    }

    /// Sets the pair's last per-day row: a new day after the last one (`new_day`), or a new
    /// closing for the last day. Written at the next `flush` (a new day first writes the row
    /// it replaces as the last one, if that one is still held).
    pub(super) fn set_last_day(
        &self,
        tenant: TenantId,
        account: i64,
        commodity: i64,
        (day, closing): (i32, Amount),
        new_day: bool,
    ) -> Result<(), StoreError> {
        let pair = (tenant.0, account, commodity);
        let mut cache = self.cache.borrow_mut();
        let held = cache.last_days.get(&pair).copied();
        let pending = match (held, new_day) {
            (Some((row, pending)), true) => {
                write_day(self.connection, pair, row, pending)?;
                Pending::Insert
            }
            (None, true) => Pending::Insert,
            (Some((_, Pending::Insert)), false) => Pending::Insert,
            (_, false) => Pending::Update,
        };
        cache
            .last_days
            .insert(pair, (Some((day, closing.0)), pending));
        Ok(())
    }

    /// Forgets a pair's last per-day row (after its rows were changed in SQL directly; the
    /// caller flushed before).
    pub(super) fn forget_last_day(&self, tenant: TenantId, account: i64, commodity: i64) {
        self.cache
            .borrow_mut()
            .last_days
            .remove(&(tenant.0, account, commodity));
    }

    /// The tenant's chart as earlier writes of this transaction left it, or a fresh one.
    /// Give it back with `keep_chart` when done.
    pub(super) fn take_chart(&self, tenant: TenantId) -> Result<TxChart, StoreError> {
        let held = self.cache.borrow_mut().charts.remove(&tenant.0);
        match held {
            Some(chart) => Ok(chart),
            None => TxChart::new(self.connection, tenant),
        }
    }

    pub(super) fn keep_chart(&self, tenant: TenantId, chart: TxChart) {
        self.cache.borrow_mut().charts.insert(tenant.0, chart);
    }

    /// Drops every held chart (an account, commodity or constraint changed).
    pub(super) fn forget_charts(&self) {
        self.cache.borrow_mut().charts.clear();
    }

    /// A tenant's last audit record (sequence, hash), if the transaction knows it.
    pub(super) fn audit_tip(&self, tenant: TenantId) -> Option<(i64, String)> {
        self.cache.borrow().audit_tips.get(&tenant.0).cloned()
    }

    pub(super) fn set_audit_tip(&self, tenant: TenantId, sequence: i64, hash: String) {
        self.cache
            .borrow_mut()
            .audit_tips
            .insert(tenant.0, (sequence, hash));
    }
}

/// Writes a held last per-day row as it needs.
fn write_day(
    connection: &Connection,
    (tenant, account, commodity): Pair,
    row: Option<(i32, i64)>,
    pending: Pending,
) -> Result<(), StoreError> {
    let Some((day, closing)) = row else {
        return Ok(());
    };
    let sql = match pending {
        Pending::Nothing => return Ok(()),
        Pending::Insert => {
            "INSERT INTO daily_balances (tenant_id, account_id, commodity_id, day, closing)
             VALUES (?1, ?2, ?3, ?4, ?5)"
        }
        Pending::Update => {
            "UPDATE daily_balances SET closing = ?5
             WHERE tenant_id = ?1 AND account_id = ?2 AND commodity_id = ?3 AND day = ?4"
        }
    };
    connection
        .prepare_cached(sql)?
        .execute(params![tenant, account, commodity, day, closing])?;
    Ok(())
}

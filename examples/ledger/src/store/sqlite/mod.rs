//! `SqliteStore`: the `Store` on one SQLite file (WAL, `synchronous=FULL`, foreign keys on),
//! through one connection.
//!
//! This file opens the database, holds the `Store` methods and the reads; `chart.rs` the
//! chart (tenants, commodities, accounts) and the transaction helpers; `tx.rs` a write
//! transaction's cache; `write.rs` entry writes and the balances they maintain; `group.rs`
//! `write_group` (one transaction for a writer's group); `register.rs` an account's register;
//! `reconcile.rs` reconciliation; `prices.rs` prices; `tokens.rs` API tokens; `users.rs` users
//! and memberships; `invitations.rs` roles, removals and invitations; `schema.rs` the
//! migrations. Every statement on a tenant's rows names `tenant_id` in its `WHERE` clause or
//! its inserted row (the `users` table, global, is the exception). Not here: connection pools
//! (`service::Readers`), the writer thread (`service::writer`), PostgreSQL. Tests:
//! `store/tests.rs` and its neighbours.

mod audit;
mod chart;
mod check;
mod group;
mod invitations;
mod prices;
mod reconcile;
mod register;
mod schema;
mod tokens;
mod tx;
mod users;
mod write;

pub use schema::MIGRATIONS;

/// The SQL `Store::entry_audit` runs, for the tests that check its query plan.
#[cfg(test)]
pub(crate) fn audit_sql_of_entry() -> [&'static str; 2] {
    audit::RECORDS_OF_ENTRY_SQL
}

use crate::store::{Reconciliation, ReconciliationId, ReconciliationState};
use chart::*;
use tx::Tx;

use super::{
    BalanceLine, BatchResults, BookImport, CheckReport, EntryCursor, EntryFilter, EntryRequest,
    InvitationId, InvitationRecord, Membership, RegisterFilter, RegisterRow, Store, StoreError,
    StoredEntry, TokenRecord, UserRecord, WriteOutcome, WriteRequest,
};
use crate::domain::audit::{Action, Actor, AuditRecord, Json};
use crate::domain::token::{Scope, TokenHash, TokenId};
use crate::domain::{
    Account, AccountName, AccountType, Amount, BalanceConstraint, BalanceState, BatchMode,
    Commodity, CommodityCode, Date, DisplayName, Email, EntryError, EntryId, MemoryChart,
    PostAmounts, Price, Role, TenantId, TenantSlug, Timestamp, UserId,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The SQLite store. One connection; `&mut self` on every method, so calls never interleave.
pub struct SqliteStore {
    connection: Connection,
    audit: AuditSettings,
}

/// Who the store's writes are recorded as, and the clock that dates the records.
struct AuditSettings {
    actor: Actor,
    clock: fn() -> Timestamp,
}

impl AuditSettings {
    fn stamp(&self) -> audit::Stamp<'_> {
        audit::Stamp {
            actor: &self.actor,
            at: (self.clock)(),
        }
    }
}

/// Seconds since the Unix epoch from the system clock (0 if the clock is before 1970).
pub fn system_clock() -> Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    Timestamp(since.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.connection.path())
            .finish()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError::Backend(Box::new(error))
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, sets it up for durability and applies the
    /// missing migrations. Refuses a database from a newer binary.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut connection = Connection::open(path)?;
        configure(&connection)?;
        schema::migrate(&mut connection)?;
        let audit = AuditSettings {
            actor: Actor::system(),
            clock: system_clock,
        };
        Ok(SqliteStore { connection, audit })
    }

    /// Opens an existing database for reads only (`PRAGMA query_only`): a reader connection of
    /// the server, which never waits for the writer (WAL). Refuses a database whose schema is
    /// not this binary's (the writer's `open` migrates it first).
    pub fn open_reader(path: &Path) -> Result<SqliteStore, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags)?;
        configure(&connection)?;
        connection.execute_batch("PRAGMA query_only = ON")?;
        let database = schema::current_version(&connection)?;
        let binary = schema::binary_version();
        if database > binary {
            return Err(StoreError::DatabaseTooNew { database, binary });
        }
        if database < binary {
            return Err(StoreError::Corrupt(format!(
                "the database has schema version {database}; open it for writing first to migrate it to {binary}"
            )));
        }
        let audit = AuditSettings {
            actor: Actor::system(),
            clock: system_clock,
        };
        Ok(SqliteStore { connection, audit })
    }

    /// Replaces the clock that dates audit records (`system_clock` by default); tests pin it.
    pub fn set_clock(&mut self, clock: fn() -> Timestamp) {
        self.audit.clock = clock;
    }

    /// The durability settings in force on this connection, as SQLite reports them.
    pub fn settings(&self) -> Result<Settings, StoreError> {
        let read = |pragma: &str| -> Result<String, StoreError> {
            let value: rusqlite::types::Value =
                self.connection
                    .query_row(&format!("PRAGMA {pragma}"), [], |row| row.get(0))?;
            Ok(match value {
                rusqlite::types::Value::Integer(n) => n.to_string(),
                rusqlite::types::Value::Text(text) => text,
                other => format!("{other:?}"),
            })
        };
        Ok(Settings {
            journal_mode: read("journal_mode")?,
            synchronous: read("synchronous")?,
            foreign_keys: read("foreign_keys")? == "1",
        })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        schema::current_version(&self.connection)
    }
}

/// What `SqliteStore::settings` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `wal`.
    pub journal_mode: String,
    /// `2` (FULL).
    pub synchronous: String,
    pub foreign_keys: bool,
}

/// Prepared statements kept per connection: more than the write and read paths use together.
const STATEMENT_CACHE_CAPACITY: usize = 128;

/// WAL (readers never wait for the writer), `synchronous=FULL` (a commit is on disk when it
/// returns), foreign keys enforced, and a busy timeout instead of an immediate `SQLITE_BUSY`.
fn configure(connection: &Connection) -> Result<(), StoreError> {
    let mode: String = connection
        .prepare_cached("PRAGMA journal_mode = WAL")?
        .query_row([], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "the database refused WAL mode (it is in {mode} mode)"
        )));
    }
    connection.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
    )?;
    // Every statement of the write path is prepared once per connection (`prepare_cached`);
    // the default cache of 16 is smaller than the write path's set, and re-parsing SQL was
    // most of the cost of a write.
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    // A larger page cache (64 MiB, negative: KiB) keeps a busy tenant's index pages in memory
    // between groups instead of re-reading them from the OS.
    // Savepoints (one per write of a group, one per entry of a batch) journal the pages they
    // change in a sub-journal: in memory, not a temporary file written on every statement.
    connection.execute_batch("PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;")?;
    Ok(())
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Columns 0, 1 and 2 of a row: an account name, a commodity code and an amount.
fn account_commodity_amount(
    row: &rusqlite::Row<'_>,
) -> Result<(AccountName, CommodityCode, Amount), StoreError> {
    Ok((
        AccountName::new(&row.get::<_, String>(0)?).map_err(corrupt)?,
        CommodityCode::new(&row.get::<_, String>(1)?).map_err(corrupt)?,
        Amount(row.get(2)?),
    ))
}

fn date_of(days: i64) -> Result<Date, StoreError> {
    i32::try_from(days)
        .ok()
        .and_then(Date::from_days_since_epoch)
        .ok_or_else(|| corrupt(format!("day number {days} out of range")))
}

impl Store for SqliteStore {
    fn create_tenant(&mut self, slug: &TenantSlug) -> Result<TenantId, StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            insert_tenant(connection, slug, stamp)
        })
    }

    fn tenants(&mut self) -> Result<Vec<(TenantId, TenantSlug)>, StoreError> {
        check::tenants(&self.connection, None)
    }

    fn tenant(&mut self, slug: &TenantSlug) -> Result<Option<TenantId>, StoreError> {
        let id = self
            .connection
            .prepare_cached("SELECT id FROM tenants WHERE slug = ?1")?
            .query_row([slug.as_str()], |row| row.get(0))
            .optional()?;
        Ok(id.map(TenantId))
    }

    fn create_commodity(
        &mut self,
        tenant: TenantId,
        commodity: &Commodity,
    ) -> Result<(), StoreError> {
        let outer = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let transaction = Tx::new(&outer);
        require_tenant(&transaction, tenant)?;
        insert_commodity(&transaction, tenant, commodity, self.audit.stamp())?;
        transaction.flush()?;
        drop(transaction);
        outer.commit()?;
        Ok(())
    }

    fn commodities(&mut self, tenant: TenantId) -> Result<Vec<Commodity>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        load_commodities(&self.connection, tenant)
    }

    fn create_account(&mut self, tenant: TenantId, account: &Account) -> Result<(), StoreError> {
        let outer = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let transaction = Tx::new(&outer);
        require_tenant(&transaction, tenant)?;
        insert_account(&transaction, tenant, account, self.audit.stamp())?;
        transaction.flush()?;
        drop(transaction);
        outer.commit()?;
        Ok(())
    }

    fn account(
        &mut self,
        tenant: TenantId,
        name: &AccountName,
    ) -> Result<Option<Account>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        Ok(load_account(&self.connection, tenant, name)?.map(|(_, account)| account))
    }

    fn accounts(&mut self, tenant: TenantId) -> Result<Vec<Account>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        let mut statement = self
            .connection
            .prepare("SELECT name FROM accounts WHERE tenant_id = ?1 ORDER BY name")?;
        let names = statement
            .query_map([tenant.0], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        drop(statement);
        let mut accounts = Vec::with_capacity(names.len());
        for name in names {
            let name = AccountName::new(&name).map_err(corrupt)?;
            if let Some((_, account)) = load_account(&self.connection, tenant, &name)? {
                accounts.push(account);
            }
        }
        Ok(accounts)
    }

    fn close_account(
        &mut self,
        tenant: TenantId,
        name: &AccountName,
        date: Date,
    ) -> Result<(), StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            close_account(connection, tenant, name, date, stamp)
        })
    }

    fn rename_account(
        &mut self,
        tenant: TenantId,
        from: &AccountName,
        to: &AccountName,
    ) -> Result<usize, StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            chart::rename_account(connection, tenant, from, to, stamp)
        })
    }

    fn set_constraint(
        &mut self,
        tenant: TenantId,
        name: &AccountName,
        constraint: &BalanceConstraint,
    ) -> Result<(), StoreError> {
        let outer = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let transaction = Tx::new(&outer);
        let id = account_id(&transaction, tenant, name)?;
        transaction.forget_charts();
        write::set_constraint(&transaction, tenant, id, constraint)?;
        let mut details = constraint_json(constraint);
        if let Json::Object(fields) = &mut details {
            fields.insert("account".into(), Json::text(name));
        }
        audit::append(
            &transaction,
            tenant,
            self.audit.stamp(),
            Action::ConstraintSet,
            &details,
        )?;
        transaction.flush()?;
        drop(transaction);
        outer.commit()?;
        Ok(())
    }

    fn set_price(&mut self, tenant: TenantId, price: &Price) -> Result<(), StoreError> {
        let outer = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let transaction = Tx::new(&outer);
        require_tenant(&transaction, tenant)?;
        prices::set_price(&transaction, tenant, price, self.audit.stamp())?;
        transaction.flush()?;
        drop(transaction);
        outer.commit()?;
        Ok(())
    }

    fn prices(
        &mut self,
        tenant: TenantId,
        commodity: Option<&CommodityCode>,
    ) -> Result<Vec<Price>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        prices::prices(&self.connection, tenant, commodity)
    }

    fn create_entries(
        &mut self,
        tenant: TenantId,
        requests: &[EntryRequest],
        mode: BatchMode,
    ) -> Result<BatchResults, StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            write::create_entries(connection, tenant, requests, mode, stamp)
        })
    }

    fn import_book(
        &mut self,
        tenant: TenantId,
        book: &BookImport,
    ) -> Result<Result<Vec<EntryId>, (usize, EntryError)>, StoreError> {
        let outer = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let transaction = Tx::new(&outer);
        require_tenant(&transaction, tenant)?;
        let stamp = self.audit.stamp();
        for commodity in &book.commodities {
            insert_commodity(&transaction, tenant, commodity, stamp)?;
        }
        for account in &book.accounts {
            insert_account(&transaction, tenant, account, stamp)?;
        }
        for price in &book.prices {
            prices::set_price(&transaction, tenant, price, stamp)?;
        }
        let written = write::import_entries(&transaction, tenant, &book.entries, stamp)?;
        if written.is_ok() {
            transaction.flush()?;
            drop(transaction);
            outer.commit()?;
        } // else: dropping `transaction` rolls everything back
        Ok(written)
    }

    fn existing_metadata(
        &mut self,
        tenant: TenantId,
        key: &str,
        values: &BTreeSet<String>,
    ) -> Result<BTreeSet<String>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        // One pass over the tenant's entries (json_each: no path quoting of `key`); only the
        // values asked about are kept.
        let mut statement = self.connection.prepare_cached(
            "SELECT item.value FROM entries, json_each(entries.metadata) AS item
             WHERE entries.tenant_id = ?1 AND item.key = ?2",
        )?;
        let mut rows = statement.query(params![tenant.0, key])?;
        let mut found = BTreeSet::new();
        while let Some(row) = rows.next()? {
            let value: String = row.get(0)?;
            if values.contains(&value) {
                found.insert(value);
            }
        }
        Ok(found)
    }

    fn entry(&mut self, tenant: TenantId, id: EntryId) -> Result<Option<StoredEntry>, StoreError> {
        write::load_entry(&self.connection, tenant, id)
    }

    fn entries(
        &mut self,
        tenant: TenantId,
        after: Option<EntryCursor>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        write::entries_page(
            &self.connection,
            tenant,
            &EntryFilter::default(),
            after,
            limit,
        )
    }

    fn register(
        &mut self,
        tenant: TenantId,
        account: &AccountName,
        filter: &RegisterFilter,
        after: Option<EntryCursor>,
        limit: usize,
    ) -> Result<Vec<RegisterRow>, StoreError> {
        register::register(&self.connection, tenant, account, filter, after, limit)
    }

    fn start_reconciliation(
        &mut self,
        tenant: TenantId,
        account: &AccountName,
        commodity: &CommodityCode,
        statement_date: Date,
        statement_balance: Amount,
        now: Timestamp,
    ) -> Result<ReconciliationId, StoreError> {
        let stamp = audit::Stamp {
            actor: &self.audit.actor,
            at: now,
        };
        in_transaction(&mut self.connection, |connection| {
            reconcile::start(
                connection,
                tenant,
                account,
                commodity,
                statement_date,
                statement_balance,
                stamp,
            )
        })
    }

    fn reconciliations(&mut self, tenant: TenantId) -> Result<Vec<Reconciliation>, StoreError> {
        reconcile::list(&self.connection, tenant)
    }

    fn reconciliation(
        &mut self,
        tenant: TenantId,
        id: ReconciliationId,
    ) -> Result<Option<ReconciliationState>, StoreError> {
        reconcile::state(&self.connection, tenant, id)
    }

    fn set_cleared(
        &mut self,
        tenant: TenantId,
        id: ReconciliationId,
        entry: EntryId,
        cleared: bool,
    ) -> Result<(), StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            reconcile::set_cleared(connection, tenant, id, entry, cleared, stamp)
        })
    }

    fn finish_reconciliation(
        &mut self,
        tenant: TenantId,
        id: ReconciliationId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let stamp = audit::Stamp {
            actor: &self.audit.actor,
            at: now,
        };
        in_transaction(&mut self.connection, |connection| {
            reconcile::finish(connection, tenant, id, stamp)
        })
    }

    fn latest_entries(
        &mut self,
        tenant: TenantId,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        write::latest_entries(&self.connection, tenant, limit)
    }

    fn recent_texts(&mut self, tenant: TenantId) -> Result<super::RecentTexts, StoreError> {
        require_tenant(&self.connection, tenant)?;
        write::recent_texts(&self.connection, tenant)
    }

    fn entries_matching(
        &mut self,
        tenant: TenantId,
        filter: &EntryFilter,
        after: Option<EntryCursor>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        write::entries_page(&self.connection, tenant, filter, after, limit)
    }

    fn reverse_entry(
        &mut self,
        tenant: TenantId,
        id: EntryId,
        date: Date,
    ) -> Result<EntryId, StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            write::reverse_entry(connection, tenant, id, date, stamp)
        })
    }

    fn post_pending(
        &mut self,
        tenant: TenantId,
        id: EntryId,
        amounts: &PostAmounts,
        date: Date,
        now: Timestamp,
    ) -> Result<EntryId, StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            write::post_pending(connection, tenant, id, amounts, date, now, stamp)
        })
    }

    fn void_pending(
        &mut self,
        tenant: TenantId,
        id: EntryId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            write::void_pending(connection, tenant, id, now, stamp)
        })
    }

    fn expire_pending(
        &mut self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<Vec<EntryId>, StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            write::expire_pending(connection, tenant, now, stamp)
        })
    }

    fn balance(
        &mut self,
        tenant: TenantId,
        name: &AccountName,
        commodity: &CommodityCode,
        date: Date,
    ) -> Result<Amount, StoreError> {
        let account = account_id(&self.connection, tenant, name)?;
        let commodity = commodity_id(&self.connection, tenant, commodity)?;
        let closing: Option<i64> = self
            .connection
            .prepare_cached(
                "SELECT closing FROM daily_balances
                 WHERE tenant_id = ?1 AND account_id = ?2 AND commodity_id = ?3 AND day <= ?4
                 ORDER BY day DESC LIMIT 1",
            )?
            .query_row(
                params![tenant.0, account, commodity, date.days_since_epoch()],
                |row| row.get(0),
            )
            .optional()?;
        Ok(Amount(closing.unwrap_or(0)))
    }

    fn balances(&mut self, tenant: TenantId, date: Date) -> Result<Vec<BalanceLine>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        let mut statement = self.connection.prepare_cached(
            // One index seek per account and commodity (the last day on or before the date),
            // however many days the book has: `balances` lists the pairs.
            "SELECT name, code, closing FROM (
                 SELECT a.name AS name, c.code AS code,
                        (SELECT d.closing FROM daily_balances d
                         WHERE d.tenant_id = b.tenant_id AND d.account_id = b.account_id
                           AND d.commodity_id = b.commodity_id AND d.day <= ?2
                         ORDER BY d.day DESC LIMIT 1) AS closing
                 FROM balances b
                 JOIN accounts a ON a.tenant_id = b.tenant_id AND a.id = b.account_id
                 JOIN commodities c ON c.tenant_id = b.tenant_id AND c.id = b.commodity_id
                 WHERE b.tenant_id = ?1) AS lines
             WHERE closing IS NOT NULL
             ORDER BY name, code",
        )?;
        let mut rows = statement.query(params![tenant.0, date.days_since_epoch()])?;
        let mut lines = Vec::new();
        while let Some(row) = rows.next()? {
            let (account, commodity, balance) = account_commodity_amount(row)?;
            lines.push(BalanceLine {
                account,
                commodity,
                balance,
            });
        }
        Ok(lines)
    }

    fn balance_state(
        &mut self,
        tenant: TenantId,
        name: &AccountName,
        commodity: &CommodityCode,
    ) -> Result<BalanceState, StoreError> {
        let account = account_id(&self.connection, tenant, name)?;
        let commodity = commodity_id(&self.connection, tenant, commodity)?;
        write::balance_state(&self.connection, tenant, account, commodity)
    }

    fn set_actor(&mut self, actor: Actor) {
        self.audit.actor = actor;
    }

    fn audit_records(
        &mut self,
        tenant: TenantId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        let mut records = Vec::new();
        audit::for_each_record(&self.connection, tenant, after, limit, |record| {
            records.push(record);
            Ok(())
        })?;
        Ok(records)
    }

    fn entry_audit(
        &mut self,
        tenant: TenantId,
        entry: EntryId,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        let limit = crate::limits::AUDIT_RECORDS_PER_ENTRY_MAX;
        audit::records_of_entry(&self.connection, tenant, entry.0, limit)
    }

    fn audit_records_before(
        &mut self,
        tenant: TenantId,
        before: i64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        require_tenant(&self.connection, tenant)?;
        let limit = limit.min(crate::limits::ENTRIES_PER_PAGE_MAX);
        audit::records_before(&self.connection, tenant, before, limit)
    }

    fn check(&mut self, tenant: Option<TenantId>) -> Result<CheckReport, StoreError> {
        check::check(&mut self.connection, tenant)
    }

    fn create_token(
        &mut self,
        tenant: TenantId,
        scope: Scope,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<TokenId, StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            tokens::create(connection, tenant, scope, hash, now, stamp)
        })
    }

    fn token(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        tokens::find(&self.connection, id)
    }

    fn tokens(&mut self, tenant: TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        tokens::list(&self.connection, tenant)
    }

    fn revoke_token(&mut self, id: TokenId, now: Timestamp) -> Result<TokenRecord, StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            tokens::revoke(connection, id, now, stamp)
        })
    }

    fn create_user(
        &mut self,
        email: &Email,
        name: &DisplayName,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<UserId, StoreError> {
        in_transaction(&mut self.connection, |connection| {
            users::create(connection, email, name, password_hash, now)
        })
    }

    fn user_by_email(&mut self, email: &Email) -> Result<Option<UserRecord>, StoreError> {
        users::find_by_email(&self.connection, email)
    }

    fn user(&mut self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        users::find(&self.connection, id)
    }

    fn end_sessions(&mut self, user: UserId) -> Result<i64, StoreError> {
        users::end_sessions(&self.connection, user)
    }

    fn add_member(&mut self, tenant: TenantId, user: UserId, role: Role) -> Result<(), StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            users::add_member(connection, tenant, user, role, stamp)
        })
    }

    fn memberships(&mut self, user: UserId) -> Result<Vec<Membership>, StoreError> {
        users::memberships(&self.connection, user)
    }

    fn membership(&mut self, tenant: TenantId, user: UserId) -> Result<Option<Role>, StoreError> {
        users::membership(&self.connection, tenant, user)
    }

    fn members(&mut self, tenant: TenantId) -> Result<Vec<(UserRecord, Role)>, StoreError> {
        users::members(&self.connection, tenant)
    }

    fn set_role(&mut self, tenant: TenantId, user: UserId, role: Role) -> Result<(), StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            invitations::set_role(connection, tenant, user, role, stamp)
        })
    }

    fn remove_member(&mut self, tenant: TenantId, user: UserId) -> Result<(), StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            invitations::remove_member(connection, tenant, user, stamp)
        })
    }

    fn create_invitation(
        &mut self,
        tenant: TenantId,
        hash: &TokenHash,
        role: Role,
        email: Option<&Email>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<InvitationId, StoreError> {
        let stamp = self.audit.stamp();
        let new = invitations::NewInvitation {
            hash,
            role,
            email,
            expires_at,
            now,
        };
        in_transaction(&mut self.connection, |connection| {
            invitations::create(connection, tenant, &new, stamp)
        })
    }

    fn invitation_by_hash(
        &mut self,
        hash: &TokenHash,
    ) -> Result<Option<InvitationRecord>, StoreError> {
        invitations::find_by_hash(&self.connection, hash)
    }

    fn accept_invitation(
        &mut self,
        id: InvitationId,
        user: UserId,
        now: Timestamp,
    ) -> Result<Membership, StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            invitations::accept(connection, id, user, now, stamp)
        })
    }

    fn cancel_invitation(
        &mut self,
        tenant: TenantId,
        id: InvitationId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            invitations::cancel(connection, tenant, id, now, stamp)
        })
    }

    fn invitations(&mut self, tenant: TenantId) -> Result<Vec<InvitationRecord>, StoreError> {
        invitations::list(&self.connection, tenant)
    }

    fn sign_up(
        &mut self,
        slug: &TenantSlug,
        email: &Email,
        name: &DisplayName,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<(TenantId, UserId), StoreError> {
        let stamp = self.audit.stamp();
        in_transaction(&mut self.connection, |connection| {
            sign_up(connection, slug, email, name, password_hash, now, stamp)
        })
    }

    fn write_group(
        &mut self,
        requests: &[WriteRequest],
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        self.write_group_in_one_transaction(requests)
    }
}

//! The SQLite schema as numbered migrations, and applying them at start-up.
//!
//! Migration N (1-based) is `MIGRATIONS[N - 1]`; a database records the version it reached in
//! `schema_version`. Opening applies the missing ones, each in its own transaction, and refuses
//! a database whose version is beyond `MIGRATIONS.len()` (written by a newer binary). Released
//! migrations are never edited, only appended to.
//!
//! Every table carries `tenant_id`, and every reference between tenant rows is a composite
//! foreign key that includes it, so even a wrong id in a query cannot link two tenants' rows.
//! The SQL sticks to what SQLite and PostgreSQL both accept (`ON CONFLICT`, composite keys, no
//! SQLite-only types), apart from `INTEGER PRIMARY KEY` for row ids and the triggers that make
//! `audit_log` append-only (migration 2). Migration 3 adds `prices`, 4 `api_tokens`, 5 the
//! web app's `users` and their `memberships`, 6 the register's index, 7 `invitations`. `users` is the one table without `tenant_id`:
//! a user is global and reaches a tenant only through a membership row, which carries it.

use super::super::StoreError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// The schema, one migration per element.
pub const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE tenants (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE
);

CREATE TABLE commodities (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    decimal_places INTEGER NOT NULL CHECK (decimal_places BETWEEN 0 AND 18),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id)
);

CREATE TABLE accounts (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    account_type TEXT NOT NULL
        CHECK (account_type IN ('asset', 'liability', 'equity', 'income', 'expense')),
    opened INTEGER NOT NULL,
    closed INTEGER CHECK (closed IS NULL OR closed >= opened),
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id)
);

CREATE TABLE account_commodities (
    tenant_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    commodity_id INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, account_id, commodity_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, commodity_id) REFERENCES commodities (tenant_id, id)
);

CREATE TABLE balance_constraints (
    tenant_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    commodity_id INTEGER NOT NULL,
    min_amount INTEGER,
    max_amount INTEGER,
    PRIMARY KEY (tenant_id, account_id, commodity_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, commodity_id) REFERENCES commodities (tenant_id, id)
);

CREATE TABLE entries (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    id INTEGER PRIMARY KEY,
    day INTEGER NOT NULL,
    description TEXT NOT NULL,
    payee TEXT,
    tags TEXT NOT NULL,
    metadata TEXT NOT NULL,
    pending_status TEXT CHECK (pending_status IN ('pending', 'posted', 'voided', 'expired')),
    expires_at INTEGER,
    reverses INTEGER,
    posts INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, reverses),
    UNIQUE (tenant_id, posts),
    FOREIGN KEY (tenant_id, reverses) REFERENCES entries (tenant_id, id),
    FOREIGN KEY (tenant_id, posts) REFERENCES entries (tenant_id, id)
);
CREATE INDEX entries_by_day ON entries (tenant_id, day);
CREATE INDEX entries_pending ON entries (tenant_id, pending_status, expires_at);

CREATE TABLE postings (
    tenant_id INTEGER NOT NULL,
    entry_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    commodity_id INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, entry_id, position),
    FOREIGN KEY (tenant_id, entry_id) REFERENCES entries (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, commodity_id) REFERENCES commodities (tenant_id, id)
);
CREATE INDEX postings_by_account ON postings (tenant_id, account_id, commodity_id);

-- The current state per account and commodity: posted over all dates, and reservations.
CREATE TABLE balances (
    tenant_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    commodity_id INTEGER NOT NULL,
    posted INTEGER NOT NULL,
    pending_debits INTEGER NOT NULL CHECK (pending_debits >= 0),
    pending_credits INTEGER NOT NULL CHECK (pending_credits <= 0),
    PRIMARY KEY (tenant_id, account_id, commodity_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, commodity_id) REFERENCES commodities (tenant_id, id)
);

-- The posted balance at the end of each day that had postings: a balance at a date is one
-- index seek (the last row on or before it), never a scan of postings.
CREATE TABLE daily_balances (
    tenant_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    commodity_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    closing INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, account_id, commodity_id, day),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, commodity_id) REFERENCES commodities (tenant_id, id)
);

CREATE TABLE idempotency_keys (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
",
    r"
-- The append-only audit log: one hash-chained sequence per tenant (domain::audit::seal).
-- Hashes are 64 lowercase hex digits; a tenant's first record chains to 64 zeros.
CREATE TABLE audit_log (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    sequence INTEGER NOT NULL CHECK (sequence >= 1),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    origin TEXT,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sequence)
);
-- SQLite-only: refuse edits through SQL. Whoever drops the triggers is caught by the chain.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
",
    r"
-- Prices (domain::price): on `day`, one unit of the commodity is worth
-- rate_units * 10^-rate_scale units of the quote. One per tenant, commodity, quote and day;
-- setting it again replaces the rate. Reports only: no posting refers to a price.
CREATE TABLE prices (
    tenant_id INTEGER NOT NULL,
    commodity_id INTEGER NOT NULL,
    quote_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    rate_units INTEGER NOT NULL CHECK (rate_units > 0),
    rate_scale INTEGER NOT NULL CHECK (rate_scale BETWEEN 0 AND 18),
    PRIMARY KEY (tenant_id, commodity_id, quote_id, day),
    CHECK (commodity_id <> quote_id),
    FOREIGN KEY (tenant_id, commodity_id) REFERENCES commodities (tenant_id, id),
    FOREIGN KEY (tenant_id, quote_id) REFERENCES commodities (tenant_id, id)
);
CREATE INDEX prices_by_day ON prices (tenant_id, day);
",
    r"
-- API tokens: only SHA-256 of the secret (32 bytes, hex), never the secret itself.
CREATE TABLE api_tokens (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    UNIQUE (tenant_id, id)
);
",
    r"
-- The web app's users (domain::user): global, not per tenant (one login, several tenants).
-- email is trimmed and lowercased; password_hash is an Argon2id PHC string, never a password.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Who belongs to which tenant, with what role: a user's tenants are listed by user_id.
CREATE TABLE memberships (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'accountant', 'viewer')),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);
",
    r"
-- The register (web app): an account's postings in journal order, by index. `day` repeats
-- the entry's day so the index alone orders an account's postings (keyset pages stay fast at
-- a million postings); every write sets it, the UPDATE fills it for older rows.
ALTER TABLE postings ADD COLUMN day INTEGER;
UPDATE postings SET day = (
    SELECT e.day FROM entries e WHERE e.tenant_id = postings.tenant_id AND e.id = postings.entry_id
);
CREATE INDEX postings_register ON postings (tenant_id, account_id, day, entry_id);
",
    r"
-- Reconciliation (web app): an account's statement (date and balance in one commodity) and
-- the entries ticked as cleared on it. Entries cleared on a finished reconciliation are
-- reconciled; at most one reconciliation per account and commodity is open at a time.
CREATE TABLE reconciliations (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    commodity_id INTEGER NOT NULL,
    statement_day INTEGER NOT NULL,
    statement_balance INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, commodity_id) REFERENCES commodities (tenant_id, id)
);
CREATE INDEX reconciliations_by_account ON reconciliations (tenant_id, account_id, commodity_id);
CREATE TABLE cleared (
    tenant_id INTEGER NOT NULL,
    reconciliation_id INTEGER NOT NULL,
    entry_id INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, reconciliation_id, entry_id),
    FOREIGN KEY (tenant_id, reconciliation_id) REFERENCES reconciliations (tenant_id, id),
    FOREIGN KEY (tenant_id, entry_id) REFERENCES entries (tenant_id, id)
);
CREATE INDEX cleared_by_entry ON cleared (tenant_id, entry_id);
",
    r"
-- Invitations to a tenant (web app): a single-use link whose secret is stored only as its
-- SHA-256 (hex, unique: the link finds its row). `accepted_by` is set once, with `accepted_at`.
CREATE TABLE invitations (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    id INTEGER PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'accountant', 'viewer')),
    email TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    accepted_at INTEGER,
    accepted_by INTEGER REFERENCES users (id),
    CHECK ((accepted_at IS NULL) = (accepted_by IS NULL)),
    UNIQUE (tenant_id, id)
);
",
    r"
-- An entry's audit trail (the entry page): the records that name it, by index, in sequence
-- order. The records about an entry itself carry its id as `id`; those that link to it name it
-- as `link.reverses`, `link.posts` or (a reconciliation tick) `entry`. Partial indexes: only
-- these actions.
CREATE INDEX audit_by_entry ON audit_log (tenant_id, json_extract(details, '$.id'), sequence)
    WHERE action IN ('entry.created', 'entry.reversed', 'pending.posted', 'pending.voided',
                     'pending.expired');
CREATE INDEX audit_by_linked_entry ON audit_log (tenant_id,
    coalesce(json_extract(details, '$.link.reverses'), json_extract(details, '$.link.posts'),
             json_extract(details, '$.entry')), sequence)
    WHERE action IN ('entry.reversed', 'pending.posted', 'reconciliation.cleared');
",
    r"
-- Ending a person's web sessions: a session carries the generation it was made in, and one
-- of an older generation is refused (log-out raises it: every device's session ends).
ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0;
",
];

/// The schema version this binary writes.
pub fn binary_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Brings the database up to `MIGRATIONS.len()`, or refuses one that is newer.
pub fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    connection
        .execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let database = current_version(connection)?;
    let binary = binary_version();
    if database > binary {
        return Err(StoreError::DatabaseTooNew { database, binary });
    }
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(database).unwrap_or(0))
    {
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute_batch(sql)?;
        transaction.execute("DELETE FROM schema_version", [])?;
        transaction.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version],
        )?;
        transaction.commit()?;
        tracing::info!(version, "applied ledger schema migration");
    }
    Ok(())
}

/// The version a database reached (0 for a new one).
pub fn current_version(connection: &Connection) -> Result<i64, StoreError> {
    let version: Option<i64> = connection
        .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .optional()?
        .flatten();
    Ok(version.unwrap_or(0))
}

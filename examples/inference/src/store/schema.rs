//! The SQLite schema as numbered migrations, applied at open. Migration N (1-based) is
//! `MIGRATIONS[N - 1]`; the database records the version it reached in `schema_version`.
//! Opening applies the missing ones, each in its own transaction, and refuses a database
//! whose version is beyond `MIGRATIONS.len()` (written by a newer binary). Released
//! migrations are never edited, only appended to. Tests: `store/tests.rs`.

use super::StoreError;
use rusqlite::{Connection, OptionalExtension};

/// The schema, one migration per element.
pub const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    topic TEXT,
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    -- dimensions x f32, little-endian; a unit vector.
    embedding BLOB NOT NULL
);

CREATE TABLE searches (
    id INTEGER PRIMARY KEY,
    query TEXT NOT NULL,
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    -- The ids answered, best first, comma-separated.
    results TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);

CREATE TABLE opens (
    search_id INTEGER NOT NULL,
    document_id INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    at_ms INTEGER NOT NULL
);

CREATE TABLE feedback (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    subject TEXT NOT NULL,
    label TEXT NOT NULL CHECK (label IN ('up', 'down')),
    source TEXT NOT NULL CHECK (source IN ('active', 'passive')),
    score REAL,
    predicted INTEGER CHECK (predicted IN (0, 1)),
    at_ms INTEGER NOT NULL
);
CREATE INDEX feedback_by_model ON feedback (model, at_ms);

CREATE TABLE model_state (
    model TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model, key)
);
",
    r"
-- An opened result counts once per search (a second click is not more approval), and the
-- opens of forgotten searches go with them (the delete needs this index).
DELETE FROM opens WHERE rowid NOT IN (
    SELECT min(rowid) FROM opens GROUP BY search_id, document_id
);
CREATE UNIQUE INDEX opens_once ON opens (search_id, document_id);
",
];

/// Brings `connection` up to the latest schema.
pub fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let error = |e: rusqlite::Error| StoreError(e.to_string());
    connection
        .execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .map_err(error)?;
    let current: i64 = connection
        .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
        .optional()
        .map_err(error)?
        .unwrap_or(0);
    let latest = MIGRATIONS.len() as i64;
    if current > latest {
        return Err(StoreError(format!(
            "the database is at schema version {current}; this binary knows up to {latest}"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let transaction = connection.transaction().map_err(error)?;
        transaction.execute_batch(migration).map_err(error)?;
        transaction
            .execute("DELETE FROM schema_version", [])
            .map_err(error)?;
        transaction
            .execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [index as i64 + 1],
            )
            .map_err(error)?;
        transaction.commit().map_err(error)?;
    }
    Ok(())
}

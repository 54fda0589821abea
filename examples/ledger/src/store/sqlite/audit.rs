//! The audit log on SQLite: appending a record inside the caller's transaction (so a write
//! and its record commit or roll back together) and reading a tenant's records in order.
//!
//! The hash rule is `domain::audit::seal`; this file only finds the tenant's last record,
//! seals the next one and stores it. The table refuses `UPDATE` and `DELETE` by trigger
//! (`schema.rs`); the chain is what catches an edit made around the triggers. Tests:
//! `store/tests.rs`.

use super::corrupt;
use super::tx::Tx;
use crate::domain::audit::{
    Action, Actor, AuditRecord, GENESIS, Json, RecordFields, RecordHash, seal,
};
use crate::domain::{TenantId, Timestamp};
use crate::store::StoreError;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// Who writes and when: the same for every record of one store call.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stamp<'a> {
    pub actor: &'a Actor,
    pub at: Timestamp,
}

/// Appends the tenant's next record. Call it inside the write's transaction (or savepoint).
pub(super) fn append(
    connection: &Tx<'_>,
    tenant: TenantId,
    stamp: Stamp<'_>,
    action: Action,
    details: &Json,
) -> Result<(), StoreError> {
    let last: Option<(i64, String)> = match connection.audit_tip(tenant) {
        Some(tip) => Some(tip),
        None => connection
            .prepare_cached(
                "SELECT sequence, hash FROM audit_log WHERE tenant_id = ?1 ORDER BY sequence DESC LIMIT 1",
            )?
            .query_row([tenant.0], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?,
    };
    let (sequence, previous) = match last {
        None => (1, GENESIS),
        Some((sequence, hash)) => (
            sequence + 1,
            RecordHash::from_hex(&hash)
                .ok_or_else(|| corrupt(format!("audit record {sequence} has a malformed hash")))?,
        ),
    };
    let details = details.to_canonical();
    let fields = RecordFields {
        tenant,
        sequence,
        at: stamp.at,
        actor: stamp.actor.name(),
        origin: stamp.actor.origin(),
        action: action.as_str(),
        details: &details,
    };
    let hash = seal(&previous, &fields);
    let hex = hash.to_hex();
    connection
        .prepare_cached(
            "INSERT INTO audit_log (tenant_id, sequence, at, actor, origin, action, details, previous_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            tenant.0,
            sequence,
            stamp.at.0,
            fields.actor,
            fields.origin,
            fields.action,
            details,
            previous.to_hex(),
            hex,
        ])?;
    connection.set_audit_tip(tenant, sequence, hex);
    Ok(())
}

/// Calls `each` on the tenant's records with a sequence number above `after`, in order, at
/// most `limit` of them (`usize::MAX`: all, streamed without holding them).
pub(super) fn for_each_record(
    connection: &Connection,
    tenant: TenantId,
    after: i64,
    limit: usize,
    mut each: impl FnMut(AuditRecord) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT tenant_id, sequence, at, actor, origin, action, details, previous_hash, hash
         FROM audit_log WHERE tenant_id = ?1 AND sequence > ?2 ORDER BY sequence LIMIT ?3",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = statement.query(params![tenant.0, after, limit])?;
    while let Some(row) = rows.next()? {
        each(read_record(row)?)?;
    }
    Ok(())
}

/// The tenant's records with a sequence number below `before`, newest first, at most `limit`
/// (a page of the web app's audit log, by index).
pub(super) fn records_before(
    connection: &Connection,
    tenant: TenantId,
    before: i64,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT tenant_id, sequence, at, actor, origin, action, details, previous_hash, hash
         FROM audit_log WHERE tenant_id = ?1 AND sequence < ?2 ORDER BY sequence DESC LIMIT ?3",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = statement.query(params![tenant.0, before, limit])?;
    let mut records = Vec::new();
    while let Some(row) = rows.next()? {
        records.push(read_record(row)?);
    }
    Ok(records)
}

/// The SQL of `records_of_entry`: the records about the entry itself, then those linking to
/// it; each walks its own partial index in sequence order (`audit_by_entry`,
/// `audit_by_linked_entry`).
pub(super) const RECORDS_OF_ENTRY_SQL: [&str; 2] = [
    "SELECT tenant_id, sequence, at, actor, origin, action, details, previous_hash, hash
     FROM audit_log WHERE tenant_id = ?1 AND json_extract(details, '$.id') = ?2
       AND action IN ('entry.created', 'entry.reversed', 'pending.posted', 'pending.voided',
                      'pending.expired')
     ORDER BY sequence LIMIT ?3",
    "SELECT tenant_id, sequence, at, actor, origin, action, details, previous_hash, hash
     FROM audit_log WHERE tenant_id = ?1
       AND coalesce(json_extract(details, '$.link.reverses'), json_extract(details, '$.link.posts'),
                    json_extract(details, '$.entry')) = ?2
       AND action IN ('entry.reversed', 'pending.posted', 'reconciliation.cleared')
     ORDER BY sequence LIMIT ?3",
];

/// The records that name entry `entry`, oldest first, at most `limit`.
pub(super) fn records_of_entry(
    connection: &Connection,
    tenant: TenantId,
    entry: i64,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let sql_limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut records: Vec<AuditRecord> = Vec::new();
    for sql in RECORDS_OF_ENTRY_SQL {
        let mut statement = connection.prepare_cached(sql)?;
        let mut rows = statement.query(params![tenant.0, entry, sql_limit])?;
        while let Some(row) = rows.next()? {
            records.push(read_record(row)?);
        }
    }
    // A reversal names the entry both as its own `id` and as what it reverses: once.
    records.sort_by_key(|record| record.sequence);
    records.dedup_by_key(|record| record.sequence);
    records.truncate(limit);
    Ok(records)
}

fn read_record(row: &Row<'_>) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        tenant: TenantId(row.get(0)?),
        sequence: row.get(1)?,
        at: Timestamp(row.get(2)?),
        actor: row.get(3)?,
        origin: row.get(4)?,
        action: row.get(5)?,
        details: row.get(6)?,
        previous_hash: row.get(7)?,
        hash: row.get(8)?,
    })
}

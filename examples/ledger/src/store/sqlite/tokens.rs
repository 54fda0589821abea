//! API tokens on SQLite: insert, look up by id, list per tenant, revoke. Creation and
//! revocation append an audit record in the same transaction. Only the secret's SHA-256 is
//! stored (hex). The token rules are `domain::token`; minting the secret is the caller's.

use super::audit::{self, Stamp};
use super::tx::Tx;
use super::{corrupt, require_tenant};
use crate::domain::audit::{Action, Json};
use crate::domain::token::{Scope, TokenHash, TokenId};
use crate::domain::{TenantId, Timestamp};
use crate::store::{StoreError, TokenRecord};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "id, tenant_id, scope, secret_hash, created_at, revoked_at";

pub(super) fn create(
    connection: &Tx<'_>,
    tenant: TenantId,
    scope: Scope,
    hash: &TokenHash,
    now: Timestamp,
    stamp: Stamp<'_>,
) -> Result<TokenId, StoreError> {
    require_tenant(connection, tenant)?;
    connection.prepare_cached("INSERT INTO api_tokens (tenant_id, scope, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4)")?
.execute(
        params![tenant.0, scope.as_str(), hex(hash), now.0],
    )?;
    let id = TokenId(connection.last_insert_rowid());
    let details = Json::object([
        ("id", Json::Int(id.0)),
        ("scope", Json::text(scope.as_str())),
    ]);
    audit::append(connection, tenant, stamp, Action::TokenCreated, &details)?;
    Ok(id)
}

pub(super) fn find(
    connection: &Connection,
    id: TokenId,
) -> Result<Option<TokenRecord>, StoreError> {
    let row = connection
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = ?1"))?
        .query_row([id.0], |row| Ok(read(row)))
        .optional()?;
    row.transpose()
}

pub(super) fn list(
    connection: &Connection,
    tenant: TenantId,
) -> Result<Vec<TokenRecord>, StoreError> {
    require_tenant(connection, tenant)?;
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE tenant_id = ?1 ORDER BY id"
    ))?;
    let rows = statement.query_map([tenant.0], |row| Ok(read(row)))?;
    let mut tokens = Vec::new();
    for row in rows {
        tokens.push(row??);
    }
    Ok(tokens)
}

pub(super) fn revoke(
    connection: &Tx<'_>,
    id: TokenId,
    now: Timestamp,
    stamp: Stamp<'_>,
) -> Result<TokenRecord, StoreError> {
    let Some(record) = find(connection, id)? else {
        return Err(StoreError::NotFound {
            what: "token",
            name: id.to_string(),
        });
    };
    if record.revoked_at.is_some() {
        return Ok(record);
    }
    connection
        .prepare_cached("UPDATE api_tokens SET revoked_at = ?3 WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![record.tenant.0, id.0, now.0])?;
    let details = Json::object([("id", Json::Int(id.0))]);
    audit::append(
        connection,
        record.tenant,
        stamp,
        Action::TokenRevoked,
        &details,
    )?;
    Ok(TokenRecord {
        revoked_at: Some(now),
        ..record
    })
}

fn read(row: &Row<'_>) -> Result<TokenRecord, StoreError> {
    let scope: String = row.get(2)?;
    let hash: String = row.get(3)?;
    Ok(TokenRecord {
        id: TokenId(row.get(0)?),
        tenant: TenantId(row.get(1)?),
        scope: Scope::parse(&scope).map_err(corrupt)?,
        hash: unhex(&hash).ok_or_else(|| corrupt("a token hash is not 64 hex digits"))?,
        created_at: Timestamp(row.get(4)?),
        revoked_at: row.get::<_, Option<i64>>(5)?.map(Timestamp),
    })
}

pub(super) fn hex(hash: &TokenHash) -> String {
    hash.0.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<TokenHash> {
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(TokenHash(bytes))
}

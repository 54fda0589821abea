//! The web app's users and memberships on SQLite: insert a user, look one up by email or id,
//! add a member to a tenant (audited as `member.added` in the tenant's chain, in the same
//! transaction), list a user's tenants and a tenant's members, end a user's web sessions. Users are global (no
//! `tenant_id`); every membership query names its tenant or its user.
//!
//! Only the password's PHC string is stored; hashing and verifying are
//! `crate::service::password`, the rules on emails, names and roles `domain::user`. Tests:
//! `store/user_tests.rs`.

use super::audit::{self, Stamp};
use super::tx::Tx;
use super::{corrupt, require_tenant};
use crate::domain::audit::{Action, Json};
use crate::domain::{DisplayName, Email, Role, TenantId, TenantSlug, Timestamp, UserId};
use crate::store::{Membership, StoreError, UserRecord};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "users.id, users.email, users.name, users.password_hash, users.created_at, \
                       users.session_generation";

pub(super) fn create(
    connection: &Tx<'_>,
    email: &Email,
    name: &DisplayName,
    password_hash: &str,
    now: Timestamp,
) -> Result<UserId, StoreError> {
    if find_by_email(connection, email)?.is_some() {
        return Err(StoreError::AlreadyExists {
            what: "user",
            name: email.to_string(),
        });
    }
    connection
        .prepare_cached(
            "INSERT INTO users (email, name, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![email.as_str(), name.as_str(), password_hash, now.0])?;
    Ok(UserId(connection.last_insert_rowid()))
}

pub(super) fn find_by_email(
    connection: &Connection,
    email: &Email,
) -> Result<Option<UserRecord>, StoreError> {
    let row = connection
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE email = ?1"))?
        .query_row([email.as_str()], |row| Ok(read(row)))
        .optional()?;
    row.transpose()
}

pub(super) fn find(connection: &Connection, id: UserId) -> Result<Option<UserRecord>, StoreError> {
    let row = connection
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id.0], |row| Ok(read(row)))
        .optional()?;
    row.transpose()
}

pub(super) fn add_member(
    connection: &Tx<'_>,
    tenant: TenantId,
    user: UserId,
    role: Role,
    stamp: Stamp<'_>,
) -> Result<(), StoreError> {
    require_tenant(connection, tenant)?;
    if find(connection, user)?.is_none() {
        return Err(StoreError::NotFound {
            what: "user",
            name: user.to_string(),
        });
    }
    if membership(connection, tenant, user)?.is_some() {
        return Err(StoreError::AlreadyExists {
            what: "member",
            name: user.to_string(),
        });
    }
    connection
        .prepare_cached("INSERT INTO memberships (tenant_id, user_id, role) VALUES (?1, ?2, ?3)")?
        .execute(params![tenant.0, user.0, role.as_str()])?;
    let details = Json::object([
        ("user", Json::Int(user.0)),
        ("role", Json::text(role.as_str())),
    ]);
    audit::append(connection, tenant, stamp, Action::MemberAdded, &details)
}

pub(super) fn memberships(
    connection: &Connection,
    user: UserId,
) -> Result<Vec<Membership>, StoreError> {
    if find(connection, user)?.is_none() {
        return Err(StoreError::NotFound {
            what: "user",
            name: user.to_string(),
        });
    }
    let mut statement = connection.prepare_cached(
        "SELECT t.id, t.slug, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id
         WHERE m.user_id = ?1 ORDER BY t.slug",
    )?;
    let rows = statement.query_map([user.0], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    let mut memberships = Vec::new();
    for row in rows {
        let (tenant, slug, role) = row?;
        memberships.push(Membership {
            tenant: TenantId(tenant),
            slug: TenantSlug::new(&slug).map_err(corrupt)?,
            role: Role::parse(&role).map_err(corrupt)?,
        });
    }
    Ok(memberships)
}

pub(super) fn membership(
    connection: &Connection,
    tenant: TenantId,
    user: UserId,
) -> Result<Option<Role>, StoreError> {
    let role: Option<String> = connection
        .prepare_cached("SELECT role FROM memberships WHERE tenant_id = ?1 AND user_id = ?2")?
        .query_row(params![tenant.0, user.0], |row| row.get(0))
        .optional()?;
    role.map(|role| Role::parse(&role).map_err(corrupt))
        .transpose()
}

pub(super) fn members(
    connection: &Connection,
    tenant: TenantId,
) -> Result<Vec<(UserRecord, Role)>, StoreError> {
    require_tenant(connection, tenant)?;
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {COLUMNS}, m.role FROM memberships m JOIN users ON users.id = m.user_id
         WHERE m.tenant_id = ?1 ORDER BY users.email"
    ))?;
    let rows = statement.query_map([tenant.0], |row| {
        let role: String = row.get(6)?;
        Ok(read(row).and_then(|user| Ok((user, Role::parse(&role).map_err(corrupt)?))))
    })?;
    let mut members = Vec::new();
    for row in rows {
        members.push(row??);
    }
    Ok(members)
}

/// Raises the user's session generation (`Store::end_sessions`); returns the new one.
pub(super) fn end_sessions(connection: &Connection, user: UserId) -> Result<i64, StoreError> {
    connection
        .prepare_cached(
            "UPDATE users SET session_generation = session_generation + 1 WHERE id = ?1
             RETURNING session_generation",
        )?
        .query_row([user.0], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            what: "user",
            name: user.0.to_string(),
        })
}

/// A user from the first six columns (`COLUMNS`).
fn read(row: &Row<'_>) -> Result<UserRecord, StoreError> {
    let email: String = row.get(1)?;
    let name: String = row.get(2)?;
    Ok(UserRecord {
        id: UserId(row.get(0)?),
        email: Email::parse(&email).map_err(corrupt)?,
        name: DisplayName::parse(&name).map_err(corrupt)?,
        password_hash: row.get(3)?,
        created_at: Timestamp(row.get(4)?),
        session_generation: row.get(5)?,
    })
}

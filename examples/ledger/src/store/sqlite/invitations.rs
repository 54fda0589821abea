//! Members' roles and invitations on SQLite: change a member's role, remove a member (both
//! refuse to leave a tenant without an owner), create an invitation, find one by its secret's
//! hash, accept one (single use, before its expiry; the membership is added in the same
//! transaction), cancel one (it expires now), list a tenant's. Every write appends its audit record in the same transaction.
//!
//! Only the secret's SHA-256 is stored (hex, as for API tokens); minting the secret and the
//! link is the caller's (`crate::service::create_invitation`). Not here: who may invite (the
//! web app checks `Role::can_manage_users`). Tests: `store/invitation_tests.rs`.

use super::audit::{self, Stamp};
use super::tokens::hex;
use super::tx::Tx;
use super::users::{self, membership};
use super::{corrupt, require_tenant};
use crate::domain::audit::{Action, Json};
use crate::domain::token::TokenHash;
use crate::domain::{Email, EntryError, Role, TenantId, TenantSlug, Timestamp, UserId};
use crate::store::{InvitationId, InvitationRecord, Membership, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "i.id, i.tenant_id, t.slug, i.role, i.email, i.created_at, i.expires_at, \
                       i.accepted_at";

fn not_a_member(user: UserId) -> StoreError {
    StoreError::NotFound {
        what: "member",
        name: user.to_string(),
    }
}

fn owners(connection: &Connection, tenant: TenantId) -> Result<i64, StoreError> {
    Ok(connection
        .prepare_cached("SELECT COUNT(*) FROM memberships WHERE tenant_id = ?1 AND role = 'owner'")?
        .query_row([tenant.0], |row| row.get(0))?)
}

/// Refuses a change that would take the tenant's last owner away.
fn keep_an_owner(
    connection: &Connection,
    tenant: TenantId,
    current: Role,
    what: &str,
) -> Result<(), StoreError> {
    if current == Role::Owner && owners(connection, tenant)? <= 1 {
        return Err(StoreError::Refused(EntryError::invalid(
            "role",
            &format!("the last owner cannot be {what}: make someone else an owner first"),
        )));
    }
    Ok(())
}

pub(super) fn set_role(
    connection: &Tx<'_>,
    tenant: TenantId,
    user: UserId,
    role: Role,
    stamp: Stamp<'_>,
) -> Result<(), StoreError> {
    require_tenant(connection, tenant)?;
    let current = membership(connection, tenant, user)?.ok_or_else(|| not_a_member(user))?;
    if current == role {
        return Ok(());
    }
    if role != Role::Owner {
        keep_an_owner(connection, tenant, current, "demoted")?;
    }
    connection
        .prepare_cached("UPDATE memberships SET role = ?3 WHERE tenant_id = ?1 AND user_id = ?2")?
        .execute(params![tenant.0, user.0, role.as_str()])?;
    let details = Json::object([
        ("user", Json::Int(user.0)),
        ("role", Json::text(role.as_str())),
        ("was", Json::text(current.as_str())),
    ]);
    audit::append(connection, tenant, stamp, Action::MemberRoleSet, &details)
}

pub(super) fn remove_member(
    connection: &Tx<'_>,
    tenant: TenantId,
    user: UserId,
    stamp: Stamp<'_>,
) -> Result<(), StoreError> {
    require_tenant(connection, tenant)?;
    let current = membership(connection, tenant, user)?.ok_or_else(|| not_a_member(user))?;
    keep_an_owner(connection, tenant, current, "removed")?;
    connection
        .prepare_cached("DELETE FROM memberships WHERE tenant_id = ?1 AND user_id = ?2")?
        .execute(params![tenant.0, user.0])?;
    let details = Json::object([
        ("user", Json::Int(user.0)),
        ("role", Json::text(current.as_str())),
    ]);
    audit::append(connection, tenant, stamp, Action::MemberRemoved, &details)
}

/// What `create` stores besides the tenant.
pub(super) struct NewInvitation<'a> {
    pub hash: &'a TokenHash,
    pub role: Role,
    pub email: Option<&'a Email>,
    pub expires_at: Timestamp,
    pub now: Timestamp,
}

pub(super) fn create(
    connection: &Tx<'_>,
    tenant: TenantId,
    new: &NewInvitation<'_>,
    stamp: Stamp<'_>,
) -> Result<InvitationId, StoreError> {
    require_tenant(connection, tenant)?;
    connection
        .prepare_cached(
            "INSERT INTO invitations (tenant_id, secret_hash, role, email, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            tenant.0,
            hex(new.hash),
            new.role.as_str(),
            new.email.map(Email::as_str),
            new.now.0,
            new.expires_at.0
        ])?;
    let id = InvitationId(connection.last_insert_rowid());
    let details = Json::object([
        ("id", Json::Int(id.0)),
        ("role", Json::text(new.role.as_str())),
        ("expires_at", Json::Int(new.expires_at.0)),
        ("email", new.email.map_or(Json::Null, Json::text)),
    ]);
    audit::append(
        connection,
        tenant,
        stamp,
        Action::InvitationCreated,
        &details,
    )?;
    Ok(id)
}

pub(super) fn find_by_hash(
    connection: &Connection,
    hash: &TokenHash,
) -> Result<Option<InvitationRecord>, StoreError> {
    let row = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM invitations i JOIN tenants t ON t.id = i.tenant_id
             WHERE i.secret_hash = ?1"
        ))?
        .query_row([hex(hash)], |row| Ok(read(row)))
        .optional()?;
    row.transpose()
}

pub(super) fn find(
    connection: &Connection,
    id: InvitationId,
) -> Result<Option<InvitationRecord>, StoreError> {
    let row = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM invitations i JOIN tenants t ON t.id = i.tenant_id
             WHERE i.id = ?1"
        ))?
        .query_row([id.0], |row| Ok(read(row)))
        .optional()?;
    row.transpose()
}

pub(super) fn accept(
    connection: &Tx<'_>,
    id: InvitationId,
    user: UserId,
    now: Timestamp,
    stamp: Stamp<'_>,
) -> Result<Membership, StoreError> {
    let invitation = find(connection, id)?.ok_or_else(|| StoreError::NotFound {
        what: "invitation",
        name: id.0.to_string(),
    })?;
    if invitation.accepted_at.is_some() {
        return Err(StoreError::Refused(EntryError::invalid(
            "invitation",
            "this invitation has been used already",
        )));
    }
    if invitation.expires_at <= now {
        return Err(StoreError::Refused(EntryError::invalid(
            "invitation",
            "this invitation has expired",
        )));
    }
    users::add_member(connection, invitation.tenant, user, invitation.role, stamp)?;
    connection
        .prepare_cached(
            "UPDATE invitations SET accepted_at = ?3, accepted_by = ?4
             WHERE tenant_id = ?1 AND id = ?2 AND accepted_at IS NULL",
        )?
        .execute(params![invitation.tenant.0, id.0, now.0, user.0])?;
    let details = Json::object([("id", Json::Int(id.0)), ("user", Json::Int(user.0))]);
    audit::append(
        connection,
        invitation.tenant,
        stamp,
        Action::InvitationAccepted,
        &details,
    )?;
    Ok(Membership {
        tenant: invitation.tenant,
        slug: invitation.slug,
        role: invitation.role,
    })
}

pub(super) fn cancel(
    connection: &Tx<'_>,
    tenant: TenantId,
    id: InvitationId,
    now: Timestamp,
    stamp: Stamp<'_>,
) -> Result<(), StoreError> {
    let invitation = match find(connection, id)? {
        Some(invitation) if invitation.tenant == tenant => invitation,
        _ => {
            return Err(StoreError::NotFound {
                what: "invitation",
                name: id.0.to_string(),
            });
        }
    };
    if invitation.accepted_at.is_some() || invitation.expires_at <= now {
        return Err(StoreError::Refused(EntryError::invalid(
            "invitation",
            "this invitation has been used or has expired already",
        )));
    }
    connection
        .prepare_cached("UPDATE invitations SET expires_at = ?3 WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![tenant.0, id.0, now.0])?;
    let details = Json::object([("id", Json::Int(id.0))]);
    audit::append(
        connection,
        tenant,
        stamp,
        Action::InvitationCancelled,
        &details,
    )
}

pub(super) fn list(
    connection: &Connection,
    tenant: TenantId,
) -> Result<Vec<InvitationRecord>, StoreError> {
    require_tenant(connection, tenant)?;
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM invitations i JOIN tenants t ON t.id = i.tenant_id
         WHERE i.tenant_id = ?1 ORDER BY i.id"
    ))?;
    let rows = statement.query_map([tenant.0], |row| Ok(read(row)))?;
    let mut invitations = Vec::new();
    for row in rows {
        invitations.push(row??);
    }
    Ok(invitations)
}

fn read(row: &Row<'_>) -> Result<InvitationRecord, StoreError> {
    let slug: String = row.get(2)?;
    let role: String = row.get(3)?;
    let email: Option<String> = row.get(4)?;
    Ok(InvitationRecord {
        id: InvitationId(row.get(0)?),
        tenant: TenantId(row.get(1)?),
        slug: TenantSlug::new(&slug).map_err(corrupt)?,
        role: Role::parse(&role).map_err(corrupt)?,
        email: email
            .map(|email| Email::parse(&email).map_err(corrupt))
            .transpose()?,
        created_at: Timestamp(row.get(5)?),
        expires_at: Timestamp(row.get(6)?),
        accepted_at: row.get::<_, Option<i64>>(7)?.map(Timestamp),
    })
}

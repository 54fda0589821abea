//! `Store::write_group` on SQLite: one `IMMEDIATE` transaction for the whole group, a
//! savepoint per write that could be refused half-way (a refused write undoes only its own
//! rows; entries are checked before they are written and need none), one commit, so the group
//! pays for one `fsync` (`synchronous=FULL`). A backend failure (I/O, a full disk, a corrupt
//! row) fails the whole group and writes nothing: after some I/O errors SQLite has already
//! rolled the transaction back, so no later write of the group may run outside it.

use super::audit::Stamp;
use super::reconcile;
use super::tx::Tx;
use super::write::{self, Savepoint};
use super::{
    SqliteStore, close_account, insert_account, insert_commodity, invitations, require_tenant,
    sign_up, tokens,
};
use crate::store::group::not_found;
use crate::store::{StoreError, WriteOp, WriteOutcome, WriteRequest};
use rusqlite::TransactionBehavior;

impl SqliteStore {
    pub(super) fn write_group_in_one_transaction(
        &mut self,
        requests: &[WriteRequest],
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        let clock = self.audit.clock;
        let outer = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let transaction = Tx::new(&outer);
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            // Entries refuse before they write (`write::insert_entry`), and a linked batch has
            // a savepoint of its own: only the other writes need one here.
            let savepoint = match request.op {
                WriteOp::CreateEntries { .. } => None,
                _ => Some(Savepoint::begin(&transaction)?),
            };
            let stamp = Stamp {
                actor: &request.actor,
                at: clock(),
            };
            let result = run(&transaction, request, stamp);
            match result {
                Ok(outcome) => {
                    if let Some(savepoint) = savepoint {
                        savepoint.release()?;
                    }
                    results.push(Ok(outcome));
                }
                Err(error @ (StoreError::Backend(_) | StoreError::Corrupt(_))) => {
                    return Err(error); // dropping `outer` rolls the group back
                }
                Err(refusal) => {
                    if let Some(savepoint) = savepoint {
                        savepoint.roll_back()?;
                    }
                    results.push(Err(refusal));
                }
            }
        }
        transaction.flush()?;
        drop(transaction);
        outer.commit()?;
        Ok(results)
    }
}

fn run(
    connection: &Tx<'_>,
    request: &WriteRequest,
    stamp: Stamp<'_>,
) -> Result<WriteOutcome, StoreError> {
    // Every write but a sign-up (which creates its tenant) and ending a user's sessions (users
    // are global) is for the request's tenant.
    let tenant = || request.tenant.ok_or(StoreError::UnknownTenant);
    match &request.op {
        WriteOp::CreateCommodity(commodity) => {
            require_tenant(connection, tenant()?)?;
            insert_commodity(connection, tenant()?, commodity, stamp).map(|()| WriteOutcome::Done)
        }
        WriteOp::CreateAccount(account) => {
            require_tenant(connection, tenant()?)?;
            insert_account(connection, tenant()?, account, stamp).map(|()| WriteOutcome::Done)
        }
        WriteOp::CloseAccount { name, date } => {
            close_account(connection, tenant()?, name, *date, stamp).map(|()| WriteOutcome::Done)
        }
        WriteOp::RenameAccount { from, to } => {
            super::chart::rename_account(connection, tenant()?, from, to, stamp)
                .map(WriteOutcome::Renamed)
        }
        WriteOp::CreateEntries { requests, mode } => {
            write::create_entries(connection, tenant()?, requests, *mode, stamp)
                .map(WriteOutcome::Entries)
        }
        WriteOp::ReverseEntry { id, date } => {
            write::reverse_entry(connection, tenant()?, *id, *date, stamp).map(WriteOutcome::Entry)
        }
        WriteOp::PostPending {
            id,
            amounts,
            date,
            now,
        } => write::post_pending(connection, tenant()?, *id, amounts, *date, *now, stamp)
            .map(WriteOutcome::Entry),
        WriteOp::VoidPending { id, now } => {
            write::void_pending(connection, tenant()?, *id, *now, stamp)
                .map(|()| WriteOutcome::Done)
        }
        WriteOp::ExpirePending { now } => {
            write::expire_pending(connection, tenant()?, *now, stamp).map(WriteOutcome::Expired)
        }
        WriteOp::StartReconciliation {
            account,
            commodity,
            statement_date,
            statement_balance,
            now: _,
        } => reconcile::start(
            connection,
            tenant()?,
            account,
            commodity,
            *statement_date,
            *statement_balance,
            stamp,
        )
        .map(WriteOutcome::Reconciliation),
        WriteOp::SetCleared { id, entry, cleared } => {
            reconcile::set_cleared(connection, tenant()?, *id, *entry, *cleared, stamp)
                .map(|()| WriteOutcome::Done)
        }
        WriteOp::FinishReconciliation { id, now: _ } => {
            reconcile::finish(connection, tenant()?, *id, stamp).map(|()| WriteOutcome::Done)
        }
        WriteOp::SignUp {
            slug,
            email,
            name,
            password_hash,
            now,
        } => sign_up(connection, slug, email, name, password_hash, *now, stamp).map(
            |(created, user)| WriteOutcome::SignedUp {
                tenant: created,
                user,
            },
        ),
        WriteOp::EndSessions { user } => {
            super::users::end_sessions(connection, *user).map(WriteOutcome::SessionsEnded)
        }
        WriteOp::SetRole { user, role } => {
            invitations::set_role(connection, tenant()?, *user, *role, stamp)
                .map(|()| WriteOutcome::Done)
        }
        WriteOp::RemoveMember { user } => {
            invitations::remove_member(connection, tenant()?, *user, stamp)
                .map(|()| WriteOutcome::Done)
        }
        WriteOp::CreateInvitation {
            hash,
            role,
            email,
            expires_at,
            now,
        } => {
            let new = invitations::NewInvitation {
                hash,
                role: *role,
                email: email.as_ref(),
                expires_at: *expires_at,
                now: *now,
            };
            invitations::create(connection, tenant()?, &new, stamp).map(WriteOutcome::Invitation)
        }
        WriteOp::AcceptInvitation { id, user, now } => {
            match invitations::find(connection, *id)? {
                Some(invitation) if tenant().ok() == Some(invitation.tenant) => {}
                _ => return Err(not_found("invitation", id.0)),
            }
            invitations::accept(connection, *id, *user, *now, stamp).map(WriteOutcome::Joined)
        }
        WriteOp::CancelInvitation { id, now } => {
            invitations::cancel(connection, tenant()?, *id, *now, stamp)
                .map(|()| WriteOutcome::Done)
        }
        WriteOp::CreateToken { scope, hash, now } => {
            tokens::create(connection, tenant()?, *scope, hash, *now, stamp)
                .map(WriteOutcome::Token)
        }
        WriteOp::ImportBook(book) => import_book(connection, tenant()?, book, stamp),
        WriteOp::RevokeToken { id, now } => {
            match tokens::find(connection, *id)? {
                Some(record) if tenant().ok() == Some(record.tenant) => {}
                _ => return Err(not_found("token", id.0)),
            }
            tokens::revoke(connection, *id, *now, stamp).map(|_| WriteOutcome::Done)
        }
    }
}

/// An import in the group's transaction: commodities, accounts, prices, then entries; a
/// refused entry rolls the whole import back (its own savepoint) and is answered as
/// `ImportRefused`, the other writes of the group unaffected.
fn import_book(
    connection: &Tx<'_>,
    tenant: crate::domain::TenantId,
    book: &crate::store::BookImport,
    stamp: Stamp<'_>,
) -> Result<WriteOutcome, StoreError> {
    require_tenant(connection, tenant)?;
    let savepoint = Savepoint::begin(connection)?;
    for commodity in &book.commodities {
        insert_commodity(connection, tenant, commodity, stamp)?;
    }
    for account in &book.accounts {
        insert_account(connection, tenant, account, stamp)?;
    }
    for price in &book.prices {
        super::prices::set_price(connection, tenant, price, stamp)?;
    }
    match write::import_entries(connection, tenant, &book.entries, stamp)? {
        Ok(ids) => {
            savepoint.release()?;
            Ok(WriteOutcome::Imported(ids))
        }
        Err((index, error)) => {
            savepoint.roll_back()?;
            Ok(WriteOutcome::ImportRefused { index, error })
        }
    }
}

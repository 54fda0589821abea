//! What the group-commit writer (`crate::writer`) hands the store: a list of writes, each with
//! its tenant and actor, to run in one transaction with a result each (`Store::write_group`).
//!
//! Each write runs in its own savepoint, so a refused write undoes only itself; the group
//! commits once, so many concurrent requests share one `fsync`. The default `write_group`
//! (any `Store`) runs each write in a transaction of its own: correct, only slower. Not here:
//! queueing and batching (that is `kiln::batch`, driven by `crate::writer`).

use super::{
    BatchResults, BookImport, EntryRequest, InvitationId, Membership, ReconciliationId, StoreError,
};
use crate::domain::token::{Scope, TokenHash, TokenId};
use crate::domain::{
    Account, AccountName, Actor, Amount, BatchMode, Commodity, CommodityCode, Date, DisplayName,
    Email, EntryError, EntryId, PostAmounts, Role, TenantId, TenantSlug, Timestamp, UserId,
};

/// One write of a group: who asks, for which tenant, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteRequest {
    /// The tenant the write is for; `None` only for a sign-up, which creates it (any other
    /// write without one is refused as `UnknownTenant`).
    pub tenant: Option<TenantId>,
    /// Recorded in the audit log with the write.
    pub actor: Actor,
    pub op: WriteOp,
}

/// A write the writer can group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    CreateCommodity(Commodity),
    CreateAccount(Account),
    CloseAccount {
        name: AccountName,
        date: Date,
    },
    /// `Store::rename_account`: `WriteOutcome::Renamed` with how many accounts it renamed.
    RenameAccount {
        from: AccountName,
        to: AccountName,
    },
    /// A batch (or a single entry: a batch of one): `WriteOutcome::Entries`.
    CreateEntries {
        requests: Vec<EntryRequest>,
        mode: BatchMode,
    },
    /// `WriteOutcome::Entry`: the reversing entry.
    ReverseEntry {
        id: EntryId,
        date: Date,
    },
    /// `WriteOutcome::Entry`: the posting entry.
    PostPending {
        id: EntryId,
        amounts: PostAmounts,
        date: Date,
        now: Timestamp,
    },
    VoidPending {
        id: EntryId,
        now: Timestamp,
    },
    /// `WriteOutcome::Expired`: every pending entry of the tenant whose time has come.
    ExpirePending {
        now: Timestamp,
    },
    /// `WriteOutcome::Reconciliation`: opens a reconciliation.
    StartReconciliation {
        account: AccountName,
        commodity: CommodityCode,
        statement_date: Date,
        statement_balance: Amount,
        now: Timestamp,
    },
    SetCleared {
        id: ReconciliationId,
        entry: EntryId,
        cleared: bool,
    },
    FinishReconciliation {
        id: ReconciliationId,
        now: Timestamp,
    },
    /// `WriteOutcome::SignedUp`: a new tenant, its owner and the membership, together (the
    /// request names no tenant: this creates it).
    SignUp {
        slug: TenantSlug,
        email: Email,
        name: DisplayName,
        password_hash: String,
        now: Timestamp,
    },
    /// `WriteOutcome::SessionsEnded`: `Store::end_sessions` (a user is global: the request
    /// needs no tenant).
    EndSessions {
        user: UserId,
    },
    /// `Store::set_role` in the request's tenant.
    SetRole {
        user: UserId,
        role: Role,
    },
    /// `Store::remove_member` in the request's tenant.
    RemoveMember {
        user: UserId,
    },
    /// `WriteOutcome::Invitation`: `Store::create_invitation` in the request's tenant.
    CreateInvitation {
        hash: TokenHash,
        role: Role,
        email: Option<Email>,
        expires_at: Timestamp,
        now: Timestamp,
    },
    /// `WriteOutcome::Joined`: `Store::accept_invitation`. The invitation names its tenant;
    /// one of another tenant than the request's is `NotFound`.
    AcceptInvitation {
        id: InvitationId,
        user: UserId,
        now: Timestamp,
    },
    /// `Store::cancel_invitation` in the request's tenant.
    CancelInvitation {
        id: InvitationId,
        now: Timestamp,
    },
    /// `WriteOutcome::Token`: `Store::create_token` in the request's tenant.
    CreateToken {
        scope: Scope,
        hash: TokenHash,
        now: Timestamp,
    },
    /// `Store::import_book` in the request's tenant (a journal or bank CSV from the web import
    /// page): `WriteOutcome::Imported`, or `WriteOutcome::ImportRefused` with nothing written.
    ImportBook(BookImport),
    /// `Store::revoke_token`, for a token of the request's tenant only (another tenant's is
    /// `NotFound`).
    RevokeToken {
        id: TokenId,
        now: Timestamp,
    },
}

impl WriteOp {
    /// Entries this write may create: what it weighs in a group (see `crate::writer`).
    pub fn weight(&self) -> usize {
        match self {
            WriteOp::CreateEntries { requests, .. } => requests.len().max(1),
            WriteOp::ImportBook(book) => book.entries.len().max(1),
            _ => 1,
        }
    }
}

/// What a write came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// An account created or closed, a pending entry voided.
    Done,
    /// A batch's per-entry results.
    Entries(BatchResults),
    /// The entry a reversal or a pending post created.
    Entry(EntryId),
    /// The pending entries that expired.
    Expired(Vec<EntryId>),
    /// The reconciliation opened.
    Reconciliation(ReconciliationId),
    /// The tenant and the user a sign-up created.
    SignedUp { tenant: TenantId, user: UserId },
    /// The invitation created.
    Invitation(InvitationId),
    /// The membership an accepted invitation gave.
    Joined(Membership),
    /// The token created.
    Token(TokenId),
    /// The user's new session generation.
    SessionsEnded(i64),
    /// How many accounts a rename renamed (the account and those under it).
    Renamed(usize),
    /// The entries an import wrote, in the book's order.
    Imported(Vec<EntryId>),
    /// The store refused the import's entry at `index` (of `BookImport::entries`); nothing of
    /// the import was written.
    ImportRefused { index: usize, error: EntryError },
}

/// Runs one write through the `Store`'s own methods (each its own transaction): the default
/// `Store::write_group`, and the per-request baseline of `ledger bench`.
pub(super) fn run_alone<S: super::Store + ?Sized>(
    store: &mut S,
    request: &WriteRequest,
) -> Result<WriteOutcome, StoreError> {
    // Every write but a sign-up (which creates its tenant) and ending a user's sessions (users
    // are global) is for the request's tenant.
    let tenant = || request.tenant.ok_or(StoreError::UnknownTenant);
    match &request.op {
        WriteOp::CreateCommodity(commodity) => store
            .create_commodity(tenant()?, commodity)
            .map(|()| WriteOutcome::Done),
        WriteOp::CreateAccount(account) => store
            .create_account(tenant()?, account)
            .map(|()| WriteOutcome::Done),
        WriteOp::CloseAccount { name, date } => store
            .close_account(tenant()?, name, *date)
            .map(|()| WriteOutcome::Done),
        WriteOp::RenameAccount { from, to } => store
            .rename_account(tenant()?, from, to)
            .map(WriteOutcome::Renamed),
        WriteOp::CreateEntries { requests, mode } => store
            .create_entries(tenant()?, requests, *mode)
            .map(WriteOutcome::Entries),
        WriteOp::ReverseEntry { id, date } => store
            .reverse_entry(tenant()?, *id, *date)
            .map(WriteOutcome::Entry),
        WriteOp::PostPending {
            id,
            amounts,
            date,
            now,
        } => store
            .post_pending(tenant()?, *id, amounts, *date, *now)
            .map(WriteOutcome::Entry),
        WriteOp::VoidPending { id, now } => store
            .void_pending(tenant()?, *id, *now)
            .map(|()| WriteOutcome::Done),
        WriteOp::ExpirePending { now } => store
            .expire_pending(tenant()?, *now)
            .map(WriteOutcome::Expired),
        WriteOp::StartReconciliation {
            account,
            commodity,
            statement_date,
            statement_balance,
            now,
        } => store
            .start_reconciliation(
                tenant()?,
                account,
                commodity,
                *statement_date,
                *statement_balance,
                *now,
            )
            .map(WriteOutcome::Reconciliation),
        WriteOp::SetCleared { id, entry, cleared } => store
            .set_cleared(tenant()?, *id, *entry, *cleared)
            .map(|()| WriteOutcome::Done),
        WriteOp::FinishReconciliation { id, now } => store
            .finish_reconciliation(tenant()?, *id, *now)
            .map(|()| WriteOutcome::Done),
        WriteOp::SignUp {
            slug,
            email,
            name,
            password_hash,
            now,
        } => store
            .sign_up(slug, email, name, password_hash, *now)
            .map(|(created, user)| WriteOutcome::SignedUp {
                tenant: created,
                user,
            }),
        WriteOp::EndSessions { user } => store.end_sessions(*user).map(WriteOutcome::SessionsEnded),
        WriteOp::SetRole { user, role } => store
            .set_role(tenant()?, *user, *role)
            .map(|()| WriteOutcome::Done),
        WriteOp::RemoveMember { user } => store
            .remove_member(tenant()?, *user)
            .map(|()| WriteOutcome::Done),
        WriteOp::CreateInvitation {
            hash,
            role,
            email,
            expires_at,
            now,
        } => store
            .create_invitation(tenant()?, hash, *role, email.as_ref(), *expires_at, *now)
            .map(WriteOutcome::Invitation),
        WriteOp::AcceptInvitation { id, user, now } => {
            let invitation = store
                .invitations(tenant()?)?
                .into_iter()
                .find(|invitation| invitation.id == *id);
            if invitation.is_none() {
                return Err(not_found("invitation", id.0));
            }
            store
                .accept_invitation(*id, *user, *now)
                .map(WriteOutcome::Joined)
        }
        WriteOp::CancelInvitation { id, now } => store
            .cancel_invitation(tenant()?, *id, *now)
            .map(|()| WriteOutcome::Done),
        WriteOp::CreateToken { scope, hash, now } => store
            .create_token(tenant()?, *scope, hash, *now)
            .map(WriteOutcome::Token),
        WriteOp::ImportBook(book) => match store.import_book(tenant()?, book)? {
            Ok(ids) => Ok(WriteOutcome::Imported(ids)),
            Err((index, error)) => Ok(WriteOutcome::ImportRefused { index, error }),
        },
        WriteOp::RevokeToken { id, now } => {
            match store.token(*id)? {
                Some(record) if tenant().ok() == Some(record.tenant) => {}
                _ => return Err(not_found("token", id.0)),
            }
            store.revoke_token(*id, *now).map(|_| WriteOutcome::Done)
        }
    }
}

/// `NotFound` for a row of another tenant than the request's, as for one that does not exist.
pub(super) fn not_found(what: &'static str, id: i64) -> super::StoreError {
    super::StoreError::NotFound {
        what,
        name: id.to_string(),
    }
}

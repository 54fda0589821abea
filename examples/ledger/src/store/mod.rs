//! Storage behind one trait, `Store`, so the whole store test suite (`tests.rs`) can run
//! against every implementation: `SqliteStore` now, PostgreSQL later.
//!
//! Every method takes the tenant first, and the implementation scopes every query by it: no
//! method can return or change another tenant's rows, whatever ids or names it is given. A
//! write validates with `crate::domain` and checks balance constraints inside its own
//! transaction; a batch is one transaction. Every write appends its hash-chained audit record
//! (`domain::audit`) in the same transaction, as the actor last given to `set_actor`.
//! `check` verifies balances, trial balances and the chain (`check.rs`). Users are the one
//! thing not per tenant: a user is global and belongs to tenants through memberships (tests:
//! `user_tests.rs`); roles, removals and invitations (single-use, by the hash of their secret)
//! are per tenant and audited (tests: `invitation_tests.rs`). The store does not authenticate, authorise or group commits (that is the
//! service and the writer); it keeps password hashes, never passwords.

#[cfg(test)]
mod audit_tests;
pub mod check;
#[cfg(test)]
mod filter_tests;
#[cfg(test)]
mod fixtures;
mod group;
#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod import_tests;
#[cfg(test)]
mod invitation_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod price_tests;
#[cfg(test)]
mod reconcile_tests;
#[cfg(test)]
mod register_tests;
mod sqlite;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod token_tests;
#[cfg(test)]
mod user_tests;

pub use check::{Check, CheckReport, Problem};
pub use group::{WriteOp, WriteOutcome, WriteRequest};
pub use sqlite::{MIGRATIONS, Settings, SqliteStore, system_clock};

use crate::domain::token::{Scope, TokenHash, TokenId};
use crate::domain::{
    Account, AccountName, Actor, Amount, AuditRecord, BalanceConstraint, BalanceState, BatchMode,
    Commodity, CommodityCode, Date, DisplayName, Email, Entry, EntryError, EntryId, IdempotencyKey,
    NewEntry, PendingStatus, PostAmounts, Price, Role, TenantId, TenantSlug, Timestamp, UserId,
};
use std::collections::BTreeSet;
use std::fmt;

/// One entry of a batch, with its optional idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRequest {
    pub key: Option<IdempotencyKey>,
    pub entry: NewEntry,
}

/// An entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    pub id: EntryId,
    pub entry: Entry,
    /// `None` for an entry that was never pending.
    pub status: Option<PendingStatus>,
    /// The entry that reversed this one, if any.
    pub reversed_by: Option<EntryId>,
}

/// Where a page of `Store::entries` resumes: after this entry, in journal order (date, then
/// id). Keyset paging: a page costs one index range scan, however deep into the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryCursor {
    pub date: Date,
    pub id: EntryId,
}

impl StoredEntry {
    /// The cursor that resumes after this entry.
    pub fn cursor(&self) -> EntryCursor {
        EntryCursor {
            date: self.entry.date,
            id: self.id,
        }
    }
}

/// Which entries `Store::entries_matching` lists: all of these that are set must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryFilter {
    /// On or after this day.
    pub from: Option<Date>,
    /// On or before this day.
    pub to: Option<Date>,
    /// With a posting to this account (exactly this one, not its sub-accounts).
    pub account: Option<AccountName>,
}

/// Which of an account's postings `Store::register` lists: all of these that are set must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegisterFilter {
    /// On or after this day.
    pub from: Option<Date>,
    /// On or before this day.
    pub to: Option<Date>,
    /// In the description or the payee, ignoring ASCII case.
    pub text: Option<String>,
    /// Entries with this tag.
    pub tag: Option<String>,
    /// The account's amount in the entry, ignoring its sign.
    pub amount: Option<AmountRange>,
}

/// A range of amounts in one commodity (minor units, compared without the sign).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmountRange {
    pub commodity: CommodityCode,
    pub min: Option<Amount>,
    pub max: Option<Amount>,
}

/// One line of an account's register: an entry, what it moved in the account in one
/// commodity, and the account's posted balance in that commodity after it (`None` for an
/// entry that is or was pending: it never moved the posted balance itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterRow {
    pub entry: StoredEntry,
    pub commodity: CommodityCode,
    pub amount: Amount,
    pub balance: Option<Amount>,
    /// Cleared on a finished reconciliation of this account and commodity.
    pub reconciled: bool,
}

/// A reconciliation's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReconciliationId(pub i64);

/// An account's statement being (or having been) reconciled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciliation {
    pub id: ReconciliationId,
    pub account: AccountName,
    pub commodity: CommodityCode,
    pub statement_date: Date,
    /// In the ledger's sign (debit-positive), minor units.
    pub statement_balance: Amount,
    pub started_at: Timestamp,
    /// `None` while open.
    pub finished_at: Option<Timestamp>,
}

/// What a reconciliation shows: the balance already reconciled, and the account's posted
/// entries up to the statement date not reconciled before, with whether each is ticked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconciliationState {
    pub reconciliation: Reconciliation,
    /// The sum of the account's entries cleared on finished reconciliations.
    pub reconciled: Amount,
    /// The sum of the entries ticked on this one.
    pub ticked: Amount,
    pub lines: Vec<ReconciliationLine>,
    /// Lines left out beyond `RECONCILE_LINES_MAX` (the oldest are shown).
    pub more: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconciliationLine {
    pub entry: EntryId,
    pub date: Date,
    pub description: String,
    /// The entry's net amount in the account and commodity.
    pub amount: Amount,
    pub cleared: bool,
}

impl ReconciliationState {
    /// Statement balance less (reconciled + ticked): zero when the statement is matched. `None`
    /// if the sum does not fit.
    pub fn difference(&self) -> Option<Amount> {
        let sum = self.reconciled.checked_add(self.ticked).ok()?;
        self.reconciliation.statement_balance.checked_sub(sum).ok()
    }
}

/// One line of a trial balance: an account's posted balance in one commodity at a date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceLine {
    pub account: AccountName,
    pub commodity: CommodityCode,
    pub balance: Amount,
}

/// What an import writes in one transaction: commodities and accounts the tenant does not have
/// yet (one it has is `AlreadyExists`), prices (each as `Store::set_price`: a later one for the
/// same commodity, quote and date replaces an earlier one), then entries in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BookImport {
    pub commodities: Vec<Commodity>,
    pub accounts: Vec<Account>,
    pub prices: Vec<Price>,
    pub entries: Vec<NewEntry>,
}

/// Descriptions and payees used lately (`Store::recent_texts`), newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecentTexts {
    pub descriptions: Vec<String>,
    pub payees: Vec<String>,
}

/// An API token as stored: never the secret, only its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: TokenId,
    pub tenant: TenantId,
    pub scope: Scope,
    pub hash: TokenHash,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A web app user as stored. `Debug` leaves the password hash out, so a logged record never
/// carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub email: Email,
    pub name: DisplayName,
    /// The Argon2id PHC string (`service::password`), never the password.
    pub password_hash: String,
    pub created_at: Timestamp,
    /// Raised by `Store::end_sessions`: a web session made in an older generation is over.
    pub session_generation: i64,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// One tenant a user belongs to, and the user's role there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub tenant: TenantId,
    pub slug: TenantSlug,
    pub role: Role,
}

/// An invitation's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InvitationId(pub i64);

/// An invitation to a tenant as stored: never the link's secret, only its hash (which is not
/// read back either: the link finds the row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationRecord {
    pub id: InvitationId,
    pub tenant: TenantId,
    pub slug: TenantSlug,
    /// The role the person who accepts it gets.
    pub role: Role,
    /// Whom it was meant for, as a note for the owner (not checked at acceptance).
    pub email: Option<Email>,
    pub created_at: Timestamp,
    /// From this time on it can no longer be accepted.
    pub expires_at: Timestamp,
    /// Set once, when it is accepted: it is single use.
    pub accepted_at: Option<Timestamp>,
}

/// The result of each entry of a batch.
pub type BatchResults = Vec<Result<EntryId, EntryError>>;

/// Why a store call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The ledger refused the write (the reason has a stable code).
    Refused(EntryError),
    /// No tenant of this id or slug.
    UnknownTenant,
    /// No such account, commodity or entry in this tenant.
    NotFound { what: &'static str, name: String },
    /// An account, commodity or tenant of this name exists already.
    AlreadyExists { what: &'static str, name: String },
    /// The database was written by a newer binary (its schema version is beyond ours).
    DatabaseTooNew { database: i64, binary: i64 },
    /// The database holds something this binary cannot read (a corrupt or hand-edited row).
    Corrupt(String),
    /// The database itself failed (I/O, locking, a full disk).
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// A stable code, as for `EntryError`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Refused(error) => error.code(),
            StoreError::UnknownTenant => "unknown_tenant",
            StoreError::NotFound { .. } => "not_found",
            StoreError::AlreadyExists { .. } => "already_exists",
            StoreError::DatabaseTooNew { .. } => "database_too_new",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Backend(_) => "backend",
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Refused(error) => write!(f, "{error}"),
            StoreError::UnknownTenant => f.write_str("unknown_tenant: no such tenant"),
            StoreError::NotFound { what, name } => write!(f, "not_found: no {what} {name}"),
            StoreError::AlreadyExists { what, name } => write!(f, "already_exists: {what} {name}"),
            StoreError::DatabaseTooNew { database, binary } => write!(
                f,
                "database_too_new: the database has schema version {database}, this binary knows up to \
                 {binary}; use a newer binary"
            ),
            StoreError::Corrupt(detail) => write!(f, "corrupt: {detail}"),
            StoreError::Backend(_) => f.write_str("backend: the database failed"),
        }
    }
}

/// `Backend` keeps its cause as the source (its `Display` does not repeat it); the others say
/// everything in their `Display`.
impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Backend(error) => Some(error.as_ref()),
            _ => None,
        }
    }
}

impl From<EntryError> for StoreError {
    fn from(error: EntryError) -> StoreError {
        StoreError::Refused(error)
    }
}

/// The ledger's storage. Implementations keep every row with its tenant and scope every query
/// by the `tenant` argument.
pub trait Store {
    /// Creates a tenant.
    fn create_tenant(&mut self, slug: &TenantSlug) -> Result<TenantId, StoreError>;
    /// Every tenant of the database, by id (a short list: one per organisation).
    fn tenants(&mut self) -> Result<Vec<(TenantId, TenantSlug)>, StoreError>;
    /// The tenant of this slug, if any.
    fn tenant(&mut self, slug: &TenantSlug) -> Result<Option<TenantId>, StoreError>;

    /// Adds a commodity to a tenant.
    fn create_commodity(
        &mut self,
        tenant: TenantId,
        commodity: &Commodity,
    ) -> Result<(), StoreError>;
    /// A tenant's commodities, by code.
    fn commodities(&mut self, tenant: TenantId) -> Result<Vec<Commodity>, StoreError>;

    /// Adds an account (with its allowed commodities and constraints) to a tenant's chart.
    fn create_account(&mut self, tenant: TenantId, account: &Account) -> Result<(), StoreError>;
    /// One account, if the tenant has it.
    fn account(
        &mut self,
        tenant: TenantId,
        name: &AccountName,
    ) -> Result<Option<Account>, StoreError>;
    /// The tenant's chart, by name.
    fn accounts(&mut self, tenant: TenantId) -> Result<Vec<Account>, StoreError>;
    /// Closes an account after `date` (no posting may be dated later).
    fn close_account(
        &mut self,
        tenant: TenantId,
        name: &AccountName,
        date: Date,
    ) -> Result<(), StoreError>;
    /// Renames an account and every account under it (`domain::rename_plan`); returns how many
    /// accounts it renamed. Postings, balances and history stay with the accounts.
    fn rename_account(
        &mut self,
        tenant: TenantId,
        from: &AccountName,
        to: &AccountName,
    ) -> Result<usize, StoreError>;
    /// Sets (replaces) the constraint on an account's balance in one commodity.
    fn set_constraint(
        &mut self,
        tenant: TenantId,
        name: &AccountName,
        constraint: &BalanceConstraint,
    ) -> Result<(), StoreError>;

    /// Sets the price of `price.commodity` in `price.quote` on `price.date`, replacing the one
    /// the tenant had for that commodity, quote and date (both commodities must be the
    /// tenant's: `NotFound` otherwise; the same commodity twice is `Refused`). Audited as
    /// `price.set`, with the rate it replaced. Prices only value reports: no entry or balance
    /// changes.
    fn set_price(&mut self, tenant: TenantId, price: &Price) -> Result<(), StoreError>;
    /// The tenant's prices of `commodity` (as the commodity priced, any quote), or all of them,
    /// by date, then commodity, then quote. A chart-sized read like `commodities`: not paged.
    fn prices(
        &mut self,
        tenant: TenantId,
        commodity: Option<&CommodityCode>,
    ) -> Result<Vec<Price>, StoreError>;

    /// Writes a batch in one transaction: per-entry results (independent) or all or nothing
    /// (linked). A refused batch as a whole (empty, too large) is `Err(Refused)`.
    fn create_entries(
        &mut self,
        tenant: TenantId,
        requests: &[EntryRequest],
        mode: BatchMode,
    ) -> Result<BatchResults, StoreError>;
    /// Writes a whole import in one transaction, all or nothing: the new entries' ids, or the
    /// index of the first refused entry and why (and nothing written). Unlike a batch it has no
    /// size limit of its own: the caller bounds it (the import file's size).
    fn import_book(
        &mut self,
        tenant: TenantId,
        book: &BookImport,
    ) -> Result<Result<Vec<EntryId>, (usize, EntryError)>, StoreError>;
    /// Which of `values` the tenant's entries hold as metadata under `key` (a CSV import's
    /// fingerprints, `csv-id`). Returns only values asked about, so its size is bounded by the
    /// question, not by the book.
    fn existing_metadata(
        &mut self,
        tenant: TenantId,
        key: &str,
        values: &BTreeSet<String>,
    ) -> Result<BTreeSet<String>, StoreError>;
    /// Writes one entry.
    fn create_entry(
        &mut self,
        tenant: TenantId,
        request: &EntryRequest,
    ) -> Result<EntryId, StoreError> {
        let mut results = self.create_entries(
            tenant,
            std::slice::from_ref(request),
            BatchMode::Independent,
        )?;
        match results.pop() {
            Some(result) => result.map_err(StoreError::Refused),
            None => Err(StoreError::Corrupt(
                "a batch of one returned no result".into(),
            )),
        }
    }
    /// One entry, if the tenant has it.
    fn entry(&mut self, tenant: TenantId, id: EntryId) -> Result<Option<StoredEntry>, StoreError>;
    /// A page of the tenant's entries in journal order (date, then id), starting after
    /// `after` (from the first entry if `None`), at most `limit` of them and never more than
    /// `ENTRIES_PER_PAGE_MAX`. Every entry is listed, pending (reserving) ones included with
    /// their status. A reader walks the book page by page, passing the last entry's `cursor()`,
    /// so memory stays bounded by one page; an empty page is the end.
    fn entries(
        &mut self,
        tenant: TenantId,
        after: Option<EntryCursor>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError>;
    /// A page of an account's register in journal order (date, then entry id) after
    /// `after`, at most `limit` entries (never more than `ENTRIES_PER_PAGE_MAX`), each with the
    /// running balance. An unknown account is `NotFound`. Pages by index, however long the
    /// account's history; the running balance of a line is one seek in the per-day balances
    /// and one sum over its day.
    fn register(
        &mut self,
        tenant: TenantId,
        account: &AccountName,
        filter: &RegisterFilter,
        after: Option<EntryCursor>,
        limit: usize,
    ) -> Result<Vec<RegisterRow>, StoreError>;
    /// Opens a reconciliation of an account in one commodity against a statement (refused
    /// while another is open for the same account and commodity).
    fn start_reconciliation(
        &mut self,
        tenant: TenantId,
        account: &AccountName,
        commodity: &CommodityCode,
        statement_date: Date,
        statement_balance: Amount,
        now: Timestamp,
    ) -> Result<ReconciliationId, StoreError>;
    /// The tenant's reconciliations, newest first.
    fn reconciliations(&mut self, tenant: TenantId) -> Result<Vec<Reconciliation>, StoreError>;
    /// One reconciliation with its lines (`None` if the tenant has no such reconciliation).
    fn reconciliation(
        &mut self,
        tenant: TenantId,
        id: ReconciliationId,
    ) -> Result<Option<ReconciliationState>, StoreError>;
    /// Ticks (or unticks) an entry on an open reconciliation; the entry must be one of its
    /// lines.
    fn set_cleared(
        &mut self,
        tenant: TenantId,
        id: ReconciliationId,
        entry: EntryId,
        cleared: bool,
    ) -> Result<(), StoreError>;
    /// Finishes an open reconciliation whose difference is zero (checked in the same
    /// transaction); its ticked entries are reconciled from then on.
    fn finish_reconciliation(
        &mut self,
        tenant: TenantId,
        id: ReconciliationId,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// The tenant's latest entries, newest first (by date, then id), at most `limit` of them
    /// and never more than `ENTRIES_PER_PAGE_MAX`: what a dashboard lists.
    fn latest_entries(
        &mut self,
        tenant: TenantId,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError>;
    /// The distinct descriptions and payees of the tenant's newest entries (at most
    /// `ENTRIES_PER_PAGE_MAX` entries read), newest first, at most `SUGGESTIONS_MAX` of each:
    /// what the new-entry form suggests as it is typed.
    fn recent_texts(&mut self, tenant: TenantId) -> Result<RecentTexts, StoreError>;
    /// A page of the tenant's entries that match `filter`, as `entries` pages (an unknown
    /// account in the filter is `NotFound`).
    fn entries_matching(
        &mut self,
        tenant: TenantId,
        filter: &EntryFilter,
        after: Option<EntryCursor>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError>;
    /// Reverses an entry on `date` with a new, linked entry.
    fn reverse_entry(
        &mut self,
        tenant: TenantId,
        id: EntryId,
        date: Date,
    ) -> Result<EntryId, StoreError>;
    /// Posts a pending entry (fully or in part) on `date`; returns the posting entry.
    fn post_pending(
        &mut self,
        tenant: TenantId,
        id: EntryId,
        amounts: &PostAmounts,
        date: Date,
        now: Timestamp,
    ) -> Result<EntryId, StoreError>;
    /// Voids a pending entry.
    fn void_pending(
        &mut self,
        tenant: TenantId,
        id: EntryId,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Expires every pending entry of the tenant whose time has come; returns them.
    fn expire_pending(
        &mut self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<Vec<EntryId>, StoreError>;

    /// An account's posted balance in one commodity at the end of `date`.
    fn balance(
        &mut self,
        tenant: TenantId,
        name: &AccountName,
        commodity: &CommodityCode,
        date: Date,
    ) -> Result<Amount, StoreError>;
    /// Every account's posted balance per commodity at the end of `date` (nonzero or not), by
    /// account then commodity: the trial balance.
    fn balances(&mut self, tenant: TenantId, date: Date) -> Result<Vec<BalanceLine>, StoreError>;
    /// An account's current state in one commodity: posted over all dates, and reservations.
    fn balance_state(
        &mut self,
        tenant: TenantId,
        name: &AccountName,
        commodity: &CommodityCode,
    ) -> Result<BalanceState, StoreError>;

    /// Names who makes the writes that follow, until named again (a new store writes as
    /// `Actor::system()`). Store-level rather than an argument of every write: the actor is
    /// a property of the caller (a CLI run, a request's token), not of each call.
    fn set_actor(&mut self, actor: Actor);
    /// A tenant's audit records with a sequence number above `after`, in order, at most
    /// `limit` of them.
    fn audit_records(
        &mut self,
        tenant: TenantId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// A tenant's audit records with a sequence number below `before`, newest first, at most
    /// `limit` of them (never more than `ENTRIES_PER_PAGE_MAX`): a page of the log read
    /// backwards, by index.
    fn audit_records_before(
        &mut self,
        tenant: TenantId,
        before: i64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// The audit records that name an entry (its creation, its reversal or the entry it
    /// reverses, a pending entry's post, void or expiry, reconciliation ticks), oldest first,
    /// at most `AUDIT_RECORDS_PER_ENTRY_MAX`: the entry page's trail.
    fn entry_audit(
        &mut self,
        tenant: TenantId,
        entry: EntryId,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// Verifies one tenant (or all): balance tables against postings, trial balances zero per
    /// commodity, and the audit chain (the first broken record per tenant). Read-only.
    fn check(&mut self, tenant: Option<TenantId>) -> Result<crate::store::CheckReport, StoreError>;

    /// Stores a new API token (its hash) for a tenant; the id is part of the token's text.
    fn create_token(
        &mut self,
        tenant: TenantId,
        scope: Scope,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<TokenId, StoreError>;
    /// The token of this id, whatever its tenant: the one lookup not scoped by tenant, because
    /// it is how a request's tenant is found. The caller compares the hash (`TokenHash::matches`)
    /// and then works only in `record.tenant`.
    fn token(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError>;
    /// A tenant's tokens, revoked ones included, by id.
    fn tokens(&mut self, tenant: TenantId) -> Result<Vec<TokenRecord>, StoreError>;
    /// Revokes a token (from then on it authenticates nothing); returns its record. Revoking
    /// a revoked token keeps its first revocation time.
    fn revoke_token(&mut self, id: TokenId, now: Timestamp) -> Result<TokenRecord, StoreError>;

    /// Stores a new user (users are global: no tenant, no audit record; `add_member` is what
    /// is audited, in the tenant's chain). A taken email is `AlreadyExists { what: "user" }`.
    fn create_user(
        &mut self,
        email: &Email,
        name: &DisplayName,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<UserId, StoreError>;
    /// The user of this email, whatever their tenants: how a login finds its account.
    fn user_by_email(&mut self, email: &Email) -> Result<Option<UserRecord>, StoreError>;
    /// The user of this id (a session's user).
    fn user(&mut self, id: UserId) -> Result<Option<UserRecord>, StoreError>;
    /// Ends every web session of the user (raises `session_generation`); returns the new
    /// generation. `NotFound { what: "user" }` for an unknown user.
    fn end_sessions(&mut self, user: UserId) -> Result<i64, StoreError>;
    /// Makes a user a member of a tenant with `role`, audited as `member.added` in the tenant's
    /// chain. `UnknownTenant`, `NotFound { what: "user" }`, or `AlreadyExists { what: "member" }`
    /// if the user is a member already (whatever the role).
    fn add_member(&mut self, tenant: TenantId, user: UserId, role: Role) -> Result<(), StoreError>;
    /// The tenants a user belongs to, by slug (`NotFound` for an unknown user). A short list:
    /// not paged.
    fn memberships(&mut self, user: UserId) -> Result<Vec<Membership>, StoreError>;
    /// The user's role in the tenant; `None` if they are not a member (or either is unknown):
    /// the check every tenant page makes.
    fn membership(&mut self, tenant: TenantId, user: UserId) -> Result<Option<Role>, StoreError>;
    /// A tenant's members with their roles, by email (`UnknownTenant` for an unknown tenant).
    /// Only this tenant's members, whatever other tenants they belong to. Not paged: an
    /// organisation's staff.
    fn members(&mut self, tenant: TenantId) -> Result<Vec<(UserRecord, Role)>, StoreError>;
    /// Changes a member's role, audited as `member.role_set` (the same role again writes
    /// nothing). `NotFound { what: "member" }` for someone who is not a member; demoting the
    /// tenant's last owner is `Refused` (field `role`).
    fn set_role(&mut self, tenant: TenantId, user: UserId, role: Role) -> Result<(), StoreError>;
    /// Removes a member from a tenant, audited as `member.removed`. `NotFound { what: "member" }`
    /// for someone who is not a member; removing the last owner is `Refused` (field `role`).
    fn remove_member(&mut self, tenant: TenantId, user: UserId) -> Result<(), StoreError>;
    /// Stores an invitation to `tenant` with `role` (only the hash of its secret), audited as
    /// `invitation.created`. It can be accepted until `expires_at`, once.
    fn create_invitation(
        &mut self,
        tenant: TenantId,
        hash: &TokenHash,
        role: Role,
        email: Option<&Email>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<InvitationId, StoreError>;
    /// The invitation whose secret has this hash, whatever its tenant: like `token`, the one
    /// kind of lookup not scoped by tenant, because the link is how its tenant is found. The
    /// caller then works only in `record.tenant`.
    fn invitation_by_hash(
        &mut self,
        hash: &TokenHash,
    ) -> Result<Option<InvitationRecord>, StoreError>;
    /// Accepts an invitation for `user`: adds the membership (`member.added`) and marks the
    /// invitation used (`invitation.accepted`) in one transaction; returns the membership. An
    /// accepted or expired invitation is `Refused` (field `invitation`), a user who is a member
    /// already `AlreadyExists { what: "member" }`, an unknown id `NotFound`.
    fn accept_invitation(
        &mut self,
        id: InvitationId,
        user: UserId,
        now: Timestamp,
    ) -> Result<Membership, StoreError>;
    /// Cancels a pending invitation of the tenant: it expires at `now` (audited as
    /// `invitation.cancelled`). Another tenant's or an unknown id is `NotFound`; a used or
    /// expired one `Refused` (field `invitation`).
    fn cancel_invitation(
        &mut self,
        tenant: TenantId,
        id: InvitationId,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// A tenant's invitations, used and expired ones included, by id. Not paged: bounded by
    /// what its owners send.
    fn invitations(&mut self, tenant: TenantId) -> Result<Vec<InvitationRecord>, StoreError>;
    /// Signs up: creates the tenant, the user and the user's owner membership in one
    /// transaction, all or nothing (a taken slug is `AlreadyExists { what: "tenant" }`, a taken
    /// email `AlreadyExists { what: "user" }`, and either leaves nothing written). The tenant's
    /// chain starts `tenant.created`, `member.added`.
    fn sign_up(
        &mut self,
        slug: &TenantSlug,
        email: &Email,
        name: &DisplayName,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<(TenantId, UserId), StoreError>;

    /// Runs a group of writes, each with its own actor, and returns a result per write. The
    /// default runs each in its own transaction; an implementation that can should run the
    /// group in one transaction with a savepoint per write (`SqliteStore` does), so the group
    /// costs one durable commit. `Err` means nothing of the group was written.
    fn write_group(
        &mut self,
        requests: &[WriteRequest],
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            self.set_actor(request.actor.clone());
            results.push(group::run_alone(self, request));
        }
        self.set_actor(Actor::system());
        Ok(results)
    }
}

//! The ledger's domain: pure types and rules, no I/O, no clock, no database.
//!
//! Read in this order: `date`, `amount` (money in minor units), `account` (the chart),
//! `entry` (validation, reversal), `constraint` (balance bounds), `pending` (two-phase
//! entries), `price` (exchange rates, valuation for reports), `report` (statements),
//! `periods` and `period_report` (period-over-period report tables), `idempotency`, `batch`,
//! `audit` (the hash-chained log's rules) and `error` (every refusal with its stable code);
//! for the web app's accounts, `user` (emails, names, passwords, roles) and `throttle`
//! (failed logins per account and per IP, in bounded memory).
//! Each file carries its own unit tests. Storage is `crate::store`; nothing here knows it
//! exists.

pub mod account;
pub mod amount;
pub mod audit;
pub mod batch;
pub mod constraint;
pub mod date;
pub mod entry;
pub mod error;
pub mod idempotency;
pub mod pending;
pub mod period_report;
pub mod periods;
pub mod price;
pub mod report;
pub mod tenant;
pub mod throttle;
pub mod token;
pub mod user;

use serde::{Deserialize, Serialize};

pub use account::{Account, AccountName, AccountType, RenameError, rename_plan};
pub use amount::{Amount, Commodity, CommodityCode, Decimal};
pub use audit::{Action, Actor, AuditRecord};
pub use batch::BatchMode;
pub use constraint::{BalanceConstraint, BalanceState};
pub use date::{Date, Timestamp};
pub use entry::{Chart, Entry, EntryLink, MemoryChart, NewEntry, NewPosting, Posting};
pub use error::EntryError;
pub use idempotency::IdempotencyKey;
pub use pending::{PendingStatus, PendingTerms, PostAmounts};
pub use price::{Holding, Price, PriceError, PriceUsed, Rate, RateError, Valuation, value_at};
pub use tenant::TenantSlug;
pub use token::{Scope, TokenId};
pub use user::{DisplayName, Email, Role, UserId};

/// An entry's id, unique across the database (so it alone never reveals which tenant holds it:
/// every lookup is scoped by tenant as well).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(pub i64);

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A tenant's (an organisation's) id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub i64);

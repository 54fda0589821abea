//! Kiln's flagship example: a multi-tenant double-entry ledger. This crate is its engine so
//! far: `domain` (pure rules: money in minor units, the chart of accounts, balanced and
//! immutable entries, reversal, idempotency, balance constraints, two-phase entries, batches,
//! and the audit log's hash chain) and `store` (a `Store` trait and its SQLite
//! implementation, tenant-scoped throughout, with the audit log and `check`) and `interop`
//! (a tenant's books as a journal that hledger and ledger-cli read, and such journals
//! imported all or nothing). Around them: `statements` (balance sheet and income statement
//! read from a store; the arithmetic is the pure `domain::report`), `seed` (a deterministic
//! demo company's year of books) and `bench` (`ledger bench`: reads and imports timed against
//! hledger and ledger-cli).
//!
//! Not here yet: the JSON API, the web app, CSV import, the group-commit writer
//! (see issue 11 and `examples/ledger/README.md`).

pub mod bench;
pub mod domain;
pub mod interop;
pub mod limits;
pub mod seed;
pub mod statements;
pub mod store;

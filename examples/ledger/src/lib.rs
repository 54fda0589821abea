//! Kiln's flagship example: a multi-tenant double-entry ledger. This crate is its engine so
//! far: `domain` (pure rules: money in minor units, the chart of accounts, balanced and
//! immutable entries, reversal, idempotency, balance constraints, two-phase entries, batches,
//! and the audit log's hash chain) and `store` (a `Store` trait and its SQLite
//! implementation, tenant-scoped throughout, with the audit log and `check`) and `interop`
//! (a tenant's books as a journal that hledger and ledger-cli read, and such journals
//! imported all or nothing).
//!
//! Not here yet: the JSON API, the web app, CSV import, the group-commit writer
//! (see issue 11 and `examples/ledger/README.md`).

pub mod api;
pub mod domain;
pub mod interop;
pub mod limits;
pub mod service;
pub mod store;
pub mod write_bench;

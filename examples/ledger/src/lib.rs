//! Kiln's flagship example: a multi-tenant double-entry ledger. `domain` (pure rules: money
//! in minor units, the chart of accounts, balanced and immutable entries, reversal,
//! idempotency, balance constraints, two-phase entries, batches, prices, reports, API tokens,
//! the web app's users, roles and login throttle, and the audit log's hash chain), `store` (a `Store` trait and its SQLite implementation,
//! tenant-scoped throughout, with the audit log, `check` and group writes), `interop` (a
//! tenant's books as a journal that hledger and ledger-cli read, such journals and bank CSV
//! statements imported all or nothing), `service` (token authentication, password hashing,
//! reader connections and the group-commit writer on `kiln::batch`), `api` (the JSON API on kiln), `statements`
//! (balance sheet and income statement read from a store), `seed` (a deterministic demo
//! company's year of books) and `bench` (`ledger bench`: writes over the API, reads and
//! imports timed against hledger and ledger-cli).
//!
//! Not here yet: the web app (issue 12); see `examples/ledger/README.md`.

pub mod api;
pub mod bench;
pub mod domain;
pub mod interop;
pub mod limits;
pub mod seed;
pub mod service;
pub mod statements;
pub mod store;
pub mod web;

//! Plain-text interop with hledger and ledger-cli. So far export only: `journal` formats a
//! tenant's books as a journal both tools read (pure: store data in, text out), and `export`
//! walks the store page by page and writes that text to any `io::Write`.
//!
//! Not here yet: journal import, CSV bank statements (issue 11). Tests: unit tests in
//! `journal.rs`; the cross-check against the real tools in `tests/cli/cross_check.rs`.

pub mod export;
pub mod journal;

pub use export::{ExportError, ExportSummary, export_journal};

//! Plain-text interop with hledger and ledger-cli. Export: `journal` formats a tenant's books
//! as a journal both tools read (pure: store data in, text out), and `export` walks the store
//! page by page and writes that text to any `io::Write`. Import: `parse` reads the common
//! subset of both tools' journals (pure: text in, typed items or every problem with its line
//! out; `price_directive` reads its `P` lines), and `import` checks that against a tenant's
//! books and writes it in one transaction.
//!
//! Bank CSV statements: `csv_reader` (RFC 4180 records), `csv_rules` (the mapping file) and
//! `csv_import` (rows to entries, duplicate fingerprints, the write). Tests: unit tests in `journal.rs` and
//! `parse.rs`; `store/import_tests.rs`; the cross-check against the real tools in
//! `tests/cli/cross_check.rs` and `tests/cli/import.rs`.

pub mod csv_import;
pub mod csv_reader;
pub mod csv_rules;
pub mod export;
pub mod import;
pub mod journal;
pub mod parse;
pub mod price_directive;

pub use csv_import::{CsvImportError, CsvPlan, CsvSummary, import_csv, plan_csv};
pub use csv_rules::{CsvRules, parse_rules};
pub use export::{ExportError, ExportSummary, export_journal};
pub use import::{ImportError, ImportPlan, ImportSummary, import_journal, plan_journal};
pub use parse::{Journal, Problem, Problems, parse_journal};

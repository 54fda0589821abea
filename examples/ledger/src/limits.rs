//! Every limit of the ledger engine, in one place, each with the test that hits it beside the
//! rule that enforces it (`domain/` unit tests).
//!
//! Limits bound what one request can make the engine do; they are not business rules (those
//! are balance constraints, in `domain::constraint`). Units are last in the names.

/// Most postings one journal entry may have. Large enough for a payroll run split per
/// employee; small enough that validating one entry stays cheap.
pub const POSTINGS_PER_ENTRY_MAX: usize = 256;

/// Most entries in one batch, as in the issue (TigerBeetle's 8,190 transfers per request).
pub const ENTRIES_PER_BATCH_MAX: usize = 8_190;

/// Most entries one `Store::entries` page returns (an export walks the book page by page, so
/// its memory is bounded by a page, not by the book).
pub const ENTRIES_PER_PAGE_MAX: usize = 1_000;

/// Longest account name, in bytes (UTF-8), all segments and separators included.
pub const ACCOUNT_NAME_BYTES_MAX: usize = 512;

/// Deepest account hierarchy (`Assets:Bank:Checking` has three segments).
pub const ACCOUNT_SEGMENTS_MAX: usize = 16;

/// Longest commodity code, in bytes (UTF-8).
pub const COMMODITY_CODE_BYTES_MAX: usize = 24;

/// Most digits after the decimal mark a commodity may have. 18 keeps at least one whole unit
/// representable in an `i64` of minor units (`i64::MAX` is about 9.2 * 10^18).
pub const COMMODITY_PRECISION_MAX: u8 = 18;

/// Longest decimal text an amount may be parsed from, in bytes (sign and mark included).
pub const AMOUNT_TEXT_BYTES_MAX: usize = 48;

/// Longest entry description or payee, in bytes.
pub const DESCRIPTION_BYTES_MAX: usize = 1_024;

/// Most tags on one entry.
pub const TAGS_PER_ENTRY_MAX: usize = 32;

/// Most key/value metadata pairs on one entry.
pub const METADATA_PER_ENTRY_MAX: usize = 32;

/// Longest tag, metadata key or metadata value, in bytes.
pub const LABEL_BYTES_MAX: usize = 256;

/// Longest client-supplied idempotency key, in bytes.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 128;

/// Longest tenant slug, in bytes (ASCII lowercase letters, digits and `-`).
pub const TENANT_SLUG_BYTES_MAX: usize = 64;

/// Longest audit actor name (`cli`, a user id, a token id), in bytes.
pub const AUDIT_ACTOR_BYTES_MAX: usize = 256;

/// Longest audit origin (an IP address, a token id), in bytes.
pub const AUDIT_ORIGIN_BYTES_MAX: usize = 256;

/// Most problems `ledger check` reports per check and tenant; it counts the rest. Bounds the
/// report of a badly damaged database.
pub const CHECK_PROBLEMS_MAX: usize = 20;

/// Largest journal file `ledger import` reads, in bytes. The import holds the file and its
/// parsed entries in memory and writes them in one transaction; 256 MiB is well over a
/// 100,000-transaction journal (about 20 MB).
pub const IMPORT_FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// Most problems an import reports (each with its line); it counts the rest. Bounds the report
/// of a file that is not a journal at all.
pub const IMPORT_PROBLEMS_MAX: usize = 50;

/// Most fields in one CSV record (a bank statement has about ten columns). Bounds the work a
/// single malformed line can cause (`interop/csv_reader.rs`).
pub const CSV_FIELDS_PER_RECORD_MAX: usize = 256;

/// Most `if TEXT -> ACCOUNT` rules in one CSV rules file; each row is matched against them in
/// order, so this bounds the work per row (`interop/csv_rules.rs`).
pub const CSV_MATCH_RULES_MAX: usize = 1_000;

/// Largest CSV rules file `ledger import --csv-rules` reads, in bytes (a rules file is a few
/// hundred lines at most).
pub const CSV_RULES_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Most digits after the decimal mark a price's rate may have (`domain::price::Rate`). 18 keeps
/// every conversion inside an `i128`: the widest scaling is 10^36 (18 digits of rate and 18
/// of precision), under `i128::MAX` (about 1.7 * 10^38).
pub const PRICE_RATE_SCALE_MAX: u8 = 18;

/// Longest decimal text a price's rate may be parsed from, in bytes.
pub const PRICE_RATE_TEXT_BYTES_MAX: usize = 48;

/// Most write requests the group-commit writer puts in one group (`service::writer`). A
/// group is one `kiln::batch` batch; the writer commits it in transactions of at most
/// `WRITER_GROUP_ENTRIES_MAX` entries.
pub const WRITER_GROUP_WRITES_MAX: usize = 256;

/// Most entries in one transaction of the writer (a single request heavier than this, a
/// batch of up to 8,190 entries, is a transaction of its own). Bounds how long one commit
/// holds the write lock.
pub const WRITER_GROUP_ENTRIES_MAX: usize = 16_384;

/// Most write requests waiting for the writer; beyond it a write is refused at once with 503
/// and `Retry-After` (`service::writer` test `writes_beyond_the_queue_are_refused_at_once`).
pub const WRITER_QUEUE_WRITES_MAX: usize = 4_096;

/// Most idle reader connections the server keeps (`service::Readers`); a request that finds
/// none idle opens one. The number in use is bounded by the worker threads, since a read runs
/// to completion on its worker without yielding.
pub const READER_CONNECTIONS_IDLE_MAX: usize = 16;

/// Largest request body the ledger's server accepts, in bytes: a batch of 8,190 entries with
/// long descriptions and metadata fits. Beyond it the server answers 413 before the app runs.
pub const API_BODY_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Most entries one `GET /api/v1/entries` page returns (the default is 100).
pub const API_ENTRIES_PER_PAGE_MAX: usize = 1_000;

/// How long the write half of `ledger bench` may run before it gives up, in milliseconds
/// (`bench::writes`): bounds every client loop in time as well as in count.
pub const BENCH_WRITE_DEADLINE_MS: u64 = 600_000;

/// Most postings `ledger bench` builds its book with (two per entry). Two million keeps the
/// build under a few minutes and hledger's memory (it holds the whole journal) in a few GB.
pub const BENCH_POSTINGS_MAX: usize = 2_000_000;

/// Most transactions in the journal `ledger bench` imports and hands to hledger (about 20 MB
/// of text at 100,000; the limit stays far below `IMPORT_FILE_BYTES_MAX`).
pub const BENCH_IMPORT_TRANSACTIONS_MAX: usize = 200_000;

/// Most timed runs of each in-process read `ledger bench` makes (min and median are reported).
pub const BENCH_RUNS_MAX: usize = 100;

/// Most entries the bench generates and writes per `Store::import_book` call while it builds its
/// book: bounds the generator's memory whatever the size asked for.
pub const BENCH_BOOK_CHUNK_ENTRIES: usize = 50_000;

/// Longest `ledger bench` waits for hledger or ledger on one file before it kills the tool and
/// reports the timeout.
pub const BENCH_TOOL_TIMEOUT_MS: u64 = 10 * 60 * 1_000;

/// Most concurrent clients `ledger bench --clients` starts for the single-entry POSTs (each is
/// a thread with its own connection).
pub const BENCH_CLIENTS_MAX: usize = 256;

/// How often `ledger serve` expires the pending entries whose time has come (releasing their
/// reservations), in milliseconds. Until the sweep reaches one, an expired entry already
/// refuses to be posted (`pending_expired`).
pub const PENDING_EXPIRY_SWEEP_MS: u64 = 60_000;

/// Longest email address, in bytes, after trimming (RFC 5321's longest forward path, 256,
/// less its angle brackets). The shortest is 3 bytes (`domain::user::Email`).
pub const EMAIL_BYTES_MAX: usize = 254;

/// Longest display name of a user, in characters (not bytes: a name in any script gets the
/// same room), after trimming.
pub const DISPLAY_NAME_CHARS_MAX: usize = 100;

/// Shortest password a new account may set, in bytes (`domain::user::check_new_password`).
pub const PASSWORD_BYTES_MIN: usize = 10;

/// Longest password a new account may set, in bytes: generous for a passphrase, and bounds
/// what one sign-up hands to the password hash.
pub const PASSWORD_BYTES_MAX: usize = 1_024;

/// Failed logins a throttle key (an account, an IP address) may have within
/// `LOGIN_WINDOW_SECS` before further attempts are refused (`domain::throttle`).
pub const LOGIN_FAILURES_MAX: u32 = 5;

/// How far back the login throttle counts failures, in seconds (15 minutes).
pub const LOGIN_WINDOW_SECS: i64 = 900;

/// Most keys the login throttle remembers; beyond it the key with the oldest last failure is
/// forgotten (`domain::throttle`). A key costs a 32-byte digest (twice: the map and the index
/// by last failure) and up to `LOGIN_FAILURES_MAX` timestamps: a full throttle is about 2 MB.
pub const THROTTLE_KEYS_MAX: usize = 10_000;

/// Most memory a stored password hash may ask Argon2 for when it is verified, in KiB (64 MiB;
/// new hashes use the default, 19 MiB). A hash beyond it is refused without running
/// (`service::password`), so a tampered row cannot make a login allocate gigabytes.
pub const PASSWORD_HASH_MEMORY_KIB_MAX: u32 = 65_536;

/// Most passes a stored password hash may ask Argon2 for when it is verified (new hashes use
/// the default, 2). Bounds the time one login can take, as the memory bound bounds its space.
pub const PASSWORD_HASH_PASSES_MAX: u32 = 8;

/// Most period columns one report shows (`domain::periods`): three years of months. Each
/// column costs one trial balance read; more is refused with 400 before anything is read
/// (test `more_periods_than_report_periods_max_are_refused`).
pub const REPORT_PERIODS_MAX: usize = 36;

/// Most lines a reconciliation shows (the account's oldest unreconciled entries up to the
/// statement date); the page says when there are more (reconcile an earlier statement first).
pub const RECONCILE_LINES_MAX: usize = 1_000;

/// Longest an invitation link may stay valid, in days (the owner picks 1 to this many). A link
/// is a bearer secret: a short life limits what a leaked one can do.
pub const INVITATION_VALID_DAYS_MAX: u32 = 30;

/// Largest file the web import page takes, in bytes (a journal of about 30,000 transactions).
/// Bigger books go through `ledger import`, which takes up to `IMPORT_FILE_BYTES_MAX`.
pub const WEB_IMPORT_FILE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Most entries one web import writes. It is one transaction on the writer, which every other
/// write of every organisation waits behind; 10,000 entries take about a quarter of a second.
pub const WEB_IMPORT_ENTRIES_MAX: usize = 10_000;

/// Most entries the import preview lists (it counts the rest).
pub const WEB_IMPORT_PREVIEW_ROWS: usize = 200;

/// Most import previews kept in memory, waiting for their confirmation, across all
/// organisations (the oldest is dropped first). With `WEB_IMPORT_FILE_BYTES_MAX` this bounds
/// their memory at 64 MiB.
pub const WEB_IMPORT_STAGED_MAX: usize = 16;

/// How long an import preview waits for its confirmation, in seconds.
pub const WEB_IMPORT_STAGED_TTL_SECS: u64 = 30 * 60;

/// Most descriptions (and most payees) the new-entry form suggests: the distinct ones of the
/// newest `ENTRIES_PER_PAGE_MAX` entries (`Store::recent_texts`).
pub const SUGGESTIONS_MAX: usize = 200;

/// Most audit records an entry's page lists (its creation, reversal, post or void, and the
/// reconciliation ticks that name it; ticks can repeat, so the trail is bounded).
pub const AUDIT_RECORDS_PER_ENTRY_MAX: usize = 100;

/// How long a web session lasts after log-in, in seconds (then the person logs in again).
/// Log-out ends it sooner, on every device (`Store::end_sessions`).
pub const WEB_SESSION_LIFETIME_SECS: i64 = 14 * 86_400;

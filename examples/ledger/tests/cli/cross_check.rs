//! The oracle: a book of 10,000 generated entries (USD with 2 decimals, JPY with 0, BTC with
//! 8; eleven accounts of all five types; payees, tags, metadata and awkward descriptions;
//! reversals and pending entries posted, voided and left open; monthly prices) is written
//! through the store API, exported with the real `ledger export`, and read by the real
//! `hledger` and `ledger` (Debian's packages). Both must exit 0 (so every balance assertion in
//! the export holds) and print, per account and commodity, exactly the store's `balances` to
//! the minor unit. A journal with one wrong assertion appended must make both fail.
//!
//! The generator is a seeded SplitMix64, so every run builds the same book. Missing tools fail
//! the test with the install command; they are never skipped. Timings go to standard error
//! (`cargo test -p ledger -- --nocapture cross_check`).

use super::{TempDb, ledger, path, text};
use ledger::domain::{
    Account, AccountName, AccountType, Amount, BatchMode, Commodity, CommodityCode, Date, Decimal,
    EntryId, NewEntry, NewPosting, PendingTerms, PostAmounts, Price, Rate, TenantId, TenantSlug,
    Timestamp,
};
use ledger::limits::ENTRIES_PER_BATCH_MAX;
use ledger::store::{EntryRequest, SqliteStore, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Entries written by the generator (reversals and pending entries come on top).
const GENERATED_ENTRIES: usize = 10_000;

/// Commodities and their precisions.
const COMMODITIES: [(&str, u8); 3] = [("USD", 2), ("JPY", 0), ("BTC", 8)];

/// The chart: names (with spaces and Unicode) and types; `Bank:Savings` implies no type.
const ACCOUNTS: [(&str, AccountType); 11] = [
    ("Assets:Bank:Checking", AccountType::Asset),
    ("Assets:Cash", AccountType::Asset),
    ("Assets:Crypto Wallet", AccountType::Asset),
    ("Bank:Savings", AccountType::Asset),
    ("Liabilities:Credit Card", AccountType::Liability),
    ("Liabilities:Loan", AccountType::Liability),
    ("Equity:Opening Balances", AccountType::Equity),
    ("Income:Sales", AccountType::Income),
    ("Income:Interest", AccountType::Income),
    ("Expenses:Food:Café", AccountType::Expense),
    ("Expenses:Rent", AccountType::Expense),
];

/// Descriptions a journal line must survive (a `;`, a leading status mark or code, a `|`).
const DESCRIPTIONS: [&str; 6] = [
    "Groceries",
    "Coffee; with the team",
    "* starred by the bank",
    "(note) in parentheses",
    "Rent | March",
    "Ünïcödé 税",
];

/// (account, commodity) -> balance in minor units, zero balances left out.
type Balances = BTreeMap<(String, String), i64>;

/// SplitMix64: a tiny deterministic generator (no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..bound` for a test (`bound` is small).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let index = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        &items[index]
    }
}

#[test]
fn hledger_and_ledger_agree_with_the_store_on_an_exported_book_of_10000_entries() {
    require_tools();
    let db = TempDb::new("cross-check");
    let journal = db.0.with_extension("journal");
    let clock = Instant::now();
    let mut store = SqliteStore::open(&db.0).expect("the store opens");
    let tenant = build_book(&mut store);
    let far_future = Date::parse("9999-12-31").expect("date");
    let expected = nonzero(
        store
            .balances(tenant, far_future)
            .expect("balances")
            .into_iter()
            .map(|line| {
                (
                    (line.account.to_string(), line.commodity.to_string()),
                    line.balance.0,
                )
            }),
    );
    drop(store);
    let built = clock.elapsed();

    let clock = Instant::now();
    let file = journal.to_str().expect("a UTF-8 temp path");
    let exported = ledger(&["--database", path(&db), "export", "--output", file]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let export_time = clock.elapsed();

    let clock = Instant::now();
    let hledger = run_tool("hledger", &hledger_args(file));
    let hledger_time = clock.elapsed();
    let clock = Instant::now();
    let ledger_cli = run_tool("ledger", &ledger_args(file));
    let ledger_time = clock.elapsed();

    assert_eq!(parse_hledger_csv(&hledger), expected, "hledger disagrees");
    assert_eq!(
        parse_ledger_balance(&ledger_cli),
        expected,
        "ledger disagrees"
    );
    assert!(
        expected.len() >= 25,
        "too few balances to be a test: {expected:?}"
    );

    let clock = Instant::now();
    wrong_assertions_fail_in_both_tools(&journal, &expected);
    let wrong_time = clock.elapsed();
    let _ = std::fs::remove_file(&journal);
    eprintln!(
        "cross-check: book built in {built:?}, exported in {export_time:?}, hledger bal \
         {hledger_time:?}, ledger bal {ledger_time:?}, wrong-assertion runs {wrong_time:?}"
    );
}

/// Panics with the install command if either tool is missing: never a silent skip.
pub(super) fn require_tools() {
    for tool in ["hledger", "ledger"] {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success());
        assert!(
            found,
            "`{tool}` is not installed; the journal cross-check needs both tools: run \
             `apt-get install hledger ledger` (or .ci/setup)"
        );
    }
}

/// Flat, exact, one row per account and commodity; `--strict` also makes hledger refuse an
/// undeclared account or commodity.
fn hledger_args(file: &str) -> Vec<&str> {
    let flags = ["--strict", "balance", "--flat", "--no-total", "-O", "csv"];
    [&["-f", file][..], &flags, &["--layout=bare"]].concat()
}

/// Flat, every commodity of an account on its own line, the account before a tab.
fn ledger_args(file: &str) -> Vec<&str> {
    let format = "%(account)\t%(scrub(display_total))\n";
    vec![
        "-f",
        file,
        "balance",
        "--flat",
        "--no-total",
        "--format",
        format,
    ]
}

/// Runs a tool, asserts it exited 0, returns its standard output.
pub(super) fn run_tool(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .expect("the tool runs");
    assert!(
        output.status.success(),
        "{tool} {args:?} failed ({}): {}",
        output.status,
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Appends a transaction asserting one balance plus one minor unit; both tools must refuse.
fn wrong_assertions_fail_in_both_tools(journal: &Path, expected: &Balances) {
    let Some(((account, commodity), balance)) = expected.iter().next() else {
        panic!("no balance to falsify");
    };
    let precision = precision(commodity);
    let wrong = Amount(balance + 1).format(precision);
    let zero = Amount::ZERO.format(precision);
    let mut text_of = std::fs::read_to_string(journal).expect("the export is readable");
    text_of.push_str(&format!(
        "9999-12-31 A wrong assertion\n    {account}  {zero} {commodity} = {wrong} {commodity}\n"
    ));
    let wrong_file = journal.with_extension("wrong.journal");
    std::fs::write(&wrong_file, text_of).expect("written");
    let file = wrong_file.to_str().expect("a UTF-8 temp path");
    for (tool, args) in [
        ("hledger", hledger_args(file)),
        ("ledger", ledger_args(file)),
    ] {
        let output = Command::new(tool)
            .args(&args)
            .output()
            .expect("the tool runs");
        assert!(
            !output.status.success(),
            "{tool} accepted a wrong balance assertion"
        );
    }
    let _ = std::fs::remove_file(&wrong_file);
}

fn precision(code: &str) -> u8 {
    COMMODITIES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, p)| *p)
        .unwrap_or_else(|| panic!("a tool printed an unknown commodity {code:?}"))
}

fn parse_amount(quantity: &str, code: &str) -> i64 {
    Amount::parse(quantity, precision(code))
        .unwrap_or_else(|error| panic!("a tool printed {quantity:?} {code}: {error}"))
        .0
}

fn nonzero(lines: impl Iterator<Item = ((String, String), i64)>) -> Balances {
    let mut balances = Balances::new();
    for (key, amount) in lines {
        *balances.entry(key).or_default() += amount;
    }
    balances.retain(|_, amount| *amount != 0);
    balances
}

/// `"account","commodity","balance"` rows after a header.
fn parse_hledger_csv(stdout: &str) -> Balances {
    let rows = stdout
        .lines()
        .skip(1)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.trim_matches('"').split("\",\"").collect();
            let [account, commodity, quantity] = fields[..] else {
                panic!("not an hledger CSV row: {line:?}");
            };
            let amount = parse_amount(quantity, commodity);
            ((account.to_owned(), commodity.to_owned()), amount)
        });
    nonzero(rows)
}

/// `ACCOUNT\tQTY CODE` lines, each followed by `QTY CODE` lines for its other commodities.
fn parse_ledger_balance(stdout: &str) -> Balances {
    let mut account = String::new();
    let mut rows = Vec::new();
    for line in stdout.lines().filter(|line| !line.trim().is_empty()) {
        let amount = match line.split_once('\t') {
            Some((name, amount)) => {
                name.clone_into(&mut account);
                amount
            }
            None => line,
        };
        let amount = amount.trim();
        if amount == "0" {
            continue;
        }
        let Some((quantity, commodity)) = amount.split_once(' ') else {
            panic!("not a ledger amount: {line:?}");
        };
        let amount = parse_amount(quantity, commodity);
        rows.push(((account.clone(), commodity.to_owned()), amount));
    }
    nonzero(rows.into_iter())
}

/// The tenant, its chart, `GENERATED_ENTRIES` entries in full batches, then reversals and
/// pending entries (posted, voided and left pending).
fn build_book(store: &mut SqliteStore) -> TenantId {
    let tenant = store
        .create_tenant(&TenantSlug::new("books").expect("slug"))
        .expect("tenant");
    for (code, places) in COMMODITIES {
        let commodity = Commodity::new(code, places).expect("commodity");
        store
            .create_commodity(tenant, &commodity)
            .expect("commodity");
    }
    let opened = Date::parse("2023-01-01").expect("date");
    for (name, kind) in ACCOUNTS {
        let account = Account::new(AccountName::new(name).expect("name"), kind, opened);
        store.create_account(tenant, &account).expect("account");
    }
    let mut rng = Rng(0x5EED_1ED6_E500_0011);
    let requests: Vec<EntryRequest> = (0..GENERATED_ENTRIES)
        .map(|index| EntryRequest {
            key: None,
            entry: random_entry(&mut rng, opened, index),
        })
        .collect();
    let mut ids = Vec::with_capacity(GENERATED_ENTRIES);
    for batch in requests.chunks(ENTRIES_PER_BATCH_MAX) {
        let results = store
            .create_entries(tenant, batch, BatchMode::Independent)
            .expect("the batch is written");
        for result in results {
            ids.push(result.expect("every generated entry is valid"));
        }
    }
    reversals_and_pending(store, tenant, &mut rng, &ids);
    set_prices(store, tenant);
    tenant
}

/// A price per month for BTC in USD and JPY in USD (4 decimals: hledger then displays USD
/// with 4, which the parsers read as the same amounts), and USD in JPY: the export's `P`
/// lines must leave both tools' balances exact.
fn set_prices(store: &mut SqliteStore, tenant: TenantId) {
    for month in 1..=12 {
        let date = Date::from_ymd(2024, month, 1).expect("date");
        for (commodity, rate, quote) in [
            ("BTC", format!("{}.5", 40_000 + month * 1_000), "USD"),
            ("JPY", format!("0.00{}", 60 + month), "USD"),
            ("USD", format!("{}.25", 140 + month), "JPY"),
        ] {
            let price = Price::new(
                date,
                CommodityCode::new(commodity).expect("code"),
                CommodityCode::new(quote).expect("code"),
                Rate::parse(&rate).expect("rate"),
            )
            .expect("price");
            store.set_price(tenant, &price).expect("price");
        }
    }
}

fn reversals_and_pending(
    store: &mut SqliteStore,
    tenant: TenantId,
    rng: &mut Rng,
    ids: &[EntryId],
) {
    let late = Date::parse("2025-01-15").expect("date");
    for id in ids.iter().step_by(ids.len() / 20) {
        store.reverse_entry(tenant, *id, late).expect("reversed");
    }
    let start = Date::parse("2024-12-01").expect("date");
    for index in 0..10 {
        let mut entry = random_entry(rng, start, index);
        entry.pending = Some(PendingTerms { expires_at: None });
        let request = EntryRequest { key: None, entry };
        let id = store.create_entry(tenant, &request).expect("pending entry");
        let now = Timestamp(1_736_000_000);
        match index % 4 {
            0 | 1 => {
                store
                    .post_pending(tenant, id, &PostAmounts::Full, late, now)
                    .expect("posted");
            }
            2 => store.void_pending(tenant, id, now).expect("voided"),
            _ => {} // left pending: reserved, not in the balances
        }
    }
}

/// One entry on a day of the 730 after `first`: one commodity (or, one time in five, two),
/// each balanced over two or three postings; a payee, tags and metadata now and then.
fn random_entry(rng: &mut Rng, first: Date, index: usize) -> NewEntry {
    let offset = i32::try_from(rng.below(730)).unwrap_or(0);
    let date = Date::from_days_since_epoch(first.days_since_epoch() + offset).expect("date");
    let mut postings = Vec::new();
    let first_commodity = usize::try_from(rng.below(3)).unwrap_or(0);
    let commodities = if rng.below(5) == 0 { 2 } else { 1 };
    for step in 0..commodities {
        let (code, precision) = COMMODITIES[(first_commodity + step) % COMMODITIES.len()];
        balanced_postings(rng, code, precision, &mut postings);
    }
    let mut tags = BTreeSet::new();
    if rng.below(4) == 0 {
        tags.insert(rng.pick(&["review", "tax-2024", "trip"]).to_string());
    }
    let mut metadata = BTreeMap::new();
    if rng.below(4) == 0 {
        metadata.insert("invoice".to_owned(), format!("INV-{index}"));
    }
    NewEntry {
        date,
        description: rng.pick(&DESCRIPTIONS).to_string(),
        payee: (rng.below(3) == 0).then(|| rng.pick(&["Acme Corp", "Café du Coin"]).to_string()),
        tags,
        metadata,
        postings,
        pending: None,
    }
}

/// Two or three postings in one commodity that sum to zero; no amount is zero.
fn balanced_postings(rng: &mut Rng, code: &str, precision: u8, out: &mut Vec<NewPosting>) {
    let scale = 10_i64.pow(u32::from(precision));
    let mut magnitude = || 1 + i64::try_from(rng.below(5_000_000)).unwrap_or(0) * scale / 1_000;
    let parts = [magnitude(), magnitude()];
    let sign = if rng.below(2) == 0 { 1 } else { -1 };
    let amounts: Vec<i64> = if rng.below(2) == 0 {
        vec![sign * parts[0], -sign * parts[0]]
    } else {
        vec![
            sign * parts[0],
            sign * parts[1],
            -sign * (parts[0] + parts[1]),
        ]
    };
    for amount in amounts {
        let (account, _) = rng.pick(&ACCOUNTS);
        out.push(NewPosting {
            account: AccountName::new(account).expect("name"),
            commodity: CommodityCode::new(code).expect("code"),
            amount: Decimal::parse(&Amount(amount).format(precision)).expect("amount"),
        });
    }
}

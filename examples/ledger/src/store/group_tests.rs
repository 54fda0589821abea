//! `Store::write_group`: a group in one transaction gives each write its own result, a refused
//! write undoes only itself, each write is audited as its own actor, and the grouped path
//! agrees with running each write alone (`group::run_alone`, the default method).

use super::tests::{TempDb, code, day, name, seed, transfer};
use super::*;
use crate::domain::{AccountType, PendingTerms};

fn actor(who: &str) -> Actor {
    Actor::new(who, Some("127.0.0.1")).expect("actor")
}

fn entry_request(entry: NewEntry) -> EntryRequest {
    EntryRequest { key: None, entry }
}

/// A mixed group: good and refused entries, a linked batch that fails, an account, a hold
/// that is then voided in the same group, a reversal and a close that is refused.
fn group(tenant: TenantId) -> Vec<WriteRequest> {
    let mut hold = transfer("2024-02-01", "Expenses:Food", "Assets:Bank", "5.00", "USD");
    hold.pending = Some(PendingTerms { expires_at: None });
    let write = |who: &str, op: WriteOp| WriteRequest {
        tenant: Some(tenant),
        actor: actor(who),
        op,
    };
    let entries = |entries: Vec<NewEntry>, mode: BatchMode| WriteOp::CreateEntries {
        requests: entries.into_iter().map(entry_request).collect(),
        mode,
    };
    vec![
        write(
            "token:1",
            entries(
                vec![transfer(
                    "2024-02-01",
                    "Assets:Bank",
                    "Income:Salary",
                    "100.00",
                    "USD",
                )],
                BatchMode::Independent,
            ),
        ),
        write(
            "token:2",
            entries(
                vec![
                    transfer("2024-02-02", "Expenses:Food", "Assets:Bank", "1.00", "USD"),
                    transfer(
                        "2024-02-02",
                        "Expenses:Food",
                        "Assets:Nowhere",
                        "1.00",
                        "USD",
                    ),
                ],
                BatchMode::Linked,
            ),
        ),
        write(
            "token:3",
            WriteOp::CreateAccount(Account::new(
                name("Assets:Savings"),
                AccountType::Asset,
                day("2024-01-01"),
            )),
        ),
        write(
            "token:4",
            WriteOp::CloseAccount {
                name: name("Assets:Missing"),
                date: day("2024-03-01"),
            },
        ),
        write(
            "token:5",
            entries(
                vec![
                    transfer(
                        "2024-02-03",
                        "Assets:Savings",
                        "Assets:Bank",
                        "10.00",
                        "USD",
                    ),
                    hold,
                ],
                BatchMode::Independent,
            ),
        ),
        write(
            "token:6",
            WriteOp::ReverseEntry {
                id: EntryId(999_999),
                date: day("2024-02-04"),
            },
        ),
        // An import: its account, then an entry that uses it.
        write(
            "token:7",
            WriteOp::ImportBook(BookImport {
                accounts: vec![Account::new(
                    name("Expenses:Rent"),
                    AccountType::Expense,
                    day("2024-01-01"),
                )],
                entries: vec![transfer(
                    "2024-02-05",
                    "Expenses:Rent",
                    "Assets:Bank",
                    "20.00",
                    "USD",
                )],
                ..BookImport::default()
            }),
        ),
        // An import whose second entry is refused: its account and first entry are undone.
        write(
            "token:8",
            WriteOp::ImportBook(BookImport {
                accounts: vec![Account::new(
                    name("Expenses:Travel"),
                    AccountType::Expense,
                    day("2024-01-01"),
                )],
                entries: vec![
                    transfer(
                        "2024-02-06",
                        "Expenses:Travel",
                        "Assets:Bank",
                        "3.00",
                        "USD",
                    ),
                    transfer(
                        "2024-02-06",
                        "Expenses:Travel",
                        "Assets:Gone",
                        "3.00",
                        "USD",
                    ),
                ],
                ..BookImport::default()
            }),
        ),
    ]
}

fn outcomes(results: &[Result<WriteOutcome, StoreError>]) -> Vec<String> {
    results
        .iter()
        .map(|result| match result {
            Ok(WriteOutcome::Entries(entries)) => entries
                .iter()
                .map(|e| {
                    e.as_ref()
                        .map_or_else(|e| e.code().to_owned(), |_| "ok".into())
                })
                .collect::<Vec<_>>()
                .join(","),
            Ok(WriteOutcome::ImportRefused { index, error }) => {
                format!("import_refused@{index}:{}", error.code())
            }
            Ok(other) => format!("{other:?}")
                .split('(')
                .next()
                .unwrap_or("")
                .to_owned(),
            Err(error) => error.code().to_owned(),
        })
        .collect()
}

#[test]
fn a_group_gives_each_write_its_own_result_and_actor() {
    let db = TempDb::new("group");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let before = store.audit_records(tenant, 0, 10_000).expect("audit").len();
    let results = store.write_group(&group(tenant)).expect("group commits");
    assert_eq!(
        outcomes(&results),
        [
            "ok",
            "linked_failed,unknown_account",
            "Done",
            "not_found",
            "ok,ok",
            "entry_not_found",
            "Imported",
            "import_refused@1:unknown_account"
        ]
    );
    // The refused linked batch left nothing; the others are there.
    let usd = code("USD");
    let at = day("2024-12-31");
    let bank = store
        .balance(tenant, &name("Assets:Bank"), &usd, at)
        .expect("balance");
    assert_eq!(bank, Amount(10_000 - 1_000 - 2_000));
    assert!(
        store
            .accounts(tenant)
            .expect("accounts")
            .iter()
            .all(|a| a.name != name("Expenses:Travel")),
        "the refused import's account is undone"
    );
    let savings = store.balance(tenant, &name("Assets:Savings"), &usd, at);
    assert_eq!(savings.expect("balance"), Amount(1_000));
    let food = store
        .balance(tenant, &name("Expenses:Food"), &usd, at)
        .expect("balance");
    assert_eq!(food, Amount(0), "the hold only reserves");
    // One record per written entry or account, each with its request's actor.
    let records = store.audit_records(tenant, 0, 10_000).expect("audit");
    let actors: Vec<(&str, &str)> = records[before..]
        .iter()
        .map(|r| (r.actor.as_str(), r.action.as_str()))
        .collect();
    assert_eq!(
        actors,
        [
            ("token:1", "entry.created"),
            ("token:3", "account.created"),
            ("token:5", "entry.created"),
            ("token:5", "entry.created"),
            ("token:7", "account.created"),
            ("token:7", "entry.created"),
        ]
    );
    assert!(store.check(Some(tenant)).expect("check").is_clean());
}

#[test]
fn the_grouped_path_agrees_with_writes_run_alone() {
    let grouped_db = TempDb::new("grouped");
    let alone_db = TempDb::new("alone");
    let mut grouped = grouped_db.open();
    let mut alone = alone_db.open();
    let tenant = seed(&mut grouped, "acme");
    assert_eq!(seed(&mut alone, "acme"), tenant);
    let requests = group(tenant);
    let together = grouped.write_group(&requests).expect("group");
    let one_by_one: Vec<_> = requests
        .iter()
        .map(|request| {
            alone.set_actor(request.actor.clone());
            group::run_alone(&mut alone, request)
        })
        .collect();
    assert_eq!(outcomes(&together), outcomes(&one_by_one));
    let at = day("2024-12-31");
    assert_eq!(
        grouped.balances(tenant, at).expect("balances"),
        alone.balances(tenant, at).expect("balances")
    );
}

#[test]
fn a_group_for_another_tenant_changes_nothing_here() {
    let db = TempDb::new("group-tenants");
    let mut store = db.open();
    let mine = seed(&mut store, "mine");
    let theirs = seed(&mut store, "theirs");
    let entry = store
        .create_entry(
            mine,
            &entry_request(transfer(
                "2024-02-01",
                "Assets:Bank",
                "Income:Salary",
                "7.00",
                "USD",
            )),
        )
        .expect("entry");
    // Their token cannot reverse my entry, even by its id.
    let results = store
        .write_group(&[WriteRequest {
            tenant: Some(theirs),
            actor: actor("token:9"),
            op: WriteOp::ReverseEntry {
                id: entry,
                date: day("2024-02-02"),
            },
        }])
        .expect("group");
    assert_eq!(outcomes(&results), ["entry_not_found"]);
    assert!(
        store
            .entry(mine, entry)
            .expect("read")
            .expect("still mine")
            .reversed_by
            .is_none()
    );
    // An unknown tenant is refused per write.
    let results = store
        .write_group(&[WriteRequest {
            tenant: Some(TenantId(12_345)),
            actor: actor("token:9"),
            op: WriteOp::CreateAccount(Account::new(
                name("Assets:X"),
                AccountType::Asset,
                day("2024-01-01"),
            )),
        }])
        .expect("group");
    assert_eq!(outcomes(&results), ["unknown_tenant"]);
}

/// A refusal on an entry's second account (after its first passed every check) writes
/// nothing at all: no balance, no per-day row, no posting, no audit record.
#[test]
fn an_entry_refused_on_its_second_account_writes_nothing() {
    let db = TempDb::new("refused-second");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let owe_at_most_one = BalanceConstraint {
        commodity: code("USD"),
        min: Some(Amount(-100)),
        max: None,
    };
    store
        .set_constraint(tenant, &name("Liabilities:Card"), &owe_at_most_one)
        .expect("constraint");
    let records = store.audit_records(tenant, 0, 10_000).expect("audit").len();
    let ok = transfer("2024-02-01", "Assets:Bank", "Income:Salary", "3.00", "USD");
    let refused = transfer(
        "2024-02-02",
        "Assets:Bank",
        "Liabilities:Card",
        "5.00",
        "USD",
    );
    let results = store
        .create_entries(
            tenant,
            &[entry_request(ok), entry_request(refused)],
            BatchMode::Independent,
        )
        .expect("batch");
    assert!(results[0].is_ok());
    assert_eq!(
        results[1].as_ref().expect_err("refused").code(),
        "constraint"
    );
    let at = day("2024-12-31");
    let bank = store.balance(tenant, &name("Assets:Bank"), &code("USD"), at);
    assert_eq!(bank.expect("balance"), Amount(300));
    let day_after = store.balance(
        tenant,
        &name("Assets:Bank"),
        &code("USD"),
        day("2024-02-02"),
    );
    assert_eq!(day_after.expect("balance"), Amount(300));
    let written = store.audit_records(tenant, 0, 10_000).expect("audit").len();
    assert_eq!(
        written,
        records + 1,
        "one record: the entry that was written"
    );
    assert!(store.check(Some(tenant)).expect("check").is_clean());
}

/// A group whose writes touch one account again and again, with a linked batch rolled back
/// in the middle: every write sees the balances the ones before it left (the transaction's
/// cache is flushed before each savepoint and forgotten when one rolls back).
#[test]
fn balances_stay_right_across_a_rollback_inside_a_group() {
    let db = TempDb::new("group-rollback");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let not_below_zero = BalanceConstraint {
        commodity: code("USD"),
        min: Some(Amount(0)),
        max: None,
    };
    store
        .set_constraint(tenant, &name("Assets:Bank"), &not_below_zero)
        .expect("constraint");
    let entries = |entries: Vec<NewEntry>, mode: BatchMode| WriteRequest {
        tenant: Some(tenant),
        actor: actor("token:1"),
        op: WriteOp::CreateEntries {
            requests: entries.into_iter().map(entry_request).collect(),
            mode,
        },
    };
    let spend =
        |amount: &str| transfer("2024-03-01", "Expenses:Food", "Assets:Bank", amount, "USD");
    let group = [
        entries(
            vec![transfer(
                "2024-03-01",
                "Assets:Bank",
                "Income:Salary",
                "10.00",
                "USD",
            )],
            BatchMode::Independent,
        ),
        entries(vec![spend("4.00"), spend("20.00")], BatchMode::Linked),
        entries(vec![spend("6.00"), spend("5.00")], BatchMode::Independent),
        entries(vec![spend("4.00")], BatchMode::Linked),
    ];
    let results = store.write_group(&group).expect("group");
    assert_eq!(
        outcomes(&results),
        ["ok", "linked_failed,constraint", "ok,constraint", "ok"]
    );
    let at = day("2024-12-31");
    let bank = store.balance(tenant, &name("Assets:Bank"), &code("USD"), at);
    assert_eq!(bank.expect("balance"), Amount(0));
    let food = store.balance(tenant, &name("Expenses:Food"), &code("USD"), at);
    assert_eq!(food.expect("balance"), Amount(1_000));
    let state = store
        .balance_state(tenant, &name("Assets:Bank"), &code("USD"))
        .expect("state");
    assert_eq!(state.posted, Amount(0));
    assert!(store.check(Some(tenant)).expect("check").is_clean());
}

/// One batch mixing days in order, repeats of the last day and back-dated entries: every
/// day's closing is right (the transaction holds the last per-day row and writes it back).
#[test]
fn per_day_closings_are_right_within_one_batch() {
    let db = TempDb::new("daily-batch");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let pay = |date: &str, amount: &str| {
        entry_request(transfer(
            date,
            "Assets:Bank",
            "Income:Salary",
            amount,
            "USD",
        ))
    };
    let batch = [
        pay("2024-03-01", "1.00"),
        pay("2024-03-01", "2.00"),
        pay("2024-03-05", "4.00"),
        pay("2024-03-03", "8.00"),  // back-dated: 03-05 moves too
        pay("2024-03-05", "16.00"), // the last day again
        pay("2024-03-09", "32.00"),
        pay("2024-02-01", "64.00"), // before every row
    ];
    let results = store
        .create_entries(tenant, &batch, BatchMode::Independent)
        .expect("batch");
    assert!(results.iter().all(Result::is_ok));
    let bank = |store: &mut SqliteStore, date: &str| {
        store
            .balance(tenant, &name("Assets:Bank"), &code("USD"), day(date))
            .expect("balance")
            .0
    };
    let expected = [
        ("2024-01-31", 0),
        ("2024-02-01", 6_400),
        ("2024-03-01", 6_700),
        ("2024-03-02", 6_700),
        ("2024-03-03", 7_500),
        ("2024-03-05", 9_500),
        ("2024-03-08", 9_500),
        ("2024-03-09", 12_700),
        ("2024-12-31", 12_700),
    ];
    for (date, cents) in expected {
        assert_eq!(bank(&mut store, date), cents, "{date}");
    }
    assert!(store.check(Some(tenant)).expect("check").is_clean());
}

/// Within one group the chart the writes see follows the chart changes made before them: an
/// account created, then closed, between entries that name it.
#[test]
fn entries_in_a_group_see_accounts_created_and_closed_before_them() {
    let db = TempDb::new("group-chart");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    let into_new = |date: &str| WriteRequest {
        tenant: Some(tenant),
        actor: actor("token:1"),
        op: WriteOp::CreateEntries {
            requests: vec![entry_request(transfer(
                date,
                "Assets:New",
                "Income:Salary",
                "1.00",
                "USD",
            ))],
            mode: BatchMode::Independent,
        },
    };
    let write = |op: WriteOp| WriteRequest {
        tenant: Some(tenant),
        actor: actor("token:1"),
        op,
    };
    let group = [
        into_new("2024-01-10"),
        write(WriteOp::CreateAccount(Account::new(
            name("Assets:New"),
            AccountType::Asset,
            day("2024-01-01"),
        ))),
        into_new("2024-01-11"),
        write(WriteOp::CloseAccount {
            name: name("Assets:New"),
            date: day("2024-01-31"),
        }),
        into_new("2024-01-12"),
        into_new("2024-02-01"),
    ];
    let results = store.write_group(&group).expect("group");
    assert_eq!(
        outcomes(&results),
        [
            "unknown_account",
            "Done",
            "ok",
            "Done",
            "ok",
            "closed_account"
        ]
    );
    assert!(store.check(Some(tenant)).expect("check").is_clean());
}

/// Only a sign-up may name no tenant: any other write without one is refused.
#[test]
fn a_write_without_a_tenant_is_refused_unless_it_signs_up() {
    let db = TempDb::new("group-no-tenant");
    let mut store = db.open();
    seed(&mut store, "acme");
    let results = store
        .write_group(&[WriteRequest {
            tenant: None,
            actor: actor("token:1"),
            op: WriteOp::CreateAccount(Account::new(
                name("Assets:X"),
                AccountType::Asset,
                day("2024-01-01"),
            )),
        }])
        .expect("group");
    assert_eq!(outcomes(&results), ["unknown_tenant"]);
}

/// A rename inside a group: later writes of the group see the new name (and not the old),
/// the account keeps its balance, and the history follows it.
#[test]
fn a_rename_in_a_group_moves_the_account_and_its_history() {
    let db = TempDb::new("group-rename");
    let mut store = db.open();
    let tenant = seed(&mut store, "acme");
    store
        .create_entry(
            tenant,
            &entry_request(transfer(
                "2024-02-01",
                "Assets:Bank",
                "Income:Salary",
                "7.00",
                "USD",
            )),
        )
        .expect("entry");
    let write = |op: WriteOp| WriteRequest {
        tenant: Some(tenant),
        actor: actor("user:1"),
        op,
    };
    let entry = |account: &str| WriteOp::CreateEntries {
        requests: vec![entry_request(transfer(
            "2024-02-02",
            account,
            "Income:Salary",
            "1.00",
            "USD",
        ))],
        mode: BatchMode::Independent,
    };
    let results = store
        .write_group(&[
            write(entry("Assets:Bank")),
            write(WriteOp::RenameAccount {
                from: name("Assets:Bank"),
                to: name("Assets:Checking"),
            }),
            write(entry("Assets:Checking")),
            write(entry("Assets:Bank")),
            write(WriteOp::RenameAccount {
                from: name("Assets:Checking"),
                to: name("Income:Checking"),
            }),
        ])
        .expect("group");
    assert_eq!(
        outcomes(&results),
        ["ok", "Renamed", "ok", "unknown_account", "invalid"]
    );
    let at = day("2024-12-31");
    let checking = store
        .balance(tenant, &name("Assets:Checking"), &code("USD"), at)
        .expect("balance");
    assert_eq!(checking, Amount(900));
    assert!(
        store
            .account(tenant, &name("Assets:Bank"))
            .expect("read")
            .is_none()
    );
    let records = store.audit_records(tenant, 0, 10_000).expect("audit");
    assert!(
        records.iter().any(
            |r| r.action == "account.renamed" && r.details.contains("\"from\":\"Assets:Bank\"")
        )
    );
    assert!(store.check(Some(tenant)).expect("check").is_clean());
}

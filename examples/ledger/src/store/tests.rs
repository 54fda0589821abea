//! The store test suite. Each test is a function over `&mut impl Store`, so a second
//! implementation (PostgreSQL) runs the same suite by adding its own `store_tests!` line; the
//! SQLite-only tests (pragmas, migrations) are at the bottom. Databases are temporary files,
//! removed when the test ends.

use super::*;
use crate::domain::{AccountType, Decimal, EntryLink, PendingTerms};
use crate::limits::ENTRIES_PER_BATCH_MAX;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) use super::fixtures::{TempDb, code, day, downgrade, name, seed, transfer};

fn request(entry: NewEntry) -> EntryRequest {
    EntryRequest { key: None, entry }
}

fn keyed(key: &str, entry: NewEntry) -> EntryRequest {
    EntryRequest {
        key: Some(IdempotencyKey::new(key).expect("key")),
        entry,
    }
}

fn balance(
    store: &mut impl Store,
    tenant: TenantId,
    account: &str,
    commodity: &str,
    date: &str,
) -> i64 {
    store
        .balance(tenant, &name(account), &code(commodity), day(date))
        .expect("balance")
        .0
}

fn refusal<T: std::fmt::Debug>(result: Result<T, StoreError>) -> &'static str {
    match result {
        Err(error) => error.code(),
        Ok(value) => panic!("expected a refusal, got {value:?}"),
    }
}

/// Every commodity's balances over the tenant's accounts sum to zero at `date`.
pub(crate) fn assert_trial_balance_is_zero(store: &mut impl Store, tenant: TenantId, date: Date) {
    let mut sums: BTreeMap<CommodityCode, i128> = BTreeMap::new();
    for line in store.balances(tenant, date).expect("balances") {
        *sums.entry(line.commodity).or_default() += i128::from(line.balance.0);
    }
    for (commodity, sum) in sums {
        assert_eq!(sum, 0, "trial balance in {commodity} at {date}");
    }
}

fn salary() -> NewEntry {
    transfer(
        "2024-01-31",
        "Assets:Bank",
        "Income:Salary",
        "3000.00",
        "USD",
    )
}

// ---- the suite, over any Store ----

fn entries_round_trip(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let mut new = transfer("2024-03-01", "Expenses:Food", "Assets:Bank", "12.50", "USD");
    new.payee = Some("Café Zürich".into());
    new.tags = BTreeSet::from(["food".to_owned(), "team".to_owned()]);
    new.metadata = BTreeMap::from([("receipt".to_owned(), "A-17".to_owned())]);
    let id = store
        .create_entry(tenant, &request(new.clone()))
        .expect("written");
    let stored = store.entry(tenant, id).expect("read").expect("found");
    assert_eq!(stored.entry.date, new.date);
    assert_eq!(stored.entry.payee, new.payee);
    assert_eq!(stored.entry.tags, new.tags);
    assert_eq!(stored.entry.metadata, new.metadata);
    assert_eq!(
        stored
            .entry
            .postings
            .iter()
            .map(|p| p.amount.0)
            .collect::<Vec<_>>(),
        [1250, -1250]
    );
    assert_eq!(
        (stored.status, stored.reversed_by, stored.entry.link),
        (None, None, None)
    );
}

fn invalid_entries_are_refused_and_write_nothing(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let cases = [
        ("unbalanced", {
            let mut e = salary();
            e.postings[1].amount = Decimal::parse("-2999.99").expect("amount");
            e
        }),
        (
            "unknown_account",
            transfer("2024-02-01", "Assets:Nowhere", "Assets:Bank", "1", "USD"),
        ),
        (
            "precision",
            transfer("2024-02-01", "Assets:Cash", "Assets:Bank", "1.005", "USD"),
        ),
        (
            "account_not_open",
            transfer("2023-12-31", "Assets:Cash", "Assets:Bank", "1", "USD"),
        ),
        (
            "unknown_commodity",
            transfer("2024-02-01", "Assets:Cash", "Assets:Bank", "1", "EUR"),
        ),
    ];
    for (expected, entry) in cases {
        assert_eq!(
            refusal(store.create_entry(tenant, &request(entry))),
            expected
        );
    }
    store
        .close_account(tenant, &name("Assets:Cash"), day("2024-01-31"))
        .expect("closed");
    let late = transfer("2024-02-01", "Assets:Cash", "Assets:Bank", "1", "USD");
    assert_eq!(
        refusal(store.create_entry(tenant, &request(late))),
        "closed_account"
    );
    assert!(
        store
            .balances(tenant, day("2099-01-01"))
            .expect("balances")
            .is_empty()
    );
}

fn balances_at_dates_follow_back_dated_entries(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    store
        .create_entry(tenant, &request(salary()))
        .expect("salary");
    store
        .create_entry(
            tenant,
            &request(transfer(
                "2024-03-10",
                "Expenses:Food",
                "Assets:Bank",
                "20",
                "USD",
            )),
        )
        .expect("food");
    // Written last, dated between the two: every later day's balance moves.
    store
        .create_entry(
            tenant,
            &request(transfer(
                "2024-02-15",
                "Expenses:Food",
                "Assets:Bank",
                "5.25",
                "USD",
            )),
        )
        .expect("back-dated");
    assert_eq!(
        balance(store, tenant, "Assets:Bank", "USD", "2024-01-30"),
        0
    );
    assert_eq!(
        balance(store, tenant, "Assets:Bank", "USD", "2024-01-31"),
        300_000
    );
    assert_eq!(
        balance(store, tenant, "Assets:Bank", "USD", "2024-02-20"),
        299_475
    );
    assert_eq!(
        balance(store, tenant, "Assets:Bank", "USD", "2024-12-31"),
        297_475
    );
    assert_eq!(
        balance(store, tenant, "Expenses:Food", "USD", "2024-12-31"),
        2_525
    );
    for date in [
        "2024-01-01",
        "2024-02-15",
        "2024-03-09",
        "2024-03-10",
        "2030-01-01",
    ] {
        assert_trial_balance_is_zero(store, tenant, day(date));
    }
    let state = store
        .balance_state(tenant, &name("Assets:Bank"), &code("USD"))
        .expect("state");
    assert_eq!(state.posted, Amount(297_475));
}

fn idempotency_keys_replay_conflict_and_keep_failures(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let first = store
        .create_entry(tenant, &keyed("pay-1", salary()))
        .expect("written");
    let again = store
        .create_entry(tenant, &keyed("pay-1", salary()))
        .expect("replayed");
    assert_eq!(
        first, again,
        "the same key and body return the original entry"
    );
    assert_eq!(
        balance(store, tenant, "Assets:Bank", "USD", "2024-12-31"),
        300_000,
        "written once"
    );
    let mut changed = salary();
    changed.postings[0].amount = Decimal::parse("3000.01").expect("amount");
    changed.postings[1].amount = Decimal::parse("-3000.01").expect("amount");
    match store.create_entry(tenant, &keyed("pay-1", changed)) {
        Err(StoreError::Refused(EntryError::IdempotencyConflict { field })) => {
            assert_eq!(field, "postings[0].amount")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A key whose first attempt failed keeps failing the same way, even once the cause is gone.
    let broken = transfer("2024-02-01", "Assets:Savings", "Assets:Bank", "1", "USD");
    assert_eq!(
        refusal(store.create_entry(tenant, &keyed("save-1", broken.clone()))),
        "unknown_account"
    );
    let savings = Account::new(
        name("Assets:Savings"),
        AccountType::Asset,
        day("2024-01-01"),
    );
    store.create_account(tenant, &savings).expect("account");
    assert_eq!(
        refusal(store.create_entry(tenant, &keyed("save-1", broken.clone()))),
        "unknown_account"
    );
    assert!(
        store.create_entry(tenant, &keyed("save-2", broken)).is_ok(),
        "a new key succeeds"
    );
}

fn constraints_are_checked_in_the_write(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let floor = BalanceConstraint {
        commodity: code("USD"),
        min: Some(Amount(0)),
        max: None,
    };
    store
        .set_constraint(tenant, &name("Assets:Bank"), &floor)
        .expect("constraint");
    store
        .create_entry(
            tenant,
            &request(transfer(
                "2024-02-01",
                "Assets:Bank",
                "Income:Salary",
                "100",
                "USD",
            )),
        )
        .expect("in");
    let overdraw = transfer(
        "2024-02-02",
        "Expenses:Food",
        "Assets:Bank",
        "100.01",
        "USD",
    );
    match store.create_entry(tenant, &request(overdraw)) {
        Err(StoreError::Refused(EntryError::Constraint {
            account,
            balance,
            bound,
            ..
        })) => {
            assert_eq!(
                (account.as_str(), balance, bound),
                ("Assets:Bank", Amount(-1), Amount(0))
            );
        }
        other => panic!("expected a constraint refusal, got {other:?}"),
    }
    assert_eq!(
        balance(store, tenant, "Expenses:Food", "USD", "2024-12-31"),
        0,
        "nothing half-written"
    );
    store
        .create_entry(
            tenant,
            &request(transfer(
                "2024-02-02",
                "Expenses:Food",
                "Assets:Bank",
                "100",
                "USD",
            )),
        )
        .expect("to zero");
    let card_limit = BalanceConstraint {
        commodity: code("USD"),
        min: Some(Amount(-50_000)),
        max: None,
    };
    store
        .set_constraint(tenant, &name("Liabilities:Card"), &card_limit)
        .expect("constraint");
    let over_limit = transfer(
        "2024-02-03",
        "Expenses:Food",
        "Liabilities:Card",
        "500.01",
        "USD",
    );
    assert_eq!(
        refusal(store.create_entry(tenant, &request(over_limit))),
        "constraint"
    );
    let bad = BalanceConstraint {
        commodity: code("USD"),
        min: Some(Amount(1)),
        max: Some(Amount(0)),
    };
    assert_eq!(
        refusal(store.set_constraint(tenant, &name("Assets:Cash"), &bad)),
        "invalid"
    );
}

fn linked_batches_are_all_or_nothing(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let batch = [
        keyed("b-1", salary()),
        keyed(
            "b-2",
            transfer("2024-02-01", "Expenses:Food", "Assets:Nowhere", "1", "USD"),
        ),
        keyed(
            "b-3",
            transfer("2024-02-02", "Expenses:Food", "Assets:Bank", "1", "USD"),
        ),
    ];
    let results = store
        .create_entries(tenant, &batch, BatchMode::Linked)
        .expect("ran");
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().err().map_or("ok", EntryError::code))
        .collect();
    assert_eq!(codes, ["linked_failed", "unknown_account", "linked_failed"]);
    assert!(
        store
            .balances(tenant, day("2099-01-01"))
            .expect("balances")
            .is_empty(),
        "nothing written"
    );
    // The keys of entries that did not fail themselves are free; the failed one keeps failing.
    assert!(store.create_entry(tenant, &keyed("b-1", salary())).is_ok());
    assert_eq!(
        refusal(store.create_entry(tenant, &batch[1])),
        "unknown_account"
    );

    let results = store
        .create_entries(tenant, &batch[1..], BatchMode::Independent)
        .expect("ran");
    assert!(results[0].is_err() && results[1].is_ok(), "{results:?}");
    assert_eq!(
        balance(store, tenant, "Expenses:Food", "USD", "2024-12-31"),
        100
    );
}

fn batch_size_limits(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    assert_eq!(
        refusal(store.create_entries(tenant, &[], BatchMode::Linked)),
        "empty_batch"
    );
    let entry = transfer("2024-02-01", "Expenses:Food", "Assets:Bank", "0.01", "USD");
    let full = vec![request(entry); ENTRIES_PER_BATCH_MAX];
    let results = store
        .create_entries(tenant, &full, BatchMode::Linked)
        .expect("ran");
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(
        balance(store, tenant, "Expenses:Food", "USD", "2024-02-01"),
        ENTRIES_PER_BATCH_MAX as i64
    );
    let mut over = full;
    over.push(over[0].clone());
    assert_eq!(
        refusal(store.create_entries(tenant, &over, BatchMode::Independent)),
        "batch_too_large"
    );
}

fn reversals_undo_once(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let original = store
        .create_entry(tenant, &request(salary()))
        .expect("written");
    let reversing = store
        .reverse_entry(tenant, original, day("2024-02-01"))
        .expect("reversed");
    assert_eq!(
        balance(store, tenant, "Assets:Bank", "USD", "2024-01-31"),
        300_000,
        "the past is unchanged"
    );
    assert_eq!(
        balance(store, tenant, "Assets:Bank", "USD", "2024-02-01"),
        0
    );
    let stored = store.entry(tenant, original).expect("read").expect("found");
    assert_eq!(stored.reversed_by, Some(reversing));
    let link = store
        .entry(tenant, reversing)
        .expect("read")
        .expect("found")
        .entry
        .link;
    assert_eq!(link, Some(EntryLink::Reverses(original)));
    assert_eq!(
        refusal(store.reverse_entry(tenant, original, day("2024-02-02"))),
        "already_reversed"
    );
    assert_eq!(
        refusal(store.reverse_entry(tenant, EntryId(9_999), day("2024-02-02"))),
        "entry_not_found"
    );
}

fn pending_entries_reserve_post_void_and_expire(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let floor = BalanceConstraint {
        commodity: code("USD"),
        min: Some(Amount(0)),
        max: None,
    };
    store
        .set_constraint(tenant, &name("Assets:Bank"), &floor)
        .expect("constraint");
    store
        .create_entry(
            tenant,
            &request(transfer(
                "2024-02-01",
                "Assets:Bank",
                "Income:Salary",
                "100",
                "USD",
            )),
        )
        .expect("in");
    let hold = |amount: &str, expires: Option<i64>| {
        let mut entry = transfer("2024-02-02", "Expenses:Food", "Assets:Bank", amount, "USD");
        entry.pending = Some(PendingTerms {
            expires_at: expires.map(Timestamp),
        });
        request(entry)
    };
    let now = Timestamp(1_000);
    let reserved = store
        .create_entry(tenant, &hold("80", None))
        .expect("reserved");
    assert_eq!(
        balance(store, tenant, "Assets:Bank", "USD", "2024-12-31"),
        10_000,
        "a reservation is not posted"
    );
    let state = store
        .balance_state(tenant, &name("Assets:Bank"), &code("USD"))
        .expect("state");
    assert_eq!(state.pending_credits, Amount(-8_000));
    assert_eq!(
        refusal(store.create_entry(tenant, &hold("30", None))),
        "constraint",
        "80 reserved of 100"
    );

    let part = PostAmounts::Partial(vec![Amount(5_000), Amount(-5_000)]);
    let posting = store
        .post_pending(tenant, reserved, &part, day("2024-02-03"), now)
        .expect("posted");
    assert_eq!(
        balance(store, tenant, "Assets:Bank", "USD", "2024-12-31"),
        5_000
    );
    let state = store
        .balance_state(tenant, &name("Assets:Bank"), &code("USD"))
        .expect("state");
    assert_eq!(
        state.pending_credits,
        Amount(0),
        "the unposted rest is released"
    );
    assert_eq!(
        store
            .entry(tenant, reserved)
            .expect("read")
            .expect("found")
            .status,
        Some(PendingStatus::Posted)
    );
    assert_eq!(
        store
            .entry(tenant, posting)
            .expect("read")
            .expect("found")
            .entry
            .link,
        Some(EntryLink::Posts(reserved))
    );
    assert_eq!(
        refusal(store.void_pending(tenant, reserved, now)),
        "not_pending"
    );

    let voided = store
        .create_entry(tenant, &hold("10", None))
        .expect("reserved");
    store.void_pending(tenant, voided, now).expect("voided");
    assert_eq!(
        refusal(store.post_pending(tenant, voided, &PostAmounts::Full, day("2024-02-04"), now)),
        "not_pending"
    );

    let expiring = store
        .create_entry(tenant, &hold("10", Some(2_000)))
        .expect("reserved");
    assert_eq!(
        store
            .expire_pending(tenant, Timestamp(1_999))
            .expect("expiry"),
        []
    );
    assert_eq!(
        store
            .expire_pending(tenant, Timestamp(2_000))
            .expect("expiry"),
        [expiring]
    );
    assert_eq!(
        refusal(store.post_pending(tenant, expiring, &PostAmounts::Full, day("2024-02-04"), now)),
        "not_pending"
    );
    let state = store
        .balance_state(tenant, &name("Assets:Bank"), &code("USD"))
        .expect("state");
    assert_eq!(
        state,
        BalanceState {
            posted: Amount(5_000),
            ..BalanceState::default()
        }
    );
    assert_trial_balance_is_zero(store, tenant, day("2024-12-31"));
}

fn overflowing_balances_are_refused(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let max = Amount(i64::MAX).format(0);
    store
        .create_entry(
            tenant,
            &request(transfer(
                "2024-02-01",
                "Assets:Cash",
                "Income:Salary",
                &max,
                "JPY",
            )),
        )
        .expect("max");
    let more = transfer("2024-02-02", "Assets:Cash", "Income:Salary", "1", "JPY");
    assert_eq!(
        refusal(store.create_entry(tenant, &request(more))),
        "overflow"
    );
    // A back-dated entry whose day is fine but would push a later closing past the limit.
    let earlier = transfer("2024-01-15", "Assets:Cash", "Income:Salary", "1", "JPY");
    assert_eq!(
        refusal(store.create_entry(tenant, &request(earlier))),
        "overflow"
    );
    assert_eq!(
        balance(store, tenant, "Assets:Cash", "JPY", "2024-12-31"),
        i64::MAX
    );
}

fn tenants_are_isolated_through_every_method(store: &mut impl Store) {
    let a = seed(store, "alpha");
    let b = seed(store, "beta");
    assert_eq!(
        refusal(store.create_tenant(&TenantSlug::new("alpha").expect("slug"))),
        "already_exists"
    );
    let savings = Account::new(
        name("Assets:Alpha Only"),
        AccountType::Asset,
        day("2024-01-01"),
    );
    store.create_account(a, &savings).expect("account");
    let paid = store
        .create_entry(a, &keyed("k", salary()))
        .expect("written");
    let mut hold = transfer("2024-02-02", "Expenses:Food", "Assets:Bank", "1", "USD");
    hold.pending = Some(PendingTerms {
        expires_at: Some(Timestamp(10)),
    });
    let held = store.create_entry(a, &request(hold)).expect("reserved");

    // Reads by id or name from the other tenant find nothing.
    assert_eq!(store.entry(b, paid).expect("read"), None);
    assert_eq!(store.entry(b, held).expect("read"), None);
    assert_eq!(
        store.account(b, &name("Assets:Alpha Only")).expect("read"),
        None
    );
    assert!(
        store
            .accounts(b)
            .expect("read")
            .iter()
            .all(|acc| acc.name.as_str() != "Assets:Alpha Only")
    );
    assert_eq!(
        refusal(store.balance(
            b,
            &name("Assets:Alpha Only"),
            &code("USD"),
            day("2024-12-31")
        )),
        "not_found"
    );
    assert_eq!(
        balance(store, b, "Assets:Bank", "USD", "2024-12-31"),
        0,
        "same name, own books"
    );
    assert!(
        store
            .balances(b, day("2024-12-31"))
            .expect("read")
            .is_empty()
    );
    assert_eq!(store.entries(b, None, 10).expect("read"), []);
    assert_eq!(store.entries(a, None, 10).expect("read").len(), 2);
    let state = store
        .balance_state(b, &name("Assets:Bank"), &code("USD"))
        .expect("state");
    assert_eq!(state, BalanceState::default());

    // Writes by id or name from the other tenant change nothing.
    assert_eq!(
        refusal(store.reverse_entry(b, paid, day("2024-03-01"))),
        "entry_not_found"
    );
    assert_eq!(
        refusal(store.post_pending(b, held, &PostAmounts::Full, day("2024-03-01"), Timestamp(1))),
        "entry_not_found"
    );
    assert_eq!(
        refusal(store.void_pending(b, held, Timestamp(1))),
        "entry_not_found"
    );
    assert_eq!(store.expire_pending(b, Timestamp(100)).expect("expiry"), []);
    assert_eq!(
        refusal(store.close_account(b, &name("Assets:Alpha Only"), day("2024-03-01"))),
        "not_found"
    );
    let floor = BalanceConstraint {
        commodity: code("USD"),
        min: Some(Amount(0)),
        max: None,
    };
    assert_eq!(
        refusal(store.set_constraint(b, &name("Assets:Alpha Only"), &floor)),
        "not_found"
    );
    let into_alpha = transfer("2024-03-01", "Assets:Alpha Only", "Assets:Bank", "1", "USD");
    assert_eq!(
        refusal(store.create_entry(b, &request(into_alpha))),
        "unknown_account"
    );
    // Keys are per tenant: the same key in the other tenant is a new request.
    let own = store
        .create_entry(b, &keyed("k", salary()))
        .expect("fresh in beta");
    assert_ne!(own, paid);

    // Alpha's books are as alpha left them.
    assert_eq!(
        store.entry(a, held).expect("read").expect("found").status,
        Some(PendingStatus::Pending)
    );
    assert_eq!(
        store
            .entry(a, paid)
            .expect("read")
            .expect("found")
            .reversed_by,
        None
    );
    assert_eq!(
        store
            .account(a, &name("Assets:Alpha Only"))
            .expect("read")
            .and_then(|acc| acc.closed),
        None
    );
    assert_eq!(
        balance(store, a, "Assets:Bank", "USD", "2024-12-31"),
        300_000
    );
    assert_eq!(
        store.expire_pending(a, Timestamp(100)).expect("expiry"),
        [held]
    );
}

fn unknown_tenants_are_refused(store: &mut impl Store) {
    let ghost = TenantId(4_242);
    assert_eq!(refusal(store.commodities(ghost)), "unknown_tenant");
    assert_eq!(
        refusal(store.create_entry(ghost, &request(salary()))),
        "unknown_tenant"
    );
    assert_eq!(refusal(store.accounts(ghost)), "unknown_tenant");
    assert_eq!(refusal(store.entries(ghost, None, 10)), "unknown_tenant");
    assert_eq!(
        store
            .tenant(&TenantSlug::new("ghost").expect("slug"))
            .expect("read"),
        None
    );
}

/// `entries` walks the book in (date, id) order, page by page, whatever order it was written
/// in, pending entries included; `tenants` lists every tenant.
fn entries_page_in_journal_order(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    seed(store, "globex");
    let dates = [
        "2024-03-01",
        "2024-01-05",
        "2024-03-01",
        "2024-02-10",
        "2024-01-05",
    ];
    for date in dates {
        let entry = transfer(date, "Expenses:Food", "Assets:Bank", "1.00", "USD");
        store
            .create_entry(tenant, &request(entry))
            .expect("written");
    }
    let mut hold = transfer("2024-02-10", "Expenses:Food", "Assets:Bank", "2", "USD");
    hold.pending = Some(PendingTerms { expires_at: None });
    let held = store
        .create_entry(tenant, &request(hold))
        .expect("reserved");
    let mut walked = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.entries(tenant, cursor, 2).expect("page");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        cursor = Some(last.cursor());
        walked.extend(
            page.into_iter()
                .map(|stored| (stored.entry.date, stored.id)),
        );
    }
    let mut sorted = walked.clone();
    sorted.sort();
    assert_eq!(walked, sorted);
    assert_eq!(walked.len(), 6);
    let whole = store.entries(tenant, None, 100).expect("read");
    let pending = whole
        .iter()
        .find(|stored| stored.id == held)
        .expect("listed");
    assert_eq!(pending.status, Some(PendingStatus::Pending));
    let slugs: Vec<String> = store
        .tenants()
        .expect("tenants")
        .into_iter()
        .map(|(_, slug)| slug.to_string())
        .collect();
    assert_eq!(slugs, ["acme", "globex"]);
}

fn chart_round_trips(store: &mut impl Store) {
    let tenant = seed(store, "acme");
    let mut account = Account::new(
        name("Liabilities:Card:Visa"),
        AccountType::Liability,
        day("2024-01-01"),
    );
    account.commodities = vec![code("USD")];
    account.constraints = vec![BalanceConstraint {
        commodity: code("USD"),
        min: Some(Amount(-100_000)),
        max: None,
    }];
    store.create_account(tenant, &account).expect("account");
    assert_eq!(
        store.account(tenant, &account.name).expect("read"),
        Some(account.clone())
    );
    assert_eq!(
        refusal(store.create_account(tenant, &account)),
        "already_exists"
    );
    let card = transfer(
        "2024-02-01",
        "Expenses:Food",
        "Liabilities:Card:Visa",
        "1",
        "JPY",
    );
    assert_eq!(
        refusal(store.create_entry(tenant, &request(card))),
        "commodity_not_allowed"
    );
    let codes: Vec<String> = store
        .commodities(tenant)
        .expect("read")
        .into_iter()
        .map(|c| c.code.to_string())
        .collect();
    assert_eq!(codes, ["JPY", "USD"]);
    assert_eq!(store.accounts(tenant).expect("read").len(), 6);
}

macro_rules! store_tests {
    ($open:expr; $($test:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                let db = TempDb::new(stringify!($test));
                let mut store = $open(&db);
                super::tests::$test(&mut store);
            }
        )*
    };
}

mod sqlite {
    use super::TempDb;
    store_tests!(TempDb::open;
        entries_round_trip,
        invalid_entries_are_refused_and_write_nothing,
        balances_at_dates_follow_back_dated_entries,
        idempotency_keys_replay_conflict_and_keep_failures,
        constraints_are_checked_in_the_write,
        linked_batches_are_all_or_nothing,
        batch_size_limits,
        reversals_undo_once,
        pending_entries_reserve_post_void_and_expire,
        overflowing_balances_are_refused,
        tenants_are_isolated_through_every_method,
        unknown_tenants_are_refused,
        chart_round_trips,
        entries_page_in_journal_order,
    );
}

// ---- SQLite only ----

#[test]
fn sqlite_opens_in_wal_with_full_sync_and_foreign_keys() {
    let db = TempDb::new("settings");
    let settings = db.open().settings().expect("settings");
    assert_eq!(
        settings,
        Settings {
            journal_mode: "wal".into(),
            synchronous: "2".into(),
            foreign_keys: true
        }
    );
}

#[test]
fn sqlite_migrations_apply_once_and_keep_data() {
    let db = TempDb::new("reopen");
    let tenant = {
        let mut store = db.open();
        assert_eq!(
            store.schema_version().expect("version"),
            MIGRATIONS.len() as i64
        );
        seed(&mut store, "acme")
    };
    let mut store = db.open();
    assert_eq!(
        store.schema_version().expect("version"),
        MIGRATIONS.len() as i64
    );
    assert_eq!(
        store
            .tenant(&TenantSlug::new("acme").expect("slug"))
            .expect("read"),
        Some(tenant)
    );
}

#[test]
fn sqlite_refuses_a_database_newer_than_the_binary() {
    let db = TempDb::new("too-new");
    drop(db.open());
    let raw = rusqlite::Connection::open(&db.path).expect("raw");
    raw.execute("UPDATE schema_version SET version = 99", [])
        .expect("bumped");
    drop(raw);
    match SqliteStore::open(&db.path) {
        Err(StoreError::DatabaseTooNew { database, binary }) => {
            assert_eq!((database, binary), (99, MIGRATIONS.len() as i64))
        }
        other => panic!("expected database_too_new, got {other:?}"),
    }
}

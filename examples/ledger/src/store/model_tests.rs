//! A property test: random sequences of valid and invalid operations (transfers, refused
//! entries, reversals, holds, voids) over two tenants, run against `SqliteStore` and against
//! a small in-memory model. After every step the balances agree (at the end of the books and
//! at a date in the middle), Bank's reservations agree, and each tenant's trial balance is
//! zero per commodity. The model knows one rule beyond balancing: `Assets:Bank` may not go
//! below zero in USD, counting reservations.

use super::tests::{TempDb, assert_trial_balance_is_zero, code, day, name, seed, transfer};
use super::{EntryRequest, Store, StoreError};
use crate::domain::{Amount, BalanceConstraint, Date, EntryId, PendingTerms, TenantId, Timestamp};
use proptest::prelude::*;

const ACCOUNTS: [&str; 4] = [
    "Assets:Bank",
    "Assets:Cash",
    "Expenses:Food",
    "Income:Salary",
];
const COMMODITIES: [(&str, u8); 2] = [("USD", 2), ("JPY", 0)];

#[derive(Clone, Debug)]
enum Op {
    Transfer {
        tenant: usize,
        debit: usize,
        credit: usize,
        units: i64,
        commodity: usize,
        day: i32,
    },
    OverPrecise {
        tenant: usize,
    },
    Reverse {
        tenant: usize,
        pick: usize,
    },
    Hold {
        tenant: usize,
        debit: usize,
        credit: usize,
        units: i64,
        commodity: usize,
    },
    Void {
        tenant: usize,
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let pair = (0..4usize, 1..4usize).prop_map(|(debit, step)| (debit, (debit + step) % 4));
    prop_oneof![
        4 => (0..2usize, pair.clone(), 1..5_000i64, 0..2usize, 0..60i32).prop_map(|(tenant, (debit, credit), units, commodity, day)| {
            Op::Transfer { tenant, debit, credit, units, commodity, day }
        }),
        1 => (0..2usize).prop_map(|tenant| Op::OverPrecise { tenant }),
        1 => (0..2usize, any::<usize>()).prop_map(|(tenant, pick)| Op::Reverse { tenant, pick }),
        1 => (0..2usize, pair, 1..5_000i64, 0..2usize).prop_map(|(tenant, (debit, credit), units, commodity)| {
            Op::Hold { tenant, debit, credit, units, commodity }
        }),
        1 => (0..2usize, any::<usize>()).prop_map(|(tenant, pick)| Op::Void { tenant, pick }),
    ]
}

type Key = (usize, &'static str, &'static str); // tenant, account, commodity
type Changes = Vec<(&'static str, &'static str, i64)>; // account, commodity, delta

/// What the books should hold.
#[derive(Default)]
struct Model {
    /// Posted deltas with their day.
    posted: Vec<(Key, Date, i64)>,
    /// Posted entries: tenant, id, date, changes, reversed.
    entries: Vec<(usize, EntryId, Date, Changes, bool)>,
    /// Open holds: tenant, id, changes.
    holds: Vec<(usize, EntryId, Changes)>,
}

impl Model {
    fn total(&self, key: Key, until: Option<Date>) -> i64 {
        self.posted
            .iter()
            .filter(|(k, d, _)| *k == key && until.is_none_or(|u| *d <= u))
            .map(|(_, _, v)| v)
            .sum()
    }

    fn bank_reserved(&self, tenant: usize) -> i64 {
        let credits = self
            .holds
            .iter()
            .filter(|(t, _, _)| *t == tenant)
            .flat_map(|(_, _, c)| c.iter());
        credits
            .filter(|(a, c, v)| *a == "Assets:Bank" && *c == "USD" && *v < 0)
            .map(|(_, _, v)| v)
            .sum()
    }

    /// Whether Bank's floor lets `changes` through (posted or reserved alike).
    fn floor_allows(&self, tenant: usize, changes: &Changes) -> bool {
        let delta: i64 = changes
            .iter()
            .filter(|(a, c, _)| *a == "Assets:Bank" && *c == "USD")
            .map(|(_, _, v)| v)
            .sum();
        let lowest = self.total((tenant, "Assets:Bank", "USD"), None) + self.bank_reserved(tenant);
        delta >= 0 || lowest + delta >= 0
    }
}

fn changes(debit: usize, credit: usize, units: i64, commodity: usize) -> Changes {
    let commodity = COMMODITIES[commodity].0;
    vec![
        (ACCOUNTS[debit], commodity, units),
        (ACCOUNTS[credit], commodity, -units),
    ]
}

fn entry_for(
    date: Date,
    debit: usize,
    credit: usize,
    units: i64,
    commodity: usize,
) -> EntryRequest {
    let (code, places) = COMMODITIES[commodity];
    let amount = Amount(units).format(places);
    let mut entry = transfer(
        "2024-01-01",
        ACCOUNTS[debit],
        ACCOUNTS[credit],
        &amount,
        code,
    );
    entry.date = date;
    EntryRequest { key: None, entry }
}

fn start() -> Date {
    day("2024-01-01")
}

fn offset(days: i32) -> Date {
    Date::from_days_since_epoch(start().days_since_epoch() + days).expect("in range")
}

fn step(
    store: &mut impl Store,
    tenants: &[TenantId],
    model: &mut Model,
    op: Op,
) -> Result<(), TestCaseError> {
    match op {
        Op::Transfer {
            tenant,
            debit,
            credit,
            units,
            commodity,
            day,
        } => {
            let wanted = changes(debit, credit, units, commodity);
            let result = store.create_entry(
                tenants[tenant],
                &entry_for(offset(day), debit, credit, units, commodity),
            );
            prop_assert_eq!(
                result.is_ok(),
                model.floor_allows(tenant, &wanted),
                "{:?}",
                result
            );
            if let Ok(id) = result {
                for (account, commodity, delta) in &wanted {
                    model
                        .posted
                        .push(((tenant, account, commodity), offset(day), *delta));
                }
                model.entries.push((tenant, id, offset(day), wanted, false));
            }
        }
        Op::OverPrecise { tenant } => {
            let mut request = entry_for(start(), 0, 1, 1, 0);
            request.entry.postings[0].amount =
                crate::domain::Decimal::parse("0.001").expect("decimal");
            request.entry.postings[1].amount =
                crate::domain::Decimal::parse("-0.001").expect("decimal");
            let result = store.create_entry(tenants[tenant], &request);
            prop_assert_eq!(result.map_err(|e| e.code()), Err("precision"));
        }
        Op::Reverse { tenant, pick } => {
            let mine: Vec<usize> = (0..model.entries.len())
                .filter(|&i| model.entries[i].0 == tenant)
                .collect();
            let Some(&index) = mine.get(pick % mine.len().max(1)) else {
                return Ok(());
            };
            let (_, id, date, original, reversed) = model.entries[index].clone();
            let negated: Changes = original.iter().map(|(a, c, v)| (*a, *c, -v)).collect();
            let result = store.reverse_entry(tenants[tenant], id, date);
            match (reversed, model.floor_allows(tenant, &negated)) {
                (true, _) => prop_assert_eq!(result.map_err(|e| e.code()), Err("already_reversed")),
                (false, false) => prop_assert_eq!(result.map_err(|e| e.code()), Err("constraint")),
                (false, true) => {
                    prop_assert!(result.is_ok(), "{:?}", result);
                    for (account, commodity, delta) in &negated {
                        model
                            .posted
                            .push(((tenant, account, commodity), date, *delta));
                    }
                    model.entries[index].4 = true;
                }
            }
        }
        Op::Hold {
            tenant,
            debit,
            credit,
            units,
            commodity,
        } => {
            let wanted = changes(debit, credit, units, commodity);
            let mut request = entry_for(start(), debit, credit, units, commodity);
            request.entry.pending = Some(PendingTerms { expires_at: None });
            let result = store.create_entry(tenants[tenant], &request);
            prop_assert_eq!(
                result.is_ok(),
                model.floor_allows(tenant, &wanted),
                "{:?}",
                result
            );
            if let Ok(id) = result {
                model.holds.push((tenant, id, wanted));
            }
        }
        Op::Void { tenant, pick } => {
            let mine: Vec<usize> = (0..model.holds.len())
                .filter(|&i| model.holds[i].0 == tenant)
                .collect();
            let Some(&index) = mine.get(pick % mine.len().max(1)) else {
                return Ok(());
            };
            let (_, id, _) = model.holds.remove(index);
            prop_assert!(
                store
                    .void_pending(tenants[tenant], id, Timestamp(0))
                    .is_ok()
            );
        }
    }
    Ok(())
}

fn check(store: &mut impl Store, tenants: &[TenantId], model: &Model) -> Result<(), TestCaseError> {
    for (index, &tenant) in tenants.iter().enumerate() {
        for at in [Some(offset(20)), None] {
            let date = at.unwrap_or_else(|| offset(365));
            for account in ACCOUNTS {
                for (commodity, _) in COMMODITIES {
                    let stored = store
                        .balance(tenant, &name(account), &code(commodity), date)
                        .map_err(fail)?;
                    prop_assert_eq!(
                        stored.0,
                        model.total((index, account, commodity), at),
                        "{} {} at {}",
                        account,
                        commodity,
                        date
                    );
                }
            }
            assert_trial_balance_is_zero(store, tenant, date);
        }
        let state = store
            .balance_state(tenant, &name("Assets:Bank"), &code("USD"))
            .map_err(fail)?;
        prop_assert_eq!(state.pending_credits.0, model.bank_reserved(index));
    }
    let report = store.check(None).map_err(fail)?;
    prop_assert!(
        report.is_clean(),
        "check after a step: {:?}",
        report.problems
    );
    Ok(())
}

fn fail(error: StoreError) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_store_agrees_with_a_model_after_every_step(ops in proptest::collection::vec(op(), 1..40)) {
        let db = TempDb::new("model");
        let mut store = db.open();
        let tenants = [seed(&mut store, "one"), seed(&mut store, "two")];
        let floor = BalanceConstraint { commodity: code("USD"), min: Some(Amount(0)), max: None };
        for &tenant in &tenants {
            store.set_constraint(tenant, &name("Assets:Bank"), &floor).map_err(fail)?;
        }
        let mut model = Model::default();
        for op in ops {
            step(&mut store, &tenants, &mut model, op)?;
            check(&mut store, &tenants, &model)?;
        }
    }
}

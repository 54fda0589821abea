//! Reconciliation pages through `TestClient`: starting one, ticking over htmx (the difference
//! answered as a fragment), saving ticks without JavaScript, finishing only at zero, the
//! register's reconciled marks, a liability's statement typed as the statement shows it,
//! viewers held to reading and another organisation's reconciliation not found.

use super::TempDb;
use kiln::test::{TestClient, TestResponse};
use ledger::domain::{
    Account, AccountName, AccountType, Commodity, Date, Decimal, DisplayName, Email, EntryId,
    NewEntry, NewPosting, Role, TenantSlug,
};
use ledger::service::{Ledger, WriterConfig, password::hash_password};
use ledger::store::{EntryRequest, SqliteStore, Store, system_clock};
use ledger::web::Cookies;

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";
const PASSWORD: &str = "a good long password";

struct Books {
    db: TempDb,
    pay: EntryId,
    lunch: EntryId,
    card: EntryId,
}

/// `acme` with a bank, a card and income/expense accounts, three entries, an accountant
/// (`ann`) and a viewer (`vic`); `other` with its own member (`oz`).
fn books(name: &str) -> Books {
    let db = TempDb::new(name);
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let acme = store
        .create_tenant(&TenantSlug::new("acme").unwrap())
        .expect("tenant");
    let other = store
        .create_tenant(&TenantSlug::new("other").unwrap())
        .expect("tenant");
    store
        .create_commodity(acme, &Commodity::new("USD", 2).unwrap())
        .expect("usd");
    for name in [
        "Assets:Bank",
        "Liabilities:Card",
        "Income:Sales",
        "Expenses:Food",
    ] {
        let name = AccountName::new(name).unwrap();
        let kind = AccountType::infer(&name).unwrap();
        store
            .create_account(
                acme,
                &Account::new(name, kind, Date::parse("2024-01-01").unwrap()),
            )
            .expect("account");
    }
    let mut write = |date: &str, debit: &str, credit: &str, amount: &str| {
        let posting = |account: &str, amount: &str| NewPosting {
            account: AccountName::new(account).unwrap(),
            commodity: ledger::domain::CommodityCode::new("USD").unwrap(),
            amount: Decimal::parse(amount).unwrap(),
        };
        let entry = NewEntry {
            date: Date::parse(date).unwrap(),
            description: format!("{debit} from {credit}"),
            payee: None,
            tags: Default::default(),
            metadata: Default::default(),
            postings: vec![
                posting(debit, amount),
                posting(credit, &format!("-{amount}")),
            ],
            pending: None,
        };
        store
            .create_entry(acme, &EntryRequest { key: None, entry })
            .expect("entry")
    };
    let pay = write("2024-03-01", "Assets:Bank", "Income:Sales", "100.00");
    let lunch = write("2024-03-05", "Expenses:Food", "Assets:Bank", "12.50");
    let card = write("2024-03-06", "Expenses:Food", "Liabilities:Card", "20.00");
    let hash = hash_password(PASSWORD).expect("hash");
    for (email, tenant, role) in [
        ("ann@example.com", acme, Role::Accountant),
        ("vic@example.com", acme, Role::Viewer),
        ("oz@example.com", other, Role::Owner),
    ] {
        let user = store
            .create_user(
                &Email::parse(email).unwrap(),
                &DisplayName::parse(email).unwrap(),
                &hash,
                system_clock(),
            )
            .expect("user");
        store.add_member(tenant, user, role).expect("member");
    }
    Books {
        db,
        pay,
        lunch,
        card,
    }
}

fn signed_in(db: &TempDb, email: &str) -> TestClient {
    let ledger = Ledger::open(&db.0, &WriterConfig::default()).expect("ledger");
    let client = TestClient::new(ledger::web::app(ledger, SECRET, Cookies::Secure).expect("app"));
    client.get("/login").send();
    client
        .post("/login")
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .assert_redirect_to("/");
    client
}

fn start(client: &TestClient, account: &str, balance: &str) -> TestResponse {
    client.get("/reconcile").send();
    client
        .post("/reconcile")
        .form(&[
            ("account", account),
            ("commodity", "USD"),
            ("statement_date", "2024-03-31"),
            ("statement_balance", balance),
        ])
        .send()
}

fn tick(client: &TestClient, at: &str, line: EntryId, ticked: &[EntryId]) -> TestResponse {
    let mut form = vec![("line".to_owned(), line.0.to_string())];
    for entry in ticked {
        form.push(("entry".to_owned(), entry.0.to_string()));
    }
    client
        .post(&format!("{at}/toggle"))
        .htmx()
        .form(&form)
        .send()
}

#[test]
fn a_bank_statement_is_ticked_over_htmx_and_finished_at_zero() {
    let books = books("web-reconcile");
    let client = signed_in(&books.db, "ann@example.com");
    let at = start(&client, "Assets:Bank", "87.50")
        .redirect_target()
        .expect("to the reconciliation");
    let page = client.get(&at).send();
    page.assert_status(200);
    assert!(
        page.text()
            .contains("Difference: <strong class=\"num\">87.50 USD</strong>"),
        "{}",
        page.text()
    );
    assert_eq!(
        page.text().matches(r#"type="checkbox""#).count(),
        2,
        "pay and lunch"
    );

    let first = tick(&client, &at, books.pay, &[books.pay]);
    first.assert_status(200);
    assert!(!first.text().contains("<html"), "a fragment");
    assert!(first.text().contains("-12.50 USD"), "{}", first.text());
    let early = client.post(&format!("{at}/finish")).send();
    early.assert_status(422);
    assert!(early.text().contains("not zero"));
    let matched = tick(&client, &at, books.lunch, &[books.pay, books.lunch]);
    assert!(
        matched.text().contains("the statement is matched"),
        "{}",
        matched.text()
    );
    client
        .post(&format!("{at}/finish"))
        .send()
        .assert_redirect_to("/reconcile");
    let list = client.get("/reconcile").send();
    assert!(list.text().contains("finished: its entries are reconciled"));
    assert!(list.text().contains("✓ reconciled"));
    let register = client.get("/accounts/Assets%3ABank/register").send();
    assert_eq!(register.text().matches("✓ reconciled").count(), 2);
    // A finished reconciliation takes no more ticks.
    tick(&client, &at, books.pay, &[]).assert_status(422);
}

#[test]
fn ticks_save_without_javascript_and_a_card_statement_reads_as_printed() {
    let books = books("web-reconcile-card");
    let client = signed_in(&books.db, "ann@example.com");
    // The card statement says 20.00 owed; the ledger keeps the liability at -20.00.
    let at = start(&client, "Liabilities:Card", "20.00")
        .redirect_target()
        .expect("to the reconciliation");
    let page = client.get(&at).send();
    assert!(
        page.text().contains("20.00 USD</strong>."),
        "{}",
        page.text()
    );
    client
        .post(&format!("{at}/ticks"))
        .form(&[("entry", books.card.0.to_string())])
        .send()
        .assert_redirect_to(&at);
    let after = client.get(&at).send();
    assert!(
        after.text().contains("the statement is matched"),
        "{}",
        after.text()
    );
    // A second open reconciliation of the same account is refused with the reason.
    let again = start(&client, "Liabilities:Card", "0.00");
    again.assert_status(422);
    assert!(again.text().contains("still open"));
}

#[test]
fn viewers_and_other_organisations_cannot_reconcile() {
    let books = books("web-reconcile-roles");
    let ann = signed_in(&books.db, "ann@example.com");
    let at = start(&ann, "Assets:Bank", "87.50")
        .redirect_target()
        .expect("to the reconciliation");
    let vic = signed_in(&books.db, "vic@example.com");
    vic.get(&at).send().assert_status(200);
    start(&vic, "Assets:Bank", "1.00").assert_status(403);
    tick(&vic, &at, books.pay, &[books.pay]).assert_status(403);
    vic.post(&format!("{at}/finish")).send().assert_status(403);
    let oz = signed_in(&books.db, "oz@example.com");
    oz.get(&at).send().assert_status(404);
    oz.post(&format!("{at}/finish")).send().assert_status(404);
    tick(&oz, &at, books.pay, &[books.pay]).assert_status(404);
}

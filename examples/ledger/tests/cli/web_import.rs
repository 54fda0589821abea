//! The import pages through `TestClient`, with multipart uploads as a browser sends them
//! (the CSRF token in the form): a journal previewed then confirmed, its problems shown by line
//! with nothing written, a bank CSV with its mapping imported once and skipped the second
//! time, a refusal only the write finds shown at its line, the size and entry limits, viewers
//! and CSRF refused, and a preview that belongs to one person in one organisation.

use super::TempDb;
use kiln::test::{TestClient, TestResponse};
use ledger::domain::{
    Account, AccountName, AccountType, Amount, Commodity, CommodityCode, Date, DisplayName, Email,
    Role, TenantSlug,
};
use ledger::limits::{WEB_IMPORT_ENTRIES_MAX, WEB_IMPORT_FILE_BYTES_MAX};
use ledger::service::{Ledger, WriterConfig, password::hash_password};
use ledger::store::{SqliteStore, Store, system_clock};
use ledger::web::Cookies;

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";
const PASSWORD: &str = "a good long password";

const JOURNAL: &str = "2024-03-01 Invoice 17
    Assets:Bank          100.00 USD
    Income:Consulting

2024-03-02 Coffee & cake
    Expenses:Food          4.50 USD
    Assets:Bank           -4.50 USD = 95.50 USD
";

const RULES: &str = "skip 1
fields date, description, amount
date-format %d/%m/%Y
account Assets:Bank
currency USD
default-account Expenses:Unsorted
if grocer -> Expenses:Food
";

const STATEMENT: &str = "Date,Description,Amount
05/03/2024,GROCER ON MAIN,-12.30
06/03/2024,Transfer from savings,50.00
";

/// `acme` (USD, Assets:Bank, Income:Sales) with `ann` (accountant) and `vic` (viewer); `other`
/// with its owner `oz`.
fn books(name: &str) -> TempDb {
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
    for name in ["Assets:Bank", "Income:Sales"] {
        let name = AccountName::new(name).unwrap();
        let kind = AccountType::infer(&name).unwrap();
        store
            .create_account(
                acme,
                &Account::new(name, kind, Date::parse("2024-01-01").unwrap()),
            )
            .expect("account");
    }
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
    db
}

fn app(db: &TempDb) -> kiln::app::App<ledger::web::WebState> {
    let ledger = Ledger::open(&db.0, &WriterConfig::default()).expect("ledger");
    ledger::web::app(ledger, SECRET, Cookies::Secure).expect("app")
}

fn sign_in(client: &TestClient, email: &str) {
    client.clear_cookies();
    client.get("/login").send();
    client
        .post("/login")
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .assert_redirect_to("/");
    client.get("/import").send();
}

fn bank_balance(db: &TempDb) -> Amount {
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let acme = store
        .tenant(&TenantSlug::new("acme").unwrap())
        .expect("read")
        .expect("acme");
    store
        .balance(
            acme,
            &AccountName::new("Assets:Bank").unwrap(),
            &CommodityCode::new("USD").unwrap(),
            Date::parse("2099-12-31").unwrap(),
        )
        .expect("balance")
}

/// Uploads one journal file, as the import form sends it.
fn upload_journal(client: &TestClient, name: &str, text: impl AsRef<[u8]>) -> TestResponse {
    client
        .post("/import")
        .multipart(&[("kind", "journal")], &[("file", name, text.as_ref())])
        .send()
}

/// The confirm form's action on a preview page.
fn confirm_path(page: &str) -> String {
    let start = page.find("/import/").expect("a confirm form");
    let end = start + page[start..].find("/confirm").expect("confirm");
    format!("{}/confirm", &page[start..end])
}

#[test]
fn a_journal_is_previewed_then_imported_in_one_go() {
    let db = books("web-import-journal");
    let client = TestClient::new(app(&db));
    sign_in(&client, "ann@example.com");
    let form = client.get("/import").send();
    form.assert_status(200)
        .assert_contains(r#"enctype="multipart/form-data""#);
    let preview = upload_journal(&client, "march.journal", JOURNAL.as_bytes());
    preview
        .assert_status(200)
        .assert_contains("Import preview: march.journal")
        .assert_contains("<strong>2</strong> entries")
        .assert_contains("New accounts: Expenses:Food, Income:Consulting")
        .assert_contains("1 balance assertion checked")
        .assert_contains("Coffee &amp; cake");
    // Nothing is written by the preview.
    assert_eq!(bank_balance(&db), Amount(0));
    let confirm = confirm_path(preview.text());
    client.post(&confirm).send().assert_redirect_to("/");
    let home = client.get("/").send();
    home.assert_contains("Imported 2 entries from march.journal, creating 2 accounts.");
    assert_eq!(bank_balance(&db), Amount(9_550));
    // A preview is used once.
    client.post(&confirm).send().assert_status(404);
    assert_eq!(bank_balance(&db), Amount(9_550));
    // The audit log names the person.
    client.get("/audit").send().assert_contains("entry.created");
}

#[test]
fn a_journal_with_problems_shows_each_at_its_line_and_writes_nothing() {
    let db = books("web-import-problems");
    let client = TestClient::new(app(&db));
    sign_in(&client, "ann@example.com");
    let broken = "2024-13-01 Bad date\n    Assets:Bank  10.00 USD\n    Income:Sales\n\n2024-03-02 Bad amount\n    Assets:Bank  1.0.0 USD\n    Income:Sales\n";
    let page = upload_journal(&client, "bad.journal", broken.as_bytes());
    page.assert_status(422)
        .assert_contains("Nothing can be imported yet")
        .assert_contains("nothing was written")
        .assert_not_contains("/confirm");
    let text = page.text();
    assert!(
        text.contains(">1</td>") && text.contains(">6</td>"),
        "{text}"
    );
    assert_eq!(bank_balance(&db), Amount(0));
    // A balance assertion that does not hold is a problem too.
    let wrong = "2024-03-01 Pay\n    Assets:Bank  10.00 USD = 11.00 USD\n    Income:Sales\n";
    upload_journal(&client, "a.journal", wrong.as_bytes())
        .assert_status(422)
        .assert_contains("11.00");
}

#[test]
fn a_bank_csv_is_imported_with_its_mapping_and_skipped_the_second_time() {
    let db = books("web-import-csv");
    let client = TestClient::new(app(&db));
    sign_in(&client, "ann@example.com");
    let preview = client
        .post("/import")
        .multipart(
            &[("kind", "csv"), ("rules", RULES)],
            &[("file", "march.csv", STATEMENT.as_bytes())],
        )
        .send();
    preview
        .assert_status(200)
        .assert_contains("<strong>2</strong> entries")
        .assert_contains("New accounts: Expenses:Food, Expenses:Unsorted")
        .assert_contains("GROCER ON MAIN");
    client
        .post(&confirm_path(preview.text()))
        .send()
        .assert_redirect_to("/");
    assert_eq!(bank_balance(&db), Amount(5_000 - 1_230));
    // The same statement again, the rules as a file this time: every row is there already.
    let again = client
        .post("/import")
        .multipart(
            &[("kind", "csv")],
            &[
                ("file", "march.csv", STATEMENT.as_bytes()),
                ("rules_file", "bank.rules", RULES.as_bytes()),
            ],
        )
        .send();
    again
        .assert_status(200)
        .assert_contains("2 rows already in the books, skipped")
        .assert_contains("Nothing new to import")
        .assert_not_contains("/confirm");
    // Problems in the mapping are shown at their rules line.
    let bad_rules = client
        .post("/import")
        .multipart(
            &[
                ("kind", "csv"),
                ("rules", "fields date, amount\nnonsense here\n"),
            ],
            &[("file", "march.csv", STATEMENT.as_bytes())],
        )
        .send();
    bad_rules
        .assert_status(422)
        .assert_contains("The mapping has")
        .assert_contains("Rules line");
    // A row the mapping cannot read is shown at its CSV line.
    let bad_row = "Date,Description,Amount\n05/03/2024,Fine,-1.00\n31/02/2024,No such day,2.00\n";
    client
        .post("/import")
        .multipart(
            &[("kind", "csv"), ("rules", RULES)],
            &[("file", "bad.csv", bad_row.as_bytes())],
        )
        .send()
        .assert_status(422)
        .assert_contains(">3</td>");
}

#[test]
fn a_refusal_only_the_write_finds_is_shown_at_its_line() {
    let db = books("web-import-refused");
    let client = TestClient::new(app(&db));
    sign_in(&client, "ann@example.com");
    let preview = upload_journal(&client, "march.journal", JOURNAL.as_bytes());
    preview.assert_status(200);
    // Between preview and confirmation the bank account is closed (by someone else).
    {
        let mut store = SqliteStore::open(&db.0).expect("opens");
        let acme = store
            .tenant(&TenantSlug::new("acme").unwrap())
            .expect("read")
            .expect("acme");
        store
            .close_account(
                acme,
                &AccountName::new("Assets:Bank").unwrap(),
                Date::parse("2024-02-01").unwrap(),
            )
            .expect("closed");
    }
    let refused = client.post(&confirm_path(preview.text())).send();
    refused
        .assert_status(422)
        .assert_contains("Nothing can be imported yet")
        .assert_contains(">1</td>");
    assert_eq!(bank_balance(&db), Amount(0));
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let acme = store
        .tenant(&TenantSlug::new("acme").unwrap())
        .expect("read")
        .expect("acme");
    let names: Vec<String> = store
        .accounts(acme)
        .expect("accounts")
        .iter()
        .map(|a| a.name.to_string())
        .collect();
    assert!(
        !names.contains(&"Income:Consulting".to_owned()),
        "{names:?}"
    );
}

#[test]
fn the_import_limits_are_enforced_with_a_reason() {
    let db = books("web-import-limits");
    let client = TestClient::new(app(&db));
    sign_in(&client, "ann@example.com");
    let big = vec![b';'; WEB_IMPORT_FILE_BYTES_MAX + 1];
    upload_journal(&client, "big.journal", &big)
        .assert_status(422)
        .assert_contains("use `ledger import` for bigger files");
    let mut many = String::new();
    for i in 0..=WEB_IMPORT_ENTRIES_MAX {
        many.push_str(&format!(
            "2024-03-01 Sale {i}\n    Assets:Bank  1.00 USD\n    Income:Sales\n\n"
        ));
    }
    upload_journal(&client, "many.journal", many.as_bytes())
        .assert_status(422)
        .assert_contains(&format!("writes at most {WEB_IMPORT_ENTRIES_MAX} at once"))
        .assert_not_contains("/confirm");
    // No file, no kind, a file that is not text.
    client
        .post("/import")
        .multipart(&[("kind", "journal")], &[])
        .send()
        .assert_status(422)
        .assert_contains("Choose a file");
    client
        .post("/import")
        .multipart(&[], &[("file", "a.journal", b"x")])
        .send()
        .assert_status(422)
        .assert_contains("Choose a journal or a bank CSV");
    client
        .post("/import")
        .multipart(
            &[("kind", "journal")],
            &[("file", "a.journal", &[0xff, 0xfe])],
        )
        .send()
        .assert_status(422)
        .assert_contains("not UTF-8");
    assert_eq!(bank_balance(&db), Amount(0));
}

#[test]
fn viewers_csrf_and_other_people_are_refused() {
    let db = books("web-import-refusals");
    let client = TestClient::new(app(&db));
    sign_in(&client, "vic@example.com");
    client.get("/import").send().assert_status(403);
    upload_journal(&client, "a.journal", JOURNAL.as_bytes()).assert_status(403);
    sign_in(&client, "ann@example.com");
    client
        .post("/import")
        .without_csrf()
        .multipart(
            &[("kind", "journal")],
            &[("file", "a.journal", JOURNAL.as_bytes())],
        )
        .send()
        .assert_status(403);
    let preview = upload_journal(&client, "a.journal", JOURNAL.as_bytes());
    let confirm = confirm_path(preview.text());
    // Another organisation's owner cannot confirm (or learn of) ann's preview.
    sign_in(&client, "oz@example.com");
    client.post(&confirm).send().assert_status(404);
    // Nor a viewer of the same organisation.
    sign_in(&client, "vic@example.com");
    client.post(&confirm).send().assert_status(403);
    // Cancelled, it is gone.
    sign_in(&client, "ann@example.com");
    let cancel = confirm.replace("/confirm", "/cancel");
    client.post(&cancel).send().assert_redirect_to("/import");
    client.post(&confirm).send().assert_status(404);
    client.post(&cancel).send().assert_status(404);
    assert_eq!(bank_balance(&db), Amount(0));
}

//! The books' pages through `TestClient`: the accounts tree, creating and closing accounts, the
//! register (rows, filters, pages, the htmx fragment), a new entry (live balancing feedback,
//! refusals by row, one entry for a double submit), an entry and its reversal, viewers held to
//! reading (403), and another organisation's ids and names answered 404.

use super::TempDb;
use kiln::test::{TestClient, TestResponse};
use ledger::domain::{DisplayName, Email, Role, TenantSlug};
use ledger::service::{Ledger, WriterConfig, password::hash_password};
use ledger::store::{SqliteStore, Store, system_clock};
use ledger::web::Cookies;

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";
const PASSWORD: &str = "a good long password";

/// The demo book, an accountant (`ann`) and a viewer (`vic`) of it, and a second tenant.
fn books(name: &str) -> TempDb {
    let db = TempDb::new(name);
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let today = ledger::domain::Date::of_timestamp(system_clock()).expect("today");
    let demo = ledger::seed::seed_demo(&mut store, today).expect("demo");
    let hash = hash_password(PASSWORD).expect("hash");
    for (email, role) in [
        ("ann@example.com", Role::Accountant),
        ("vic@example.com", Role::Viewer),
    ] {
        let user = store
            .create_user(
                &Email::parse(email).unwrap(),
                &DisplayName::parse(email).unwrap(),
                &hash,
                system_clock(),
            )
            .expect("user");
        store.add_member(demo, user, role).expect("member");
    }
    store
        .create_tenant(&TenantSlug::new("other").unwrap())
        .expect("tenant");
    db
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

fn form_value(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).expect("the field") + marker.len();
    html[start..].split('"').next().unwrap_or("").to_owned()
}

fn today() -> String {
    ledger::domain::Date::of_timestamp(system_clock())
        .expect("today")
        .to_string()
}

fn post_entry(client: &TestClient, key: &str, rows: &[(&str, &str)]) -> TestResponse {
    let today = today();
    let mut form: Vec<(&str, &str)> = vec![
        ("date", today.as_str()),
        ("description", "Office chairs"),
        ("payee", "Desk Depot"),
        ("idempotency_key", key),
    ];
    for (account, amount) in rows {
        form.push(("account", account));
        form.push(("amount", amount));
        form.push(("commodity", "USD"));
    }
    client.post("/entries/new").form(&form).send()
}

#[test]
fn the_accounts_tree_and_the_register_show_the_books() {
    let db = books("web-books-read");
    let client = signed_in(&db, "vic@example.com");
    let tree = client.get("/accounts").send();
    tree.assert_status(200);
    let html = tree.text();
    assert!(
        html.contains("<details open><summary>"),
        "a collapsible tree"
    );
    assert!(
        html.contains(r#"href="/accounts/Assets%3ABank%3AChecking/register">Checking</a>"#),
        "{html}"
    );
    assert!(
        !html.contains("New account"),
        "a viewer gets no create form"
    );

    let register = client
        .get("/accounts/Assets%3ABank%3AChecking/register")
        .send();
    register.assert_status(200);
    let html = register.text();
    assert!(html.contains("<h1>Assets:Bank:Checking</h1>"));
    assert_eq!(
        html.matches(r#"<td data-label="Date">"#).count(),
        50,
        "a page of 50"
    );
    assert!(html.contains("Next page"));
    assert!(html.contains(r#"data-label="Balance" class="num"#));

    // htmx gets the rows alone; the next page continues after the cursor.
    let fragment = client
        .get("/accounts/Assets%3ABank%3AChecking/register")
        .htmx()
        .send();
    assert!(!fragment.text().contains("<html"), "a fragment");
    assert!(fragment.text().contains(r#"<div id="register""#));
    let next = html
        .split(r#"<a class="button" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next link")
        .replace("&amp;", "&");
    let second = client.get(&next).send();
    second.assert_status(200);
    assert!(second.text().matches(r#"<td data-label="Date">"#).count() >= 1);

    // Filters: text and dates; bad values are a 400 with the reason.
    let filtered = client
        .get("/accounts/Assets%3ABank%3AChecking/register?q=rent")
        .send();
    let rows = filtered.text().matches(r#"<td data-label="Date">"#).count();
    assert!((1..=13).contains(&rows), "monthly rent: {rows}");
    let bad = client
        .get("/accounts/Assets%3ABank%3AChecking/register?from=2024-13-01")
        .send();
    bad.assert_status(400);
    client
        .get("/accounts/Nope%3AMissing/register")
        .send()
        .assert_status(404);
}

#[test]
fn an_accountant_writes_entries_with_live_feedback_and_reverses_them() {
    let db = books("web-books-write");
    let client = signed_in(&db, "ann@example.com");
    let form = client.get("/entries/new").send();
    form.assert_status(200);
    let key = form_value(form.text(), "idempotency_key");
    assert_eq!(key.len(), 32, "a fresh key per form");
    // Descriptions and payees of recent entries are suggested.
    let html = form.text();
    assert!(html.contains(r#"list="descriptions""#) && html.contains(r#"list="payees""#));
    assert!(
        html.contains(r#"<option value="First Harbor Bank">"#),
        "a payee of the demo books"
    );
    assert!(html.contains(r#"<option value="Monthly service fee">"#));
    let suggested = html.matches("<option value=").count();
    assert!(suggested > 10, "{suggested} suggestions");

    // Live feedback: off by, then balanced.
    let off = client
        .post("/entries/check")
        .htmx()
        .form(&[
            ("account", "Expenses:Office"),
            ("amount", "120.00"),
            ("commodity", "USD"),
            ("account", "Assets:Bank:Checking"),
            ("amount", "-100.00"),
            ("commodity", "USD"),
        ])
        .send();
    assert!(off.text().contains("Off by 20.00 USD."), "{}", off.text());
    assert!(!off.text().contains("<html"));
    let balanced = client
        .post("/entries/check")
        .htmx()
        .form(&[
            ("account", "Expenses:Office"),
            ("amount", "120.00"),
            ("commodity", "USD"),
            ("account", "Assets:Bank:Checking"),
            ("amount", "-120.00"),
            ("commodity", "USD"),
        ])
        .send();
    assert!(balanced.text().contains("Balanced."));

    // A refusal names its row; nothing is written.
    let refused = post_entry(
        &client,
        &key,
        &[
            ("Expenses:Nowhere", "120.00"),
            ("Assets:Bank:Checking", "-120.00"),
        ],
    );
    refused.assert_status(422);
    assert!(
        refused.text().contains("field-error-row"),
        "{}",
        refused.text()
    );
    assert!(refused.text().contains("unknown_account"));

    // Saved, and a double submit with the same key is the same entry.
    let key = "a-fresh-key-0001";
    let rows = [
        ("Expenses:Office", "120.00"),
        ("Assets:Bank:Checking", "-120.00"),
    ];
    let saved = post_entry(&client, key, &rows);
    let location = saved.redirect_target().expect("to the entry");
    assert!(location.starts_with("/entries/"), "{location}");
    let again = post_entry(&client, key, &rows);
    assert_eq!(again.redirect_target().as_deref(), Some(location.as_str()));

    let page = client.get(&location).send();
    page.assert_status(200);
    assert!(page.text().contains("Office chairs"));
    assert!(page.text().contains("Reverse this entry"));
    let reversed = client
        .post(&format!("{location}/reverse"))
        .form(&[("date", today().as_str())])
        .send();
    let reversal = reversed.redirect_target().expect("to the reversal");
    let reversal_page = client.get(&reversal).send();
    assert!(
        reversal_page
            .text()
            .contains(&format!(r#"Reverses <a href="{location}""#))
    );
    let original = client.get(&location).send();
    assert!(original.text().contains("Reversed by"));
    assert!(!original.text().contains("Reverse this entry"));
    // The history names who created it and who reversed it, with links into the log.
    let history = &original.text()[original.text().find(r#"id="trail""#).expect("a history")..];
    let created = history.find("entry.created").expect("created");
    let reversed_at = history.find("entry.reversed").expect("reversed");
    assert!(created < reversed_at, "oldest first: {history}");
    assert_eq!(history.matches("user:").count(), 2, "{history}");
    assert!(history.contains("/audit?before="));
    let reversal_history = client.get(&reversal).send();
    assert!(reversal_history.text().contains("entry.reversed"));
    let twice = client
        .post(&format!("{location}/reverse"))
        .form(&[("date", today().as_str())])
        .send();
    twice.assert_status(409);

    // Accounts: create one (flash), refuse a bad one, close one.
    client
        .post("/accounts")
        .form(&[
            ("name", "Expenses:Furniture"),
            ("account_type", ""),
            ("opened", "2024-01-01"),
        ])
        .send()
        .assert_redirect_to("/accounts");
    let listed = client.get("/accounts").send();
    assert!(
        listed
            .text()
            .contains("Account Expenses:Furniture created.")
    );
    assert!(listed.text().contains(">Furniture</a>"));
    let bad = client
        .post("/accounts")
        .form(&[
            ("name", "Misc:Thing"),
            ("account_type", ""),
            ("opened", "2024-01-01"),
        ])
        .send();
    bad.assert_status(422);
    assert!(bad.text().contains("Type: choose one"));
    client
        .post("/accounts/Expenses%3AFurniture/close")
        .form(&[("date", "2024-12-31")])
        .send()
        .assert_redirect_to("/accounts");
    assert!(
        client
            .get("/accounts")
            .send()
            .text()
            .contains("(closed 2024-12-31)")
    );
}

#[test]
fn viewers_read_but_every_write_is_refused() {
    let db = books("web-books-viewer");
    let client = signed_in(&db, "vic@example.com");
    client.get("/entries/new").send().assert_status(403);
    let refused = post_entry(
        &client,
        "viewer-key-0001",
        &[
            ("Expenses:Office", "1.00"),
            ("Assets:Bank:Checking", "-1.00"),
        ],
    );
    refused.assert_status(403);
    client
        .post("/accounts")
        .form(&[("name", "Expenses:Sneaky"), ("opened", "2024-01-01")])
        .send()
        .assert_status(403);
    client
        .post("/accounts/Assets%3ABank%3AChecking/close")
        .form(&[("date", "2024-12-31")])
        .send()
        .assert_status(403);
    client
        .post("/accounts/Assets%3ABank%3AChecking/rename")
        .form(&[("to", "Assets:Bank:Current")])
        .send()
        .assert_status(403);
    client
        .post("/entries/1/reverse")
        .form(&[("date", "2024-12-31")])
        .send()
        .assert_status(403);
    let page = client.get("/entries/1").send();
    page.assert_status(200);
    assert!(!page.text().contains("Reverse this entry"));
}

#[test]
fn another_organisations_ids_and_names_are_not_found() {
    let db = books("web-books-isolation");
    // An entry in `other`, with an account only `other` has.
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let other = store
        .tenant(&TenantSlug::new("other").unwrap())
        .expect("lookup")
        .expect("other");
    store
        .create_commodity(other, &ledger::domain::Commodity::new("USD", 2).unwrap())
        .expect("usd");
    for name in ["Assets:Vault", "Income:Secret"] {
        let name = ledger::domain::AccountName::new(name).unwrap();
        let kind = ledger::domain::AccountType::infer(&name).unwrap();
        let opened = ledger::domain::Date::parse("2024-01-01").unwrap();
        store
            .create_account(other, &ledger::domain::Account::new(name, kind, opened))
            .expect("account");
    }
    let theirs = ledger::store::EntryRequest {
        key: None,
        entry: ledger::domain::NewEntry {
            date: ledger::domain::Date::parse("2024-02-01").unwrap(),
            description: "their secret".into(),
            payee: None,
            tags: Default::default(),
            metadata: Default::default(),
            postings: vec![
                ledger::domain::NewPosting {
                    account: ledger::domain::AccountName::new("Assets:Vault").unwrap(),
                    commodity: ledger::domain::CommodityCode::new("USD").unwrap(),
                    amount: ledger::domain::Decimal::parse("5.00").unwrap(),
                },
                ledger::domain::NewPosting {
                    account: ledger::domain::AccountName::new("Income:Secret").unwrap(),
                    commodity: ledger::domain::CommodityCode::new("USD").unwrap(),
                    amount: ledger::domain::Decimal::parse("-5.00").unwrap(),
                },
            ],
            pending: None,
        },
    };
    let id = store.create_entry(other, &theirs).expect("entry");
    drop(store);
    let client = signed_in(&db, "ann@example.com");
    let page = client.get(&format!("/entries/{id}")).send();
    page.assert_status(404);
    assert!(!page.text().contains("their secret"));
    client
        .post(&format!("/entries/{id}/reverse"))
        .form(&[("date", "2024-06-04")])
        .send()
        .assert_status(404);
    client
        .get("/accounts/Assets%3AVault/register")
        .send()
        .assert_status(404);
    client
        .post("/accounts/Assets%3AVault/close")
        .form(&[("date", "2024-12-31")])
        .send()
        .assert_status(404);
    let refused = post_entry(
        &client,
        "isolation-key-01",
        &[("Assets:Vault", "1.00"), ("Assets:Bank:Checking", "-1.00")],
    );
    refused.assert_status(422);
    assert!(refused.text().contains("unknown_account"));
}

#[test]
fn the_export_page_downloads_the_journal_for_any_role() {
    let db = books("web-books-export");
    let client = signed_in(&db, "vic@example.com");
    let download = client.get("/export").send();
    download.assert_status(200);
    assert_eq!(
        download.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let disposition = download.header("content-disposition").expect("a file name");
    assert_eq!(
        disposition,
        format!("attachment; filename=\"demo-{}.journal\"", today())
    );
    let journal = download.text();
    let parsed = ledger::interop::parse_journal(journal).expect("the journal parses back");
    assert!(parsed.transactions.len() > 300, "a year of books");
}

#[test]
fn an_account_is_renamed_with_the_accounts_under_it_and_keeps_its_history() {
    let db = books("web-books-rename");
    let client = signed_in(&db, "ann@example.com");
    let before = client
        .get("/accounts/Assets%3ABank%3AChecking/register")
        .send();
    before.assert_status(200);
    let rows = before.text().matches(r#"<td data-label="Date">"#).count();
    assert!(rows > 0);
    let tree = client.get("/accounts").send();
    assert!(
        tree.text()
            .contains(r#"action="/accounts/Assets%3ABank/rename""#)
    );
    client
        .post("/accounts/Assets%3ABank/rename")
        .form(&[("to", "Assets:Banks")])
        .send()
        .assert_redirect_to("/accounts");
    let tree = client.get("/accounts").send();
    let html = tree.text();
    assert!(
        html.contains("Assets:Bank is now Assets:Banks (3 accounts renamed)."),
        "{html}"
    );
    assert!(html.contains(r#"href="/accounts/Assets%3ABanks%3AChecking/register""#));
    // The register follows the account; the old name is gone.
    let after = client
        .get("/accounts/Assets%3ABanks%3AChecking/register")
        .send();
    after.assert_status(200);
    assert_eq!(
        after.text().matches(r#"<td data-label="Date">"#).count(),
        rows
    );
    client
        .get("/accounts/Assets%3ABank%3AChecking/register")
        .send()
        .assert_status(404);
    // Refusals: a taken name, a name that says another type, an invalid name, an unknown
    // account.
    let taken = client
        .post("/accounts/Assets%3ABanks%3AChecking/rename")
        .form(&[("to", "Assets:Banks:Savings")])
        .send();
    taken.assert_status(422);
    assert!(taken.text().contains("exists already"), "{}", taken.text());
    let typed = client
        .post("/accounts/Assets%3ABanks%3AChecking/rename")
        .form(&[("to", "Expenses:Checking")])
        .send();
    typed.assert_status(422);
    assert!(
        typed.text().contains("means type expense"),
        "{}",
        typed.text()
    );
    client
        .post("/accounts/Assets%3ABanks%3AChecking/rename")
        .form(&[("to", "Assets::Bad")])
        .send()
        .assert_status(422);
    client
        .post("/accounts/Assets%3ANowhere/rename")
        .form(&[("to", "Assets:Somewhere")])
        .send()
        .assert_status(404);
    // The audit log records the rename.
    client
        .get("/audit")
        .send()
        .assert_contains("account.renamed");
}

#[test]
fn posting_rows_are_added_and_removed_keeping_what_was_typed() {
    let db = books("web-books-rows");
    let client = signed_in(&db, "ann@example.com");
    let form = client.get("/entries/new").send();
    let key = form_value(form.text(), "idempotency_key");
    let typed = |edit: &str, rows: &[(&str, &str)]| {
        let mut fields = vec![
            ("idempotency_key".to_owned(), key.clone()),
            ("date".to_owned(), "2024-05-01".to_owned()),
            ("description".to_owned(), "Split lunch".to_owned()),
            ("row_edit".to_owned(), edit.to_owned()),
        ];
        for (account, amount) in rows {
            fields.push(("account".into(), (*account).into()));
            fields.push(("amount".into(), (*amount).into()));
            fields.push(("commodity".into(), "USD".into()));
        }
        client.post("/entries/new/rows").form(&fields).send()
    };
    let added = typed(
        "add",
        &[("Expenses:Office", "10.00"), ("Assets:Bank:Checking", "")],
    );
    added.assert_status(200);
    let html = added.text();
    assert_eq!(html.matches(r#"name="account""#).count(), 3, "one more row");
    let row_account = |html: &str, account: &str| {
        html.contains(&format!(
            r#"name="account" list="accounts" value="{account}""#
        ))
    };
    assert!(row_account(html, "Expenses:Office") && html.contains(r#"value="10.00""#));
    assert!(html.contains(r#"value="Split lunch""#));
    assert!(
        html.contains(&format!(r#"value="{key}""#)),
        "the same idempotency key"
    );
    assert!(html.contains(r#"value="remove-3""#));
    let removed = typed(
        "remove-1",
        &[
            ("Expenses:Office", "10.00"),
            ("Assets:Bank:Checking", "-4.00"),
            ("Expenses:Food", "-6.00"),
        ],
    );
    let html = removed.text();
    assert_eq!(html.matches(r#"name="account""#).count(), 2);
    assert!(!row_account(html, "Expenses:Office"), "row 1 removed");
    assert!(html.contains(r#"value="-4.00""#) && row_account(html, "Expenses:Food"));
    assert!(
        !html.contains("remove-1"),
        "two rows are the least: no remove buttons"
    );
    typed("remove-9", &[("A", "1"), ("B", "2")]).assert_status(422);
    typed("explode", &[]).assert_status(422);
    // The bound: never more than ENTRY_FORM_ROWS_MAX rows.
    let many: Vec<(&str, &str)> = (0..ledger::web::ENTRY_FORM_ROWS_MAX)
        .map(|_| ("", ""))
        .collect();
    let capped = typed("add", &many);
    assert_eq!(
        capped.text().matches(r#"name="account""#).count(),
        ledger::web::ENTRY_FORM_ROWS_MAX
    );
    assert!(
        !capped.text().contains(r#"value="add""#),
        "no add button at the bound"
    );
}

//! Tenant isolation over every route: the test reads the app's route table
//! (`App::route_table`), fills each route's parameters with ids and names that belong to
//! another organisation, and sends every method the route answers as a signed-in
//! owner (pages) or with a write token (API) of the first organisation. Each must answer 404, never
//! a 500 and never the other organisation's data. A new route with a parameter this test does
//! not know fails it until the test is taught what to put there.

use super::TempDb;
use kiln::http::Method;
use kiln::test::TestClient;
use ledger::domain::{
    Account, AccountName, AccountType, Amount, Commodity, CommodityCode, Date, Decimal,
    DisplayName, Email, NewEntry, NewPosting, Role, Scope, TenantSlug,
};
use ledger::service::{Ledger, WriterConfig, create_token, password::hash_password};
use ledger::store::{EntryRequest, SqliteStore, Store, system_clock};
use ledger::web::Cookies;

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";
const PASSWORD: &str = "a good long password";
const THEIR_SECRET: &str = "their very secret entry";

#[test]
fn no_route_reaches_another_organisations_books() {
    let db = TempDb::new("web-isolation");
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let mine = store
        .create_tenant(&TenantSlug::new("mine").unwrap())
        .expect("tenant");
    let theirs = store
        .create_tenant(&TenantSlug::new("theirs").unwrap())
        .expect("tenant");
    let usd = CommodityCode::new("USD").unwrap();
    for tenant in [mine, theirs] {
        store
            .create_commodity(tenant, &Commodity::new("USD", 2).unwrap())
            .expect("usd");
        store
            .create_account(
                tenant,
                &Account::new(
                    AccountName::new("Income:Sales").unwrap(),
                    AccountType::Income,
                    Date::parse("2024-01-01").unwrap(),
                ),
            )
            .expect("account");
    }
    let vault = AccountName::new("Assets:Vault").unwrap();
    store
        .create_account(
            theirs,
            &Account::new(
                vault.clone(),
                AccountType::Asset,
                Date::parse("2024-01-01").unwrap(),
            ),
        )
        .expect("their account");
    let posting = |account: &str, amount: &str| NewPosting {
        account: AccountName::new(account).unwrap(),
        commodity: usd.clone(),
        amount: Decimal::parse(amount).unwrap(),
    };
    let mut entry = NewEntry {
        date: Date::parse("2024-02-01").unwrap(),
        description: THEIR_SECRET.into(),
        payee: None,
        tags: Default::default(),
        metadata: Default::default(),
        postings: vec![
            posting("Assets:Vault", "5.00"),
            posting("Income:Sales", "-5.00"),
        ],
        pending: None,
    };
    let their_entry = store
        .create_entry(
            theirs,
            &EntryRequest {
                key: None,
                entry: entry.clone(),
            },
        )
        .expect("entry");
    entry.pending = Some(ledger::domain::PendingTerms { expires_at: None });
    let their_hold = store
        .create_entry(theirs, &EntryRequest { key: None, entry })
        .expect("hold");
    let their_reconciliation = store
        .start_reconciliation(
            theirs,
            &vault,
            &usd,
            Date::parse("2024-02-28").unwrap(),
            Amount(500),
            system_clock(),
        )
        .expect("reconciliation");
    let hash = hash_password(PASSWORD).expect("hash");
    let ann = store
        .create_user(
            &Email::parse("ann@example.com").unwrap(),
            &DisplayName::parse("Ann").unwrap(),
            &hash,
            system_clock(),
        )
        .expect("user");
    store.add_member(mine, ann, Role::Owner).expect("member");
    // Their own member, invitation and token, to aim at by id.
    let their_user = store
        .create_user(
            &Email::parse("tia@example.com").unwrap(),
            &DisplayName::parse("Tia").unwrap(),
            &hash,
            system_clock(),
        )
        .expect("user");
    store
        .add_member(theirs, their_user, Role::Owner)
        .expect("member");
    let their_invitation = store
        .create_invitation(
            theirs,
            &ledger::domain::token::TokenHash::of(&[7u8; 32]),
            Role::Viewer,
            None,
            ledger::domain::Timestamp(i64::MAX / 2),
            system_clock(),
        )
        .expect("invitation");
    let (their_token, _) =
        create_token(&mut store, theirs, Scope::Read, system_clock()).expect("their token");
    let (_, token) = create_token(&mut store, mine, Scope::Write, system_clock()).expect("token");
    drop(store);

    let ledger = Ledger::open(&db.0, &WriterConfig::default()).expect("ledger");
    let app = ledger::web::app(ledger, SECRET, Cookies::Secure).expect("app");
    let routes = app.route_table();
    let client = TestClient::new(app);
    client.get("/login").send();
    client
        .post("/login")
        .form(&[("email", "ann@example.com"), ("password", PASSWORD)])
        .send()
        .assert_redirect_to("/");

    let mut walked = 0;
    for route in routes.iter().filter(|r| r.path.contains('{')) {
        // Report kinds are not anybody's data: the same for every organisation.
        if route.path.contains("{kind}") {
            continue;
        }
        let path = fill(&route.path, |param| match param {
            "id" if route.path.contains("/reconcile/") => their_reconciliation.0.to_string(),
            "id" if route.path.contains("/pending/") => their_hold.0.to_string(),
            "id" if route.path.contains("/invitations/") => their_invitation.0.to_string(),
            "id" if route.path.contains("/tokens/") => their_token.0.to_string(),
            "user" => their_user.0.to_string(),
            // An invitation link is its own authority (whoever holds it may accept): an
            // unknown one is what can be aimed at another organisation.
            "secret" => "00".repeat(32),
            "id" => their_entry.0.to_string(),
            "name" => "Assets%3AVault".to_owned(),
            other => panic!("teach this test a value for {{{other}}} in {}", route.path),
        });
        for method in &route.methods {
            let api = path.starts_with("/api/");
            let mut request = client.request(method.as_str(), &path);
            if api {
                request = request
                    .without_cookies()
                    .without_csrf()
                    .header("authorization", &format!("Bearer {token}"));
                if *method != Method::Get {
                    request = request
                        .header("content-type", "application/json")
                        .body(r#"{"date":"2024-03-01"}"#);
                }
            } else if *method != Method::Get {
                request = request.form(&[
                    ("date", "2024-03-01"),
                    ("line", &their_entry.0.to_string()),
                    ("entry", &their_entry.0.to_string()),
                    ("role", "viewer"),
                ]);
            }
            let response = request.send();
            assert_eq!(
                response.status(),
                404,
                "{} {path}: {}",
                method.as_str(),
                response.text()
            );
            assert!(
                !response.text().contains(THEIR_SECRET),
                "{} {path} shows their data",
                method.as_str()
            );
            walked += 1;
        }
    }
    assert!(walked >= 12, "walked only {walked} route methods");
}

/// The path with each `{param}` replaced.
fn fill(pattern: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |i| start + i);
        out.push_str(&value(&rest[start + 1..end]));
        rest = &rest[(end + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

//! The web app through `kiln::test::TestClient` on a real database: sign-up, log-in (with
//! its generic refusal and its throttling per address and per client), log-out, CSRF,
//! switching organisation, the dashboard on the demo book, error pages, the JSON API
//! served by the same app without cookies or CSRF, and `Secure` cookies per mode.

use super::TempDb;
use kiln::test::{TestClient, TestResponse};
use ledger::domain::{DisplayName, Email, Role, Scope, TenantSlug};
use ledger::service::{Ledger, WriterConfig, create_token, password::hash_password};
use ledger::store::{SqliteStore, Store, system_clock};
use ledger::web::Cookies;
use std::net::SocketAddr;

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";

fn client(db: &TempDb) -> TestClient {
    let ledger = Ledger::open(&db.0, &WriterConfig::default()).expect("ledger");
    TestClient::new(ledger::web::app(ledger, SECRET, Cookies::Secure).expect("app"))
}

fn sign_up(client: &TestClient, organisation: &str, email: &str, password: &str) -> TestResponse {
    client.get("/signup").send().assert_status(200);
    client
        .post("/signup")
        .form(&[
            ("organisation", organisation),
            ("name", "Ada Bookkeeper"),
            ("email", email),
            ("password", password),
        ])
        .send()
}

fn log_in_from(client: &TestClient, email: &str, password: &str, peer: SocketAddr) -> TestResponse {
    client.get("/login").send().assert_status(200);
    client
        .post("/login")
        .peer(peer)
        .form(&[("email", email), ("password", password)])
        .send()
}

fn log_in(client: &TestClient, email: &str, password: &str) -> TestResponse {
    log_in_from(
        client,
        email,
        password,
        SocketAddr::from(([127, 0, 0, 1], 40_000)),
    )
}

#[test]
fn sign_up_lands_on_the_dashboard_and_log_out_ends_the_session() {
    let db = TempDb::new("web-signup");
    let client = client(&db);
    let created = sign_up(&client, "acme", "ada@example.com", "correct horse battery");
    created.assert_redirect_to("/");
    let dashboard = client.get("/").send();
    dashboard.assert_status(200);
    let html = dashboard.text();
    assert!(html.contains("<h1>acme</h1>"), "{html}");
    assert!(html.contains("Welcome! acme is ready."), "{html}");
    assert!(html.contains("No entries yet."), "{html}");
    assert!(html.contains("Ada Bookkeeper (owner)"), "{html}");

    // Log-out ends the session on the server: a copy of the cookie taken before it (another
    // device, or a thief) no longer works.
    let copied = client.cookie("kiln_session").expect("a session cookie");
    client.post("/logout").send().assert_redirect_to("/login");
    client.get("/").send().assert_redirect_to("/login");
    client.set_cookie("kiln_session", &copied);
    client.get("/").send().assert_redirect_to("/login");
    // htmx asks for the redirect in a header.
    let htmx = client.get("/").htmx().send();
    assert_eq!(htmx.header("hx-redirect"), Some("/login"));

    // The same person logs in again.
    log_in(&client, "ADA@example.com ", "correct horse battery").assert_redirect_to("/");
    assert!(client.get("/").send().text().contains("<h1>acme</h1>"));
}

#[test]
fn sign_up_mistakes_come_back_next_to_their_field_and_write_nothing() {
    let db = TempDb::new("web-signup-errors");
    let client = client(&db);
    let cases = [
        (
            "Not OK",
            "ada@example.com",
            "long enough password",
            "a-z, 0-9",
        ),
        (
            "acme",
            "not-an-address",
            "long enough password",
            "email address",
        ),
        ("acme", "ada@example.com", "short", "10"),
    ];
    for (organisation, email, password, says) in cases {
        let refused = sign_up(&client, organisation, email, password);
        refused.assert_status(422);
        let html = refused.text();
        assert!(html.contains("field-error"), "{html}");
        assert!(html.contains(says), "{says}: {html}");
        assert!(
            !html.contains(password) || password.len() < 6,
            "the password is not echoed"
        );
    }
    sign_up(&client, "acme", "ada@example.com", "long enough password").assert_redirect_to("/");
    client.post("/logout").send();
    let taken = sign_up(&client, "acme", "bob@example.com", "long enough password");
    taken.assert_status(422);
    assert!(taken.text().contains("That organisation name is taken"));
    let taken = sign_up(&client, "globex", "ada@example.com", "long enough password");
    taken.assert_status(422);
    assert!(
        taken
            .text()
            .contains("An account with that address exists already")
    );
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let slugs: Vec<String> = store
        .tenants()
        .expect("tenants")
        .into_iter()
        .map(|(_, slug)| slug.to_string())
        .collect();
    assert_eq!(slugs, ["acme"], "refused sign-ups leave no tenant");
    assert!(store.check(None).expect("check").is_clean());
}

#[test]
fn log_in_refusals_are_generic_and_throttled_per_address_and_per_client() {
    let db = TempDb::new("web-login");
    let client = client(&db);
    sign_up(&client, "acme", "ada@example.com", "correct horse battery").assert_redirect_to("/");
    client.post("/logout").send();
    let here = SocketAddr::from(([192, 0, 2, 1], 5_000));
    let unknown = log_in_from(&client, "nobody@example.com", "whatever it is", here);
    let wrong = log_in_from(&client, "ada@example.com", "wrong password!", here);
    for refused in [&unknown, &wrong] {
        refused.assert_status(422);
        assert!(refused.text().contains("do not match an account"));
    }
    // Four more wrong passwords for ada from other clients: five in the window, then refused
    // even with the right password, from anywhere, with a wait to show.
    for last in 2..6u8 {
        let elsewhere = SocketAddr::from(([198, 51, 100, last], 5_000));
        log_in_from(&client, "ada@example.com", "wrong password!", elsewhere).assert_status(422);
    }
    let throttled = log_in_from(
        &client,
        "ada@example.com",
        "correct horse battery",
        SocketAddr::from(([203, 0, 113, 9], 5_000)),
    );
    throttled.assert_status(429);
    assert!(throttled.text().contains("Too many failed attempts"));
    assert!(throttled.header("retry-after").is_some());
    // One client guessing at many addresses is stopped too: `here` has failed twice.
    for n in 0..3 {
        let email = format!("guess{n}@example.com");
        log_in_from(&client, &email, "whatever it is", here).assert_status(422);
    }
    let from_here = log_in_from(&client, "someone@example.com", "whatever it is", here);
    from_here.assert_status(429);
}

#[test]
fn forms_without_the_csrf_token_are_refused() {
    let db = TempDb::new("web-csrf");
    let client = client(&db);
    sign_up(&client, "acme", "ada@example.com", "correct horse battery").assert_redirect_to("/");
    let refused = client.post("/logout").without_csrf().send();
    refused.assert_status(403);
    client.get("/").send().assert_status(200);
}

#[test]
fn a_person_in_two_organisations_switches_between_them() {
    let db = TempDb::new("web-switch");
    let client = client(&db);
    sign_up(&client, "acme", "ada@example.com", "correct horse battery").assert_redirect_to("/");
    // Ada is made a viewer of a second organisation.
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let globex = store
        .create_tenant(&TenantSlug::new("globex").unwrap())
        .expect("tenant");
    let ada = store
        .user_by_email(&Email::parse("ada@example.com").unwrap())
        .expect("lookup")
        .expect("ada");
    store
        .add_member(globex, ada.id, Role::Viewer)
        .expect("member");
    let other = store
        .create_tenant(&TenantSlug::new("initech").unwrap())
        .expect("tenant");
    drop(store);
    let page = client.get("/").send();
    assert!(
        page.text().contains(r#"<option value="globex""#),
        "{}",
        page.text()
    );
    client
        .post("/switch")
        .form(&[("tenant", "globex")])
        .send()
        .assert_redirect_to("/");
    let switched = client.get("/").send();
    assert!(switched.text().contains("<h1>globex</h1>"));
    assert!(switched.text().contains("(viewer)"));
    let refused = client.post("/switch").form(&[("tenant", "initech")]).send();
    refused.assert_status(404);
    let _ = other;
    assert!(client.get("/").send().text().contains("<h1>globex</h1>"));
}

#[test]
fn the_dashboard_shows_the_demo_books() {
    let db = TempDb::new("web-demo");
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let today = ledger::domain::Date::of_timestamp(system_clock()).expect("today");
    let tenant = ledger::seed::seed_demo(&mut store, today).expect("demo");
    let email = Email::parse("demo@example.com").unwrap();
    let name = DisplayName::parse("Demo").unwrap();
    let hash = hash_password("demo password 1").expect("hash");
    let user = store
        .create_user(&email, &name, &hash, system_clock())
        .expect("user");
    store
        .add_member(tenant, user, Role::Accountant)
        .expect("member");
    drop(store);
    let client = client(&db);
    log_in(&client, "demo@example.com", "demo password 1").assert_redirect_to("/");
    let page = client.get("/").send();
    page.assert_status(200);
    let html = page.text();
    assert!(html.contains("<h1>demo</h1>"), "{html}");
    assert!(!html.contains("No assets or liabilities yet."), "{html}");
    assert!(html.contains(" USD</p>"), "net worth in USD: {html}");
    assert_eq!(
        html.matches(r#"<td data-label="Date">"#).count(),
        10,
        "ten recent entries"
    );
}

#[test]
fn pages_and_the_api_share_one_app_with_their_own_errors() {
    let db = TempDb::new("web-api");
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let tenant = store
        .create_tenant(&TenantSlug::new("acme").unwrap())
        .expect("tenant");
    let (_, token) = create_token(&mut store, tenant, Scope::Write, system_clock()).expect("token");
    drop(store);
    let client = client(&db);
    // The API needs no cookie and no CSRF token, only the bearer token.
    let created = client
        .post("/api/v1/commodities")
        .without_csrf()
        .without_cookies()
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(r#"{"code":"USD","precision":2}"#)
        .send();
    created.assert_status(201);
    let missing = client.get("/api/v1/nowhere").send();
    missing.assert_status(404);
    assert_eq!(missing.header("content-type"), Some("application/json"));
    let page = client.get("/nowhere").send();
    page.assert_status(404);
    assert!(
        page.text().contains("<title>404 · Ledger</title>"),
        "{}",
        page.text()
    );
    let css = client.get("/static/app.css").send();
    css.assert_status(200);
    assert!(css.text().contains("font-variant-numeric: tabular-nums"));
}

#[test]
fn cookies_are_secure_by_mode_and_behind_a_proxy_that_says_https() {
    let db = TempDb::new("web-cookie-modes");
    let secure_cookies = |cookies: Cookies, headers: &[(&str, &str)]| {
        let ledger = Ledger::open(&db.0, &WriterConfig::default()).expect("ledger");
        let client = TestClient::new(ledger::web::app(ledger, SECRET, cookies).expect("app"));
        let mut request = client.get("/login");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send();
        let set: Vec<&str> = response.headers_all("set-cookie").collect();
        assert!(!set.is_empty());
        set.iter().all(|c| c.contains("; Secure"))
    };
    assert!(secure_cookies(Cookies::Secure, &[]));
    assert!(!secure_cookies(
        Cookies::PlainHttp,
        &[("X-Forwarded-Proto", "https")]
    ));
    let forwarded = Cookies::SecureWhenForwardedHttps;
    assert!(!secure_cookies(forwarded, &[]));
    assert!(secure_cookies(forwarded, &[("X-Forwarded-Proto", "https")]));
    assert!(secure_cookies(forwarded, &[("Forwarded", "proto=https")]));
}

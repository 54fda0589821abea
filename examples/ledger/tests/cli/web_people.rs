//! People, invitations, API tokens and the audit log through `TestClient`: an owner invites an
//! accountant by link; someone with an organisation of their own follows it signed out, logs in,
//! comes back to it, accepts, and then switches between both organisations; a used, an expired
//! and an unknown link are refused with the reason; a role change to viewer makes that person's
//! writes 403; the last owner can be neither removed nor demoted; non-owners get 403 on every
//! people and tokens page and form; a token is shown once, works on the API and stops at
//! revocation; the audit log lists the changes and its chain verifies (and names an edited
//! record); another organisation's
//! member and token ids are 404; the invitation's validity limit is enforced.

use super::TempDb;
use kiln::test::{TestClient, TestResponse};
use ledger::domain::token::{TOKEN_SECRET_BYTES, TokenHash};
use ledger::domain::{DisplayName, Email, Role, Scope, TenantSlug, Timestamp, UserId};
use ledger::limits::INVITATION_VALID_DAYS_MAX;
use ledger::service::{Ledger, WriterConfig, create_token};
use ledger::store::{SqliteStore, Store, system_clock};
use ledger::web::Cookies;

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";
const PASSWORD: &str = "a good long password";

fn client(db: &TempDb) -> TestClient {
    let ledger = Ledger::open(&db.0, &WriterConfig::default()).expect("ledger");
    TestClient::new(ledger::web::app(ledger, SECRET, Cookies::Secure).expect("app"))
}

fn sign_up(client: &TestClient, organisation: &str, email: &str) -> TestResponse {
    client.get("/signup").send().assert_status(200);
    client
        .post("/signup")
        .form(&[
            ("organisation", organisation),
            ("name", "Some Bookkeeper"),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
}

fn log_in(client: &TestClient, email: &str) -> TestResponse {
    client.get("/login").send().assert_status(200);
    client
        .post("/login")
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
}

fn log_out(client: &TestClient) {
    client.post("/logout").send().assert_redirect_to("/login");
}

fn user_id(db: &TempDb, email: &str) -> UserId {
    let mut store = SqliteStore::open(&db.0).expect("opens");
    store
        .user_by_email(&Email::parse(email).expect("email"))
        .expect("read")
        .expect("user")
        .id
}

/// The text after `marker` up to the next `<`.
fn after<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    html[start..].split('<').next().unwrap_or("")
}

fn invite(client: &TestClient, role: &str, days: &str) -> TestResponse {
    client
        .post("/people/invitations")
        .form(&[("role", role), ("email", ""), ("days", days)])
        .send()
}

/// Olga owns acme and invites an accountant; Bob (who owns bobco) accepts the link.
fn acme_with_bob(db: &TempDb) -> (TestClient, String) {
    let client = client(db);
    sign_up(&client, "acme", "olga@example.com").assert_redirect_to("/");
    let people = client.get("/people").send();
    people.assert_status(200);
    assert!(people.text().contains("olga@example.com"));
    assert!(
        people
            .text()
            .contains(r#"<a href="/tokens">API tokens</a>"#)
    );
    let created = invite(&client, "accountant", "7");
    created.assert_status(201);
    let link = after(created.text(), "/invitations/").to_owned();
    assert_eq!(link.len(), "/invitations/".len() + 64, "{link}");
    assert!(
        !client.get("/people").send().text().contains(&link),
        "the link is shown once"
    );
    log_out(&client);
    sign_up(&client, "bobco", "bob@example.com").assert_redirect_to("/");
    log_out(&client);

    // Signed out, the link asks for a log-in, and the log-in comes back to it.
    let landing = client.get(&link).send();
    landing.assert_status(200);
    assert!(
        landing.text().contains("log in</a> or"),
        "{}",
        landing.text()
    );
    assert!(!landing.text().contains(">Accept<"));
    log_in(&client, "bob@example.com").assert_redirect_to(&link);
    let page = client.get(&link).send();
    page.assert_status(200);
    assert!(page.text().contains("<strong>acme</strong> as accountant"));
    assert!(page.text().contains(">Accept<"));
    client.post(&link).send().assert_redirect_to("/");
    (client, link)
}

#[test]
fn an_invitation_link_is_accepted_once_and_the_person_switches_organisations() {
    let db = TempDb::new("web-people-invite");
    let (client, link) = acme_with_bob(&db);
    let home = client.get("/").send();
    assert!(home.text().contains("<h1>acme</h1>"), "{}", home.text());
    assert!(home.text().contains("(accountant)"));
    assert!(home.text().contains("You joined acme as accountant."));
    client
        .post("/switch")
        .form(&[("tenant", "bobco")])
        .send()
        .assert_redirect_to("/");
    let bobco = client.get("/").send().text().to_owned();
    assert!(bobco.contains("<h1>bobco</h1>") && bobco.contains("(owner)"));
    assert!(bobco.contains(">People</a>"), "an owner's link");
    client
        .post("/switch")
        .form(&[("tenant", "acme")])
        .send()
        .assert_redirect_to("/");
    let acme = client.get("/").send().text().to_owned();
    assert!(acme.contains("<h1>acme</h1>") && !acme.contains(">People</a>"));
    assert!(acme.contains(">Audit</a>"));

    // Used: refused, on the page and on a second accept.
    let used = client.get(&link).send();
    used.assert_status(410);
    assert!(used.text().contains("used already"), "{}", used.text());
    client.post(&link).send().assert_status(410);
    let unknown = client
        .get(&format!("/invitations/{}", "0".repeat(64)))
        .send();
    unknown.assert_status(404);
    assert!(unknown.text().contains("no such invitation"));
    client.get("/invitations/not-hex").send().assert_status(404);
    // Not an owner of acme: no cancelling there.
    client
        .post("/people/invitations/1/cancel")
        .send()
        .assert_status(403);
}

#[test]
fn invitations_are_cancelled_in_their_organisation_only_and_a_member_cannot_join_twice() {
    let db = TempDb::new("web-people-cancel");
    let client = client(&db);
    sign_up(&client, "acme", "olga@example.com").assert_redirect_to("/");
    let created = invite(&client, "viewer", "7");
    let link = after(created.text(), "/invitations/").to_owned();
    // Olga is a member of acme already.
    client.get(&link).send().assert_status(200);
    let twice = client.post(&link).send();
    twice.assert_status(409);
    assert!(twice.text().contains("member of that organisation already"));
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let acme = store
        .tenant(&TenantSlug::new("acme").unwrap())
        .expect("read")
        .expect("acme");
    let initech = store
        .create_tenant(&TenantSlug::new("initech").unwrap())
        .expect("tenant");
    let theirs = store
        .create_invitation(
            initech,
            &TokenHash::of(&[9u8; TOKEN_SECRET_BYTES]),
            Role::Owner,
            None,
            Timestamp(i64::MAX),
            system_clock(),
        )
        .expect("invitation");
    let ours = store.invitations(acme).expect("list")[0].id;
    drop(store);
    client
        .post(&format!("/people/invitations/{}/cancel", theirs.0))
        .send()
        .assert_status(404);
    client
        .post(&format!("/people/invitations/{}/cancel", ours.0))
        .send()
        .assert_redirect_to("/people");
    assert!(!client.get("/people").send().text().contains("valid until"));
    client.get(&link).send().assert_status(410);
    client
        .post(&format!("/people/invitations/{}/cancel", ours.0))
        .send()
        .assert_status(422);
}

#[test]
fn an_expired_link_is_refused() {
    let db = TempDb::new("web-people-expired");
    let client = client(&db);
    sign_up(&client, "acme", "olga@example.com").assert_redirect_to("/");
    let secret = [7u8; TOKEN_SECRET_BYTES];
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let acme = store
        .tenant(&TenantSlug::new("acme").unwrap())
        .expect("read")
        .expect("acme");
    let now = system_clock();
    store
        .create_invitation(
            acme,
            &TokenHash::of(&secret),
            Role::Viewer,
            None,
            Timestamp(now.0 - 1),
            Timestamp(now.0 - 86_400),
        )
        .expect("invitation");
    drop(store);
    let link = format!("/invitations/{}", "07".repeat(TOKEN_SECRET_BYTES));
    log_out(&client);
    sign_up(&client, "bobco", "bob@example.com").assert_redirect_to("/");
    let page = client.get(&link).send();
    page.assert_status(410);
    assert!(page.text().contains("expired"), "{}", page.text());
    client.post(&link).send().assert_status(410);
    let bob = user_id(&db, "bob@example.com");
    let mut store = SqliteStore::open(&db.0).expect("opens");
    assert_eq!(store.membership(acme, bob).expect("read"), None);
}

#[test]
fn roles_change_and_the_last_owner_stays() {
    let db = TempDb::new("web-people-roles");
    let (client, _) = acme_with_bob(&db);
    let bob = user_id(&db, "bob@example.com");
    let olga = user_id(&db, "olga@example.com");
    // As an accountant Bob may write in acme; none of the owner's pages or forms.
    client
        .post("/commodities")
        .form(&[("code", "USD"), ("precision", "2")])
        .send()
        .assert_redirect_to("/accounts");
    let forbidden = [
        client.get("/people").send(),
        client.get("/tokens").send(),
        invite(&client, "owner", "7"),
        client
            .post(&format!("/people/{bob}/role"))
            .form(&[("role", "owner")])
            .send(),
        client.post(&format!("/people/{olga}/remove")).send(),
        client.post("/tokens").form(&[("scope", "write")]).send(),
        client.post("/tokens/1/revoke").send(),
    ];
    for response in forbidden {
        response.assert_status(403);
    }
    client.get("/audit").send().assert_status(200);
    log_out(&client);

    log_in(&client, "olga@example.com").assert_redirect_to("/");
    client
        .post(&format!("/people/{bob}/role"))
        .form(&[("role", "viewer")])
        .send()
        .assert_redirect_to("/people");
    client
        .post(&format!("/people/{bob}/role"))
        .form(&[("role", "boss")])
        .send()
        .assert_status(422);
    let demote = client
        .post(&format!("/people/{olga}/role"))
        .form(&[("role", "viewer")])
        .send();
    demote.assert_status(422);
    assert!(demote.text().contains("last owner"), "{}", demote.text());
    let remove = client.post(&format!("/people/{olga}/remove")).send();
    remove.assert_status(422);
    assert!(remove.text().contains("last owner"));
    // Someone of another organisation only: 404, as for nobody.
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let carol = store
        .create_user(
            &Email::parse("carol@example.com").unwrap(),
            &DisplayName::parse("Carol").unwrap(),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",
            system_clock(),
        )
        .expect("user");
    let initech = store
        .create_tenant(&TenantSlug::new("initech").unwrap())
        .expect("tenant");
    store
        .add_member(initech, carol, Role::Owner)
        .expect("member");
    drop(store);
    client
        .post(&format!("/people/{carol}/role"))
        .form(&[("role", "viewer")])
        .send()
        .assert_status(404);
    client
        .post(&format!("/people/{carol}/remove"))
        .send()
        .assert_status(404);
    log_out(&client);

    // Bob, a viewer now, may no longer write in acme.
    log_in(&client, "bob@example.com").assert_redirect_to("/");
    let home = client.get("/").send().text().to_owned();
    assert!(
        home.contains("<h1>acme</h1>") && home.contains("(viewer)"),
        "{home}"
    );
    client
        .post("/commodities")
        .form(&[("code", "EUR"), ("precision", "2")])
        .send()
        .assert_status(403);
    log_out(&client);

    // Removed, he is back to his own organisation only.
    log_in(&client, "olga@example.com").assert_redirect_to("/");
    client
        .post(&format!("/people/{bob}/remove"))
        .send()
        .assert_redirect_to("/people");
    assert!(
        !client
            .get("/people")
            .send()
            .text()
            .contains("bob@example.com")
    );
}

#[test]
fn the_invitation_validity_has_a_limit() {
    let db = TempDb::new("web-people-limit");
    let client = client(&db);
    sign_up(&client, "acme", "olga@example.com").assert_redirect_to("/");
    let max = INVITATION_VALID_DAYS_MAX.to_string();
    let over = (INVITATION_VALID_DAYS_MAX + 1).to_string();
    invite(&client, "viewer", &max).assert_status(201);
    for days in [over.as_str(), "0", "seven", ""] {
        let refused = invite(&client, "viewer", days);
        refused.assert_status(422);
        let reason = format!("Valid for: a whole number of days from 1 to {max}.");
        assert!(refused.text().contains(&reason), "{}", refused.text());
    }
    invite(&client, "king", "7").assert_status(422);
    let bad_email = client
        .post("/people/invitations")
        .form(&[
            ("role", "viewer"),
            ("email", "not an address"),
            ("days", "7"),
        ])
        .send();
    bad_email.assert_status(422);
    assert!(bad_email.text().contains("E-mail:"));
    assert_eq!(
        client
            .get("/people")
            .send()
            .text()
            .matches("valid until")
            .count(),
        1,
        "one pending invitation"
    );
}

#[test]
fn a_token_is_shown_once_works_and_stops_at_revocation() {
    let db = TempDb::new("web-people-tokens");
    let client = client(&db);
    sign_up(&client, "acme", "olga@example.com").assert_redirect_to("/");
    client.get("/tokens").send().assert_status(200);
    let created = client.post("/tokens").form(&[("scope", "read")]).send();
    created.assert_status(201);
    let token = after(created.text(), "ldg_").to_owned();
    let page = client.get("/tokens").send().text().to_owned();
    assert!(!page.contains(&token), "shown once");
    assert!(
        page.contains(r#"<td data-label="Scope">read</td>"#),
        "{page}"
    );
    let api = |token: &str| {
        client
            .get("/api/v1/accounts")
            .without_cookies()
            .header("authorization", &format!("Bearer {token}"))
            .send()
    };
    api(&token).assert_status(200);
    client
        .post("/tokens")
        .form(&[("scope", "everything")])
        .send()
        .assert_status(422);

    // Another organisation's token: 404, and it keeps working.
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let initech = store
        .create_tenant(&TenantSlug::new("initech").unwrap())
        .expect("tenant");
    let (other, other_text) =
        create_token(&mut store, initech, Scope::Read, system_clock()).expect("token");
    drop(store);
    client
        .post(&format!("/tokens/{other}/revoke"))
        .send()
        .assert_status(404);
    api(&other_text).assert_status(200);

    let id: String = token.split('_').nth(1).expect("the id").to_owned();
    client
        .post(&format!("/tokens/{id}/revoke"))
        .send()
        .assert_redirect_to("/tokens");
    api(&token).assert_status(401);
    assert!(!client.get("/tokens").send().text().contains("/revoke\""));
}

#[test]
fn the_audit_log_lists_the_changes_and_its_chain_verifies() {
    let db = TempDb::new("web-people-audit");
    let (client, _) = acme_with_bob(&db);
    let page = client.get("/audit").send();
    page.assert_status(200);
    let html = page.text();
    for action in [
        "tenant.created",
        "member.added",
        "invitation.created",
        "invitation.accepted",
    ] {
        assert!(html.contains(&format!(">{action}<")), "{action} in {html}");
    }
    assert!(
        html.find(">invitation.accepted<") < html.find(">tenant.created<"),
        "newest first"
    );
    let full = client.post("/audit/verify").send();
    full.assert_status(200);
    assert!(
        full.text()
            .contains("OK: the chain of 5 audit records is intact"),
        "{}",
        full.text()
    );
    assert!(full.text().contains("<html"));
    let fragment = client.post("/audit/verify").htmx().send();
    fragment.assert_status(200);
    assert!(!fragment.text().contains("<html"), "a fragment");
    assert!(fragment.text().contains(r#"<div id="verify""#));
    assert!(fragment.text().contains("OK: the chain"));
    client.get("/audit?before=x").send().assert_status(400);

    // An edited record (around the append-only triggers) is named.
    let raw = rusqlite::Connection::open(&db.0).expect("raw");
    raw.execute_batch(
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET actor = 'mallory' WHERE sequence = 3
           AND tenant_id = (SELECT id FROM tenants WHERE slug = 'acme');",
    )
    .expect("tampered");
    drop(raw);
    let broken = client.post("/audit/verify").htmx().send();
    broken.assert_status(200);
    assert!(
        broken
            .text()
            .contains("Broken: audit_chain: audit record 3 is the first broken one"),
        "{}",
        broken.text()
    );
}

#[test]
fn the_audit_log_pages_by_fifty_newest_first() {
    let db = TempDb::new("web-people-audit-pages");
    let client = client(&db);
    sign_up(&client, "acme", "olga@example.com").assert_redirect_to("/");
    for _ in 0..60 {
        client
            .post("/tokens")
            .form(&[("scope", "read")])
            .send()
            .assert_status(201);
    }
    let first = client.get("/audit").send().text().to_owned();
    assert_eq!(
        first
            .matches(r##"<td data-label="#" class="num">"##)
            .count(),
        50
    );
    assert!(first.contains(r##"<td data-label="#" class="num">62</td>"##));
    let older = client.get("/audit?before=13").send().text().to_owned();
    assert_eq!(
        older
            .matches(r##"<td data-label="#" class="num">"##)
            .count(),
        12
    );
    assert!(first.contains("?before=13"), "a link to the older page");
    assert!(!older.contains("?before="), "the last page");
}

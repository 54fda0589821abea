//! The contacts example end to end: through `kiln::test::TestClient` (pages, fragments,
//! validation, flash messages, deletes, error pages), and in a real Chromium driven by
//! `browser.mjs` against the app served on 127.0.0.1 (what a person clicks).
//!
//! The browser test needs Debian's `chromium` and the npm package `playwright-core`
//! (`bash .ci/setup` installs both); without them it fails and says so.

use contacts::{Cookies, NewContact, Store};
use kiln::test::TestClient;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const SECRET: &[u8] = b"contacts-test-secret-0123456789abcdef";

fn client() -> TestClient {
    let app = contacts::app(SECRET, Arc::new(Store::default()), Cookies::PlainHttp).unwrap();
    TestClient::new(app)
}

fn add(client: &TestClient, name: &str, email: &str) -> kiln::test::TestResponse {
    client
        .post("/contacts")
        .form(&NewContact {
            name: name.into(),
            email: email.into(),
        })
        .send()
}

#[test]
fn validation_errors_come_back_with_the_form_and_a_422() {
    let client = client();
    client.get("/contacts/new").send().assert_status(200);
    add(&client, "", "not-an-address")
        .assert_status(422)
        .assert_contains("Enter a name.")
        .assert_contains("Enter an e-mail address like name@example.com.")
        .assert_contains("value=\"not-an-address\"");
}

#[test]
fn adding_redirects_with_a_flash_message_shown_once() {
    let client = client();
    client.get("/contacts").send();
    add(&client, "Ada Lovelace", "ada@example.com").assert_redirect_to("/contacts");
    client
        .get("/contacts")
        .send()
        .assert_contains("<p class=\"flash success\" role=\"status\">Added Ada Lovelace.</p>")
        .assert_contains("<a href=\"/contacts/1\">Ada Lovelace</a>");
    client
        .get("/contacts")
        .send()
        .assert_not_contains("Added Ada Lovelace.");
}

#[test]
fn active_search_answers_the_rows_only() {
    let client = client();
    client.get("/contacts").send();
    add(&client, "Ada Lovelace", "ada@example.com");
    add(&client, "Grace Hopper", "grace@example.com");
    client
        .get("/contacts?q=gra")
        .htmx_target("rows")
        .send()
        .assert_contains("Grace Hopper")
        .assert_not_contains("Ada Lovelace")
        .assert_not_contains("<html");
}

#[test]
fn deletes_answer_missing_contacts_in_the_error_area() {
    let client = client();
    client.get("/contacts").send();
    add(&client, "Ada Lovelace", "ada@example.com");
    client
        .delete("/contacts/1")
        .htmx()
        .send()
        .assert_status(200);
    client
        .delete("/contacts/1")
        .htmx()
        .send()
        .assert_status(404)
        .assert_header("hx-retarget", "#errors")
        .assert_contains("<p class=\"error\">Contact 1 was already deleted. (404)</p>")
        .assert_not_contains("<html");
    client
        .get("/contacts/1")
        .send()
        .assert_status(404)
        .assert_contains("<title>Error 404</title>")
        .assert_contains("There is no contact 1. (404)");
}

#[test]
fn bulk_delete_reads_the_ids_from_the_query_string() {
    let client = client();
    client.get("/contacts").send();
    add(&client, "Ada Lovelace", "ada@example.com");
    add(&client, "Grace Hopper", "grace@example.com");
    add(&client, "Alan Turing", "alan@example.com");
    let page = client
        .delete("/contacts?ids=1&ids=3")
        .htmx()
        .follow_redirects()
        .send();
    page.assert_contains("Deleted 2 contacts.")
        .assert_contains("<a href=\"/contacts/2\">Grace Hopper</a>")
        .assert_not_contains("<a href=\"/contacts/1\">")
        .assert_not_contains("<a href=\"/contacts/3\">");
    client
        .delete("/contacts")
        .htmx()
        .send()
        .assert_status(422)
        .assert_contains("Select contacts to delete first.");
}

#[test]
fn a_post_without_the_pages_token_is_refused() {
    let client = client();
    client
        .post("/contacts")
        .form(&[("name", "Eve"), ("email", "eve@example.com")])
        .send()
        .assert_status(403)
        .assert_contains("CSRF token missing or invalid");
}

#[test]
fn a_person_uses_the_app_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && root.join("node_modules/playwright-core").is_dir(),
        "the browser test needs Debian's chromium and playwright-core: run `bash .ci/setup`"
    );
    let app = contacts::app(SECRET, Arc::new(Store::default()), Cookies::Secure).unwrap();
    let server = kiln::Server::bind("127.0.0.1:0")
        .workers(1)
        .start(app)
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    let output = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser.mjs"))
        .arg(&base)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    server.stop();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser steps failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("browser: all steps passed"), "{stdout}");
}

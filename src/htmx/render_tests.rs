//! The app layer, templates and htmx together through `TestClient`: one handler answers the
//! page or the fragment for each htmx major, out-of-band blocks come from one evaluation,
//! the CSRF token reaches templates, and the htmx script is served under its hashed URL.

use crate::app::{App, Csrf, CsrfToken, get};
use crate::htmx::Htmx;
use crate::http::Response;
use crate::template::{EmbeddedTemplates, Templates};
use crate::test::TestClient;

static TEMPLATES: EmbeddedTemplates = kiln_macros::templates!("src/htmx/testdata", crate = crate);

const SECRET: &[u8] = b"render-tests-secret-0123456789abcdef";

#[derive(Clone)]
struct State {
    templates: Templates,
}

#[derive(serde::Serialize)]
struct Page {
    accounts: Vec<&'static str>,
    csrf_token: CsrfToken,
}

async fn accounts(
    htmx: Htmx,
    token: CsrfToken,
    crate::app::State(state): crate::app::State<State>,
) -> Response {
    let page = Page {
        accounts: vec!["Cash", "Bank", "Equity"],
        csrf_token: token,
    };
    htmx.render_with_oob(&state.templates, "accounts.html", "rows", &["total"], page)
}

fn app() -> App<State> {
    let templates = Templates::new(TEMPLATES).expect("templates compile");
    App::new()
        .state(State { templates })
        .route("/accounts", get(accounts))
        .around(Csrf::new(SECRET).unwrap().layer())
}

#[test]
fn a_normal_request_gets_the_whole_page_with_vary() {
    let client = TestClient::new(app());
    client
        .get("/accounts")
        .send()
        .assert_status(200)
        .assert_contains("<h1>Accounts</h1>")
        .assert_contains("<td>Bank</td>")
        .assert_varies_on("HX-Request")
        .assert_varies_on("HX-Request-Type");
}

#[test]
fn htmx2_partial_gets_the_block_and_oob_blocks_only() {
    let client = TestClient::new(app());
    let response = client.get("/accounts").htmx_target("rows").send();
    response
        .assert_status(200)
        .assert_contains("<table id=\"rows\">")
        .assert_contains("hx-swap-oob=\"true\">3 accounts</p>")
        .assert_not_contains("<h1>")
        .assert_varies_on("HX-Request");
    // Block order is the order asked for.
    let text = response.text();
    assert!(text.find("id=\"rows\"").unwrap() < text.find("id=\"total\"").unwrap());
}

#[test]
fn htmx2_boosted_and_history_restore_get_the_page() {
    let client = TestClient::new(app());
    client
        .get("/accounts")
        .htmx_boosted()
        .send()
        .assert_contains("<h1>Accounts</h1>");
    client
        .get("/accounts")
        .htmx_history_restore()
        .send()
        .assert_contains("<h1>Accounts</h1>");
}

#[test]
fn htmx4_partial_gets_the_fragment_and_full_gets_the_page() {
    let client = TestClient::new(app());
    client
        .get("/accounts")
        .htmx4_partial()
        .send()
        .assert_not_contains("<h1>")
        .assert_contains("<table id=\"rows\">")
        .assert_varies_on("HX-Request-Type");
    client
        .get("/accounts")
        .htmx4_full()
        .send()
        .assert_contains("<h1>Accounts</h1>");
}

#[test]
fn the_csrf_token_reaches_templates_as_value_and_call() {
    let client = TestClient::new(app());
    let page = client.get("/accounts").send();
    let token = client.cookie("kiln_csrf").expect("csrf cookie");
    assert!(!token.is_empty());
    let text = page.text();
    let header_start = text.find("\"X-CSRF-Token\": \"").unwrap() + 17;
    let from_call = &text[header_start..header_start + 64];
    let field_start = text.find("name=\"csrf_token\" value=\"").unwrap() + 25;
    let from_value = &text[field_start..field_start + 64];
    assert_eq!(from_call, from_value);
    assert!(from_call.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn the_htmx_script_is_served_immutable_under_its_hashed_url() {
    let client = TestClient::new(app());
    let page = client.get("/accounts").send();
    let text = page.text();
    let start = text.find("src=\"").expect("script tag") + 5;
    let end = start + text[start..].find('"').unwrap();
    let url = text[start..end].replace("&#x2f;", "/");
    assert!(url.starts_with("/_kiln/"), "{url}");
    let script = client
        .get(&url)
        .header("Accept-Encoding", "br, gzip")
        .send();
    script
        .assert_status(200)
        .assert_header("cache-control", "public, max-age=31536000, immutable")
        .assert_header("content-encoding", "br");
    let etag = script.header("etag").unwrap().to_owned();
    client
        .get(&url)
        .header("Accept-Encoding", "br, gzip")
        .header("If-None-Match", &etag)
        .send()
        .assert_status(304);
    client.get("/_kiln/../Cargo.toml").send().assert_status(404);
}

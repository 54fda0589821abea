//! Tests of what an htmx app author uses every day, through `TestClient`: the request scope
//! in templates (CSRF token, request and htmx values, middleware values), flash messages,
//! async and optional extractors, forms on DELETE, the app's error pages, named routes, the
//! router answering 404/405 before CSRF, file-upload forms (multipart), cookie attributes, and the test client's CSRF
//! handling and redirect following. Templates are in `app/testdata/`.

use super::*;
use crate::htmx::Htmx;
use crate::http::{Response, StatusCode};
use crate::template::{EmbeddedTemplates, Templates};
use crate::test::TestClient;
use serde::Deserialize;

static TEMPLATES: EmbeddedTemplates = kiln_macros::templates!("src/app/testdata", crate = crate);
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-secret";

#[derive(Clone)]
struct Contacts {
    templates: Templates,
}

fn templates() -> Templates {
    Templates::builder(TEMPLATES)
        .dev_mode(false)
        .build()
        .unwrap()
}

fn contacts_state() -> Contacts {
    Contacts {
        templates: templates(),
    }
}

#[derive(serde::Serialize)]
struct ContactsPage {
    contacts: Vec<&'static str>,
}

/// The page or the `rows` fragment, passing only the page's own data.
async fn list(htmx: Htmx, State(app): State<Contacts>) -> Response {
    let page = ContactsPage {
        contacts: vec!["Ada", "Grace"],
    };
    htmx.render(&app.templates, "contacts.html", "rows", page)
}

async fn save(flash: Flash) -> Redirect {
    flash.success("Contact saved.");
    Redirect::to("/contacts")
}

async fn save_htmx(flash: Flash, htmx: Htmx) -> Response {
    flash.info("Saved from htmx.");
    htmx.redirect("/contacts")
}

/// The contacts app of these tests: sessions, CSRF, a middleware that adds the user, and the
/// app's error pages with an htmx error area.
fn contacts_app() -> App<Contacts> {
    App::with_state(contacts_state())
        .route("/contacts", get(list).post(save).name("contacts"))
        .route("/contacts/htmx", post(save_htmx))
        .route(
            "/contacts/{id}",
            get(|| async { "contact" }).name("contact"),
        )
        .route("/boom", get(boom))
        .route("/upload", post(upload))
        .route(
            "/own-422",
            get(|| async { (StatusCode::UNPROCESSABLE_ENTITY, Html("<form>own</form>")) }),
        )
        .route(
            "/number/{n}",
            get(|Path(n): Path<u32>| async move { n.to_string() }),
        )
        .around(
            |cx: RequestContext<Contacts>, next: Next<Contacts>| async move {
                cx.template_values().insert("user", "ada@example.com");
                next.run(cx).await
            },
        )
        .around(Csrf::new(SECRET).unwrap().secure(false).layer())
        .around(SessionLayer::new(SECRET).unwrap().secure(false).layer())
        .on_error(error_page)
        .error_target("#errors", "innerHTML")
}

/// Echoes what a file-upload form sent: the note field and the file's name and size.
async fn upload(form: Multipart) -> Result<String, Rejection> {
    let note = form.text("note")?.unwrap_or("-").to_owned();
    let file = match form.file("statement") {
        Some(file) => format!(
            "{} ({} bytes)",
            file.filename().unwrap_or("?"),
            file.data().len()
        ),
        None => "no file".to_owned(),
    };
    Ok(format!("{note}: {file}"))
}

async fn boom() -> &'static str {
    panic!("the handler broke")
}

fn error_page(page: &ErrorPage<'_, Contacts>) -> Response {
    #[derive(serde::Serialize)]
    struct Context<'a> {
        status: u16,
        message: &'a str,
    }
    let context = Context {
        status: page.status().as_u16(),
        message: page.message(),
    };
    page.htmx()
        .render(&page.state().templates, "error.html", "message", context)
}

// ---- the request scope ----------------------------------------------------------------------

#[test]
fn a_file_upload_form_passes_csrf_by_its_field_and_reaches_the_handler() {
    let client = TestClient::new(contacts_app());
    client.get("/contacts").send().assert_status(200);
    // The token travels in the multipart body's csrf_token field, as without JavaScript.
    let statement: &[u8] = b"date,amount\r\n2024-01-02,-12.50\r\n";
    client
        .post("/upload")
        .multipart(
            &[("note", "January")],
            &[("statement", "bank.csv", statement)],
        )
        .send()
        .assert_status(200)
        .assert_contains("January: bank.csv (32 bytes)");
    // An empty file input is no file.
    client
        .post("/upload")
        .multipart(&[], &[("statement", "", b"")])
        .send()
        .assert_status(200)
        .assert_contains("-: no file");
    // A wrong token in the field is refused like a wrong header.
    client
        .post("/upload")
        .multipart(&[("csrf_token", "forged")], &[])
        .send()
        .assert_status(403);
    client
        .post("/upload")
        .without_csrf()
        .multipart(&[("note", "x")], &[])
        .send()
        .assert_status(403);
    // A malformed body is a 400 with the reason (the header carries the token here).
    let token = client.csrf_token().unwrap();
    client
        .post("/upload")
        .header("Content-Type", "multipart/form-data; boundary=b")
        .header("X-CSRF-Token", &token)
        .body("--b\r\nContent-Type: text/plain\r\n\r\n1\r\n--b--")
        .send()
        .assert_status(400)
        .assert_contains("a part has no Content-Disposition header");
}

#[test]
fn templates_see_the_csrf_token_without_the_handler_passing_it() {
    let client = TestClient::new(contacts_app());
    let page = client.get("/contacts").send();
    page.assert_status(200);
    let token = client.csrf_token().expect("the page carries the token");
    page.assert_contains(&format!("<meta name=\"csrf-token\" content=\"{token}\">"))
        .assert_contains(&format!("hx-headers='{{\"X-CSRF-Token\": \"{token}\"}}'"));
    // The client sends it as the page would: the POST passes the CSRF check.
    client
        .post("/contacts")
        .send()
        .assert_status(303)
        .assert_redirect_to("/contacts");
    // Without it, refused.
    client
        .post("/contacts")
        .without_csrf()
        .send()
        .assert_status(403);
}

#[test]
fn a_render_that_needs_a_csrf_token_without_one_fails_loudly() {
    // No CSRF middleware: the render fails and says what to install, instead of printing a
    // placeholder that would make every htmx request from the page fail with 403.
    let app = App::with_state(contacts_state()).route(
        "/bare",
        get(|State(app): State<Contacts>| async move {
            app.templates
                .render("bare.html", ())
                .map(Html)
                .map_err(|error| error.to_string())
        }),
    );
    TestClient::new(app)
        .get("/bare")
        .send()
        .assert_contains("csrf_token: this request has no CSRF token; install the CSRF middleware");
}

#[test]
fn middleware_request_and_htmx_values_reach_every_render() {
    let client = TestClient::new(contacts_app());
    client
        .get("/contacts?sort=name")
        .send()
        .assert_contains("path=&#x2f;contacts query=sort=name htmx=no user=ada@example.com")
        .assert_contains("<li>Ada (ada@example.com)</li>");
    // The htmx fragment sees the middleware's value too.
    client
        .get("/contacts")
        .htmx_target("rows")
        .send()
        .assert_not_contains("<nav>")
        .assert_contains("<li>Grace (ada@example.com)</li>");
}

#[test]
fn the_handlers_own_value_wins_over_a_request_value() {
    let app = App::with_state(contacts_state())
        .route(
            "/contacts",
            get(|htmx: Htmx, State(app): State<Contacts>| async move {
                let context = minijinja::context! { contacts => ["Ada"], user => "from handler" };
                htmx.render(&app.templates, "contacts.html", "rows", context)
            }),
        )
        .route("/contacts/{id}", get(|| async { "" }).name("contact"))
        .around(
            |cx: RequestContext<Contacts>, next: Next<Contacts>| async move {
                cx.template_values().insert("user", "from middleware");
                next.run(cx).await
            },
        )
        .around(Csrf::new(SECRET).unwrap().layer())
        .around(SessionLayer::new(SECRET).unwrap().layer());
    let client = TestClient::new(app);
    client
        .get("/contacts")
        .send()
        .assert_contains("user=from handler")
        .assert_not_contains("from middleware");
}

#[test]
fn template_values_are_bounded_per_request() {
    let app = App::new().route(
        "/",
        get(|values: TemplateValues| async move {
            for index in 0..TEMPLATE_VALUES_MAX + 5 {
                values.insert(format!("v{index}"), index);
            }
            let last = TEMPLATE_VALUES_MAX - 1;
            format!(
                "{}|{}",
                values.get(&format!("v{last}")).is_some(),
                values.get(&format!("v{TEMPLATE_VALUES_MAX}")).is_some()
            )
        }),
    );
    TestClient::new(app)
        .get("/")
        .send()
        .assert_contains("true|false");
}

// ---- flash messages --------------------------------------------------------------------------

#[test]
fn a_flash_message_survives_a_303_and_shows_exactly_once() {
    let client = TestClient::new(contacts_app());
    client.get("/contacts").send();
    let page = client.post("/contacts").follow_redirects().send();
    assert_eq!(page.redirects, ["/contacts"]);
    page.assert_status(200)
        .assert_contains("<p class=\"flash success\">Contact saved.</p>");
    client
        .get("/contacts")
        .send()
        .assert_not_contains("Contact saved.");
}

#[test]
fn a_flash_message_survives_an_hx_redirect() {
    let client = TestClient::new(contacts_app());
    client.get("/contacts").send();
    let page = client
        .post("/contacts/htmx")
        .htmx()
        .follow_redirects()
        .send();
    page.assert_contains("<p class=\"flash info\">Saved from htmx.</p>");
    client
        .get("/contacts")
        .send()
        .assert_not_contains("Saved from htmx.");
}

#[test]
fn flash_messages_are_bounded_and_drop_the_oldest() {
    let app = App::new()
        .route(
            "/many",
            get(|flash: Flash| async move {
                for index in 0..FLASH_MESSAGES_MAX + 2 {
                    flash.info(format!("m{index}"));
                }
                let waiting = flash.take();
                format!(
                    "{}|{}|{}",
                    waiting.len(),
                    waiting[0].text,
                    waiting[waiting.len() - 1].text
                )
            }),
        )
        .around(SessionLayer::new(SECRET).unwrap().layer());
    TestClient::new(app)
        .get("/many")
        .send()
        .assert_contains(&format!(
            "{FLASH_MESSAGES_MAX}|m2|m{}",
            FLASH_MESSAGES_MAX + 1
        ));
}

#[test]
fn flash_without_the_session_middleware_says_so() {
    let app = App::new().route("/", get(|flash: Flash| async move { flash.info("x") }));
    TestClient::new(app)
        .get("/")
        .send()
        .assert_status(500)
        .assert_contains("SessionLayer (for Flash)");
}

// ---- extractors ------------------------------------------------------------------------------

/// An extractor that awaits (here a job on the blocking pool, as a database read would).
struct CurrentUser(String);

impl<S> FromRequest<S> for CurrentUser {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        let id = cx
            .request
            .header_str("x-user-id")
            .ok_or(Rejection::InvalidHeader("x-user-id"))?
            .to_owned();
        let name = crate::runtime::spawn_blocking(move || format!("user #{id}"))
            .await
            .map_err(|_| Rejection::InvalidHeader("x-user-id"))?;
        Ok(CurrentUser(name))
    }
}

#[test]
fn extractors_can_await() {
    let app = App::new().route(
        "/me",
        get(|CurrentUser(name): CurrentUser| async move { name }),
    );
    let client = TestClient::new(app);
    client
        .get("/me")
        .header("X-User-Id", "7")
        .send()
        .assert_status(200)
        .assert_contains("user #7");
    client.get("/me").send().assert_status(400);
}

#[derive(Deserialize, serde::Serialize)]
struct Page {
    page: u32,
}

#[test]
fn option_means_absent_and_a_malformed_value_is_still_rejected() {
    let app = App::new()
        .route(
            "/query",
            get(|query: Option<Query<Page>>| async move {
                query.map_or("absent".to_owned(), |Query(q)| q.page.to_string())
            }),
        )
        .route(
            "/form",
            post(|form: Option<Form<Page>>| async move {
                form.map_or("absent".to_owned(), |Form(f)| f.page.to_string())
            }),
        )
        .route(
            "/json",
            post(|json: Option<Json<Page>>| async move {
                json.map_or("absent".to_owned(), |Json(j)| j.page.to_string())
            }),
        )
        .route(
            "/htmx",
            get(|htmx: Option<Htmx>| async move { htmx.is_some().to_string() }),
        );
    let client = TestClient::new(app);
    client.get("/query").send().assert_contains("absent");
    client.get("/query?page=2").send().assert_contains("2");
    client.get("/query?page=two").send().assert_status(400);
    client.post("/form").send().assert_contains("absent");
    client
        .post("/form")
        .form(&[("page", "3")])
        .send()
        .assert_contains("3");
    client
        .post("/form")
        .form(&[("page", "three")])
        .send()
        .assert_status(422);
    client.post("/json").send().assert_contains("absent");
    client
        .post("/json")
        .json(&Page { page: 4 })
        .send()
        .assert_contains("4");
    client
        .post("/json")
        .header("Content-Type", "application/json")
        .body("{\"page\":")
        .send()
        .assert_status(400);
    client.get("/htmx").send().assert_contains("false");
    client.get("/htmx").htmx().send().assert_contains("true");
}

#[test]
fn result_hands_the_rejection_to_the_handler() {
    let app = App::new().route(
        "/form",
        post(|form: Result<Form<Page>, Rejection>| async move {
            match form {
                Ok(Form(page)) => (StatusCode::OK, format!("page {}", page.page)),
                Err(rejection) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("please fix: {}", rejection.status().as_u16()),
                ),
            }
        }),
    );
    let client = TestClient::new(app);
    client
        .post("/form")
        .form(&[("page", "x")])
        .send()
        .assert_status(422)
        .assert_contains("please fix: 422");
    client
        .post("/form")
        .form(&[("page", "5")])
        .send()
        .assert_contains("page 5");
}

#[derive(Deserialize)]
struct Selected {
    #[serde(default)]
    ids: Vec<u32>,
}

#[test]
fn form_reads_the_query_string_of_a_delete_without_a_body() {
    // htmx 2 sends DELETE parameters in the URL with an empty body.
    let app = App::new().route(
        "/contacts",
        delete(|Form(selected): Form<Selected>| async move { format!("{:?}", selected.ids) }),
    );
    let client = TestClient::new(app);
    client
        .delete("/contacts?ids=1&ids=3")
        .send()
        .assert_status(200)
        .assert_contains("[1, 3]");
    // A DELETE with a form body still reads the body.
    client
        .delete("/contacts")
        .form(&[("ids", "4")])
        .send()
        .assert_contains("[4]");
}

// ---- error pages -----------------------------------------------------------------------------

#[test]
fn the_app_renders_kiln_errors_with_its_own_page() {
    let client = TestClient::new(contacts_app());
    let missing = client.get("/nope").send();
    missing
        .assert_status(404)
        .assert_contains("<title>Error 404</title>")
        .assert_contains("<p class=\"error\">404: not found</p>")
        .assert_contains("user=ada@example.com")
        .assert_header("content-type", "text/html; charset=utf-8");
    // 405 keeps its Allow header.
    client
        .delete("/contacts")
        .send()
        .assert_status(405)
        .assert_header("allow", "GET, POST, HEAD")
        .assert_contains("405: method not allowed");
    // A rejection (bad path parameter) gets the page with its reason.
    client
        .get("/number/x")
        .send()
        .assert_status(400)
        .assert_contains("400: invalid path parameter");
    // The CSRF refusal too.
    client
        .post("/contacts")
        .without_csrf()
        .send()
        .assert_status(403)
        .assert_contains("403: CSRF token missing or invalid");
    // A page the app designed itself is left alone.
    client
        .get("/own-422")
        .send()
        .assert_status(422)
        .assert_contains("<form>own</form>")
        .assert_not_contains("Error 422");
}

#[test]
fn a_failed_htmx_request_is_retargeted_to_the_error_area() {
    let client = TestClient::new(contacts_app());
    client
        .get("/nope")
        .htmx_target("rows")
        .send()
        .assert_status(404)
        .assert_header("hx-retarget", "#errors")
        .assert_header("hx-reswap", "innerHTML")
        .assert_varies_on("HX-Request")
        .assert_contains("<p class=\"error\">404: not found</p>")
        .assert_not_contains("<nav>");
    // Without an error page, the plain reason is retargeted.
    let app = App::new()
        .route("/", get(|| async { "ok" }))
        .error_target("#errors", "innerHTML");
    TestClient::new(app)
        .get("/nope")
        .htmx()
        .send()
        .assert_status(404)
        .assert_header("hx-retarget", "#errors")
        .assert_contains("not found");
}

#[test]
fn a_panic_is_a_500_page_with_details_only_in_development_mode() {
    let client = TestClient::new(contacts_app().dev_mode(false));
    client
        .get("/boom")
        .send()
        .assert_status(500)
        .assert_contains("500: Internal Server Error")
        .assert_not_contains("the handler broke");
    let client = TestClient::new(contacts_app().dev_mode(true));
    client
        .get("/boom")
        .send()
        .assert_status(500)
        .assert_contains("handler panicked: the handler broke");
}

#[test]
fn server_errors_hide_details_outside_development_mode() {
    // Regression: a batch function's error text went into production 500 bodies.
    let failed: crate::batch::BatchError<&str> = crate::batch::BatchError::Failed("db password");
    let response = failed.into_response();
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    if !crate::dev_mode() {
        assert_eq!(response.plain_error(), Some("Internal Server Error"));
    }
    let busy = crate::runtime::BlockingError::Overloaded.into_response();
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(busy.header("retry-after").is_some());
    let elapsed = crate::runtime::Elapsed.into_response();
    assert_eq!(elapsed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(elapsed.header("retry-after").is_some());
    let panicked = crate::runtime::BlockingError::Panicked.into_response();
    assert_eq!(panicked.status, StatusCode::INTERNAL_SERVER_ERROR);
}

// ---- named routes ----------------------------------------------------------------------------

#[test]
fn url_for_builds_named_routes_in_templates_and_in_rust() {
    let client = TestClient::new(contacts_app());
    client
        .get("/contacts")
        .send()
        .assert_contains("<a id=\"first\" href=\"/contacts/7?tab=notes\">");
    let app = App::new().route(
        "/accounts/{id}",
        get(|urls: Urls, Path(id): Path<String>| async move {
            urls.url_for("account", &[("id", &format!("{id}/x y"))])
                .unwrap_or_else(|error| error.to_string())
        })
        .name("account"),
    );
    TestClient::new(app)
        .get("/accounts/7")
        .send()
        .assert_contains("/accounts/7%2Fx%20y");
}

#[test]
fn url_for_errors_name_the_route_or_the_parameter() {
    let render = |name: &'static str, params: minijinja::Value| {
        let app = App::with_state(contacts_state())
            .route(
                "/link",
                get(move |State(app): State<Contacts>| {
                    let params = params.clone();
                    async move {
                        app.templates
                            .render("link.html", minijinja::context! { name, params })
                            .map(Html)
                            .map_err(|error| error.to_string())
                    }
                }),
            )
            .route("/contacts/{id}", get(|| async { "" }).name("contact"));
        TestClient::new(app).get("/link").send()
    };
    render("contact", minijinja::context! { id => 3, q => "a&b" })
        .assert_contains("href=\"/contacts/3?q=a%26b\"");
    render(
        "contact",
        minijinja::context! { id => 3, q => "x", page => 2 },
    )
    .assert_contains("href=\"/contacts/3?page=2&amp;q=x\"");
    render("contact", minijinja::context! {})
        .assert_contains("url_for: route `contact` needs the parameter `id`");
    render("contacts", minijinja::context! { id => 3 })
        .assert_contains("url_for: no route is named `contacts` (named routes: contact)");
}

#[test]
#[should_panic(expected = "two routes are named \"home\"")] // a start-up error, by design
fn duplicate_route_names_are_refused_at_start_up() {
    let _ = App::new()
        .route("/", get(|| async { "" }).name("home"))
        .route("/home", get(|| async { "" }).name("home"))
        .build();
}

// ---- routing runs first ----------------------------------------------------------------------

#[test]
fn csrf_leaves_404_and_405_to_the_router() {
    let app = App::new()
        .route("/read-only", get(|| async { "ok" }))
        .around(Csrf::new(SECRET).unwrap().layer());
    let client = TestClient::new(app);
    client
        .put("/read-only")
        .send()
        .assert_status(405)
        .assert_header("allow", "GET, HEAD");
    client.post("/nope").send().assert_status(404);
    // A fallback handler may accept unsafe methods, so the token is checked there.
    let app = App::new()
        .fallback(|| async { "fallback" })
        .around(Csrf::new(SECRET).unwrap().layer());
    TestClient::new(app).post("/nope").send().assert_status(403);
}

#[test]
fn app_wide_middleware_sees_the_route() {
    // Regression: `middleware::trace()` logged `route=` empty, reading it before routing ran.
    let app = App::new()
        .route("/accounts/{id}", get(|| async { "account" }))
        .around(|cx: RequestContext<()>, next: Next<()>| async move {
            let seen = format!("{:?}|{:?}", cx.route(), cx.routing());
            let mut response = next.run(cx).await;
            let value = crate::http::HeaderValue::try_from(seen).unwrap();
            let _ = response.set_header("x-route", value);
            response
        })
        .around(middleware::trace());
    let client = TestClient::new(app);
    client
        .get("/accounts/7")
        .send()
        .assert_header("x-route", "Some(\"/accounts/{id}\")|Matched(0)");
    client
        .get("/nope")
        .send()
        .assert_header("x-route", "None|NotFound");
}

// ---- cookies ---------------------------------------------------------------------------------

#[test]
fn session_and_csrf_cookies_are_http_only_lax_and_secure_unless_opted_out() {
    let app = |secure: bool| {
        App::new()
            .route(
                "/",
                get(|session: Session| async move {
                    session.insert("seen", "1");
                    "ok"
                }),
            )
            .around(Csrf::new(SECRET).unwrap().secure(secure).layer())
            .around(SessionLayer::new(SECRET).unwrap().secure(secure).layer())
    };
    let response = TestClient::new(app(true)).get("/").send();
    let cookies: Vec<&str> = response.headers_all("set-cookie").collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for cookie in &cookies {
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Secure"), "{cookie}");
    }
    let response = TestClient::new(app(false)).get("/").send();
    for cookie in response.headers_all("set-cookie") {
        assert!(!cookie.contains("Secure"), "{cookie}");
    }
    // The default follows development mode.
    let defaults = SessionLayer::new(SECRET).unwrap();
    assert_eq!(
        format!("{defaults:?}").contains("security: Always"),
        !crate::dev_mode()
    );
}

#[test]
fn cookies_are_secure_when_the_proxy_says_the_client_came_over_https() {
    let app = App::new()
        .route(
            "/",
            get(|session: Session| async move {
                session.insert("seen", "1");
                "ok"
            }),
        )
        .around(
            Csrf::new(SECRET)
                .unwrap()
                .security(CookieSecurity::WhenForwardedHttps)
                .layer(),
        )
        .around(
            SessionLayer::new(SECRET)
                .unwrap()
                .security(CookieSecurity::WhenForwardedHttps)
                .layer(),
        );
    let client = TestClient::new(app);
    let secure_count = |headers: &[(&str, &str)]| {
        let mut request = client.get("/").without_cookies();
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send();
        let cookies: Vec<String> = response
            .headers_all("set-cookie")
            .map(str::to_owned)
            .collect();
        assert_eq!(cookies.len(), 2, "{cookies:?}");
        cookies.iter().filter(|c| c.contains("; Secure")).count()
    };
    assert_eq!(secure_count(&[]), 0, "plain HTTP, no proxy");
    assert_eq!(secure_count(&[("X-Forwarded-Proto", "https")]), 2);
    assert_eq!(secure_count(&[("X-Forwarded-Proto", "HTTPS, http")]), 2);
    assert_eq!(secure_count(&[("X-Forwarded-Proto", "http")]), 0);
    assert_eq!(
        secure_count(&[("Forwarded", "for=192.0.2.60;proto=https;by=203.0.113.43")]),
        2
    );
    assert_eq!(
        secure_count(&[("Forwarded", "for=192.0.2.60;proto=http")]),
        0
    );
}

// ---- the test client -------------------------------------------------------------------------

#[test]
fn the_test_client_follows_redirects_and_hx_location() {
    let app = App::new()
        .route("/a", get(|| async { Redirect::to("/b") }))
        .route("/b", get(|| async { Redirect::to("/c") }))
        .route(
            "/c",
            get(|htmx: Htmx| async move { format!("c htmx={}", htmx.is_htmx()) }),
        )
        .route(
            "/loc",
            post(|| async { (crate::htmx::HxResponse::new().location("/c"), Html("moved")) }),
        )
        .route("/loop", get(|| async { Redirect::to("/loop") }));
    let client = TestClient::new(app);
    client.get("/a").send().assert_redirect_to("/b");
    let end = client.get("/a").follow_redirects().send();
    assert_eq!(end.redirects, ["/b", "/c"]);
    end.assert_contains("c htmx=false");
    // HX-Location is followed the way htmx does: an htmx GET.
    let end = client.post("/loc").htmx().follow_redirects().send();
    end.assert_contains("c htmx=true");
    let looped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        client.get("/loop").follow_redirects().send()
    }));
    assert!(looped.is_err(), "a redirect loop fails the test");
}

// ---- per-worker copies -----------------------------------------------------------------------

/// `GET /` over a real socket; the whole answer as text.
fn get_root_over_a_socket(addr: std::net::SocketAddr) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    std::io::Write::write_all(&mut stream, request).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    answer
}

#[test]
fn each_worker_serves_with_its_own_copy_of_what_requests_clone() {
    // The state's `Arc`, the routing table and the middleware chain are per worker, so a
    // request's reference counting never writes a counter another worker writes too.
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CLONES: AtomicUsize = AtomicUsize::new(0);
    struct Counted;
    impl Clone for Counted {
        fn clone(&self) -> Self {
            CLONES.fetch_add(1, Ordering::SeqCst);
            Counted
        }
    }
    let app = App::with_state(Counted)
        .route("/", get(|State(_): State<Counted>| async { "ok" }))
        .around(middleware::SecurityHeaders::default().layer());
    let built = app.build();
    assert_eq!(CLONES.load(Ordering::SeqCst), 1, "the built app's own copy");
    let copy = built.for_worker();
    assert!(!std::sync::Arc::ptr_eq(&built.state, &copy.state));
    drop(copy);
    let server = crate::Server::bind("127.0.0.1:0")
        .workers(2)
        .start(built)
        .unwrap();
    let answer = get_root_over_a_socket(server.local_addr());
    server.stop();
    assert!(
        answer.contains("x-content-type-options: nosniff"),
        "{answer}"
    );
    // Built app 1, `for_worker` above 1, one per server worker 2, the request's `State` 1.
    assert_eq!(CLONES.load(Ordering::SeqCst), 5);
}

#[test]
fn a_state_made_per_worker_is_made_once_per_worker() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let app = App::new()
        .state_per_worker(|| MADE.fetch_add(1, Ordering::SeqCst) + 1)
        .route(
            "/",
            get(|State(serial): State<usize>| async move { serial.to_string() }),
        );
    let built = app.build();
    assert_eq!(MADE.load(Ordering::SeqCst), 1);
    let server = crate::Server::bind("127.0.0.1:0")
        .workers(2)
        .start(built)
        .unwrap();
    let answer = get_root_over_a_socket(server.local_addr());
    server.stop();
    // One for the built app, one per worker.
    assert_eq!(MADE.load(Ordering::SeqCst), 3);
    // A worker's own state answered (2 or 3), never the built app's (1).
    assert!(
        answer.ends_with("\r\n\r\n2") || answer.ends_with("\r\n\r\n3"),
        "{answer}"
    );
}

#[test]
fn an_error_page_that_fails_to_render_leaves_the_original_error() {
    // The page needs a CSRF token the app does not have: its render fails, and the 404 must
    // not turn into a 500.
    let app = App::with_state(contacts_state())
        .route("/", get(|| async { "ok" }))
        .on_error(|page: &ErrorPage<'_, Contacts>| {
            page.state()
                .templates
                .render("bare.html", ())
                .map(Html)
                .into_response()
        });
    TestClient::new(app)
        .get("/nope")
        .send()
        .assert_status(404)
        .assert_contains("not found");
}

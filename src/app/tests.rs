//! Tests of the app layer through `kiln::test::TestClient`: routing, each extractor and its
//! rejection, middleware order, sessions and CSRF.

use super::*;
use crate::http::{Method, StatusCode};
use crate::test::TestClient;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

#[derive(Clone)]
struct AppState {
    name: &'static str,
}

async fn index() -> &'static str {
    "index"
}

async fn show(Path(id): Path<u64>) -> String {
    format!("account {id}")
}

async fn update(Path(id): Path<u64>, Form(form): Form<Rename>) -> String {
    format!("renamed {id} to {}", form.name)
}

#[derive(Deserialize, Serialize)]
struct Rename {
    name: String,
}

fn routes() -> App<AppState> {
    App::new()
        .state(AppState { name: "kiln" })
        .route("/", get(index))
        .route("/accounts/{id}", get(show).post(update))
}

#[test]
fn the_route_table_lists_paths_methods_and_names_with_nested_prefixes() {
    let nested = Router::new().route("/items/{id}", get(show).name("item"));
    let app = routes().nest("/api", nested).route("/anything", any(index));
    let table = app.route_table();
    let lines: Vec<(String, Vec<Method>, bool, Option<String>)> = table
        .into_iter()
        .map(|r| (r.path, r.methods, r.any, r.name))
        .collect();
    assert_eq!(
        lines,
        [
            ("/".to_owned(), vec![Method::Get], false, None),
            (
                "/accounts/{id}".to_owned(),
                vec![Method::Get, Method::Post],
                false,
                None
            ),
            (
                "/api/items/{id}".to_owned(),
                vec![Method::Get],
                false,
                Some("item".to_owned())
            ),
            ("/anything".to_owned(), vec![], true, None),
        ]
    );
}

#[test]
fn routes_match_and_unknown_paths_get_404() {
    let client = TestClient::new(routes());
    client
        .get("/")
        .send()
        .assert_status(200)
        .assert_contains("index");
    client
        .get("/accounts/7")
        .send()
        .assert_status(200)
        .assert_contains("account 7");
    client.get("/nope").send().assert_status(404);
}

#[test]
fn wrong_method_gets_405_with_allow() {
    let client = TestClient::new(routes());
    client
        .delete("/accounts/7")
        .send()
        .assert_status(405)
        .assert_header("allow", "GET, POST, HEAD");
}

#[test]
fn head_is_served_by_get_without_a_body() {
    let client = TestClient::new(routes());
    let response = client.head("/accounts/3").send();
    response.assert_status(200);
    assert!(response.body.is_empty());
}

#[test]
fn nested_routers_keep_their_middleware() {
    let api = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .around(|cx: RequestContext<()>, next: Next<()>| async move {
            let mut response = next.run(cx).await;
            let _ = response.set_header("x-api", crate::http::HeaderValue::from_static("1"));
            response
        });
    let app = App::new().route("/", get(index)).nest("/api", api);
    let client = TestClient::new(app);
    client
        .get("/api/ping")
        .send()
        .assert_status(200)
        .assert_header("x-api", "1");
    client.get("/").send().assert_no_header("x-api");
}

#[test]
fn fallback_answers_unmatched_paths() {
    let app = App::new()
        .route("/", get(index))
        .fallback(|| async { (StatusCode::NOT_FOUND, Html("<h1>Lost?</h1>")) });
    let client = TestClient::new(app);
    client
        .get("/missing")
        .send()
        .assert_status(404)
        .assert_contains("Lost?");
}

#[test]
fn app_middleware_runs_outermost_first() {
    let app = App::new()
        .route("/", get(index))
        .around(|cx: RequestContext<()>, next: Next<()>| async move {
            let mut response = next.run(cx).await;
            let _ =
                response.append_header("x-order", crate::http::HeaderValue::from_static("outer"));
            response
        })
        .around(|cx: RequestContext<()>, next: Next<()>| async move {
            let mut response = next.run(cx).await;
            let _ =
                response.append_header("x-order", crate::http::HeaderValue::from_static("inner"));
            response
        });
    let client = TestClient::new(app);
    let response = client.get("/").send();
    let order: Vec<&str> = response.headers_all("x-order").collect();
    assert_eq!(order, ["inner", "outer"]);
    // App middleware also sees 404s.
    assert_eq!(
        client.get("/missing").send().headers_all("x-order").count(),
        2
    );
}

#[test]
fn path_rejection_is_400_with_a_reason() {
    let client = TestClient::new(routes());
    client
        .get("/accounts/abc")
        .send()
        .assert_status(400)
        .assert_contains("invalid path parameter");
}

#[test]
fn path_parameters_are_percent_decoded() {
    let app = App::new().route(
        "/tags/{tag}",
        get(|Path(tag): Path<String>| async move { tag }),
    );
    let client = TestClient::new(app);
    client
        .get("/tags/caf%C3%A9%20bar")
        .send()
        .assert_contains("café bar");
}

#[derive(Deserialize)]
struct Search {
    q: String,
    #[serde(default)]
    tag: Vec<String>,
    page: Option<u32>,
}

async fn search(Query(search): Query<Search>) -> String {
    format!("{}|{}|{:?}", search.q, search.tag.join(","), search.page)
}

#[test]
fn query_reads_repeated_keys_and_rejects_bad_types() {
    let client = TestClient::new(App::new().route("/search", get(search)));
    client
        .get("/search?q=ink&tag=a&tag=b&page=2")
        .send()
        .assert_status(200)
        .assert_contains("ink|a,b|Some(2)");
    client
        .get("/search?q=ink&page=two")
        .send()
        .assert_status(400)
        .assert_contains("invalid query string");
    client.get("/search").send().assert_status(400);
}

#[test]
fn form_needs_its_content_type_and_valid_data() {
    let client = TestClient::new(routes());
    client
        .post("/accounts/9")
        .form(&Rename {
            name: "Cash".into(),
        })
        .send()
        .assert_status(200)
        .assert_contains("renamed 9 to Cash");
    client
        .post("/accounts/9")
        .json(&Rename {
            name: "Cash".into(),
        })
        .send()
        .assert_status(415)
        .assert_contains("application/x-www-form-urlencoded");
    client
        .post("/accounts/9")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("other=1")
        .send()
        .assert_status(422)
        .assert_contains("invalid form data");
}

#[derive(Deserialize, Serialize)]
struct Entry {
    amount: i64,
    memo: String,
}

async fn create(Json(entry): Json<Entry>) -> Json<Entry> {
    Json(Entry {
        amount: entry.amount * 2,
        memo: entry.memo,
    })
}

#[test]
fn json_extracts_and_rejects_with_400_415_422() {
    let client = TestClient::new(App::new().route("/entries", post(create)));
    let response = client
        .post("/entries")
        .json(&Entry {
            amount: 21,
            memo: "x".into(),
        })
        .send();
    response
        .assert_status(200)
        .assert_header("content-type", "application/json");
    let echoed: Entry = response.json();
    assert_eq!(echoed.amount, 42);
    client
        .post("/entries")
        .header("Content-Type", "application/json")
        .body("{\"amount\": 1,")
        .send()
        .assert_status(400)
        .assert_contains("malformed JSON");
    client
        .post("/entries")
        .header("Content-Type", "application/json")
        .body("{\"amount\": \"many\", \"memo\": \"x\"}")
        .send()
        .assert_status(422)
        .assert_contains("unexpected JSON");
    client
        .post("/entries")
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .assert_status(415);
}

#[test]
fn state_cookies_headers_bytes_string_and_method_extract() {
    async fn all(
        State(state): State<AppState>,
        cookies: Cookies,
        headers: Headers,
        method: Method,
        body: Bytes,
        text: String,
    ) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}",
            state.name,
            cookies.get("theme").unwrap_or("-"),
            headers.get_str("x-custom").unwrap_or("-"),
            method,
            body.len(),
            text
        )
    }
    let app = App::new()
        .state(AppState { name: "kiln" })
        .route("/all", post(all));
    let client = TestClient::new(app);
    client.set_cookie("theme", "dark");
    client
        .post("/all")
        .header("X-Custom", "yes")
        .body("hello")
        .send()
        .assert_status(200)
        .assert_contains("kiln|dark|yes|POST|5|hello");
}

#[test]
fn string_body_rejects_invalid_utf8() {
    let app = App::new().route("/text", post(|text: String| async move { text }));
    let client = TestClient::new(app);
    client
        .post("/text")
        .body(vec![0xff, 0xfe])
        .send()
        .assert_status(400)
        .assert_contains("UTF-8");
}

#[test]
fn optional_extractors_never_reject() {
    let app = App::new().route(
        "/maybe",
        get(|query: Option<Query<Search>>| async move {
            match query {
                Some(Query(search)) => search.q,
                None => "none".to_string(),
            }
        }),
    );
    let client = TestClient::new(app);
    client.get("/maybe").send().assert_contains("none");
    client.get("/maybe?q=x").send().assert_contains("x");
}

#[test]
fn request_id_is_generated_or_kept_when_valid() {
    let app = App::new()
        .route(
            "/",
            get(|Extension(id): Extension<middleware::RequestId>| async move { id.0 }),
        )
        .around(middleware::request_id());
    let client = TestClient::new(app);
    let generated = client.get("/").send();
    let id = generated.header("x-request-id").unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(generated.text(), id);
    client
        .get("/")
        .header("X-Request-Id", "abc-123")
        .send()
        .assert_header("x-request-id", "abc-123");
    let replaced = client
        .get("/")
        .header("X-Request-Id", "bad id<script>")
        .send();
    assert_ne!(replaced.header("x-request-id"), Some("bad id<script>"));
}

#[test]
fn security_headers_are_added_unless_set() {
    let app = App::new()
        .route("/", get(index))
        .around(middleware::SecurityHeaders::default().layer());
    let client = TestClient::new(app);
    client
        .get("/")
        .send()
        .assert_header("x-content-type-options", "nosniff")
        .assert_header("x-frame-options", "DENY");
}

#[test]
fn extension_without_its_middleware_is_a_500_not_a_panic() {
    let app = App::new().route(
        "/",
        get(|Extension(id): Extension<middleware::RequestId>| async move { id.0 }),
    );
    let client = TestClient::new(app);
    client
        .get("/")
        .send()
        .assert_status(500)
        .assert_contains("misconfiguration");
}

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-secret";

fn session_app() -> App<()> {
    App::new()
        .route(
            "/login/{user}",
            post(|session: Session, Path(user): Path<String>| async move {
                session.insert("user", user);
                "logged in"
            }),
        )
        .route(
            "/me",
            get(|session: Session| async move {
                session.get("user").unwrap_or_else(|| "anonymous".into())
            }),
        )
        .route(
            "/logout",
            post(|session: Session| async move {
                session.clear();
                "bye"
            }),
        )
        .around(SessionLayer::new(SECRET).unwrap().layer())
}

#[test]
fn sessions_round_trip_in_a_signed_cookie() {
    let client = TestClient::new(session_app());
    client.get("/me").send().assert_contains("anonymous");
    client.post("/login/ada").send().assert_status(200);
    client.get("/me").send().assert_contains("ada");
    client.post("/logout").send();
    client.get("/me").send().assert_contains("anonymous");
}

#[test]
fn sessions_are_tamper_proof() {
    let client = TestClient::new(session_app());
    client.post("/login/ada").send();
    let cookie = client.cookie("kiln_session").expect("session cookie");
    // Swap the user inside the cookie value but keep the signature: refused.
    let forged = cookie.replace("ada", "eve");
    assert_ne!(forged, cookie);
    client.set_cookie("kiln_session", &forged);
    client.get("/me").send().assert_contains("anonymous");
    // An unsigned cookie is refused too.
    client.set_cookie("kiln_session", "{\"user\":\"eve\"}");
    client.get("/me").send().assert_contains("anonymous");
}

#[test]
fn weak_session_secrets_are_refused() {
    assert!(SessionLayer::new(b"short").is_err());
}

fn csrf_app() -> App<()> {
    App::new()
        .route(
            "/form",
            get(|token: CsrfToken| async move { token.0 }).post(|| async { "saved" }),
        )
        .around(Csrf::new(SECRET).unwrap().layer())
}

#[test]
fn csrf_refuses_unsafe_requests_without_a_valid_token() {
    let client = TestClient::new(csrf_app());
    // No cookie, no token.
    client
        .post("/form")
        .send()
        .assert_status(403)
        .assert_contains("CSRF token missing or invalid");
    let token = client.get("/form").send().text().to_owned();
    assert_eq!(token.len(), 64);
    // Cookie but wrong token.
    client
        .post("/form")
        .header("X-CSRF-Token", "wrong")
        .send()
        .assert_status(403);
    // Header (htmx hx-headers) accepted.
    client
        .post("/form")
        .header("X-CSRF-Token", &token)
        .send()
        .assert_status(200)
        .assert_contains("saved");
    // Form field accepted.
    client
        .post("/form")
        .form(&[("csrf_token", token.as_str()), ("x", "1")])
        .send()
        .assert_status(200);
    // The right token without the cookie is refused.
    client
        .post("/form")
        .header("X-CSRF-Token", &token)
        .without_cookies()
        .send()
        .assert_status(403);
}

//! Kiln's side of the load-test harness (`benches/loadtest/`), as a library so the endpoint
//! test drives the same app the benchmark measures.
//!
//! Four TechEmpower-style endpoints on the app layer (router, extractors, templates):
//! `GET /plaintext`, `GET /json` (sonic-rs, serialised per request), `GET /fortunes` (one
//! SQLite query per request on a per-worker connection, reused from the `fortunes` example,
//! one added row, sorted, rendered with `templates/bench/fortunes.html`) and `GET /fragment`
//! (a 20-row table built per request: the whole page, or only its `rows` block for an htmx
//! partial request, with `Vary` set by kiln). The peer servers in `benches/loadtest/peers`
//! implement the same endpoints from the same template files.
//!
//! It does not measure anything itself and holds no state between requests besides the
//! database connection; the test is `tests/endpoints.rs`.

use bytes::{BufMut, BytesMut};
use kiln::app::{App, State, get};
use kiln::htmx::Htmx;
use kiln::http::{HeaderValue, Response, StatusCode};
use kiln::template::Templates;

pub use fortunes::{ADDED_FORTUNE, Fortune, query_fortunes};

/// Rows in the fragment test's table.
pub const FRAGMENT_ROWS_COUNT: usize = 20;

/// Names the fragment rows cycle through; one needs escaping.
const FRAGMENT_NAMES: [&str; 5] = ["Cash", "Bank", "Fish & Chips", "Equity", "Receivables"];

/// The templates every server in the harness renders (`templates/bench/`).
pub static TEMPLATES: kiln::template::EmbeddedTemplates = kiln::templates!("templates/bench");

#[derive(Clone)]
pub struct BenchState {
    pub templates: Templates,
}

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

/// One row of the fragment test's table.
#[derive(serde::Serialize, Debug, Clone, PartialEq)]
pub struct Row {
    pub id: u32,
    pub name: &'static str,
    pub qty: u32,
}

/// The fragment test's data set, built anew for every request (as a query result would be).
pub fn fragment_rows() -> Vec<Row> {
    (1..=FRAGMENT_ROWS_COUNT as u32)
        .map(|id| Row {
            id,
            name: FRAGMENT_NAMES[id as usize % FRAGMENT_NAMES.len()],
            qty: (id * 7) % 13,
        })
        .collect()
}

async fn plaintext() -> Response {
    Response::ok("Hello, World!").with_static_header("content-type", "text/plain")
}

async fn json() -> Response {
    let mut body = BytesMut::with_capacity(32).writer();
    let message = Message {
        message: "Hello, World!",
    };
    match sonic_rs::to_writer(&mut body, &message) {
        Ok(()) => {
            let mut response = Response::ok(body.into_inner().freeze());
            let _ =
                response.set_header("content-type", HeaderValue::from_static("application/json"));
            response
        }
        Err(_) => Response::error(StatusCode::INTERNAL_SERVER_ERROR, "serialisation failed"),
    }
}

async fn fortunes_page(State(state): State<BenchState>) -> Response {
    fortunes::render_page(&state.templates)
}

async fn fragment(htmx: Htmx, State(state): State<BenchState>) -> Response {
    #[derive(serde::Serialize)]
    struct Page {
        rows: Vec<Row>,
    }
    let page = Page {
        rows: fragment_rows(),
    };
    htmx.render(&state.templates, "fragment.html", "rows", page)
}

/// The app: the four endpoints. Each worker builds its own templates (what a thread-per-core
/// server wants: no reference count shared between workers on the request path).
pub fn app() -> Result<App<BenchState>, kiln::template::TemplateError> {
    // Checked once here, so the per-worker builds below cannot fail.
    Templates::new(TEMPLATES)?;
    Ok(App::new()
        .state_per_worker(|| BenchState {
            templates: Templates::new(TEMPLATES).expect("the same templates built above"),
        })
        .route("/plaintext", get(plaintext))
        .route("/json", get(json))
        .route("/fortunes", get(fortunes_page))
        .route("/fragment", get(fragment)))
}

//! The TechEmpower Fortunes test on kiln, as a library so tests can drive the same app.
//!
//! Each request runs one query against an embedded SQLite database (one connection per
//! worker thread, seeded at start-up with the twelve TechEmpower rows), adds one fortune,
//! sorts by message and renders `templates/fortunes/fortunes.html`, whose autoescaping makes
//! the `<script>` row harmless. No caching of rows between requests (that is the test's rule).

use kiln::app::{App, Html, IntoResponse, State, get};
use kiln::http::{Response, StatusCode};
use kiln::template::Templates;
use std::cell::RefCell;

/// The rows every TechEmpower implementation serves.
const SEED: &[(i64, &str)] = &[
    (1, "fortune: No such file or directory"),
    (
        2,
        "A computer scientist is someone who fixes things that aren't broken.",
    ),
    (3, "After enough decimal places, nobody gives a damn."),
    (
        4,
        "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    ),
    (
        5,
        "A computer program does what you tell it to do, not what you want it to do.",
    ),
    (
        6,
        "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    ),
    (7, "Any program that runs right is obsolete."),
    (
        8,
        "A list is only as strong as its weakest link. — Donald Knuth",
    ),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (
        11,
        "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    ),
    (12, "フレームワークのベンチマーク"),
];

/// The fortune added to every response.
pub const ADDED_FORTUNE: &str = "Additional fortune added at request time.";

#[derive(serde::Serialize, Debug, Clone, PartialEq)]
pub struct Fortune {
    pub id: i64,
    pub message: String,
}

#[derive(Clone)]
pub struct FortunesState {
    pub templates: Templates,
}

thread_local! {
    /// One connection per worker thread; SQLite answers twelve rows in microseconds, so the
    /// query runs inline on the worker instead of hopping to the blocking pool.
    static DB: RefCell<Option<rusqlite::Connection>> = const { RefCell::new(None) };
}

fn open_seeded() -> rusqlite::Result<rusqlite::Connection> {
    let connection = rusqlite::Connection::open_in_memory()?;
    connection
        .execute_batch("CREATE TABLE fortune (id INTEGER PRIMARY KEY, message TEXT NOT NULL)")?;
    {
        let mut insert = connection.prepare("INSERT INTO fortune (id, message) VALUES (?1, ?2)")?;
        for (id, message) in SEED {
            insert.execute((id, message))?;
        }
    }
    Ok(connection)
}

/// Runs the one query of a request on this worker's connection.
pub fn query_fortunes() -> rusqlite::Result<Vec<Fortune>> {
    DB.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(open_seeded()?);
        }
        let Some(connection) = slot.as_ref() else {
            return Err(rusqlite::Error::InvalidQuery);
        };
        let mut statement = connection.prepare_cached("SELECT id, message FROM fortune")?;
        let rows = statement.query_map([], |row| {
            Ok(Fortune {
                id: row.get(0)?,
                message: row.get(1)?,
            })
        })?;
        rows.collect()
    })
}

/// One Fortunes response: the query, the added row, the sort and the render of
/// `fortunes.html` from `templates` (shared with the load-test bench server).
pub fn render_page(templates: &Templates) -> Response {
    let mut rows = match query_fortunes() {
        Ok(rows) => rows,
        Err(error) => {
            tracing::error!(%error, "fortune query failed");
            return Response::error(StatusCode::INTERNAL_SERVER_ERROR, "database error");
        }
    };
    rows.push(Fortune {
        id: 0,
        message: ADDED_FORTUNE.to_owned(),
    });
    rows.sort_by(|a, b| a.message.cmp(&b.message));
    #[derive(serde::Serialize)]
    struct Page<'a> {
        fortunes: &'a [Fortune],
    }
    match templates.render("fortunes.html", Page { fortunes: &rows }) {
        Ok(body) => Html(body).into_response(),
        Err(error) => error.to_response(false),
    }
}

async fn fortunes(State(state): State<FortunesState>) -> Response {
    render_page(&state.templates)
}

/// The app: `GET /fortunes`.
pub fn app() -> Result<App<FortunesState>, kiln::template::TemplateError> {
    let templates = Templates::new(kiln::templates!("templates/fortunes"))?;
    Ok(App::new()
        .state(FortunesState { templates })
        .route("/fortunes", get(fortunes)))
}

//! What every peer server shares, so the only difference between them is the server: the
//! bench templates (included from the root `templates/bench/` files, so they cannot drift from
//! what kiln-bench-server renders), one minijinja environment, the Fortunes database (one
//! in-memory SQLite connection per thread, one query per request), the fragment test's rows,
//! JSON with sonic-rs, a per-thread cached `Date` value, and the `--addr`/`--workers` arguments.
//!
//! It does no I/O and knows nothing about any server; each peer crate maps these bodies onto
//! its own request and response types. Correctness of the outputs is checked against kiln's by
//! `run.py` (it compares every server's bodies before measuring).

use bytes::{BufMut, Bytes, BytesMut};
use clap::Parser;
use minijinja::value::Serde;
use minijinja::{Environment, Value};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::SystemTime;

/// The plaintext body.
pub const PLAINTEXT: &str = "Hello, World!";
/// The `Vary` kiln sets on page-or-fragment responses; the peers send the same.
pub const FRAGMENT_VARY: &str =
    "HX-Request, HX-Request-Type, HX-Boosted, HX-History-Restore-Request";
/// `FRAGMENT_VARY` as a header line, for servers that take whole lines.
pub const FRAGMENT_VARY_LINE: &str =
    "Vary: HX-Request, HX-Request-Type, HX-Boosted, HX-History-Restore-Request";
/// The fortune added to every response.
pub const ADDED_FORTUNE: &str = "Additional fortune added at request time.";
/// Rows in the fragment test's table.
pub const FRAGMENT_ROWS_COUNT: u32 = 20;
const FRAGMENT_NAMES: [&str; 5] = ["Cash", "Bank", "Fish & Chips", "Equity", "Receivables"];
/// Render buffers start at this size (a Fortunes page is about 1.2 KiB).
const RENDER_BUFFER_BYTES: usize = 2048;

const FORTUNES_HTML: &str = include_str!("../../../../../templates/bench/fortunes.html");
const FRAGMENT_HTML: &str = include_str!("../../../../../templates/bench/fragment.html");

/// The rows every TechEmpower implementation serves (the same as examples/fortunes).
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

/// `--addr` and `--workers`, as every server in the harness takes them.
#[derive(Parser, Debug)]
pub struct Args {
    /// Address to listen on (the harness uses 127.0.0.1 only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Worker threads; default: one per core.
    #[arg(long)]
    pub workers: Option<usize>,
}

impl Args {
    /// Parses the command line and says where the server will listen.
    pub fn parse_and_log(server: &str) -> Args {
        let args = Args::parse();
        eprintln!(
            "{server}: listening on {} with {} workers",
            args.addr,
            args.workers()
        );
        args
    }

    pub fn workers(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

#[derive(serde::Serialize)]
struct Fortune {
    id: i64,
    message: String,
}

#[derive(serde::Serialize)]
struct Row {
    id: u32,
    name: &'static str,
    qty: u32,
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.add_template("fortunes.html", FORTUNES_HTML)
        .expect("fortunes.html compiles");
    env.add_template("fragment.html", FRAGMENT_HTML)
        .expect("fragment.html compiles");
    env
});

thread_local! {
    static DB: RefCell<Option<rusqlite::Connection>> = const { RefCell::new(None) };
    static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Compiles the templates now rather than on the first request.
pub fn init() {
    LazyLock::force(&ENV);
}

/// `{"message":"Hello, World!"}`, serialised with sonic-rs for every call.
pub fn json_body() -> Bytes {
    let mut body = BytesMut::with_capacity(32).writer();
    let message = Message { message: PLAINTEXT };
    sonic_rs::to_writer(&mut body, &message).expect("serialising a struct of a string");
    body.into_inner().freeze()
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

fn query_fortunes() -> rusqlite::Result<Vec<Fortune>> {
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

/// The Fortunes page: one query, one added row, sorted by message, rendered (autoescaped).
pub fn fortunes_body() -> Result<Bytes, String> {
    let mut rows = query_fortunes().map_err(|error| error.to_string())?;
    rows.push(Fortune {
        id: 0,
        message: ADDED_FORTUNE.to_owned(),
    });
    rows.sort_by(|a, b| a.message.cmp(&b.message));
    #[derive(serde::Serialize)]
    struct Page<'a> {
        fortunes: &'a [Fortune],
    }
    let template = ENV
        .get_template("fortunes.html")
        .map_err(|e| e.to_string())?;
    let mut out = BytesMut::with_capacity(RENDER_BUFFER_BYTES).writer();
    template
        .render_captured_to(Value::from(Serde(Page { fortunes: &rows })), &mut out)
        .map_err(|error| error.to_string())?;
    Ok(out.into_inner().freeze())
}

/// The fragment test: the whole page, or (`partial`) only its `rows` block, from 20 rows
/// built for this request.
pub fn fragment_body(partial: bool) -> Result<Bytes, String> {
    #[derive(serde::Serialize)]
    struct Page {
        rows: Vec<Row>,
    }
    let rows = (1..=FRAGMENT_ROWS_COUNT)
        .map(|id| Row {
            id,
            name: FRAGMENT_NAMES[id as usize % FRAGMENT_NAMES.len()],
            qty: (id * 7) % 13,
        })
        .collect();
    let page = Page { rows };
    let template = ENV
        .get_template("fragment.html")
        .map_err(|e| e.to_string())?;
    let mut out = BytesMut::with_capacity(RENDER_BUFFER_BYTES).writer();
    let context = Value::from(Serde(page));
    if partial {
        // As kiln does: evaluate the template with its output discarded, then render the
        // block from the captured state.
        let mut captured = template
            .render_captured_to(context, std::io::sink())
            .map_err(|e| e.to_string())?;
        captured
            .with_state_mut(|state| state.render_block_to_write("rows", &mut out))
            .map_err(|e| e.to_string())?;
    } else {
        template
            .render_captured_to(context, &mut out)
            .map_err(|e| e.to_string())?;
    }
    Ok(out.into_inner().freeze())
}

/// Whether request headers ask for the fragment: htmx 2 `HX-Request: true` without boost or
/// history restore (the rule kiln applies; the harness sends `HX-Request` and `HX-Target`).
pub fn wants_fragment<'a>(mut headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> bool {
    let mut request = false;
    let mut other = false;
    headers.by_ref().for_each(|(name, value)| {
        if name.eq_ignore_ascii_case("hx-request") {
            request = value == b"true";
        } else if name.eq_ignore_ascii_case("hx-boosted")
            || name.eq_ignore_ascii_case("hx-history-restore-request")
        {
            other = true;
        }
    });
    request && !other
}

/// The current `Date` header value, formatted at most once a second per thread.
pub fn with_http_date<R>(f: impl FnOnce(&str) -> R) -> R {
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, httpdate::fmt_http_date(now));
        }
        f(&cached.1)
    })
}

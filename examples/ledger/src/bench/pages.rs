//! The web half of `ledger bench`: the register page and the balance sheet page of the reads'
//! book (a million postings by default), served by the real app (`web::app` on
//! `kiln::Server`, 127.0.0.1) and fetched by `clients` threads, each with its own kept-alive
//! connection and a logged-in session (the log-in is the app's own form, CSRF token
//! included). Reports p50 and p99 per page, and the size of the register's htmx fragment
//! against the whole page. Every loop is bounded by its count and by
//! `BENCH_WRITE_DEADLINE_MS`. Not here: writes (`writes.rs`).

use super::writes::client::{Answer, Connection};
use crate::domain::{DisplayName, Email, Role, TenantId};
use crate::limits::BENCH_WRITE_DEADLINE_MS;
use crate::service::{Ledger, WriterConfig, password::hash_password};
use crate::store::{SqliteStore, Store, system_clock};
use crate::web::Cookies;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// What the page benchmark does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageBenchConfig {
    /// Concurrent clients (the issue's figure: 16).
    pub clients: usize,
    /// Requests per client and page.
    pub requests_per_client: usize,
    /// The register shown (an account of the book).
    pub register_account: String,
    /// The balance sheet's date.
    pub date: String,
}

/// One page's latencies.
#[derive(Clone, Debug)]
pub struct PageFigures {
    pub requests: usize,
    pub seconds: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub bytes: usize,
}

/// The figures of one run.
#[derive(Clone, Debug)]
pub struct PagesFigures {
    pub register: PageFigures,
    pub balance_sheet: PageFigures,
    /// The register's first page as a whole page and as the htmx fragment (rows only).
    pub register_page_bytes: usize,
    pub register_fragment_bytes: usize,
}

const SECRET: &[u8] = b"ledger bench: a session secret of 32+ bytes";
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench password 1";

fn failed(why: impl std::fmt::Display) -> super::BenchError {
    super::BenchError::Writes(format!("pages: {why}"))
}

/// Serves the book in `database` (tenant `tenant`) and measures the two pages.
pub fn run(
    database: &Path,
    tenant: TenantId,
    config: &PageBenchConfig,
) -> Result<PagesFigures, super::BenchError> {
    let mut store = SqliteStore::open(database)?;
    let hash = hash_password(PASSWORD)?;
    let email = Email::parse(EMAIL).map_err(failed)?;
    let name = DisplayName::parse("Bench").map_err(failed)?;
    let user = store.create_user(&email, &name, &hash, system_clock())?;
    store.add_member(tenant, user, Role::Viewer)?;
    drop(store);
    let ledger = Ledger::open(database, &WriterConfig::default())?;
    let app = crate::web::app(ledger.clone(), SECRET, Cookies::Secure).map_err(failed)?;
    let handle = kiln::Server::bind("127.0.0.1:0").workers(2).start(app)?;
    let addr = handle.local_addr();
    let result = measure(addr, config);
    handle.stop();
    ledger.writer().shutdown();
    result
}

fn measure(addr: SocketAddr, config: &PageBenchConfig) -> Result<PagesFigures, super::BenchError> {
    let cookie = log_in(addr)?;
    let account = percent_encoding::utf8_percent_encode(
        &config.register_account,
        percent_encoding::NON_ALPHANUMERIC,
    );
    let register = format!("/accounts/{account}/register");
    let sheet = format!(
        "/reports/balance-sheet?from={}&to={}&step=year",
        config.date, config.date
    );
    let mut probe = Connection::with_headers(addr, vec![("cookie".into(), cookie.clone())])?;
    let page = probe.send("GET", &register, &[], "")?;
    let fragment = probe.send("GET", &register, &[("hx-request", "true")], "")?;
    if page.status != 200 || fragment.status != 200 {
        return Err(failed(format!(
            "the register answered {} and {}",
            page.status, fragment.status
        )));
    }
    Ok(PagesFigures {
        register: load(addr, &cookie, &register, config)?,
        balance_sheet: load(addr, &cookie, &sheet, config)?,
        register_page_bytes: page.body.len(),
        register_fragment_bytes: fragment.body.len(),
    })
}

/// Logs in through the app's form and returns the `Cookie` header to send.
fn log_in(addr: SocketAddr) -> Result<String, super::BenchError> {
    let mut connection = Connection::with_headers(addr, Vec::new())?;
    let form = connection.send("GET", "/login", &[], "")?;
    let mut cookies = cookies(&form);
    let token = form
        .body
        .split(r#"name="csrf_token" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| failed("the log-in page has no CSRF token"))?
        .to_owned();
    let body = format!(
        "email={}&password={}&csrf_token={token}",
        EMAIL.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
    let cookie_header = cookie_header(&cookies);
    let answer = connection.send(
        "POST",
        "/login",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &cookie_header),
        ],
        &body,
    )?;
    if answer.status != 303 {
        return Err(failed(format!(
            "log-in answered {}: {}",
            answer.status, answer.body
        )));
    }
    cookies.extend(super::pages::cookies(&answer));
    Ok(cookie_header_of(cookies))
}

/// `name=value` of each `Set-Cookie`, later ones replacing earlier ones of the same name.
fn cookies(answer: &Answer) -> Vec<(String, String)> {
    answer
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .filter_map(|(_, value)| {
            let pair = value.split(';').next()?;
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

fn cookie_header(cookies: &[(String, String)]) -> String {
    cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn cookie_header_of(cookies: Vec<(String, String)>) -> String {
    let mut latest: Vec<(String, String)> = Vec::new();
    for (name, value) in cookies {
        latest.retain(|(n, _)| *n != name);
        latest.push((name, value));
    }
    cookie_header(&latest)
}

fn load(
    addr: SocketAddr,
    cookie: &str,
    target: &str,
    config: &PageBenchConfig,
) -> Result<PageFigures, super::BenchError> {
    let deadline = Instant::now() + Duration::from_millis(BENCH_WRITE_DEADLINE_MS);
    let clients = config.clients.max(1);
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let barrier = barrier.clone();
            let (cookie, target) = (cookie.to_owned(), target.to_owned());
            let count = config.requests_per_client;
            std::thread::spawn(move || -> Result<(Vec<u64>, usize), String> {
                let connection = Connection::with_headers(addr, vec![("cookie".into(), cookie)]);
                barrier.wait();
                let mut connection = connection.map_err(|e| e.to_string())?;
                let mut latencies = Vec::with_capacity(count);
                let mut bytes = 0;
                for _ in 0..count {
                    if Instant::now() > deadline {
                        return Err("the page benchmark ran past its deadline".into());
                    }
                    let sent = Instant::now();
                    let answer = connection
                        .send("GET", &target, &[], "")
                        .map_err(|e| e.to_string())?;
                    latencies.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                    if answer.status != 200 {
                        return Err(format!("{target} answered {}", answer.status));
                    }
                    bytes = answer.body.len();
                }
                Ok((latencies, bytes))
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut latencies = Vec::new();
    let mut bytes = 0;
    for thread in threads {
        let (some, size) = thread
            .join()
            .map_err(|_| failed("a page client panicked"))?
            .map_err(failed)?;
        latencies.extend(some);
        bytes = size;
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| -> u64 {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(index).copied().unwrap_or(0)
    };
    Ok(PageFigures {
        requests: latencies.len(),
        seconds,
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
        bytes,
    })
}

impl PagesFigures {
    /// The figures as markdown.
    pub fn markdown(&self, config: &PageBenchConfig, postings: usize) -> String {
        let mut out = format!(
            "| Pages on the book of {postings} postings, {} clients, logged in | figure |\n|---|---|\n",
            config.clients
        );
        for (name, figures) in [
            (
                format!("register of {} (first page of 50)", config.register_account),
                &self.register,
            ),
            (
                format!("balance sheet at {}", config.date),
                &self.balance_sheet,
            ),
        ] {
            out.push_str(&format!(
                "| {name} | p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s ({} requests, {} bytes) |\n",
                figures.p50_us as f64 / 1000.0,
                figures.p99_us as f64 / 1000.0,
                figures.requests as f64 / figures.seconds,
                figures.requests,
                figures.bytes,
            ));
        }
        out.push_str(&format!(
            "| register: htmx fragment / whole page | {} / {} bytes ({:.0}%) |\n",
            self.register_fragment_bytes,
            self.register_page_bytes,
            100.0 * self.register_fragment_bytes as f64 / self.register_page_bytes.max(1) as f64
        ));
        out
    }
}

//! The write half of `ledger bench`: the real server (`api::app` on `kiln::Server`, bound to
//! 127.0.0.1) and the real group-commit writer on a scratch SQLite file, driven over real
//! sockets by blocking client threads.
//!
//! - Batch API: `clients` threads post batches of `batch_entries` two-posting entries until
//!   `batches` are in; entries per second, each acknowledged after its commit (durable).
//! - Single-entry POSTs at `concurrency` clients (each with its own keep-alive connection,
//!   `posts_per_client` each), twice in the same run: through the group-commit writer, and
//!   with one transaction per request (`WriterConfig::group_writes_max = 1`). Requests per
//!   second and the p50/p99 latency each client saw.
//!
//! Every loop is bounded by its counts and by `BENCH_WRITE_DEADLINE_MS`. Not here: the read and
//! import figures (`bench/mod.rs`).

use crate::api;
use crate::domain::{Account, AccountName, AccountType, Commodity, Date, Scope, TenantSlug};
use crate::limits::{API_BODY_BYTES_MAX, BENCH_WRITE_DEADLINE_MS};
use crate::service::{Ledger, WriterConfig, create_token};
use crate::store::{SqliteStore, Store, StoreError, system_clock};
use client::Connection;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// What the write benchmark does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteBenchConfig {
    /// Entries per batch request (the issue's figure: 1,000).
    pub batch_entries: usize,
    /// Batch requests in all.
    pub batches: usize,
    /// Threads posting batches.
    pub batch_clients: usize,
    /// Concurrent single-entry clients (the issue's figure: 64).
    pub concurrency: usize,
    /// Single-entry POSTs per client.
    pub posts_per_client: usize,
    /// Server worker threads.
    pub workers: usize,
}

impl Default for WriteBenchConfig {
    fn default() -> WriteBenchConfig {
        WriteBenchConfig {
            batch_entries: 1_000,
            batches: 200,
            batch_clients: 4,
            concurrency: 64,
            posts_per_client: 200,
            workers: 2,
        }
    }
}

/// The write figures of one run.
#[derive(Clone, Debug)]
pub struct WriteFigures {
    pub batch_entries_total: usize,
    pub batch_seconds: f64,
    pub grouped: PostFigures,
    pub per_request: PostFigures,
}

/// Single-entry POSTs: how many, how long, and the latency each request saw.
#[derive(Clone, Debug)]
pub struct PostFigures {
    pub requests: usize,
    pub seconds: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Commits the writer made (groups), from its statistics.
    pub groups: u64,
}

impl PostFigures {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

impl WriteFigures {
    pub fn batch_entries_per_second(&self) -> f64 {
        self.batch_entries_total as f64 / self.batch_seconds
    }

    /// The figures as markdown.
    pub fn markdown(&self, config: &WriteBenchConfig) -> String {
        let ratio = self.grouped.per_second() / self.per_request.per_second();
        let mut out = String::new();
        out.push_str(&format!(
            "| Writes (durable: synchronous=FULL, answered after commit) | figure |\n|---|---|\n\
             | batch API, {} batches of {} two-posting entries, {} clients | {:.0} entries/s ({} entries in {:.2} s) |\n",
            config.batches,
            config.batch_entries,
            config.batch_clients,
            self.batch_entries_per_second(),
            self.batch_entries_total,
            self.batch_seconds
        ));
        for (name, figures) in [
            ("group commit", &self.grouped),
            ("one transaction per request", &self.per_request),
        ] {
            out.push_str(&format!(
                "| single-entry POSTs, {} clients, {name} | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms ({} requests, {} commits) |\n",
                config.concurrency,
                figures.per_second(),
                figures.p50_us as f64 / 1000.0,
                figures.p99_us as f64 / 1000.0,
                figures.requests,
                figures.groups,
            ));
        }
        out.push_str(&format!(
            "| group commit / one transaction per request | {ratio:.1}x |\n"
        ));
        out
    }
}

/// Why the write benchmark could not finish.
#[derive(Debug)]
pub enum WriteBenchError {
    Store(StoreError),
    Io(std::io::Error),
    /// A request was refused or failed (status and body), or a deadline passed.
    Request(String),
}

impl std::fmt::Display for WriteBenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteBenchError::Store(error) => write!(f, "store: {error}"),
            WriteBenchError::Io(error) => write!(f, "i/o: {error}"),
            WriteBenchError::Request(why) => write!(f, "request: {why}"),
        }
    }
}

impl std::error::Error for WriteBenchError {}

impl From<StoreError> for WriteBenchError {
    fn from(error: StoreError) -> Self {
        WriteBenchError::Store(error)
    }
}

impl From<std::io::Error> for WriteBenchError {
    fn from(error: std::io::Error) -> Self {
        WriteBenchError::Io(error)
    }
}

/// Runs the three measurements, each on a fresh database file in `dir`.
pub fn run(dir: &Path, config: &WriteBenchConfig) -> Result<WriteFigures, WriteBenchError> {
    let deadline = Instant::now() + Duration::from_millis(BENCH_WRITE_DEADLINE_MS);
    tracing::info!("write bench: batch API");
    let (batch_entries_total, batch_seconds) = {
        let server = Served::start(&dir.join("batch.db"), &WriterConfig::default(), config)?;
        let result = batches(&server, config, deadline);
        server.stop();
        result?
    };
    tracing::info!("write bench: single-entry POSTs, group commit");
    let grouped = posts(
        &dir.join("grouped.db"),
        &WriterConfig::default(),
        config,
        deadline,
    )?;
    tracing::info!("write bench: single-entry POSTs, one transaction per request");
    let alone = WriterConfig {
        group_writes_max: 1,
        ..WriterConfig::default()
    };
    let per_request = posts(&dir.join("per-request.db"), &alone, config, deadline)?;
    Ok(WriteFigures {
        batch_entries_total,
        batch_seconds,
        grouped,
        per_request,
    })
}

/// A served scratch database with a tenant, its chart and a write token.
struct Served {
    handle: kiln::ServerHandle,
    ledger: Ledger,
    addr: SocketAddr,
    token: String,
}

impl Served {
    fn start(
        path: &Path,
        writer: &WriterConfig,
        config: &WriteBenchConfig,
    ) -> Result<Served, WriteBenchError> {
        let mut store = SqliteStore::open(path)?;
        let tenant = store.create_tenant(&TenantSlug::new("bench").map_err(text)?)?;
        store.create_commodity(tenant, &Commodity::new("USD", 2).map_err(text)?)?;
        let opened = Date::from_ymd(2024, 1, 1).ok_or_else(|| text("date"))?;
        for (name, kind) in [
            ("Assets:Bank", AccountType::Asset),
            ("Income:Sales", AccountType::Income),
        ] {
            let name = AccountName::new(name).map_err(text)?;
            store.create_account(tenant, &Account::new(name, kind, opened))?;
        }
        let (_, token) = create_token(&mut store, tenant, Scope::Write, system_clock())?;
        drop(store);
        let ledger = Ledger::open(path, writer)?;
        let limits = kiln::limits::HttpLimits {
            body_bytes_max: API_BODY_BYTES_MAX,
            ..kiln::limits::HttpLimits::default()
        };
        let handle = kiln::Server::bind("127.0.0.1:0")
            .workers(config.workers.max(1))
            .http_limits(limits)
            .start(api::app(ledger.clone()))?;
        let addr = handle.local_addr();
        Ok(Served {
            handle,
            ledger,
            addr,
            token,
        })
    }

    fn stop(self) {
        self.handle.stop();
        self.ledger.writer().shutdown();
    }
}

fn text(error: impl std::fmt::Display) -> WriteBenchError {
    WriteBenchError::Request(error.to_string())
}

fn entry_json(n: usize) -> String {
    format!(
        r#"{{"date":"2024-03-01","description":"sale {n}","postings":[{{"account":"Assets:Bank","commodity":"USD","amount":"1.{c:02}"}},{{"account":"Income:Sales","commodity":"USD","amount":"-1.{c:02}"}}]}}"#,
        c = n % 100
    )
}

fn batches(
    server: &Served,
    config: &WriteBenchConfig,
    deadline: Instant,
) -> Result<(usize, f64), WriteBenchError> {
    let entries: Vec<String> = (0..config.batch_entries).map(entry_json).collect();
    let body = Arc::new(format!(r#"{{"entries":[{}]}}"#, entries.join(",")));
    let clients = config.batch_clients.max(1);
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let body = body.clone();
            let (addr, token) = (server.addr, server.token.clone());
            let count = config.batches / clients + usize::from(client < config.batches % clients);
            std::thread::spawn(move || -> Result<usize, WriteBenchError> {
                let mut connection = Connection::open(addr, &token)?;
                let mut created = 0;
                for _ in 0..count {
                    if Instant::now() > deadline {
                        return Err(text("the batch benchmark ran past its deadline"));
                    }
                    let (status, answer) = connection.post("/api/v1/entries/batch", &body)?;
                    if status != 200
                        || !answer.contains(&format!("\"created\":{}", entries_len(&body)))
                    {
                        return Err(text(format!("batch refused: {status} {}", cut(&answer))));
                    }
                    created += entries_len(&body);
                }
                Ok(created)
            })
        })
        .collect();
    let mut total = 0;
    for thread in threads {
        total += thread
            .join()
            .map_err(|_| text("a batch client panicked"))??;
    }
    Ok((total, start.elapsed().as_secs_f64()))
}

/// Entries in a batch body made by `batches` (counted once per body).
fn entries_len(body: &str) -> usize {
    body.matches("\"description\"").count()
}

fn cut(text: &str) -> &str {
    let end = text.char_indices().nth(200).map_or(text.len(), |(i, _)| i);
    &text[..end]
}

fn posts(
    path: &Path,
    writer: &WriterConfig,
    config: &WriteBenchConfig,
    deadline: Instant,
) -> Result<PostFigures, WriteBenchError> {
    let server = Served::start(path, writer, config)?;
    let result = posts_on(&server, config, deadline);
    let ledger = server.ledger.clone();
    server.stop(); // joins the writer, so its statistics are final
    let groups = ledger.writer().stats().batches;
    let (requests, seconds, mut latencies) = result?;
    latencies.sort_unstable();
    let percentile = |p: f64| -> u64 {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(index).copied().unwrap_or(0)
    };
    Ok(PostFigures {
        requests,
        seconds,
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
        groups,
    })
}

type PostRun = (usize, f64, Vec<u64>);

fn posts_on(
    server: &Served,
    config: &WriteBenchConfig,
    deadline: Instant,
) -> Result<PostRun, WriteBenchError> {
    let clients = config.concurrency.max(1);
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let barrier = barrier.clone();
            let (addr, token) = (server.addr, server.token.clone());
            let count = config.posts_per_client;
            std::thread::spawn(move || -> Result<Vec<u64>, WriteBenchError> {
                let connection = Connection::open(addr, &token);
                barrier.wait();
                let mut connection = connection?;
                let mut latencies = Vec::with_capacity(count);
                for n in 0..count {
                    if Instant::now() > deadline {
                        return Err(text("the POST benchmark ran past its deadline"));
                    }
                    let body = entry_json(client * count + n);
                    let sent = Instant::now();
                    let (status, answer) = connection.post("/api/v1/entries", &body)?;
                    let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    if status != 201 {
                        return Err(text(format!("entry refused: {status} {}", cut(&answer))));
                    }
                    latencies.push(micros);
                }
                Ok(latencies)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut latencies = Vec::new();
    for thread in threads {
        latencies.extend(
            thread
                .join()
                .map_err(|_| text("a POST client panicked"))??,
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok((latencies.len(), seconds, latencies))
}

/// A minimal blocking HTTP/1.1 client for the benchmark (and the durability test): one
/// kept-alive connection, a bearer token, JSON bodies, `Content-Length` responses only (what
/// the ledger's API sends). Not a general client: no chunked bodies, no redirects, no TLS.
pub mod client {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;

    /// Longest a response may take before the read fails.
    const READ_TIMEOUT: Duration = Duration::from_secs(60);
    /// Largest response body read, in bytes.
    const RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;

    /// A response: status, headers (names lower-cased) and body.
    pub struct Answer {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: String,
    }

    pub struct Connection {
        stream: BufReader<TcpStream>,
        /// Sent with every request (`authorization: Bearer ...`, a session cookie...).
        headers: Vec<(String, String)>,
    }

    impl Connection {
        /// A connection that sends `Authorization: Bearer {token}` with every request.
        pub fn open(addr: impl ToSocketAddrs, token: &str) -> std::io::Result<Connection> {
            Connection::with_headers(
                addr,
                vec![("authorization".into(), format!("Bearer {token}"))],
            )
        }

        /// A connection that sends these headers with every request.
        pub fn with_headers(
            addr: impl ToSocketAddrs,
            headers: Vec<(String, String)>,
        ) -> std::io::Result<Connection> {
            let stream = TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(READ_TIMEOUT))?;
            stream.set_nodelay(true)?;
            Ok(Connection {
                stream: BufReader::new(stream),
                headers,
            })
        }

        pub fn post(&mut self, target: &str, body: &str) -> std::io::Result<(u16, String)> {
            self.request("POST", target, body)
        }

        pub fn get(&mut self, target: &str) -> std::io::Result<(u16, String)> {
            self.request("GET", target, "")
        }

        /// One request with a JSON body; its status and body.
        pub fn request(
            &mut self,
            method: &str,
            target: &str,
            body: &str,
        ) -> std::io::Result<(u16, String)> {
            let answer = self.send(
                method,
                target,
                &[("content-type", "application/json")],
                body,
            )?;
            Ok((answer.status, answer.body))
        }

        /// One request with extra headers (beside the connection's own); the whole answer.
        pub fn send(
            &mut self,
            method: &str,
            target: &str,
            extra: &[(&str, &str)],
            body: &str,
        ) -> std::io::Result<Answer> {
            let mut head = format!("{method} {target} HTTP/1.1\r\nhost: ledger\r\n");
            for (name, value) in &self.headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            for (name, value) in extra {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
            let mut message = head.into_bytes();
            message.extend_from_slice(body.as_bytes());
            self.stream.get_mut().write_all(&message)?;
            let invalid =
                |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
            let mut status_line = String::new();
            if self.stream.read_line(&mut status_line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let status = status_line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| invalid("no status"))?;
            let mut length = 0;
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if self.stream.read_line(&mut line)? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    let name = name.trim().to_ascii_lowercase();
                    let value = value.trim().to_owned();
                    if name == "content-length" {
                        length = value.parse().map_err(|_| invalid("bad content-length"))?;
                    }
                    headers.push((name, value));
                }
            }
            if length > RESPONSE_BYTES_MAX {
                return Err(invalid("response too large"));
            }
            let mut answer = vec![0; length];
            self.stream.read_exact(&mut answer)?;
            Ok(Answer {
                status,
                headers,
                body: String::from_utf8_lossy(&answer).into_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole path at a tiny size, so it cannot rot: every figure is positive and the
    /// per-request run made one commit per request.
    #[test]
    fn the_write_bench_runs_at_a_tiny_size() {
        let dir = std::env::temp_dir().join(format!("ledger-write-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let config = WriteBenchConfig {
            batch_entries: 10,
            batches: 3,
            batch_clients: 2,
            concurrency: 4,
            posts_per_client: 5,
            workers: 1,
        };
        let figures = run(&dir, &config);
        let _ = std::fs::remove_dir_all(&dir);
        let figures = figures.expect("runs");
        assert_eq!(figures.batch_entries_total, 30);
        assert_eq!(figures.grouped.requests, 20);
        assert_eq!(figures.per_request.requests, 20);
        assert_eq!(figures.per_request.groups, 20);
        assert!(figures.grouped.groups <= 20);
        assert!(
            figures
                .markdown(&config)
                .contains("| group commit / one transaction per request |")
        );
    }
}

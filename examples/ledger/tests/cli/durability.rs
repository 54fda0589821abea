//! Durability with the real binary: `ledger serve` takes entries from several clients over
//! real sockets, is killed with SIGKILL mid-stream, and after a restart every acknowledged
//! entry is there (by id and by its idempotency key), nothing is half-written (`ledger check`:
//! every entry balances, balance tables equal postings, the audit chain verifies) and the
//! server serves again. Entries committed whose answer the kill swallowed may be present;
//! that is allowed (the client retries with the same key and gets the same id).

use super::{TempDb, ledger, path, text};
use ledger::bench::writes::client::Connection;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writing clients.
const CLIENTS: usize = 6;
/// The kill comes once this many entries are acknowledged in all.
const ACKNOWLEDGED_BEFORE_KILL: usize = 600;
/// Each client stops after this many entries (bounds the loop if the kill never comes).
const ENTRIES_PER_CLIENT_MAX: usize = 2_000;
/// How long the test waits for the server to start or a client to finish.
const WAIT: Duration = Duration::from_secs(60);

/// Starts `ledger serve` on a free port and returns it with its address.
fn serve(db: &TempDb) -> (Child, String) {
    let (child, addr, _) = serve_logged(db);
    (child, addr)
}

/// `serve`, also returning the log lines up to the one with the address.
fn serve_logged(db: &TempDb) -> (Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--database",
            path(db),
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ledger binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut log = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                let _ = sender.send((addr, std::mem::take(&mut log)));
            } else {
                log.push(line);
            }
        }
    });
    let (addr, log) = receiver
        .recv_timeout(WAIT)
        .expect("the server logs its address");
    (child, addr, log)
}

/// A new database: `serve` creates the demo tenant with its books and logs a write token
/// once; the token works; a restart neither seeds again nor shows a token.
#[test]
fn serve_seeds_a_new_database_and_logs_the_demo_login() {
    let db = TempDb::new("serve-demo");
    let (mut server, addr, log) = serve_logged(&db);
    let token = log
        .iter()
        .find_map(|line| line.split("shown once): ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no demo token in the log: {log:?}"))
        .to_owned();
    let login = log
        .iter()
        .find(|line| line.contains("demo login: http://"))
        .unwrap_or_else(|| panic!("no demo login in the log: {log:?}"));
    assert!(
        login.contains("/login as demo@example.com with password "),
        "{login}"
    );
    let mut connection = connect(&addr, &token);
    let (status, accounts) = connection.get("/api/v1/accounts").expect("accounts");
    assert_eq!(status, 200, "{accounts}");
    assert!(accounts.contains("Assets:Bank:Checking"), "{accounts}");
    let (status, trial) = connection
        .get("/api/v1/trial-balance")
        .expect("trial balance");
    assert_eq!(status, 200, "{trial}");
    assert!(trial.contains("\"balanced\":true"), "{trial}");
    let (status, page) = connection
        .get("/api/v1/entries?limit=1000")
        .expect("entries");
    assert_eq!(status, 200);
    assert!(
        page.matches("\"description\"").count() > 300,
        "a year of books"
    );
    // A body over `API_BODY_BYTES_MAX` is refused by the server before the app runs.
    let mut raw = std::net::TcpStream::connect(&addr).expect("connects");
    let head = format!(
        "POST /api/v1/entries/batch HTTP/1.1\r\nhost: ledger\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        ledger::limits::API_BODY_BYTES_MAX + 1
    );
    std::io::Write::write_all(&mut raw, head.as_bytes()).expect("sends");
    let mut status = String::new();
    BufReader::new(raw).read_line(&mut status).expect("answers");
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    server.kill().expect("stops");
    server.wait().expect("reaped");

    let (mut again, _, log) = serve_logged(&db);
    assert!(
        log.iter().all(|line| !line.contains("shown once")),
        "{log:?}"
    );
    again.kill().expect("stops");
    again.wait().expect("reaped");
    let check = ledger(&["check", "--database", path(&db)]);
    assert!(check.status.success(), "{}", text(&check.stderr));
}

fn connect(addr: &str, token: &str) -> Connection {
    Connection::open(addr, token).expect("connects")
}

fn entry_body(client: usize, n: usize) -> String {
    format!(
        r#"{{"date":"2024-03-01","description":"client {client} entry {n}","idempotency_key":"c{client}-{n}","postings":[{{"account":"Assets:Bank","commodity":"USD","amount":"1.{cents:02}"}},{{"account":"Income:Sales","commodity":"USD","amount":"-1.{cents:02}"}}]}}"#,
        cents = n % 100
    )
}

#[test]
fn acknowledged_entries_survive_sigkill_and_nothing_is_half_written() {
    let db = TempDb::new("durability");
    let created = ledger(&["tenant", "create", "acme", "--database", path(&db)]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = ledger(&[
        "token",
        "create",
        "--scope",
        "write",
        "--database",
        path(&db),
    ]);
    assert!(token.status.success(), "{}", text(&token.stderr));
    let token = text(&token.stdout).trim().to_owned();

    let (mut server, addr) = serve(&db);
    let mut setup = connect(&addr, &token);
    for (route, body) in [
        ("/api/v1/commodities", r#"{"code":"USD","precision":2}"#),
        (
            "/api/v1/accounts",
            r#"{"name":"Assets:Bank","opened":"2024-01-01"}"#,
        ),
        (
            "/api/v1/accounts",
            r#"{"name":"Income:Sales","opened":"2024-01-01"}"#,
        ),
    ] {
        let (status, answer) = setup.post(route, body).expect("set-up");
        assert_eq!(status, 201, "{answer}");
    }

    // Clients write until the kill; each records the entries acknowledged to it.
    let acknowledged: Arc<Mutex<BTreeMap<String, i64>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (addr, token) = (addr.clone(), token.clone());
            let (acknowledged, count, killed) =
                (acknowledged.clone(), count.clone(), killed.clone());
            std::thread::spawn(move || {
                let mut stream = connect(&addr, &token);
                for n in 0..ENTRIES_PER_CLIENT_MAX {
                    let body = entry_body(client, n);
                    match stream.post("/api/v1/entries", &body) {
                        Ok((201, answer)) => {
                            let value: sonic_rs::Value = sonic_rs::from_str(&answer).expect("JSON");
                            let id = sonic_rs::JsonValueTrait::as_i64(&value["id"]).expect("id");
                            acknowledged
                                .lock()
                                .unwrap()
                                .insert(format!("c{client}-{n}"), id);
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok((status, answer)) => panic!("client {client}: {status} {answer}"),
                        Err(_) if killed.load(Ordering::SeqCst) => return,
                        Err(error) => panic!("client {client} lost the server: {error}"),
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while count.load(Ordering::SeqCst) < ACKNOWLEDGED_BEFORE_KILL {
        assert!(started.elapsed() < WAIT, "the clients stalled");
        std::thread::sleep(Duration::from_millis(2));
    }
    killed.store(true, Ordering::SeqCst);
    server.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    server.wait().expect("reaped");
    for client in clients {
        client.join().expect("a client thread");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= ACKNOWLEDGED_BEFORE_KILL);

    // Nothing half-written: the checker passes on the database as the kill left it.
    let check = ledger(&["check", "--database", path(&db)]);
    assert!(
        check.status.success(),
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );

    // Every acknowledged entry is there, with its key; the server comes back and serves it.
    let (mut server, addr) = serve(&db);
    let mut stream = connect(&addr, &token);
    for (key, id) in &acknowledged {
        let (client, n) = key[1..].split_once('-').expect("key");
        let body = entry_body(client.parse().unwrap(), n.parse().unwrap());
        let (status, answer) = stream.post("/api/v1/entries", &body).expect("replay");
        assert_eq!(status, 201, "{answer}");
        assert!(
            answer.contains(&format!("\"id\":{id}")),
            "{key}: {answer} (acknowledged {id})"
        );
        let (status, stored) = stream.get(&format!("/api/v1/entries/{id}")).expect("get");
        assert_eq!(status, 200, "{stored}");
        let description = format!("client {client} entry {n}");
        assert!(stored.contains(&description), "{key}: {stored}");
    }
    let (status, answer) = stream
        .get("/api/v1/trial-balance?date=2024-12-31")
        .expect("trial balance");
    assert_eq!(status, 200);
    assert!(answer.contains("\"balanced\":true"), "{answer}");
    server.kill().expect("stops");
    server.wait().expect("reaped");
}

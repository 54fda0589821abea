//! The `hello` binary end to end: it logs its address, answers both TechEmpower endpoints with
//! exact bodies, and shuts down gracefully on SIGTERM and SIGINT (exit status 0).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `hello` on a free port and returns it with the address it logged and a thread that
/// collects the rest of its log.
fn start() -> (Child, String, std::thread::JoinHandle<String>) {
    start_command(Command::new(env!("CARGO_BIN_EXE_hello")))
}

fn start_command(mut command: Command) -> (Child, String, std::thread::JoinHandle<String>) {
    let mut child = command
        .args(["--addr", "127.0.0.1:0", "--workers", "1"])
        .env_remove("KILN_BACKEND")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hello starts");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line.clone());
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines_rx.recv_timeout(left).expect("hello logs its address");
        if line.contains("listening")
            && let Some(start) = line.find("127.0.0.1:")
        {
            let port: String = line[start + 10..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            break format!("127.0.0.1:{port}");
        }
    };
    (child, addr, reader)
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not exit after the signal");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn serves_techempower_bodies_and_stops_on_sigterm() {
    let (mut child, addr, log) = start();
    let plaintext = get(&addr, "/plaintext");
    assert!(plaintext.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(plaintext.ends_with("\r\n\r\nHello, World!"));
    assert!(plaintext.contains("server: kiln\r\n"));
    let json = get(&addr, "/json");
    assert!(json.ends_with("\r\n\r\n{\"message\":\"Hello, World!\"}"));
    assert!(get(&addr, "/nope").starts_with("HTTP/1.1 404"));
    signal(&child, "TERM");
    assert!(wait_exit(&mut child).success());
    assert!(log.join().unwrap().contains("server stopped"));
    assert!(TcpStream::connect(&addr).is_err());
}

#[test]
fn stops_on_sigint() {
    let (mut child, addr, _log) = start();
    assert!(get(&addr, "/plaintext").ends_with("Hello, World!"));
    signal(&child, "INT");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn falls_back_to_epoll_when_seccomp_denies_io_uring_setup() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deny-io-uring"));
    command.arg(env!("CARGO_BIN_EXE_hello"));
    let (mut child, addr, log) = start_command(command);
    assert!(get(&addr, "/plaintext").ends_with("Hello, World!"));
    assert!(get(&addr, "/json").ends_with("{\"message\":\"Hello, World!\"}"));
    signal(&child, "TERM");
    assert!(wait_exit(&mut child).success());
    let log = log.join().unwrap();
    let started = log
        .lines()
        .find(|line| line.contains("runtime started"))
        .unwrap_or_else(|| panic!("no start line in:\n{log}"));
    assert!(started.contains("backend=\"epoll\""), "{started}");
    assert!(
        started.contains("io_uring unavailable") && started.contains("not permitted"),
        "the reason is logged: {started}"
    );
}

#[test]
fn uses_io_uring_when_allowed() {
    let (mut child, addr, log) = start();
    assert!(get(&addr, "/plaintext").ends_with("Hello, World!"));
    signal(&child, "TERM");
    assert!(wait_exit(&mut child).success());
    let log = log.join().unwrap();
    assert!(log.contains("backend=\"io_uring\""), "{log}");
}

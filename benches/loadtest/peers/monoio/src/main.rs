//! `peer-monoio`: the load-test endpoints on monoio's io_uring driver with a hand-written
//! HTTP/1.1 loop over httparse, the way monoio's users and TechEmpower entries serve plaintext:
//! one runtime per worker thread, each with its own SO_REUSEPORT listener, rings set up with
//! `COOP_TASKRUN | SINGLE_ISSUER | DEFER_TASKRUN` (plain flags if the kernel refuses them),
//! TCP_NODELAY, pipelined requests answered with one write per read.
//!
//! It is a benchmark peer, not a general server: GET only (request bodies are not read), at
//! most `HEADERS_MAX` headers, a bad request closes the connection. Bodies come from
//! `bench-common`; this file measures nothing.

use bench_common::Args;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{ListenerOpts, TcpListener, TcpStream};
use std::io::Write;
use std::net::SocketAddr;

/// Bytes a connection's input and output buffers start with.
const BUFFER_BYTES: usize = 4096;
/// Free room below which the input buffer grows before the next read.
const READ_ROOM_BYTES_MIN: usize = 1024;
/// Largest request head accepted; a longer one closes the connection.
const HEAD_BYTES_MAX: usize = 16 * 1024;
/// httparse header slots per request.
const HEADERS_MAX: usize = 16;
/// Submission queue entries per ring.
const RING_ENTRIES: u32 = 4096;
const LISTEN_BACKLOG: i32 = 4096;

fn put_response(out: &mut Vec<u8>, content_type: &str, extra: &str, body: &[u8]) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nServer: monoio\r\nDate: ");
    bench_common::with_http_date(|date| out.extend_from_slice(date.as_bytes()));
    let _ = write!(
        out,
        "\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    out.extend_from_slice(body);
}

fn put_error(out: &mut Vec<u8>, status: &str) {
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nServer: monoio\r\nContent-Length: 0\r\n\r\n"
    );
}

fn put_html(out: &mut Vec<u8>, extra: &str, body: Result<bytes::Bytes, String>) {
    match body {
        Ok(body) => put_response(out, "text/html; charset=utf-8", extra, &body),
        Err(_) => put_error(out, "500 Internal Server Error"),
    }
}

fn respond(request: &httparse::Request<'_, '_>, out: &mut Vec<u8>) {
    match request.path.unwrap_or("") {
        "/plaintext" => put_response(out, "text/plain", "", bench_common::PLAINTEXT.as_bytes()),
        "/json" => put_response(out, "application/json", "", &bench_common::json_body()),
        "/fortunes" => put_html(out, "", bench_common::fortunes_body()),
        "/fragment" => {
            let partial = bench_common::wants_fragment(
                request
                    .headers
                    .iter()
                    .map(|header| (header.name, header.value)),
            );
            let vary = concat!(
                "Vary: HX-Request, HX-Request-Type, HX-Boosted, HX-History-Restore-Request",
                "\r\n"
            );
            put_html(out, vary, bench_common::fragment_body(partial));
        }
        _ => put_error(out, "404 Not Found"),
    }
}

/// Answers every complete request in `input`; returns the bytes consumed, or `None` when the
/// connection must close after writing what is in `out`.
fn answer_all(input: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut consumed = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&input[consumed..]) {
            Ok(httparse::Status::Complete(len)) => {
                respond(&request, out);
                consumed += len;
            }
            Ok(httparse::Status::Partial) if input.len() - consumed <= HEAD_BYTES_MAX => {
                return Some(consumed);
            }
            Ok(httparse::Status::Partial) | Err(_) => {
                put_error(out, "400 Bad Request");
                return None;
            }
        }
    }
}

async fn serve(mut stream: TcpStream) {
    let mut input: Vec<u8> = Vec::with_capacity(BUFFER_BYTES);
    let mut output: Vec<u8> = Vec::with_capacity(BUFFER_BYTES);
    loop {
        if input.capacity() - input.len() < READ_ROOM_BYTES_MIN {
            input.reserve(BUFFER_BYTES);
        }
        let filled = input.len();
        let (result, slice) = stream.read(input.slice_mut(filled..)).await;
        input = slice.into_inner();
        match result {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let keep_open = answer_all(&input, &mut output);
        if let Some(consumed) = keep_open {
            input.drain(..consumed);
        }
        if !output.is_empty() {
            let (result, buffer) = stream.write_all(output).await;
            output = buffer;
            output.clear();
            if result.is_err() {
                return;
            }
        }
        if keep_open.is_none() {
            return;
        }
    }
}

fn ring_builder(defer_taskrun: bool) -> io_uring::Builder {
    let mut builder = io_uring::IoUring::builder();
    if defer_taskrun {
        builder
            .setup_coop_taskrun()
            .setup_single_issuer()
            .setup_defer_taskrun();
    }
    builder
}

fn worker(addr: SocketAddr) -> std::io::Result<()> {
    let runtime = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(RING_ENTRIES)
        .uring_builder(ring_builder(true))
        .build();
    let mut runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("monoio: DEFER_TASKRUN ring refused ({error}); using plain flags");
            monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .with_entries(RING_ENTRIES)
                .uring_builder(ring_builder(false))
                .build()?
        }
    };
    runtime.block_on(async move {
        let options = ListenerOpts::new().reuse_port(true).backlog(LISTEN_BACKLOG);
        let listener = TcpListener::bind_with_config(addr, &options)?;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            monoio::spawn(serve(stream));
        }
    })
}

fn main() -> std::io::Result<()> {
    let args = Args::parse_and_log("monoio");
    bench_common::init();
    let threads: Vec<_> = (0..args.workers())
        .map(|_| {
            let addr = args.addr;
            std::thread::spawn(move || worker(addr))
        })
        .collect();
    for thread in threads {
        thread.join().expect("worker thread")?;
    }
    Ok(())
}

//! `peer-hyper`: the load-test endpoints on hyper 1.x, one current_thread tokio runtime per
//! worker thread, each with its own SO_REUSEPORT listener (socket2), TCP_NODELAY on accepted
//! sockets, and hyper's http1 connection with `pipeline_flush` (what hyper's own benchmarks
//! enable for pipelining).
//!
//! Bodies come from `bench-common`; this file is only the hyper glue and measures nothing.

use bench_common::Args;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue, SERVER, VARY};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use socket2::{Domain, Protocol, Socket, Type};
use std::convert::Infallible;
use std::net::SocketAddr;

const LISTEN_BACKLOG: i32 = 4096;

fn with_type(content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(SERVER, HeaderValue::from_static("hyper"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn html(body: Result<Bytes, String>) -> Response<Full<Bytes>> {
    match body {
        Ok(body) => with_type("text/html; charset=utf-8", body),
        Err(error) => {
            let mut response = with_type("text/plain", Bytes::from(error));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

async fn handle(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match request.uri().path() {
        "/plaintext" => with_type(
            "text/plain",
            Bytes::from_static(bench_common::PLAINTEXT.as_bytes()),
        ),
        "/json" => with_type("application/json", bench_common::json_body()),
        "/fortunes" => html(bench_common::fortunes_body()),
        "/fragment" => {
            let partial = bench_common::wants_fragment(
                request
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_bytes())),
            );
            let mut response = html(bench_common::fragment_body(partial));
            response
                .headers_mut()
                .insert(VARY, HeaderValue::from_static(bench_common::FRAGMENT_VARY));
            response
        }
        _ => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    })
}

fn listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

fn worker(addr: SocketAddr) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener(addr)?)?;
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .pipeline_flush(true)
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    })
}

fn main() -> std::io::Result<()> {
    let args = Args::parse_and_log("hyper");
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

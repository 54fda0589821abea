//! `hello`: the TechEmpower plaintext and JSON tests on kiln's bare server.
//!
//! `GET /plaintext` answers `Hello, World!` as text/plain; `GET /json` serialises
//! `{"message":"Hello, World!"}` with sonic-rs for every request. Anything else is 404, a known
//! path with another method 405. There is no router here on purpose: this is the server core
//! alone, which is what these two tests measure.

use bytes::{BufMut, BytesMut};
use clap::Parser;
use kiln::http::{HeaderValue, Method, Request, Response, StatusCode};
use std::net::SocketAddr;

#[derive(Parser, Debug)]
#[command(about = "TechEmpower plaintext and JSON on kiln")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Worker threads (one io_uring each); default: one per core.
    #[arg(long)]
    workers: Option<usize>,
}

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

async fn handle(request: Request) -> Response {
    let get = matches!(request.method(), Method::Get | Method::Head);
    match (request.path(), get) {
        ("/plaintext", true) => {
            Response::ok("Hello, World!").with_static_header("content-type", "text/plain")
        }
        ("/json", true) => json(),
        ("/plaintext" | "/json", false) => {
            Response::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
                .with_static_header("allow", "GET, HEAD")
        }
        _ => Response::error(StatusCode::NOT_FOUND, "not found"),
    }
}

fn json() -> Response {
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

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut server = kiln::Server::bind(args.addr);
    if let Some(workers) = args.workers {
        server = server.workers(workers);
    }
    server.serve(handle)?;
    Ok(())
}

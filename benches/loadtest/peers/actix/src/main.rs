//! `peer-actix`: the load-test endpoints on actix-web 4 (`--workers` worker threads, each
//! with its own single-threaded runtime; actix-http sets TCP_NODELAY on accepted sockets).
//!
//! Bodies come from `bench-common`; this file is only the actix glue and measures nothing.

use actix_web::http::header::{CONTENT_TYPE, SERVER, VARY};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bench_common::Args;
use bytes::Bytes;

fn with_type(content_type: &'static str, body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((SERVER, "actix"))
        .insert_header((CONTENT_TYPE, content_type))
        .body(body)
}

fn html(body: Result<Bytes, String>) -> HttpResponse {
    match body {
        Ok(body) => with_type("text/html; charset=utf-8", body),
        Err(error) => HttpResponse::InternalServerError().body(error),
    }
}

async fn plaintext() -> HttpResponse {
    with_type(
        "text/plain",
        Bytes::from_static(bench_common::PLAINTEXT.as_bytes()),
    )
}

async fn json() -> HttpResponse {
    with_type("application/json", bench_common::json_body())
}

async fn fortunes() -> HttpResponse {
    html(bench_common::fortunes_body())
}

async fn fragment(request: HttpRequest) -> HttpResponse {
    let partial = bench_common::wants_fragment(
        request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    );
    let mut response = html(bench_common::fragment_body(partial));
    response.headers_mut().insert(
        VARY,
        actix_web::http::header::HeaderValue::from_static(bench_common::FRAGMENT_VARY),
    );
    response
}

fn main() -> std::io::Result<()> {
    let args = Args::parse_and_log("actix");
    bench_common::init();
    actix_web::rt::System::new().block_on(
        HttpServer::new(|| {
            App::new()
                .route("/plaintext", web::get().to(plaintext))
                .route("/json", web::get().to(json))
                .route("/fortunes", web::get().to(fortunes))
                .route("/fragment", web::get().to(fragment))
        })
        .workers(args.workers())
        .backlog(4096)
        .bind(args.addr)?
        .run(),
    )
}

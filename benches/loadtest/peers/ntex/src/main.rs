//! `peer-ntex`: the load-test endpoints on ntex 2 with its own `neon` runtime (polling; it sets
//! TCP_NODELAY on accepted sockets), `--workers` worker threads.
//!
//! Bodies come from `bench-common`; this file is only the ntex glue and measures nothing.

use bench_common::Args;
use bytes::Bytes;
use ntex::http::header::{CONTENT_TYPE, HeaderValue, SERVER, VARY};
use ntex::web::{self, App, HttpRequest, HttpResponse};

fn with_type(content_type: &'static str, body: Bytes) -> HttpResponse {
    // ntex has its own `Bytes`; a uniquely owned `bytes::Bytes` turns into a Vec without copying.
    let mut response = HttpResponse::Ok().body(Vec::<u8>::from(body));
    let headers = response.headers_mut();
    headers.insert(SERVER, HeaderValue::from_static("ntex"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
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
    response
        .headers_mut()
        .insert(VARY, HeaderValue::from_static(bench_common::FRAGMENT_VARY));
    response
}

#[ntex::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse_and_log("ntex");
    bench_common::init();
    web::server(|| {
        App::new()
            .route("/plaintext", web::get().to(plaintext))
            .route("/json", web::get().to(json))
            .route("/fortunes", web::get().to(fortunes))
            .route("/fragment", web::get().to(fragment))
    })
    .workers(args.workers())
    .backlog(4096)
    .bind(args.addr)?
    .run()
    .await
}

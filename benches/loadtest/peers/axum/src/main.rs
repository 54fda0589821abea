//! `peer-axum`: the load-test endpoints on axum 0.8 (tokio multi-thread runtime with
//! `--workers` threads), TCP_NODELAY set on every accepted socket through `tap_io` (axum::serve
//! does not set it, which would cap pipelining through delayed ACKs).
//!
//! Bodies come from `bench-common`; this file is only the axum glue and measures nothing.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use bench_common::Args;
use bytes::Bytes;

const SERVER: HeaderValue = HeaderValue::from_static("axum");

fn with_type(content_type: &'static str, body: Bytes) -> Response {
    (
        [
            (header::SERVER, SERVER),
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        ],
        body,
    )
        .into_response()
}

fn html(body: Result<Bytes, String>) -> Response {
    match body {
        Ok(body) => with_type("text/html; charset=utf-8", body),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error).into_response(),
    }
}

async fn plaintext() -> Response {
    with_type(
        "text/plain",
        Bytes::from_static(bench_common::PLAINTEXT.as_bytes()),
    )
}

async fn json() -> Response {
    with_type("application/json", bench_common::json_body())
}

async fn fortunes() -> Response {
    html(bench_common::fortunes_body())
}

async fn fragment(headers: HeaderMap) -> Response {
    let partial = bench_common::wants_fragment(
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    );
    let mut response = html(bench_common::fragment_body(partial));
    response.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static(bench_common::FRAGMENT_VARY),
    );
    response
}

fn main() -> std::io::Result<()> {
    let args = Args::parse_and_log("axum");
    bench_common::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers())
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = Router::new()
            .route("/plaintext", get(plaintext))
            .route("/json", get(json))
            .route("/fortunes", get(fortunes))
            .route("/fragment", get(fragment));
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await?
            .tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
        axum::serve(listener, app).await
    })
}

//! `peer-may-minihttp`: the load-test endpoints on may_minihttp (stackful coroutines on
//! `--workers` may worker threads). may_minihttp writes `Server: M` and `Date` itself and does
//! not set TCP_NODELAY (its accept loop has the call commented out and offers no option).
//!
//! Coroutine stacks are 64 KiB rather than the 4 KiB may_minihttp's own TechEmpower example
//! uses: minijinja and SQLite need more than 4 KiB of stack (pages are touched lazily, so an
//! idle connection does not pay for the rest). Bodies come from `bench-common`.

use bench_common::Args;
use may_minihttp::{HttpService, HttpServiceFactory, Request, Response};
use std::io;

/// Coroutine stack size in bytes (see the module docs).
const COROUTINE_STACK_BYTES: usize = 0x10000;

struct Bench;

fn html(response: &mut Response, body: Result<bytes::Bytes, String>) {
    match body {
        Ok(body) => {
            response.header("Content-Type: text/html; charset=utf-8");
            response.body_mut().extend_from_slice(&body);
        }
        Err(error) => {
            response.status_code(500, "Internal Server Error");
            response.body_mut().extend_from_slice(error.as_bytes());
        }
    }
}

impl HttpService for Bench {
    fn call(&mut self, request: Request, response: &mut Response) -> io::Result<()> {
        match request.path() {
            "/plaintext" => {
                response
                    .header("Content-Type: text/plain")
                    .body(bench_common::PLAINTEXT);
            }
            "/json" => {
                response.header("Content-Type: application/json");
                response
                    .body_mut()
                    .extend_from_slice(&bench_common::json_body());
            }
            "/fortunes" => html(response, bench_common::fortunes_body()),
            "/fragment" => {
                let partial = bench_common::wants_fragment(
                    request
                        .headers()
                        .iter()
                        .map(|header| (header.name, header.value)),
                );
                html(response, bench_common::fragment_body(partial));
                response.header(bench_common::FRAGMENT_VARY_LINE);
            }
            _ => {
                response.status_code(404, "Not Found");
            }
        }
        Ok(())
    }
}

struct Factory;

impl HttpServiceFactory for Factory {
    type Service = Bench;

    fn new_service(&self, _: usize) -> Bench {
        Bench
    }
}

fn main() -> io::Result<()> {
    let args = Args::parse_and_log("may-minihttp");
    bench_common::init();
    may::config()
        .set_workers(args.workers())
        .set_pool_capacity(500)
        .set_stack_size(COROUTINE_STACK_BYTES);
    let server = Factory.start(args.addr)?;
    server
        .join()
        .map_err(|_| io::Error::other("the accept coroutine panicked"))
}

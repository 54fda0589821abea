//! Criterion micro benchmarks of kiln's hot path pieces, each alone and in memory: request
//! parsing (`RequestDecoder`, one request and 16 pipelined), response head encoding
//! (`encode_head`), Fortunes rendering into the per-worker buffer (`Templates::render`), JSON
//! serialisation (sonic-rs into a `BytesMut`), htmx fragment rendering
//! (`Templates::render_block`), and a request through the app layer (`App`: routing,
//! extractors, the handler, a render; polled in place, without a runtime).
//!
//! No sockets and no runtime: the load tests in `benches/loadtest/` measure the server. Each
//! benchmark is kept short (see `config`) so the suite finishes in well under two minutes:
//! `cargo bench --bench micro`.

use bytes::{BufMut, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kiln::http::{
    Decoded, EncodeOptions, HttpDate, RequestDecoder, Response, Version, encode_head,
};
use kiln::limits::HttpLimits;
use kiln::template::{EmbeddedTemplates, Templates};
use std::hint::black_box;
use std::time::Duration;

static TEMPLATES: EmbeddedTemplates = kiln::templates!("templates/bench");

/// What wrk sends for the plaintext test.
const WRK_REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n\r\n";
/// A browser-like htmx request with the usual headers.
const HTMX_REQUEST: &[u8] = b"GET /fragment HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: */*\r\nAccept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nHX-Request: true\r\nHX-Target: rows\r\nHX-Current-URL: http://localhost:8080/fragment\r\nConnection: keep-alive\r\nReferer: http://localhost:8080/fragment\r\nCookie: session=abcdef0123456789\r\n\r\n";
const PIPELINE_DEPTH: usize = 16;

#[derive(serde::Serialize)]
struct Fortune {
    id: i64,
    message: &'static str,
}

#[derive(serde::Serialize)]
struct Row {
    id: u32,
    name: &'static str,
    qty: u32,
}

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

/// The thirteen Fortunes rows as the handler has them after sorting.
fn sorted_fortunes() -> Vec<Fortune> {
    let mut rows = vec![
        Fortune {
            id: 1,
            message: "fortune: No such file or directory",
        },
        Fortune {
            id: 2,
            message: "A computer scientist is someone who fixes things that aren't broken.",
        },
        Fortune {
            id: 3,
            message: "After enough decimal places, nobody gives a damn.",
        },
        Fortune {
            id: 4,
            message: "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
        },
        Fortune {
            id: 5,
            message: "A computer program does what you tell it to do, not what you want it to do.",
        },
        Fortune {
            id: 6,
            message: "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
        },
        Fortune {
            id: 7,
            message: "Any program that runs right is obsolete.",
        },
        Fortune {
            id: 8,
            message: "A list is only as strong as its weakest link. — Donald Knuth",
        },
        Fortune {
            id: 9,
            message: "Feature: A bug with seniority.",
        },
        Fortune {
            id: 10,
            message: "Computers make very fast, very accurate mistakes.",
        },
        Fortune {
            id: 11,
            message: "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
        },
        Fortune {
            id: 12,
            message: "フレームワークのベンチマーク",
        },
        Fortune {
            id: 0,
            message: "Additional fortune added at request time.",
        },
    ];
    rows.sort_by(|a, b| a.message.cmp(b.message));
    rows
}

/// The fragment test's 20 rows (as kiln-bench-server builds them).
fn fragment_rows() -> Vec<Row> {
    const NAMES: [&str; 5] = ["Cash", "Bank", "Fish & Chips", "Equity", "Receivables"];
    (1..=20)
        .map(|id| Row {
            id,
            name: NAMES[id as usize % NAMES.len()],
            qty: (id * 7) % 13,
        })
        .collect()
}

/// The fragment test's context, built anew per render (as a query result would be).
#[derive(serde::Serialize)]
struct FragmentPage {
    rows: Vec<Row>,
}

fn fragment_page() -> FragmentPage {
    FragmentPage {
        rows: fragment_rows(),
    }
}

/// Decodes every request in `input`; returns how many there were.
fn decode_all(decoder: &mut RequestDecoder, input: &mut BytesMut) -> usize {
    let mut count = 0;
    while let Ok(Some(Decoded::Request(request))) = decoder.decode(input) {
        black_box(request);
        count += 1;
    }
    count
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let pipelined = WRK_REQUEST.repeat(PIPELINE_DEPTH);
    for (name, input, count) in [
        ("wrk_plaintext", WRK_REQUEST.to_vec(), 1),
        ("htmx_browser", HTMX_REQUEST.to_vec(), 1),
        ("wrk_pipelined_16", pipelined, PIPELINE_DEPTH),
    ] {
        group.throughput(Throughput::Elements(count as u64));
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || {
                    (
                        RequestDecoder::new(HttpLimits::default()),
                        BytesMut::from(&input[..]),
                    )
                },
                |(decoder, buf)| assert_eq!(decode_all(decoder, buf), count),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn encoding(c: &mut Criterion) {
    let date = HttpDate::from_unix_secs(1_795_000_000);
    let options = EncodeOptions {
        keep_alive: true,
        head_request: false,
        version: Version::Http11,
    };
    let response = Response::ok("Hello, World!").with_static_header("content-type", "text/plain");
    let mut out = BytesMut::with_capacity(4096);
    c.bench_function("encode_head/plaintext", |b| {
        b.iter(|| {
            out.clear();
            black_box(encode_head(black_box(&response), &date, options, &mut out));
        })
    });
}

fn rendering(c: &mut Criterion) {
    let templates = Templates::new(TEMPLATES).expect("bench templates compile");
    let fortunes = sorted_fortunes();
    c.bench_function("render/fortunes_page", |b| {
        b.iter(|| {
            #[derive(serde::Serialize)]
            struct Page<'a> {
                fortunes: &'a [Fortune],
            }
            black_box(
                templates
                    .render(
                        "fortunes.html",
                        Page {
                            fortunes: &fortunes,
                        },
                    )
                    .expect("renders"),
            )
        })
    });
    c.bench_function("render/fragment_rows_block", |b| {
        b.iter(|| {
            black_box(
                templates
                    .render_block("fragment.html", "rows", fragment_page())
                    .expect("renders"),
            )
        })
    });
    // The same partial with direct block rendering off: evaluate the page, then the block.
    let full_evaluation = Templates::builder(TEMPLATES)
        .direct_blocks(false)
        .build()
        .expect("bench templates compile");
    c.bench_function("render/fragment_rows_block_full_evaluation", |b| {
        b.iter(|| {
            black_box(
                full_evaluation
                    .render_block("fragment.html", "rows", fragment_page())
                    .expect("renders"),
            )
        })
    });
    c.bench_function("render/fragment_page", |b| {
        b.iter(|| {
            black_box(
                templates
                    .render("fragment.html", fragment_page())
                    .expect("renders"),
            )
        })
    });
}

fn json(c: &mut Criterion) {
    c.bench_function("json/sonic_message", |b| {
        b.iter(|| {
            let mut body = BytesMut::with_capacity(32).writer();
            sonic_rs::to_writer(
                &mut body,
                black_box(&Message {
                    message: "Hello, World!",
                }),
            )
            .expect("serialises");
            black_box(body.into_inner().freeze())
        })
    });
}

#[derive(Clone)]
struct BenchState {
    templates: Templates,
}

async fn fragment_handler(
    htmx: kiln::htmx::Htmx,
    kiln::app::State(state): kiln::app::State<BenchState>,
) -> Response {
    htmx.render(&state.templates, "fragment.html", "rows", fragment_page())
}

/// Polls a future that never waits (the app's handlers here don't) to its output.
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the bench handlers never wait"),
    }
}

fn app(c: &mut Criterion) {
    let templates = Templates::new(TEMPLATES).expect("bench templates compile");
    let app = kiln::app::App::new()
        .state(BenchState { templates })
        .route("/plaintext", kiln::app::get(|| async { "Hello, World!" }))
        .route("/fragment", kiln::app::get(fragment_handler))
        .build();
    let decode = |raw: &[u8]| match RequestDecoder::new(HttpLimits::default())
        .decode(&mut BytesMut::from(raw))
    {
        Ok(Some(Decoded::Request(request))) => request,
        other => panic!("bench request does not decode: {other:?}"),
    };
    let plaintext = decode(WRK_REQUEST);
    let fragment = decode(HTMX_REQUEST);
    c.bench_function("app/plaintext", |b| {
        b.iter(|| black_box(ready(app.call(plaintext.clone()))))
    });
    c.bench_function("app/fragment", |b| {
        b.iter(|| black_box(ready(app.call(fragment.clone()))))
    });
}

/// Short runs: the whole suite stays well under two minutes.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = micro;
    config = config();
    targets = parsing, encoding, rendering, json, app
}
criterion_main!(micro);

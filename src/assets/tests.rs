//! Serving embedded assets: hashed and plain URLs, caching headers, 304, encodings, content
//! types, traversal attempts, the htmx scripts. Requests are parsed from raw bytes by the real
//! decoder; the fixture files are `src/assets/testdata/`.

use super::*;
use crate::http::{Body, Decoded, RequestDecoder};
use crate::limits::HttpLimits;
use bytes::BytesMut;
use std::io::Read;

static FIXTURES: EmbeddedAssets = kiln_macros::assets!("src/assets/testdata", crate = crate);

fn fixtures() -> StaticAssets {
    StaticAssets::new(&FIXTURES, "/static/")
}

fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> Request {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nhost: test\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let mut buf = BytesMut::from(raw.as_bytes());
    match RequestDecoder::new(HttpLimits::default()).decode(&mut buf) {
        Ok(Some(Decoded::Request(request))) => request,
        other => panic!("test request did not parse: {other:?}"),
    }
}

fn get(target: &str, headers: &[(&str, &str)]) -> Option<Response> {
    fixtures().respond(&request("GET", target, headers))
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .header(name)
        .map(|value| std::str::from_utf8(value.as_bytes()).unwrap())
}

fn body(response: &Response) -> &[u8] {
    match &response.body {
        Body::Full(bytes) => bytes,
        Body::Empty => &[],
        Body::Stream(_) => panic!("asset bodies are never streams"),
    }
}

fn hashed_path(name: &str) -> String {
    fixtures().url(name).unwrap().to_owned()
}

#[test]
fn macro_embeds_every_file_sorted_with_hash_and_type() {
    let names: Vec<&str> = FIXTURES.files.iter().map(|asset| asset.name).collect();
    assert_eq!(
        names,
        [
            "LICENSE",
            "app.css",
            "app.js",
            "data.json",
            "icons/check.svg",
            "logo.png"
        ]
    );
    let css = FIXTURES.get("app.css").unwrap();
    assert_eq!(css.hash.len(), 16);
    assert!(css.hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(css.integrity.starts_with("sha384-"));
    assert_eq!(css.raw, include_bytes!("testdata/app.css"));
}

#[test]
fn url_is_prefix_stem_hash_extension() {
    let assets = fixtures();
    let css = FIXTURES.get("app.css").unwrap();
    assert_eq!(
        assets.url("app.css").unwrap(),
        format!("/static/app.{}.css", css.hash)
    );
    let svg = FIXTURES.get("icons/check.svg").unwrap();
    assert_eq!(
        assets.url("icons/check.svg").unwrap(),
        format!("/static/icons/check.{}.svg", svg.hash)
    );
    let licence = FIXTURES.get("LICENSE").unwrap();
    assert_eq!(
        assets.url("LICENSE").unwrap(),
        format!("/static/LICENSE.{}", licence.hash)
    );
    assert_eq!(assets.url("missing.css"), None);
    assert_eq!(assets.prefix(), "/static");
    assert_eq!(hashed_name("a.b/c", "h"), "a.b/c.h");
    assert_eq!(hashed_name("dir/.x", "h"), "dir/.x.h");
}

#[test]
fn hashed_url_is_immutable_and_plain_name_revalidates() {
    let hashed = get(&hashed_path("app.js"), &[]).unwrap();
    assert_eq!(hashed.status, StatusCode::OK);
    assert_eq!(
        header(&hashed, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(body(&hashed), include_bytes!("testdata/app.js"));

    let plain = get("/static/app.js", &[]).unwrap();
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(header(&plain, "cache-control"), Some("no-cache"));
    let hash = FIXTURES.get("app.js").unwrap().hash;
    assert_eq!(header(&plain, "etag"), Some(format!("\"{hash}\"").as_str()));
}

#[test]
fn query_strings_are_ignored() {
    let response = get("/static/app.js?v=3", &[]).unwrap();
    assert_eq!(response.status, StatusCode::OK);
}

#[test]
fn if_none_match_gives_304_with_validators_and_no_body() {
    let hash = FIXTURES.get("app.css").unwrap().hash;
    let etag = format!("\"{hash}\"");
    for header_value in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".into(),
    ] {
        let response = get("/static/app.css", &[("if-none-match", &header_value)]).unwrap();
        assert_eq!(response.status, StatusCode::NOT_MODIFIED, "{header_value}");
        assert_eq!(header(&response, "etag"), Some(etag.as_str()));
        assert_eq!(header(&response, "cache-control"), Some("no-cache"));
        assert_eq!(header(&response, "vary"), Some("Accept-Encoding"));
        assert!(matches!(response.body, Body::Empty));
    }
    let changed = get(
        "/static/app.css",
        &[("if-none-match", "\"0000000000000000\"")],
    )
    .unwrap();
    assert_eq!(changed.status, StatusCode::OK);
}

#[test]
fn etag_differs_per_encoding_and_304_matches_the_chosen_one() {
    let hash = FIXTURES.get("app.css").unwrap().hash;
    let br = get("/static/app.css", &[("accept-encoding", "br")]).unwrap();
    assert_eq!(header(&br, "etag"), Some(format!("\"{hash}-br\"").as_str()));
    let identity_tag = format!("\"{hash}\"");
    let refetch = [
        ("accept-encoding", "br"),
        ("if-none-match", identity_tag.as_str()),
    ];
    assert_eq!(
        get("/static/app.css", &refetch).unwrap().status,
        StatusCode::OK
    );
    let br_tag = format!("\"{hash}-br\"");
    let revalidate = [
        ("accept-encoding", "gzip, br"),
        ("if-none-match", br_tag.as_str()),
    ];
    assert_eq!(
        get("/static/app.css", &revalidate).unwrap().status,
        StatusCode::NOT_MODIFIED
    );
}

#[test]
fn brotli_then_gzip_by_accept_encoding() {
    let css = include_str!("testdata/app.css");
    let br = get(
        "/static/app.css",
        &[("accept-encoding", "gzip, deflate, br")],
    )
    .unwrap();
    assert_eq!(header(&br, "content-encoding"), Some("br"));
    assert_eq!(header(&br, "vary"), Some("Accept-Encoding"));
    let mut decoded = String::new();
    brotli_decompress(body(&br), &mut decoded);
    assert_eq!(decoded, css);

    let gzip = get("/static/app.css", &[("accept-encoding", "gzip")]).unwrap();
    assert_eq!(header(&gzip, "content-encoding"), Some("gzip"));
    assert!(body(&gzip).starts_with(&[0x1f, 0x8b]), "gzip magic");
    assert!(body(&gzip).len() < css.len());

    let identity = get("/static/app.css", &[]).unwrap();
    assert_eq!(header(&identity, "content-encoding"), None);
    assert_eq!(body(&identity), css.as_bytes());
}

fn brotli_decompress(bytes: &[u8], out: &mut String) {
    brotli::Decompressor::new(bytes, 4096)
        .read_to_string(out)
        .unwrap();
}

#[test]
fn q_zero_refuses_an_encoding() {
    let response = get("/static/app.css", &[("accept-encoding", "br;q=0, gzip")]).unwrap();
    assert_eq!(header(&response, "content-encoding"), Some("gzip"));
    let none = get(
        "/static/app.css",
        &[("accept-encoding", "br;q=0, gzip;q=0")],
    )
    .unwrap();
    assert_eq!(header(&none, "content-encoding"), None);
}

#[test]
fn incompressible_assets_have_no_variants_and_no_vary() {
    let png = get("/static/logo.png", &[("accept-encoding", "br, gzip")]).unwrap();
    assert_eq!(header(&png, "content-encoding"), None);
    assert_eq!(header(&png, "vary"), None);
    assert_eq!(body(&png), include_bytes!("testdata/logo.png"));
}

#[test]
fn content_types() {
    let cases = [
        ("/static/app.css", "text/css; charset=utf-8"),
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/data.json", "application/json"),
        ("/static/icons/check.svg", "image/svg+xml"),
        ("/static/logo.png", "image/png"),
        ("/static/LICENSE", "application/octet-stream"),
    ];
    for (path, content_type) in cases {
        let response = get(path, &[]).unwrap();
        assert_eq!(
            header(&response, "content-type"),
            Some(content_type),
            "{path}"
        );
    }
}

#[test]
fn traversal_and_encoded_paths_miss() {
    let attempts = [
        "/static/../Cargo.toml",
        "/static/icons/../app.css",
        "/static/./app.css",
        "/static//app.css",
        "/static/%2e%2e/Cargo.toml",
        "/static/app%2ecss",
        "/static/icons%2fcheck.svg",
        "/static/app.css/",
        "/static/APP.CSS",
        "/static",
        "/static/",
        "/staticapp.css",
        "/app.css",
        "/static/testdata/app.css",
    ];
    for path in attempts {
        assert!(get(path, &[]).is_none(), "{path} must miss");
    }
}

#[test]
fn other_methods_get_405_on_asset_paths_only() {
    let post = fixtures()
        .respond(&request(
            "POST",
            "/static/app.css",
            &[("content-length", "0")],
        ))
        .unwrap();
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&post, "allow"), Some("GET, HEAD"));
    let miss = fixtures().respond(&request(
        "POST",
        "/static/nope.css",
        &[("content-length", "0")],
    ));
    assert!(miss.is_none());
    let head = fixtures()
        .respond(&request("HEAD", "/static/app.css", &[]))
        .unwrap();
    assert_eq!(head.status, StatusCode::OK);
}

#[test]
fn empty_prefix_serves_from_the_root() {
    let assets = StaticAssets::new(&FIXTURES, "");
    let response = assets.respond(&request("GET", "/app.css", &[])).unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert!(assets.url("app.css").unwrap().starts_with("/app."));
}

#[test]
fn htmx_scripts_are_served_and_match_their_versions() {
    let assets = htmx();
    for (file, version) in [
        (htmx::HTMX2_FILE, HTMX2_VERSION),
        (htmx::HTMX4_FILE, HTMX4_VERSION),
    ] {
        let asset = assets.get(file).unwrap();
        let text = std::str::from_utf8(asset.raw).unwrap();
        assert!(
            text.contains(&format!("\"{version}\"")),
            "{file} is not {version}"
        );
        let url = assets.url(file).unwrap();
        assert!(url.starts_with("/_kiln/htmx-"), "{url}");
        let response = assets
            .respond(&request("GET", url, &[("accept-encoding", "br")]))
            .unwrap();
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(header(&response, "content-encoding"), Some("br"));
    }
    assert!(assets.get(htmx::HTMX_EXT_SSE_FILE).is_some());
    assert!(assets.get("LICENSE-htmx").is_some());
    let readme = include_str!("../../assets/htmx/README.md");
    for version in [HTMX2_VERSION, HTMX4_VERSION, HTMX_EXT_SSE_VERSION] {
        assert!(
            readme.contains(version),
            "assets/htmx/README.md lacks {version}"
        );
    }
}

#[test]
fn htmx_script_tags() {
    let tag = htmx_script_tag(2).unwrap();
    let url = htmx().url(htmx::HTMX2_FILE).unwrap();
    let integrity = htmx().get(htmx::HTMX2_FILE).unwrap().integrity;
    assert_eq!(
        tag,
        format!("<script src=\"{url}\" integrity=\"{integrity}\"></script>")
    );
    assert!(htmx_script_tag(4).unwrap().contains("/_kiln/htmx-4.min."));
    assert_eq!(htmx_script_tag(3), None);
    assert!(htmx_sse_script_tag().contains("/_kiln/htmx-ext-sse-2.min."));
}

#[test]
fn gzip_variant_decodes_to_the_original() {
    let gzip = get("/static/app.css", &[("accept-encoding", "gzip")]).unwrap();
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(body(&gzip))
        .read_to_string(&mut decoded)
        .unwrap();
    assert_eq!(decoded, include_str!("testdata/app.css"));
}

//! The bench server's endpoints give TechEmpower-style output: exact plaintext and JSON
//! bodies, Fortunes escaped and sorted, and the htmx fragment test's page versus block (through
//! `TestClient`), and Server, Date and Content-Length headers on the wire (through a real
//! socket on 127.0.0.1, since `TestClient` sees responses before the encoder adds those).
//! Correctness only: nothing here is timed (the timings are `run.py`'s job).

use kiln::test::TestClient;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn client() -> TestClient {
    TestClient::new(kiln_bench_server::app().expect("templates compile"))
}

/// One `Connection: close` request over a socket; the whole response as text.
fn wire_response(addr: std::net::SocketAddr, head: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    String::from_utf8(response).expect("UTF-8")
}

#[test]
fn every_endpoint_has_server_date_and_length_on_the_wire() {
    let handle = kiln::Server::bind("127.0.0.1:0")
        .workers(1)
        .start(kiln_bench_server::app().expect("templates compile"))
        .expect("start");
    let addr = handle.local_addr();
    for (path, extra) in [
        ("/plaintext", ""),
        ("/json", ""),
        ("/fortunes", ""),
        ("/fragment", ""),
        ("/fragment", "HX-Request: true\r\nHX-Target: rows\r\n"),
    ] {
        let text = wire_response(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n"),
        );
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        let head = head.to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200 ok\r\n"), "{path}: {head}");
        assert!(head.contains("\r\nserver: kiln\r\n"), "{path}: {head}");
        let date = head
            .split("\r\n")
            .find_map(|line| line.strip_prefix("date: "))
            .expect("a Date header");
        assert!(
            date.ends_with(" gmt") && date.len() == 29,
            "IMF-fixdate: {date}"
        );
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{path}: {head}"
        );
    }
    handle.stop();
}

#[test]
fn plaintext_is_exact() {
    let response = client().get("/plaintext").send();
    response
        .assert_status(200)
        .assert_header("content-type", "text/plain")
        .assert_no_header("vary");
    assert_eq!(response.text(), "Hello, World!");
}

#[test]
fn json_is_exact() {
    let response = client().get("/json").send();
    response
        .assert_status(200)
        .assert_header("content-type", "application/json")
        .assert_no_header("vary");
    assert_eq!(response.text(), r#"{"message":"Hello, World!"}"#);
}

/// The message column of each `<tr><td>id</td><td>message</td></tr>` row.
fn fortune_messages(html: &str) -> Vec<&str> {
    html.split("<tr><td>")
        .skip(1)
        .filter_map(|row| row.split("</td><td>").nth(1))
        .filter_map(|cell| cell.split("</td>").next())
        .collect()
}

#[test]
fn fortunes_are_escaped_sorted_and_complete() {
    let response = client().get("/fortunes").send();
    response
        .assert_status(200)
        .assert_header("content-type", "text/html; charset=utf-8");
    let html = response.text();
    assert!(html.starts_with(
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr><tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser alert box.&quot;);&lt;&#x2f;script&gt;</td></tr>"
    ), "{html}");
    assert!(!html.contains("<script>"));
    assert!(html.contains("<tr><td>12</td><td>フレームワークのベンチマーク</td></tr>"));
    assert!(html.contains(&format!(
        "<tr><td>0</td><td>{}</td></tr>",
        kiln_bench_server::ADDED_FORTUNE
    )));
    assert!(html.ends_with("</table></body></html>"));
    let messages = fortune_messages(html);
    assert_eq!(messages.len(), 13, "twelve stored rows and the added one");
    let mut sorted = messages.clone();
    sorted.sort();
    assert_eq!(messages, sorted, "rows are sorted by message");
}

const FRAGMENT_ROWS_HTML_START: &str = "<tr><td>1</td><td>Bank</td><td>7</td></tr><tr><td>2</td><td>Fish &amp; Chips</td><td>1</td></tr>";

#[test]
fn fragment_page_for_a_normal_request() {
    let response = client().get("/fragment").send();
    response
        .assert_status(200)
        .assert_header("content-type", "text/html; charset=utf-8")
        .assert_varies_on("HX-Request");
    let html = response.text();
    let expected_start = format!(
        "<!DOCTYPE html><html><head><title>Items</title></head><body><h1>Items</h1><table><thead><tr><th>id</th><th>name</th><th>qty</th></tr></thead><tbody id=\"rows\">{FRAGMENT_ROWS_HTML_START}"
    );
    assert!(html.starts_with(&expected_start), "{html}");
    assert!(
        html.ends_with(
            "<tr><td>20</td><td>Cash</td><td>10</td></tr></tbody></table></body></html>"
        ),
        "{html}"
    );
    assert_eq!(html.matches("<tr><td>").count(), 20);
}

#[test]
fn fragment_block_for_an_htmx_partial_request() {
    let client = client();
    let response = client.get("/fragment").htmx_target("rows").send();
    response
        .assert_status(200)
        .assert_header("content-type", "text/html; charset=utf-8")
        .assert_varies_on("HX-Request")
        .assert_not_contains("<h1>")
        .assert_not_contains("<tbody");
    let html = response.text();
    assert!(html.starts_with(FRAGMENT_ROWS_HTML_START), "{html}");
    assert!(
        html.ends_with("<tr><td>20</td><td>Cash</td><td>10</td></tr>"),
        "{html}"
    );
    assert_eq!(html.matches("<tr>").count(), 20);
    let page = client.get("/fragment").send();
    assert!(
        page.text().contains(html),
        "the block is the page's table body"
    );
}

#[test]
fn unknown_paths_are_404_and_other_methods_405() {
    let client = client();
    client.get("/nope").send().assert_status(404);
    client.post("/plaintext").send().assert_status(405);
}

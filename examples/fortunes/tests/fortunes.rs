//! The Fortunes page: every row, the added one, sorted by message, HTML-escaped, UTF-8 intact.

use kiln::test::TestClient;

#[test]
fn fortunes_are_escaped_sorted_and_complete() {
    let client = TestClient::new(fortunes::app().expect("templates compile"));
    let response = client.get("/fortunes").send();
    response
        .assert_status(200)
        .assert_header("content-type", "text/html; charset=utf-8");
    let html = response.text();
    // Escaping: the script row is inert text.
    // (minijinja also escapes `/` as `&#x2f;`; TechEmpower's verifier decodes entities.)
    assert!(html.contains(
        "&lt;script&gt;alert(&quot;This should not be displayed in a browser alert box.&quot;);&lt;&#x2f;script&gt;"
    ), "{html}");
    assert!(!html.contains("<script>"));
    // UTF-8 survives.
    assert!(html.contains("フレームワークのベンチマーク"));
    // Thirteen rows (twelve stored + one added), sorted by message.
    let messages: Vec<&str> = html
        .split("<tr><td>")
        .skip(1)
        .map(|row| {
            row.split("</td><td>")
                .nth(1)
                .unwrap()
                .split("</td>")
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(messages.len(), 13);
    let mut sorted = messages.clone();
    sorted.sort();
    assert_eq!(messages, sorted, "rows are sorted by message");
    assert!(messages.contains(&fortunes::ADDED_FORTUNE));
    assert!(html.starts_with("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr><tr><td>11</td>"));
}

#[test]
fn each_request_queries_again() {
    let client = TestClient::new(fortunes::app().expect("templates compile"));
    let first = client.get("/fortunes").send();
    let second = client.get("/fortunes").send();
    assert_eq!(first.text(), second.text());
    assert_eq!(fortunes::query_fortunes().unwrap().len(), 12);
}

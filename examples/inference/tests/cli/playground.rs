//! The playground and the model page's traffic split through real sockets: the risk form
//! scores a transaction (as a page without JavaScript and as an htmx fragment), a thumbs up
//! is stored and shows in the JSONL export and in the version's approval on the model page,
//! bad input comes back with its reason (422), a cross-site post is refused (403), and a
//! search without documents says how to fill the store; the model list unloads and loads a
//! model.

use crate::support::{Registry, Reply, Server};

const FEATURES: &str = "amount_usd=42.5&hour=14&merchant_category=0&account_age_days=900\
&velocity_1h=0&distance_from_home_km=3&is_foreign=0&card_present=1";

fn post_form(server: &Server, path: &str, form: &str, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    server.request("POST", path, &all, form.as_bytes())
}

/// The value of the hidden input `name` in `html`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap_or("").to_owned()
}

#[test]
fn a_scored_transaction_gets_a_thumbs_up_that_is_stored_and_shown() {
    let registry = Registry::new("playground").with_risk(|config| config);
    let server = Server::start(&registry);
    let page = server.get("/playground");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains(r#"name="amount_usd" value="42.50""#),
        "{html}"
    );
    assert!(html.contains(r#"action="/playground/risk""#));

    // Without JavaScript: the whole page with the answer.
    let scored = post_form(&server, "/playground/risk", FEATURES, &[]);
    assert_eq!(scored.status, 200, "{}", scored.text());
    let html = scored.text();
    assert!(html.contains("<html"), "a page");
    assert!(
        html.contains(r#"id="risk-score""#) && html.contains("risk version 1"),
        "{html}"
    );
    // With htmx: the answer's block alone.
    let fragment = post_form(
        &server,
        "/playground/risk",
        FEATURES,
        &[("hx-request", "true")],
    );
    assert_eq!(fragment.status, 200);
    let html = fragment.text();
    assert!(
        !html.contains("<html") && html.starts_with(r#"<div id="risk-answer""#),
        "{html}"
    );
    let subject = hidden(&html, "subject");
    assert_eq!(subject.len(), 32, "an input digest");

    // Thumbs up: stored, exported, counted in the version's approval.
    let form = format!(
        "model=risk&version=1&subject={subject}&score={}&predicted={}&label=up",
        hidden(&html, "score"),
        hidden(&html, "predicted")
    );
    let thanks = post_form(
        &server,
        "/playground/feedback",
        &form,
        &[("hx-request", "true")],
    );
    assert_eq!(thanks.status, 200, "{}", thanks.text());
    assert!(
        thanks
            .text()
            .contains("thumbs up for risk version 1 is recorded")
    );
    let export = server.get("/v1/feedback.jsonl").text();
    assert!(
        export.contains(&subject) && export.contains(r#""label":"up""#),
        "{export}"
    );
    let model = server.get("/models/risk").text();
    assert!(model.contains(r#"id="split""#), "{model}");
    assert!(model.contains("100.0 %"), "one up, no down: {model}");

    // Refusals, each with its reason.
    let bad = post_form(
        &server,
        "/playground/risk",
        &FEATURES.replace("hour=14", "hour=noon"),
        &[],
    );
    assert_eq!(bad.status, 422);
    assert!(
        bad.text().contains("Hour (0-23): type a number"),
        "{}",
        bad.text()
    );
    let unlabelled = post_form(
        &server,
        "/playground/feedback",
        "model=risk&version=1&subject=x",
        &[],
    );
    assert_eq!(unlabelled.status, 422);
    assert!(unlabelled.text().contains("needs a label"));
    let unknown = post_form(
        &server,
        "/playground/feedback",
        "model=nope&version=1&subject=x&label=up",
        &[],
    );
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    let cross = post_form(
        &server,
        "/playground/risk",
        FEATURES,
        &[("sec-fetch-site", "cross-site")],
    );
    assert_eq!(cross.status, 403);
    let empty = post_form(&server, "/playground/search", "query=", &[]);
    assert_eq!(empty.status, 422);
    assert!(empty.text().contains("Type a query"));
    let no_such_search = post_form(
        &server,
        "/playground/open",
        "search_id=x&document_id=1",
        &[],
    );
    assert_eq!(no_such_search.status, 422);
}

#[test]
fn a_search_answer_records_the_result_a_person_opens() {
    if !crate::support::minilm_fetched("a_search_answer_records_the_result_a_person_opens") {
        return;
    }
    let registry = Registry::new("playground-search").with_text_model("minilm");
    let server = Server::start(&registry);
    let empty = post_form(&server, "/playground/search", "query=bread", &[]);
    assert_eq!(empty.status, 200);
    assert!(empty.text().contains("The document store is empty"));
    let added = server.post_json(
        "/v1/documents",
        r#"{"texts":["Fresh bread from the bakery","The train to Lyon leaves at nine","A loaf of sourdough"]}"#,
    );
    assert_eq!(added.status, 200, "{}", added.text());
    let found = post_form(
        &server,
        "/playground/search",
        "query=bread",
        &[("hx-request", "true")],
    );
    assert_eq!(found.status, 200, "{}", found.text());
    let html = found.text();
    assert!(html.starts_with(r#"<div id="search-answer""#), "{html}");
    let first = html.find("Fresh bread").expect("the bakery first");
    assert!(
        first < html.find("train to Lyon").unwrap_or(usize::MAX),
        "{html}"
    );
    let search_id = hidden(&html, "search_id");
    let document_id = hidden(&html, "document_id");
    let opened = post_form(
        &server,
        "/playground/open",
        &format!("search_id={search_id}&document_id={document_id}"),
        &[("hx-request", "true")],
    );
    assert_eq!(opened.status, 200, "{}", opened.text());
    assert!(
        opened.text().contains("Opened result 1 of search"),
        "{}",
        opened.text()
    );
    let wrong = post_form(
        &server,
        "/playground/open",
        &format!("search_id={search_id}&document_id=999999"),
        &[],
    );
    assert_eq!(wrong.status, 400, "{}", wrong.text());
    assert!(wrong.text().contains("is not a result of search"));
}

#[test]
fn the_model_list_unloads_and_loads_a_model() {
    let registry = Registry::new("dashboard-load").with_risk(|config| config);
    let server = Server::start(&registry);
    let list = server.get("/").text();
    assert!(list.contains(r#"action="/models/risk/unload""#), "{list}");
    let unloaded = post_form(&server, "/models/risk/unload", "", &[]);
    assert_eq!(unloaded.status, 303, "{}", unloaded.text());
    let list = server.get("/").text();
    assert!(list.contains(r#"action="/models/risk/load""#), "{list}");
    assert_eq!(server.get("/v2/models/risk/ready").status, 404);
    let loaded = post_form(&server, "/models/risk/load", "", &[]);
    assert_eq!(loaded.status, 303);
    assert_eq!(server.get("/v2/models/risk/ready").status, 200);
    assert_eq!(post_form(&server, "/models/nope/load", "", &[]).status, 404);
    assert_eq!(
        post_form(&server, "/models/nope/unload", "", &[]).status,
        404
    );
    let cross = post_form(
        &server,
        "/models/risk/unload",
        "",
        &[("sec-fetch-site", "cross-site")],
    );
    assert_eq!(cross.status, 403);
}

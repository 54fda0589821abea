//! Tests of `htmx/`: the extractor (both majors, encoded values), page versus fragment with
//! `Vary`, and response headers (merged triggers, `HX-Location`, injection refused, 286,
//! redirects). SSE is tested in `sse_tests.rs`.
//!
//! Most go through `TestClient` with small apps; the SSE channel mechanics and the raw-byte
//! header cases are checked directly.

use super::*;
use crate::app::{App, Html, IntoResponse, get};
use crate::http::{Decoded, Request, RequestDecoder, Response, StatusCode};
use crate::limits::HttpLimits;
use crate::test::{RequestBuilder, TestClient, TestResponse};
use bytes::BytesMut;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// The extractor

/// What a handler saw, as JSON, so tests can compare it whole.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct Seen {
    is_htmx: bool,
    boosted: bool,
    history_restore: bool,
    major: Option<u8>,
    request_type: Option<String>,
    current_url: Option<String>,
    prompt: Option<String>,
    target: Option<String>,
    target_tag: Option<String>,
    target_id: Option<String>,
    trigger: Option<String>,
    trigger_name: Option<String>,
    trigger_id: Option<String>,
    source: Option<String>,
    source_tag: Option<String>,
    source_id: Option<String>,
    wants_fragment: bool,
}

fn seen(htmx: &Htmx) -> Seen {
    let owned = |value: Option<&str>| value.map(str::to_owned);
    let target = htmx.target_element();
    let source = htmx.source_element();
    Seen {
        is_htmx: htmx.is_htmx(),
        boosted: htmx.boosted(),
        history_restore: htmx.history_restore(),
        major: htmx.major(),
        request_type: htmx.request_type().map(|kind| kind.as_str().to_owned()),
        current_url: owned(htmx.current_url()),
        prompt: owned(htmx.prompt()),
        target: owned(htmx.target()),
        target_tag: owned(target.and_then(|element| element.tag)),
        target_id: owned(htmx.target_id()),
        trigger: owned(htmx.trigger()),
        trigger_name: owned(htmx.trigger_name()),
        trigger_id: owned(htmx.trigger_id()),
        source: owned(htmx.source()),
        source_tag: owned(source.and_then(|element| element.tag)),
        source_id: owned(source.and_then(|element| element.id)),
        wants_fragment: htmx.wants_fragment(),
    }
}

async fn describe(htmx: Htmx) -> crate::app::Json<Seen> {
    crate::app::Json(seen(&htmx))
}

fn describe_client() -> TestClient {
    TestClient::new(App::new().route("/", get(describe)))
}

/// A request parsed by the real decoder from raw bytes (for bytes `TestClient` cannot send).
fn raw_request(head: &[u8]) -> Request {
    let mut buf = BytesMut::from(head);
    match RequestDecoder::new(HttpLimits::default()).decode(&mut buf) {
        Ok(Some(Decoded::Request(request))) => request,
        other => panic!("not a request: {other:?}"),
    }
}

#[test]
fn a_plain_request_is_not_htmx_and_wants_the_page() {
    let client = describe_client();
    let seen: Seen = client.get("/").send().assert_status(200).json();
    assert_eq!(seen, Seen::default());
}

#[test]
fn htmx2_headers_are_all_read() {
    let client = describe_client();
    let seen: Seen = client
        .get("/")
        .htmx_target("rows")
        .header("HX-Current-URL", "http://test/accounts?page=2")
        .header("HX-Prompt", "yes please")
        .header("HX-Trigger", "load-more")
        .header("HX-Trigger-Name", "page")
        .send()
        .json();
    assert_eq!(
        seen,
        Seen {
            is_htmx: true,
            major: Some(2),
            current_url: Some("http://test/accounts?page=2".into()),
            prompt: Some("yes please".into()),
            target: Some("rows".into()),
            target_id: Some("rows".into()),
            trigger: Some("load-more".into()),
            trigger_name: Some("page".into()),
            trigger_id: Some("load-more".into()),
            wants_fragment: true,
            ..Seen::default()
        }
    );
}

#[test]
fn htmx2_uri_autoencoded_values_are_decoded() {
    // htmx 2 retries a header the browser refused with encodeURIComponent and a companion.
    let client = describe_client();
    let seen: Seen = client
        .get("/")
        .htmx()
        .header("HX-Prompt", "caf%C3%A9%20%F0%9F%8E%89%2B1")
        .header("HX-Prompt-URI-AutoEncoded", "true")
        .header("HX-Trigger-Name", "na%C3%AFve")
        .header("HX-Trigger-Name-URI-AutoEncoded", "true")
        .header("HX-Target", "t%C3%A4ble")
        .header("HX-Target-URI-AutoEncoded", "true")
        .header("HX-Current-URL", "http%3A%2F%2Ftest%2F%C3%BC")
        .header("HX-Current-URL-URI-AutoEncoded", "true")
        .header("HX-Trigger", "100%25")
        .send()
        .json();
    assert_eq!(seen.prompt.as_deref(), Some("café 🎉+1"));
    assert_eq!(seen.trigger_name.as_deref(), Some("naïve"));
    assert_eq!(seen.target_id.as_deref(), Some("täble"));
    assert_eq!(seen.current_url.as_deref(), Some("http://test/ü"));
    // Without its companion a value is taken as sent.
    assert_eq!(seen.trigger.as_deref(), Some("100%25"));
}

#[test]
fn raw_latin1_header_bytes_are_read_as_iso_8859_1() {
    // `setRequestHeader("HX-Prompt", "café")` sends the single byte 0xE9 for "é".
    let request =
        raw_request(b"GET / HTTP/1.1\r\nHost: t\r\nHX-Request: true\r\nHX-Prompt: caf\xe9\r\n\r\n");
    assert_eq!(Htmx::from_headers(&request).prompt(), Some("café"));
    // Broken percent-encoding and invalid UTF-8 after decoding never panic.
    let request = raw_request(
        b"GET / HTTP/1.1\r\nHost: t\r\nHX-Request: true\r\nHX-Prompt: %ff%zz%\r\nHX-Prompt-URI-AutoEncoded: true\r\n\r\n",
    );
    assert_eq!(Htmx::from_headers(&request).prompt(), Some("\u{fffd}%zz%"));
}

#[test]
fn htmx4_tag_and_id_targets_and_sources_are_parsed() {
    let client = describe_client();
    let seen: Seen = client
        .get("/")
        .htmx4_partial()
        .header("HX-Target", "tbody#rows%20all")
        .header("HX-Source", "button#load%25more")
        .header("HX-Current-URL", "http://test/accounts")
        .header("HX-Boosted", "false")
        .send()
        .json();
    assert_eq!(
        seen,
        Seen {
            is_htmx: true,
            major: Some(4),
            request_type: Some("partial".into()),
            current_url: Some("http://test/accounts".into()),
            target: Some("tbody#rows%20all".into()),
            target_tag: Some("tbody".into()),
            target_id: Some("rows all".into()),
            trigger_id: Some("load%more".into()),
            source: Some("button#load%25more".into()),
            source_tag: Some("button".into()),
            source_id: Some("load%more".into()),
            wants_fragment: true,
            ..Seen::default()
        }
    );
}

#[test]
fn htmx4_elements_without_id_and_encoded_prompts() {
    let client = describe_client();
    let seen: Seen = client
        .get("/")
        .htmx4_full()
        .header("HX-Target", "body")
        .header("HX-Source", "a")
        // The hx-prompt extension of htmx 4 always sends encodeURI(answer).
        .header("HX-Prompt", "r%C3%A9sum%C3%A9%20#1")
        .send()
        .json();
    assert_eq!(seen.major, Some(4));
    assert_eq!(seen.target_tag.as_deref(), Some("body"));
    assert_eq!(seen.target_id, None);
    assert_eq!(seen.source_tag.as_deref(), Some("a"));
    assert_eq!(seen.source_id, None);
    assert_eq!(seen.trigger_id, None);
    assert_eq!(seen.prompt.as_deref(), Some("résumé #1"));
    assert!(!seen.wants_fragment);
}

#[test]
fn odd_header_values_are_tolerated() {
    let client = describe_client();
    let seen: Seen = client
        .get("/")
        .header("HX-Request", "TRUE")
        .header("HX-Request-Type", "sideways")
        .header("HX-Target", "")
        .send()
        .json();
    assert!(seen.is_htmx);
    assert_eq!(seen.request_type, None);
    assert_eq!(seen.major, Some(2));
    assert_eq!(seen.target.as_deref(), Some(""));
    assert_eq!(seen.target_id, None);
    let seen: Seen = client.get("/").header("HX-Request", "yes").send().json();
    assert!(!seen.is_htmx);
    assert_eq!(seen.major, None);
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn header_value() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![Just(b'%'), Just(b'#'), b' '..=b'~', 0x80u8..=0xff],
            0..24,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_htmx_header_values(
            values in prop::collection::vec(header_value(), 8),
            flags in prop::collection::vec(any::<bool>(), 3),
        ) {
            let names = [
                "HX-Target", "HX-Source", "HX-Prompt", "HX-Trigger", "HX-Trigger-Name",
                "HX-Current-URL", "HX-Request-Type", "HX-Target-URI-AutoEncoded",
            ];
            let mut head = b"GET / HTTP/1.1\r\nHost: t\r\nHX-Request: true\r\n".to_vec();
            if flags[0] { head.extend_from_slice(b"HX-Prompt-URI-AutoEncoded: true\r\n"); }
            if flags[1] { head.extend_from_slice(b"HX-Boosted: true\r\n"); }
            if flags[2] { head.extend_from_slice(b"HX-Request-Type: partial\r\n"); }
            for (name, value) in names.iter().zip(&values) {
                head.extend_from_slice(name.as_bytes());
                head.extend_from_slice(b": ");
                head.extend_from_slice(value);
                head.extend_from_slice(b"\r\n");
            }
            head.extend_from_slice(b"\r\n");
            let mut buf = BytesMut::from(&head[..]);
            if let Ok(Some(Decoded::Request(request))) =
                RequestDecoder::new(HttpLimits::default()).decode(&mut buf)
            {
                let htmx = Htmx::from_headers(&request);
                let _ = seen(&htmx);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Page versus fragment

const PAGE: &str = "<html><body><ul id=\"rows\"><li>1</li></ul></body></html>";
const FRAGMENT: &str = "<li>1</li>";

async fn rows(htmx: Htmx) -> Result<Response, StatusCode> {
    htmx.page_or_fragment(|| Ok(PAGE), || Ok(FRAGMENT))
}

fn rows_client() -> TestClient {
    TestClient::new(App::new().route("/rows", get(rows)))
}

#[track_caller]
fn assert_vary_is_complete(response: &TestResponse) {
    response.assert_header("vary", VARY_HEADER_NAMES);
    for name in [
        "HX-Request",
        "HX-Request-Type",
        "HX-Boosted",
        "HX-History-Restore-Request",
    ] {
        response.assert_varies_on(name);
    }
}

/// Adds headers to a test request.
type Headers = fn(RequestBuilder<'_>) -> RequestBuilder<'_>;

#[test]
fn htmx2_page_or_fragment() {
    let client = rows_client();
    let cases: [(&str, Headers, &str); 5] = [
        ("plain", |request| request, PAGE),
        ("htmx", |request| request.htmx(), FRAGMENT),
        (
            "htmx targeted",
            |request| request.htmx_target("rows"),
            FRAGMENT,
        ),
        ("boosted", |request| request.htmx_boosted(), PAGE),
        (
            "history restore",
            |request| request.htmx_history_restore(),
            PAGE,
        ),
    ];
    for (case, build, body) in cases {
        let response = build(client.get("/rows")).send();
        response
            .assert_status(200)
            .assert_header("content-type", "text/html; charset=utf-8");
        assert_eq!(response.text(), body, "{case}");
        assert_vary_is_complete(&response);
    }
    // htmx 2 with `historyRestoreAsHxRequest: false` sends no HX-Request on a restore.
    let response = client
        .get("/rows")
        .header("HX-History-Restore-Request", "true")
        .send();
    assert_eq!(response.text(), PAGE);
}

#[test]
fn htmx4_page_or_fragment() {
    let client = rows_client();
    let response = client.get("/rows").htmx4_partial().send();
    assert_eq!(response.text(), FRAGMENT);
    assert_vary_is_complete(&response);
    let response = client.get("/rows").htmx4_full().send();
    assert_eq!(response.text(), PAGE);
    assert_vary_is_complete(&response);
    // A boosted htmx 4 request says `full` itself; a partial one is a fragment even if the
    // element is inside a boosted region.
    let response = client
        .get("/rows")
        .htmx4_partial()
        .header("HX-Boosted", "true")
        .send();
    assert_eq!(response.text(), FRAGMENT);
    // The history-restore request of htmx 4 targets the body: `full`.
    let response = client
        .get("/rows")
        .htmx4_full()
        .header("HX-History-Restore-Request", "true")
        .send();
    assert_eq!(response.text(), PAGE);
}

#[test]
fn only_the_chosen_closure_runs_and_its_error_is_returned() {
    let htmx = Htmx::from_headers(&raw_request(
        b"GET / HTTP/1.1\r\nHost: t\r\nHX-Request: true\r\n\r\n",
    ));
    let page_rendered = std::cell::Cell::new(false);
    let result = htmx.page_or_fragment(
        || {
            page_rendered.set(true);
            Ok(PAGE)
        },
        || Err::<&str, _>("fragment failed"),
    );
    assert_eq!(result.unwrap_err(), "fragment failed");
    assert!(!page_rendered.get(), "only the fragment is rendered");
    let response = htmx
        .page_or_fragment(
            || Err::<&str, _>("page failed"),
            || Ok(String::from("<p>ok</p>")),
        )
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
}

#[test]
fn vary_merges_with_existing_values_without_duplicates() {
    let mut response = Response::ok("x")
        .with_static_header("Vary", "Accept-Encoding, hx-request")
        .with_static_header("vary", "Cookie");
    merge_vary(&mut response, VARY_HEADER_NAMES);
    let varies: Vec<_> = response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("vary"))
        .map(|(_, value)| std::str::from_utf8(value.as_bytes()).unwrap().to_owned())
        .collect();
    assert_eq!(
        varies,
        [
            "Accept-Encoding, hx-request, Cookie, HX-Request-Type, HX-Boosted, HX-History-Restore-Request"
        ]
    );
    // Merging again changes nothing.
    merge_vary(&mut response, "HX-Request, Cookie");
    assert_eq!(
        response.header("vary").unwrap().as_bytes(),
        b"Accept-Encoding, hx-request, Cookie, HX-Request-Type, HX-Boosted, HX-History-Restore-Request"
    );
    let mut response = Response::ok("x").with_static_header("vary", "*");
    merge_vary(&mut response, "HX-Request");
    assert_eq!(response.header("vary").unwrap().as_bytes(), b"*");
}

#[test]
fn page_or_fragment_merges_vary_through_a_handler() {
    async fn handler(htmx: Htmx) -> Response {
        let mut response = htmx
            .page_or_fragment(|| Ok::<_, ()>(PAGE), || Ok(FRAGMENT))
            .unwrap_or_else(|()| Response::new(StatusCode::INTERNAL_SERVER_ERROR));
        merge_vary(&mut response, "Accept-Language, HX-Request");
        response
    }
    let client = TestClient::new(App::new().route("/", get(handler)));
    client.get("/").htmx().send().assert_header(
        "vary",
        "HX-Request, HX-Request-Type, HX-Boosted, HX-History-Restore-Request, Accept-Language",
    );
}

// ---------------------------------------------------------------------------------------------
// Response headers

#[derive(Serialize)]
struct Toast {
    level: &'static str,
    message: String,
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .header(name)
        .map(|value| String::from_utf8(value.as_bytes().to_vec()).unwrap())
}

#[test]
fn triggers_merge_into_one_json_object_in_order() {
    async fn save() -> (HxResponse, Html<&'static str>) {
        let hx = HxResponse::new()
            .trigger("saved")
            .trigger_with(
                "toast",
                &Toast {
                    level: "ok",
                    message: "Saved \"Rent\"".into(),
                },
            )
            .trigger_with("count", &3)
            .trigger_after_swap("swapped")
            .trigger_after_swap_with("focus", &"#amount")
            .trigger_after_settle_with("settled", &[1, 2]);
        (hx, Html("<p>Saved</p>"))
    }
    let client = TestClient::new(App::new().route("/", get(save)));
    let response = client.get("/").htmx().send();
    response
        .assert_status(200)
        .assert_header(
            "hx-trigger",
            r#"{"saved":null,"toast":{"level":"ok","message":"Saved \"Rent\""},"count":3}"#,
        )
        .assert_header(
            "hx-trigger-after-swap",
            r##"{"swapped":null,"focus":"#amount"}"##,
        )
        .assert_header("hx-trigger-after-settle", r#"{"settled":[1,2]}"#)
        .assert_contains("<p>Saved</p>");
    assert_eq!(response.headers_all("hx-trigger").count(), 1);
    // Valid JSON that a client parses back to the same events.
    let parsed: sonic_rs::Value =
        sonic_rs::from_str(response.header("hx-trigger").unwrap()).unwrap();
    assert!(sonic_rs::JsonValueTrait::is_object(&parsed));
    let toast: std::collections::BTreeMap<String, String> =
        sonic_rs::from_value(&parsed["toast"]).unwrap();
    assert_eq!(toast["message"], "Saved \"Rent\"");
}

#[test]
fn trigger_names_are_unique_and_non_ascii_is_escaped() {
    let mut response = Response::ok("");
    HxResponse::new()
        .trigger_with("toast", &"first")
        .trigger("other")
        .trigger_with("toast", &"Café ☕")
        .trigger("evil\r\nSet-Cookie: a=b")
        .apply(&mut response)
        .unwrap();
    let value = header(&response, "HX-Trigger").unwrap();
    assert!(value.is_ascii());
    assert_eq!(
        value,
        r#"{"toast":"Caf\u00e9 \u2615","other":null,"evil\r\nSet-Cookie: a=b":null}"#
    );
    assert!(response.header("set-cookie").is_none());
}

#[test]
fn every_typed_header_is_written() {
    let mut response = Response::ok("");
    HxResponse::new()
        .push_url("/accounts?page=2")
        .replace_url("/accounts/é")
        .redirect("/login")
        .refresh()
        .reswap("outerHTML swap:100ms")
        .retarget("#main")
        .reselect("#content > table")
        .apply(&mut response)
        .unwrap();
    assert_eq!(
        header(&response, "HX-Push-Url").as_deref(),
        Some("/accounts?page=2")
    );
    assert_eq!(
        header(&response, "HX-Replace-Url").as_deref(),
        Some("/accounts/%C3%A9")
    );
    assert_eq!(header(&response, "HX-Redirect").as_deref(), Some("/login"));
    assert_eq!(header(&response, "HX-Refresh").as_deref(), Some("true"));
    assert_eq!(
        header(&response, "HX-Reswap").as_deref(),
        Some("outerHTML swap:100ms")
    );
    assert_eq!(header(&response, "HX-Retarget").as_deref(), Some("#main"));
    assert_eq!(
        header(&response, "HX-Reselect").as_deref(),
        Some("#content > table")
    );

    let mut response = Response::ok("").with_static_header("HX-Push-Url", "/old");
    HxResponse::new()
        .push_url("/first")
        .no_push_url()
        .no_replace_url()
        .apply(&mut response)
        .unwrap();
    assert_eq!(
        response
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("hx-push-url"))
            .count(),
        1
    );
    assert_eq!(header(&response, "HX-Push-Url").as_deref(), Some("false"));
    assert_eq!(
        header(&response, "HX-Replace-Url").as_deref(),
        Some("false")
    );
}

#[test]
fn hx_location_is_a_path_or_a_json_object() {
    let mut response = Response::ok("");
    HxResponse::new()
        .location("/accounts/7")
        .apply(&mut response)
        .unwrap();
    assert_eq!(
        header(&response, "HX-Location").as_deref(),
        Some("/accounts/7")
    );

    let location = HxLocation::new("/accounts/7")
        .target("#main")
        .swap("outerHTML")
        .select("#content")
        .source("#nav")
        .event("click")
        .values(&std::collections::BTreeMap::from([
            ("tab", "ledger"),
            ("q", "é"),
        ]))
        .header("X-Tenant", "acme")
        .header("X-Tenant", "globex")
        .no_push_url()
        .replace_url("/a");
    let mut response = Response::ok("");
    HxResponse::new()
        .location(location)
        .apply(&mut response)
        .unwrap();
    let value = header(&response, "HX-Location").unwrap();
    assert_eq!(
        value,
        concat!(
            r##"{"path":"/accounts/7","target":"#main","swap":"outerHTML","select":"#content","##,
            r##""source":"#nav","event":"click","values":{"q":"\u00e9","tab":"ledger"},"##,
            r#""push":"false","replace":"/a","headers":{"X-Tenant":"globex"}}"#
        )
    );
    let parsed: sonic_rs::Value = sonic_rs::from_str(&value).unwrap();
    let values: std::collections::BTreeMap<String, String> =
        sonic_rs::from_value(&parsed["values"]).unwrap();
    assert_eq!(values["q"], "é");
}

#[test]
fn header_injection_is_refused_without_panicking() {
    let attack = "/next\r\nSet-Cookie: session=stolen";
    let cases = [
        HxResponse::new().push_url(attack),
        HxResponse::new().replace_url(attack),
        HxResponse::new().redirect(attack),
        HxResponse::new().retarget(attack),
        HxResponse::new().reswap("innerHTML\n"),
        HxResponse::new().reselect("#a\0"),
        HxResponse::new().location(attack),
        HxResponse::new().location(HxLocation::new(attack).target("#x")),
    ];
    for hx in cases {
        let header_name = hx.error().expect("refused").header();
        let mut response = Response::ok("");
        let error = hx.apply(&mut response).unwrap_err();
        assert_eq!(error.kind(), HxErrorKind::InvalidHeaderValue);
        assert_eq!(error.header(), header_name);
        assert!(response.headers.is_empty(), "nothing written on error");
    }
    // The first error wins; later good values do not hide it.
    let hx = HxResponse::new().retarget("#a\r\n").push_url("/fine");
    assert_eq!(hx.error().unwrap().header(), "HX-Retarget");

    async fn handler(htmx: Htmx) -> (HxResponse, Html<&'static str>) {
        let next = htmx.prompt().unwrap_or("/").to_owned();
        (HxResponse::new().push_url(&next), Html("<p>ok</p>"))
    }
    let client = TestClient::new(App::new().route("/", get(handler)));
    let response = client
        .get("/")
        .htmx()
        .header("HX-Prompt", "%2Fx%0D%0ASet-Cookie%3A%20a%3Db")
        .header("HX-Prompt-URI-AutoEncoded", "true")
        .send();
    response
        .assert_status(500)
        .assert_no_header("set-cookie")
        .assert_no_header("hx-push-url")
        .assert_not_contains("<p>ok</p>");
}

#[test]
fn json_payload_errors_are_reported() {
    struct Broken;
    impl Serialize for Broken {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("broken"))
        }
    }
    let hx = HxResponse::new().trigger_with("x", &Broken);
    assert_eq!(hx.error().unwrap().kind(), HxErrorKind::Json);
    assert_eq!(hx.error().unwrap().header(), "HX-Trigger");
    let hx = HxResponse::new().location(HxLocation::new("/a").values(&Broken));
    assert_eq!(hx.error().unwrap().kind(), HxErrorKind::Json);
    assert_eq!(hx.into_response().status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn stop_polling_answers_286_and_headers_alone_answer_204() {
    async fn poll() -> (HxResponse, Html<&'static str>) {
        (HxResponse::new().stop_polling(), Html("<p>done</p>"))
    }
    async fn notify() -> HxResponse {
        HxResponse::new().trigger("refresh-list")
    }
    let client = TestClient::new(
        App::new()
            .route("/poll", get(poll))
            .route("/notify", get(notify)),
    );
    client
        .get("/poll")
        .htmx()
        .send()
        .assert_status(286)
        .assert_contains("<p>done</p>");
    client
        .get("/notify")
        .htmx()
        .send()
        .assert_status(204)
        .assert_header("hx-trigger", r#"{"refresh-list":null}"#);
    assert_eq!(
        HxResponse::new()
            .stop_polling()
            .into_response()
            .status
            .as_u16(),
        286
    );
}

#[test]
fn redirect_uses_hx_redirect_for_htmx_and_303_otherwise() {
    async fn logout(htmx: Htmx) -> Response {
        htmx.redirect("/login?next=/ledger")
    }
    async fn bad(htmx: Htmx) -> Response {
        htmx.redirect("/a\r\nSet-Cookie: x=1")
    }
    let client = TestClient::new(
        App::new()
            .route("/logout", get(logout))
            .route("/bad", get(bad)),
    );
    client
        .get("/logout")
        .htmx()
        .send()
        .assert_status(200)
        .assert_header("hx-redirect", "/login?next=/ledger")
        .assert_no_header("location")
        .assert_varies_on("HX-Request");
    client
        .get("/logout")
        .htmx4_partial()
        .send()
        .assert_status(200)
        .assert_header("hx-redirect", "/login?next=/ledger");
    client
        .get("/logout")
        .send()
        .assert_status(303)
        .assert_header("location", "/login?next=/ledger")
        .assert_no_header("hx-redirect")
        .assert_varies_on("HX-Request");
    client
        .get("/bad")
        .htmx()
        .send()
        .assert_status(500)
        .assert_no_header("set-cookie");
}

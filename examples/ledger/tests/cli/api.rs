//! The JSON API through `kiln::test::TestClient` on a real database and the real group-commit
//! writer: every route's happy path, the error code and status of every refusal and of every
//! malformed input class, token scopes and revocation, and tenant isolation (a token of one
//! tenant cannot read or change another's accounts or entries through any route or parameter).

use super::TempDb;
use kiln::test::{TestClient, TestResponse};
use ledger::domain::{Scope, TenantSlug};
use ledger::service::{Ledger, WriterConfig, create_token};
use ledger::store::{SqliteStore, Store, system_clock};
use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value, json};

struct Api {
    client: TestClient,
    write: String,
    read: String,
    /// A write token of the other tenant.
    other: String,
    _db: TempDb,
}

/// Two tenants (`acme`, `other`), each with USD and JPY and a small chart; tokens for both.
fn api(name: &str) -> Api {
    let db = TempDb::new(name);
    let mut store = SqliteStore::open(&db.0).expect("opens");
    let now = system_clock();
    let mut tokens = Vec::new();
    for slug in ["acme", "other"] {
        let tenant = store
            .create_tenant(&TenantSlug::new(slug).unwrap())
            .expect("tenant");
        let (_, write) = create_token(&mut store, tenant, Scope::Write, now).expect("token");
        let (_, read) = create_token(&mut store, tenant, Scope::Read, now).expect("token");
        tokens.push((write, read));
    }
    drop(store);
    let ledger = Ledger::open(&db.0, &WriterConfig::default()).expect("ledger");
    let client = TestClient::new(ledger::api::app(ledger));
    let (write, read) = tokens[0].clone();
    let other = tokens[1].0.clone();
    let api = Api {
        client,
        write,
        read,
        other,
        _db: db,
    };
    for token in [&api.write, &api.other] {
        for (code, precision) in [("USD", 2), ("JPY", 0)] {
            let body = json!({"code": code, "precision": precision});
            api.post(token, "/api/v1/commodities", &body)
                .assert_status(201);
        }
        for (name, min) in [
            ("Assets:Bank", Some("0.00")),
            ("Assets:Cash", None),
            ("Income:Sales", None),
            ("Expenses:Food", None),
        ] {
            let mut body = json!({"name": name, "opened": "2024-01-01"});
            if let Some(min) = min {
                body["constraints"] = json!([{"commodity": "USD", "min": min}]);
            }
            api.post(token, "/api/v1/accounts", &body)
                .assert_status(201);
        }
    }
    api
}

impl Api {
    fn get(&self, token: &str, path: &str) -> TestResponse {
        self.client
            .get(path)
            .header("authorization", &format!("Bearer {token}"))
            .send()
    }

    fn post(&self, token: &str, path: &str, body: &Value) -> TestResponse {
        self.client
            .post(path)
            .header("authorization", &format!("Bearer {token}"))
            .json(body)
            .send()
    }
}

fn entry(date: &str, debit: &str, credit: &str, amount: &str) -> Value {
    json!({
        "date": date,
        "description": format!("{debit} from {credit}"),
        "postings": [
            {"account": debit, "commodity": "USD", "amount": amount},
            {"account": credit, "commodity": "USD", "amount": format!("-{amount}")},
        ],
    })
}

fn body(response: &TestResponse) -> Value {
    sonic_rs::from_slice(&response.body).unwrap_or_else(|error| {
        panic!("not JSON ({error}): {}", response.text());
    })
}

/// Asserts the status and the error code, and returns the message.
fn refused(response: &TestResponse, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{}",
        response.text()
    );
    let value = body(response);
    assert_eq!(
        value["error"]["code"].as_str(),
        Some(code),
        "{}",
        response.text()
    );
    value["error"]["message"].as_str().unwrap_or("").to_owned()
}

fn id(response: &TestResponse) -> i64 {
    assert_eq!(response.status(), 201, "{}", response.text());
    body(response)["id"].as_i64().expect("an id")
}

#[test]
fn entries_balances_reversal_and_pending_through_the_api() {
    let api = api("api-flow");
    let w = &api.write;
    let sale = id(&api.post(
        w,
        "/api/v1/entries",
        &entry("2024-02-01", "Assets:Bank", "Income:Sales", "100.00"),
    ));
    let lunch = id(&api.post(
        w,
        "/api/v1/entries",
        &entry("2024-02-02", "Expenses:Food", "Assets:Bank", "12.50"),
    ));

    let got = body(
        &api.get(w, &format!("/api/v1/entries/{sale}"))
            .assert_status(200)
            .to_owned(),
    );
    assert_eq!(got["date"].as_str(), Some("2024-02-01"));
    assert_eq!(got["postings"][0]["amount"].as_str(), Some("100.00"));
    assert_eq!(got["postings"][0]["amount_minor"].as_i64(), Some(10_000));
    assert_eq!(got["postings"][1]["amount"].as_str(), Some("-100.00"));

    let balance = body(&api.get(w, "/api/v1/accounts/Assets:Bank/balances?date=2024-12-31"));
    assert_eq!(balance["balances"][0]["amount"].as_str(), Some("87.50"));
    let early = body(&api.get(w, "/api/v1/accounts/Assets:Bank/balances?date=2024-02-01"));
    assert_eq!(early["balances"][0]["amount"].as_str(), Some("100.00"));

    // Reverse the lunch: a new entry linked both ways; reversing twice is a conflict.
    let reversal = id(&api.post(
        w,
        &format!("/api/v1/entries/{lunch}/reverse"),
        &json!({"date": "2024-02-03"}),
    ));
    let original = body(&api.get(w, &format!("/api/v1/entries/{lunch}")));
    assert_eq!(original["reversed_by"].as_i64(), Some(reversal));
    let reversing = body(&api.get(w, &format!("/api/v1/entries/{reversal}")));
    assert_eq!(reversing["reverses"].as_i64(), Some(lunch));
    let again = api.post(w, &format!("/api/v1/entries/{lunch}/reverse"), &json!({}));
    refused(&again, 409, "already_reversed");

    // A hold of 30.00, posted in part (20.00); then another hold, voided.
    let mut hold = entry("2024-03-01", "Expenses:Food", "Assets:Bank", "30.00");
    hold["pending"] = json!({});
    let held = id(&api.post(w, "/api/v1/entries", &hold));
    let shown = body(&api.get(w, &format!("/api/v1/entries/{held}")));
    assert_eq!(shown["status"].as_str(), Some("pending"));
    let partial = json!({"date": "2024-03-02", "amounts": ["20.00", "-20.00"]});
    let posted = id(&api.post(w, &format!("/api/v1/pending/{held}/post"), &partial));
    let posting = body(&api.get(w, &format!("/api/v1/entries/{posted}")));
    assert_eq!(posting["posts"].as_i64(), Some(held));
    assert_eq!(posting["postings"][0]["amount"].as_str(), Some("20.00"));
    let twice = api.post(w, &format!("/api/v1/pending/{held}/post"), &json!({}));
    refused(&twice, 409, "not_pending");
    let second = id(&api.post(w, "/api/v1/entries", &hold));
    let voided = api.post(w, &format!("/api/v1/pending/{second}/void"), &json!({}));
    assert_eq!(voided.status(), 200, "{}", voided.text());
    assert_eq!(body(&voided)["status"].as_str(), Some("voided"));

    // Trial balance: debits equal credits; the bank holds 100 - 12.50 + 12.50 - 20.
    let trial = body(&api.get(w, "/api/v1/trial-balance?date=2024-12-31"));
    assert_eq!(trial["balanced"].as_bool(), Some(true));
    let lines = trial["lines"].as_array().expect("lines");
    let bank = lines
        .iter()
        .find(|l| l["account"].as_str() == Some("Assets:Bank"))
        .expect("bank line");
    assert_eq!(bank["debit"].as_str(), Some("80.00"));
    let all = body(&api.get(w, "/api/v1/balances?date=2024-12-31"));
    assert_eq!(all["items"].as_array().expect("items").len(), 3);

    // The audit log names the token and the client's address for every write.
    let mut store = SqliteStore::open(&api._db.0).expect("opens");
    let tenant = store
        .tenant(&TenantSlug::new("acme").unwrap())
        .expect("lookup")
        .expect("acme");
    let records = store.audit_records(tenant, 0, 10_000).expect("audit");
    let reversal_record = records
        .iter()
        .find(|r| r.action == "entry.reversed")
        .expect("the reversal's record");
    let token_id = w["ldg_".len()..].split('_').next().unwrap();
    assert_eq!(reversal_record.actor, format!("token:{token_id}"));
    assert_eq!(reversal_record.origin.as_deref(), Some("127.0.0.1"));

    // Close an account; a later posting to it is refused.
    let closed = api.post(
        w,
        "/api/v1/accounts/Assets:Cash/close",
        &json!({"date": "2024-06-30"}),
    );
    assert_eq!(body(&closed)["closed"].as_str(), Some("2024-06-30"));
    let late = api.post(
        w,
        "/api/v1/entries",
        &entry("2024-07-01", "Assets:Cash", "Income:Sales", "1.00"),
    );
    refused(&late, 422, "closed_account");
}

#[test]
fn listing_filters_and_pages_with_a_cursor() {
    let api = api("api-list");
    let w = &api.write;
    let mut ids = Vec::new();
    for day in 1..=7 {
        let date = format!("2024-04-{day:02}");
        let (debit, credit) = if day % 2 == 0 {
            ("Assets:Cash", "Income:Sales")
        } else {
            ("Assets:Bank", "Income:Sales")
        };
        ids.push(id(&api.post(
            w,
            "/api/v1/entries",
            &entry(&date, debit, credit, "1.00"),
        )));
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/entries?limit=3".to_owned();
    loop {
        let page = body(&api.get(&api.read, &path).assert_status(200).to_owned());
        for item in page["items"].as_array().expect("items").iter() {
            seen.push(item["id"].as_i64().expect("id"));
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/entries?limit=3&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let cash = body(&api.get(
        w,
        "/api/v1/entries?account=Assets:Cash&from=2024-04-03&to=2024-04-06",
    ));
    let cash: Vec<i64> = cash["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(cash, [ids[3], ids[5]]);
    refused(&api.get(w, "/api/v1/entries?limit=0"), 400, "bad_request");
    refused(
        &api.get(w, "/api/v1/entries?limit=1001"),
        400,
        "bad_request",
    );
    refused(
        &api.get(w, "/api/v1/entries?after=nonsense"),
        400,
        "bad_request",
    );
    refused(
        &api.get(w, "/api/v1/entries?from=2024-13-01"),
        400,
        "bad_query",
    );
    refused(&api.get(w, "/api/v1/entries?colour=red"), 400, "bad_query");
    refused(
        &api.get(w, "/api/v1/entries?account=Assets:Nowhere"),
        404,
        "not_found",
    );
}

#[test]
fn every_refusal_has_its_code_and_status() {
    let api = api("api-refusals");
    let w = &api.write;
    let post = |value: Value| api.post(w, "/api/v1/entries", &value);

    let mut unbalanced = entry("2024-02-01", "Assets:Bank", "Income:Sales", "1.00");
    unbalanced["postings"][1]["amount"] = json!("-0.99");
    refused(&post(unbalanced), 422, "unbalanced");
    refused(
        &post(entry(
            "2024-02-01",
            "Assets:Nowhere",
            "Income:Sales",
            "1.00",
        )),
        422,
        "unknown_account",
    );
    refused(
        &post(entry("2024-02-01", "Assets:Bank", "Income:Sales", "1.001")),
        422,
        "precision",
    );
    refused(
        &post(entry("2023-12-31", "Assets:Bank", "Income:Sales", "1.00")),
        422,
        "account_not_open",
    );
    refused(
        &post(entry("2024-02-01", "Expenses:Food", "Assets:Bank", "5.00")),
        422,
        "constraint",
    );
    let mut single = entry("2024-02-01", "Assets:Bank", "Income:Sales", "0.00");
    single["postings"] = json!([single["postings"][0]]);
    refused(&post(single), 422, "single_posting");
    let mut empty = entry("2024-02-01", "Assets:Bank", "Income:Sales", "1.00");
    empty["postings"] = json!([]);
    refused(&post(empty), 422, "empty");
    let mut overflow = entry("2024-02-01", "Assets:Bank", "Income:Sales", "1.00");
    overflow["postings"][0]["amount"] = json!("50000000000000000.00");
    overflow["postings"][1]["amount"] = json!("-50000000000000000.00");
    let total = post(overflow.clone());
    assert_eq!(total.status(), 201, "{}", total.text());
    refused(&post(overflow), 422, "overflow");

    // Idempotency: same key and body answers the first id; another body is a conflict that
    // names the field; a key whose entry failed keeps failing the same way.
    let keyed = |amount: &str, key: &str| {
        let mut value = entry("2024-02-05", "Assets:Cash", "Income:Sales", amount);
        value["idempotency_key"] = json!(key);
        value
    };
    let first = id(&post(keyed("3.00", "order-1")));
    assert_eq!(id(&post(keyed("3.00", "order-1"))), first);
    let by_header = api
        .client
        .post("/api/v1/entries")
        .header("authorization", &format!("Bearer {w}"))
        .header("idempotency-key", "order-1")
        .json(&entry("2024-02-05", "Assets:Cash", "Income:Sales", "3.00"))
        .send();
    assert_eq!(id(&by_header), first);
    let conflict = refused(&post(keyed("4.00", "order-1")), 409, "idempotency_conflict");
    assert!(conflict.contains("postings"), "{conflict}");
    let mut failing = keyed("5.00", "order-2");
    failing["postings"][0]["account"] = json!("Assets:Nowhere");
    refused(&post(failing.clone()), 422, "unknown_account");
    refused(&post(failing), 422, "unknown_account");
    refused(&post(keyed("1.00", "bad key with spaces")), 422, "invalid");

    // Malformed input classes.
    let raw = |content_type: &str, bytes: &str| {
        api.client
            .post("/api/v1/entries")
            .header("authorization", &format!("Bearer {w}"))
            .header("content-type", content_type)
            .body(bytes.as_bytes().to_vec())
            .send()
    };
    refused(
        &raw("application/json", "{\"date\": "),
        400,
        "malformed_json",
    );
    refused(&raw("application/json", "[1, 2]"), 422, "invalid_body");
    refused(
        &raw("application/json", "{\"date\": 20240201}"),
        422,
        "invalid_body",
    );
    refused(&raw("text/plain", "{}"), 415, "unsupported_media_type");
    let mut typo = entry("2024-02-01", "Assets:Bank", "Income:Sales", "1.00");
    typo["descripton"] = json!("typo");
    refused(&post(typo), 422, "invalid_body");
    let mut float = entry("2024-02-01", "Assets:Bank", "Income:Sales", "1.00");
    float["postings"][0]["amount"] = json!(1.0);
    refused(&post(float), 422, "invalid_body");
    refused(&api.get(w, "/api/v1/entries/abc"), 400, "bad_path");
    refused(
        &api.get(w, "/api/v1/entries/999999"),
        404,
        "entry_not_found",
    );
    refused(&api.get(w, "/api/v1/nowhere"), 404, "not_found");
    let wrong_method = api
        .client
        .delete("/api/v1/entries")
        .header("authorization", &format!("Bearer {w}"))
        .send();
    refused(&wrong_method, 405, "method_not_allowed");
    refused(
        &api.get(w, "/api/v1/balances?date=yesterday"),
        400,
        "bad_query",
    );
    let bad_account = api.post(
        w,
        "/api/v1/accounts",
        &json!({"name": "Misc:Thing", "opened": "2024-01-01"}),
    );
    refused(&bad_account, 422, "invalid");
    let duplicate = api.post(
        w,
        "/api/v1/accounts",
        &json!({"name": "Assets:Bank", "opened": "2024-01-01"}),
    );
    refused(&duplicate, 409, "already_exists");
}

#[test]
fn batches_are_independent_or_linked_and_bounded() {
    let api = api("api-batch");
    let w = &api.write;
    let good = entry("2024-02-01", "Assets:Bank", "Income:Sales", "1.00");
    let bad = entry("2024-02-01", "Assets:Nowhere", "Income:Sales", "1.00");
    let independent = api.post(
        w,
        "/api/v1/entries/batch",
        &json!({"entries": [good, bad, good]}),
    );
    assert_eq!(independent.status(), 200, "{}", independent.text());
    let answer = body(&independent);
    assert_eq!(answer["created"].as_u64(), Some(2));
    let results = answer["results"].as_array().expect("results");
    assert!(results[0]["id"].as_i64().is_some());
    assert_eq!(
        results[1]["error"]["code"].as_str(),
        Some("unknown_account")
    );
    assert!(results[2]["id"].as_i64().is_some());

    let linked = api.post(
        w,
        "/api/v1/entries/batch",
        &json!({"mode": "linked", "entries": [good, bad, good]}),
    );
    let answer = body(&linked);
    assert_eq!(answer["created"].as_u64(), Some(0));
    let codes: Vec<&str> = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["error"]["code"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(codes, ["linked_failed", "unknown_account", "linked_failed"]);
    let listed = body(&api.get(w, "/api/v1/entries"));
    assert_eq!(listed["items"].as_array().expect("items").len(), 2);

    let small = json!({"date": "2024-02-01", "description": "x", "postings": [
        {"account": "Assets:Bank", "commodity": "JPY", "amount": "1"},
        {"account": "Income:Sales", "commodity": "JPY", "amount": "-1"}]});
    let too_many: Vec<Value> = (0..8_191).map(|_| small.clone()).collect();
    let oversize = api.post(w, "/api/v1/entries/batch", &json!({"entries": too_many}));
    refused(&oversize, 413, "batch_too_large");
    let most: Vec<Value> = (0..8_190).map(|_| small.clone()).collect();
    let full = api.post(w, "/api/v1/entries/batch", &json!({"entries": most}));
    assert_eq!(
        body(&full)["created"].as_u64(),
        Some(8_190),
        "{}",
        &full.text()[..200]
    );
    refused(
        &api.post(w, "/api/v1/entries/batch", &json!({"entries": []})),
        422,
        "empty_batch",
    );
    refused(
        &api.post(
            w,
            "/api/v1/entries/batch",
            &json!({"mode": "sometimes", "entries": [small]}),
        ),
        422,
        "invalid_body",
    );
}

#[test]
fn tokens_authenticate_and_scopes_limit() {
    let api = api("api-tokens");
    let path = "/api/v1/accounts";
    let none = api.client.get(path).send();
    refused(&none, 401, "unauthorized");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    refused(&api.get("not-a-token", path), 401, "unauthorized");
    let mut wrong = api.write.clone();
    let last = wrong.pop().expect("a char");
    wrong.push(if last == '0' { '1' } else { '0' });
    refused(&api.get(&wrong, path), 401, "unauthorized");
    let basic = api
        .client
        .get(path)
        .header("authorization", &format!("Basic {}", api.write))
        .send();
    refused(&basic, 401, "unauthorized");

    // A read token reads and may not write, on every write route.
    api.get(&api.read, path).assert_status(200);
    let writes = [
        (
            "/api/v1/commodities",
            json!({"code": "EUR", "precision": 2}),
        ),
        (
            "/api/v1/accounts",
            json!({"name": "Assets:New", "opened": "2024-01-01"}),
        ),
        (
            "/api/v1/accounts/Assets:Bank/close",
            json!({"date": "2024-12-31"}),
        ),
        (
            "/api/v1/entries",
            entry("2024-02-01", "Assets:Bank", "Income:Sales", "1.00"),
        ),
        (
            "/api/v1/entries/batch",
            json!({"entries": [entry("2024-02-01", "Assets:Bank", "Income:Sales", "1.00")]}),
        ),
        ("/api/v1/entries/1/reverse", json!({})),
        ("/api/v1/pending/1/post", json!({})),
        ("/api/v1/pending/1/void", json!({})),
    ];
    for (route, value) in &writes {
        let response = api.post(&api.read, route, value);
        refused(&response, 403, "forbidden");
    }
    assert!(
        body(&api.get(&api.write, "/api/v1/entries"))["items"]
            .as_array()
            .expect("items")
            .is_empty()
    );

    // Revoked: refused from the next request on.
    let mut store = SqliteStore::open(&api._db.0).expect("opens");
    let token_id: i64 = api.read["ldg_".len()..]
        .split('_')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    store
        .revoke_token(ledger::domain::TokenId(token_id), system_clock())
        .expect("revoked");
    refused(&api.get(&api.read, path), 401, "unauthorized");
}

#[test]
fn a_token_of_one_tenant_never_reaches_another_tenants_books() {
    let api = api("api-isolation");
    let mine = id(&api.post(
        &api.write,
        "/api/v1/entries",
        &entry("2024-02-01", "Assets:Bank", "Income:Sales", "50.00"),
    ));
    let mut hold = entry("2024-02-02", "Expenses:Food", "Assets:Bank", "5.00");
    hold["pending"] = json!({});
    let my_hold = id(&api.post(&api.write, "/api/v1/entries", &hold));
    let their_account = api.post(
        &api.other,
        "/api/v1/accounts",
        &json!({"name": "Assets:Theirs", "opened": "2024-01-01"}),
    );
    their_account.assert_status(201);
    let o = &api.other;

    // Reads by id, by name, by filter, and the lists: nothing of mine.
    refused(
        &api.get(o, &format!("/api/v1/entries/{mine}")),
        404,
        "entry_not_found",
    );
    refused(
        &api.get(o, &format!("/api/v1/entries/{my_hold}")),
        404,
        "entry_not_found",
    );
    assert!(
        body(&api.get(o, "/api/v1/entries"))["items"]
            .as_array()
            .expect("items")
            .is_empty()
    );
    assert!(
        body(&api.get(o, "/api/v1/balances?date=2024-12-31"))["items"]
            .as_array()
            .expect("items")
            .is_empty()
    );
    let trial = body(&api.get(o, "/api/v1/trial-balance?date=2024-12-31"));
    assert!(trial["lines"].as_array().expect("lines").is_empty());
    let their_bank = body(&api.get(o, "/api/v1/accounts/Assets:Bank/balances?date=2024-12-31"));
    assert!(
        their_bank["balances"]
            .as_array()
            .expect("balances")
            .is_empty()
    );
    refused(
        &api.get(&api.write, "/api/v1/accounts/Assets:Theirs"),
        404,
        "not_found",
    );
    refused(
        &api.get(&api.write, "/api/v1/entries?account=Assets:Theirs"),
        404,
        "not_found",
    );
    refused(
        &api.get(&api.write, "/api/v1/accounts/Assets:Theirs/balances"),
        404,
        "not_found",
    );

    // Writes aimed at my entries or accounts: refused as unknown, mine unchanged.
    refused(
        &api.post(o, &format!("/api/v1/entries/{mine}/reverse"), &json!({})),
        404,
        "entry_not_found",
    );
    refused(
        &api.post(o, &format!("/api/v1/pending/{my_hold}/post"), &json!({})),
        404,
        "entry_not_found",
    );
    refused(
        &api.post(
            o,
            &format!("/api/v1/pending/{my_hold}/post"),
            &json!({"amounts": ["1.00", "-1.00"]}),
        ),
        404,
        "entry_not_found",
    );
    refused(
        &api.post(o, &format!("/api/v1/pending/{my_hold}/void"), &json!({})),
        404,
        "entry_not_found",
    );
    let into_theirs = api.post(
        &api.write,
        "/api/v1/entries",
        &entry("2024-02-03", "Assets:Theirs", "Income:Sales", "1.00"),
    );
    refused(&into_theirs, 422, "unknown_account");
    refused(
        &api.post(
            &api.write,
            "/api/v1/accounts/Assets:Theirs/close",
            &json!({"date": "2024-12-31"}),
        ),
        404,
        "not_found",
    );
    let mine_now = body(&api.get(&api.write, &format!("/api/v1/entries/{mine}")));
    assert!(mine_now["reversed_by"].is_null());
    assert_eq!(
        body(&api.get(&api.write, &format!("/api/v1/entries/{my_hold}")))["status"].as_str(),
        Some("pending")
    );
    let listed = body(&api.get(&api.write, "/api/v1/entries"));
    assert_eq!(listed["items"].as_array().expect("items").len(), 2);
}

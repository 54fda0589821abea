//! The JSON API under `/api/v1` (sonic-rs through `kiln::app::Json`): commodities, accounts
//! (list, create, close, balances), entries (create one, a batch of up to 8,190, get, list
//! with filters and cursor paging, reverse), pending entries (post in full or in part, void),
//! balances of every account at a date and the trial balance.
//!
//! Every route needs `Authorization: Bearer ldg_...` (a tenant's API token, `ledger token
//! create`); a read token may read, a write token may also write. Handlers are thin: they
//! extract, call `service::Ledger` with the caller (which fixes the tenant), and answer JSON.
//! Errors are `{"error": {"code", "message"}}` (`error.rs`). Writes are answered after their
//! group commit is durable. Not here: the HTML app (issue 12).

pub mod error;
pub mod json;

use crate::domain::{Amount, Commodity, Date, EntryError, EntryId, PendingStatus, PostAmounts};
use crate::limits::{API_ENTRIES_PER_PAGE_MAX, ENTRIES_PER_BATCH_MAX};
use crate::service::{Caller, Ledger, ServiceError};
use crate::store::{EntryFilter, EntryRequest, WriteOp, WriteOutcome};
use error::{ApiError, ErrorObject, json_response};
use json::{
    AccountBody, AccountView, BalanceView, BatchBody, EntryBody, EntryView, Money, Precisions,
    cursor_text, parse_cursor, precisions,
};
use kiln::app::{
    App, FromRef, FromRequest, Headers, IntoResponse, Json, Path, Query, Rejection, RequestContext,
    Router, State, get, post,
};
use kiln::http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API alone as a server's app: the routes under `/api/v1`, a plain-text index at `/`,
/// and kiln's own errors (404, 405, a panic's 500) as JSON errors under `/api/`. `ledger
/// serve` mounts `router()` inside the web app instead (`crate::web::app`).
pub fn app(ledger: Ledger) -> App<Ledger> {
    App::new()
        .state(ledger)
        .route("/", get(index))
        .nest("/api/v1", router())
        .on_error(|page| {
            if page.request().path().starts_with("/api/") {
                error::for_status(page.status(), page.message()).into_response()
            } else {
                Response::error(page.status(), page.message())
            }
        })
}

async fn index() -> Response {
    Response::ok(INDEX).with_static_header("content-type", "text/plain; charset=utf-8")
}

const INDEX: &str = "Kiln ledger: the JSON API is under /api/v1 (see examples/ledger/README.md).
Every request needs a token: Authorization: Bearer ldg_...
Make one with: ledger token create --tenant SLUG --scope read|write
";

/// The API's routes, relative to where they are mounted (`/api/v1`), for any app state the
/// `Ledger` can be taken from.
pub fn router<S>() -> Router<S>
where
    S: Send + Sync + 'static,
    Ledger: FromRef<S>,
{
    Router::new()
        .route("/commodities", get(commodities).post(create_commodity))
        .route("/accounts", get(accounts).post(create_account))
        .route("/accounts/{name}", get(account))
        .route("/accounts/{name}/close", post(close_account))
        .route("/accounts/{name}/balances", get(account_balances))
        .route("/entries", get(entries).post(create_entry))
        .route("/entries/batch", post(create_batch))
        .route("/entries/{id}", get(entry))
        .route("/entries/{id}/reverse", post(reverse))
        .route("/pending/{id}/post", post(post_pending))
        .route("/pending/{id}/void", post(void_pending))
        .route("/balances", get(balances))
        .route("/trial-balance", get(trial_balance))
}

/// The caller of a request, from its bearer token.
pub struct Auth(pub Caller);

impl<S> FromRequest<S> for Auth
where
    Ledger: FromRef<S>,
{
    type Rejection = ApiError;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Auth, ApiError> {
        let token = cx
            .request
            .header("authorization")
            .and_then(|value| std::str::from_utf8(value).ok())
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(ServiceError::Unauthorized)?;
        let origin = cx.request.peer_addr().map(|addr| addr.ip());
        Ok(Auth(
            Ledger::from_ref(cx.state()).authenticate(token, origin)?,
        ))
    }
}

/// A JSON body whose every problem is an API error (400 malformed, 415 wrong type, 422 wrong
/// shape).
pub struct Body<T>(pub T);

impl<S, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Body<T>, ApiError> {
        let Json(value) = Json::<T>::from_request(cx).await?;
        Ok(Body(value))
    }
}

/// An optional JSON body: none at all is `None`; one that is there must be right.
pub struct OptionalBody<T>(pub Option<T>);

impl<S, T: serde::de::DeserializeOwned> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<OptionalBody<T>, ApiError> {
        if cx.request.body().is_empty() {
            return Ok(OptionalBody(None));
        }
        let Json(value) = Json::<T>::from_request(cx).await?;
        Ok(OptionalBody(Some(value)))
    }
}

type Answer = Result<Response, ApiError>;

fn ok<T: Serialize>(status: StatusCode, value: &T) -> Answer {
    json_response(status, value).ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the response could not be serialised",
        )
    })
}

fn path<T>(extracted: Result<Path<T>, Rejection>) -> Result<T, ApiError> {
    extracted.map(|Path(value)| value).map_err(ApiError::from)
}

fn query<T>(extracted: Result<Query<T>, Rejection>) -> Result<T, ApiError> {
    extracted.map(|Query(value)| value).map_err(ApiError::from)
}

/// `date`, or today (UTC) when it is left out.
fn date_or_today(ledger: &Ledger, date: Option<Date>) -> Result<Date, ApiError> {
    match date {
        Some(date) => Ok(date),
        None => Date::of_timestamp(ledger.now()).ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server's clock is outside the calendar",
            )
        }),
    }
}

fn tenant_precisions(ledger: &Ledger, caller: &Caller) -> Result<Precisions, ApiError> {
    let commodities = ledger.read(caller, |store, tenant| store.commodities(tenant))?;
    Ok(precisions(&commodities))
}

/// `?date=YYYY-MM-DD` (default: today).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AtDate {
    date: Option<Date>,
}

#[derive(Serialize)]
struct Items<T> {
    items: Vec<T>,
}

async fn commodities(Auth(caller): Auth, State(ledger): State<Ledger>) -> Answer {
    let items = ledger.read(&caller, |store, tenant| store.commodities(tenant))?;
    ok(StatusCode::OK, &Items { items })
}

async fn create_commodity(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    Body(commodity): Body<CommodityBody>,
) -> Answer {
    let commodity = Commodity::new(&commodity.code, commodity.precision).map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            error.to_string(),
        )
    })?;
    ledger
        .write(&caller, WriteOp::CreateCommodity(commodity.clone()))
        .await?;
    ok(StatusCode::CREATED, &commodity)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommodityBody {
    code: String,
    precision: u8,
}

async fn accounts(Auth(caller): Auth, State(ledger): State<Ledger>) -> Answer {
    let precisions = tenant_precisions(&ledger, &caller)?;
    let accounts = ledger.read(&caller, |store, tenant| store.accounts(tenant))?;
    let items = accounts
        .into_iter()
        .map(|a| AccountView::new(a, &precisions))
        .collect();
    ok(StatusCode::OK, &Items::<AccountView> { items })
}

async fn account(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    name: Result<Path<String>, Rejection>,
) -> Answer {
    let name = account_name(&path(name)?)?;
    let precisions = tenant_precisions(&ledger, &caller)?;
    let found = ledger.read(&caller, |store, tenant| store.account(tenant, &name))?;
    let account = found.ok_or_else(|| no_account(&name))?;
    ok(StatusCode::OK, &AccountView::new(account, &precisions))
}

fn account_name(text: &str) -> Result<crate::domain::AccountName, ApiError> {
    crate::domain::AccountName::new(text).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_path",
            format!("account name: {error}"),
        )
    })
}

fn no_account(name: &crate::domain::AccountName) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("not_found: no account {name}"),
    )
}

async fn create_account(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    Body(body): Body<AccountBody>,
) -> Answer {
    let precisions = tenant_precisions(&ledger, &caller)?;
    let account = body.into_account(&precisions)?;
    ledger
        .write(&caller, WriteOp::CreateAccount(account.clone()))
        .await?;
    ok(StatusCode::CREATED, &AccountView::new(account, &precisions))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    date: Date,
}

async fn close_account(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    name: Result<Path<String>, Rejection>,
    Body(body): Body<CloseBody>,
) -> Answer {
    let name = account_name(&path(name)?)?;
    let op = WriteOp::CloseAccount {
        name: name.clone(),
        date: body.date,
    };
    ledger.write(&caller, op).await?;
    let precisions = tenant_precisions(&ledger, &caller)?;
    let found = ledger.read(&caller, |store, tenant| store.account(tenant, &name))?;
    let account = found.ok_or_else(|| no_account(&name))?;
    ok(StatusCode::OK, &AccountView::new(account, &precisions))
}

#[derive(Serialize)]
struct AccountBalances {
    account: crate::domain::AccountName,
    date: Date,
    balances: Vec<Money>,
}

async fn account_balances(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    name: Result<Path<String>, Rejection>,
    at: Result<Query<AtDate>, Rejection>,
) -> Answer {
    let name = account_name(&path(name)?)?;
    let date = date_or_today(&ledger, query(at)?.date)?;
    let precisions = tenant_precisions(&ledger, &caller)?;
    let lines = ledger.read(&caller, |store, tenant| {
        if store.account(tenant, &name)?.is_none() {
            return Ok(None);
        }
        Ok(Some(store.balances(tenant, date)?))
    })?;
    let lines = lines.ok_or_else(|| no_account(&name))?;
    let balances = lines
        .into_iter()
        .filter(|line| line.account == name)
        .map(|line| Money::new(&line.commodity, line.balance, &precisions))
        .collect();
    ok(
        StatusCode::OK,
        &AccountBalances {
            account: name,
            date,
            balances,
        },
    )
}

/// `GET /entries` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesQuery {
    after: Option<String>,
    limit: Option<usize>,
    account: Option<String>,
    from: Option<Date>,
    to: Option<Date>,
}

#[derive(Serialize)]
struct EntriesPage {
    items: Vec<EntryView>,
    /// Pass as `after` for the next page; `null` at the end.
    next: Option<String>,
}

async fn entries(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    params: Result<Query<EntriesQuery>, Rejection>,
) -> Answer {
    let params = query(params)?;
    let limit = params.limit.unwrap_or(100);
    if limit == 0 || limit > API_ENTRIES_PER_PAGE_MAX {
        return Err(ApiError::bad_request(format!(
            "limit: 1 to {API_ENTRIES_PER_PAGE_MAX}"
        )));
    }
    let after = params.after.as_deref().map(parse_cursor).transpose()?;
    let filter = EntryFilter {
        from: params.from,
        to: params.to,
        account: params.account.as_deref().map(account_name).transpose()?,
    };
    let precisions = tenant_precisions(&ledger, &caller)?;
    // One more than asked says whether there is a next page.
    let mut page = ledger.read(&caller, |store, tenant| {
        store.entries_matching(tenant, &filter, after, limit + 1)
    })?;
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|e| cursor_text(e.cursor()))
    } else {
        None
    };
    let items = page
        .into_iter()
        .map(|e| EntryView::new(e, &precisions))
        .collect();
    ok(StatusCode::OK, &EntriesPage { items, next })
}

async fn entry(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    id: Result<Path<i64>, Rejection>,
) -> Answer {
    let id = EntryId(path(id)?);
    let precisions = tenant_precisions(&ledger, &caller)?;
    let found = ledger.read(&caller, |store, tenant| store.entry(tenant, id))?;
    let stored = found.ok_or(ApiError::from(EntryError::EntryNotFound { entry: id }))?;
    ok(StatusCode::OK, &EntryView::new(stored, &precisions))
}

#[derive(Serialize)]
struct Created {
    id: EntryId,
}

async fn create_entry(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    headers: Headers,
    Body(body): Body<EntryBody>,
) -> Answer {
    let header_key =
        match headers.get("idempotency-key") {
            Some(value) => Some(std::str::from_utf8(value).map_err(|_| {
                ApiError::bad_request("the Idempotency-Key header is not valid UTF-8")
            })?),
            None => None,
        };
    let request = body.into_request(header_key)?;
    let results = write_entries(&ledger, &caller, vec![request], json::Mode::Independent).await?;
    match results.into_iter().next() {
        Some(Ok(id)) => ok(StatusCode::CREATED, &Created { id }),
        Some(Err(error)) => Err(error.into()),
        None => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "a batch of one returned no result",
        )),
    }
}

async fn write_entries(
    ledger: &Ledger,
    caller: &Caller,
    requests: Vec<EntryRequest>,
    mode: json::Mode,
) -> Result<Vec<Result<EntryId, EntryError>>, ApiError> {
    let op = WriteOp::CreateEntries {
        requests,
        mode: mode.into(),
    };
    match ledger.write(caller, op).await? {
        WriteOutcome::Entries(results) => Ok(results),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(outcome: &WriteOutcome) -> ApiError {
    tracing::error!(
        ?outcome,
        "the writer answered with the wrong kind of outcome"
    );
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the ledger answered unexpectedly; it has been logged",
    )
}

#[derive(Serialize)]
#[serde(untagged)]
enum BatchItem {
    Created { id: EntryId },
    Refused { error: ErrorObject },
}

#[derive(Serialize)]
struct BatchAnswer {
    created: usize,
    results: Vec<BatchItem>,
}

async fn create_batch(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    Body(body): Body<BatchBody>,
) -> Answer {
    if body.entries.len() > ENTRIES_PER_BATCH_MAX {
        return Err(EntryError::BatchTooLarge {
            count: body.entries.len(),
        }
        .into());
    }
    if body.entries.is_empty() {
        return Err(EntryError::EmptyBatch.into());
    }
    let mut requests = Vec::with_capacity(body.entries.len());
    for (index, entry) in body.entries.into_iter().enumerate() {
        let request = entry.into_request(None).map_err(|mut error| {
            error.message = format!("entries[{index}]: {}", error.message);
            error
        })?;
        requests.push(request);
    }
    let results = write_entries(&ledger, &caller, requests, body.mode).await?;
    let created = results.iter().filter(|r| r.is_ok()).count();
    let results = results
        .iter()
        .map(|result| match result {
            Ok(id) => BatchItem::Created { id: *id },
            Err(error) => BatchItem::Refused {
                error: error.into(),
            },
        })
        .collect();
    ok(StatusCode::OK, &BatchAnswer { created, results })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DateBody {
    date: Option<Date>,
}

async fn reverse(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    id: Result<Path<i64>, Rejection>,
    OptionalBody(body): OptionalBody<DateBody>,
) -> Answer {
    let id = EntryId(path(id)?);
    let date = date_or_today(&ledger, body.unwrap_or_default().date)?;
    match ledger
        .write(&caller, WriteOp::ReverseEntry { id, date })
        .await?
    {
        WriteOutcome::Entry(id) => ok(StatusCode::CREATED, &Created { id }),
        other => Err(unexpected(&other)),
    }
}

/// `POST /pending/{id}/post`: the whole reservation, or `amounts` (one decimal per posting, in
/// posting order) for a partial post.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostBody {
    date: Option<Date>,
    amounts: Option<Vec<crate::domain::Decimal>>,
}

async fn post_pending(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    id: Result<Path<i64>, Rejection>,
    OptionalBody(body): OptionalBody<PostBody>,
) -> Answer {
    let id = EntryId(path(id)?);
    let body = body.unwrap_or_default();
    let date = date_or_today(&ledger, body.date)?;
    let amounts = match body.amounts {
        None => PostAmounts::Full,
        Some(amounts) => PostAmounts::Partial(partial_amounts(&ledger, &caller, id, &amounts)?),
    };
    let op = WriteOp::PostPending {
        id,
        amounts,
        date,
        now: ledger.now(),
    };
    match ledger.write(&caller, op).await? {
        WriteOutcome::Entry(id) => ok(StatusCode::CREATED, &Created { id }),
        other => Err(unexpected(&other)),
    }
}

/// Converts a partial post's decimals with the precision of each posting's commodity.
fn partial_amounts(
    ledger: &Ledger,
    caller: &Caller,
    id: EntryId,
    amounts: &[crate::domain::Decimal],
) -> Result<Vec<Amount>, ApiError> {
    let precisions = tenant_precisions(ledger, caller)?;
    let found = ledger.read(caller, |store, tenant| store.entry(tenant, id))?;
    let stored = found.ok_or(ApiError::from(EntryError::EntryNotFound { entry: id }))?;
    // As the store sees it: an entry that was never pending counts as posted.
    let status = stored.status.unwrap_or(PendingStatus::Posted);
    if status != PendingStatus::Pending {
        return Err(EntryError::NotPending { entry: id, status }.into());
    }
    if amounts.len() != stored.entry.postings.len() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "partial_shape",
            format!(
                "amounts: {} given, the entry has {} postings",
                amounts.len(),
                stored.entry.postings.len()
            ),
        ));
    }
    amounts
        .iter()
        .zip(&stored.entry.postings)
        .enumerate()
        .map(|(index, (amount, posting))| {
            let precision = precisions.get(&posting.commodity).copied().unwrap_or(0);
            amount.to_minor_units(precision).map_err(|error| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "precision",
                    format!("amounts[{index}]: {error}"),
                )
            })
        })
        .collect()
}

#[derive(Serialize)]
struct Status {
    id: EntryId,
    status: &'static str,
}

async fn void_pending(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    id: Result<Path<i64>, Rejection>,
) -> Answer {
    let id = EntryId(path(id)?);
    let op = WriteOp::VoidPending {
        id,
        now: ledger.now(),
    };
    ledger.write(&caller, op).await?;
    ok(
        StatusCode::OK,
        &Status {
            id,
            status: PendingStatus::Voided.as_str(),
        },
    )
}

#[derive(Serialize)]
struct Balances {
    date: Date,
    items: Vec<BalanceView>,
}

async fn balances(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    at: Result<Query<AtDate>, Rejection>,
) -> Answer {
    let date = date_or_today(&ledger, query(at)?.date)?;
    let precisions = tenant_precisions(&ledger, &caller)?;
    let lines = ledger.read(&caller, |store, tenant| store.balances(tenant, date))?;
    let items = lines
        .into_iter()
        .filter(|line| line.balance != Amount(0))
        .map(|line| BalanceView::new(line, &precisions))
        .collect();
    ok(StatusCode::OK, &Balances { date, items })
}

#[derive(Serialize)]
struct TrialBalance {
    date: Date,
    lines: Vec<TrialLine>,
    totals: Vec<TrialTotal>,
    /// Debits equal credits in every commodity.
    balanced: bool,
}

#[derive(Serialize)]
struct TrialLine {
    account: crate::domain::AccountName,
    commodity: crate::domain::CommodityCode,
    debit: Option<String>,
    credit: Option<String>,
}

#[derive(Serialize)]
struct TrialTotal {
    commodity: crate::domain::CommodityCode,
    debits: String,
    credits: String,
}

async fn trial_balance(
    Auth(caller): Auth,
    State(ledger): State<Ledger>,
    at: Result<Query<AtDate>, Rejection>,
) -> Answer {
    let date = date_or_today(&ledger, query(at)?.date)?;
    let precisions = tenant_precisions(&ledger, &caller)?;
    let lines = ledger.read(&caller, |store, tenant| store.balances(tenant, date))?;
    let mut sums: BTreeMap<crate::domain::CommodityCode, (i128, i128)> = BTreeMap::new();
    let mut out = Vec::new();
    for line in lines.into_iter().filter(|l| l.balance != Amount(0)) {
        let precision = precisions.get(&line.commodity).copied().unwrap_or(0);
        let sum = sums.entry(line.commodity.clone()).or_default();
        let (debit, credit) = if line.balance.0 > 0 {
            sum.0 += i128::from(line.balance.0);
            (Some(line.balance.format(precision)), None)
        } else {
            sum.1 -= i128::from(line.balance.0);
            (None, Amount(-line.balance.0).format(precision).into())
        };
        out.push(TrialLine {
            account: line.account,
            commodity: line.commodity,
            debit,
            credit,
        });
    }
    let balanced = sums.values().all(|(debits, credits)| debits == credits);
    let totals = sums
        .into_iter()
        .map(|(commodity, (debits, credits))| {
            let precision = precisions.get(&commodity).copied().unwrap_or(0);
            let text = |value: i128| {
                i64::try_from(value)
                    .map_or_else(|_| value.to_string(), |v| Amount(v).format(precision))
            };
            TrialTotal {
                debits: text(debits),
                credits: text(credits),
                commodity,
            }
        })
        .collect();
    ok(
        StatusCode::OK,
        &TrialBalance {
            date,
            lines: out,
            totals,
            balanced,
        },
    )
}

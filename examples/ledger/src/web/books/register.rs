//! An account's register: filters (dates, text, tag, amount) kept in the URL, keyset pages,
//! the running balance; htmx swaps only the rows. Not here: the query (`Store::register`).

use super::*;

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RegisterQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    min: String,
    #[serde(default)]
    max: String,
    #[serde(default, skip_serializing)]
    after: String,
}

#[derive(Serialize)]
struct RegisterPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    account: String,
    account_path: String,
    query: &'a RegisterQuery,
    rows: Vec<RegisterLine>,
    /// The query string of the next page, if there is one.
    next: Option<String>,
}

#[derive(Serialize)]
struct RegisterLine {
    id: i64,
    date: Date,
    description: String,
    counter: String,
    amount: Money,
    balance: Option<Money>,
    status: Option<&'static str>,
    reconciled: bool,
}

fn bad_request(message: String) -> Response {
    Response::error(StatusCode::BAD_REQUEST, &message)
}

pub async fn register(
    CurrentUser(current): CurrentUser,
    htmx: Htmx,
    State(state): State<WebState>,
    Path(name): Path<String>,
    query: Result<Query<RegisterQuery>, kiln::app::Rejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return rejection.into_response(),
    };
    let Ok(account) = AccountName::new(&name) else {
        return Response::error(StatusCode::NOT_FOUND, "There is no such account.");
    };
    let date = |text: &str, what: &str| -> Result<Option<Date>, Response> {
        match text.trim() {
            "" => Ok(None),
            text => Date::parse(text)
                .map(Some)
                .map_err(|error| bad_request(format!("{what}: {error}"))),
        }
    };
    let (from, to) = match (date(&query.from, "From"), date(&query.to, "To")) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    let after = match query.after.trim() {
        "" => None,
        text => match parse_cursor(text) {
            Some(cursor) => Some(cursor),
            None => return bad_request(format!("Not a page position: {text:?}")),
        },
    };
    let decimal = |text: &str, what: &str| -> Result<Option<Decimal>, Response> {
        match text.trim() {
            "" => Ok(None),
            text => Decimal::parse(text.trim_start_matches('-'))
                .map(Some)
                .map_err(|error| bad_request(format!("{what}: {error}"))),
        }
    };
    let (min, max) = match (
        decimal(&query.min, "Minimum"),
        decimal(&query.max, "Maximum"),
    ) {
        (Ok(min), Ok(max)) => (min, max),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            let precisions = precisions(store, tenant)?;
            // An amount range is in the account's first commodity (or its only one).
            let amount = if min.is_some() || max.is_some() {
                let account_info = store.account(tenant, &account)?;
                let commodity = account_info
                    .as_ref()
                    .and_then(|a| a.commodities.first().cloned())
                    .or_else(|| precisions.keys().next().cloned());
                match commodity {
                    Some(commodity) => {
                        let places = precisions.get(&commodity).copied().unwrap_or(0);
                        let minor = |d: Option<Decimal>| -> Result<Option<Amount>, StoreError> {
                            d.map(|d| d.to_minor_units(places))
                                .transpose()
                                .map_err(|e| {
                                    StoreError::Refused(EntryError::invalid(
                                        "amount",
                                        &e.to_string(),
                                    ))
                                })
                        };
                        Some(AmountRange {
                            min: minor(min)?,
                            max: minor(max)?,
                            commodity,
                        })
                    }
                    None => None,
                }
            } else {
                None
            };
            let filter = RegisterFilter {
                from,
                to,
                text: Some(query.q.trim().to_owned()).filter(|t| !t.is_empty()),
                tag: Some(query.tag.trim().to_owned()).filter(|t| !t.is_empty()),
                amount,
            };
            let rows = store.register(tenant, &account, &filter, after, REGISTER_PAGE_LINES + 1)?;
            Ok((precisions, rows))
        });
    let (precisions, mut rows) = match read {
        Ok(read) => read,
        Err(ServiceError::Store(StoreError::NotFound { .. })) => {
            return Response::error(StatusCode::NOT_FOUND, "There is no such account.");
        }
        Err(ServiceError::Store(StoreError::Refused(refusal))) => {
            return bad_request(refusal.to_string());
        }
        Err(error) => return service_error(error),
    };
    // One entry more than a page says whether there is a next page.
    let mut entries: Vec<EntryId> = rows.iter().map(|r| r.entry.id).collect();
    entries.dedup();
    let next = if entries.len() > REGISTER_PAGE_LINES {
        let last_shown = entries[REGISTER_PAGE_LINES - 1];
        rows.retain(|r| entries[..REGISTER_PAGE_LINES].contains(&r.entry.id));
        let cursor = rows
            .iter()
            .find(|r| r.entry.id == last_shown)
            .map(|r| r.entry.cursor());
        cursor.map(|c| next_query(&query, c))
    } else {
        None
    };
    let lines = rows
        .iter()
        .map(|row| RegisterLine {
            id: row.entry.id.0,
            date: row.entry.entry.date,
            description: row.entry.entry.description.clone(),
            counter: counter_accounts(&row.entry, &account),
            amount: money(&precisions, &row.commodity, row.amount),
            balance: row.balance.map(|b| money(&precisions, &row.commodity, b)),
            status: row.entry.status.map(|s| s.as_str()),
            reconciled: row.reconciled,
        })
        .collect();
    let page = RegisterPage {
        base: Base::of(&current),
        account_path: path_segment(account.as_str()),
        account: account.to_string(),
        query: &query,
        rows: lines,
        next,
    };
    htmx.render(&state.templates, "register.html", "rows", page)
}

/// The other accounts of an entry, for a register line.
fn counter_accounts(entry: &StoredEntry, account: &AccountName) -> String {
    let mut names: Vec<&str> = entry
        .entry
        .postings
        .iter()
        .filter(|p| &p.account != account)
        .map(|p| p.account.as_str())
        .collect();
    names.dedup();
    names.join(", ")
}

fn parse_cursor(text: &str) -> Option<EntryCursor> {
    let (date, id) = text.split_once('.')?;
    Some(EntryCursor {
        date: Date::parse(date).ok()?,
        id: EntryId(id.parse().ok()?),
    })
}

fn next_query(query: &RegisterQuery, cursor: EntryCursor) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (key, value) in [
        ("from", &query.from),
        ("to", &query.to),
        ("q", &query.q),
        ("tag", &query.tag),
        ("min", &query.min),
        ("max", &query.max),
    ] {
        if !value.trim().is_empty() {
            pairs.push((key, value.trim().to_owned()));
        }
    }
    pairs.push(("after", format!("{}.{}", cursor.date, cursor.id.0)));
    serde_html_form::to_string(&pairs).unwrap_or_default()
}

/// An account name as one URL path segment (percent-encoded).
pub fn path_segment(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

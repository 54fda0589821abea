//! The new-entry form: posting rows, live balancing feedback as amounts are typed (htmx posts
//! the form to `/entries/check`), an idempotency key made when the form is shown (a double
//! submit creates one entry), refusals shown next to their row. Accounts, descriptions and
//! payees autocomplete from `<datalist>`s (the open accounts; the descriptions and payees of
//! recent entries, `Store::recent_texts`), which browsers filter as the person types, with or
//! without JavaScript.

use super::*;

/// What the new-entry form sends (posting fields repeat, one per row).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct EntryFields {
    #[serde(default)]
    date: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    payee: String,
    #[serde(default)]
    account: Vec<String>,
    #[serde(default)]
    amount: Vec<String>,
    #[serde(default)]
    commodity: Vec<String>,
    /// Made when the form is shown: a double submit creates one entry.
    #[serde(default)]
    idempotency_key: String,
    /// Rows to show (the "add a row" link asks for one more).
    #[serde(default)]
    rows: Option<usize>,
    /// `add`, or `remove-N` (1-based): the row buttons of `/entries/new/rows`.
    #[serde(default)]
    row_edit: Option<String>,
}

#[derive(Serialize)]
struct EntryFormPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    values: &'a EntryFields,
    rows: Vec<RowValues>,
    more_rows: Option<usize>,
    accounts: Vec<String>,
    /// Descriptions and payees of recent entries, for the fields' `<datalist>`s.
    descriptions: Vec<String>,
    payees: Vec<String>,
    commodities: Vec<String>,
    feedback: Feedback,
    error: Option<String>,
    /// The posting row the error is about (1-based), if any.
    error_row: Option<usize>,
}

#[derive(Serialize)]
struct RowValues {
    number: usize,
    account: String,
    amount: String,
    commodity: String,
}

/// The live balancing feedback under the form.
#[derive(Serialize)]
struct Feedback {
    balanced: bool,
    /// What is off, per commodity (`-12.50 USD`), or why it cannot be summed yet.
    lines: Vec<String>,
}

pub async fn new_entry(
    CurrentUser(current): CurrentUser,
    State(state): State<WebState>,
    query: Result<Query<EntryFields>, kiln::app::Rejection>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let mut fields = match query {
        Ok(Query(fields)) => fields,
        Err(_) => EntryFields::default(),
    };
    if fields.idempotency_key.is_empty() {
        fields.idempotency_key = fresh_key();
    }
    if fields.date.is_empty()
        && let Ok(today) = today(&state)
    {
        fields.date = today.to_string();
    }
    entry_form(&state, &current, &fields, None, None, StatusCode::OK)
}

/// Adds a posting row, or removes one, keeping everything typed (the form's "Add a row" and
/// "Remove" buttons; with htmx the form is swapped in place, without it the page comes back).
pub async fn edit_rows(
    CurrentUser(current): CurrentUser,
    State(state): State<WebState>,
    Form(mut fields): Form<EntryFields>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let count = fields
        .account
        .len()
        .max(fields.amount.len())
        .max(fields.rows.unwrap_or(2))
        .clamp(2, ENTRY_FORM_ROWS_MAX);
    let edit = fields.row_edit.take().unwrap_or_default();
    if edit == "add" {
        fields.rows = Some((count + 1).min(ENTRY_FORM_ROWS_MAX));
    } else if let Some(number) = edit
        .strip_prefix("remove-")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=count).contains(n))
    {
        for column in [
            &mut fields.account,
            &mut fields.amount,
            &mut fields.commodity,
        ] {
            if number <= column.len() {
                column.remove(number - 1);
            }
        }
        fields.rows = Some((count - 1).max(2));
    } else {
        return Response::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Rows: choose to add a row or to remove one of the rows shown.",
        );
    }
    entry_form(&state, &current, &fields, None, None, StatusCode::OK)
}

fn fresh_key() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return String::new(); // no key: a double submit is then not caught, nothing else changes
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn entry_form(
    state: &WebState,
    current: &SessionUser,
    fields: &EntryFields,
    error: Option<String>,
    error_row: Option<usize>,
    status: StatusCode,
) -> Response {
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            Ok((
                store.accounts(tenant)?,
                precisions(store, tenant)?,
                store.recent_texts(tenant)?,
            ))
        });
    let (accounts, precisions, recent) = match read {
        Ok(read) => read,
        Err(error) => return service_error(error),
    };
    let shown = fields
        .rows
        .unwrap_or(2)
        .max(fields.account.len())
        .clamp(2, ENTRY_FORM_ROWS_MAX);
    let first_commodity = precisions
        .keys()
        .next()
        .map(|c| c.to_string())
        .unwrap_or_default();
    let rows = (0..shown)
        .map(|index| RowValues {
            number: index + 1,
            account: fields.account.get(index).cloned().unwrap_or_default(),
            amount: fields.amount.get(index).cloned().unwrap_or_default(),
            commodity: fields
                .commodity
                .get(index)
                .cloned()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| first_commodity.clone()),
        })
        .collect();
    let page = EntryFormPage {
        base: Base::of(current),
        values: fields,
        rows,
        more_rows: (shown < ENTRY_FORM_ROWS_MAX).then_some(shown + 1),
        accounts: accounts
            .iter()
            .filter(|a| a.closed.is_none())
            .map(|a| a.name.to_string())
            .collect(),
        descriptions: recent.descriptions,
        payees: recent.payees,
        commodities: precisions.keys().map(|c| c.to_string()).collect(),
        feedback: feedback(fields, &precisions),
        error,
        error_row,
    };
    render(state, "entry_new.html", page, status)
}

/// Sums the typed amounts per commodity: balanced when every commodity sums to zero.
fn feedback(fields: &EntryFields, precisions: &Precisions) -> Feedback {
    let mut sums: BTreeMap<CommodityCode, Amount> = BTreeMap::new();
    let mut lines = Vec::new();
    let mut typed = 0;
    for (index, text) in fields.amount.iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        typed += 1;
        let code = fields
            .commodity
            .get(index)
            .map(String::as_str)
            .unwrap_or("");
        let Ok(code) = CommodityCode::new(code) else {
            lines.push(format!("Row {}: choose a commodity.", index + 1));
            continue;
        };
        let places = precisions.get(&code).copied().unwrap_or(0);
        match Decimal::parse(text.trim()).and_then(|d| d.to_minor_units(places)) {
            Ok(amount) => {
                let sum = sums.entry(code).or_default();
                match sum.checked_add(amount) {
                    Ok(total) => *sum = total,
                    Err(_) => lines.push(format!("Row {}: the sum does not fit.", index + 1)),
                }
            }
            Err(error) => lines.push(format!("Row {}: {error}", index + 1)),
        }
    }
    for (code, sum) in &sums {
        if sum.0 != 0 {
            let places = precisions.get(code).copied().unwrap_or(0);
            lines.push(format!("Off by {} {code}.", sum.format(places)));
        }
    }
    Feedback {
        balanced: lines.is_empty() && typed >= 2,
        lines,
    }
}

/// The balancing feedback alone (htmx, as the amounts are typed).
pub async fn check_entry(
    CurrentUser(current): CurrentUser,
    State(state): State<WebState>,
    Form(fields): Form<EntryFields>,
) -> Response {
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            precisions(store, tenant)
        });
    let precisions = match read {
        Ok(precisions) => precisions,
        Err(error) => return service_error(error),
    };
    #[derive(Serialize)]
    struct Only {
        feedback: Feedback,
    }
    let context = Only {
        feedback: feedback(&fields, &precisions),
    };
    state
        .templates
        .render_block("entry_new.html", "feedback", context)
        .map(Html)
        .into_response()
}

pub async fn create_entry(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Form(fields): Form<EntryFields>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let refused = |message: String, row: Option<usize>| {
        if htmx.is_htmx() {
            // htmx shows it in the page's error area (kiln's error target), form kept as typed.
            return Response::error(StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
        entry_form(
            &state,
            &current,
            &fields,
            Some(message),
            row,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let request = match entry_request(&fields) {
        Ok(request) => request,
        Err((message, row)) => return refused(message, row),
    };
    let op = WriteOp::CreateEntries {
        requests: vec![request],
        mode: crate::domain::BatchMode::Independent,
    };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(WriteOutcome::Entries(mut results)) => match results.pop() {
            Some(Ok(id)) if htmx.is_htmx() => saved(&state, &current, id),
            Some(Ok(id)) => {
                flash.success(format!("Entry {id} saved."));
                htmx.redirect(&format!("/entries/{id}"))
            }
            Some(Err(error)) => {
                let row = posting_of(&error);
                refused(error.to_string(), row)
            }
            None => service_error(ServiceError::Failed("an entry got no result")),
        },
        Ok(other) => service_error(ServiceError::Store(StoreError::Corrupt(format!(
            "an entry answered {other:?}"
        )))),
        Err(error) => match refusal_message(&error) {
            Some(message) => refused(message, None),
            None => service_error(error),
        },
    }
}

#[derive(Serialize)]
struct Saved {
    id: i64,
    balances: Vec<SavedBalance>,
    /// A fresh key for the next entry typed in the same form.
    next_key: String,
}

#[derive(Serialize)]
struct SavedBalance {
    account: String,
    balance: Money,
}

/// For htmx: the saved entry and the new balances of its accounts, in place, without leaving
/// the page; the form gets a fresh idempotency key (out of band) for the next entry.
fn saved(state: &WebState, current: &SessionUser, id: EntryId) -> Response {
    let today = match today(state) {
        Ok(today) => today,
        Err(response) => return response,
    };
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            let precisions = precisions(store, tenant)?;
            let entry = store.entry(tenant, id)?;
            let lines = store.balances(tenant, today)?;
            Ok((precisions, entry, lines))
        });
    let (precisions, entry, lines) = match read {
        Ok(read) => read,
        Err(error) => return service_error(error),
    };
    let accounts: Vec<String> = entry
        .map(|e| {
            e.entry
                .postings
                .iter()
                .map(|p| p.account.to_string())
                .collect()
        })
        .unwrap_or_default();
    let balances = lines
        .into_iter()
        .filter(|line| accounts.contains(&line.account.to_string()))
        .map(|line| SavedBalance {
            account: line.account.to_string(),
            balance: money(&precisions, &line.commodity, line.balance),
        })
        .collect();
    let context = Saved {
        id: id.0,
        balances,
        next_key: fresh_key(),
    };
    state
        .templates
        .render_blocks("entry_new.html", &["saved", "next_key"], context)
        .map(Html)
        .into_response()
}

/// The form as the store's request; a field that does not parse names its row.
fn entry_request(fields: &EntryFields) -> Result<EntryRequest, (String, Option<usize>)> {
    let date = Date::parse(fields.date.trim()).map_err(|e| (format!("Date: {e}"), None))?;
    let mut postings = Vec::new();
    for (index, account) in fields.account.iter().enumerate() {
        let amount = fields.amount.get(index).map(|a| a.trim()).unwrap_or("");
        if account.trim().is_empty() && amount.is_empty() {
            continue; // an unused row
        }
        let row = Some(index + 1);
        let account = AccountName::new(account.trim())
            .map_err(|e| (format!("Row {}: account: {e}", index + 1), row))?;
        let amount =
            Decimal::parse(amount).map_err(|e| (format!("Row {}: amount: {e}", index + 1), row))?;
        let commodity = CommodityCode::new(
            fields
                .commodity
                .get(index)
                .map(String::as_str)
                .unwrap_or(""),
        )
        .map_err(|e| (format!("Row {}: commodity: {e}", index + 1), row))?;
        postings.push(NewPosting {
            account,
            commodity,
            amount,
        });
    }
    let key = match fields.idempotency_key.trim() {
        "" => None,
        key => Some(IdempotencyKey::new(key).map_err(|e| (e.to_string(), None))?),
    };
    let payee = Some(fields.payee.trim().to_owned()).filter(|p| !p.is_empty());
    Ok(EntryRequest {
        key,
        entry: NewEntry {
            date,
            description: fields.description.trim().to_owned(),
            payee,
            tags: Default::default(),
            metadata: Default::default(),
            postings,
            pending: None,
        },
    })
}

/// The (1-based) form row a refusal is about, when it names a posting.
fn posting_of(error: &EntryError) -> Option<usize> {
    match error {
        EntryError::UnknownAccount { posting, .. } => Some(posting + 1),
        _ => None,
    }
}

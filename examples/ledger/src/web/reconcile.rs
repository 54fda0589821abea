//! Reconciliation pages: pick an account, a commodity, the statement date and the balance the
//! statement shows; tick the entries the statement lists (each tick is saved, and htmx
//! updates the difference live); finish when the difference is zero. Entries cleared on a
//! finished reconciliation show as reconciled in the register.
//!
//! Signs: a person types the statement balance as the statement shows it. For an account
//! whose balance is normally a credit (liability, equity, income) the ledger keeps it
//! negative, so the page turns the typed balance (and the difference it shows) around. Without
//! JavaScript the ticks are saved together with a button. Not here: matching lines of an
//! imported statement automatically.

use super::WebState;
use super::auth::{Base, CurrentUser, Peer, may_write, render, service_error, write_as_user};
use crate::domain::{AccountName, AccountType, Amount, CommodityCode, Date, Decimal, EntryId};
use crate::service::ServiceError;
use crate::service::accounts::SessionUser;
use crate::store::{
    Reconciliation, ReconciliationId, ReconciliationState, StoreError, WriteOp, WriteOutcome,
};
use kiln::app::{Flash, Form, Html, IntoResponse, Path, State};
use kiln::htmx::Htmx;
use kiln::http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether the account's balance is normally a credit (kept negative in the ledger).
fn credit_normal(kind: AccountType) -> bool {
    matches!(
        kind,
        AccountType::Liability | AccountType::Equity | AccountType::Income
    )
}

fn shown(amount: Amount, credit: bool) -> Amount {
    if credit {
        amount.checked_neg().unwrap_or(amount)
    } else {
        amount
    }
}

#[derive(Serialize)]
struct IndexPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    today: Date,
    accounts: Vec<String>,
    commodities: Vec<String>,
    reconciliations: Vec<Row>,
    can_write: bool,
    error: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    account: String,
    commodity: String,
    statement_date: Date,
    statement_balance: String,
    finished: bool,
}

pub async fn index(CurrentUser(current): CurrentUser, State(state): State<WebState>) -> Response {
    index_page(&state, &current, None, StatusCode::OK)
}

fn index_page(
    state: &WebState,
    current: &SessionUser,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let Some(today) = Date::of_timestamp(state.ledger.now()) else {
        return service_error(ServiceError::Failed("the clock is outside the calendar"));
    };
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            Ok((
                store.accounts(tenant)?,
                store.commodities(tenant)?,
                store.reconciliations(tenant)?,
            ))
        });
    let (accounts, commodities, reconciliations) = match read {
        Ok(read) => read,
        Err(error) => return service_error(error),
    };
    let precisions: BTreeMap<CommodityCode, u8> = commodities
        .iter()
        .map(|c| (c.code.clone(), c.precision))
        .collect();
    let kinds: BTreeMap<&AccountName, AccountType> =
        accounts.iter().map(|a| (&a.name, a.account_type)).collect();
    let rows = reconciliations
        .iter()
        .map(|r: &Reconciliation| {
            let credit = kinds.get(&r.account).is_some_and(|k| credit_normal(*k));
            let places = precisions.get(&r.commodity).copied().unwrap_or(0);
            Row {
                id: r.id.0,
                account: r.account.to_string(),
                commodity: r.commodity.to_string(),
                statement_date: r.statement_date,
                statement_balance: shown(r.statement_balance, credit).format(places),
                finished: r.finished_at.is_some(),
            }
        })
        .collect();
    let page = IndexPage {
        base: Base::of(current),
        today,
        accounts: accounts
            .iter()
            .filter(|a| matches!(a.account_type, AccountType::Asset | AccountType::Liability))
            .map(|a| a.name.to_string())
            .collect(),
        commodities: commodities.iter().map(|c| c.code.to_string()).collect(),
        reconciliations: rows,
        can_write: current.role().can_write(),
        error,
    };
    render(state, "reconcile.html", page, status)
}

#[derive(Debug, Default, Deserialize)]
pub struct StartFields {
    #[serde(default)]
    account: String,
    #[serde(default)]
    commodity: String,
    #[serde(default)]
    statement_date: String,
    #[serde(default)]
    statement_balance: String,
}

pub async fn start(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    State(state): State<WebState>,
    Form(fields): Form<StartFields>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let refused = |message: String| {
        index_page(
            &state,
            &current,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let Ok(account) = AccountName::new(fields.account.trim()) else {
        return refused("Choose an account.".into());
    };
    let Ok(commodity) = CommodityCode::new(fields.commodity.trim()) else {
        return refused("Choose a commodity.".into());
    };
    let date = match Date::parse(fields.statement_date.trim()) {
        Ok(date) => date,
        Err(error) => return refused(format!("Statement date: {error}")),
    };
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            let precision = store
                .commodities(tenant)?
                .into_iter()
                .find(|c| c.code == commodity)
                .map(|c| c.precision);
            Ok((store.account(tenant, &account)?, precision))
        });
    let (found, precision) = match read {
        Ok(read) => read,
        Err(error) => return service_error(error),
    };
    let (Some(found), Some(places)) = (found, precision) else {
        return refused("There is no such account or commodity.".into());
    };
    let typed = match Decimal::parse(fields.statement_balance.trim())
        .and_then(|d| d.to_minor_units(places))
    {
        Ok(amount) => amount,
        Err(error) => return refused(format!("Statement balance: {error}")),
    };
    let op = WriteOp::StartReconciliation {
        account,
        commodity,
        statement_date: date,
        statement_balance: shown(typed, credit_normal(found.account_type)),
        now: state.ledger.now(),
    };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(WriteOutcome::Reconciliation(id)) => htmx.redirect(&format!("/reconcile/{}", id.0)),
        Ok(other) => service_error(ServiceError::Store(StoreError::Corrupt(format!(
            "a reconciliation answered {other:?}"
        )))),
        Err(ServiceError::Store(StoreError::Refused(refusal))) => refused(refusal.to_string()),
        Err(error) => service_error(error),
    }
}

#[derive(Serialize)]
struct StatePage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    id: i64,
    account: String,
    account_path: String,
    commodity: String,
    statement_date: Date,
    statement_balance: String,
    reconciled: String,
    lines: Vec<Line>,
    more: bool,
    difference: String,
    balanced: bool,
    finished: bool,
    can_write: bool,
}

#[derive(Serialize)]
struct Line {
    entry: i64,
    date: Date,
    description: String,
    amount: String,
    negative: bool,
    cleared: bool,
}

fn load(
    state: &WebState,
    current: &SessionUser,
    id: i64,
) -> Result<(ReconciliationState, bool, u8), Response> {
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            let Some(reconciliation) = store.reconciliation(tenant, ReconciliationId(id))? else {
                return Ok(None);
            };
            let kind = store
                .account(tenant, &reconciliation.reconciliation.account)?
                .map(|a| a.account_type);
            let places = store
                .commodities(tenant)?
                .into_iter()
                .find(|c| c.code == reconciliation.reconciliation.commodity)
                .map_or(0, |c| c.precision);
            Ok(Some((
                reconciliation,
                kind.is_some_and(credit_normal),
                places,
            )))
        });
    match read {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(Response::error(
            StatusCode::NOT_FOUND,
            "There is no such reconciliation.",
        )),
        Err(error) => Err(service_error(error)),
    }
}

fn page_of<'a>(
    current: &'a SessionUser,
    found: &ReconciliationState,
    credit: bool,
    places: u8,
) -> StatePage<'a> {
    let r = &found.reconciliation;
    let difference = found.difference();
    StatePage {
        base: Base::of(current),
        id: r.id.0,
        account: r.account.to_string(),
        account_path: super::books::path_segment(r.account.as_str()),
        commodity: r.commodity.to_string(),
        statement_date: r.statement_date,
        statement_balance: shown(r.statement_balance, credit).format(places),
        reconciled: shown(found.reconciled, credit).format(places),
        lines: found
            .lines
            .iter()
            .map(|line| Line {
                entry: line.entry.0,
                date: line.date,
                description: line.description.clone(),
                amount: shown(line.amount, credit).format(places),
                negative: shown(line.amount, credit).0 < 0,
                cleared: line.cleared,
            })
            .collect(),
        more: found.more,
        difference: difference.map_or_else(
            || "out of range".to_owned(),
            |d| shown(d, credit).format(places),
        ),
        balanced: difference == Some(Amount(0)),
        finished: r.finished_at.is_some(),
        can_write: current.role().can_write() && r.finished_at.is_none(),
    }
}

pub async fn show(
    CurrentUser(current): CurrentUser,
    State(state): State<WebState>,
    Path(id): Path<i64>,
) -> Response {
    match load(&state, &current, id) {
        Ok((found, credit, places)) => render(
            &state,
            "reconciliation.html",
            page_of(&current, &found, credit, places),
            StatusCode::OK,
        ),
        Err(response) => response,
    }
}

/// One tick: the line's entry, and every ticked box of the form (htmx sends the enclosing
/// form's values), so the line is ticked when its entry is among them.
#[derive(Debug, Default, Deserialize)]
pub struct ToggleFields {
    #[serde(default)]
    line: i64,
    #[serde(default)]
    entry: Vec<i64>,
}

/// One tick (htmx): saved, and the difference answered as a fragment.
pub async fn toggle(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    State(state): State<WebState>,
    Path(id): Path<i64>,
    Form(fields): Form<ToggleFields>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let op = WriteOp::SetCleared {
        id: ReconciliationId(id),
        entry: EntryId(fields.line),
        cleared: fields.entry.contains(&fields.line),
    };
    if let Err(response) = write(&state, &current, &peer, op).await {
        return response;
    }
    match load(&state, &current, id) {
        Ok((found, credit, places)) => state
            .templates
            .render_block(
                "reconciliation.html",
                "difference",
                page_of(&current, &found, credit, places),
            )
            .map(Html)
            .into_response(),
        Err(response) => response,
    }
}

async fn write(
    state: &WebState,
    current: &SessionUser,
    peer: &Peer,
    op: WriteOp,
) -> Result<WriteOutcome, Response> {
    match write_as_user(state, current, peer, op).await {
        Ok(outcome) => Ok(outcome),
        Err(ServiceError::Store(StoreError::NotFound { .. })) => Err(Response::error(
            StatusCode::NOT_FOUND,
            "There is no such reconciliation.",
        )),
        Err(ServiceError::Store(StoreError::Refused(refusal))) => Err(Response::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &refusal.to_string(),
        )),
        Err(error) => Err(service_error(error)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TicksFields {
    /// Every ticked entry (the form without JavaScript sends them all at once).
    #[serde(default)]
    entry: Vec<i64>,
}

/// All ticks at once (the form without JavaScript): each line becomes ticked or not as sent.
pub async fn save_ticks(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    State(state): State<WebState>,
    Path(id): Path<i64>,
    Form(fields): Form<TicksFields>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let (found, _, _) = match load(&state, &current, id) {
        Ok(found) => found,
        Err(response) => return response,
    };
    for line in &found.lines {
        let ticked = fields.entry.contains(&line.entry.0);
        if ticked != line.cleared {
            let op = WriteOp::SetCleared {
                id: ReconciliationId(id),
                entry: line.entry,
                cleared: ticked,
            };
            if let Err(response) = write(&state, &current, &peer, op).await {
                return response;
            }
        }
    }
    htmx.redirect(&format!("/reconcile/{id}"))
}

pub async fn finish(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let op = WriteOp::FinishReconciliation {
        id: ReconciliationId(id),
        now: state.ledger.now(),
    };
    match write(&state, &current, &peer, op).await {
        Ok(_) => {
            flash.success(format!(
                "Reconciliation {id} finished: its entries are reconciled."
            ));
            htmx.redirect("/reconcile")
        }
        Err(response) => response,
    }
}

//! The dashboard: net worth (assets less liabilities, per commodity), this month's income and
//! expenses, and the latest entries, all read on a reader connection. Not here: charts, the
//! accounts needing reconciliation (reconciliation comes with its own screen).

use super::WebState;
use super::auth::{Base, CurrentUser, service_error};
use crate::domain::report::Totals;
use crate::domain::{Amount, CommodityCode, Date};
use crate::statements;
use crate::store::{StoreError, StoredEntry};
use kiln::app::{Html, IntoResponse, State};
use kiln::http::Response;
use serde::Serialize;
use std::collections::BTreeMap;

/// Entries the dashboard lists.
const RECENT_ENTRIES: usize = 10;

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    today: Date,
    month_start: Date,
    net_worth: Vec<Figure>,
    month: Vec<MonthLine>,
    recent: Vec<Recent>,
}

#[derive(Serialize)]
struct Figure {
    commodity: CommodityCode,
    amount: String,
    negative: bool,
}

#[derive(Serialize)]
struct MonthLine {
    commodity: CommodityCode,
    income: String,
    expenses: String,
}

#[derive(Serialize)]
struct Recent {
    date: Date,
    description: String,
    accounts: String,
    amount: String,
    status: Option<&'static str>,
}

pub async fn show(CurrentUser(current): CurrentUser, State(state): State<WebState>) -> Response {
    let Some(today) = Date::of_timestamp(state.ledger.now()) else {
        return service_error(crate::service::ServiceError::Failed(
            "the clock is outside the calendar",
        ));
    };
    let (year, month, _) = today.ymd();
    let month_start = Date::from_ymd(year, month, 1).unwrap_or(today);
    let tenant = current.tenant.tenant;
    let read = state.ledger.read_tenant(tenant, |store, tenant| {
        let precisions: BTreeMap<CommodityCode, u8> = store
            .commodities(tenant)?
            .into_iter()
            .map(|c| (c.code, c.precision))
            .collect();
        let sheet = statements::balance_sheet(store, tenant, today).map_err(statement)?;
        let income =
            statements::income_statement(store, tenant, month_start, today).map_err(statement)?;
        let recent = store.latest_entries(tenant, RECENT_ENTRIES)?;
        Ok((precisions, sheet, income, recent))
    });
    let (precisions, sheet, income, recent) = match read {
        Ok(read) => read,
        Err(error) => return service_error(error),
    };
    let format = |code: &CommodityCode, amount: Amount| {
        amount.format(precisions.get(code).copied().unwrap_or(0))
    };
    let net_worth = net(&sheet.assets.totals, &sheet.liabilities.totals)
        .into_iter()
        .map(|(commodity, amount)| Figure {
            amount: format(&commodity, amount),
            negative: amount.0 < 0,
            commodity,
        })
        .collect();
    let mut codes: Vec<&CommodityCode> = income.income.totals.keys().collect();
    codes.extend(income.expenses.totals.keys());
    codes.sort();
    codes.dedup();
    let month_lines = codes
        .into_iter()
        .map(|code| MonthLine {
            income: format(
                code,
                income.income.totals.get(code).copied().unwrap_or_default(),
            ),
            expenses: format(
                code,
                income
                    .expenses
                    .totals
                    .get(code)
                    .copied()
                    .unwrap_or_default(),
            ),
            commodity: code.clone(),
        })
        .collect();
    let recent = recent.iter().map(|e| recent_line(e, &format)).collect();
    let page = Page {
        base: Base::of(&current),
        today,
        month_start,
        net_worth,
        month: month_lines,
        recent,
    };
    state
        .templates
        .render("dashboard.html", page)
        .map(Html)
        .into_response()
}

fn statement(error: statements::StatementError) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// Assets less liabilities per commodity (the report shows liabilities as positive numbers).
/// A sum that does not fit is left out rather than shown wrong.
fn net(assets: &Totals, liabilities: &Totals) -> BTreeMap<CommodityCode, Amount> {
    let mut net = assets.clone();
    for (code, owed) in liabilities {
        let held = net.get(code).copied().unwrap_or_default();
        match held.checked_sub(*owed) {
            Ok(value) => {
                net.insert(code.clone(), value);
            }
            Err(_) => {
                net.remove(code);
            }
        }
    }
    net
}

/// An entry as a dashboard line: its accounts, and the total it moved (the sum of its debits)
/// in its first commodity.
fn recent_line(entry: &StoredEntry, format: &impl Fn(&CommodityCode, Amount) -> String) -> Recent {
    let mut accounts: Vec<&str> = entry
        .entry
        .postings
        .iter()
        .map(|p| p.account.as_str())
        .collect();
    accounts.dedup();
    let first = entry.entry.postings.first().map(|p| p.commodity.clone());
    let moved = first.as_ref().map_or(String::new(), |code| {
        let debits = entry
            .entry
            .postings
            .iter()
            .filter(|p| &p.commodity == code && p.amount.0 > 0)
            .fold(Amount(0), |sum, p| sum.checked_add(p.amount).unwrap_or(sum));
        format!("{} {code}", format(code, debits))
    });
    Recent {
        date: entry.entry.date,
        description: entry.entry.description.clone(),
        accounts: accounts.join(", "),
        amount: moved,
        status: entry.status.map(|s| s.as_str()),
    }
}

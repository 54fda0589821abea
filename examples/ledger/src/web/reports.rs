//! The reports pages: `GET /reports` (the four reports and a form for the range and step) and
//! `GET /reports/{kind}?from=&to=&step=&format=` for `trial-balance`, `balance-sheet`,
//! `income-statement` and `cash-flow`, as a page (htmx requests get only the `table` block)
//! or, with `format=csv`, as a CSV download.
//!
//! Handlers are thin: the query is checked here (`params`; empty fields take the defaults:
//! `to` today, `from` the first day of `to`'s year, `step` month), the table is built by
//! `statements::period_table` on a reader connection, and this file only formats it: amounts
//! in their commodity's precision, account rows linked to the register
//! (`/accounts/{name}/register?from=&to=`), CSV quoted as RFC 4180. Any signed-in role may
//! read reports. A bad query (not a date, an unknown kind, step or format, `from` after `to`,
//! more than `REPORT_PERIODS_MAX` columns) is a 400 page that says why. Not here: the rules
//! of the reports (`domain::period_report`), saved report settings, conversion between
//! commodities. Tests: unit tests below; pages in `tests/cli/web_reports.rs`.

use super::WebState;
use super::auth::{Base, CurrentUser, service_error};
use crate::domain::period_report::{PeriodTable, ReportKind, RowKind, TableRow};
use crate::domain::periods::{self, Step};
use crate::domain::{Amount, CommodityCode, Date};
use crate::service::ServiceError;
use crate::statements::{self, StatementError};
use crate::store::StoreError;
use kiln::app::{Html, IntoResponse, Path, Query, State};
use kiln::htmx::Htmx;
use kiln::http::{HeaderValue, Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The query string of every report page; every field may be absent or empty.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// A checked query.
#[derive(Debug, PartialEq, Eq)]
struct Params {
    from: Date,
    to: Date,
    step: Step,
    csv: bool,
    periods: Vec<(Date, Date)>,
}

/// Longest piece of a refused value quoted back in a 400 page, in characters.
const QUOTED_CHARS_MAX: usize = 40;

fn quoted(text: &str) -> String {
    format!(
        "{:?}",
        text.chars().take(QUOTED_CHARS_MAX).collect::<String>()
    )
}

/// A field's text, `None` when absent or blank.
fn field(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// Checks the query against `today`; `Err` is the reason for a 400 page.
fn params(query: &ReportQuery, today: Date) -> Result<Params, String> {
    let date = |name: &str, text: &str| {
        Date::parse(text).map_err(|error| format!("The {name} date is {error}."))
    };
    let to = match field(&query.to) {
        Some(text) => date("to", text)?,
        None => today,
    };
    let from = match field(&query.from) {
        Some(text) => date("from", text)?,
        None => Date::from_ymd(to.ymd().0, 1, 1).unwrap_or(to),
    };
    let step = match field(&query.step) {
        Some(text) => Step::from_str_exact(text).ok_or_else(|| {
            format!(
                "There is no step {}: choose month, quarter or year.",
                quoted(text)
            )
        })?,
        None => Step::Month,
    };
    let csv = match field(&query.format) {
        None | Some("html") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(format!(
                "There is no format {}: choose csv or html.",
                quoted(other)
            ));
        }
    };
    let periods = periods::periods(from, to, step).map_err(|error| {
        let mut reason = error.to_string();
        if let Some(first) = reason.get(..1) {
            reason.replace_range(..1, &first.to_uppercase());
        }
        reason + "."
    })?;
    Ok(Params {
        from,
        to,
        step,
        csv,
        periods,
    })
}

fn bad_request(reason: &str) -> Response {
    Response::error(StatusCode::BAD_REQUEST, reason)
}

fn today(state: &WebState) -> Result<Date, Response> {
    Date::of_timestamp(state.ledger.now())
        .ok_or_else(|| service_error(ServiceError::Failed("the clock is outside the calendar")))
}

/// `/reports/{kind}?from=&to=&step=`, with `&` as written in a URL (templates escape it).
fn report_href(kind: ReportKind, params: &Params) -> String {
    format!(
        "/reports/{}?from={}&to={}&step={}",
        kind.slug(),
        params.from,
        params.to,
        params.step
    )
}

/// Bytes a path segment keeps as they are: the same set as kiln's `url_for`, so a link built
/// here equals `url_for("register", name=...)`.
fn keeps(byte: u8) -> bool {
    byte.is_ascii_graphic() && !b"\"#%'/<>?[\\]^`{|}".contains(&byte)
}

/// `text` percent-encoded for one path segment (UTF-8, every other byte as `%XX`).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if keeps(byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The register of `account` over the report's range.
fn register_href(account: &str, params: &Params) -> String {
    format!(
        "/accounts/{}/register?from={}&to={}",
        path_segment(account),
        params.from,
        params.to
    )
}

#[derive(Serialize)]
struct ReportLink {
    slug: &'static str,
    title: &'static str,
    description: &'static str,
    href: String,
    current: bool,
}

fn report_links(params: &Params, current: Option<ReportKind>) -> Vec<ReportLink> {
    ReportKind::ALL
        .into_iter()
        .map(|kind| ReportLink {
            slug: kind.slug(),
            title: kind.title(),
            description: kind.description(),
            href: report_href(kind, params),
            current: Some(kind) == current,
        })
        .collect()
}

const STEPS: [&str; 3] = ["month", "quarter", "year"];

#[derive(Serialize)]
struct IndexPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    from: Date,
    to: Date,
    step: &'static str,
    steps: [&'static str; 3],
    reports: Vec<ReportLink>,
    periods_max: usize,
}

/// `GET /reports`: the four reports, and the form that opens one for a range and step.
pub async fn index(
    CurrentUser(current): CurrentUser,
    State(state): State<WebState>,
    Query(query): Query<ReportQuery>,
) -> Response {
    let today = match today(&state) {
        Ok(today) => today,
        Err(response) => return response,
    };
    let params = match params(&query, today) {
        Ok(params) => params,
        Err(reason) => return bad_request(&reason),
    };
    let page = IndexPage {
        base: Base::of(&current),
        from: params.from,
        to: params.to,
        step: params.step.as_str(),
        steps: STEPS,
        reports: report_links(&params, None),
        periods_max: crate::limits::REPORT_PERIODS_MAX,
    };
    state
        .templates
        .render("reports.html", page)
        .map(Html)
        .into_response()
}

/// `GET /reports/{kind}`: one report as a page, its table alone for htmx, or a CSV file.
pub async fn show(
    CurrentUser(current): CurrentUser,
    htmx: Htmx,
    State(state): State<WebState>,
    Path(kind): Path<String>,
    Query(query): Query<ReportQuery>,
) -> Response {
    let Some(kind) = ReportKind::from_slug(&kind) else {
        return bad_request(&format!(
            "There is no report {}: the reports are trial-balance, balance-sheet, \
             income-statement and cash-flow.",
            quoted(&kind)
        ));
    };
    let today = match today(&state) {
        Ok(today) => today,
        Err(response) => return response,
    };
    let params = match params(&query, today) {
        Ok(params) => params,
        Err(reason) => return bad_request(&reason),
    };
    let tenant = current.tenant.tenant;
    let read = state.ledger.read_tenant(tenant, |store, tenant| {
        let precisions: BTreeMap<CommodityCode, u8> = store
            .commodities(tenant)?
            .into_iter()
            .map(|c| (c.code, c.precision))
            .collect();
        let table = statements::period_table(store, tenant, kind, &params.periods, params.step)
            .map_err(store_error)?;
        Ok((precisions, table))
    });
    let (precisions, table) = match read {
        Ok(read) => read,
        Err(error) => return service_error(error),
    };
    let amounts = Amounts(&precisions);
    if params.csv {
        return csv_response(&table, &params, &amounts);
    }
    let page = report_page(Base::of(&current), &table, &params, &amounts);
    htmx.render(&state.templates, "report.html", "table", page)
}

fn store_error(error: StatementError) -> StoreError {
    match error {
        StatementError::Store(error) => error,
        StatementError::Report(error) => StoreError::Corrupt(error.to_string()),
    }
}

/// Formats amounts in their commodity's precision.
struct Amounts<'a>(&'a BTreeMap<CommodityCode, u8>);

impl Amounts<'_> {
    fn format(&self, commodity: &CommodityCode, amount: Amount) -> String {
        amount.format(self.0.get(commodity).copied().unwrap_or(0))
    }
}

#[derive(Serialize)]
struct ColumnView {
    label: String,
    dates: String,
    total: bool,
}

#[derive(Serialize)]
struct CellView {
    text: String,
    negative: bool,
    zero: bool,
}

#[derive(Serialize)]
struct RowView {
    label: String,
    href: Option<String>,
    commodity: String,
    kind: &'static str,
    cells: Vec<CellView>,
}

#[derive(Serialize)]
struct SectionView {
    title: &'static str,
    rows: Vec<RowView>,
}

#[derive(Serialize)]
struct ReportPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    title: &'static str,
    description: &'static str,
    action: String,
    from: Date,
    to: Date,
    step: &'static str,
    steps: [&'static str; 3],
    reports: Vec<ReportLink>,
    csv_href: String,
    columns: Vec<ColumnView>,
    sub_columns: &'static [&'static str],
    /// Every cell column and the two label columns, for `colspan`.
    span: usize,
    sections: Vec<SectionView>,
    /// What the check rows say, if the report has any.
    check: Option<Check>,
}

#[derive(Serialize)]
struct Check {
    ok: bool,
    message: &'static str,
}

fn report_page<'a>(
    base: Base<'a>,
    table: &PeriodTable,
    params: &Params,
    amounts: &Amounts<'_>,
) -> ReportPage<'a> {
    let kind = table.kind;
    let columns = table
        .columns
        .iter()
        .map(|column| ColumnView {
            label: column.label.clone(),
            dates: if kind.is_flow() {
                format!("{} – {}", column.from, column.to)
            } else {
                format!("at {}", column.to)
            },
            total: column.total,
        })
        .collect();
    let sections = table
        .sections
        .iter()
        .map(|section| SectionView {
            title: section.title,
            rows: section
                .rows
                .iter()
                .map(|row| row_view(row, params, amounts))
                .collect(),
        })
        .collect();
    let href = report_href(kind, params);
    ReportPage {
        base,
        title: kind.title(),
        description: kind.description(),
        action: format!("/reports/{}", kind.slug()),
        from: params.from,
        to: params.to,
        step: params.step.as_str(),
        steps: STEPS,
        reports: report_links(params, Some(kind)),
        csv_href: format!("{href}&format=csv"),
        columns,
        sub_columns: table.sub_columns,
        span: 2 + table.columns.len() * table.sub_columns.len(),
        sections,
        check: check(table),
    }
}

fn row_view(row: &TableRow, params: &Params, amounts: &Amounts<'_>) -> RowView {
    RowView {
        label: row.label.clone(),
        href: row
            .account
            .as_ref()
            .map(|account| register_href(account.as_str(), params)),
        commodity: row.commodity.as_str().to_owned(),
        kind: row.kind.as_str(),
        cells: row
            .cells
            .iter()
            .map(|cell| match cell {
                Some(amount) => CellView {
                    text: amounts.format(&row.commodity, *amount),
                    negative: amount.0 < 0,
                    zero: amount.0 == 0,
                },
                None => CellView {
                    text: String::new(),
                    negative: false,
                    zero: false,
                },
            })
            .collect(),
    }
}

/// Whether every check row of the table is zero, in words.
fn check(table: &PeriodTable) -> Option<Check> {
    let mut checks = table
        .rows()
        .filter(|(_, row)| row.kind == RowKind::Check)
        .peekable();
    checks.peek()?;
    let ok = checks.all(|(_, row)| row.cells.iter().flatten().all(|a| a.0 == 0));
    let message = match (table.kind, ok) {
        (ReportKind::BalanceSheet, true) => {
            "Assets = Liabilities + Equity in every commodity and period."
        }
        (ReportKind::TrialBalance, true) => "Debits equal credits in every commodity and period.",
        (ReportKind::CashFlow, true) => {
            "Inflows and outflows add up to the change in cash in every commodity and period."
        }
        _ => "A check row is not zero: the books do not add up here. Run `ledger check`.",
    };
    Some(Check { ok, message })
}

/// The CSV header of each cell column: the period's end for a position, `FROM..TO` for
/// activity, `Total FROM..TO` for the total column, then the sub-column's name if any.
fn csv_headers(table: &PeriodTable) -> Vec<String> {
    let mut headers = Vec::new();
    for column in &table.columns {
        let base = match (table.kind.is_flow(), column.total) {
            (false, _) => column.to.to_string(),
            (true, false) => format!("{}..{}", column.from, column.to),
            (true, true) => format!("Total {}..{}", column.from, column.to),
        };
        for sub in table.sub_columns {
            headers.push(if sub.is_empty() {
                base.clone()
            } else {
                format!("{base} {sub}")
            });
        }
    }
    headers
}

/// The whole table as CSV: a header record (`Section,Account,Commodity,` then the cell
/// columns), then one record per row; amounts as decimal text in the commodity's precision,
/// an empty field for an empty cell; CRLF line ends (RFC 4180).
fn csv(table: &PeriodTable, amounts: &Amounts<'_>) -> String {
    let mut out = String::new();
    let mut header = vec![
        "Section".to_owned(),
        "Account".to_owned(),
        "Commodity".to_owned(),
    ];
    header.extend(csv_headers(table));
    csv_record(&mut out, header.iter().map(String::as_str));
    for (section, row) in table.rows() {
        let cells: Vec<String> = row
            .cells
            .iter()
            .map(|cell| match cell {
                Some(amount) => amounts.format(&row.commodity, *amount),
                None => String::new(),
            })
            .collect();
        let texts = [
            csv_text(section),
            csv_text(&row.label),
            csv_text(row.commodity.as_str()),
        ];
        let fields = texts
            .iter()
            .map(String::as_str)
            .chain(cells.iter().map(String::as_str));
        csv_record(&mut out, fields);
    }
    out
}

/// One record, each field quoted if it must be, ended by CRLF.
fn csv_record<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    for (index, field) in fields.enumerate() {
        if index > 0 {
            out.push(',');
        }
        csv_field(out, field);
    }
    out.push_str("\r\n");
}

/// RFC 4180: a field holding a comma, a double quote or a line break is written in double
/// quotes, each quote doubled; any other field as it is.
fn csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// A text field (never an amount) that a spreadsheet would run as a formula (it starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP advises;
/// every other text is kept as it is.
fn csv_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn csv_response(table: &PeriodTable, params: &Params, amounts: &Amounts<'_>) -> Response {
    let filename = format!("{}-{}-{}.csv", table.kind.slug(), params.from, params.to);
    let mut response = Response::ok(csv(table, amounts))
        .with_static_header("content-type", "text/csv; charset=utf-8");
    // The name is a slug and two ISO dates: always a valid header value.
    let disposition = format!("attachment; filename=\"{filename}\"");
    if let Ok(value) = HeaderValue::try_from(disposition) {
        let _ = response.set_header("content-disposition", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::csv_reader::read_records;

    fn day(text: &str) -> Date {
        Date::parse(text).expect(text)
    }

    fn query(from: &str, to: &str, step: &str, format: &str) -> ReportQuery {
        let some = |text: &str| Some(text.to_owned());
        ReportQuery {
            from: some(from),
            to: some(to),
            step: some(step),
            format: some(format),
        }
    }

    #[test]
    fn empty_fields_take_the_defaults() {
        let today = day("2024-06-15");
        let expected = |params: Params| {
            assert_eq!(
                (params.from, params.to, params.step, params.csv),
                (day("2024-01-01"), today, Step::Month, false)
            );
            assert_eq!(params.periods.len(), 6);
        };
        expected(params(&ReportQuery::default(), today).expect("defaults"));
        expected(params(&query("", " ", "", ""), today).expect("blank fields"));
        let earlier = params(&query("", "2023-03-31", "quarter", "csv"), today).expect("to");
        assert_eq!(earlier.from, day("2023-01-01"), "from follows to's year");
        assert_eq!((earlier.step, earlier.csv), (Step::Quarter, true));
    }

    #[test]
    fn bad_values_are_reasons_not_panics() {
        let today = day("2024-06-15");
        let cases = [
            (
                query("2024-13-01", "", "", ""),
                "The from date is not a date",
            ),
            (query("", "yesterday", "", ""), "The to date is not a date"),
            (query("", "", "week", ""), "There is no step \"week\""),
            (query("", "", "", "xlsx"), "There is no format \"xlsx\""),
            (
                query("2024-06-02", "2024-06-01", "", ""),
                "The period ends (2024-06-01) before it starts (2024-06-02).",
            ),
            (
                query("2020-01-01", "2024-12-31", "month", ""),
                "This range makes 60 month columns; a report has at most 36",
            ),
        ];
        for (query, says) in cases {
            let reason = params(&query, today).expect_err(says);
            assert!(reason.contains(says), "{reason}");
        }
        let long = "x".repeat(10_000);
        let reason = params(&query("", "", &long, ""), today).expect_err("long");
        assert!(reason.len() < 200, "a refused value is quoted short");
    }

    #[test]
    fn account_names_are_encoded_like_url_for() {
        assert_eq!(
            path_segment("Assets:Bank:Euro Account"),
            "Assets:Bank:Euro%20Account"
        );
        assert_eq!(
            path_segment("Expenses:Meals, Travel/Trips?#%"),
            "Expenses:Meals,%20Travel%2FTrips%3F%23%25"
        );
        assert_eq!(path_segment("Actifs:Caisse é"), "Actifs:Caisse%20%C3%A9");
        let params = params(
            &query("2024-01-01", "2024-03-31", "", ""),
            day("2024-06-15"),
        )
        .expect("params");
        assert_eq!(
            register_href("Assets:Bank", &params),
            "/accounts/Assets:Bank/register?from=2024-01-01&to=2024-03-31"
        );
    }

    #[test]
    fn csv_fields_are_quoted_as_rfc_4180_and_read_back() {
        let mut out = String::new();
        let fields = [
            "plain",
            "Expenses:Meals, Travel",
            "say \"hi\"",
            "two\nlines",
            "",
        ];
        csv_record(&mut out, fields.into_iter());
        assert_eq!(
            out,
            "plain,\"Expenses:Meals, Travel\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n"
        );
        let records = read_records(&out, ',').expect("reads");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].fields, fields);
    }

    #[test]
    fn text_that_a_spreadsheet_would_run_is_defused() {
        assert_eq!(csv_text("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_text("@cmd"), "'@cmd");
        assert_eq!(csv_text("Assets:Bank"), "Assets:Bank");
    }
}

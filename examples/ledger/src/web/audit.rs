//! The audit log page (every change to the organisation, newest first, paged by index) with
//! "Verify chain" (the chain and the balances recomputed on a reader), and the record view the
//! entry page's trail shares. Readable by every role. Tests: `tests/cli/web_people.rs`.

use super::WebState;
use super::auth::{Base, CurrentUser, render, service_error};
use crate::domain::{AuditRecord, Date, Timestamp};
use crate::service::accounts::SessionUser;
use kiln::app::{Query, State};
use kiln::htmx::Htmx;
use kiln::http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

/// Audit records per page of the audit log.
pub const AUDIT_PAGE_RECORDS: usize = 50;

/// `YYYY-MM-DD HH:MM UTC`.
pub(super) fn when(at: Timestamp) -> String {
    let day = Date::of_timestamp(at).map_or_else(|| at.0.to_string(), |d| d.to_string());
    let seconds = at.0.rem_euclid(86_400);
    format!(
        "{day} {:02}:{:02} UTC",
        seconds / 3_600,
        seconds % 3_600 / 60
    )
}

#[derive(Serialize)]
struct AuditPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    records: Vec<RecordView>,
    /// The query of the next (older) page, if there may be one.
    older: Option<i64>,
    verify: Option<Verdict>,
}

/// One audit record as pages show it.
#[derive(Serialize)]
pub(super) struct RecordView {
    sequence: i64,
    at: String,
    actor: String,
    origin: Option<String>,
    action: String,
    details: String,
}

/// What "Verify chain" found.
#[derive(Serialize)]
struct Verdict {
    ok: bool,
    message: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    before: Option<String>,
}

pub async fn audit(
    CurrentUser(current): CurrentUser,
    State(state): State<WebState>,
    Query(query): Query<AuditQuery>,
) -> Response {
    let before = match query.before.as_deref().map(str::trim) {
        None | Some("") => i64::MAX,
        Some(text) => match text.parse::<i64>() {
            Ok(before) if before > 0 => before,
            _ => {
                return Response::error(
                    StatusCode::BAD_REQUEST,
                    "before: a positive record number.",
                );
            }
        },
    };
    audit_page(&state, &current, before, None)
}

/// The audit page from `before` back; with a verdict, htmx gets the verdict's block alone.
fn audit_page(
    state: &WebState,
    current: &SessionUser,
    before: i64,
    verify: Option<(&Htmx, Verdict)>,
) -> Response {
    let records = match state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            store.audit_records_before(tenant, before, AUDIT_PAGE_RECORDS)
        }) {
        Ok(records) => records,
        Err(error) => return service_error(error),
    };
    let older = match records.last() {
        Some(last) if records.len() == AUDIT_PAGE_RECORDS && last.sequence > 1 => {
            Some(last.sequence)
        }
        _ => None,
    };
    let (htmx, verify) = match verify {
        Some((htmx, verdict)) => (Some(htmx), Some(verdict)),
        None => (None, None),
    };
    let page = AuditPage {
        base: Base::of(current),
        records: records.into_iter().map(record_view).collect(),
        older,
        verify,
    };
    match htmx {
        Some(htmx) => htmx.render(&state.templates, "audit.html", "verify", page),
        None => render(state, "audit.html", page, StatusCode::OK),
    }
}

pub(super) fn record_view(record: AuditRecord) -> RecordView {
    RecordView {
        sequence: record.sequence,
        at: when(record.at),
        actor: record.actor,
        origin: record.origin,
        action: record.action,
        details: record.details,
    }
}

/// Recomputes the organisation's audit chain (and its balances) on a reader: OK with the
/// count, or the first problem. htmx gets the verdict alone; without JavaScript, the page.
pub async fn verify(
    CurrentUser(current): CurrentUser,
    htmx: Htmx,
    State(state): State<WebState>,
) -> Response {
    let report = match state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            store.check(Some(tenant))
        }) {
        Ok(report) => report,
        Err(error) => return service_error(error),
    };
    let verdict = match report.problems.first() {
        None if report.is_clean() => Verdict {
            ok: true,
            message: format!(
                "OK: the chain of {} audit records is intact, and {} entries balance.",
                report.audit_records, report.entries
            ),
        },
        None => Verdict {
            ok: false,
            message: format!("{} problems found.", report.problems_not_shown),
        },
        Some(problem) => Verdict {
            ok: false,
            message: format!("Broken: {}: {}", problem.check.as_str(), problem.detail),
        },
    };
    audit_page(&state, &current, i64::MAX, Some((&htmx, verdict)))
}

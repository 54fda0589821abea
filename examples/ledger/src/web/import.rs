//! The import pages: upload a journal (hledger/ledger-cli syntax) or a bank CSV with its
//! mapping (the rules of `interop::csv_rules`), see a preview of what will be written (the
//! entries, the accounts and commodities to create, the duplicates skipped) or every problem
//! with its line, then confirm.
//!
//! The upload is a `multipart/form-data` form (kiln's `Multipart`), so it works without
//! JavaScript. The preview is checked on a reader connection (`interop::plan_journal`,
//! `interop::plan_csv`); the uploaded text waits in `Staging`, in memory, for the confirmation,
//! which plans again against the books as they are then and writes through the writer in one
//! transaction (`WriteOp::ImportBook`): all or nothing. Staging is bounded
//! (`WEB_IMPORT_STAGED_MAX` previews, the oldest dropped, each valid for
//! `WEB_IMPORT_STAGED_TTL_SECS`) and a preview belongs to the person and organisation that
//! uploaded it; a restart forgets previews (upload again). Writers only (owners and
//! accountants). Not here: imports bigger than `WEB_IMPORT_ENTRIES_MAX` entries (the CLI's
//! `ledger import` takes them without holding the writer for long from the web).

use super::WebState;
use super::auth::{
    Base, CurrentUser, Peer, may_write, refusal_message, render, service_error, write_as_user,
};
use crate::domain::{TenantId, UserId};
use crate::interop::{
    CsvImportError, CsvRules, ImportError, Problems, parse_journal, parse_rules, plan_csv,
    plan_journal,
};
use crate::limits::{
    WEB_IMPORT_ENTRIES_MAX, WEB_IMPORT_FILE_BYTES_MAX, WEB_IMPORT_PREVIEW_ROWS,
    WEB_IMPORT_STAGED_MAX, WEB_IMPORT_STAGED_TTL_SECS,
};
use crate::store::{BookImport, WriteOp, WriteOutcome};
use kiln::app::{Flash, Multipart, Path, State};
use kiln::htmx::Htmx;
use kiln::http::{Response, StatusCode};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What was uploaded.
#[derive(Clone, Debug)]
enum Source {
    Journal { text: String },
    Csv { text: String, rules: String },
}

#[derive(Clone, Debug)]
struct Staged {
    id: String,
    tenant: TenantId,
    user: UserId,
    file_name: String,
    source: Source,
    at: Instant,
}

/// Uploads waiting for their confirmation (see the module doc for the bounds).
#[derive(Debug, Default)]
pub struct Staging {
    staged: Mutex<VecDeque<Staged>>,
}

impl Staging {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Staged>> {
        // A panic while holding the lock leaves only whole entries behind: keep going.
        self.staged.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `staged`, dropping expired previews and, past the bound, the oldest.
    fn put(&self, staged: Staged) {
        let mut queue = self.lock();
        let ttl = Duration::from_secs(WEB_IMPORT_STAGED_TTL_SECS);
        queue.retain(|s| s.at.elapsed() < ttl);
        while queue.len() >= WEB_IMPORT_STAGED_MAX {
            queue.pop_front();
        }
        queue.push_back(staged);
    }

    /// The preview `id` of this person in this organisation, if it is still kept.
    fn get(&self, id: &str, tenant: TenantId, user: UserId) -> Option<Staged> {
        let ttl = Duration::from_secs(WEB_IMPORT_STAGED_TTL_SECS);
        self.lock()
            .iter()
            .find(|s| s.id == id && s.tenant == tenant && s.user == user && s.at.elapsed() < ttl)
            .cloned()
    }

    fn remove(&self, id: &str) {
        self.lock().retain(|s| s.id != id);
    }
}

#[derive(Serialize)]
struct FormPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    kind: &'a str,
    rules: &'a str,
    error: Option<String>,
    file_bytes_max: usize,
    entries_max: usize,
}

fn form_page(
    state: &WebState,
    current: &crate::service::accounts::SessionUser,
    kind: &str,
    rules: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let page = FormPage {
        base: Base::of(current),
        kind,
        rules,
        error,
        file_bytes_max: WEB_IMPORT_FILE_BYTES_MAX,
        entries_max: WEB_IMPORT_ENTRIES_MAX,
    };
    render(state, "import.html", page, status)
}

/// The upload form.
pub async fn form(CurrentUser(current): CurrentUser, State(state): State<WebState>) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    form_page(&state, &current, "journal", "", None, StatusCode::OK)
}

/// Reads the upload, plans it and shows the preview (or the problems).
pub async fn upload(
    CurrentUser(current): CurrentUser,
    State(state): State<WebState>,
    form: Multipart,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let kind = match form.text("kind") {
        Ok(Some(kind @ ("journal" | "csv"))) => kind,
        _ => {
            return refused_form(
                &state,
                &current,
                "journal",
                "",
                "Choose a journal or a bank CSV.",
            );
        }
    };
    let rules_text = match rules_text(&form) {
        Ok(text) => text,
        Err(why) => return refused_form(&state, &current, kind, "", &why),
    };
    let Some(file) = form.file("file") else {
        return refused_form(
            &state,
            &current,
            kind,
            &rules_text,
            "Choose a file to import.",
        );
    };
    if file.data().len() > WEB_IMPORT_FILE_BYTES_MAX {
        let why = format!(
            "The file is {} bytes; the import page takes up to {WEB_IMPORT_FILE_BYTES_MAX} \
             (use `ledger import` for bigger files).",
            file.data().len()
        );
        return refused_form(&state, &current, kind, &rules_text, &why);
    }
    let Ok(text) = std::str::from_utf8(file.data()) else {
        let why = "The file is not UTF-8 text: save it as UTF-8 and upload it again.";
        return refused_form(&state, &current, kind, &rules_text, why);
    };
    let source = match kind {
        "csv" => Source::Csv {
            text: text.to_owned(),
            rules: rules_text,
        },
        _ => Source::Journal {
            text: text.to_owned(),
        },
    };
    let staged = Staged {
        id: match fresh_id() {
            Ok(id) => id,
            Err(response) => return response,
        },
        tenant: current.tenant.tenant,
        user: current.user.id,
        file_name: file.filename().unwrap_or("upload").to_owned(),
        source,
        at: Instant::now(),
    };
    let outcome = plan(&state, &staged);
    let response = preview_page(&state, &current, &staged, &outcome);
    if matches!(outcome, Ok(ref plan) if plan.importable()) {
        state.imports.put(staged);
    }
    response
}

/// Writes a previewed import, after planning it again against the books as they are now.
pub async fn confirm(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    flash: Flash,
    htmx: Htmx,
    State(state): State<WebState>,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let Some(staged) = state
        .imports
        .get(&id, current.tenant.tenant, current.user.id)
    else {
        return preview_gone();
    };
    let plan = match plan(&state, &staged) {
        Ok(plan) if plan.importable() => plan,
        outcome => return preview_page(&state, &current, &staged, &outcome),
    };
    let lines = plan.lines.clone();
    let summary = plan.summary.clone();
    match write_as_user(&state, &current, &peer, WriteOp::ImportBook(plan.book)).await {
        Ok(WriteOutcome::Imported(ids)) => {
            state.imports.remove(&id);
            flash.success(format!(
                "Imported {} entries from {}{}.",
                ids.len(),
                staged.file_name,
                summary.created_suffix()
            ));
            htmx.redirect("/")
        }
        Ok(WriteOutcome::ImportRefused { index, error }) => {
            let mut problems = Problems::default();
            problems.push(lines.get(index).copied().unwrap_or(0), error.to_string());
            preview_page(&state, &current, &staged, &Err(Refusal::Problems(problems)))
        }
        Ok(other) => service_error(crate::service::ServiceError::Store(
            crate::store::StoreError::Corrupt(format!("an import answered {other:?}")),
        )),
        Err(error) => match refusal_message(&error) {
            Some(message) => {
                let mut problems = Problems::default();
                problems.push(0, message);
                preview_page(&state, &current, &staged, &Err(Refusal::Problems(problems)))
            }
            None => service_error(error),
        },
    }
}

/// Forgets a preview.
pub async fn cancel(
    CurrentUser(current): CurrentUser,
    flash: Flash,
    htmx: Htmx,
    State(state): State<WebState>,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    if state
        .imports
        .get(&id, current.tenant.tenant, current.user.id)
        .is_none()
    {
        return preview_gone();
    }
    state.imports.remove(&id);
    flash.info("Import cancelled: nothing was written.");
    htmx.redirect("/import")
}

/// 404 for a preview that is not this person's in this organisation, or no longer kept.
fn preview_gone() -> Response {
    Response::error(
        StatusCode::NOT_FOUND,
        "This preview is no longer kept (it expired, was imported or cancelled, or the server \
         restarted): upload the file again.",
    )
}

fn refused_form(
    state: &WebState,
    current: &crate::service::accounts::SessionUser,
    kind: &str,
    rules: &str,
    why: &str,
) -> Response {
    form_page(
        state,
        current,
        kind,
        rules,
        Some(why.to_owned()),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// The CSV mapping: the uploaded rules file if there is one, else the text area.
fn rules_text(form: &Multipart) -> Result<String, String> {
    if let Some(file) = form.file("rules_file") {
        return std::str::from_utf8(file.data())
            .map(str::to_owned)
            .map_err(|_| "The rules file is not UTF-8 text.".to_owned());
    }
    match form.text("rules") {
        Ok(text) => Ok(text.unwrap_or("").replace("\r\n", "\n")),
        Err(_) => Err("The rules are not UTF-8 text.".to_owned()),
    }
}

fn fresh_id() -> Result<String, Response> {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return Err(service_error(crate::service::ServiceError::Failed(
            "no randomness for an import id",
        )));
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What planning an upload came to, whichever its kind.
struct Plan {
    book: BookImport,
    lines: Vec<usize>,
    summary: Summary,
}

impl Plan {
    fn importable(&self) -> bool {
        !self.book.entries.is_empty() && self.book.entries.len() <= WEB_IMPORT_ENTRIES_MAX
    }
}

#[derive(Clone, Serialize)]
struct Summary {
    entries: usize,
    accounts: Vec<String>,
    commodities: Vec<String>,
    assertions: usize,
    prices: usize,
    skipped: usize,
}

impl Summary {
    fn created_suffix(&self) -> String {
        match (self.accounts.len(), self.commodities.len()) {
            (0, 0) => String::new(),
            (a, 0) => format!(", creating {a} accounts"),
            (0, c) => format!(", creating {c} commodities"),
            (a, c) => format!(", creating {a} accounts and {c} commodities"),
        }
    }
}

enum Refusal {
    /// Problems in the file (or the rules), each with its line.
    Problems(Problems),
    /// Problems in the CSV rules, each with its line in the rules.
    Rules(Problems),
    /// The ledger itself failed.
    Failed(crate::service::ServiceError),
}

fn plan(state: &WebState, staged: &Staged) -> Result<Plan, Refusal> {
    let read = state
        .ledger
        .read_tenant(staged.tenant, |store, tenant| match &staged.source {
            Source::Journal { text } => {
                let journal = match parse_journal(text) {
                    Ok(journal) => journal,
                    Err(problems) => return Ok(Err(Refusal::Problems(problems))),
                };
                Ok(match plan_journal(store, tenant, &journal) {
                    Ok(plan) => Ok(Plan {
                        summary: Summary {
                            entries: plan.book.entries.len(),
                            accounts: names(&plan.book),
                            commodities: codes(&plan.book),
                            assertions: plan.summary.assertions,
                            prices: plan.book.prices.len(),
                            skipped: 0,
                        },
                        lines: plan.lines,
                        book: plan.book,
                    }),
                    Err(ImportError::Problems(problems)) => Err(Refusal::Problems(problems)),
                    Err(ImportError::Store(error)) => return Err(error),
                })
            }
            Source::Csv { text, rules } => {
                let rules: CsvRules = match parse_rules(rules) {
                    Ok(rules) => rules,
                    Err(problems) => return Ok(Err(Refusal::Rules(problems))),
                };
                Ok(match plan_csv(store, tenant, &rules, text) {
                    Ok(plan) => Ok(Plan {
                        summary: Summary {
                            entries: plan.book.entries.len(),
                            accounts: names(&plan.book),
                            commodities: codes(&plan.book),
                            assertions: 0,
                            prices: 0,
                            skipped: plan.summary.skipped,
                        },
                        lines: plan.rows.iter().map(|row| row.line).collect(),
                        book: plan.book,
                    }),
                    Err(CsvImportError::Csv(problems)) => Err(Refusal::Problems(problems)),
                    Err(CsvImportError::Rules(problems)) => Err(Refusal::Rules(problems)),
                    Err(CsvImportError::Store(error)) => return Err(error),
                })
            }
        });
    match read {
        Ok(outcome) => outcome,
        Err(error) => Err(Refusal::Failed(error)),
    }
}

fn names(book: &BookImport) -> Vec<String> {
    book.accounts.iter().map(|a| a.name.to_string()).collect()
}

fn codes(book: &BookImport) -> Vec<String> {
    book.commodities
        .iter()
        .map(|c| c.code.to_string())
        .collect()
}

#[derive(Serialize)]
struct PreviewPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    id: &'a str,
    file_name: &'a str,
    kind: &'static str,
    summary: Option<Summary>,
    rows: Vec<PreviewRow>,
    rows_not_shown: usize,
    importable: bool,
    too_many: bool,
    entries_max: usize,
    problems: Vec<ProblemView>,
    problems_not_shown: usize,
    problems_in: &'static str,
    rules: &'a str,
}

#[derive(Serialize)]
struct PreviewRow {
    line: usize,
    date: String,
    description: String,
    postings: Vec<(String, String, String)>,
}

#[derive(Serialize)]
struct ProblemView {
    line: usize,
    reason: String,
}

fn preview_page(
    state: &WebState,
    current: &crate::service::accounts::SessionUser,
    staged: &Staged,
    outcome: &Result<Plan, Refusal>,
) -> Response {
    let (kind, rules) = match &staged.source {
        Source::Journal { .. } => ("journal", ""),
        Source::Csv { rules, .. } => ("csv", rules.as_str()),
    };
    let mut page = PreviewPage {
        base: Base::of(current),
        id: &staged.id,
        file_name: &staged.file_name,
        kind,
        summary: None,
        rows: Vec::new(),
        rows_not_shown: 0,
        importable: false,
        too_many: false,
        entries_max: WEB_IMPORT_ENTRIES_MAX,
        problems: Vec::new(),
        problems_not_shown: 0,
        problems_in: "file",
        rules,
    };
    let status = match outcome {
        Ok(plan) => {
            page.summary = Some(plan.summary.clone());
            page.rows = plan
                .book
                .entries
                .iter()
                .zip(&plan.lines)
                .take(WEB_IMPORT_PREVIEW_ROWS)
                .map(|(entry, line)| PreviewRow {
                    line: *line,
                    date: entry.date.to_string(),
                    description: entry.description.clone(),
                    postings: entry
                        .postings
                        .iter()
                        .map(|p| {
                            (
                                p.account.to_string(),
                                p.amount.to_string(),
                                p.commodity.to_string(),
                            )
                        })
                        .collect(),
                })
                .collect();
            page.rows_not_shown = plan.book.entries.len().saturating_sub(page.rows.len());
            page.importable = plan.importable();
            page.too_many = plan.book.entries.len() > WEB_IMPORT_ENTRIES_MAX;
            if page.too_many {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            }
        }
        Err(Refusal::Failed(error)) => {
            tracing::error!(?error, "an import preview failed");
            return Response::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The ledger could not check this file; it has been logged.",
            );
        }
        Err(Refusal::Problems(problems) | Refusal::Rules(problems)) => {
            if let Err(Refusal::Rules(_)) = outcome {
                page.problems_in = "rules";
            }
            page.problems = problems
                .shown
                .iter()
                .map(|p| ProblemView {
                    line: p.line,
                    reason: p.reason.clone(),
                })
                .collect();
            page.problems_not_shown = problems.not_shown;
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    render(state, "import_preview.html", page, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(id: &str, tenant: i64, user: i64) -> Staged {
        Staged {
            id: id.to_owned(),
            tenant: TenantId(tenant),
            user: UserId(user),
            file_name: "books.journal".to_owned(),
            source: Source::Journal {
                text: String::new(),
            },
            at: Instant::now(),
        }
    }

    #[test]
    fn staging_keeps_at_most_its_bound_and_drops_the_oldest() {
        let staging = Staging::default();
        for i in 0..=WEB_IMPORT_STAGED_MAX {
            staging.put(staged(&format!("p{i}"), 1, 1));
        }
        assert_eq!(staging.lock().len(), WEB_IMPORT_STAGED_MAX);
        assert!(
            staging.get("p0", TenantId(1), UserId(1)).is_none(),
            "oldest dropped"
        );
        assert!(staging.get("p1", TenantId(1), UserId(1)).is_some());
        let last = format!("p{WEB_IMPORT_STAGED_MAX}");
        assert!(staging.get(&last, TenantId(1), UserId(1)).is_some());
        staging.remove(&last);
        assert!(staging.get(&last, TenantId(1), UserId(1)).is_none());
    }

    #[test]
    fn a_preview_belongs_to_its_person_and_organisation_until_it_expires() {
        let staging = Staging::default();
        staging.put(staged("mine", 1, 7));
        assert!(staging.get("mine", TenantId(1), UserId(7)).is_some());
        assert!(staging.get("mine", TenantId(2), UserId(7)).is_none());
        assert!(staging.get("mine", TenantId(1), UserId(8)).is_none());
        let mut old = staged("old", 1, 7);
        let ttl = Duration::from_secs(WEB_IMPORT_STAGED_TTL_SECS);
        match Instant::now().checked_sub(ttl) {
            Some(at) => old.at = at,
            None => return, // an uptime shorter than the TTL: nothing to age
        }
        staging.put(old);
        assert!(
            staging.get("old", TenantId(1), UserId(7)).is_none(),
            "expired"
        );
    }
}

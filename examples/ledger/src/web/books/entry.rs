//! One entry with its postings, its links and its audit trail (who created it, reversed it,
//! posted or voided it, ticked it on a reconciliation: `Store::entry_audit`), and reversing it
//! (a confirmation form; the reversal links back).

use super::*;

#[derive(Serialize)]
struct EntryPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    id: i64,
    date: Date,
    description: String,
    payee: Option<String>,
    tags: Vec<String>,
    metadata: Vec<(String, String)>,
    postings: Vec<PostingLine>,
    status: Option<&'static str>,
    reverses: Option<i64>,
    posts: Option<i64>,
    reversed_by: Option<i64>,
    can_reverse: bool,
    today: Date,
    trail: Vec<crate::web::audit::RecordView>,
}

#[derive(Serialize)]
struct PostingLine {
    account: String,
    account_path: String,
    amount: Money,
}

pub async fn entry(
    CurrentUser(current): CurrentUser,
    State(state): State<WebState>,
    Path(id): Path<i64>,
) -> Response {
    let today = match today(&state) {
        Ok(today) => today,
        Err(response) => return response,
    };
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            let Some(stored) = store.entry(tenant, EntryId(id))? else {
                return Ok(None);
            };
            Ok(Some((
                precisions(store, tenant)?,
                stored,
                store.entry_audit(tenant, EntryId(id))?,
            )))
        });
    let (precisions, stored, trail) = match read {
        Ok(Some(read)) => read,
        Ok(None) => return Response::error(StatusCode::NOT_FOUND, "There is no such entry."),
        Err(error) => return service_error(error),
    };
    let (reverses, posts) = match stored.entry.link {
        Some(EntryLink::Reverses(id)) => (Some(id.0), None),
        Some(EntryLink::Posts(id)) => (None, Some(id.0)),
        None => (None, None),
    };
    let page = EntryPage {
        base: Base::of(&current),
        id,
        date: stored.entry.date,
        description: stored.entry.description.clone(),
        payee: stored.entry.payee.clone(),
        tags: stored.entry.tags.iter().cloned().collect(),
        metadata: stored.entry.metadata.clone().into_iter().collect(),
        postings: stored
            .entry
            .postings
            .iter()
            .map(|p| PostingLine {
                account: p.account.to_string(),
                account_path: path_segment(p.account.as_str()),
                amount: money(&precisions, &p.commodity, p.amount),
            })
            .collect(),
        status: stored.status.map(|s| s.as_str()),
        reverses,
        posts,
        reversed_by: stored.reversed_by.map(|id| id.0),
        can_reverse: current.role().can_write()
            && stored.reversed_by.is_none()
            && stored.status.is_none(),
        today,
        trail: trail
            .into_iter()
            .map(crate::web::audit::record_view)
            .collect(),
    };
    render(&state, "entry.html", page, StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
pub struct ReverseFields {
    #[serde(default)]
    date: String,
}

pub async fn reverse(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Path(id): Path<i64>,
    Form(fields): Form<ReverseFields>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let date = match Date::parse(fields.date.trim()) {
        Ok(date) => date,
        Err(error) => {
            return Response::error(StatusCode::UNPROCESSABLE_ENTITY, &format!("Date: {error}"));
        }
    };
    let op = WriteOp::ReverseEntry {
        id: EntryId(id),
        date,
    };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(WriteOutcome::Entry(reversal)) => {
            flash.success(format!("Entry {id} reversed by entry {reversal}."));
            htmx.redirect(&format!("/entries/{reversal}"))
        }
        Ok(other) => service_error(ServiceError::Store(StoreError::Corrupt(format!(
            "a reversal answered {other:?}"
        )))),
        Err(ServiceError::Store(StoreError::Refused(EntryError::EntryNotFound { .. }))) => {
            Response::error(StatusCode::NOT_FOUND, "There is no such entry.")
        }
        Err(error) => match refusal_message(&error) {
            Some(message) => Response::error(StatusCode::CONFLICT, &message),
            None => service_error(error),
        },
    }
}

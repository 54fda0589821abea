//! The export page: the organisation's books as a plain-text journal that hledger and
//! ledger-cli read unchanged (`interop::export_journal`, with balance assertions), downloaded
//! as `{organisation}-{date}.journal`. Any role may export. Not here: CSV export, streaming
//! (the journal is built in memory, about 60 MB for a million postings).

use super::WebState;
use super::auth::{CurrentUser, service_error};
use crate::domain::Date;
use crate::interop::export_journal;
use crate::service::ServiceError;
use crate::store::StoreError;
use kiln::app::State;
use kiln::http::{HeaderValue, Response};

pub async fn journal(CurrentUser(current): CurrentUser, State(state): State<WebState>) -> Response {
    let Some(today) = Date::of_timestamp(state.ledger.now()) else {
        return service_error(ServiceError::Failed("the clock is outside the calendar"));
    };
    let slug = current.tenant.slug.to_string();
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            let mut text = Vec::new();
            export_journal(store, tenant, &slug, &mut text)
                .map_err(|error| StoreError::Corrupt(format!("the export failed: {error}")))?;
            Ok(text)
        });
    let text = match read {
        Ok(text) => text,
        Err(error) => return service_error(error),
    };
    let mut response =
        Response::ok(text).with_static_header("content-type", "text/plain; charset=utf-8");
    // The slug is a-z, 0-9 and -, so the file name needs no quoting beyond the quotes.
    if let Ok(value) =
        HeaderValue::try_from(format!("attachment; filename=\"{slug}-{today}.journal\"").as_str())
    {
        let _ = response.set_header("content-disposition", value);
    }
    response
}

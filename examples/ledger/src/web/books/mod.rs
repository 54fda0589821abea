//! The pages of the books: the chart of accounts as a tree with balances (create and close
//! accounts), an account's register (filters, keyset pages, running balance), an entry with
//! its links (and reversing it), and the new-entry form with live balancing feedback.
//!
//! Reads run on reader connections, writes through the writer as `user:{id}` from the client's
//! address. Viewers read; a write by a viewer is a 403. Every page works without JavaScript:
//! htmx only swaps parts (the register's rows, the balancing feedback). Not here: editing an
//! entry (entries are immutable: reverse and re-enter), renaming accounts, the audit trail of
//! an entry.
//!
//! `accounts.rs` the chart, `register.rs` an account's register, `entry.rs` one entry and its
//! reversal, `new_entry.rs` the new-entry form. This file holds what they share.

use super::WebState;
use super::auth::{
    Base, CurrentUser, Peer, may_write, refusal_message, render, service_error, write_as_user,
};
use crate::domain::{
    Account, AccountName, AccountType, Amount, CommodityCode, Date, Decimal, EntryError, EntryId,
    EntryLink, IdempotencyKey, NewEntry, NewPosting,
};
use crate::service::ServiceError;
use crate::service::accounts::SessionUser;
use crate::store::{
    AmountRange, EntryCursor, EntryRequest, RegisterFilter, StoreError, StoredEntry, WriteOp,
    WriteOutcome,
};
use kiln::app::{Flash, Form, Html, IntoResponse, Path, Query, State};
use kiln::htmx::Htmx;
use kiln::http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Lines of the register per page.
pub const REGISTER_PAGE_LINES: usize = 50;
/// Most posting rows the new-entry form offers.
pub const ENTRY_FORM_ROWS_MAX: usize = 20;

type Precisions = BTreeMap<CommodityCode, u8>;

fn precisions(
    store: &mut dyn crate::store::Store,
    tenant: crate::domain::TenantId,
) -> Result<Precisions, StoreError> {
    Ok(store
        .commodities(tenant)?
        .into_iter()
        .map(|c| (c.code, c.precision))
        .collect())
}

fn money(precisions: &Precisions, code: &CommodityCode, amount: Amount) -> Money {
    Money {
        text: amount.format(precisions.get(code).copied().unwrap_or(0)),
        commodity: code.to_string(),
        negative: amount.0 < 0,
    }
}

#[derive(Clone, Serialize)]
struct Money {
    text: String,
    commodity: String,
    negative: bool,
}

fn today(state: &WebState) -> Result<Date, Response> {
    Date::of_timestamp(state.ledger.now())
        .ok_or_else(|| service_error(ServiceError::Failed("the clock is outside the calendar")))
}

mod accounts;
mod entry;
mod new_entry;
mod register;

pub use accounts::{accounts, close_account, create_account, create_commodity, rename_account};
pub use entry::{entry, reverse};
pub use new_entry::{check_entry, create_entry, edit_rows, new_entry};
pub use register::{path_segment, register};

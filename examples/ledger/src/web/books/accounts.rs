//! The chart of accounts as a tree with balances per commodity (nodes are collapsible
//! `<details>`, no script needed), and creating and closing accounts. Not here: renaming.

use super::*;

#[derive(Serialize)]
struct AccountsPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    today: Date,
    commodities: Vec<String>,
    tree: Vec<Node>,
    can_write: bool,
    types: Vec<&'static str>,
    error: Option<String>,
    values: NewAccountFields,
}

/// One node of the tree: an account, or a name segment that only groups accounts.
#[derive(Serialize)]
struct Node {
    /// The full name (`Assets:Bank:Checking`) and its last segment.
    name: String,
    label: String,
    /// The account itself, if this node is one.
    account: Option<AccountInfo>,
    /// This node's and its children's balances, per commodity.
    totals: Vec<Money>,
    children: Vec<Node>,
}

#[derive(Serialize)]
struct AccountInfo {
    account_type: &'static str,
    opened: Date,
    closed: Option<Date>,
    balances: Vec<Money>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct NewCommodityFields {
    #[serde(default)]
    code: String,
    #[serde(default)]
    precision: String,
}

/// Adds a commodity (a currency or any unit) with its decimal places.
pub async fn create_commodity(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Form(fields): Form<NewCommodityFields>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let refused = |message: String| {
        accounts_page(
            &state,
            &current,
            Some(message),
            NewAccountFields::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let Ok(precision) = fields.precision.trim().parse::<u8>() else {
        return refused("Decimal places: a whole number from 0 to 18.".into());
    };
    let commodity = match crate::domain::Commodity::new(fields.code.trim(), precision) {
        Ok(commodity) => commodity,
        Err(error) => return refused(format!("Commodity: {error}")),
    };
    let code = commodity.code.clone();
    let op = WriteOp::CreateCommodity(commodity);
    match write_as_user(&state, &current, &peer, op).await {
        Ok(_) => {
            flash.success(format!("Commodity {code} added."));
            htmx.redirect("/accounts")
        }
        Err(error) => match refusal_message(&error) {
            Some(message) => refused(message),
            None => service_error(error),
        },
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct NewAccountFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    account_type: String,
    #[serde(default)]
    opened: String,
}

pub async fn accounts(
    CurrentUser(current): CurrentUser,
    State(state): State<WebState>,
) -> Response {
    accounts_page(
        &state,
        &current,
        None,
        NewAccountFields::default(),
        StatusCode::OK,
    )
}

fn accounts_page(
    state: &WebState,
    current: &SessionUser,
    error: Option<String>,
    values: NewAccountFields,
    status: StatusCode,
) -> Response {
    let today = match today(state) {
        Ok(today) => today,
        Err(response) => return response,
    };
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            Ok((
                store.accounts(tenant)?,
                store.balances(tenant, today)?,
                precisions(store, tenant)?,
            ))
        });
    let (accounts, balances, precisions): (Vec<Account>, _, Precisions) = match read {
        Ok(read) => read,
        Err(error) => return service_error(error),
    };
    let mut by_account: BTreeMap<String, Vec<(CommodityCode, Amount)>> = BTreeMap::new();
    for line in balances.into_iter().filter(|l| l.balance.0 != 0) {
        by_account
            .entry(line.account.to_string())
            .or_default()
            .push((line.commodity, line.balance));
    }
    let tree = tree(&accounts, &by_account, &precisions);
    let page = AccountsPage {
        base: Base::of(current),
        today,
        commodities: precisions
            .iter()
            .map(|(code, places)| format!("{code} ({places} decimal places)"))
            .collect(),
        tree,
        can_write: current.role().can_write(),
        types: AccountType::ALL.iter().map(|t| t.as_str()).collect(),
        error,
        values,
    };
    render(state, "accounts.html", page, status)
}

/// A node of the tree while it is built.
#[derive(Default)]
struct Building {
    account: Option<AccountInfo>,
    own: Vec<(CommodityCode, Amount)>,
    children: BTreeMap<String, Building>,
}

/// Builds the tree from the accounts' names: every prefix is a node; a node's totals add its
/// own balances and its children's, per commodity (a sum that does not fit is left out).
fn tree(
    accounts: &[Account],
    balances: &BTreeMap<String, Vec<(CommodityCode, Amount)>>,
    precisions: &Precisions,
) -> Vec<Node> {
    let mut root: BTreeMap<String, Building> = BTreeMap::new();
    for account in accounts {
        let own = balances
            .get(account.name.as_str())
            .cloned()
            .unwrap_or_default();
        let info = AccountInfo {
            account_type: account.account_type.as_str(),
            opened: account.opened,
            closed: account.closed,
            balances: own.iter().map(|(c, a)| money(precisions, c, *a)).collect(),
        };
        let segments: Vec<&str> = account.name.as_str().split(':').collect();
        insert(&mut root, &segments, info, own);
    }
    finish("", root, precisions).0
}

fn insert(
    level: &mut BTreeMap<String, Building>,
    segments: &[&str],
    info: AccountInfo,
    own: Vec<(CommodityCode, Amount)>,
) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let node = level.entry((*first).to_owned()).or_default();
    if rest.is_empty() {
        node.account = Some(info);
        node.own = own;
    } else {
        insert(&mut node.children, rest, info, own);
    }
}

fn finish(
    prefix: &str,
    level: BTreeMap<String, Building>,
    precisions: &Precisions,
) -> (Vec<Node>, BTreeMap<CommodityCode, Amount>) {
    let mut nodes = Vec::new();
    let mut sums: BTreeMap<CommodityCode, Amount> = BTreeMap::new();
    for (label, building) in level {
        let name = if prefix.is_empty() {
            label.clone()
        } else {
            format!("{prefix}:{label}")
        };
        let (children, mut totals) = finish(&name, building.children, precisions);
        for (code, amount) in building.own {
            add(&mut totals, code, amount);
        }
        for (code, amount) in &totals {
            add(&mut sums, code.clone(), *amount);
        }
        nodes.push(Node {
            totals: totals
                .iter()
                .map(|(c, a)| money(precisions, c, *a))
                .collect(),
            name,
            label,
            account: building.account,
            children,
        });
    }
    (nodes, sums)
}

fn add(sums: &mut BTreeMap<CommodityCode, Amount>, code: CommodityCode, amount: Amount) {
    let sum = sums.entry(code).or_default();
    if let Ok(total) = sum.checked_add(amount) {
        *sum = total;
    }
}

pub async fn create_account(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Form(fields): Form<NewAccountFields>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let refused = |message: String| {
        accounts_page(
            &state,
            &current,
            Some(message),
            fields.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let name = match AccountName::new(fields.name.trim()) {
        Ok(name) => name,
        Err(error) => return refused(format!("Name: {error}")),
    };
    let account_type = match fields.account_type.as_str() {
        "" => match AccountType::infer(&name) {
            Some(kind) => kind,
            None => {
                return refused(
                    "Type: choose one (the name does not start with Assets, Liabilities, \
                     Equity, Income or Expenses)."
                        .into(),
                );
            }
        },
        text => match AccountType::from_str_exact(text) {
            Some(kind) => kind,
            None => return refused(format!("Type: {text:?} is not an account type.")),
        },
    };
    let opened = match Date::parse(fields.opened.trim()) {
        Ok(date) => date,
        Err(error) => return refused(format!("Opened: {error}")),
    };
    let op = WriteOp::CreateAccount(Account::new(name.clone(), account_type, opened));
    match write_as_user(&state, &current, &peer, op).await {
        Ok(_) => {
            flash.success(format!("Account {name} created."));
            htmx.redirect("/accounts")
        }
        Err(error) => match refusal_message(&error) {
            Some(message) => refused(message),
            None => service_error(error),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CloseFields {
    #[serde(default)]
    date: String,
}

pub async fn close_account(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Path(name): Path<String>,
    Form(fields): Form<CloseFields>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let Ok(name) = AccountName::new(&name) else {
        return no_such_account();
    };
    let date = match Date::parse(fields.date.trim()) {
        Ok(date) => date,
        Err(error) => {
            return Response::error(StatusCode::UNPROCESSABLE_ENTITY, &format!("Date: {error}"));
        }
    };
    let op = WriteOp::CloseAccount {
        name: name.clone(),
        date,
    };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(_) => {
            flash.success(format!("Account {name} closed after {date}."));
            htmx.redirect("/accounts")
        }
        Err(error) => account_write_failed(error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RenameFields {
    #[serde(default)]
    to: String,
}

/// Renames an account and the accounts under it (`domain::rename_plan` says what moves and
/// what is refused).
pub async fn rename_account(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Path(name): Path<String>,
    Form(fields): Form<RenameFields>,
) -> Response {
    if let Err(response) = may_write(&current) {
        return response;
    }
    let Ok(from) = AccountName::new(&name) else {
        return no_such_account();
    };
    let to = match AccountName::new(fields.to.trim()) {
        Ok(to) => to,
        // Another organisation's account is not found, whatever the new name: only then
        // does a bad new name need a look at the chart (a group, such as `Assets:Bank`, is
        // a prefix of accounts). A good one goes to the write, which says `NotFound` itself.
        Err(error) => {
            let prefix = format!("{from}:");
            let known = state
                .ledger
                .read_tenant(current.tenant.tenant, |store, tenant| {
                    Ok(store
                        .accounts(tenant)?
                        .iter()
                        .any(|a| a.name == from || a.name.as_str().starts_with(&prefix)))
                });
            return match known {
                Ok(true) => Response::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("New name: {error}."),
                ),
                Ok(false) => no_such_account(),
                Err(error) => service_error(error),
            };
        }
    };
    let op = WriteOp::RenameAccount {
        from: from.clone(),
        to: to.clone(),
    };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(outcome) => {
            let count = match outcome {
                WriteOutcome::Renamed(count) => count,
                _ => 1,
            };
            flash.success(match count {
                1 => format!("{from} is now {to}."),
                n => format!("{from} is now {to} ({n} accounts renamed)."),
            });
            htmx.redirect("/accounts")
        }
        Err(ServiceError::Store(StoreError::AlreadyExists { name, .. })) => Response::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("An account named {name} exists already: choose another name."),
        ),
        Err(error) => account_write_failed(error),
    }
}

/// 404 for an account this organisation does not have (or a name no account can have).
fn no_such_account() -> Response {
    Response::error(StatusCode::NOT_FOUND, "There is no such account.")
}

/// A refused or failed write to an account: 404 when it is not there, 422 with the reason for
/// a refusal, else a 500.
fn account_write_failed(error: ServiceError) -> Response {
    match error {
        ServiceError::Store(StoreError::NotFound { .. }) => no_such_account(),
        error => match refusal_message(&error) {
            Some(message) => Response::error(StatusCode::UNPROCESSABLE_ENTITY, &message),
            None => service_error(error),
        },
    }
}

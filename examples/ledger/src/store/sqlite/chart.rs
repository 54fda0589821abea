//! The chart on SQLite, and the transaction helpers every write uses: finding a tenant's
//! commodities and accounts by name, loading an account with its commodities and constraints,
//! `TxChart` (the part of a chart a write transaction has loaded, with row ids), inserting
//! tenants, commodities and accounts, closing and renaming accounts, the sign-up, and
//! `in_transaction`.
//! Every statement names `tenant_id`. Not here: entries and balances (`write.rs`), the
//! `Store` methods themselves (`mod.rs`).

use super::*;
use crate::domain::RenameError;

pub(super) fn require_tenant(connection: &Connection, tenant: TenantId) -> Result<(), StoreError> {
    let found: Option<i64> = connection
        .prepare_cached("SELECT id FROM tenants WHERE id = ?1")?
        .query_row([tenant.0], |row| row.get(0))
        .optional()?;
    found.map(|_| ()).ok_or(StoreError::UnknownTenant)
}

pub(super) fn commodity_id(
    connection: &Connection,
    tenant: TenantId,
    code: &CommodityCode,
) -> Result<i64, StoreError> {
    connection
        .prepare_cached("SELECT id FROM commodities WHERE tenant_id = ?1 AND code = ?2")?
        .query_row(params![tenant.0, code.as_str()], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            what: "commodity",
            name: code.to_string(),
        })
}

pub(super) fn account_id(
    connection: &Connection,
    tenant: TenantId,
    name: &AccountName,
) -> Result<i64, StoreError> {
    connection
        .prepare_cached("SELECT id FROM accounts WHERE tenant_id = ?1 AND name = ?2")?
        .query_row(params![tenant.0, name.as_str()], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            what: "account",
            name: name.to_string(),
        })
}

pub(super) fn read_commodity(row: &Row<'_>) -> Result<Commodity, StoreError> {
    let code: String = row.get(0)?;
    let places: i64 = row.get(1)?;
    let places = u8::try_from(places).map_err(|_| corrupt("decimal places out of range"))?;
    Commodity::new(&code, places).map_err(corrupt)
}

pub(super) fn load_commodities(
    connection: &Connection,
    tenant: TenantId,
) -> Result<Vec<Commodity>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT code, decimal_places FROM commodities WHERE tenant_id = ?1 ORDER BY code",
    )?;
    let mut rows = statement.query([tenant.0])?;
    let mut commodities = Vec::new();
    while let Some(row) = rows.next()? {
        commodities.push(read_commodity(row)?);
    }
    Ok(commodities)
}

/// Loads one account with its commodities and constraints; `None` if the tenant has no such
/// account. Returns its row id too.
pub(super) fn load_account(
    connection: &Connection,
    tenant: TenantId,
    name: &AccountName,
) -> Result<Option<(i64, Account)>, StoreError> {
    let row = connection
        .prepare_cached("SELECT id, account_type, opened, closed FROM accounts WHERE tenant_id = ?1 AND name = ?2")?
.query_row(
            params![tenant.0, name.as_str()],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?, row.get::<_, Option<i64>>(3)?)),
        )
        .optional()?;
    let Some((id, account_type, opened, closed)) = row else {
        return Ok(None);
    };
    let account_type = AccountType::from_str_exact(&account_type)
        .ok_or_else(|| corrupt("unknown account type"))?;
    let mut account = Account::new(name.clone(), account_type, date_of(opened)?);
    account.closed = closed.map(date_of).transpose()?;
    account.commodities = account_commodities(connection, tenant, id)?;
    account.constraints = account_constraints(connection, tenant, id)?;
    Ok(Some((id, account)))
}

pub(super) fn account_commodities(
    connection: &Connection,
    tenant: TenantId,
    account: i64,
) -> Result<Vec<CommodityCode>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT c.code FROM account_commodities ac
         JOIN commodities c ON c.tenant_id = ac.tenant_id AND c.id = ac.commodity_id
         WHERE ac.tenant_id = ?1 AND ac.account_id = ?2 ORDER BY c.code",
    )?;
    let mut rows = statement.query(params![tenant.0, account])?;
    let mut codes = Vec::new();
    while let Some(row) = rows.next()? {
        codes.push(CommodityCode::new(&row.get::<_, String>(0)?).map_err(corrupt)?);
    }
    Ok(codes)
}

pub(super) fn account_constraints(
    connection: &Connection,
    tenant: TenantId,
    account: i64,
) -> Result<Vec<BalanceConstraint>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT c.code, bc.min_amount, bc.max_amount FROM balance_constraints bc
         JOIN commodities c ON c.tenant_id = bc.tenant_id AND c.id = bc.commodity_id
         WHERE bc.tenant_id = ?1 AND bc.account_id = ?2 ORDER BY c.code",
    )?;
    let mut rows = statement.query(params![tenant.0, account])?;
    let mut constraints = Vec::new();
    while let Some(row) = rows.next()? {
        constraints.push(BalanceConstraint {
            commodity: CommodityCode::new(&row.get::<_, String>(0)?).map_err(corrupt)?,
            min: row.get::<_, Option<i64>>(1)?.map(Amount),
            max: row.get::<_, Option<i64>>(2)?.map(Amount),
        });
    }
    Ok(constraints)
}

/// The part of a tenant's chart one write transaction has needed so far, with row ids.
#[derive(Default)]
pub(super) struct TxChart {
    pub(super) chart: MemoryChart,
    pub(super) account_ids: BTreeMap<AccountName, i64>,
    pub(super) commodity_ids: BTreeMap<CommodityCode, i64>,
}

impl TxChart {
    /// Every commodity of the tenant (a short list), and no accounts yet.
    pub(super) fn new(connection: &Connection, tenant: TenantId) -> Result<TxChart, StoreError> {
        let mut chart = TxChart::default();
        for commodity in load_commodities(connection, tenant)? {
            let id = commodity_id(connection, tenant, &commodity.code)?;
            chart.commodity_ids.insert(commodity.code.clone(), id);
            chart.chart.insert_commodity(commodity);
        }
        Ok(chart)
    }

    /// Loads the named accounts not loaded yet; names the tenant lacks stay absent (and
    /// validation reports them as unknown).
    pub(super) fn load<'a>(
        &mut self,
        connection: &Connection,
        tenant: TenantId,
        names: impl Iterator<Item = &'a AccountName>,
    ) -> Result<(), StoreError> {
        for name in names {
            if self.account_ids.contains_key(name) {
                continue;
            }
            if let Some((id, account)) = load_account(connection, tenant, name)? {
                self.account_ids.insert(name.clone(), id);
                self.chart.insert_account(account);
            }
        }
        Ok(())
    }

    pub(super) fn account_id(&self, name: &AccountName) -> Result<i64, StoreError> {
        self.account_ids
            .get(name)
            .copied()
            .ok_or_else(|| corrupt(format!("account {name} not loaded")))
    }

    pub(super) fn commodity_id(&self, code: &CommodityCode) -> Result<i64, StoreError> {
        self.commodity_ids
            .get(code)
            .copied()
            .ok_or_else(|| corrupt(format!("commodity {code} not loaded")))
    }
}

/// Inserts a commodity and its audit record in the caller's transaction.
pub(super) fn insert_commodity(
    connection: &Tx<'_>,
    tenant: TenantId,
    commodity: &Commodity,
    stamp: audit::Stamp<'_>,
) -> Result<(), StoreError> {
    connection.forget_charts();
    if commodity_id(connection, tenant, &commodity.code).is_ok() {
        return Err(StoreError::AlreadyExists {
            what: "commodity",
            name: commodity.code.to_string(),
        });
    }
    connection
        .prepare_cached(
            "INSERT INTO commodities (tenant_id, code, decimal_places) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![
            tenant.0,
            commodity.code.as_str(),
            commodity.precision
        ])?;
    let details = Json::object([
        ("code", Json::text(&commodity.code)),
        ("precision", Json::Int(commodity.precision.into())),
    ]);
    let action = Action::CommodityCreated;
    audit::append(connection, tenant, stamp, action, &details)?;
    Ok(())
}

/// Inserts an account (its commodities and constraints) and its audit record in the caller's
/// transaction.
pub(super) fn insert_account(
    connection: &Tx<'_>,
    tenant: TenantId,
    account: &Account,
    stamp: audit::Stamp<'_>,
) -> Result<(), StoreError> {
    connection.forget_charts();
    if account_id(connection, tenant, &account.name).is_ok() {
        return Err(StoreError::AlreadyExists {
            what: "account",
            name: account.name.to_string(),
        });
    }
    if account.closed.is_some_and(|closed| closed < account.opened) {
        return Err(EntryError::invalid(
            "closed",
            "an account closes on or after the day it opens",
        )
        .into());
    }
    connection.prepare_cached("INSERT INTO accounts (tenant_id, name, account_type, opened, closed) VALUES (?1, ?2, ?3, ?4, ?5)")?
.execute(
            params![
                tenant.0,
                account.name.as_str(),
                account.account_type.as_str(),
                account.opened.days_since_epoch(),
                account.closed.map(Date::days_since_epoch),
            ],
        )?;
    let id = connection.last_insert_rowid();
    for code in &account.commodities {
        let commodity = commodity_id(connection, tenant, code)?;
        connection.prepare_cached("INSERT INTO account_commodities (tenant_id, account_id, commodity_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id, account_id, commodity_id) DO NOTHING")?
.execute(
                params![tenant.0, id, commodity],
            )?;
    }
    for constraint in &account.constraints {
        write::set_constraint(connection, tenant, id, constraint)?;
    }
    let details = account_json(account);
    audit::append(connection, tenant, stamp, Action::AccountCreated, &details)?;
    Ok(())
}

/// Inserts a tenant and its first audit record (`tenant.created`) in the caller's transaction.
pub(super) fn insert_tenant(
    connection: &Tx<'_>,
    slug: &TenantSlug,
    stamp: audit::Stamp<'_>,
) -> Result<TenantId, StoreError> {
    let exists: Option<i64> = connection
        .prepare_cached("SELECT id FROM tenants WHERE slug = ?1")?
        .query_row([slug.as_str()], |row| row.get(0))
        .optional()?;
    if exists.is_some() {
        return Err(StoreError::AlreadyExists {
            what: "tenant",
            name: slug.to_string(),
        });
    }
    connection
        .prepare_cached("INSERT INTO tenants (slug) VALUES (?1)")?
        .execute([slug.as_str()])?;
    let id = TenantId(connection.last_insert_rowid());
    let details = Json::object([("slug", Json::text(slug))]);
    audit::append(connection, id, stamp, Action::TenantCreated, &details)?;
    Ok(id)
}

/// A new tenant, its owner and the membership, in the caller's transaction.
pub(super) fn sign_up(
    connection: &Tx<'_>,
    slug: &TenantSlug,
    email: &Email,
    name: &DisplayName,
    password_hash: &str,
    now: Timestamp,
    stamp: audit::Stamp<'_>,
) -> Result<(TenantId, UserId), StoreError> {
    let tenant = insert_tenant(connection, slug, stamp)?;
    let user = users::create(connection, email, name, password_hash, now)?;
    users::add_member(connection, tenant, user, Role::Owner, stamp)?;
    Ok((tenant, user))
}

/// Runs `write` in one `IMMEDIATE` transaction: committed if it returns `Ok`, rolled back
/// (when the transaction drops) if it returns `Err`.
pub(super) fn in_transaction<T>(
    connection: &mut Connection,
    write: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let tx = Tx::new(&transaction);
    let value = write(&tx)?;
    tx.flush()?;
    drop(tx);
    transaction.commit()?;
    Ok(value)
}

/// Closes an account after `date`, in the caller's transaction.
pub(super) fn close_account(
    connection: &Tx<'_>,
    tenant: TenantId,
    name: &AccountName,
    date: Date,
    stamp: audit::Stamp<'_>,
) -> Result<(), StoreError> {
    connection.forget_charts();
    let Some((id, account)) = load_account(connection, tenant, name)? else {
        return Err(StoreError::NotFound {
            what: "account",
            name: name.to_string(),
        });
    };
    if date < account.opened {
        return Err(EntryError::invalid(
            "closed",
            "an account closes on or after the day it opens",
        )
        .into());
    }
    connection
        .prepare_cached("UPDATE accounts SET closed = ?3 WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![tenant.0, id, date.days_since_epoch()])?;
    let details = Json::object([("name", Json::text(name)), ("closed", Json::text(date))]);
    audit::append(connection, tenant, stamp, Action::AccountClosed, &details)?;
    Ok(())
}

/// Renames an account and every account under it (`domain::rename_plan`): only names change;
/// ids, postings, balances and reconciliations stay. Names are moved through a temporary
/// name first, so a rename onto a name another renamed account frees is no conflict.
pub(super) fn rename_account(
    connection: &Tx<'_>,
    tenant: TenantId,
    from: &AccountName,
    to: &AccountName,
    stamp: audit::Stamp<'_>,
) -> Result<usize, StoreError> {
    connection.forget_charts();
    let mut ids = std::collections::BTreeMap::new();
    let mut accounts = Vec::new();
    {
        let mut statement = connection.prepare_cached(
            "SELECT id, name, account_type, opened FROM accounts WHERE tenant_id = ?1",
        )?;
        let mut rows = statement.query([tenant.0])?;
        while let Some(row) = rows.next()? {
            let name = AccountName::new(&row.get::<_, String>(1)?).map_err(corrupt)?;
            let kind = AccountType::from_str_exact(&row.get::<_, String>(2)?)
                .ok_or_else(|| corrupt("unknown account type"))?;
            ids.insert(name.clone(), row.get::<_, i64>(0)?);
            accounts.push(Account::new(name, kind, date_of(row.get(3)?)?));
        }
    }
    let renames = crate::domain::rename_plan(&accounts, from, to).map_err(|error| match error {
        RenameError::NotFound => StoreError::NotFound {
            what: "account",
            name: from.to_string(),
        },
        RenameError::Taken(name) => StoreError::AlreadyExists {
            what: "account",
            name: name.to_string(),
        },
        other => EntryError::invalid("name", &other.to_string()).into(),
    })?;
    let mut update = connection
        .prepare_cached("UPDATE accounts SET name = ?3 WHERE tenant_id = ?1 AND id = ?2")?;
    for (old, _) in &renames {
        let id = ids[old];
        update.execute(params![tenant.0, id, format!("\u{1}renaming:{id}")])?;
    }
    for (old, new) in &renames {
        update.execute(params![tenant.0, ids[old], new.as_str()])?;
    }
    let details = Json::object([
        ("from", Json::text(from)),
        ("to", Json::text(to)),
        (
            "accounts",
            Json::Int(i64::try_from(renames.len()).unwrap_or(i64::MAX)),
        ),
    ]);
    audit::append(connection, tenant, stamp, Action::AccountRenamed, &details)?;
    Ok(renames.len())
}

/// What creating an account wrote: the account with its commodities and constraints.
pub(super) fn account_json(account: &Account) -> Json {
    Json::object([
        ("name", Json::text(&account.name)),
        ("type", Json::text(account.account_type.as_str())),
        ("opened", Json::text(account.opened)),
        ("closed", Json::option(account.closed, Json::text)),
        (
            "commodities",
            Json::Array(account.commodities.iter().map(Json::text).collect()),
        ),
        (
            "constraints",
            Json::Array(account.constraints.iter().map(constraint_json).collect()),
        ),
    ])
}

pub(super) fn constraint_json(constraint: &BalanceConstraint) -> Json {
    Json::object([
        ("commodity", Json::text(&constraint.commodity)),
        ("min", Json::option(constraint.min, |a| Json::Int(a.0))),
        ("max", Json::option(constraint.max, |a| Json::Int(a.0))),
    ])
}

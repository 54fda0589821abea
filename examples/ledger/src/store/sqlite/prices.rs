//! Prices on SQLite (`Store::set_price`, `Store::prices`, and the prices of
//! `Store::import_book`): the `prices` table of migration 3, one row per tenant, commodity,
//! quote and day, the rate as two integers (`rate_units`, `rate_scale`: exact, no floats).
//!
//! `set_price` runs inside the caller's transaction and appends its `price.set` audit record
//! there, so a refused or rolled-back write leaves neither. Every statement is scoped by
//! `tenant_id` and resolves codes to the tenant's own commodity ids, so another tenant's
//! prices are never read or replaced. Not here: valuation (pure, `domain::price`), the
//! journal's `P` lines (`interop`). Tests: `store/price_tests.rs`.

use super::tx::Tx;
use super::{audit, commodity_id, corrupt, date_of};
use crate::domain::audit::{Action, Json};
use crate::domain::{CommodityCode, EntryError, Price, Rate, TenantId};
use crate::store::StoreError;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// Inserts or replaces a price and appends its audit record, in the caller's transaction.
pub(super) fn set_price(
    connection: &Tx<'_>,
    tenant: TenantId,
    price: &Price,
    stamp: audit::Stamp<'_>,
) -> Result<(), StoreError> {
    price
        .check()
        .map_err(|error| EntryError::invalid("quote", &error.to_string()))?;
    let commodity = commodity_id(connection, tenant, &price.commodity)?;
    let quote = commodity_id(connection, tenant, &price.quote)?;
    let day = price.date.days_since_epoch();
    let replaced = connection
        .prepare_cached(
            "SELECT rate_units, rate_scale FROM prices
             WHERE tenant_id = ?1 AND commodity_id = ?2 AND quote_id = ?3 AND day = ?4",
        )?
        .query_row(params![tenant.0, commodity, quote, day], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })
        .optional()?
        .map(|(units, scale)| rate_of(units, scale))
        .transpose()?;
    connection
        .prepare_cached(
            "INSERT INTO prices (tenant_id, commodity_id, quote_id, day, rate_units, rate_scale)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tenant_id, commodity_id, quote_id, day)
             DO UPDATE SET rate_units = excluded.rate_units, rate_scale = excluded.rate_scale",
        )?
        .execute(params![
            tenant.0,
            commodity,
            quote,
            day,
            price.rate.units(),
            price.rate.scale()
        ])?;
    let details = Json::object([
        ("date", Json::text(price.date)),
        ("commodity", Json::text(&price.commodity)),
        ("quote", Json::text(&price.quote)),
        ("rate", Json::text(price.rate)),
        ("replaced", Json::option(replaced, Json::text)),
    ]);
    audit::append(connection, tenant, stamp, Action::PriceSet, &details)
}

/// The tenant's prices (of one priced commodity, or all), by date, commodity and quote.
pub(super) fn prices(
    connection: &Connection,
    tenant: TenantId,
    commodity: Option<&CommodityCode>,
) -> Result<Vec<Price>, StoreError> {
    const SELECT: &str = "SELECT p.day, c.code, q.code, p.rate_units, p.rate_scale FROM prices p
         JOIN commodities c ON c.tenant_id = p.tenant_id AND c.id = p.commodity_id
         JOIN commodities q ON q.tenant_id = p.tenant_id AND q.id = p.quote_id
         WHERE p.tenant_id = ?1";
    const ORDER: &str = "ORDER BY p.day, c.code, q.code";
    let mut found = Vec::new();
    let mut collect = |mut rows: rusqlite::Rows<'_>| -> Result<(), StoreError> {
        while let Some(row) = rows.next()? {
            found.push(read_price(row)?);
        }
        Ok(())
    };
    match commodity {
        None => {
            let mut statement = connection.prepare_cached(&format!("{SELECT} {ORDER}"))?;
            collect(statement.query([tenant.0])?)?;
        }
        Some(code) => {
            let id = commodity_id(connection, tenant, code)?;
            let sql = format!("{SELECT} AND p.commodity_id = ?2 {ORDER}");
            let mut statement = connection.prepare_cached(&sql)?;
            collect(statement.query(params![tenant.0, id])?)?;
        }
    }
    Ok(found)
}

fn read_price(row: &Row<'_>) -> Result<Price, StoreError> {
    let code = |index: usize| -> Result<CommodityCode, StoreError> {
        CommodityCode::new(&row.get::<_, String>(index)?).map_err(corrupt)
    };
    let price = Price {
        date: date_of(row.get(0)?)?,
        commodity: code(1)?,
        quote: code(2)?,
        rate: rate_of(row.get(3)?, row.get(4)?)?,
    };
    price.check().map_err(corrupt)?;
    Ok(price)
}

fn rate_of(units: i64, scale: i64) -> Result<Rate, StoreError> {
    let scale = u8::try_from(scale).map_err(|_| corrupt("a price's rate scale out of range"))?;
    Rate::new(units, scale).map_err(|error| corrupt(format!("a price's rate: {error}")))
}

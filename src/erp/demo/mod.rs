//! The embedded demo ERP: a fictional Hong Kong trading company, Harbour Trading Ltd., in
//! SQLite, so askerp answers real-looking questions with no configuration at all.
//!
//! # Data
//!
//! Everything is generated from the seed date ("today") and a fixed seed by a built-in
//! SplitMix64 generator, so the same date always gives the same business data, on every
//! machine and with every dependency version. The company has three regions (`HKI`, `KLN`,
//! `NT`), three warehouses (`KT`, `TW`, `KC`), seven stores, about 170 bilingual items in
//! five categories, stock of every item in every warehouse (about 7 % of lines at or below
//! their reorder level in each warehouse), 48 corporate customers, 18 months of sales orders
//! up to and including the seed date (24 to 54 a day, 1 to 5 lines each), and 25 employees
//! with leave entitlements for last, this and next year and leave taken up to the seed date.
//!
//! # Schema
//!
//! Other code (tests especially) may query [`DemoErp::pool`] directly. Dates are ISO
//! `YYYY-MM-DD` text, money is integer HKD cents, leave is integer half days:
//!
//! - `meta(key, value)`: `seed_date`, `seed_version`, `currency`, `company`.
//! - `places(code, kind, name_en, name_zh, region, position)` and
//!   `place_aliases(code, position, alias)`; `kind` is `region`, `warehouse` or `store`.
//! - `items(sku, name_en, name_zh, unit, category, list_price_cents)`.
//! - `stock(sku, warehouse, on_hand, reserved, reorder_level)`; available is
//!   `on_hand - reserved`.
//! - `customers(id, name, name_lc, home_store, discount_pct)`.
//! - `orders(id, number, order_date, store, customer_id, state, delivery_date, total_cents)`;
//!   `delivery_date` is set for delivered orders only, and `total_cents` is the sum of the
//!   order's `amount_cents`.
//! - `order_lines(order_id, line_no, sku, qty, unit_price_cents, amount_cents)`.
//! - `employees(id, name_en, name_zh, role, place)`.
//! - `leave_entitlements(employee_id, year, leave_type, half_days)` and
//!   `leave_taken(id, employee_id, leave_type, start_date, end_date, half_days)`; a record
//!   never crosses a year boundary.
//!
//! # Which orders count
//!
//! Sales totals, order counts, per-store figures and best sellers count only orders in the
//! states of [`COUNTED_STATES`]: **cancelled and draft orders are excluded**, because they
//! are not sales. Order lookup by number still finds them.

mod catalog;
mod rng;
mod seed;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::civil::Date;
use rust_decimal::Decimal;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};

use super::{
    Connector, CustomerSales, DailySales, Employee, ErpError, Item, LeaveBalance, LeaveLine, Money,
    Order, OrderLine, OrderState, Place, PlaceKind, Places, Quantity, SalesFilter, SalesSummary,
    StockLine, StoreSales, TopItem, Vocabulary,
};
use crate::erp::matching::{self, Entry};
use crate::intent::LeaveType;

/// Version of the generator. A database seeded by another version is rebuilt, so bump this
/// whenever the generated data changes (catalog, distributions, schema).
pub const SEED_VERSION: u32 = 1;

/// The demo company's currency.
pub const CURRENCY: &str = "HKD";

/// Order states that count as sales in totals, per-store figures and best sellers.
/// Cancelled and draft orders are not sales and are left out everywhere figures are summed.
pub const COUNTED_STATES: [&str; 4] = ["confirmed", "picking", "shipped", "delivered"];

/// Connector name in logs, metrics and errors.
const NAME: &str = "demo";

/// The demo ERP over a seeded SQLite database.
///
/// In-memory databases use SQLite's shared cache under a name unique to this instance, so
/// every pooled connection sees the same data; a separate connection held for the life of
/// the value keeps that database alive even when the pool closes idle connections (an
/// in-memory database disappears with its last connection). Pooled connections are
/// read-only: the connector never writes.
pub struct DemoErp {
    pool: SqlitePool,
    currency: String,
    /// Read once at open; places never change after seeding.
    places: Places,
    /// Keeps an in-memory database alive; never used otherwise. `None` for files.
    memory_anchor: Option<Mutex<SqliteConnection>>,
}

impl std::fmt::Debug for DemoErp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoErp")
            .field("currency", &self.currency)
            .field("in_memory", &self.memory_anchor.is_some())
            .field("pool_size", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl DemoErp {
    /// Opens (path Some) or creates in memory (None) the demo database. A file whose stored
    /// seed date and seed version equal `today` and [`SEED_VERSION`] is reused; otherwise it
    /// is recreated and seeded. Same `today` ⇒ byte-for-byte the same business data.
    ///
    /// A rebuilt file is seeded under a temporary name next to it and then renamed into
    /// place, so a crash or a concurrent reader never sees a half-seeded database.
    pub async fn open(path: Option<&Path>, today: Date) -> Result<DemoErp, ErpError> {
        let (pool, keep_alive) = match path {
            None => {
                let (pool, conn) = open_memory(today).await?;
                (pool, Some(Mutex::new(conn)))
            }
            Some(path) => (open_file(path, today).await?, None),
        };
        let places = load_places(&pool).await?;
        Ok(DemoErp {
            pool,
            currency: CURRENCY.to_string(),
            places,
            memory_anchor: keep_alive,
        })
    }

    /// The pool, so tests can compute expected figures with their own SQL. Its connections
    /// are read-only.
    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }

    fn money(&self, cents: i64) -> Money {
        Money {
            amount: Decimal::new(cents, 2),
            currency: self.currency.clone(),
        }
    }

    fn place(&self, code: &str) -> Result<Place, ErpError> {
        self.places
            .by_code(code)
            .cloned()
            .ok_or_else(|| query_err(format!("unknown place code {code:?} in data")))
    }

    fn stock_line(&self, row: StockRow) -> Result<StockLine, ErpError> {
        let (sku, name_en, name_zh, unit, warehouse, on_hand, reserved, reorder) = row;
        let qty = |v: i64| Quantity {
            value: Decimal::from(v),
            unit: unit.clone(),
        };
        Ok(StockLine {
            warehouse: self.place(&warehouse)?,
            on_hand: qty(on_hand),
            reserved: qty(reserved),
            available: qty(on_hand - reserved),
            reorder_level: qty(reorder),
            item: Item {
                sku,
                name_en,
                name_zh,
                unit: unit.clone(),
            },
        })
    }
}

/// `(sku, name_en, name_zh, unit, warehouse, on_hand, reserved, reorder_level)`.
type StockRow = (String, String, String, String, String, i64, i64, i64);

const STOCK_COLUMNS: &str = "SELECT i.sku, i.name_en, i.name_zh, i.unit, s.warehouse, \
     s.on_hand, s.reserved, s.reorder_level \
     FROM stock s JOIN items i ON i.sku = s.sku";

/// Joins and conditions shared by sales totals and best sellers, so both always count the
/// same orders. Parameters: `?1`/`?2` the inclusive date range, `?3`/`?4` a "filter stores"
/// flag and a JSON array of store codes, `?5`/`?6` the same for regions, `?7` the lower-cased
/// customer text or NULL. Only [`COUNTED_STATES`] are counted.
fn sales_scope() -> String {
    let states = COUNTED_STATES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "JOIN places p ON p.code = o.store \
         JOIN customers c ON c.id = o.customer_id \
         WHERE o.order_date BETWEEN ?1 AND ?2 \
           AND o.state IN ({states}) \
           AND (?3 = 0 OR o.store IN (SELECT value FROM json_each(?4))) \
           AND (?5 = 0 OR p.region IN (SELECT value FROM json_each(?6))) \
           AND (?7 IS NULL OR instr(c.name_lc, ?7) > 0)"
    )
}

/// Per-store totals; the summary's total and count are their sums.
static SALES_BY_STORE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT o.store, SUM(o.total_cents), COUNT(*) FROM orders o {} GROUP BY o.store",
        sales_scope()
    )
});

/// Totals per order date, for the trend chart: the same scope as the summary, so the
/// days add up to it.
static SALES_BY_DAY_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT o.order_date, SUM(o.total_cents), COUNT(*) FROM orders o {} GROUP BY o.order_date",
        sales_scope()
    )
});

/// Totals per customer, in the summary's scope, so the customers add up to it.
static SALES_BY_CUSTOMER_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT c.name, SUM(o.total_cents), COUNT(*) FROM orders o {} GROUP BY c.id",
        sales_scope()
    )
});

/// Best sellers; `?8` is the limit.
static TOP_ITEMS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT i.sku, i.name_en, i.name_zh, i.unit, SUM(l.qty), SUM(l.amount_cents) AS revenue \
         FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN items i ON i.sku = l.sku \
         {} GROUP BY i.sku ORDER BY revenue DESC, i.sku LIMIT ?8",
        sales_scope()
    )
});

/// Bound values for [`sales_scope`].
struct SalesParams {
    start: String,
    end: String,
    stores: Option<String>,
    regions: Option<String>,
    customer: Option<String>,
}

impl SalesParams {
    fn new(filter: &SalesFilter) -> Result<SalesParams, ErpError> {
        let codes = |codes: &[String]| -> Result<Option<String>, ErpError> {
            if codes.is_empty() {
                return Ok(None);
            }
            let upper: Vec<String> = codes.iter().map(|c| c.trim().to_uppercase()).collect();
            serde_json::to_string(&upper)
                .map(Some)
                .map_err(|e| query_err(e.to_string()))
        };
        Ok(SalesParams {
            start: filter.start.to_string(),
            end: filter.end.to_string(),
            stores: codes(&filter.stores)?,
            regions: codes(&filter.regions)?,
            customer: filter
                .customer
                .as_deref()
                .map(fold)
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty()),
        })
    }

    fn bind<'q, O>(
        &'q self,
        q: sqlx::query::QueryAs<'q, sqlx::Sqlite, O, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Sqlite, O, sqlx::sqlite::SqliteArguments<'q>> {
        q.bind(self.start.as_str())
            .bind(self.end.as_str())
            .bind(i64::from(self.stores.is_some()))
            .bind(self.stores.as_deref().unwrap_or("[]"))
            .bind(i64::from(self.regions.is_some()))
            .bind(self.regions.as_deref().unwrap_or("[]"))
            .bind(self.customer.as_deref())
    }
}

#[async_trait]
impl Connector for DemoErp {
    fn name(&self) -> &str {
        NAME
    }

    async fn places(&self) -> Result<Places, ErpError> {
        Ok(self.places.clone())
    }

    async fn vocabulary(&self) -> Result<Vocabulary, ErpError> {
        let items: Vec<(String, String, String, String)> =
            sqlx::query_as("SELECT sku, name_en, name_zh, unit FROM items ORDER BY sku")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        let customers: Vec<(String,)> = sqlx::query_as("SELECT name FROM customers ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let employees: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, name_en, name_zh FROM employees ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(Vocabulary {
            places: self.places.clone(),
            items: items
                .into_iter()
                .map(|(sku, name_en, name_zh, unit)| {
                    let aliases = ITEM_ALIASES
                        .iter()
                        .find(|(name, _)| *name == name_en)
                        .map(|(_, a)| a.iter().map(|s| s.to_string()).collect())
                        .unwrap_or_default();
                    let item = Item {
                        sku,
                        name_en,
                        name_zh,
                        unit,
                    };
                    (item, aliases)
                })
                .collect(),
            customers: customers.into_iter().map(|(n,)| n).collect(),
            employees: employees
                .into_iter()
                .map(|(id, name_en, name_zh)| Employee {
                    id,
                    name_en,
                    name_zh,
                })
                .collect(),
        })
    }

    /// SKU (exact, any case) wins; then an exact English or Chinese name returns just that
    /// item; otherwise every word of `text` must occur in the English or Chinese name
    /// (ignoring case, full-width forms and spaces). Results come best match first — names
    /// starting with the text, then names containing it as written, then the rest — and by
    /// SKU within each group.
    async fn find_items(&self, text: &str) -> Result<Vec<Item>, ErpError> {
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let items: Vec<(String, String, String, String)> =
            sqlx::query_as("SELECT sku, name_en, name_zh, unit FROM items ORDER BY sku")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        let entries: Vec<Entry<'_>> = items
            .iter()
            .map(|(sku, en, zh, _)| {
                let mut names = vec![en.as_str(), zh.as_str()];
                if let Some((_, aliases)) = ITEM_ALIASES.iter().find(|(name, _)| name == en) {
                    names.extend(aliases.iter().copied());
                }
                Entry { sku, names }
            })
            .collect();
        // An exact SKU, name or alias comes back alone; otherwise every match, best first,
        // so the pipeline can ask which one was meant.
        Ok(matching::rank(text, &entries)
            .into_iter()
            .filter_map(|hit| items.get(hit.index))
            .map(|(sku, name_en, name_zh, unit)| Item {
                sku: sku.clone(),
                name_en: name_en.clone(),
                name_zh: name_zh.clone(),
                unit: unit.clone(),
            })
            .collect())
    }

    /// Lines for the given SKUs (any case) in every warehouse or in one (a warehouse code),
    /// ordered by SKU, then warehouse code. Unknown SKUs or warehouses give no lines.
    async fn stock(
        &self,
        skus: &[String],
        warehouse: Option<&str>,
    ) -> Result<Vec<StockLine>, ErpError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let skus: Vec<String> = skus.iter().map(|s| s.trim().to_uppercase()).collect();
        let skus = serde_json::to_string(&skus).map_err(|e| query_err(e.to_string()))?;
        let warehouse = warehouse.map(|w| w.trim().to_uppercase());
        let sql = format!(
            "{STOCK_COLUMNS} WHERE s.sku IN (SELECT value FROM json_each(?1)) \
             AND (?2 IS NULL OR s.warehouse = ?2) ORDER BY i.sku, s.warehouse"
        );
        let rows: Vec<StockRow> = sqlx::query_as(&sql)
            .bind(skus)
            .bind(warehouse)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(|r| self.stock_line(r)).collect()
    }

    /// Lines whose available quantity is at or below the reorder level, the largest
    /// shortfall (reorder level minus available) first, then by SKU and warehouse.
    async fn low_stock(&self, warehouse: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        let warehouse = warehouse.map(|w| w.trim().to_uppercase());
        let sql = format!(
            "{STOCK_COLUMNS} WHERE s.reorder_level > 0 AND s.on_hand - s.reserved <= s.reorder_level \
             AND (?1 IS NULL OR s.warehouse = ?1) \
             ORDER BY s.reorder_level - (s.on_hand - s.reserved) DESC, i.sku, s.warehouse"
        );
        let rows: Vec<StockRow> = sqlx::query_as(&sql)
            .bind(warehouse)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(|r| self.stock_line(r)).collect()
    }

    /// Orders dated within `[start, end]`, booked by one of `filter.stores` (if any) in one
    /// of `filter.regions` (if any), for a customer whose name contains `filter.customer`
    /// (ignoring case, if set). Cancelled and draft orders are excluded (see
    /// [`COUNTED_STATES`]). `by_store` lists only stores with sales, largest total first.
    async fn sales_summary(&self, filter: &SalesFilter) -> Result<SalesSummary, ErpError> {
        let params = SalesParams::new(filter)?;
        let rows: Vec<(String, i64, i64)> = params
            .bind(sqlx::query_as(SALES_BY_STORE_SQL.as_str()))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut by_store = Vec::with_capacity(rows.len());
        let (mut total, mut orders) = (0i64, 0u64);
        let mut sorted = rows;
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (store, cents, count) in sorted {
            let count = u64::try_from(count).unwrap_or(0);
            total += cents;
            orders += count;
            by_store.push(StoreSales {
                store: self.place(&store)?,
                total: self.money(cents),
                orders: count,
            });
        }
        Ok(SalesSummary {
            start: filter.start,
            end: filter.end,
            total: self.money(total),
            orders,
            by_store,
        })
    }

    /// One query grouped by customer; largest total first, ties by name.
    async fn sales_by_customer(
        &self,
        filter: &SalesFilter,
    ) -> Result<Vec<CustomerSales>, ErpError> {
        let params = SalesParams::new(filter)?;
        let mut rows: Vec<(String, i64, i64)> = params
            .bind(sqlx::query_as(SALES_BY_CUSTOMER_SQL.as_str()))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(rows
            .into_iter()
            .map(|(customer, cents, count)| CustomerSales {
                customer,
                total: self.money(cents),
                orders: u64::try_from(count).unwrap_or(0),
            })
            .collect())
    }

    /// One query grouped by order date instead of the default's query per day; days
    /// without sales are filled in at zero.
    async fn daily_sales(&self, filter: &SalesFilter) -> Result<Vec<DailySales>, ErpError> {
        let params = SalesParams::new(filter)?;
        let rows: Vec<(String, i64, i64)> = params
            .bind(sqlx::query_as(SALES_BY_DAY_SQL.as_str()))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut by_day = std::collections::HashMap::with_capacity(rows.len());
        for (date, cents, count) in rows {
            by_day.insert(
                parse_date(&date)?,
                (cents, u64::try_from(count).unwrap_or(0)),
            );
        }
        let mut out = Vec::new();
        let mut day = filter.start;
        while day <= filter.end {
            let (cents, orders) = by_day.get(&day).copied().unwrap_or((0, 0));
            out.push(DailySales {
                date: day,
                total: self.money(cents),
                orders,
            });
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// Best sellers for the same scope as [`Connector::sales_summary`] (so cancelled and
    /// draft orders are excluded), by revenue, largest first, ties by SKU.
    async fn top_items(&self, filter: &SalesFilter, limit: u32) -> Result<Vec<TopItem>, ErpError> {
        let params = SalesParams::new(filter)?;
        type Row = (String, String, String, String, i64, i64);
        let rows: Vec<Row> = params
            .bind(sqlx::query_as(TOP_ITEMS_SQL.as_str()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(sku, name_en, name_zh, unit, qty, cents)| TopItem {
                quantity: Quantity {
                    value: Decimal::from(qty),
                    unit: unit.clone(),
                },
                revenue: self.money(cents),
                item: Item {
                    sku,
                    name_en,
                    name_zh,
                    unit,
                },
            })
            .collect())
    }

    /// The order with this number, ignoring case and surrounding spaces.
    async fn order(&self, number: &str) -> Result<Option<Order>, ErpError> {
        let number = fold(number).trim().to_uppercase();
        type Head = (
            i64,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            i64,
        );
        let head: Option<Head> = sqlx::query_as(
            "SELECT o.id, o.number, c.name, o.store, o.order_date, o.state, o.delivery_date, \
             o.total_cents FROM orders o JOIN customers c ON c.id = o.customer_id \
             WHERE o.number = ?1",
        )
        .bind(number)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some((id, number, customer, store, date, state, delivered, total)) = head else {
            return Ok(None);
        };
        type Line = (String, String, String, String, i64, i64, i64);
        let lines: Vec<Line> = sqlx::query_as(
            "SELECT i.sku, i.name_en, i.name_zh, i.unit, l.qty, l.unit_price_cents, \
             l.amount_cents FROM order_lines l JOIN items i ON i.sku = l.sku \
             WHERE l.order_id = ?1 ORDER BY l.line_no",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(Some(Order {
            number,
            customer,
            store: self.place(&store)?,
            order_date: parse_date(&date)?,
            state: parse_state(&state)?,
            delivery_date: delivered.as_deref().map(parse_date).transpose()?,
            lines: lines
                .into_iter()
                .map(
                    |(sku, name_en, name_zh, unit, qty, price, amount)| OrderLine {
                        quantity: Quantity {
                            value: Decimal::from(qty),
                            unit: unit.clone(),
                        },
                        unit_price: self.money(price),
                        amount: self.money(amount),
                        item: Item {
                            sku,
                            name_en,
                            name_zh,
                            unit,
                        },
                    },
                )
                .collect(),
            total: self.money(total),
        }))
    }

    /// An exact employee id, or an exact English or Chinese name, returns just those
    /// employees; otherwise every word must occur in the English name, or the text in the
    /// Chinese name. Ignores case, full-width forms and extra spaces; ordered by id.
    async fn recent_orders(&self, since: Date, limit: u32) -> Result<Vec<Order>, ErpError> {
        let numbers: Vec<(String,)> = sqlx::query_as(
            "SELECT number FROM orders WHERE order_date >= ?1 \
             ORDER BY order_date DESC, number DESC LIMIT ?2",
        )
        .bind(since.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(numbers.len());
        for (number,) in numbers {
            if let Some(order) = self.order(&number).await? {
                out.push(order);
            }
        }
        Ok(out)
    }

    async fn find_employees(&self, text: &str) -> Result<Vec<Employee>, ErpError> {
        let wanted = fold(text);
        let tokens: Vec<&str> = wanted.split_whitespace().collect();
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let joined = tokens.join(" ");
        let compact_query = compact(&wanted);
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, name_en, name_zh FROM employees ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        let employees: Vec<Employee> = rows
            .into_iter()
            .map(|(id, name_en, name_zh)| Employee {
                id,
                name_en,
                name_zh,
            })
            .collect();
        let exact: Vec<Employee> = employees
            .iter()
            .filter(|e| {
                fold(&e.id) == compact_query
                    || fold(&e.name_en)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                        == joined
                    || compact(&fold(&e.name_zh)) == compact_query
            })
            .cloned()
            .collect();
        if !exact.is_empty() {
            return Ok(exact);
        }
        Ok(employees
            .into_iter()
            .filter(|e| {
                let en = fold(&e.name_en);
                tokens.iter().all(|t| en.contains(t))
                    || compact(&fold(&e.name_zh)).contains(&compact_query)
            })
            .collect())
    }

    /// Balances for the calendar year containing `on`: entitled minus every leave record of
    /// that year (the seed books none after its seed date). One line per leave type with an
    /// entitlement or leave taken, in [`LeaveType::ALL`] order, in days.
    async fn leave_balance(
        &self,
        employee_id: &str,
        on: Date,
    ) -> Result<Option<LeaveBalance>, ErpError> {
        let id = fold(employee_id).trim().to_uppercase();
        let employee: Option<(String, String, String)> =
            sqlx::query_as("SELECT id, name_en, name_zh FROM employees WHERE id = ?1")
                .bind(&id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        let Some((id, name_en, name_zh)) = employee else {
            return Ok(None);
        };
        let year = on.year();
        let entitled: Vec<(String, i64)> = sqlx::query_as(
            "SELECT leave_type, half_days FROM leave_entitlements \
             WHERE employee_id = ?1 AND year = ?2",
        )
        .bind(&id)
        .bind(i64::from(year))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let taken: Vec<(String, i64)> = sqlx::query_as(
            "SELECT leave_type, SUM(half_days) FROM leave_taken \
             WHERE employee_id = ?1 AND start_date BETWEEN ?2 AND ?3 GROUP BY leave_type",
        )
        .bind(&id)
        .bind(format!("{year:04}-01-01"))
        .bind(format!("{year:04}-12-31"))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let by_type = |rows: Vec<(String, i64)>| -> Result<HashMap<LeaveType, i64>, ErpError> {
            rows.into_iter()
                .map(|(name, half_days)| {
                    LeaveType::from_name(&name)
                        .map(|t| (t, half_days))
                        .ok_or_else(|| query_err(format!("unknown leave type {name:?} in data")))
                })
                .collect()
        };
        let (entitled, taken) = (by_type(entitled)?, by_type(taken)?);
        let days = |half_days: i64| Quantity {
            value: Decimal::new(half_days * 5, 1).normalize(),
            unit: "day".to_string(),
        };
        let lines = LeaveType::ALL
            .into_iter()
            .filter(|t| entitled.contains_key(t) || taken.contains_key(t))
            .map(|t| {
                let e = entitled.get(&t).copied().unwrap_or(0);
                let k = taken.get(&t).copied().unwrap_or(0);
                LeaveLine {
                    leave_type: t,
                    entitled: days(e),
                    taken: days(k),
                    remaining: days(e - k),
                }
            })
            .collect();
        Ok(Some(LeaveBalance {
            employee: Employee {
                id,
                name_en,
                name_zh,
            },
            year,
            lines,
        }))
    }
}

/// Names the company's staff use for some items besides their catalog names (by English
/// name). A real connector would read these from its ERP or from configuration.
const ITEM_ALIASES: &[(&str, &[&str])] = &[
    ("Coca-Cola 330ml", &["Coke", "Coke 330ml", "可樂"]),
    ("Coca-Cola Zero 330ml", &["Coke Zero", "零系可樂"]),
    ("A4 Copy Paper 80g", &["A4 paper", "A4紙"]),
    ("Vita Lemon Tea 250ml", &["檸茶", "lemon tea pack"]),
];

/// Lower case, with full-width ASCII forms and the ideographic space folded to their plain
/// forms, so "ｉＰｈｏｎｅ" and "iphone" compare equal.
fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Without whitespace: Chinese is written without spaces, so "維他檸檬茶250ml" must match
/// "維他檸檬茶 250ml".
fn compact(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn parse_date(text: &str) -> Result<Date, ErpError> {
    Date::from_str(text).map_err(|e| query_err(format!("bad date {text:?} in data: {e}")))
}

fn parse_state(text: &str) -> Result<OrderState, ErpError> {
    Ok(match text {
        "draft" => OrderState::Draft,
        "confirmed" => OrderState::Confirmed,
        "picking" => OrderState::Picking,
        "shipped" => OrderState::Shipped,
        "delivered" => OrderState::Delivered,
        "cancelled" => OrderState::Cancelled,
        other => return Err(query_err(format!("unknown order state {other:?} in data"))),
    })
}

fn query_err(detail: String) -> ErpError {
    ErpError::Query {
        connector: NAME.to_string(),
        detail,
    }
}

fn unavailable(detail: String) -> ErpError {
    ErpError::Unavailable {
        connector: NAME.to_string(),
        detail,
    }
}

/// Connection-level trouble (I/O, a full or closed pool, a locked or unopenable file) means
/// the ERP is unavailable; anything else is a problem with the query itself.
fn db_err(e: sqlx::Error) -> ErpError {
    let down = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Configuration(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_CANTOPEN.
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("5" | "6" | "14")),
        _ => false,
    };
    if down {
        unavailable(e.to_string())
    } else {
        query_err(e.to_string())
    }
}

fn pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
}

/// Seeds a fresh in-memory database through one connection and returns a pool over the same
/// database plus that connection, which the caller keeps open.
async fn open_memory(today: Date) -> Result<(SqlitePool, SqliteConnection), ErpError> {
    // `sqlite::memory:` gives a shared-cache in-memory database with a name unique to this
    // options value; every connection opened from it (or a clone) sees the same data.
    let options = SqliteConnectOptions::from_str("sqlite::memory:").map_err(db_err)?;
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(db_err)?;
    seed_into(&mut conn, today).await?;
    let pool = pool_options()
        .connect_with(options.pragma("query_only", "ON"))
        .await
        .map_err(db_err)?;
    Ok((pool, conn))
}

/// Reuses the file when its seed matches, otherwise rebuilds it; returns a read-only pool.
async fn open_file(path: &Path, today: Date) -> Result<SqlitePool, ErpError> {
    if !seed_matches(path, today).await {
        rebuild(path, today).await?;
    }
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    pool_options().connect_with(options).await.map_err(db_err)
}

/// Whether `path` is a demo database seeded for `today` by this version. Any failure to
/// tell (missing file, not SQLite, no meta table) counts as "no".
async fn seed_matches(path: &Path, today: Date) -> bool {
    if !tokio::fs::try_exists(path).await.unwrap_or(false) {
        return false;
    }
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let Ok(mut conn) = SqliteConnection::connect_with(&options).await else {
        return false;
    };
    let meta: Result<Vec<(String, String)>, _> = sqlx::query_as(
        "SELECT key, value FROM meta WHERE key IN ('seed_date', 'seed_version') ORDER BY key",
    )
    .fetch_all(&mut conn)
    .await;
    let _ = conn.close().await;
    let expected = vec![
        ("seed_date".to_string(), today.to_string()),
        ("seed_version".to_string(), SEED_VERSION.to_string()),
    ];
    meta.is_ok_and(|m| m == expected)
}

/// Distinguishes temporary files of concurrent rebuilds within one process.
static REBUILDS: AtomicU64 = AtomicU64::new(0);

/// Seeds a new database under a temporary name beside `path`, then renames it over `path`.
async fn rebuild(path: &Path, today: Date) -> Result<(), ErpError> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        unavailable(format!("cannot {what} {}: {e}", p.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| io("create directory", dir, e))?;
    }
    let tmp = with_suffix(
        path,
        &format!(
            ".seeding-{}-{}",
            std::process::id(),
            REBUILDS.fetch_add(1, Ordering::Relaxed)
        ),
    );
    remove_if_present(&tmp)
        .await
        .map_err(|e| io("remove", &tmp, e))?;
    // The temporary file needs no crash safety: it is discarded unless seeding completes.
    let options = SqliteConnectOptions::new()
        .filename(&tmp)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Off)
        .synchronous(SqliteSynchronous::Off);
    let seeded = async {
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .map_err(db_err)?;
        seed_into(&mut conn, today).await?;
        conn.close().await.map_err(db_err)
    }
    .await;
    if let Err(e) = seeded {
        let _ = remove_if_present(&tmp).await;
        return Err(e);
    }
    // A journal left beside the old file would be replayed into the new one.
    for suffix in ["-journal", "-wal", "-shm"] {
        let side = with_suffix(path, suffix);
        remove_if_present(&side)
            .await
            .map_err(|e| io("remove", &side, e))?;
    }
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| io("replace", path, e))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

async fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Generates the data for `today` and writes it through `conn`.
async fn seed_into(conn: &mut SqliteConnection, today: Date) -> Result<(), ErpError> {
    let started = Instant::now();
    let data = seed::generate(today)
        .map_err(|e| unavailable(format!("cannot lay out demo data for {today}: {e}")))?;
    let generated = started.elapsed();
    seed::write(conn, &data, SEED_VERSION, CURRENCY)
        .await
        .map_err(db_err)?;
    tracing::info!(
        %today,
        orders = data.orders.len(),
        order_lines = data.lines.len(),
        generate_ms = generated.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "seeded demo ERP"
    );
    Ok(())
}

/// Reads regions, warehouses and stores with their aliases, in catalog order.
async fn load_places(pool: &SqlitePool) -> Result<Places, ErpError> {
    let rows: Vec<(String, String, String, String, Option<String>)> =
        sqlx::query_as("SELECT code, kind, name_en, name_zh, region FROM places ORDER BY position")
            .fetch_all(pool)
            .await
            .map_err(db_err)?;
    let aliases: Vec<(String, String)> =
        sqlx::query_as("SELECT code, alias FROM place_aliases ORDER BY code, position")
            .fetch_all(pool)
            .await
            .map_err(db_err)?;
    let mut places = Vec::with_capacity(rows.len());
    for (code, kind, name_en, name_zh, region) in rows {
        let kind = match kind.as_str() {
            "region" => PlaceKind::Region,
            "warehouse" => PlaceKind::Warehouse,
            "store" => PlaceKind::Store,
            other => return Err(query_err(format!("unknown place kind {other:?} in data"))),
        };
        let aliases = aliases
            .iter()
            .filter(|(c, _)| *c == code)
            .map(|(_, a)| a.clone())
            .collect();
        places.push(Place {
            code,
            kind,
            name_en,
            name_zh,
            region,
            aliases,
        });
    }
    Ok(Places { places })
}

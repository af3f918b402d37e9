//! ERP access: the canonical data model, the [`Connector`] trait every ERP or HR system
//! implements, and the cache that sits in front of all of them.
//!
//! Connectors translate their own field names and units into the types below; the rest of
//! askerp never sees a vendor shape. Money is always [`Decimal`] with a currency, a quantity
//! always carries its unit of measure, and dates are civil dates in the company time zone.

pub mod cache;
pub mod config;
pub mod demo;
pub mod mapping;
pub mod matching;
pub mod odata;
pub mod odoo;
pub mod protect;
pub mod router;
pub mod sql;
pub mod tryton;

use async_trait::async_trait;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::intent::LeaveType;

pub use cache::CachedConnector;
pub use router::ErpRouter;

/// Why a connector call failed. Every variant becomes a polite "the ERP did not answer"
/// style reply; the detail goes to the log and the audit record only.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ErpError {
    #[error("connector {connector} timed out after {after_ms} ms")]
    Timeout { connector: String, after_ms: u64 },
    #[error("connector {connector} is unavailable: {detail}")]
    Unavailable { connector: String, detail: String },
    #[error("connector {connector} rejected the query: {detail}")]
    Query { connector: String, detail: String },
    /// The system refused askerp's user name, password or token.
    #[error("connector {connector} refused askerp's credentials: {detail}")]
    Credentials { connector: String, detail: String },
    /// The system asked askerp to slow down (HTTP 429/503); `retry_after_ms` is its
    /// `Retry-After` hint, which retries honour.
    #[error("connector {connector} is busy (asked to retry later)")]
    Busy {
        connector: String,
        retry_after_ms: Option<u64>,
    },
    /// The circuit breaker is open: the system failed repeatedly and is left alone for a
    /// while; askerp answers at once instead of waiting for it.
    #[error("connector {connector} is not answering (circuit open)")]
    CircuitOpen { connector: String },
}

impl ErpError {
    /// A short, stable label for metrics and the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            ErpError::Timeout { .. } => "timeout",
            ErpError::Unavailable { .. } => "unavailable",
            ErpError::Query { .. } => "query",
            ErpError::Credentials { .. } => "credentials",
            ErpError::Busy { .. } => "busy",
            ErpError::CircuitOpen { .. } => "circuit_open",
        }
    }

    /// Whether trying the same read again may succeed: lost connections, timeouts and
    /// "busy". A rejected query or refused credentials fail the same way every time.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ErpError::Timeout { .. } | ErpError::Unavailable { .. } | ErpError::Busy { .. }
        )
    }

    /// The wait the system asked for, if any.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            ErpError::Busy { retry_after_ms, .. } => *retry_after_ms,
            _ => None,
        }
    }
}

/// An amount of money. Never a float.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: Decimal,
    /// ISO 4217 code, e.g. `HKD`.
    pub currency: String,
}

/// A quantity with its unit of measure (`pc`, `box`, `bottle`, `ream`, `day`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quantity {
    pub value: Decimal,
    pub unit: String,
}

/// A sellable item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Item {
    pub sku: String,
    pub name_en: String,
    pub name_zh: String,
    /// Unit of measure stock and sales are counted in.
    pub unit: String,
}

/// What kind of place a [`Place`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaceKind {
    Warehouse,
    Store,
    Region,
}

/// A warehouse, store or sales region, with the names people use for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Place {
    pub code: String,
    pub kind: PlaceKind,
    pub name_en: String,
    pub name_zh: String,
    /// The region a store or warehouse belongs to (a region code); `None` for regions.
    pub region: Option<String>,
    /// Other spellings users write (e.g. `KT`, `観塘`, `HK Island`).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// The connector's warehouses, stores and regions, used to match what users write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Places {
    pub places: Vec<Place>,
}

impl Places {
    /// Finds a place of `kind` by code, English or Chinese name or alias, ignoring case,
    /// spacing and designators such as "warehouse", "倉", "區" or "店".
    pub fn find(&self, kind: PlaceKind, text: &str) -> Option<&Place> {
        let wanted = place_key(text);
        if wanted.is_empty() {
            return None;
        }
        self.places.iter().filter(|p| p.kind == kind).find(|p| {
            std::iter::once(&p.code)
                .chain([&p.name_en, &p.name_zh])
                .chain(p.aliases.iter())
                .any(|name| place_key(name) == wanted)
        })
    }

    /// Adds the places of `other` this list does not have yet (same code and kind).
    pub fn merge(&mut self, other: Places) {
        for p in other.places {
            if !self
                .places
                .iter()
                .any(|q| q.code == p.code && q.kind == p.kind)
            {
                self.places.push(p);
            }
        }
    }

    /// Looks a place up by its code.
    pub fn by_code(&self, code: &str) -> Option<&Place> {
        self.places.iter().find(|p| p.code == code)
    }

    /// All places of one kind, in catalog order.
    pub fn of_kind(&self, kind: PlaceKind) -> impl Iterator<Item = &Place> {
        self.places.iter().filter(move |p| p.kind == kind)
    }
}

/// Reduces a place name to a comparable key: lower case, no spaces or punctuation, and
/// without the trailing designator words people add ("Kwun Tong warehouse" = "觀塘倉" =
/// "kwuntong").
fn place_key(text: &str) -> String {
    // Simplified and Traditional spellings compare equal (观塘 = 觀塘): both sides are
    // folded to one script, the same folding the intent rules use.
    let folded = crate::intent::fold::fold_str(text);
    let mut key: String = folded
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    for suffix in [
        "warehouse",
        "region",
        "district",
        "store",
        "shop",
        "branch",
        "area",
        "分店",
        "门市",
        "仓库",
        "货仓",
        "地区",
        "区",
        "仓",
        "店",
    ] {
        if key.len() > suffix.len()
            && let Some(stripped) = key.strip_suffix(suffix)
        {
            key = stripped.to_string();
            break;
        }
    }
    key
}

/// Stock of one item in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    pub item: Item,
    pub warehouse: Place,
    pub on_hand: Quantity,
    /// Allocated to open orders.
    pub reserved: Quantity,
    /// On hand minus reserved.
    pub available: Quantity,
    pub reorder_level: Quantity,
}

impl StockLine {
    /// The one definition of "low stock", used by every connector and the card legend: a
    /// reorder level is set (above zero) and the available quantity is **at or below** it.
    /// A level of 0 means the item is not watched.
    pub fn is_low(&self) -> bool {
        self.reorder_level.value > Decimal::ZERO && self.available.value <= self.reorder_level.value
    }
}

/// Sales totals for a period and scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesSummary {
    pub start: Date,
    pub end: Date,
    pub total: Money,
    pub orders: u64,
    /// Per-store totals, largest first.
    pub by_store: Vec<StoreSales>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSales {
    pub store: Place,
    pub total: Money,
    pub orders: u64,
}

/// One customer's sales: the same scope and states as [`SalesSummary`], grouped by the
/// customer who bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerSales {
    /// The customer's name as the ERP writes it.
    pub customer: String,
    pub total: Money,
    pub orders: u64,
}

impl CustomerSales {
    /// Groups order rows `(customer, currency, amount)` into one line per customer, largest
    /// first (ties by name), for connectors that read orders and add them up themselves.
    /// A customer billed in two currencies is an error (the text says which), never a sum
    /// of unlike amounts.
    pub fn group(
        rows: impl IntoIterator<Item = (String, String, Decimal)>,
    ) -> Result<Vec<CustomerSales>, String> {
        let mut groups: std::collections::BTreeMap<String, (Decimal, u64, String)> =
            std::collections::BTreeMap::new();
        for (customer, currency, amount) in rows {
            let entry = groups.entry(customer).or_default();
            if !entry.2.is_empty() && !currency.is_empty() && entry.2 != currency {
                return Err(format!(
                    "sales of one customer in several currencies ({} and {currency})",
                    entry.2
                ));
            }
            entry.0 += amount;
            entry.1 += 1;
            if entry.2.is_empty() {
                entry.2 = currency;
            }
        }
        let mut out: Vec<CustomerSales> = groups
            .into_iter()
            .map(|(customer, (amount, orders, currency))| CustomerSales {
                customer,
                total: Money { amount, currency },
                orders,
            })
            .collect();
        out.sort_by(|a, b| {
            b.total
                .amount
                .cmp(&a.total.amount)
                .then_with(|| a.customer.cmp(&b.customer))
        });
        Ok(out)
    }
}

/// One day's sales: the same scope and states as [`SalesSummary`], for one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailySales {
    pub date: Date,
    pub total: Money,
    pub orders: u64,
}

/// The longest period [`Connector::daily_sales`] answers by default (one `sales_summary`
/// per day): a month, so a weekly or monthly report's trend costs a real ERP at most 31
/// extra (cached) calls per period; longer reports from connectors without a grouped
/// query get their chart without the trend line, never a report that waits on hundreds
/// of calls.
pub const MAX_DAILY_DAYS: i64 = 31;

/// One row of a best-sellers list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopItem {
    pub item: Item,
    pub quantity: Quantity,
    pub revenue: Money,
}

/// Where a sales order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderState {
    Draft,
    Confirmed,
    Picking,
    Shipped,
    Delivered,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub item: Item,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub amount: Money,
}

/// A sales order with its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub number: String,
    pub customer: String,
    /// The store that booked the order; its region decides who may see it.
    pub store: Place,
    pub order_date: Date,
    pub state: OrderState,
    pub delivery_date: Option<Date>,
    pub lines: Vec<OrderLine>,
    pub total: Money,
}

/// An employee as the HR system knows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Employee {
    pub id: String,
    pub name_en: String,
    pub name_zh: String,
}

/// One leave type's balance, in days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveLine {
    pub leave_type: LeaveType,
    pub entitled: Quantity,
    pub taken: Quantity,
    pub remaining: Quantity,
}

/// An employee's leave balances for a leave year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveBalance {
    pub employee: Employee,
    pub year: i16,
    pub lines: Vec<LeaveLine>,
}

/// Everything a connector can name: the words the understanding stage looks for in a
/// message before it decides what the message asks ("entities first"). Read once at
/// start-up; a connector that cannot list something leaves it empty and the resolver
/// falls back to what is left of the message after the known words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocabulary {
    pub places: Places,
    /// Items with every other name people use for them (aliases).
    pub items: Vec<(Item, Vec<String>)>,
    /// Customer names as the ERP writes them.
    pub customers: Vec<String>,
    pub employees: Vec<Employee>,
}

/// Filters for sales questions, already matched to the connector's codes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SalesFilter {
    pub start: Date,
    pub end: Date,
    /// Region codes; empty means every region.
    pub regions: Vec<String>,
    /// Store codes; empty means every store.
    pub stores: Vec<String>,
    /// Customer name as the user wrote it (matched by the connector).
    pub customer: Option<String>,
}

/// A read-only view of one ERP or HR system in canonical types.
///
/// Implementations only read; they never write to the system they front. Every call is
/// made through [`CachedConnector`], which adds the cache, request coalescing and the
/// timeout, so implementations stay plain translations.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The configured name, used in logs, metrics and audit records.
    fn name(&self) -> &str;
    /// Whether the system is reachable and accepts askerp's credentials, with one harmless
    /// read (`askerp check`, `/readyz`). The default reads the places.
    async fn health(&self) -> Result<(), ErpError> {
        self.places().await.map(|_| ())
    }
    /// Warehouses, stores and regions.
    async fn places(&self) -> Result<Places, ErpError>;
    /// The names the resolver looks for in messages. The default knows only the places;
    /// connectors that can list their items, customers or staff cheaply add them.
    async fn vocabulary(&self) -> Result<Vocabulary, ErpError> {
        Ok(Vocabulary {
            places: self.places().await?,
            ..Vocabulary::default()
        })
    }
    /// Items matching what a user wrote: SKU, English or Chinese name (all words present).
    async fn find_items(&self, text: &str) -> Result<Vec<Item>, ErpError>;
    /// Stock for the given SKUs, optionally in one warehouse (a warehouse code).
    async fn stock(
        &self,
        skus: &[String],
        warehouse: Option<&str>,
    ) -> Result<Vec<StockLine>, ErpError>;
    /// Lines that are low ([`StockLine::is_low`]).
    async fn low_stock(&self, warehouse: Option<&str>) -> Result<Vec<StockLine>, ErpError>;
    async fn sales_summary(&self, filter: &SalesFilter) -> Result<SalesSummary, ErpError>;
    async fn top_items(&self, filter: &SalesFilter, limit: u32) -> Result<Vec<TopItem>, ErpError>;
    /// Sales per day over the filter's period, one entry per date from `start` to `end`
    /// (days without sales included, at zero), for the trend on a report's chart. The
    /// totals add up to [`Connector::sales_summary`] of the same filter.
    ///
    /// The default asks `sales_summary` once per day, which is correct for every connector
    /// but costs one ERP call per day; connectors that can group by date in one query
    /// should override it (the demo ERP does). Periods longer than [`MAX_DAILY_DAYS`] are
    /// refused rather than turned into hundreds of calls.
    async fn daily_sales(&self, filter: &SalesFilter) -> Result<Vec<DailySales>, ErpError> {
        let days = filter
            .end
            .since(filter.start)
            .map(|s| s.get_days() as i64 + 1)
            .unwrap_or(0);
        if days > MAX_DAILY_DAYS {
            return Err(ErpError::Query {
                connector: self.name().to_string(),
                detail: format!("daily sales over {days} days (at most {MAX_DAILY_DAYS})"),
            });
        }
        let mut out = Vec::with_capacity(usize::try_from(days.max(0)).unwrap_or(0));
        let mut day = filter.start;
        while day <= filter.end {
            let s = self
                .sales_summary(&SalesFilter {
                    start: day,
                    end: day,
                    ..filter.clone()
                })
                .await?;
            out.push(DailySales {
                date: day,
                total: s.total,
                orders: s.orders,
            });
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        Ok(out)
    }
    /// Sales per customer over the filter, largest total first (ties by name); the totals
    /// add up to [`Connector::sales_summary`] of the same filter. Connectors that cannot
    /// group by customer say so with [`ErpError::Query`] and the card says the ERP could
    /// not answer, rather than inventing rows.
    async fn sales_by_customer(
        &self,
        filter: &SalesFilter,
    ) -> Result<Vec<CustomerSales>, ErpError> {
        let _ = filter;
        Err(ErpError::Query {
            connector: self.name().to_string(),
            detail: "sales per customer are not available from this connector".into(),
        })
    }
    /// An order by number; `None` when it does not exist.
    async fn order(&self, number: &str) -> Result<Option<Order>, ErpError>;
    /// Orders booked on or after `since`, newest first, at most `limit`: what order
    /// alerts poll ([`crate::push::orders`]). The default says the connector cannot list
    /// them, so order alerts for it need the inbound endpoint.
    async fn recent_orders(&self, since: Date, limit: u32) -> Result<Vec<Order>, ErpError> {
        let _ = (since, limit);
        Err(ErpError::Query {
            connector: self.name().to_string(),
            detail: "this connector cannot list recent orders; report order events at POST /events/<source> instead".into(),
        })
    }
    /// Employees whose English or Chinese name matches.
    async fn find_employees(&self, text: &str) -> Result<Vec<Employee>, ErpError>;
    /// Leave balances for the leave year containing `on`; `None` for an unknown employee.
    async fn leave_balance(
        &self,
        employee_id: &str,
        on: Date,
    ) -> Result<Option<LeaveBalance>, ErpError>;
}

#[cfg(test)]
mod customer_sales_tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn rows_are_summed_per_customer_largest_first() {
        let rows = [
            ("Globex".to_string(), "HKD".to_string(), d("50.00")),
            ("Initech".to_string(), "HKD".to_string(), d("100.99")),
            ("Umbrella".to_string(), "HKD".to_string(), d("299.97")),
            ("Initech".to_string(), "".to_string(), d("50.00")),
        ];
        let out = CustomerSales::group(rows).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(&str, Decimal, u64, &str)> = out
            .iter()
            .map(|c| {
                (
                    c.customer.as_str(),
                    c.total.amount,
                    c.orders,
                    c.total.currency.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("Umbrella", d("299.97"), 1, "HKD"),
                ("Initech", d("150.99"), 2, "HKD"),
                ("Globex", d("50.00"), 1, "HKD"),
            ]
        );
    }

    #[test]
    fn one_customer_in_two_currencies_is_an_error_not_a_sum() {
        let rows = [
            ("Globex".to_string(), "HKD".to_string(), d("50")),
            ("Globex".to_string(), "USD".to_string(), d("10")),
        ];
        let e = CustomerSales::group(rows).err().unwrap_or_default();
        assert!(e.contains("HKD and USD"), "{e}");
    }
}

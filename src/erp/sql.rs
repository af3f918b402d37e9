//! The `sql` connector: any PostgreSQL, MySQL/MariaDB or SQLite database, typically the
//! database of a legacy on-premises ERP, read with SELECT statements from the configuration.
//!
//! Each capability (places, items, stock, sales, orders, employees, leave) has one query
//! with named parameters (`:item`, `:start`, …) and a map from its result columns to the
//! canonical fields, so a new database is connected without code. Parameters are always
//! bound, never pasted into the SQL: `:name` becomes `$n` (PostgreSQL) or `?` (MySQL,
//! SQLite) when the connector opens.
//!
//! Read-only by construction: PostgreSQL sessions run with `default_transaction_read_only`
//! and a `statement_timeout`; MySQL/MariaDB sessions with `SET SESSION TRANSACTION READ
//! ONLY` and a statement time limit; SQLite files are opened read-only. The configured
//! statements must also be a single SELECT (or WITH … SELECT). Give the connector a
//! database role that can only read as well.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use super::config::Domain;
use super::{
    Connector, CustomerSales, Employee, ErpError, Item, LeaveBalance, LeaveLine, Money, Order,
    OrderLine, OrderState, Place, PlaceKind, Places, Quantity, SalesFilter, SalesSummary,
    StockLine, StoreSales, TopItem,
};
use crate::config::Secret;
use crate::intent::LeaveType;

/// Settings of a `kind = "sql"` connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlConfig {
    /// `postgres://user@host:5432/db`, `mysql://user@host:3306/db` (also MariaDB) or
    /// `sqlite:///path/to/file.db`. Keep the password out of it: use `password`.
    pub url: String,
    /// The database password; set it through the environment
    /// (`ASKERP_ERP__CONNECTORS__<NAME>__PASSWORD`), not in the file.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Currency of amounts that come without a `currency` column; default `company.currency`.
    #[serde(default)]
    pub currency: Option<String>,
    /// Connections kept open to the database.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// The database aborts any statement running longer than this.
    #[serde(default = "default_statement_timeout_ms")]
    pub statement_timeout_ms: u64,
    /// One query per capability; a capability without a query answers "not configured".
    #[serde(default)]
    pub queries: SqlQueries,
}

fn default_max_connections() -> u32 {
    4
}

fn default_statement_timeout_ms() -> u64 {
    5_000
}

/// The configured statements, one per capability.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqlQueries {
    pub places: Option<SqlQuery>,
    pub find_items: Option<SqlQuery>,
    pub stock: Option<SqlQuery>,
    pub low_stock: Option<SqlQuery>,
    pub sales_summary: Option<SqlQuery>,
    /// Optional: rows with a `customer` (and `store`, `total`, `orders`) for breakdowns by
    /// customer; without it, "by customer" says the ERP cannot answer it.
    pub sales_by_customer: Option<SqlQuery>,
    pub top_items: Option<SqlQuery>,
    pub order: Option<SqlQuery>,
    pub find_employees: Option<SqlQuery>,
    pub leave_balance: Option<SqlQuery>,
}

/// One statement and how its columns map onto canonical fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlQuery {
    /// A single SELECT with `:name` parameters.
    pub sql: String,
    /// Canonical field → result column. A field not listed is read from the column of
    /// the same name (so `SELECT ITMNO AS sku` needs no entry). Column names ignore case.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

/// The capabilities, with the parameters and fields each one knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cap {
    Places,
    FindItems,
    Stock,
    LowStock,
    SalesSummary,
    SalesByCustomer,
    TopItems,
    Order,
    FindEmployees,
    LeaveBalance,
}

const SALES_PARAMS: &[&str] = &[
    "start",
    "end",
    "customer",
    "customer_like",
    "store",
    "region",
];
const STOCK_FIELDS: &[&str] = &[
    "sku",
    "name_en",
    "name_zh",
    "unit",
    "warehouse",
    "on_hand",
    "reserved",
    "available",
    "reorder_level",
];

impl Cap {
    const ALL: [Cap; 10] = [
        Cap::Places,
        Cap::FindItems,
        Cap::Stock,
        Cap::LowStock,
        Cap::SalesSummary,
        Cap::SalesByCustomer,
        Cap::TopItems,
        Cap::Order,
        Cap::FindEmployees,
        Cap::LeaveBalance,
    ];

    fn key(self) -> &'static str {
        match self {
            Cap::Places => "places",
            Cap::FindItems => "find_items",
            Cap::Stock => "stock",
            Cap::LowStock => "low_stock",
            Cap::SalesSummary => "sales_summary",
            Cap::SalesByCustomer => "sales_by_customer",
            Cap::TopItems => "top_items",
            Cap::Order => "order",
            Cap::FindEmployees => "find_employees",
            Cap::LeaveBalance => "leave_balance",
        }
    }

    fn domain(self) -> Domain {
        match self {
            Cap::Places | Cap::FindItems | Cap::Stock | Cap::LowStock => Domain::Inventory,
            Cap::SalesSummary | Cap::SalesByCustomer | Cap::TopItems | Cap::Order => Domain::Sales,
            Cap::FindEmployees | Cap::LeaveBalance => Domain::Leave,
        }
    }

    /// Parameters the statement may use.
    fn params(self) -> &'static [&'static str] {
        match self {
            Cap::Places => &[],
            Cap::FindItems | Cap::FindEmployees => &["text", "like"],
            Cap::Stock => &["item", "warehouse"],
            Cap::LowStock => &["warehouse"],
            Cap::SalesSummary | Cap::SalesByCustomer => SALES_PARAMS,
            Cap::TopItems => &[
                "start",
                "end",
                "customer",
                "customer_like",
                "store",
                "region",
                "limit",
            ],
            Cap::Order => &["order"],
            Cap::LeaveBalance => &["employee", "on", "year", "year_start", "year_end"],
        }
    }

    /// Canonical fields the result may map.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Cap::Places => &["code", "kind", "name_en", "name_zh", "region", "aliases"],
            Cap::FindItems => &["sku", "name_en", "name_zh", "unit"],
            Cap::Stock | Cap::LowStock => STOCK_FIELDS,
            Cap::SalesSummary => &["store", "total", "orders", "currency"],
            Cap::SalesByCustomer => &["customer", "store", "total", "orders", "currency"],
            Cap::TopItems => &[
                "sku", "name_en", "name_zh", "unit", "quantity", "revenue", "currency", "store",
            ],
            Cap::Order => &[
                "number",
                "customer",
                "store",
                "order_date",
                "state",
                "delivery_date",
                "total",
                "currency",
                "sku",
                "name_en",
                "name_zh",
                "unit",
                "quantity",
                "unit_price",
                "amount",
            ],
            Cap::FindEmployees => &["id", "name_en", "name_zh"],
            Cap::LeaveBalance => &[
                "id",
                "name_en",
                "name_zh",
                "leave_type",
                "entitled",
                "taken",
                "remaining",
            ],
        }
    }
}

impl SqlQueries {
    fn get(&self, cap: Cap) -> Option<&SqlQuery> {
        match cap {
            Cap::Places => self.places.as_ref(),
            Cap::FindItems => self.find_items.as_ref(),
            Cap::Stock => self.stock.as_ref(),
            Cap::LowStock => self.low_stock.as_ref(),
            Cap::SalesSummary => self.sales_summary.as_ref(),
            Cap::SalesByCustomer => self.sales_by_customer.as_ref(),
            Cap::TopItems => self.top_items.as_ref(),
            Cap::Order => self.order.as_ref(),
            Cap::FindEmployees => self.find_employees.as_ref(),
            Cap::LeaveBalance => self.leave_balance.as_ref(),
        }
    }
}

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Postgres,
    MySql,
    Sqlite,
}

impl Driver {
    fn of(url: &str) -> Option<Driver> {
        let scheme = url.split(':').next()?.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Driver::Postgres),
            "mysql" | "mariadb" => Some(Driver::MySql),
            "sqlite" => Some(Driver::Sqlite),
            _ => None,
        }
    }
}

impl SqlConfig {
    /// Offline problems: the URL, each statement's shape, its parameters and column map,
    /// and every capability the routed `domains` need.
    pub fn problems(&self, at: &str, domains: &[Domain]) -> Vec<String> {
        let mut out = Vec::new();
        let driver = Driver::of(&self.url);
        if driver.is_none() {
            out.push(format!(
                "{at}.url must start with postgres://, mysql:// (also MariaDB) or sqlite://"
            ));
        }
        if url::Url::parse(&self.url).is_ok_and(|u| u.password().is_some()) {
            out.push(format!(
                "{at}.url contains a password; set {at}.password through the environment instead"
            ));
        }
        if self.max_connections == 0 {
            out.push(format!("{at}.max_connections must be greater than 0"));
        }
        if self.statement_timeout_ms == 0 {
            out.push(format!("{at}.statement_timeout_ms must be greater than 0"));
        }
        if let Some(c) = &self.currency
            && (c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_uppercase()))
        {
            out.push(format!("{at}.currency = {c:?} is not an ISO 4217 code"));
        }
        for cap in Cap::ALL {
            let key = format!("{at}.queries.{}", cap.key());
            match self.queries.get(cap) {
                None => {
                    if domains.contains(&cap.domain()) && cap != Cap::SalesByCustomer {
                        out.push(format!(
                            "{key} is missing, but the {} domain is routed to this connector",
                            cap.domain().as_str()
                        ));
                    }
                }
                Some(q) => {
                    if let Err(e) = check_select(&q.sql) {
                        out.push(format!("{key}.sql {e}"));
                    }
                    match compile(&q.sql, driver.unwrap_or(Driver::Sqlite)) {
                        Ok((_, names)) => {
                            for n in names {
                                if !cap.params().contains(&n.as_str()) {
                                    out.push(format!(
                                        "{key}.sql uses :{n}, which this query does not have (it has: {})",
                                        if cap.params().is_empty() {
                                            "none".to_string()
                                        } else {
                                            cap.params().join(", ")
                                        }
                                    ));
                                }
                            }
                        }
                        Err(e) => out.push(format!("{key}.sql {e}")),
                    }
                    for field in q.columns.keys() {
                        if !cap.fields().contains(&field.as_str()) {
                            out.push(format!(
                                "{key}.columns.{field} is not a field of this query (fields: {})",
                                cap.fields().join(", ")
                            ));
                        }
                    }
                }
            }
        }
        out
    }
}

/// Refuses anything but one SELECT: a typo in the configuration must never become a write.
fn check_select(sql: &str) -> Result<(), String> {
    let body = sql.trim().trim_end_matches(';').trim();
    let first = body
        .split(|c: char| c.is_whitespace() || c == '(')
        .find(|w| !w.is_empty())
        .unwrap_or_default()
        .to_ascii_uppercase();
    if first != "SELECT" && first != "WITH" {
        return Err("must be a SELECT (or WITH … SELECT) statement".into());
    }
    if body.contains(';') {
        return Err("must be a single statement (no ';' inside)".into());
    }
    Ok(())
}

/// Turns `:name` parameters into the driver's placeholders and lists the names in bind
/// order. Quoted strings, quoted identifiers, comments and PostgreSQL's `::` casts are left
/// alone.
pub fn compile(sql: &str, driver: Driver) -> Result<(String, Vec<String>), String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(format!("has an unclosed {c} quote"));
                }
                out.extend(&chars[start..=i]);
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            ':' if chars.get(i + 1) == Some(&':') => {
                out.push_str("::");
                i += 2;
            }
            ':' if chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == '_') =>
            {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect::<String>().to_lowercase();
                match driver {
                    Driver::Postgres => {
                        let n = match names.iter().position(|x| *x == name) {
                            Some(p) => p + 1,
                            None => {
                                names.push(name);
                                names.len()
                            }
                        };
                        out.push_str(&format!("${n}"));
                    }
                    Driver::MySql | Driver::Sqlite => {
                        names.push(name);
                        out.push('?');
                    }
                }
                i = j;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok((out, names))
}

/// A bound parameter value.
#[derive(Debug, Clone)]
enum Param {
    Text(Option<String>),
    Int(i64),
}

type Params = BTreeMap<&'static str, Param>;

/// One result cell, whatever the column type was.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Text(String),
    Num(Decimal),
}

/// One result row: lower-cased column name → cell.
#[derive(Debug, Default)]
struct Row {
    cells: BTreeMap<String, Cell>,
}

/// A statement ready to run: placeholders translated, parameter order known.
#[derive(Debug, Clone)]
struct Prepared {
    sql: String,
    names: Vec<String>,
    columns: BTreeMap<String, String>,
}

enum Pool {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// A database read through configured queries.
pub struct SqlConnector {
    name: String,
    pool: Pool,
    currency: String,
    queries: BTreeMap<&'static str, Prepared>,
}

impl SqlConnector {
    /// Prepares the connection pool without connecting, so askerp starts even while the
    /// database is down (the circuit breaker then answers for it); `askerp check` and
    /// `/readyz` try the connection.
    pub fn connect(
        name: &str,
        cfg: &SqlConfig,
        company_currency: &str,
    ) -> Result<SqlConnector, ErpError> {
        let bad = |detail: String| ErpError::Query {
            connector: name.to_string(),
            detail,
        };
        let driver = Driver::of(&cfg.url).ok_or_else(|| bad("unsupported URL scheme".into()))?;
        let stmt_ms = cfg.statement_timeout_ms.max(1);
        let acquire = Duration::from_millis(stmt_ms.saturating_add(1_000));
        let pool = match driver {
            Driver::Postgres => {
                let mut o = PgConnectOptions::from_str(&cfg.url)
                    .map_err(|e| bad(format!("invalid URL: {e}")))?
                    .options([
                        ("default_transaction_read_only", "on".to_string()),
                        ("statement_timeout", stmt_ms.to_string()),
                    ])
                    .application_name("askerp");
                if let Some(p) = &cfg.password {
                    o = o.password(p.expose());
                }
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(cfg.max_connections.max(1))
                        .acquire_timeout(acquire)
                        .connect_lazy_with(o),
                )
            }
            Driver::MySql => {
                let url = cfg
                    .url
                    .strip_prefix("mariadb:")
                    .map(|rest| format!("mysql:{rest}"))
                    .unwrap_or_else(|| cfg.url.clone());
                let mut o = MySqlConnectOptions::from_str(&url)
                    .map_err(|e| bad(format!("invalid URL: {e}")))?;
                if let Some(p) = &cfg.password {
                    o = o.password(p.expose());
                }
                Pool::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(cfg.max_connections.max(1))
                        .acquire_timeout(acquire)
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                use sqlx::Executor as _;
                                conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                                // MariaDB counts seconds, MySQL milliseconds; each refuses
                                // the other's variable, which is fine.
                                let secs = format!(
                                    "SET SESSION max_statement_time = {}",
                                    stmt_ms as f64 / 1000.0
                                );
                                if conn.execute(secs.as_str()).await.is_err() {
                                    let ms = format!("SET SESSION max_execution_time = {stmt_ms}");
                                    let _ = conn.execute(ms.as_str()).await;
                                }
                                Ok(())
                            })
                        })
                        .connect_lazy_with(o),
                )
            }
            Driver::Sqlite => {
                let o = SqliteConnectOptions::from_str(&cfg.url)
                    .map_err(|e| bad(format!("invalid URL: {e}")))?
                    .read_only(true)
                    .create_if_missing(false);
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(cfg.max_connections.max(1))
                        .acquire_timeout(acquire)
                        .connect_lazy_with(o),
                )
            }
        };
        let mut queries = BTreeMap::new();
        for cap in Cap::ALL {
            if let Some(q) = cfg.queries.get(cap) {
                check_select(&q.sql).map_err(|e| bad(format!("{}: {e}", cap.key())))?;
                let (sql, names) =
                    compile(&q.sql, driver).map_err(|e| bad(format!("{}: {e}", cap.key())))?;
                queries.insert(
                    cap.key(),
                    Prepared {
                        sql,
                        names,
                        columns: q
                            .columns
                            .iter()
                            .map(|(k, v)| (k.clone(), v.to_lowercase()))
                            .collect(),
                    },
                );
            }
        }
        Ok(SqlConnector {
            name: name.to_string(),
            pool,
            currency: cfg
                .currency
                .clone()
                .unwrap_or_else(|| company_currency.to_string()),
            queries,
        })
    }

    fn err(&self, detail: impl Into<String>) -> ErpError {
        ErpError::Query {
            connector: self.name.clone(),
            detail: detail.into(),
        }
    }

    /// Runs the capability's statement with `params` bound in order.
    async fn run(&self, cap: Cap, params: &Params) -> Result<(Vec<Row>, &Prepared), ErpError> {
        let q = self.queries.get(cap.key()).ok_or_else(|| {
            self.err(format!(
                "no query is configured for {} (queries.{})",
                cap.key(),
                cap.key()
            ))
        })?;
        let mut values = Vec::with_capacity(q.names.len());
        for n in &q.names {
            values.push(params.get(n.as_str()).cloned().unwrap_or(Param::Text(None)));
        }
        let span = tracing::debug_span!("sql", connector = %self.name, query = cap.key());
        let _enter = span.enter();
        macro_rules! bind_all {
            ($q:expr) => {{
                let mut q = $q;
                for v in values {
                    q = match v {
                        Param::Text(t) => q.bind(t),
                        Param::Int(i) => q.bind(i),
                    };
                }
                q
            }};
        }
        let rows = match &self.pool {
            Pool::Postgres(pool) => {
                let rows = bind_all!(sqlx::query(&q.sql))
                    .fetch_all(pool)
                    .await
                    .map_err(|e| self.db_err(e))?;
                rows.iter()
                    .map(|r| decode_pg(r).map_err(|e| self.err(e)))
                    .collect::<Result<Vec<_>, _>>()?
            }
            Pool::MySql(pool) => {
                let rows = bind_all!(sqlx::query(&q.sql))
                    .fetch_all(pool)
                    .await
                    .map_err(|e| self.db_err(e))?;
                rows.iter()
                    .map(|r| decode_my(r).map_err(|e| self.err(e)))
                    .collect::<Result<Vec<_>, _>>()?
            }
            Pool::Sqlite(pool) => {
                let rows = bind_all!(sqlx::query(&q.sql))
                    .fetch_all(pool)
                    .await
                    .map_err(|e| self.db_err(e))?;
                rows.iter()
                    .map(|r| decode_lite(r).map_err(|e| self.err(e)))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok((rows, q))
    }

    /// Sorts database errors into what the user and the operator need to know.
    fn db_err(&self, e: sqlx::Error) -> ErpError {
        let connector = self.name.clone();
        match &e {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                match code.as_str() {
                    // PostgreSQL invalid_password / invalid_authorization; MySQL 1045.
                    "28P01" | "28000" => ErpError::Credentials {
                        connector,
                        detail: format!("the database refused the user name or password ({code})"),
                    },
                    // PostgreSQL query_canceled (statement_timeout); MariaDB 1969.
                    "57014" | "70100" => ErpError::Timeout {
                        connector,
                        after_ms: 0,
                    },
                    "57P01" | "57P02" | "57P03" | "08006" | "08001" | "08004" | "53300" => {
                        ErpError::Unavailable {
                            connector,
                            detail: db.message().to_string(),
                        }
                    }
                    _ => ErpError::Query {
                        connector,
                        detail: format!("{code}: {}", db.message()),
                    },
                }
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => ErpError::Unavailable {
                connector,
                detail: e.to_string(),
            },
            _ => ErpError::Query {
                connector,
                detail: e.to_string(),
            },
        }
    }

    fn money(&self, amount: Decimal, currency: Option<String>) -> Money {
        Money {
            amount: amount.normalize(),
            currency: currency
                .map(|c| c.trim().to_uppercase())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| self.currency.clone()),
        }
    }
}

/// Reads a row's cells, whatever the column types: numbers exactly (never through a float
/// unless the column is one), text as text.
macro_rules! decode_row {
    ($row:expr, [$($num:ty),*], [$($int:ty),*], [$($float:ty),*]) => {{
        let row = $row;
        let mut cells = BTreeMap::new();
        for (i, col) in row.columns().iter().enumerate() {
            use sqlx::Column as _;
            let name = col.name().to_lowercase();
            let cell = 'cell: {
                $(
                    if let Ok(v) = row.try_get::<Option<$num>, _>(i) {
                        break 'cell v.map_or(Cell::Null, Cell::Num);
                    }
                )*
                $(
                    if let Ok(v) = row.try_get::<Option<$int>, _>(i) {
                        break 'cell v.map_or(Cell::Null, |n| Cell::Num(Decimal::from(n)));
                    }
                )*
                $(
                    if let Ok(v) = row.try_get::<Option<$float>, _>(i) {
                        break 'cell match v {
                            None => Cell::Null,
                            Some(f) => Decimal::try_from(f64::from(f))
                                .map(Cell::Num)
                                .unwrap_or(Cell::Null),
                        };
                    }
                )*
                if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                    break 'cell v.map_or(Cell::Null, Cell::Text);
                }
                if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
                    break 'cell v.map_or(Cell::Null, |b| {
                        Cell::Text(String::from_utf8_lossy(&b).into_owned())
                    });
                }
                if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
                    break 'cell v.map_or(Cell::Null, |b| Cell::Text(b.to_string()));
                }
                return Err(format!(
                    "column {name} has a type askerp cannot read ({}); cast it to text or a number in the query",
                    {
                        use sqlx::TypeInfo as _;
                        col.type_info().name().to_string()
                    }
                ));
            };
            cells.insert(name, cell);
        }
        Ok(Row { cells })
    }};
}

fn decode_pg(row: &sqlx::postgres::PgRow) -> Result<Row, String> {
    decode_row!(row, [Decimal], [i64, i32, i16], [f64, f32])
}

fn decode_my(row: &sqlx::mysql::MySqlRow) -> Result<Row, String> {
    decode_row!(row, [Decimal], [i64, u64], [f64, f32])
}

fn decode_lite(row: &sqlx::sqlite::SqliteRow) -> Result<Row, String> {
    decode_row!(row, [], [i64], [f64])
}

/// Typed access to a row's canonical fields through the column map.
struct Fields<'a> {
    row: &'a Row,
    map: &'a BTreeMap<String, String>,
}

impl Fields<'_> {
    fn cell(&self, field: &str) -> Option<&Cell> {
        let col = self
            .map
            .get(field)
            .cloned()
            .unwrap_or_else(|| field.to_string());
        self.row.cells.get(&col)
    }

    fn has(&self, field: &str) -> bool {
        self.cell(field).is_some()
    }

    /// Text of a field, trimmed (legacy CHAR columns come space-padded); `None` if the
    /// column is missing, NULL or blank.
    fn text(&self, field: &str) -> Option<String> {
        match self.cell(field)? {
            Cell::Null => None,
            Cell::Text(t) => Some(t.trim().to_string()).filter(|t| !t.is_empty()),
            Cell::Num(n) => Some(n.normalize().to_string()),
        }
    }

    fn req_text(&self, field: &str) -> Result<String, String> {
        self.text(field)
            .ok_or_else(|| format!("the result has no value for {field}"))
    }

    /// A number; text such as `"1,234.50"` or `" 12 "` (amounts kept as strings) is parsed
    /// exactly.
    fn dec(&self, field: &str) -> Result<Option<Decimal>, String> {
        match self.cell(field) {
            None | Some(Cell::Null) => Ok(None),
            Some(Cell::Num(n)) => Ok(Some(*n)),
            Some(Cell::Text(t)) => {
                let t: String = t.trim().chars().filter(|c| *c != ',').collect();
                if t.is_empty() {
                    return Ok(None);
                }
                Decimal::from_str(&t)
                    .or_else(|_| Decimal::from_scientific(&t))
                    .map(Some)
                    .map_err(|_| format!("{field} = {t:?} is not a number"))
            }
        }
    }

    fn req_dec(&self, field: &str) -> Result<Decimal, String> {
        self.dec(field)?
            .ok_or_else(|| format!("the result has no value for {field}"))
    }

    /// A date as `YYYY-MM-DD` (a timestamp's date part) or legacy `YYYYMMDD`.
    fn date(&self, field: &str) -> Result<Option<Date>, String> {
        let Some(t) = self.text(field) else {
            return Ok(None);
        };
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        let parsed = if t.len() >= 10 {
            t.get(..10).and_then(|d| d.parse::<Date>().ok())
        } else if digits.len() == 8 && t.len() == 8 {
            format!("{}-{}-{}", &digits[..4], &digits[4..6], &digits[6..])
                .parse::<Date>()
                .ok()
        } else {
            None
        };
        parsed
            .map(Some)
            .ok_or_else(|| format!("{field} = {t:?} is not a date (YYYY-MM-DD or YYYYMMDD)"))
    }
}

fn kind_of(text: &str) -> Option<PlaceKind> {
    match text.trim().to_lowercase().as_str() {
        "warehouse" | "wh" | "w" => Some(PlaceKind::Warehouse),
        "store" | "shop" | "s" => Some(PlaceKind::Store),
        "region" | "r" => Some(PlaceKind::Region),
        _ => None,
    }
}

fn state_of(text: &str) -> Option<OrderState> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_lowercase())).ok()
}

fn leave_type_of(text: &str) -> Option<LeaveType> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_lowercase())).ok()
}

fn like(text: &str) -> String {
    let t: String = text
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '%' | '_' | '\\'))
        .collect();
    format!("%{t}%")
}

fn text(v: impl Into<String>) -> Param {
    Param::Text(Some(v.into()))
}

fn sales_params(filter: &SalesFilter) -> Params {
    let mut p = Params::new();
    p.insert("start", text(filter.start.to_string()));
    p.insert("end", text(filter.end.to_string()));
    let customer = filter
        .customer
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    p.insert("customer", Param::Text(customer.map(str::to_string)));
    p.insert("customer_like", Param::Text(customer.map(like)));
    let one = |v: &[String]| match v {
        [only] => Param::Text(Some(only.clone())),
        _ => Param::Text(None),
    };
    p.insert("store", one(&filter.stores));
    p.insert("region", one(&filter.regions));
    p
}

/// Whether a store is inside the filter's scope (the filter's codes are the connector's).
fn in_scope(filter: &SalesFilter, places: &Places, store: &str) -> bool {
    let store_ok = filter.stores.is_empty() || filter.stores.iter().any(|s| s == store);
    let region = places.by_code(store).and_then(|p| p.region.as_deref());
    let region_ok =
        filter.regions.is_empty() || region.is_some_and(|r| filter.regions.iter().any(|x| x == r));
    store_ok && region_ok
}

impl SqlConnector {
    /// A place by code, or a bare one named by its code when the places query lacks it.
    fn place(places: &Places, code: &str, kind: PlaceKind) -> Place {
        places.by_code(code).cloned().unwrap_or_else(|| Place {
            code: code.to_string(),
            kind,
            name_en: code.to_string(),
            name_zh: code.to_string(),
            region: None,
            aliases: Vec::new(),
        })
    }

    async fn places_or_empty(&self) -> Result<Places, ErpError> {
        if self.queries.contains_key(Cap::Places.key()) {
            self.places().await
        } else {
            Ok(Places::default())
        }
    }

    fn item(&self, f: &Fields<'_>) -> Result<Item, String> {
        let name_en = f.req_text("name_en")?;
        Ok(Item {
            sku: f.req_text("sku")?,
            name_zh: f.text("name_zh").unwrap_or_else(|| name_en.clone()),
            name_en,
            unit: f.req_text("unit")?,
        })
    }

    fn stock_lines(
        &self,
        rows: &[Row],
        q: &Prepared,
        places: &Places,
    ) -> Result<Vec<StockLine>, ErpError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let f = Fields {
                row,
                map: &q.columns,
            };
            let line = (|| -> Result<StockLine, String> {
                let item = self.item(&f)?;
                let unit = item.unit.clone();
                let on_hand = f.req_dec("on_hand")?;
                let reserved = f.dec("reserved")?.unwrap_or_default();
                let available = f.dec("available")?.unwrap_or(on_hand - reserved);
                let reorder = f.dec("reorder_level")?.unwrap_or_default();
                let qty = |value: Decimal| Quantity {
                    value: value.normalize(),
                    unit: unit.clone(),
                };
                Ok(StockLine {
                    warehouse: Self::place(places, &f.req_text("warehouse")?, PlaceKind::Warehouse),
                    on_hand: qty(on_hand),
                    reserved: qty(reserved),
                    available: qty(available),
                    reorder_level: qty(reorder),
                    item,
                })
            })()
            .map_err(|e| self.err(format!("stock: {e}")))?;
            out.push(line);
        }
        Ok(out)
    }
}

#[async_trait]
impl Connector for SqlConnector {
    fn name(&self) -> &str {
        &self.name
    }

    /// Reachability and credentials (`SELECT 1`), then the places query if there is one.
    async fn health(&self) -> Result<(), ErpError> {
        let one = match &self.pool {
            Pool::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
            Pool::MySql(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
            Pool::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
        };
        one.map_err(|e| self.db_err(e))?;
        self.places_or_empty().await.map(|_| ())
    }

    async fn places(&self) -> Result<Places, ErpError> {
        let (rows, q) = self.run(Cap::Places, &Params::new()).await?;
        let mut places = Vec::with_capacity(rows.len());
        for row in &rows {
            let f = Fields {
                row,
                map: &q.columns,
            };
            let place = (|| -> Result<Place, String> {
                let kind_text = f.req_text("kind")?;
                let kind = kind_of(&kind_text).ok_or_else(|| {
                    format!("kind = {kind_text:?} is not warehouse, store or region")
                })?;
                let code = f.req_text("code")?;
                let name_en = f.text("name_en").unwrap_or_else(|| code.clone());
                Ok(Place {
                    name_zh: f.text("name_zh").unwrap_or_else(|| name_en.clone()),
                    name_en,
                    code,
                    kind,
                    region: f.text("region"),
                    aliases: f
                        .text("aliases")
                        .map(|a| {
                            a.split([',', ';', '|'])
                                .map(str::trim)
                                .filter(|s| !s.is_empty())
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })()
            .map_err(|e| self.err(format!("places: {e}")))?;
            places.push(place);
        }
        Ok(Places { places })
    }

    async fn find_items(&self, t: &str) -> Result<Vec<Item>, ErpError> {
        let mut p = Params::new();
        p.insert("text", text(t.trim()));
        p.insert("like", text(like(t)));
        let (rows, q) = self.run(Cap::FindItems, &p).await?;
        let mut items = rows
            .iter()
            .map(|row| {
                self.item(&Fields {
                    row,
                    map: &q.columns,
                })
                .map_err(|e| self.err(format!("find_items: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by(|a, b| a.sku.cmp(&b.sku));
        items.dedup_by(|a, b| a.sku == b.sku);
        Ok(items)
    }

    async fn stock(
        &self,
        skus: &[String],
        warehouse: Option<&str>,
    ) -> Result<Vec<StockLine>, ErpError> {
        let places = self.places_or_empty().await?;
        let mut out = Vec::new();
        for sku in skus {
            let mut p = Params::new();
            p.insert("item", text(sku.clone()));
            p.insert("warehouse", Param::Text(warehouse.map(str::to_string)));
            let (rows, q) = self.run(Cap::Stock, &p).await?;
            out.extend(self.stock_lines(&rows, q, &places)?);
        }
        if let Some(w) = warehouse {
            out.retain(|l| l.warehouse.code == w);
        }
        out.sort_by(|a, b| {
            (a.item.sku.as_str(), a.warehouse.code.as_str())
                .cmp(&(b.item.sku.as_str(), b.warehouse.code.as_str()))
        });
        Ok(out)
    }

    async fn low_stock(&self, warehouse: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        let places = self.places_or_empty().await?;
        let mut p = Params::new();
        p.insert("warehouse", Param::Text(warehouse.map(str::to_string)));
        let (rows, q) = self.run(Cap::LowStock, &p).await?;
        let mut out = self.stock_lines(&rows, q, &places)?;
        out.retain(|l| l.is_low() && warehouse.is_none_or(|w| l.warehouse.code == w));
        out.sort_by(|a, b| {
            let gap = |l: &StockLine| l.reorder_level.value - l.available.value;
            gap(b).cmp(&gap(a)).then_with(|| {
                (a.item.sku.as_str(), a.warehouse.code.as_str())
                    .cmp(&(b.item.sku.as_str(), b.warehouse.code.as_str()))
            })
        });
        Ok(out)
    }

    async fn sales_summary(&self, filter: &SalesFilter) -> Result<SalesSummary, ErpError> {
        let places = self.places_or_empty().await?;
        let (rows, q) = self.run(Cap::SalesSummary, &sales_params(filter)).await?;
        let mut per_store: BTreeMap<String, (Decimal, u64, Option<String>)> = BTreeMap::new();
        for row in &rows {
            let f = Fields {
                row,
                map: &q.columns,
            };
            let (store, total, orders, currency) = (|| -> Result<_, String> {
                Ok((
                    f.req_text("store")?,
                    f.dec("total")?.unwrap_or_default(),
                    f.dec("orders")?.unwrap_or_default(),
                    f.text("currency"),
                ))
            })()
            .map_err(|e| self.err(format!("sales_summary: {e}")))?;
            if !in_scope(filter, &places, &store) {
                continue;
            }
            let orders = u64::try_from(orders.trunc().mantissa()).unwrap_or(0);
            let e = per_store.entry(store).or_default();
            e.0 += total;
            e.1 += orders;
            if currency.is_some() {
                e.2 = currency;
            }
        }
        let currencies: std::collections::BTreeSet<String> = per_store
            .values()
            .map(|(_, _, c)| self.money(Decimal::ZERO, c.clone()).currency)
            .collect();
        if currencies.len() > 1 {
            return Err(self.err(format!(
                "sales_summary: amounts in several currencies ({}) cannot be added up",
                currencies.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        let currency = currencies.into_iter().next();
        let mut by_store: Vec<StoreSales> = per_store
            .into_iter()
            .filter(|(_, (t, n, _))| !t.is_zero() || *n > 0)
            .map(|(code, (t, n, _))| StoreSales {
                store: Self::place(&places, &code, PlaceKind::Store),
                total: self.money(t, currency.clone()),
                orders: n,
            })
            .collect();
        by_store.sort_by(|a, b| {
            b.total
                .amount
                .cmp(&a.total.amount)
                .then_with(|| a.store.code.cmp(&b.store.code))
        });
        let total = by_store.iter().map(|s| s.total.amount).sum();
        Ok(SalesSummary {
            start: filter.start,
            end: filter.end,
            total: self.money(total, currency),
            orders: by_store.iter().map(|s| s.orders).sum(),
            by_store,
        })
    }

    /// The configured rows (one per order, or already grouped; each with the store that
    /// booked it, so the scope applies as for the summary) added up per customer here.
    async fn sales_by_customer(
        &self,
        filter: &SalesFilter,
    ) -> Result<Vec<CustomerSales>, ErpError> {
        let places = self.places_or_empty().await?;
        let (rows, q) = self
            .run(Cap::SalesByCustomer, &sales_params(filter))
            .await?;
        let mut per_customer: BTreeMap<String, (Decimal, u64, Option<String>)> = BTreeMap::new();
        for row in &rows {
            let f = Fields {
                row,
                map: &q.columns,
            };
            let (customer, store, total, orders, currency) = (|| -> Result<_, String> {
                Ok((
                    f.req_text("customer")?,
                    f.text("store"),
                    f.dec("total")?.unwrap_or_default(),
                    f.dec("orders")?.unwrap_or_default(),
                    f.text("currency"),
                ))
            })()
            .map_err(|e| self.err(format!("sales_by_customer: {e}")))?;
            // A row without a store counts only when the question has no place filter.
            let whole_company = filter.stores.is_empty() && filter.regions.is_empty();
            if !whole_company
                && !store
                    .as_deref()
                    .is_some_and(|s| in_scope(filter, &places, s))
            {
                continue;
            }
            let orders = u64::try_from(orders.trunc().mantissa()).unwrap_or(0);
            let e = per_customer.entry(customer.trim().to_string()).or_default();
            e.0 += total;
            e.1 += orders;
            if currency.is_some() {
                e.2 = currency;
            }
        }
        let currencies: std::collections::BTreeSet<String> = per_customer
            .values()
            .map(|(_, _, c)| self.money(Decimal::ZERO, c.clone()).currency)
            .collect();
        if currencies.len() > 1 {
            return Err(self.err(format!(
                "sales_by_customer: amounts in several currencies ({}) cannot be added up",
                currencies.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        let currency = currencies.into_iter().next();
        let mut out: Vec<CustomerSales> = per_customer
            .into_iter()
            .filter(|(_, (t, n, _))| !t.is_zero() || *n > 0)
            .map(|(customer, (t, n, _))| CustomerSales {
                customer,
                total: self.money(t, currency.clone()),
                orders: n,
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

    async fn top_items(&self, filter: &SalesFilter, limit: u32) -> Result<Vec<TopItem>, ErpError> {
        let places = self.places_or_empty().await?;
        let mut p = sales_params(filter);
        p.insert("limit", Param::Int(i64::from(limit)));
        let (rows, q) = self.run(Cap::TopItems, &p).await?;
        let mut per_item: BTreeMap<String, TopItem> = BTreeMap::new();
        for row in &rows {
            let f = Fields {
                row,
                map: &q.columns,
            };
            let (item, qty, revenue, currency, store) = (|| -> Result<_, String> {
                Ok((
                    self.item(&f)?,
                    f.dec("quantity")?.unwrap_or_default(),
                    f.dec("revenue")?.unwrap_or_default(),
                    f.text("currency"),
                    f.text("store"),
                ))
            })()
            .map_err(|e| self.err(format!("top_items: {e}")))?;
            if let Some(store) = &store
                && !in_scope(filter, &places, store)
            {
                continue;
            }
            let money = self.money(revenue, currency);
            match per_item.get_mut(&item.sku) {
                Some(t) => {
                    if t.revenue.currency != money.currency {
                        return Err(self.err("top_items: amounts in several currencies"));
                    }
                    t.quantity.value += qty;
                    t.revenue.amount += money.amount;
                }
                None => {
                    per_item.insert(
                        item.sku.clone(),
                        TopItem {
                            quantity: Quantity {
                                value: qty,
                                unit: item.unit.clone(),
                            },
                            revenue: money,
                            item,
                        },
                    );
                }
            }
        }
        let mut out: Vec<TopItem> = per_item
            .into_values()
            .map(|mut t| {
                t.quantity.value = t.quantity.value.normalize();
                t.revenue.amount = t.revenue.amount.normalize();
                t
            })
            .collect();
        out.sort_by(|a, b| {
            b.revenue
                .amount
                .cmp(&a.revenue.amount)
                .then_with(|| a.item.sku.cmp(&b.item.sku))
        });
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(out)
    }

    async fn order(&self, number: &str) -> Result<Option<Order>, ErpError> {
        let places = self.places_or_empty().await?;
        let mut p = Params::new();
        p.insert("order", text(number.trim().to_uppercase()));
        let (rows, q) = self.run(Cap::Order, &p).await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let build = || -> Result<Order, String> {
            let head = Fields {
                row: first,
                map: &q.columns,
            };
            let state_text = head.req_text("state")?;
            let state = state_of(&state_text).ok_or_else(|| {
                format!(
                    "state = {state_text:?} is not draft, confirmed, picking, shipped, delivered or cancelled"
                )
            })?;
            let currency = head.text("currency");
            let mut lines = Vec::new();
            for row in &rows {
                let f = Fields {
                    row,
                    map: &q.columns,
                };
                if f.text("sku").is_none() {
                    continue;
                }
                let item = self.item(&f)?;
                let qty = f.req_dec("quantity")?;
                let price = f.req_dec("unit_price")?;
                let amount = f.dec("amount")?.unwrap_or(qty * price);
                lines.push(OrderLine {
                    quantity: Quantity {
                        value: qty.normalize(),
                        unit: item.unit.clone(),
                    },
                    unit_price: self.money(price, currency.clone()),
                    amount: self.money(amount, currency.clone()),
                    item,
                });
            }
            let total = match head.dec("total")? {
                Some(t) => t,
                None => lines.iter().map(|l| l.amount.amount).sum(),
            };
            Ok(Order {
                number: head.req_text("number")?,
                customer: head.req_text("customer")?,
                store: Self::place(&places, &head.req_text("store")?, PlaceKind::Store),
                order_date: head
                    .date("order_date")?
                    .ok_or("the result has no value for order_date")?,
                state,
                delivery_date: head.date("delivery_date")?,
                total: self.money(total, currency),
                lines,
            })
        };
        build()
            .map(Some)
            .map_err(|e| self.err(format!("order: {e}")))
    }

    async fn find_employees(&self, t: &str) -> Result<Vec<Employee>, ErpError> {
        let mut p = Params::new();
        p.insert("text", text(t.trim()));
        p.insert("like", text(like(t)));
        let (rows, q) = self.run(Cap::FindEmployees, &p).await?;
        let mut out = rows
            .iter()
            .map(|row| {
                let f = Fields {
                    row,
                    map: &q.columns,
                };
                (|| -> Result<Employee, String> {
                    let name_en = f.req_text("name_en")?;
                    Ok(Employee {
                        id: f.req_text("id")?,
                        name_zh: f.text("name_zh").unwrap_or_else(|| name_en.clone()),
                        name_en,
                    })
                })()
                .map_err(|e| self.err(format!("find_employees: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    async fn leave_balance(
        &self,
        employee_id: &str,
        on: Date,
    ) -> Result<Option<LeaveBalance>, ErpError> {
        let year = on.year();
        let mut p = Params::new();
        p.insert("employee", text(employee_id.trim()));
        p.insert("on", text(on.to_string()));
        p.insert("year", Param::Int(i64::from(year)));
        p.insert("year_start", text(format!("{year:04}-01-01")));
        p.insert("year_end", text(format!("{year:04}-12-31")));
        let (rows, q) = self.run(Cap::LeaveBalance, &p).await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let build = || -> Result<LeaveBalance, String> {
            let head = Fields {
                row: first,
                map: &q.columns,
            };
            let name_en = head
                .text("name_en")
                .unwrap_or_else(|| employee_id.to_string());
            let employee = Employee {
                id: head
                    .text("id")
                    .unwrap_or_else(|| employee_id.trim().to_string()),
                name_zh: head.text("name_zh").unwrap_or_else(|| name_en.clone()),
                name_en,
            };
            let mut lines = Vec::new();
            for row in &rows {
                let f = Fields {
                    row,
                    map: &q.columns,
                };
                if !f.has("leave_type") || f.text("leave_type").is_none() {
                    continue;
                }
                let lt_text = f.req_text("leave_type")?;
                let leave_type = leave_type_of(&lt_text)
                    .ok_or_else(|| format!("leave_type = {lt_text:?} is not a known leave type"))?;
                let entitled = f.dec("entitled")?.unwrap_or_default();
                let taken = f.dec("taken")?.unwrap_or_default();
                let remaining = f.dec("remaining")?.unwrap_or(entitled - taken);
                let day = |v: Decimal| Quantity {
                    value: v.normalize(),
                    unit: "day".into(),
                };
                lines.push(LeaveLine {
                    leave_type,
                    entitled: day(entitled),
                    taken: day(taken),
                    remaining: day(remaining),
                });
            }
            lines.sort_by_key(|l| l.leave_type);
            Ok(LeaveBalance {
                employee,
                year,
                lines,
            })
        };
        build()
            .map(Some)
            .map_err(|e| self.err(format!("leave_balance: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_parameters_become_placeholders() {
        let sql = "SELECT a::text, ':x' FROM t WHERE a = :item AND (b = :wh OR :wh IS NULL) -- :no\n AND c = :item";
        let (pg, names) = compile(sql, Driver::Postgres).expect("compiles");
        assert_eq!(
            pg,
            "SELECT a::text, ':x' FROM t WHERE a = $1 AND (b = $2 OR $2 IS NULL) -- :no\n AND c = $1"
        );
        assert_eq!(names, ["item", "wh"]);
        let (my, names) = compile(sql, Driver::MySql).expect("compiles");
        assert!(my.contains("a = ? AND (b = ? OR ? IS NULL)"), "{my}");
        assert_eq!(names, ["item", "wh", "wh", "item"]);
        assert!(compile("SELECT 'open", Driver::Sqlite).is_err());
    }

    #[test]
    fn only_single_selects_are_accepted() {
        assert!(check_select("select 1").is_ok());
        assert!(check_select("  WITH x AS (SELECT 1) SELECT * FROM x;").is_ok());
        assert!(check_select("(SELECT 1)").is_ok());
        assert!(check_select("DELETE FROM INVMAST").is_err());
        assert!(check_select("SELECT 1; DROP TABLE INVMAST").is_err());
    }

    #[test]
    fn legacy_values_parse_exactly() {
        let mut row = Row::default();
        row.cells
            .insert("amt".into(), Cell::Text(" 1,234.50 ".into()));
        row.cells.insert("dt".into(), Cell::Text("20260315".into()));
        row.cells
            .insert("ts".into(), Cell::Text("2026-03-15 10:00:00".into()));
        let map = BTreeMap::from([("total".to_string(), "amt".to_string())]);
        let f = Fields {
            row: &row,
            map: &map,
        };
        assert_eq!(f.req_dec("total"), Ok(Decimal::new(123450, 2)));
        let d: Date = "2026-03-15".parse().expect("date");
        assert_eq!(f.date("dt"), Ok(Some(d)));
        assert_eq!(f.date("ts"), Ok(Some(d)));
    }

    #[test]
    fn configuration_problems_are_named() {
        let cfg: SqlConfig = toml::from_str(
            r#"
            url = "postgres://erp:pw@localhost/erp"
            [queries.stock]
            sql = "SELECT * FROM INVMAST WHERE ITMNO = :sku"
            columns = { qty = "QOH" }
            "#,
        )
        .expect("parses");
        let p = cfg.problems("erp.connectors.legacy", &[Domain::Inventory]);
        let text = p.join("\n");
        for needle in [
            "password",
            ":sku",
            "columns.qty",
            "queries.places is missing",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }
}

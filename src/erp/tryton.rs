//! The Tryton connector: stock, sales and order status from a Tryton server over its
//! JSON-RPC interface.
//!
//! Tryton speaks JSON-RPC over HTTP: one `POST` per call to the database's RPC path
//! (`/<db>/rpc/` since 8.0, `/<db>/` on 6.x), with a session obtained from
//! `common.db.login` and sent as `Authorization: Session base64(login:uid:key)`. Values
//! that JSON cannot carry arrive typed (`{"__class__": "Decimal", "decimal": "50.00"}`,
//! `{"__class__": "date", …}`), and errors arrive as HTTP 200 with an `error` member.
//!
//! Mapping to the canonical model:
//! - items are `product.product` (SKU = product code, unit = the default unit's symbol,
//!   translated through `units`);
//! - places are the warehouses (`stock.location` of type `warehouse`), plus whatever the
//!   configuration adds (stores, regions, Chinese names); a sale's store is its warehouse;
//! - stock is `quantity` (on hand) and `forecast_quantity` per warehouse: what confirmed
//!   sales will take out is reported as reserved;
//! - sales totals come from the server's `sale.reporting.main` where it exists (8.x) and
//!   are summed from `sale.sale` rows otherwise; amounts are untaxed;
//! - Tryton has no leave module, so the HR questions return a clear error.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tracing::{debug, instrument};

use super::{
    Connector, CustomerSales, Employee, ErpError, Item, LeaveBalance, Money, Order, OrderLine,
    OrderState, Place, PlaceKind, Places, Quantity, SalesFilter, SalesSummary, StockLine,
    StoreSales, TopItem,
};
use crate::config::Secret;

/// Configuration of one Tryton server (`connector = "tryton"`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrytonConfig {
    /// The server's base URL without the database, e.g. `https://erp.example.com`.
    pub url: String,
    /// The database name, as in the client's login dialog.
    pub database: String,
    /// The RPC path under `url`; `{database}` is replaced by the database name. Tryton 8.x
    /// serves `/{database}/rpc/` (the default); 6.x serves `/{database}/`.
    #[serde(default = "default_rpc_path")]
    pub rpc_path: String,
    /// The Tryton user askerp logs in as. Give it read access only.
    pub username: String,
    /// That user's password (set it through the environment, not the file).
    /// Defaults to empty: it comes from the environment or a `*_FILE`, never the file.
    #[serde(default)]
    pub password: Secret,
    /// Language code sent at login; it chooses the language of names Tryton returns.
    #[serde(default = "default_language")]
    pub language: String,
    /// The company id whose sales are reported (`sale.reporting` needs it).
    #[serde(default = "default_company")]
    pub company: i64,
    /// Warehouse codes to expose; empty exposes every warehouse.
    #[serde(default)]
    pub warehouses: Vec<String>,
    /// Places to add or describe: a place whose code and kind match a warehouse replaces
    /// its names and region; others (stores, regions) are added as they are.
    #[serde(default)]
    pub places: Vec<Place>,
    /// Unit symbols as Tryton writes them mapped to the units cards show (`u` → `pc`).
    #[serde(default)]
    pub units: BTreeMap<String, String>,
    /// Reorder level per SKU; Tryton's own order points live in a module most sites lack.
    #[serde(default, with = "super::mapping::decimal_map")]
    pub reorder_levels: BTreeMap<String, Decimal>,
    /// Reorder level of SKUs not listed in `reorder_levels`; 0 leaves them out of low-stock lists.
    #[serde(default, with = "super::mapping::decimal")]
    pub default_reorder_level: Decimal,
    /// Reorder levels of one warehouse (its code), overriding `reorder_levels` there.
    #[serde(default, with = "super::mapping::decimal_map_by_warehouse")]
    pub warehouse_reorder_levels: super::mapping::WarehouseLevels,
    /// Use the server's sales reporting (`sale.reporting.main`, Tryton 7+) for totals
    /// when the question has no customer filter; otherwise orders are summed here.
    #[serde(default = "default_true")]
    pub server_reporting: bool,
    /// Timeout of one HTTP request, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_rpc_path() -> String {
    "/{database}/rpc/".into()
}
fn default_language() -> String {
    "en".into()
}
fn default_company() -> i64 {
    1
}
fn default_true() -> bool {
    true
}
fn default_timeout() -> u64 {
    10
}

impl TrytonConfig {
    /// Every problem with this configuration, found without contacting the server.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match url::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(_) => problems.push(format!("tryton.url {:?} must be http or https", self.url)),
            Err(e) => problems.push(format!("tryton.url {:?} is not a URL: {e}", self.url)),
        }
        if self.database.trim().is_empty() {
            problems.push("tryton.database is empty".into());
        }
        if !self.rpc_path.starts_with('/') {
            problems.push(format!(
                "tryton.rpc_path {:?} must start with '/'",
                self.rpc_path
            ));
        }
        if self.username.trim().is_empty() {
            problems.push("tryton.username is empty".into());
        }
        if self.password.is_empty() {
            problems.push("tryton.password is empty (set it in the environment)".into());
        }
        if self.timeout_secs == 0 {
            problems.push("tryton.timeout_secs must be greater than 0".into());
        }
        for (sku, level) in &self.reorder_levels {
            if level.is_sign_negative() {
                problems.push(format!("tryton.reorder_levels.{sku} is negative"));
            }
        }
        for (wh, levels) in &self.warehouse_reorder_levels {
            for (sku, level) in levels {
                if level.is_sign_negative() {
                    problems.push(format!(
                        "tryton.warehouse_reorder_levels.{wh}.{sku} is negative"
                    ));
                }
            }
        }
        if self.default_reorder_level.is_sign_negative() {
            problems.push("tryton.default_reorder_level is negative".into());
        }
        problems
    }

    fn endpoint(&self) -> String {
        let path = self.rpc_path.replace("{database}", &self.database);
        format!("{}{}", self.url.trim_end_matches('/'), path)
    }
}

/// A Tryton server seen through the [`Connector`] trait.
pub struct TrytonConnector {
    name: String,
    cfg: TrytonConfig,
    http: reqwest::Client,
    endpoint: String,
    /// The `Authorization` header of the current session; `None` until the first call.
    /// Held across a login so concurrent callers wait for one login instead of each
    /// making their own (Tryton rate-limits logins).
    session: Mutex<Option<String>>,
    next_id: AtomicU64,
    logins: AtomicU64,
}

/// What one HTTP exchange produced, before session handling.
enum Reply {
    Result(Value),
    Unauthorized,
}

const SALE_STATES: [&str; 3] = ["confirmed", "processing", "done"];

impl TrytonConnector {
    /// Builds the connector. No network traffic: the session is opened by the first call.
    pub async fn connect(name: &str, cfg: &TrytonConfig) -> Result<Self, ErpError> {
        let problems = cfg.validate();
        if !problems.is_empty() {
            return Err(ErpError::Query {
                connector: name.into(),
                detail: problems.join("; "),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_secs))
            .connect_timeout(Duration::from_secs(cfg.timeout_secs.min(5)))
            .build()
            .map_err(|e| ErpError::Unavailable {
                connector: name.into(),
                detail: format!("HTTP client: {e}"),
            })?;
        Ok(TrytonConnector {
            name: name.into(),
            endpoint: cfg.endpoint(),
            cfg: cfg.clone(),
            http,
            session: Mutex::new(None),
            next_id: AtomicU64::new(1),
            logins: AtomicU64::new(0),
        })
    }

    /// How many times this connector has logged in (once, plus once per expired session).
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// Replaces the session key with one the server does not know, as if the session had
    /// expired on the server; the next call must log in again.
    #[doc(hidden)]
    pub async fn expire_session_for_tests(&self) {
        let mut session = self.session.lock().await;
        if session.is_some() {
            let raw = format!("{}:1:{}", self.cfg.username, "0".repeat(64));
            *session = Some(format!(
                "Session {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            ));
        }
    }

    fn unavailable(&self, detail: impl Into<String>) -> ErpError {
        ErpError::Unavailable {
            connector: self.name.clone(),
            detail: detail.into(),
        }
    }

    fn query_error(&self, detail: impl Into<String>) -> ErpError {
        ErpError::Query {
            connector: self.name.clone(),
            detail: detail.into(),
        }
    }

    /// One JSON-RPC exchange. HTTP-level refusals become [`Reply::Unauthorized`] or
    /// errors; a JSON-RPC `error` member becomes [`ErpError::Query`].
    async fn exchange(
        &self,
        method: &str,
        params: &Value,
        auth: Option<&str>,
    ) -> Result<Reply, ErpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .post(&self.endpoint)
            .json(&json!({"id": id, "method": method, "params": params}));
        if let Some(auth) = auth {
            request = request.header(reqwest::header::AUTHORIZATION, auth);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                self.unavailable(format!(
                    "{method}: no answer within {} s",
                    self.cfg.timeout_secs
                ))
            } else {
                self.unavailable(format!("{method}: {e}"))
            }
        })?;
        let status = response.status();
        match status.as_u16() {
            401 | 403 => return Ok(Reply::Unauthorized),
            404 => {
                return Err(self.unavailable(format!(
                    "{} answered 404: no database {:?} there (check url, database and rpc_path)",
                    self.endpoint, self.cfg.database
                )));
            }
            405 => {
                return Err(self.unavailable(format!(
                    "{} answered 405: wrong rpc_path for this Tryton version \
                     (8.x uses /{{database}}/rpc/, 6.x uses /{{database}}/)",
                    self.endpoint
                )));
            }
            429 => {
                return Err(self.unavailable(format!(
                    "{method}: Tryton's rate limit is active (HTTP 429, too many failed logins \
                     for {:?}); try again later",
                    self.cfg.username
                )));
            }
            _ if !status.is_success() => {
                return Err(self.unavailable(format!("{method}: HTTP {status}")));
            }
            _ => {}
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| self.unavailable(format!("{method}: unreadable answer: {e}")))?;
        if let Some(error) = body.get("error").filter(|e| !e.is_null()) {
            return Err(self.query_error(format!("{method}: {}", rpc_error_text(error))));
        }
        Ok(Reply::Result(
            body.get("result").cloned().unwrap_or(Value::Null),
        ))
    }

    /// Logs in and returns the `Authorization` header of the new session.
    async fn login(&self) -> Result<String, ErpError> {
        let params = json!([
            self.cfg.username,
            {"password": self.cfg.password.expose()},
            self.cfg.language
        ]);
        match self.exchange("common.db.login", &params, None).await? {
            Reply::Unauthorized => Err(self.unavailable(format!(
                "login refused for user {:?}: wrong user name or password",
                self.cfg.username
            ))),
            Reply::Result(result) => {
                // 8.x answers [uid, key, bus_url]; 6.x answers [uid, key].
                let uid = result.get(0).and_then(Value::as_i64);
                let key = result.get(1).and_then(Value::as_str);
                match (uid, key) {
                    (Some(uid), Some(key)) => {
                        self.logins.fetch_add(1, Ordering::Relaxed);
                        let raw = format!("{}:{uid}:{key}", self.cfg.username);
                        Ok(format!(
                            "Session {}",
                            base64::engine::general_purpose::STANDARD.encode(raw)
                        ))
                    }
                    _ => Err(self.unavailable(format!(
                        "login for user {:?} gave no session",
                        self.cfg.username
                    ))),
                }
            }
        }
    }

    /// A model or server call with the session, logging in first and once more when the
    /// server no longer knows the session (expired, server restarted).
    #[instrument(skip(self, params), fields(connector = %self.name))]
    async fn call(&self, method: &str, params: Value) -> Result<Value, ErpError> {
        for attempt in 0..2 {
            let auth = {
                let mut session = self.session.lock().await;
                match session.as_ref() {
                    Some(auth) => auth.clone(),
                    None => {
                        let auth = self.login().await?;
                        *session = Some(auth.clone());
                        auth
                    }
                }
            };
            match self.exchange(method, &params, Some(&auth)).await? {
                Reply::Result(v) => return Ok(v),
                Reply::Unauthorized => {
                    debug!(attempt, "session refused; logging in again");
                    let mut session = self.session.lock().await;
                    if session.as_deref() == Some(auth.as_str()) {
                        *session = None;
                    }
                }
            }
        }
        Err(self.unavailable(format!(
            "{method}: the server refused a fresh session for user {:?}",
            self.cfg.username
        )))
    }

    /// `search_read` on `model`; rows are JSON objects.
    async fn search_read(
        &self,
        model: &str,
        domain: Value,
        limit: Option<u32>,
        order: Value,
        fields: &[&str],
        context: Value,
    ) -> Result<Vec<Value>, ErpError> {
        let result = self
            .call(
                &format!("model.{model}.search_read"),
                json!([domain, 0, limit, order, fields, context]),
            )
            .await?;
        match result {
            Value::Array(rows) => Ok(rows),
            other => Err(self.query_error(format!(
                "{model}.search_read answered {} instead of rows",
                kind_of(&other)
            ))),
        }
    }

    /// The warehouses as `(id, place)`, in code order, limited to `warehouses` if set.
    async fn warehouses(&self) -> Result<Vec<(i64, Place)>, ErpError> {
        let mut domain = vec![json!(["type", "=", "warehouse"])];
        if !self.cfg.warehouses.is_empty() {
            domain.push(json!(["code", "in", self.cfg.warehouses]));
        }
        let rows = self
            .search_read(
                "stock.location",
                Value::Array(domain),
                None,
                json!([["code", "ASC"]]),
                &["code", "name"],
                json!({}),
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let id = row.get("id")?.as_i64()?;
                let code = row.get("code")?.as_str()?.to_string();
                let name = row.get("name").and_then(Value::as_str).unwrap_or(&code);
                let place = self.describe(Place {
                    code: code.clone(),
                    kind: PlaceKind::Warehouse,
                    name_en: name.to_string(),
                    name_zh: name.to_string(),
                    region: None,
                    aliases: Vec::new(),
                });
                Some((id, place))
            })
            .collect())
    }

    /// A server place with the configured names, region and aliases for its code and kind.
    fn describe(&self, place: Place) -> Place {
        match self
            .cfg
            .places
            .iter()
            .find(|p| p.code == place.code && p.kind == place.kind)
        {
            Some(configured) => configured.clone(),
            None => place,
        }
    }

    /// The place a sale booked at warehouse `code` counts for: a configured store with
    /// that code, else the warehouse itself.
    fn sales_place(&self, code: &str, warehouses: &[(i64, Place)]) -> Place {
        if let Some(store) = self
            .cfg
            .places
            .iter()
            .find(|p| p.code == code && p.kind == PlaceKind::Store)
        {
            return store.clone();
        }
        warehouses
            .iter()
            .find(|(_, p)| p.code == code)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| Place {
                code: code.to_string(),
                kind: PlaceKind::Warehouse,
                name_en: code.to_string(),
                name_zh: code.to_string(),
                region: None,
                aliases: Vec::new(),
            })
    }

    /// Warehouses a sales filter covers: its stores, or the places of its regions; all
    /// when it names neither.
    fn warehouses_in_scope<'a>(
        &self,
        filter: &SalesFilter,
        warehouses: &'a [(i64, Place)],
    ) -> Vec<&'a (i64, Place)> {
        warehouses
            .iter()
            .filter(|(_, wh)| {
                let place = self.sales_place(&wh.code, warehouses);
                let store_ok = filter.stores.is_empty() || filter.stores.contains(&place.code);
                let region_ok = filter.regions.is_empty()
                    || place
                        .region
                        .as_ref()
                        .is_some_and(|r| filter.regions.contains(r));
                store_ok && region_ok
            })
            .collect()
    }

    fn unit(&self, symbol: &str) -> String {
        super::mapping::unit(&self.cfg.units, symbol)
    }

    fn reorder_level(&self, sku: &str, warehouse: &str) -> Decimal {
        super::mapping::reorder_level_in(
            &self.cfg.warehouse_reorder_levels,
            &self.cfg.reorder_levels,
            self.cfg.default_reorder_level,
            sku,
            warehouse,
        )
    }

    fn item_from(&self, row: &Value) -> Option<Item> {
        let sku = row.get("code")?.as_str()?.to_string();
        let name = row
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&sku)
            .to_string();
        let unit = dotted(row, "default_uom.symbol")
            .and_then(Value::as_str)
            .map(|s| self.unit(s))
            .unwrap_or_default();
        Some(Item {
            sku,
            name_en: name.clone(),
            name_zh: name,
            unit,
        })
    }

    /// Stock lines of the products matching `domain`, per warehouse in `warehouses`.
    async fn stock_lines(
        &self,
        domain: Value,
        warehouses: &[(i64, Place)],
        keep_empty: bool,
    ) -> Result<Vec<StockLine>, ErpError> {
        let mut lines = Vec::new();
        for (id, warehouse) in warehouses {
            let rows = self
                .search_read(
                    "product.product",
                    domain.clone(),
                    None,
                    json!([["code", "ASC"]]),
                    &[
                        "code",
                        "name",
                        "default_uom.symbol",
                        "quantity",
                        "forecast_quantity",
                    ],
                    json!({"locations": [id]}),
                )
                .await?;
            for row in &rows {
                let Some(item) = self.item_from(row) else {
                    continue;
                };
                let on_hand = row.get("quantity").and_then(decimal).unwrap_or_default();
                let forecast = row
                    .get("forecast_quantity")
                    .and_then(decimal)
                    .unwrap_or(on_hand);
                // Forecast below on hand: planned outgoing moves (confirmed sales) hold the
                // difference. Incoming moves do not make stock available today.
                let reserved = (on_hand - forecast).max(Decimal::ZERO);
                if on_hand.is_zero() && reserved.is_zero() && !keep_empty {
                    continue;
                }
                let unit = item.unit.clone();
                let q = |value: Decimal| Quantity {
                    value: value.normalize(),
                    unit: unit.clone(),
                };
                lines.push(StockLine {
                    reorder_level: q(self.reorder_level(&item.sku, &warehouse.code)),
                    on_hand: q(on_hand),
                    reserved: q(reserved),
                    available: q(on_hand - reserved),
                    warehouse: warehouse.clone(),
                    item,
                });
            }
        }
        Ok(lines)
    }

    async fn selected_warehouses(
        &self,
        warehouse: Option<&str>,
    ) -> Result<Vec<(i64, Place)>, ErpError> {
        let all = self.warehouses().await?;
        Ok(match warehouse {
            None => all,
            Some(code) => all.into_iter().filter(|(_, p)| p.code == code).collect(),
        })
    }

    /// The domain on `sale.sale` fields (prefixed by `prefix`) for a sales filter.
    fn sales_domain(
        &self,
        filter: &SalesFilter,
        in_scope: &[&(i64, Place)],
        prefix: &str,
    ) -> Vec<Value> {
        let mut domain = vec![
            json!([format!("{prefix}state"), "in", SALE_STATES]),
            json!([
                format!("{prefix}sale_date"),
                ">=",
                tryton_date(filter.start)
            ]),
            json!([format!("{prefix}sale_date"), "<=", tryton_date(filter.end)]),
        ];
        if !filter.stores.is_empty() || !filter.regions.is_empty() {
            let ids: Vec<i64> = in_scope.iter().map(|(id, _)| *id).collect();
            domain.push(json!([format!("{prefix}warehouse"), "in", ids]));
        }
        if let Some(customer) = filter.customer.as_deref().filter(|c| !c.trim().is_empty()) {
            domain.push(json!([
                format!("{prefix}party.rec_name"),
                "ilike",
                format!("%{}%", like_escape(customer.trim()))
            ]));
        }
        domain
    }

    /// Totals per warehouse from `sale.reporting.main`; `None` when the server has no
    /// such model (Tryton 6.x).
    async fn reported_sales(
        &self,
        filter: &SalesFilter,
        in_scope: &[&(i64, Place)],
    ) -> Result<Option<Vec<(String, Money, u64)>>, ErpError> {
        let mut per_warehouse = Vec::new();
        for (id, wh) in in_scope {
            let context = json!({
                "company": self.cfg.company,
                "from_date": tryton_date(filter.start),
                "to_date": tryton_date(filter.end),
                "warehouse": id,
            });
            let rows = match self
                .search_read(
                    "sale.reporting.main",
                    json!([]),
                    None,
                    Value::Null,
                    &["number", "revenue", "currency.code"],
                    context,
                )
                .await
            {
                Ok(rows) => rows,
                Err(ErpError::Query { detail, .. }) if detail.contains("sale.reporting.main") => {
                    debug!(%detail, "no server-side sales reporting; summing orders");
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            for row in rows {
                let orders = row.get("number").and_then(Value::as_u64).unwrap_or(0);
                let revenue = row.get("revenue").and_then(decimal).unwrap_or_default();
                let currency = dotted(&row, "currency.code")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                per_warehouse.push((
                    wh.code.clone(),
                    Money {
                        amount: revenue,
                        currency,
                    },
                    orders,
                ));
            }
        }
        Ok(Some(per_warehouse))
    }

    /// Totals per warehouse summed from the orders themselves.
    async fn summed_sales(
        &self,
        filter: &SalesFilter,
        in_scope: &[&(i64, Place)],
    ) -> Result<Vec<(String, Money, u64)>, ErpError> {
        let rows = self
            .search_read(
                "sale.sale",
                Value::Array(self.sales_domain(filter, in_scope, "")),
                None,
                Value::Null,
                &["untaxed_amount", "currency.code", "warehouse.code"],
                json!({}),
            )
            .await?;
        let mut groups: BTreeMap<(String, String), (Decimal, u64)> = BTreeMap::new();
        for row in &rows {
            let wh = dotted(row, "warehouse.code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let currency = dotted(row, "currency.code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let amount = row
                .get("untaxed_amount")
                .and_then(decimal)
                .unwrap_or_default();
            let entry = groups.entry((wh, currency)).or_default();
            entry.0 += amount;
            entry.1 += 1;
        }
        Ok(groups
            .into_iter()
            .map(|((wh, currency), (amount, orders))| (wh, Money { amount, currency }, orders))
            .collect())
    }
}

#[async_trait]
impl Connector for TrytonConnector {
    fn name(&self) -> &str {
        &self.name
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn places(&self) -> Result<Places, ErpError> {
        let reported = self
            .warehouses()
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        Ok(super::mapping::with_configured(reported, &self.cfg.places))
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn find_items(&self, text: &str) -> Result<Vec<Item>, ErpError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let domain: Vec<Value> = words
            .iter()
            .map(|w| {
                let pattern = format!("%{}%", like_escape(w));
                json!(["OR", ["code", "ilike", pattern], ["name", "ilike", pattern]])
            })
            .collect();
        let rows = self
            .search_read(
                "product.product",
                Value::Array(domain),
                Some(50),
                json!([["code", "ASC"]]),
                &["code", "name", "default_uom.symbol"],
                json!({}),
            )
            .await?;
        Ok(rows.iter().filter_map(|r| self.item_from(r)).collect())
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn stock(
        &self,
        skus: &[String],
        warehouse: Option<&str>,
    ) -> Result<Vec<StockLine>, ErpError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let warehouses = self.selected_warehouses(warehouse).await?;
        self.stock_lines(json!([["code", "in", skus]]), &warehouses, false)
            .await
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn low_stock(&self, warehouse: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        let warehouses = self.selected_warehouses(warehouse).await?;
        let domain = if self.cfg.default_reorder_level.is_zero() {
            let watched: Vec<String> = super::mapping::watched_skus(
                &self.cfg.warehouse_reorder_levels,
                &self.cfg.reorder_levels,
            );
            if watched.is_empty() {
                return Ok(Vec::new());
            }
            json!([["code", "in", watched]])
        } else {
            json!([["type", "=", "goods"]])
        };
        let lines = self.stock_lines(domain, &warehouses, true).await?;
        Ok(lines.into_iter().filter(StockLine::is_low).collect())
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn sales_summary(&self, filter: &SalesFilter) -> Result<SalesSummary, ErpError> {
        let warehouses = self.warehouses().await?;
        let in_scope = self.warehouses_in_scope(filter, &warehouses);
        let per_warehouse = if self.cfg.server_reporting && filter.customer.is_none() {
            match self.reported_sales(filter, &in_scope).await? {
                Some(rows) => rows,
                None => self.summed_sales(filter, &in_scope).await?,
            }
        } else {
            self.summed_sales(filter, &in_scope).await?
        };
        summarize(filter, per_warehouse, |code| {
            self.sales_place(code, &warehouses)
        })
        .map_err(|detail| self.query_error(detail))
    }

    /// The counted sales of the period (same states, dates, warehouses and amount field as
    /// the summary's own sum) added up per party.
    #[instrument(skip_all, fields(connector = %self.name))]
    async fn sales_by_customer(
        &self,
        filter: &SalesFilter,
    ) -> Result<Vec<CustomerSales>, ErpError> {
        let warehouses = self.warehouses().await?;
        let in_scope = self.warehouses_in_scope(filter, &warehouses);
        let rows = self
            .search_read(
                "sale.sale",
                Value::Array(self.sales_domain(filter, &in_scope, "")),
                None,
                Value::Null,
                &["untaxed_amount", "currency.code", "party.rec_name"],
                json!({}),
            )
            .await?;
        let rows = rows.iter().map(|row| {
            let party = dotted(row, "party.rec_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string();
            let currency = dotted(row, "currency.code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let amount = row
                .get("untaxed_amount")
                .and_then(decimal)
                .unwrap_or_default();
            (party, currency, amount)
        });
        CustomerSales::group(rows).map_err(|e| self.query_error(e))
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn top_items(&self, filter: &SalesFilter, limit: u32) -> Result<Vec<TopItem>, ErpError> {
        let warehouses = self.warehouses().await?;
        let in_scope = self.warehouses_in_scope(filter, &warehouses);
        let mut domain = self.sales_domain(filter, &in_scope, "sale.");
        domain.push(json!(["type", "=", "line"]));
        let rows = self
            .search_read(
                "sale.line",
                Value::Array(domain),
                None,
                Value::Null,
                &[
                    "product.code",
                    "product.name",
                    "quantity",
                    "unit.symbol",
                    "amount",
                    "sale.currency.code",
                ],
                json!({}),
            )
            .await?;
        let mut by_sku: BTreeMap<String, TopItem> = BTreeMap::new();
        for row in &rows {
            let Some(sku) = dotted(row, "product.code").and_then(Value::as_str) else {
                continue;
            };
            let name = dotted(row, "product.name")
                .and_then(Value::as_str)
                .unwrap_or(sku);
            let unit = dotted(row, "unit.symbol")
                .and_then(Value::as_str)
                .map(|u| self.unit(u))
                .unwrap_or_default();
            let currency = dotted(row, "sale.currency.code")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let quantity = row.get("quantity").and_then(decimal).unwrap_or_default();
            let amount = row.get("amount").and_then(decimal).unwrap_or_default();
            let entry = by_sku.entry(sku.to_string()).or_insert_with(|| TopItem {
                item: Item {
                    sku: sku.to_string(),
                    name_en: name.to_string(),
                    name_zh: name.to_string(),
                    unit: unit.clone(),
                },
                quantity: Quantity {
                    value: Decimal::ZERO,
                    unit,
                },
                revenue: Money {
                    amount: Decimal::ZERO,
                    currency: currency.to_string(),
                },
            });
            entry.quantity.value += quantity;
            entry.revenue.amount += amount;
        }
        Ok(rank_top_items(by_sku.into_values().collect(), limit))
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn order(&self, number: &str) -> Result<Option<Order>, ErpError> {
        let number = number.trim();
        if number.is_empty() {
            return Ok(None);
        }
        let rows = self
            .search_read(
                "sale.sale",
                json!([["OR", ["number", "=", number], ["reference", "=", number]]]),
                Some(1),
                json!([["id", "ASC"]]),
                &[
                    "number",
                    "reference",
                    "sale_date",
                    "state",
                    "shipment_state",
                    "party.rec_name",
                    "warehouse.code",
                    "total_amount",
                    "currency.code",
                ],
                json!({}),
            )
            .await?;
        let Some(sale) = rows.first() else {
            return Ok(None);
        };
        let Some(id) = sale.get("id").and_then(Value::as_i64) else {
            return Err(self.query_error("sale.sale row without id"));
        };
        let currency = dotted(sale, "currency.code")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let lines = self
            .search_read(
                "sale.line",
                json!([["sale", "=", id], ["type", "=", "line"]]),
                None,
                json!([["sequence", "ASC"], ["id", "ASC"]]),
                &[
                    "product.code",
                    "product.name",
                    "description",
                    "quantity",
                    "unit.symbol",
                    "unit_price",
                    "amount",
                ],
                json!({}),
            )
            .await?;
        let lines = lines
            .iter()
            .map(|row| {
                let sku = dotted(row, "product.code")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let name = dotted(row, "product.name")
                    .and_then(Value::as_str)
                    .or_else(|| row.get("description").and_then(Value::as_str))
                    .unwrap_or(&sku)
                    .to_string();
                let unit = dotted(row, "unit.symbol")
                    .and_then(Value::as_str)
                    .map(|u| self.unit(u))
                    .unwrap_or_default();
                let money = |v: Option<&Value>| Money {
                    amount: v.and_then(decimal).unwrap_or_default(),
                    currency: currency.clone(),
                };
                OrderLine {
                    item: Item {
                        sku,
                        name_en: name.clone(),
                        name_zh: name,
                        unit: unit.clone(),
                    },
                    quantity: Quantity {
                        value: row
                            .get("quantity")
                            .and_then(decimal)
                            .unwrap_or_default()
                            .normalize(),
                        unit,
                    },
                    unit_price: money(row.get("unit_price")),
                    amount: money(row.get("amount")),
                }
            })
            .collect();
        let warehouses = self.warehouses().await?;
        let wh_code = dotted(sale, "warehouse.code")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let state = order_state(
            sale.get("state")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            sale.get("shipment_state")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let order_date = sale
            .get("sale_date")
            .and_then(tryton_date_value)
            .ok_or_else(|| self.query_error(format!("sale {number} has no sale date")))?;
        Ok(Some(Order {
            number: sale
                .get("number")
                .and_then(Value::as_str)
                .or_else(|| sale.get("reference").and_then(Value::as_str))
                .unwrap_or(number)
                .to_string(),
            customer: dotted(sale, "party.rec_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            store: self.sales_place(wh_code, &warehouses),
            order_date,
            state,
            delivery_date: None,
            lines,
            total: Money {
                amount: sale
                    .get("total_amount")
                    .and_then(decimal)
                    .unwrap_or_default(),
                currency,
            },
        }))
    }

    async fn find_employees(&self, _text: &str) -> Result<Vec<Employee>, ErpError> {
        Err(self.query_error(
            "Tryton has no leave or employee module; route leave questions to an HR connector",
        ))
    }

    async fn leave_balance(
        &self,
        _employee_id: &str,
        _on: Date,
    ) -> Result<Option<LeaveBalance>, ErpError> {
        Err(self
            .query_error("Tryton has no leave module; route leave questions to an HR connector"))
    }
}

/// Canonical order state from Tryton's sale `state` and `shipment_state`.
fn order_state(state: &str, shipment: &str) -> OrderState {
    match state {
        "cancelled" => OrderState::Cancelled,
        "done" => OrderState::Delivered,
        "confirmed" => OrderState::Confirmed,
        "processing" => match shipment {
            "sent" => OrderState::Shipped,
            "partially shipped" => OrderState::Picking,
            _ => OrderState::Confirmed,
        },
        _ => OrderState::Draft,
    }
}

/// Builds a [`SalesSummary`] from per-place totals. All amounts must share one currency:
/// adding different currencies would give a meaningless figure.
pub(crate) fn summarize(
    filter: &SalesFilter,
    per_place: Vec<(String, Money, u64)>,
    place: impl Fn(&str) -> Place,
) -> Result<SalesSummary, String> {
    let mut currency: Option<String> = None;
    let mut by_code: BTreeMap<String, (Decimal, u64)> = BTreeMap::new();
    for (code, money, orders) in per_place {
        if orders == 0 && money.amount.is_zero() {
            continue;
        }
        match &currency {
            None => currency = Some(money.currency.clone()),
            Some(c) if *c != money.currency => {
                return Err(format!(
                    "sales in several currencies ({c} and {}); totals cannot be added",
                    money.currency
                ));
            }
            Some(_) => {}
        }
        let entry = by_code.entry(code).or_default();
        entry.0 += money.amount;
        entry.1 += orders;
    }
    let currency = currency.unwrap_or_default();
    let mut by_store: Vec<StoreSales> = by_code
        .into_iter()
        .map(|(code, (amount, orders))| StoreSales {
            store: place(&code),
            total: Money {
                amount: amount.normalize(),
                currency: currency.clone(),
            },
            orders,
        })
        .collect();
    by_store.sort_by(|a, b| {
        b.total
            .amount
            .cmp(&a.total.amount)
            .then_with(|| a.store.code.cmp(&b.store.code))
    });
    let total: Decimal = by_store.iter().map(|s| s.total.amount).sum();
    let orders = by_store.iter().map(|s| s.orders).sum();
    Ok(SalesSummary {
        start: filter.start,
        end: filter.end,
        total: Money {
            amount: total.normalize(),
            currency,
        },
        orders,
        by_store,
    })
}

/// Orders best sellers by revenue (then quantity, then SKU) and keeps `limit`.
pub(crate) fn rank_top_items(mut items: Vec<TopItem>, limit: u32) -> Vec<TopItem> {
    for item in &mut items {
        item.quantity.value = item.quantity.value.normalize();
        item.revenue.amount = item.revenue.amount.normalize();
    }
    items.sort_by(|a, b| {
        b.revenue
            .amount
            .cmp(&a.revenue.amount)
            .then_with(|| b.quantity.value.cmp(&a.quantity.value))
            .then_with(|| a.item.sku.cmp(&b.item.sku))
    });
    items.truncate(limit as usize);
    items
}

/// A Tryton typed date.
fn tryton_date(d: Date) -> Value {
    json!({"__class__": "date", "year": d.year(), "month": d.month(), "day": d.day()})
}

/// Reads a Tryton typed date (or an ISO string) as a civil date.
fn tryton_date_value(v: &Value) -> Option<Date> {
    match v {
        Value::Object(o) if o.get("__class__").and_then(Value::as_str) == Some("date") => {
            let year = i16::try_from(o.get("year")?.as_i64()?).ok()?;
            let month = i8::try_from(o.get("month")?.as_i64()?).ok()?;
            let day = i8::try_from(o.get("day")?.as_i64()?).ok()?;
            Date::new(year, month, day).ok()
        }
        Value::String(s) => s.get(..10)?.parse().ok(),
        _ => None,
    }
}

/// Reads a Tryton `Decimal`, a JSON number or a numeric string as a [`Decimal`].
pub(crate) fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Object(o) => o.get("decimal").and_then(Value::as_str)?.parse().ok(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Decimal::from(i))
            } else {
                // Floats go through their shortest decimal text, so 38.0 is 38, not
                // 37.99999….
                n.to_string().parse::<Decimal>().ok().or_else(|| {
                    n.as_f64()
                        .and_then(|f| Decimal::from_scientific(&format!("{f:e}")).ok())
                })
            }
        }
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A dotted field of a `search_read` row: Tryton nests `a.b` under the key `"a."`.
fn dotted<'a>(row: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = row;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        current = if parts.peek().is_some() {
            current.get(format!("{part}."))?
        } else {
            current.get(part)?
        };
    }
    Some(current)
}

/// Escapes `%` and `_` so user text is matched literally inside an `ilike` pattern.
fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A readable text for a JSON-RPC error member (`[name, detail]`).
fn rpc_error_text(error: &Value) -> String {
    match error {
        Value::Array(parts) => {
            let name = parts.first().map(flatten_text).unwrap_or_default();
            let detail = parts.get(1).map(flatten_text).unwrap_or_default();
            if detail.is_empty() {
                name
            } else {
                format!("{name}: {detail}")
            }
        }
        other => flatten_text(other),
    }
}

fn flatten_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(flatten_text)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TrytonConfig {
        toml::from_str(
            r#"
            url = "http://127.0.0.1:8000"
            database = "erp"
            username = "askerp"
            password = "secret"
            units = { u = "pc" }
            reorder_levels = { "WIDGET-B" = 40, "GADGET-X" = "10.5" }
            "#,
        )
        .expect("config")
    }

    #[test]
    fn defaults_target_tryton_8_and_validate_clean() {
        let cfg = config();
        assert_eq!(cfg.endpoint(), "http://127.0.0.1:8000/erp/rpc/");
        assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
        assert_eq!(cfg.reorder_levels["GADGET-X"], Decimal::new(105, 1));
        assert!(!format!("{cfg:?}").contains("secret"));
    }

    #[test]
    fn validation_reports_every_problem() {
        let mut cfg = config();
        cfg.url = "ftp://x".into();
        cfg.database = " ".into();
        cfg.rpc_path = "rpc".into();
        cfg.password = Secret::default();
        cfg.timeout_secs = 0;
        assert_eq!(cfg.validate().len(), 5, "{:?}", cfg.validate());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<TrytonConfig>(
            "url='http://x'\ndatabase='erp'\nusername='a'\npassword='b'\npasword='c'",
        );
        assert!(err.is_err());
    }

    #[test]
    fn typed_values_decode() {
        assert_eq!(
            decimal(&json!({"__class__": "Decimal", "decimal": "50.00"})),
            Some(Decimal::new(5000, 2))
        );
        assert_eq!(decimal(&json!(38.0)), Some(Decimal::from(38)));
        assert_eq!(decimal(&json!(0.1)), Some(Decimal::new(1, 1)));
        assert_eq!(decimal(&json!("x")), None);
        assert_eq!(
            tryton_date_value(&json!({"__class__": "date", "year": 2025, "month": 3, "day": 1})),
            Some(jiff::civil::date(2025, 3, 1))
        );
        assert_eq!(
            tryton_date_value(&json!({"__class__": "date", "year": 2025, "month": 13, "day": 1})),
            None
        );
        assert_eq!(
            dotted(
                &json!({"sale.": {"currency.": {"code": "HKD"}}}),
                "sale.currency.code"
            ),
            Some(&json!("HKD"))
        );
    }

    #[test]
    fn states_map_to_canonical_ones() {
        assert_eq!(order_state("processing", "sent"), OrderState::Shipped);
        assert_eq!(order_state("processing", "waiting"), OrderState::Confirmed);
        assert_eq!(order_state("quotation", "none"), OrderState::Draft);
        assert_eq!(order_state("cancelled", "none"), OrderState::Cancelled);
        assert_eq!(order_state("done", "sent"), OrderState::Delivered);
    }

    #[test]
    fn like_patterns_are_literal() {
        assert_eq!(like_escape("50%_off"), "50\\%\\_off");
    }
}

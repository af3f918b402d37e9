//! The Odoo connector: stock, sales, order status and leave from Odoo's external API.
//!
//! Two transports, chosen by `api`:
//! - `jsonrpc` (Odoo up to 18; deprecated from 19): `POST /jsonrpc` calling
//!   `common.authenticate` once for the user id, then `object.execute_kw(db, uid, key,
//!   model, method, args, kwargs)` per call. A refused password is `false` from
//!   `authenticate` or an `AccessDenied` error.
//! - `json2` (Odoo 19+): `POST /json/2/<model>/<method>` with named arguments and
//!   `Authorization: bearer <API key>`; errors use HTTP status codes.
//!
//! Every call here passes named arguments, so the two transports share the query code;
//! only sales totals differ (`read_group` up to 18, `formatted_read_group` from 19).
//!
//! Mapping: items are `product.product` (SKU = `default_code`); places are
//! `stock.warehouse` (plus configured stores and regions) and an order's store is its
//! warehouse; stock is `stock.quant` in internal locations (`quantity`, `reserved_quantity`);
//! sales are confirmed `sale.order`s (`state` in `sale`, `done`), untaxed; leave is
//! `hr.leave.allocation` (entitled) and `hr.leave` (taken) for the leave types named in the
//! configuration. `date_order` is a UTC date-time, so periods are converted from the
//! company time zone and back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;
use tracing::instrument;

use super::tryton::{decimal, rank_top_items, summarize};
use super::{
    Connector, Employee, ErpError, Item, LeaveBalance, LeaveLine, Money, Order, OrderLine,
    OrderState, Place, PlaceKind, Places, Quantity, SalesFilter, SalesSummary, StockLine, TopItem,
};
use crate::config::Secret;
use crate::intent::LeaveType;

/// Which external API the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OdooApi {
    /// `/jsonrpc` with `execute_kw` (Odoo up to 18; still served, deprecated, by 19–21).
    #[default]
    Jsonrpc,
    /// `/json/2/<model>/<method>` with a bearer API key (Odoo 19+).
    Json2,
}

/// Configuration of one Odoo server (`connector = "odoo"`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OdooConfig {
    /// The server's base URL, e.g. `https://mycompany.odoo.com`.
    pub url: String,
    /// The database name.
    pub database: String,
    /// Which external API to use.
    #[serde(default)]
    pub api: OdooApi,
    /// The login of the user askerp acts as (for `jsonrpc`; `json2` identifies the user by
    /// the key). Give that user read-only access rights.
    #[serde(default)]
    pub username: String,
    /// That user's API key (Preferences → Account Security), or password for `jsonrpc`.
    /// Defaults to empty: it comes from the environment or a `*_FILE`, never the file.
    #[serde(default)]
    pub api_key: Secret,
    /// Sale order states that count as sales.
    #[serde(default = "default_sale_states")]
    pub sale_states: Vec<String>,
    /// The `hr.employee` field holding the employee ids of askerp's directory.
    #[serde(default = "default_employee_key")]
    pub employee_key: String,
    /// Leave type names (`hr.leave.type` `name`) per canonical leave type.
    #[serde(default = "default_leave_types")]
    pub leave_types: BTreeMap<LeaveType, String>,
    /// Places to add or describe: one whose code and kind match a warehouse replaces its
    /// names and region; others (stores, regions) are added.
    #[serde(default)]
    pub places: Vec<Place>,
    /// Unit names as Odoo writes them mapped to the units cards show (`Units` → `pc`).
    #[serde(default)]
    pub units: BTreeMap<String, String>,
    /// Reorder level per SKU (Odoo's reordering rules are not read).
    #[serde(default, with = "super::mapping::decimal_map")]
    pub reorder_levels: BTreeMap<String, Decimal>,
    /// Reorder level of SKUs not in `reorder_levels`; 0 leaves them out of low-stock lists.
    #[serde(default, with = "super::mapping::decimal")]
    pub default_reorder_level: Decimal,
    /// Reorder levels of one warehouse (its code), overriding `reorder_levels` there.
    #[serde(default, with = "super::mapping::decimal_map_by_warehouse")]
    pub warehouse_reorder_levels: super::mapping::WarehouseLevels,
    /// IANA time zone of the company; order date-times are UTC in Odoo.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Timeout of one HTTP request, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_sale_states() -> Vec<String> {
    vec!["sale".into(), "done".into()]
}
fn default_employee_key() -> String {
    "identification_id".into()
}
fn default_leave_types() -> BTreeMap<LeaveType, String> {
    BTreeMap::from([
        (LeaveType::Annual, "Paid Time Off".to_string()),
        (LeaveType::Sick, "Sick Time Off".to_string()),
        (LeaveType::Compensation, "Compensatory Days".to_string()),
    ])
}
fn default_time_zone() -> String {
    "Asia/Hong_Kong".into()
}
fn default_timeout() -> u64 {
    10
}

impl OdooConfig {
    /// Every problem with this configuration, found without contacting the server.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match url::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(_) => problems.push(format!("odoo.url {:?} must be http or https", self.url)),
            Err(e) => problems.push(format!("odoo.url {:?} is not a URL: {e}", self.url)),
        }
        if self.database.trim().is_empty() {
            problems.push("odoo.database is empty".into());
        }
        if self.api == OdooApi::Jsonrpc && self.username.trim().is_empty() {
            problems.push("odoo.username is empty (required with api = \"jsonrpc\")".into());
        }
        if self.api_key.is_empty() {
            problems.push("odoo.api_key is empty (set it in the environment)".into());
        }
        if self.sale_states.is_empty() {
            problems.push("odoo.sale_states is empty".into());
        }
        if TimeZone::get(&self.time_zone).is_err() {
            problems.push(format!(
                "odoo.time_zone {:?} is not an IANA time zone",
                self.time_zone
            ));
        }
        if self.timeout_secs == 0 {
            problems.push("odoo.timeout_secs must be greater than 0".into());
        }
        if self.default_reorder_level.is_sign_negative()
            || self.reorder_levels.values().any(|l| l.is_sign_negative())
            || self
                .warehouse_reorder_levels
                .values()
                .flat_map(|l| l.values())
                .any(|l| l.is_sign_negative())
        {
            problems.push("odoo reorder levels must not be negative".into());
        }
        problems
    }
}

/// An Odoo server seen through the [`Connector`] trait.
pub struct OdooConnector {
    name: String,
    cfg: OdooConfig,
    base: String,
    tz: TimeZone,
    http: reqwest::Client,
    /// The user id from `common.authenticate` (`jsonrpc` only), fetched by the first call.
    uid: Mutex<Option<i64>>,
    next_id: AtomicU64,
}

impl OdooConnector {
    /// Builds the connector. No network traffic: `jsonrpc` authenticates on the first call.
    pub async fn connect(name: &str, cfg: &OdooConfig) -> Result<Self, ErpError> {
        let problems = cfg.validate();
        if !problems.is_empty() {
            return Err(ErpError::Query {
                connector: name.into(),
                detail: problems.join("; "),
            });
        }
        let tz = TimeZone::get(&cfg.time_zone).map_err(|e| ErpError::Query {
            connector: name.into(),
            detail: e.to_string(),
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_secs))
            .connect_timeout(Duration::from_secs(cfg.timeout_secs.min(5)))
            .build()
            .map_err(|e| ErpError::Unavailable {
                connector: name.into(),
                detail: format!("HTTP client: {e}"),
            })?;
        Ok(OdooConnector {
            name: name.into(),
            base: cfg.url.trim_end_matches('/').to_string(),
            cfg: cfg.clone(),
            tz,
            http,
            uid: Mutex::new(None),
            next_id: AtomicU64::new(1),
        })
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

    fn send_error(&self, what: &str, e: reqwest::Error) -> ErpError {
        if e.is_timeout() {
            self.unavailable(format!(
                "{what}: no answer within {} s",
                self.cfg.timeout_secs
            ))
        } else {
            self.unavailable(format!("{what}: {e}"))
        }
    }

    /// One `/jsonrpc` call; `result` or a readable error.
    async fn jsonrpc(&self, service: &str, method: &str, args: Value) -> Result<Value, ErpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": id,
        });
        let response = self
            .http
            .post(format!("{}/jsonrpc", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| self.send_error(method, e))?;
        let status = response.status();
        if status.as_u16() == 429 {
            return Err(self.unavailable("Odoo is rate limiting (HTTP 429); try again later"));
        }
        if !status.is_success() {
            return Err(self.unavailable(format!("{service}.{method}: HTTP {status}")));
        }
        let reply: Value = response
            .json()
            .await
            .map_err(|e| self.unavailable(format!("{method}: unreadable answer: {e}")))?;
        if let Some(error) = reply.get("error") {
            let name = error
                .pointer("/data/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let message = error
                .pointer("/data/message")
                .or_else(|| error.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("error");
            if name.ends_with("AccessDenied") {
                return Err(self.unavailable(format!(
                    "Odoo refused the credentials of {:?}: {message}",
                    self.cfg.username
                )));
            }
            return Err(self.query_error(format!("{method}: {name}: {message}")));
        }
        Ok(reply.get("result").cloned().unwrap_or(Value::Null))
    }

    async fn uid(&self) -> Result<i64, ErpError> {
        let mut uid = self.uid.lock().await;
        if let Some(uid) = *uid {
            return Ok(uid);
        }
        let result = self
            .jsonrpc(
                "common",
                "authenticate",
                json!([
                    self.cfg.database,
                    self.cfg.username,
                    self.cfg.api_key.expose(),
                    {}
                ]),
            )
            .await?;
        match result.as_i64() {
            Some(id) if id > 0 => {
                *uid = Some(id);
                Ok(id)
            }
            _ => Err(self.unavailable(format!(
                "Odoo refused the login of {:?} on database {:?}: wrong login or API key",
                self.cfg.username, self.cfg.database
            ))),
        }
    }

    /// Calls `model.method` with named arguments (and record ids for methods on records).
    #[instrument(skip(self, ids, kwargs), fields(connector = %self.name))]
    async fn call(
        &self,
        model: &str,
        method: &str,
        ids: Option<Vec<i64>>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, ErpError> {
        match self.cfg.api {
            OdooApi::Jsonrpc => {
                let uid = self.uid().await?;
                let args = match ids {
                    Some(ids) => json!([ids]),
                    None => json!([]),
                };
                self.jsonrpc(
                    "object",
                    "execute_kw",
                    json!([
                        self.cfg.database,
                        uid,
                        self.cfg.api_key.expose(),
                        model,
                        method,
                        args,
                        kwargs
                    ]),
                )
                .await
            }
            OdooApi::Json2 => {
                let mut body = kwargs;
                if let Some(ids) = ids {
                    body.insert("ids".into(), json!(ids));
                }
                let response = self
                    .http
                    .post(format!("{}/json/2/{model}/{method}", self.base))
                    .bearer_auth(self.cfg.api_key.expose())
                    .header("X-Odoo-Database", &self.cfg.database)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| self.send_error(method, e))?;
                let status = response.status().as_u16();
                let reply: Value = response.json().await.unwrap_or(Value::Null);
                let message = reply
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match status {
                    200..=299 => Ok(reply),
                    401 | 403 => Err(self.unavailable(format!(
                        "Odoo refused the API key (HTTP {status}): {message}"
                    ))),
                    429 => {
                        Err(self.unavailable("Odoo is rate limiting (HTTP 429); try again later"))
                    }
                    400..=499 => Err(self.query_error(format!(
                        "{model}.{method}: HTTP {status}: {} {message}",
                        reply
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    ))),
                    _ => {
                        Err(self.unavailable(format!("{model}.{method}: HTTP {status} {message}")))
                    }
                }
            }
        }
    }

    async fn search_read(
        &self,
        model: &str,
        domain: Value,
        fields: &[&str],
        limit: Option<u32>,
        order: Option<&str>,
    ) -> Result<Vec<Value>, ErpError> {
        let mut kwargs = Map::new();
        kwargs.insert("domain".into(), domain);
        kwargs.insert("fields".into(), json!(fields));
        if let Some(limit) = limit {
            kwargs.insert("limit".into(), json!(limit));
        }
        if let Some(order) = order {
            kwargs.insert("order".into(), json!(order));
        }
        match self.call(model, "search_read", None, kwargs).await? {
            Value::Array(rows) => Ok(rows),
            _ => Err(self.query_error(format!("{model}.search_read gave no rows"))),
        }
    }

    /// Warehouses as `(id, place)`.
    async fn warehouses(&self) -> Result<Vec<(i64, Place)>, ErpError> {
        let rows = self
            .search_read(
                "stock.warehouse",
                json!([]),
                &["code", "name"],
                None,
                Some("code"),
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let id = r.get("id")?.as_i64()?;
                let code = r.get("code")?.as_str()?.to_string();
                let name = r
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(&code)
                    .to_string();
                let place = self
                    .cfg
                    .places
                    .iter()
                    .find(|p| p.code == code && p.kind == PlaceKind::Warehouse)
                    .cloned()
                    .unwrap_or(Place {
                        code,
                        kind: PlaceKind::Warehouse,
                        name_en: name.clone(),
                        name_zh: name,
                        region: None,
                        aliases: Vec::new(),
                    });
                Some((id, place))
            })
            .collect())
    }

    fn sales_place(&self, code: &str, warehouses: &[(i64, Place)]) -> Place {
        self.cfg
            .places
            .iter()
            .find(|p| p.code == code && p.kind == PlaceKind::Store)
            .cloned()
            .or_else(|| {
                warehouses
                    .iter()
                    .find(|(_, p)| p.code == code)
                    .map(|(_, p)| p.clone())
            })
            .unwrap_or_else(|| Place {
                code: code.to_string(),
                kind: PlaceKind::Warehouse,
                name_en: code.to_string(),
                name_zh: code.to_string(),
                region: None,
                aliases: Vec::new(),
            })
    }

    fn unit(&self, unit: &str) -> String {
        super::mapping::unit(&self.cfg.units, unit)
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

    /// Products by id: SKU, name and unit.
    async fn products(&self, ids: &BTreeSet<i64>) -> Result<BTreeMap<i64, Item>, ErpError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let rows = self
            .search_read(
                "product.product",
                json!([["id", "in", ids]]),
                &["default_code", "name", "uom_id"],
                None,
                None,
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((r.get("id")?.as_i64()?, self.item_from(r)?)))
            .collect())
    }

    fn item_from(&self, row: &Value) -> Option<Item> {
        let sku = row.get("default_code")?.as_str()?.to_string();
        let name = row
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&sku)
            .to_string();
        Some(Item {
            unit: many2one_name(row.get("uom_id"))
                .map(|u| self.unit(u))
                .unwrap_or_default(),
            sku,
            name_en: name.clone(),
            name_zh: name,
        })
    }

    /// The UTC date-time text of the start of `day` in the company time zone.
    fn utc_start(&self, day: Date) -> Result<String, ErpError> {
        let zoned = day
            .to_zoned(self.tz.clone())
            .map_err(|e| self.query_error(format!("date {day}: {e}")))?;
        Ok(zoned
            .timestamp()
            .to_zoned(TimeZone::UTC)
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string())
    }

    /// The civil date, in the company time zone, of an Odoo UTC date-time text.
    fn local_date(&self, text: &str) -> Option<Date> {
        let civil: jiff::civil::DateTime = text.replace(' ', "T").parse().ok()?;
        let ts = civil.to_zoned(TimeZone::UTC).ok()?.timestamp();
        Some(ts.to_zoned(self.tz.clone()).date())
    }

    /// The `sale.order` domain (fields prefixed by `prefix`) of a sales filter.
    fn sales_domain(
        &self,
        filter: &SalesFilter,
        warehouses: &[(i64, Place)],
        prefix: &str,
    ) -> Result<Vec<Value>, ErpError> {
        let end = filter
            .end
            .tomorrow()
            .map_err(|e| self.query_error(format!("date {}: {e}", filter.end)))?;
        let mut domain = vec![
            json!([format!("{prefix}state"), "in", self.cfg.sale_states]),
            json!([
                format!("{prefix}date_order"),
                ">=",
                self.utc_start(filter.start)?
            ]),
            json!([format!("{prefix}date_order"), "<", self.utc_start(end)?]),
        ];
        if !filter.stores.is_empty() || !filter.regions.is_empty() {
            let ids: Vec<i64> = warehouses
                .iter()
                .filter(|(_, wh)| {
                    let place = self.sales_place(&wh.code, warehouses);
                    (filter.stores.is_empty() || filter.stores.contains(&place.code))
                        && (filter.regions.is_empty()
                            || place
                                .region
                                .as_ref()
                                .is_some_and(|r| filter.regions.contains(r)))
                })
                .map(|(id, _)| *id)
                .collect();
            domain.push(json!([format!("{prefix}warehouse_id"), "in", ids]));
        }
        if let Some(customer) = filter
            .customer
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            domain.push(json!([
                format!("{prefix}partner_id.name"),
                "ilike",
                customer
            ]));
        }
        Ok(domain)
    }

    async fn stock_lines(
        &self,
        mut domain: Vec<Value>,
        warehouse: Option<&str>,
    ) -> Result<Vec<StockLine>, ErpError> {
        let warehouses = self.warehouses().await?;
        domain.push(json!(["location_id.usage", "=", "internal"]));
        if let Some(code) = warehouse {
            let ids: Vec<i64> = warehouses
                .iter()
                .filter(|(_, p)| p.code == code)
                .map(|(id, _)| *id)
                .collect();
            domain.push(json!(["warehouse_id", "in", ids]));
        }
        let quants = self
            .search_read(
                "stock.quant",
                Value::Array(domain),
                &[
                    "product_id",
                    "warehouse_id",
                    "quantity",
                    "reserved_quantity",
                ],
                None,
                None,
            )
            .await?;
        let product_ids: BTreeSet<i64> = quants
            .iter()
            .filter_map(|q| many2one_id(q.get("product_id")))
            .collect();
        let products = self.products(&product_ids).await?;
        let mut groups: BTreeMap<(i64, String), (Decimal, Decimal)> = BTreeMap::new();
        for q in &quants {
            let (Some(wh), Some(product)) = (
                many2one_id(q.get("warehouse_id")),
                many2one_id(q.get("product_id")),
            ) else {
                continue;
            };
            let Some(item) = products.get(&product) else {
                continue;
            };
            let entry = groups.entry((wh, item.sku.clone())).or_default();
            entry.0 += q.get("quantity").and_then(decimal).unwrap_or_default();
            entry.1 += q
                .get("reserved_quantity")
                .and_then(decimal)
                .unwrap_or_default();
        }
        let items: BTreeMap<&str, &Item> = products.values().map(|i| (i.sku.as_str(), i)).collect();
        let mut lines = Vec::new();
        for ((wh, sku), (on_hand, reserved)) in groups {
            let (Some(item), Some((_, place))) = (
                items.get(sku.as_str()),
                warehouses.iter().find(|(id, _)| *id == wh),
            ) else {
                continue;
            };
            let q = |value: Decimal| Quantity {
                value: value.normalize(),
                unit: item.unit.clone(),
            };
            lines.push(StockLine {
                item: (*item).clone(),
                warehouse: place.clone(),
                on_hand: q(on_hand),
                reserved: q(reserved),
                available: q(on_hand - reserved),
                reorder_level: q(self.reorder_level(&sku, &place.code)),
            });
        }
        Ok(lines)
    }

    /// Totals per (warehouse id, currency) on the server.
    async fn grouped_sales(
        &self,
        domain: Vec<Value>,
    ) -> Result<Vec<(i64, String, Decimal, u64)>, ErpError> {
        let mut kwargs = Map::new();
        kwargs.insert("domain".into(), Value::Array(domain));
        let rows = match self.cfg.api {
            OdooApi::Jsonrpc => {
                kwargs.insert("fields".into(), json!(["amount_untaxed:sum"]));
                kwargs.insert("groupby".into(), json!(["warehouse_id", "currency_id"]));
                kwargs.insert("lazy".into(), json!(false));
                self.call("sale.order", "read_group", None, kwargs).await?
            }
            OdooApi::Json2 => {
                kwargs.insert("groupby".into(), json!(["warehouse_id", "currency_id"]));
                kwargs.insert(
                    "aggregates".into(),
                    json!(["amount_untaxed:sum", "__count"]),
                );
                self.call("sale.order", "formatted_read_group", None, kwargs)
                    .await?
            }
        };
        let Value::Array(rows) = rows else {
            return Err(self.query_error("sale.order grouping gave no rows"));
        };
        Ok(rows
            .iter()
            .map(|r| {
                let amount = r
                    .get("amount_untaxed")
                    .or_else(|| r.get("amount_untaxed:sum"))
                    .and_then(decimal)
                    .unwrap_or_default();
                let count = r.get("__count").and_then(Value::as_u64).unwrap_or_default();
                (
                    many2one_id(r.get("warehouse_id")).unwrap_or_default(),
                    many2one_name(r.get("currency_id"))
                        .unwrap_or_default()
                        .to_string(),
                    amount,
                    count,
                )
            })
            .collect())
    }
}

#[async_trait]
impl Connector for OdooConnector {
    fn name(&self) -> &str {
        &self.name
    }

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
        let mut domain = Vec::new();
        for word in text.split_whitespace() {
            domain.push(json!("|"));
            domain.push(json!(["default_code", "ilike", word]));
            domain.push(json!(["name", "ilike", word]));
        }
        if domain.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .search_read(
                "product.product",
                Value::Array(domain),
                &["default_code", "name", "uom_id"],
                Some(50),
                Some("default_code"),
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
        let lines = self
            .stock_lines(
                vec![json!(["product_id.default_code", "in", skus])],
                warehouse,
            )
            .await?;
        Ok(lines
            .into_iter()
            .filter(|l| !(l.on_hand.value.is_zero() && l.reserved.value.is_zero()))
            .collect())
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn low_stock(&self, warehouse: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        let mut domain = Vec::new();
        if self.cfg.default_reorder_level.is_zero() {
            let watched: Vec<String> = super::mapping::watched_skus(
                &self.cfg.warehouse_reorder_levels,
                &self.cfg.reorder_levels,
            );
            if watched.is_empty() {
                return Ok(Vec::new());
            }
            domain.push(json!(["product_id.default_code", "in", watched]));
        }
        let lines = self.stock_lines(domain, warehouse).await?;
        Ok(lines.into_iter().filter(StockLine::is_low).collect())
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn sales_summary(&self, filter: &SalesFilter) -> Result<SalesSummary, ErpError> {
        let warehouses = self.warehouses().await?;
        let domain = self.sales_domain(filter, &warehouses, "")?;
        let groups = self.grouped_sales(domain).await?;
        let code_of = |id: i64| {
            warehouses
                .iter()
                .find(|(w, _)| *w == id)
                .map(|(_, p)| p.code.clone())
                .unwrap_or_default()
        };
        let rows = groups
            .into_iter()
            .map(|(wh, currency, amount, count)| (code_of(wh), Money { amount, currency }, count))
            .collect();
        summarize(filter, rows, |code| self.sales_place(code, &warehouses))
            .map_err(|detail| self.query_error(detail))
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn top_items(&self, filter: &SalesFilter, limit: u32) -> Result<Vec<TopItem>, ErpError> {
        let warehouses = self.warehouses().await?;
        let mut domain = self.sales_domain(filter, &warehouses, "order_id.")?;
        domain.push(json!(["display_type", "=", false]));
        let rows = self
            .search_read(
                "sale.order.line",
                Value::Array(domain),
                &[
                    "product_id",
                    "product_uom_qty",
                    "product_uom",
                    "price_subtotal",
                    "currency_id",
                ],
                None,
                None,
            )
            .await?;
        let ids: BTreeSet<i64> = rows
            .iter()
            .filter_map(|r| many2one_id(r.get("product_id")))
            .collect();
        let products = self.products(&ids).await?;
        let mut by_sku: BTreeMap<String, TopItem> = BTreeMap::new();
        for row in &rows {
            let Some(item) = many2one_id(row.get("product_id")).and_then(|id| products.get(&id))
            else {
                continue;
            };
            let unit = many2one_name(row.get("product_uom"))
                .map(|u| self.unit(u))
                .unwrap_or_else(|| item.unit.clone());
            let entry = by_sku.entry(item.sku.clone()).or_insert_with(|| TopItem {
                item: item.clone(),
                quantity: Quantity {
                    value: Decimal::ZERO,
                    unit,
                },
                revenue: Money {
                    amount: Decimal::ZERO,
                    currency: many2one_name(row.get("currency_id"))
                        .unwrap_or_default()
                        .to_string(),
                },
            });
            entry.quantity.value += row
                .get("product_uom_qty")
                .and_then(decimal)
                .unwrap_or_default();
            entry.revenue.amount += row
                .get("price_subtotal")
                .and_then(decimal)
                .unwrap_or_default();
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
                "sale.order",
                json!([
                    "|",
                    ["name", "=", number],
                    ["client_order_ref", "=", number]
                ]),
                &[
                    "name",
                    "client_order_ref",
                    "partner_id",
                    "date_order",
                    "state",
                    "delivery_status",
                    "amount_total",
                    "currency_id",
                    "warehouse_id",
                    "commitment_date",
                ],
                Some(1),
                Some("id"),
            )
            .await?;
        let Some(order) = rows.first() else {
            return Ok(None);
        };
        let Some(id) = order.get("id").and_then(Value::as_i64) else {
            return Err(self.query_error("sale.order without id"));
        };
        let currency = many2one_name(order.get("currency_id"))
            .unwrap_or_default()
            .to_string();
        let lines = self
            .search_read(
                "sale.order.line",
                json!([["order_id", "=", id], ["display_type", "=", false]]),
                &[
                    "product_id",
                    "product_uom_qty",
                    "product_uom",
                    "price_unit",
                    "price_subtotal",
                ],
                None,
                Some("sequence, id"),
            )
            .await?;
        let ids: BTreeSet<i64> = lines
            .iter()
            .filter_map(|r| many2one_id(r.get("product_id")))
            .collect();
        let products = self.products(&ids).await?;
        let lines = lines
            .iter()
            .filter_map(|row| {
                let item = products.get(&many2one_id(row.get("product_id"))?)?.clone();
                let unit = many2one_name(row.get("product_uom"))
                    .map(|u| self.unit(u))
                    .unwrap_or_else(|| item.unit.clone());
                let money = |field: &str| Money {
                    amount: row.get(field).and_then(decimal).unwrap_or_default(),
                    currency: currency.clone(),
                };
                Some(OrderLine {
                    quantity: Quantity {
                        value: row
                            .get("product_uom_qty")
                            .and_then(decimal)
                            .unwrap_or_default()
                            .normalize(),
                        unit,
                    },
                    unit_price: money("price_unit"),
                    amount: money("price_subtotal"),
                    item,
                })
            })
            .collect();
        let warehouses = self.warehouses().await?;
        let wh = many2one_id(order.get("warehouse_id"))
            .and_then(|id| warehouses.iter().find(|(w, _)| *w == id))
            .map(|(_, p)| p.code.clone())
            .unwrap_or_default();
        let order_date = order
            .get("date_order")
            .and_then(Value::as_str)
            .and_then(|t| self.local_date(t))
            .ok_or_else(|| self.query_error(format!("order {number} has no readable date")))?;
        Ok(Some(Order {
            number: order
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(number)
                .to_string(),
            customer: many2one_name(order.get("partner_id"))
                .unwrap_or_default()
                .to_string(),
            store: self.sales_place(&wh, &warehouses),
            order_date,
            state: odoo_state(
                order
                    .get("state")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                order
                    .get("delivery_status")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            delivery_date: order
                .get("commitment_date")
                .and_then(Value::as_str)
                .and_then(|t| self.local_date(t)),
            lines,
            total: Money {
                amount: order
                    .get("amount_total")
                    .and_then(decimal)
                    .unwrap_or_default(),
                currency,
            },
        }))
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn find_employees(&self, text: &str) -> Result<Vec<Employee>, ErpError> {
        let domain: Vec<Value> = text
            .split_whitespace()
            .map(|w| json!(["name", "ilike", w]))
            .collect();
        if domain.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.cfg.employee_key.as_str();
        let rows = self
            .search_read(
                "hr.employee",
                Value::Array(domain),
                &["name", key],
                Some(50),
                Some("name"),
            )
            .await?;
        Ok(rows.iter().filter_map(|r| employee_from(r, key)).collect())
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn leave_balance(
        &self,
        employee_id: &str,
        on: Date,
    ) -> Result<Option<LeaveBalance>, ErpError> {
        let key = self.cfg.employee_key.as_str();
        let employees = self
            .search_read(
                "hr.employee",
                json!([[key, "=", employee_id]]),
                &["name", key],
                Some(1),
                None,
            )
            .await?;
        let Some(row) = employees.first() else {
            return Ok(None);
        };
        let (Some(odoo_id), Some(employee)) = (
            row.get("id").and_then(Value::as_i64),
            employee_from(row, key),
        ) else {
            return Ok(None);
        };
        let names: Vec<&String> = self.cfg.leave_types.values().collect();
        let types = self
            .search_read(
                "hr.leave.type",
                json!([["name", "in", names]]),
                &["name"],
                None,
                None,
            )
            .await?;
        let type_of: BTreeMap<i64, LeaveType> = types
            .iter()
            .filter_map(|t| {
                let id = t.get("id")?.as_i64()?;
                let name = t.get("name")?.as_str()?;
                let kind = self
                    .cfg
                    .leave_types
                    .iter()
                    .find(|(_, n)| n.as_str() == name)
                    .map(|(k, _)| *k)?;
                Some((id, kind))
            })
            .collect();
        let type_ids: Vec<i64> = type_of.keys().copied().collect();
        let year_start = Date::new(on.year(), 1, 1)
            .map_err(|e| self.query_error(e.to_string()))?
            .to_string();
        let year_end = Date::new(on.year(), 12, 31)
            .map_err(|e| self.query_error(e.to_string()))?
            .to_string();
        let allocations = self
            .search_read(
                "hr.leave.allocation",
                json!([
                    ["employee_id", "=", odoo_id],
                    ["state", "=", "validate"],
                    ["holiday_status_id", "in", type_ids],
                    ["date_from", "<=", year_end],
                    "|",
                    ["date_to", "=", false],
                    ["date_to", ">=", year_start]
                ]),
                &["holiday_status_id", "number_of_days"],
                None,
                None,
            )
            .await?;
        let leaves = self
            .search_read(
                "hr.leave",
                json!([
                    ["employee_id", "=", odoo_id],
                    ["state", "=", "validate"],
                    ["holiday_status_id", "in", type_ids],
                    ["request_date_from", ">=", year_start],
                    ["request_date_from", "<=", year_end]
                ]),
                &["holiday_status_id", "number_of_days"],
                None,
                None,
            )
            .await?;
        let mut totals: BTreeMap<LeaveType, (Decimal, Decimal)> = BTreeMap::new();
        for (rows, taken) in [(&allocations, false), (&leaves, true)] {
            for r in rows.iter() {
                let Some(kind) =
                    many2one_id(r.get("holiday_status_id")).and_then(|id| type_of.get(&id))
                else {
                    continue;
                };
                let days = r
                    .get("number_of_days")
                    .and_then(decimal)
                    .unwrap_or_default();
                let entry = totals.entry(*kind).or_default();
                if taken {
                    entry.1 += days;
                } else {
                    entry.0 += days;
                }
            }
        }
        let day = |value: Decimal| Quantity {
            value: value.normalize(),
            unit: "day".into(),
        };
        Ok(Some(LeaveBalance {
            employee,
            year: on.year(),
            lines: totals
                .into_iter()
                .map(|(leave_type, (entitled, taken))| LeaveLine {
                    leave_type,
                    entitled: day(entitled),
                    taken: day(taken),
                    remaining: day(entitled - taken),
                })
                .collect(),
        }))
    }
}

fn employee_from(row: &Value, key: &str) -> Option<Employee> {
    let id = row.get(key)?.as_str()?.to_string();
    let name = row
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(&id)
        .to_string();
    Some(Employee {
        id,
        name_en: name.clone(),
        name_zh: name,
    })
}

/// Canonical state from Odoo's `state` and `delivery_status` (16+; absent before).
fn odoo_state(state: &str, delivery: &str) -> OrderState {
    match state {
        "cancel" => OrderState::Cancelled,
        "draft" | "sent" => OrderState::Draft,
        "done" => OrderState::Delivered,
        _ => match delivery {
            "full" => OrderState::Shipped,
            "partial" | "started" => OrderState::Picking,
            _ => OrderState::Confirmed,
        },
    }
}

/// The id of a many2one value (`[id, "display name"]`, or `false` when empty).
fn many2one_id(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Array(pair) => pair.first()?.as_i64(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The display name of a many2one value.
fn many2one_name(v: Option<&Value>) -> Option<&str> {
    match v? {
        Value::Array(pair) => pair.get(1)?.as_str(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OdooConfig {
        toml::from_str(
            "url = \"https://acme.odoo.com\"\ndatabase = \"acme\"\nusername = \"bot@acme.hk\"\napi_key = \"k\"",
        )
        .expect("config")
    }

    #[test]
    fn defaults_and_validation() {
        let cfg = config();
        assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
        assert_eq!(cfg.api, OdooApi::Jsonrpc);
        assert_eq!(cfg.leave_types[&LeaveType::Annual], "Paid Time Off");
        let mut bad = cfg.clone();
        bad.url = "acme".into();
        bad.username = String::new();
        bad.api_key = Secret::default();
        bad.time_zone = "Nowhere".into();
        assert_eq!(bad.validate().len(), 4, "{:?}", bad.validate());
        bad.api = OdooApi::Json2;
        assert_eq!(bad.validate().len(), 3, "json2 needs no login");
        assert!(
            toml::from_str::<OdooConfig>("url='x'\ndatabase='d'\napi_key='k'\nextra=1").is_err()
        );
    }

    #[tokio::test]
    async fn utc_date_times_become_company_dates() {
        let c = OdooConnector::connect("odoo", &config())
            .await
            .expect("connect");
        assert_eq!(
            c.utc_start(jiff::civil::date(2025, 3, 1)).expect("utc"),
            "2025-02-28 16:00:00"
        );
        assert_eq!(
            c.local_date("2025-03-02 20:00:00"),
            Some(jiff::civil::date(2025, 3, 3))
        );
        assert_eq!(c.local_date("garbage"), None);
    }

    #[test]
    fn states_and_many2ones() {
        assert_eq!(odoo_state("sale", "full"), OrderState::Shipped);
        assert_eq!(odoo_state("sale", "pending"), OrderState::Confirmed);
        assert_eq!(odoo_state("sent", ""), OrderState::Draft);
        assert_eq!(odoo_state("cancel", ""), OrderState::Cancelled);
        assert_eq!(many2one_id(Some(&json!([7, "HKD"]))), Some(7));
        assert_eq!(many2one_name(Some(&json!([7, "HKD"]))), Some("HKD"));
        assert_eq!(many2one_id(Some(&json!(false))), None);
    }
}

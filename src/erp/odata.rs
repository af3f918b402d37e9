//! The OData connector: SAP S/4HANA stock and sales orders and SAP SuccessFactors leave
//! balances (or any service shaped like them) over OData V2 or V4.
//!
//! The built-in mappings are the public shapes of S/4HANA's `API_MATERIAL_STOCK_SRV`
//! (`A_MatlStkInAcctMod`), `API_PRODUCT_SRV` (`A_Product`, `A_ProductDescription`) and
//! `API_SALES_ORDER_SRV` (`A_SalesOrder`, `A_SalesOrderItem`), and of SuccessFactors'
//! `EmpTimeAccountBalance` and `User`; every service path, entity set and field name can be
//! overridden in the configuration.
//!
//! Protocol notes that shaped the code:
//! - V2 answers `{"d": {"results": [...], "__next": ..., "__count": "n"}}`, writes decimals
//!   as strings and dates as `/Date(ms)/`; V4 answers `{"value": [...],
//!   "@odata.nextLink": ..., "@odata.count": n}` and may write decimals as numbers or strings.
//! - Real S/4 V2 services have no `$apply`, so totals are summed here; on V4 `$apply` is used
//!   for sales totals, and if the service refuses it the connector sums instead.
//! - Services page on their own; `__next` / `@odata.nextLink` are followed, but only on the
//!   configured host, since the link comes from the server's answer.
//! - 429 and 503 are retried after `Retry-After`, a few times, because these are reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use tracing::{debug, instrument, warn};

use super::tryton::{decimal, rank_top_items, summarize};
use super::{
    Connector, CustomerSales, Employee, ErpError, Item, LeaveBalance, LeaveLine, Money, Order,
    OrderLine, OrderState, Place, PlaceKind, Places, Quantity, SalesFilter, SalesSummary,
    StockLine, TopItem,
};
use crate::config::Secret;
use crate::intent::LeaveType;

/// Which OData version the services speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ODataVersion {
    /// OData V2 (S/4HANA `API_*_SRV`, SuccessFactors).
    #[default]
    V2,
    /// OData V4.
    V4,
}

/// How the connector authenticates.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ODataAuth {
    /// No credentials (a gateway in front adds them).
    #[default]
    None,
    /// HTTP Basic, e.g. an S/4HANA communication user.
    Basic {
        /// The user name.
        username: String,
        /// The password (set it through the environment).
        /// Defaults to empty: it comes from the environment or a `*_FILE`, never the file.
        #[serde(default)]
        password: Secret,
    },
    /// OAuth 2.0 client credentials: a bearer token from `token_url`, reused until shortly
    /// before it expires and fetched again when the service answers 401.
    Oauth2 {
        /// The token endpoint, e.g. `https://<subdomain>.authentication.<region>.hana.ondemand.com/oauth/token`.
        token_url: String,
        /// The client id.
        client_id: String,
        /// The client secret (set it through the environment).
        /// Defaults to empty: it comes from the environment or a `*_FILE`, never the file.
        #[serde(default)]
        client_secret: Secret,
        /// The scope to ask for, if the server needs one.
        #[serde(default)]
        scope: Option<String>,
    },
}

/// Where stock lives (default: S/4HANA `API_MATERIAL_STOCK_SRV`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StockMapping {
    /// Service root path.
    pub service: String,
    /// Entity set with one row per material, plant, storage location, batch and stock type.
    pub entity_set: String,
    /// Material number (the SKU).
    pub material: String,
    /// Plant (the warehouse code).
    pub plant: String,
    /// Stock type field.
    pub stock_type: String,
    /// Quantity field, in the base unit.
    pub quantity: String,
    /// Base unit field.
    pub unit: String,
    /// Stock types that count as available; the rest of on-hand is reported as reserved
    /// (S/4: `01` unrestricted; `02` quality inspection, `07` blocked are not available).
    pub available_types: Vec<String>,
}

impl Default for StockMapping {
    fn default() -> Self {
        StockMapping {
            service: "/sap/opu/odata/sap/API_MATERIAL_STOCK_SRV".into(),
            entity_set: "A_MatlStkInAcctMod".into(),
            material: "Material".into(),
            plant: "Plant".into(),
            stock_type: "InventoryStockType".into(),
            quantity: "MatlWrhsStkQtyInMatlBaseUnit".into(),
            unit: "MaterialBaseUnit".into(),
            available_types: vec!["01".into()],
        }
    }
}

/// Where item names and units live (default: S/4HANA `API_PRODUCT_SRV`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ItemMapping {
    /// Service root path.
    pub service: String,
    /// Entity set of products (for the base unit).
    pub product_set: String,
    /// Product number field in both sets.
    pub product: String,
    /// Base unit field of the product set.
    pub base_unit: String,
    /// Entity set of product descriptions, one row per product and language.
    pub description_set: String,
    /// Language field of the description set.
    pub language: String,
    /// Description field of the description set.
    pub description: String,
    /// Language code of English names.
    pub language_en: String,
    /// Language code of Chinese names (falls back to English).
    pub language_zh: String,
}

impl Default for ItemMapping {
    fn default() -> Self {
        ItemMapping {
            service: "/sap/opu/odata/sap/API_PRODUCT_SRV".into(),
            product_set: "A_Product".into(),
            product: "Product".into(),
            base_unit: "BaseUnit".into(),
            description_set: "A_ProductDescription".into(),
            language: "Language".into(),
            description: "ProductDescription".into(),
            language_en: "EN".into(),
            language_zh: "ZH".into(),
        }
    }
}

/// Where sales orders live (default: S/4HANA `API_SALES_ORDER_SRV`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SalesMapping {
    /// Service root path.
    pub service: String,
    /// Entity set of order headers.
    pub order_set: String,
    /// Entity set of order items.
    pub item_set: String,
    /// Order number field (headers and items).
    pub number: String,
    /// The customer's own reference (purchase order number), also accepted as a key.
    pub reference: String,
    /// Order date field.
    pub date: String,
    /// Customer field.
    pub customer: String,
    /// The field that says which store booked the order (its values are store codes).
    pub store: String,
    /// Net amount of the order.
    pub net_amount: String,
    /// Currency field (headers and items).
    pub currency: String,
    /// Overall processing status (A open, B in process, C completed).
    pub process_status: String,
    /// Overall delivery status (A none, B partial, C complete).
    pub delivery_status: String,
    /// Rejection status (C: the whole order is rejected, i.e. cancelled).
    pub rejection_status: String,
    /// Material field of items.
    pub item_material: String,
    /// Quantity field of items.
    pub item_quantity: String,
    /// Unit field of items.
    pub item_unit: String,
    /// Net amount field of items.
    pub item_amount: String,
}

impl Default for SalesMapping {
    fn default() -> Self {
        SalesMapping {
            service: "/sap/opu/odata/sap/API_SALES_ORDER_SRV".into(),
            order_set: "A_SalesOrder".into(),
            item_set: "A_SalesOrderItem".into(),
            number: "SalesOrder".into(),
            reference: "PurchaseOrderByCustomer".into(),
            date: "SalesOrderDate".into(),
            customer: "SoldToParty".into(),
            store: "SalesOrganization".into(),
            net_amount: "TotalNetAmount".into(),
            currency: "TransactionCurrency".into(),
            process_status: "OverallSDProcessStatus".into(),
            delivery_status: "OverallTotalDeliveryStatus".into(),
            rejection_status: "OverallSDDocumentRejectionSts".into(),
            item_material: "Material".into(),
            item_quantity: "RequestedQuantity".into(),
            item_unit: "RequestedQuantityUnit".into(),
            item_amount: "NetAmount".into(),
        }
    }
}

/// Where leave balances and employees live (default: SuccessFactors `/odata/v2`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeaveMapping {
    /// Service root path.
    pub service: String,
    /// Entity set of time-account balances.
    pub balance_set: String,
    /// Employee id field of balances.
    pub user: String,
    /// Time account type field.
    pub account_type: String,
    /// Balance field.
    pub balance: String,
    /// Unit field (`DAYS` or `HOURS`).
    pub time_unit: String,
    /// Closed-account flag; closed accounts are left out.
    pub closed: String,
    /// Time account type codes per leave type (`annual = "VACATION"`). Only these are asked
    /// for: SuccessFactors requires the type in every balance query.
    pub types: BTreeMap<LeaveType, String>,
    /// Hours in a working day, to show hour-based accounts in days.
    #[serde(with = "super::mapping::decimal")]
    pub hours_per_day: Decimal,
    /// Entity set of employees.
    pub user_set: String,
    /// Employee id field of the user set.
    pub user_id: String,
    /// Display name field.
    pub display_name: String,
    /// Chinese name field, if the system has one.
    pub name_zh: Option<String>,
}

impl Default for LeaveMapping {
    fn default() -> Self {
        LeaveMapping {
            service: "/odata/v2".into(),
            balance_set: "EmpTimeAccountBalance".into(),
            user: "userId".into(),
            account_type: "timeAccountType".into(),
            balance: "balance".into(),
            time_unit: "timeUnit".into(),
            closed: "accountClosed".into(),
            types: BTreeMap::from([
                (LeaveType::Annual, "VACATION".to_string()),
                (LeaveType::Sick, "SICK_LEAVE".to_string()),
            ]),
            hours_per_day: Decimal::from(8),
            user_set: "User".into(),
            user_id: "userId".into(),
            display_name: "displayName".into(),
            name_zh: None,
        }
    }
}

/// How sales totals are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// `$apply` on V4, falling back to summing here when the service refuses it.
    #[default]
    Auto,
    /// Always sum here (for V4 services without `$apply`).
    Client,
}

/// Configuration of one OData connector (`connector = "odata"`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ODataConfig {
    /// Scheme, host and port of the services, e.g. `https://my-s4.example.com`; service
    /// paths are appended to it.
    pub url: String,
    /// Protocol version of every service.
    #[serde(default)]
    pub version: ODataVersion,
    /// How to authenticate.
    #[serde(default)]
    pub auth: ODataAuth,
    /// Extra headers sent with every request, e.g. `sap-client = "100"`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Stock mapping (built-in: S/4HANA).
    #[serde(default)]
    pub stock: StockMapping,
    /// Item names and units (built-in: S/4HANA).
    #[serde(default)]
    pub items: ItemMapping,
    /// Sales orders (built-in: S/4HANA).
    #[serde(default)]
    pub sales: SalesMapping,
    /// Leave balances and employees (built-in: SuccessFactors).
    #[serde(default)]
    pub leave: LeaveMapping,
    /// How sales totals are computed.
    #[serde(default)]
    pub aggregation: Aggregation,
    /// Warehouses (plant codes), stores (sales organisations) and regions, with names: the
    /// services carry codes only.
    #[serde(default)]
    pub places: Vec<Place>,
    /// Units as the system writes them mapped to the units cards show (`PC` → `pc`).
    #[serde(default)]
    pub units: BTreeMap<String, String>,
    /// Reorder level per SKU.
    #[serde(default, with = "super::mapping::decimal_map")]
    pub reorder_levels: BTreeMap<String, Decimal>,
    /// Reorder level of SKUs not in `reorder_levels`; 0 leaves them out of low-stock lists.
    #[serde(default, with = "super::mapping::decimal")]
    pub default_reorder_level: Decimal,
    /// Reorder levels of one warehouse (its code), overriding `reorder_levels` there.
    #[serde(default, with = "super::mapping::decimal_map_by_warehouse")]
    pub warehouse_reorder_levels: super::mapping::WarehouseLevels,
    /// IANA time zone of the company: date-times the services return are turned into
    /// civil dates there.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Timeout of one HTTP request, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// How often a throttled (429/503) read is retried.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// Longest `Retry-After` honoured, in seconds; longer waits give up at once.
    #[serde(default = "default_max_wait")]
    pub max_retry_wait_secs: u64,
}

fn default_time_zone() -> String {
    "Asia/Hong_Kong".into()
}
fn default_timeout() -> u64 {
    10
}
fn default_retries() -> u32 {
    2
}
fn default_max_wait() -> u64 {
    5
}

impl ODataConfig {
    /// Every problem with this configuration, found without contacting a server.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        check_url(&mut problems, "odata.url", &self.url);
        if let Ok(u) = url::Url::parse(&self.url)
            && u.path() != "/"
        {
            problems.push(format!(
                "odata.url {:?} must have no path; put paths in the service settings",
                self.url
            ));
        }
        match &self.auth {
            ODataAuth::None => {}
            ODataAuth::Basic { username, password } => {
                if username.is_empty() {
                    problems.push("odata.auth.username is empty".into());
                }
                if password.is_empty() {
                    problems
                        .push("odata.auth.password is empty (set it in the environment)".into());
                }
            }
            ODataAuth::Oauth2 {
                token_url,
                client_id,
                client_secret,
                ..
            } => {
                check_url(&mut problems, "odata.auth.token_url", token_url);
                if client_id.is_empty() {
                    problems.push("odata.auth.client_id is empty".into());
                }
                if client_secret.is_empty() {
                    problems.push(
                        "odata.auth.client_secret is empty (set it in the environment)".into(),
                    );
                }
            }
        }
        for (key, value) in &self.headers {
            if reqwest::header::HeaderName::from_bytes(key.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(value).is_err()
            {
                problems.push(format!("odata.headers.{key} is not a valid HTTP header"));
            }
        }
        for (what, path) in [
            ("stock", &self.stock.service),
            ("items", &self.items.service),
            ("sales", &self.sales.service),
            ("leave", &self.leave.service),
        ] {
            if !path.starts_with('/') {
                problems.push(format!("odata.{what}.service {path:?} must start with '/'"));
            }
        }
        if self.stock.available_types.is_empty() {
            problems.push("odata.stock.available_types is empty".into());
        }
        if self.leave.hours_per_day <= Decimal::ZERO {
            problems.push("odata.leave.hours_per_day must be greater than 0".into());
        }
        if TimeZone::get(&self.time_zone).is_err() {
            problems.push(format!(
                "odata.time_zone {:?} is not an IANA time zone",
                self.time_zone
            ));
        }
        if self.timeout_secs == 0 {
            problems.push("odata.timeout_secs must be greater than 0".into());
        }
        if self.default_reorder_level.is_sign_negative()
            || self.reorder_levels.values().any(|l| l.is_sign_negative())
            || self
                .warehouse_reorder_levels
                .values()
                .flat_map(|l| l.values())
                .any(|l| l.is_sign_negative())
        {
            problems.push("odata reorder levels must not be negative".into());
        }
        problems
    }
}

fn check_url(problems: &mut Vec<String>, key: &str, value: &str) {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        Ok(_) => problems.push(format!("{key} {value:?} must be an http or https URL")),
        Err(e) => problems.push(format!("{key} {value:?} is not a URL: {e}")),
    }
}

/// A cached bearer token.
struct Token {
    value: String,
    renew_at: Instant,
}

/// One page of an entity set.
struct Page {
    rows: Vec<Value>,
    next: Option<String>,
    count: Option<u64>,
}

/// An OData service (or several on one host) seen through the [`Connector`] trait.
pub struct ODataConnector {
    name: String,
    cfg: ODataConfig,
    base: url::Url,
    tz: TimeZone,
    http: reqwest::Client,
    token: Mutex<Option<Token>>,
    /// Set once a V4 service has refused `$apply`, so it is not asked again.
    no_apply: AtomicBool,
    token_requests: AtomicU64,
    retries: AtomicU64,
}

/// Characters escaped in query values: CAP and SAP Gateway reject `+` for spaces, so
/// spaces go as `%20`; OData's own punctuation (`'`, `(`, `)`, `,`, `/`, `$`) stays.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

const MAX_PAGES: usize = 500;

impl ODataConnector {
    /// Builds the connector. No network traffic: tokens are fetched by the first call.
    pub async fn connect(name: &str, cfg: &ODataConfig) -> Result<Self, ErpError> {
        let bad = |detail: String| ErpError::Query {
            connector: name.into(),
            detail,
        };
        let problems = cfg.validate();
        if !problems.is_empty() {
            return Err(bad(problems.join("; ")));
        }
        let base = url::Url::parse(&cfg.url).map_err(|e| bad(e.to_string()))?;
        let tz = TimeZone::get(&cfg.time_zone).map_err(|e| bad(e.to_string()))?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        for (key, value) in &cfg.headers {
            let key = reqwest::header::HeaderName::from_bytes(key.as_bytes())
                .map_err(|e| bad(format!("header {key}: {e}")))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|e| bad(format!("header {key}: {e}")))?;
            headers.insert(key, value);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_secs))
            .connect_timeout(Duration::from_secs(cfg.timeout_secs.min(5)))
            .default_headers(headers)
            .build()
            .map_err(|e| ErpError::Unavailable {
                connector: name.into(),
                detail: format!("HTTP client: {e}"),
            })?;
        Ok(ODataConnector {
            name: name.into(),
            cfg: cfg.clone(),
            base,
            tz,
            http,
            token: Mutex::new(None),
            no_apply: AtomicBool::new(false),
            token_requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    /// How many OAuth tokens have been requested so far.
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    /// Whether a V4 service has refused `$apply`, so totals are now summed here.
    pub fn apply_refused(&self) -> bool {
        self.no_apply.load(Ordering::Relaxed)
    }

    /// How many throttled requests have been retried so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
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

    fn v4(&self) -> bool {
        self.cfg.version == ODataVersion::V4
    }

    /// The URL of `set` under `service` with the query options, values percent-encoded.
    fn url(&self, service: &str, set: &str, options: &[(&str, String)]) -> String {
        let mut url = format!(
            "{}{}/{}",
            self.base.as_str().trim_end_matches('/'),
            service.trim_end_matches('/'),
            set
        );
        let mut options: Vec<(&str, String)> = options.to_vec();
        if !self.v4() {
            options.push(("$format", "json".into()));
        }
        for (i, (key, value)) in options.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(key);
            url.push('=');
            url.extend(utf8_percent_encode(value, QUERY_VALUE));
        }
        url
    }

    /// A next-page link from the server, resolved against the request and pinned to the
    /// configured scheme, host and port (servers often write their own idea of the host,
    /// and a link elsewhere must never receive the credentials).
    fn pin_link(&self, request: &str, link: &str) -> Option<String> {
        let request = url::Url::parse(request).ok()?;
        let mut next = request.join(link).ok()?;
        next.set_scheme(self.base.scheme()).ok()?;
        next.set_host(self.base.host_str()).ok()?;
        next.set_port(self.base.port()).ok()?;
        Some(next.to_string())
    }

    async fn bearer(&self, renew: bool) -> Result<Option<String>, ErpError> {
        let ODataAuth::Oauth2 {
            token_url,
            client_id,
            client_secret,
            scope,
        } = &self.cfg.auth
        else {
            return Ok(None);
        };
        let mut token = self.token.lock().await;
        if !renew
            && let Some(t) = token.as_ref()
            && Instant::now() < t.renew_at
        {
            return Ok(Some(t.value.clone()));
        }
        self.token_requests.fetch_add(1, Ordering::Relaxed);
        let mut form = vec![("grant_type", "client_credentials".to_string())];
        if let Some(scope) = scope {
            form.push(("scope", scope.clone()));
        }
        let response = self
            .http
            .post(token_url)
            .basic_auth(client_id, Some(client_secret.expose()))
            .form(&form)
            .send()
            .await
            .map_err(|e| self.unavailable(format!("token request: {e}")))?;
        let status = response.status();
        if status == 400 || status == 401 {
            return Err(self.unavailable(format!(
                "the token endpoint refused client {client_id:?} (HTTP {status}): wrong client id or secret"
            )));
        }
        if !status.is_success() {
            return Err(self.unavailable(format!("token request: HTTP {status}")));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| self.unavailable(format!("token answer unreadable: {e}")))?;
        let value = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| self.unavailable("token answer has no access_token"))?
            .to_string();
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(300);
        // Renew a minute early (or halfway for short tokens) so no request carries a
        // token that expires on the way.
        let margin = 60.min(lifetime / 2);
        *token = Some(Token {
            value: value.clone(),
            renew_at: Instant::now() + Duration::from_secs(lifetime - margin),
        });
        Ok(Some(value))
    }

    /// GET one URL and return its JSON, with authentication, one token renewal on 401,
    /// and retries of throttled reads.
    async fn get_json(&self, url: &str) -> Result<Value, ErpError> {
        let mut attempts = 0u32;
        let mut renewed = false;
        loop {
            let mut request = self.http.get(url);
            match &self.cfg.auth {
                ODataAuth::None => {}
                ODataAuth::Basic { username, password } => {
                    request = request.basic_auth(username, Some(password.expose()));
                }
                ODataAuth::Oauth2 { .. } => {
                    if let Some(token) = self.bearer(false).await? {
                        request = request.bearer_auth(token);
                    }
                }
            }
            let response = request.send().await.map_err(|e| {
                if e.is_timeout() {
                    self.unavailable(format!("no answer within {} s", self.cfg.timeout_secs))
                } else {
                    self.unavailable(e.to_string())
                }
            })?;
            let status = response.status().as_u16();
            match status {
                200..=299 => {
                    return response
                        .json()
                        .await
                        .map_err(|e| self.unavailable(format!("unreadable answer: {e}")));
                }
                401 if matches!(self.cfg.auth, ODataAuth::Oauth2 { .. }) && !renewed => {
                    renewed = true;
                    self.bearer(true).await?;
                }
                401 | 403 => {
                    return Err(self.unavailable(match &self.cfg.auth {
                        ODataAuth::None => format!("HTTP {status}: the service needs credentials"),
                        ODataAuth::Basic { username, .. } => format!(
                            "HTTP {status}: the service refused user {username:?} (wrong user name or password, or no authorisation)"
                        ),
                        ODataAuth::Oauth2 { client_id, .. } => format!(
                            "HTTP {status}: the service refused the token of client {client_id:?}"
                        ),
                    }));
                }
                429 | 503 => {
                    let wait = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(1);
                    if attempts >= self.cfg.max_retries || wait > self.cfg.max_retry_wait_secs {
                        return Err(self.unavailable(format!(
                            "throttled (HTTP {status}, Retry-After {wait} s) after {} attempts",
                            attempts + 1
                        )));
                    }
                    attempts += 1;
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    debug!(status, wait, attempts, "throttled; retrying");
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                _ => {
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    return Err(
                        self.query_error(format!("HTTP {status}: {}", odata_error_message(&body)))
                    );
                }
            }
        }
    }

    async fn page(&self, url: &str) -> Result<Page, ErpError> {
        let body = self.get_json(url).await?;
        if let Some(d) = body.get("d") {
            // V2: {"d": {"results": [...]}} for sets, {"d": {...}} for one entity.
            let rows = match d.get("results") {
                Some(Value::Array(rows)) => rows.clone(),
                _ => vec![d.clone()],
            };
            return Ok(Page {
                rows,
                next: d.get("__next").and_then(Value::as_str).map(str::to_string),
                count: d.get("__count").and_then(count_value),
            });
        }
        match body.get("value") {
            Some(Value::Array(rows)) => Ok(Page {
                rows: rows.clone(),
                next: body
                    .get("@odata.nextLink")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                count: body.get("@odata.count").and_then(count_value),
            }),
            _ => Err(self.query_error("the answer has neither d nor value")),
        }
    }

    /// Every row of a query, following the server's paging.
    #[instrument(skip(self, options), fields(connector = %self.name))]
    async fn rows(
        &self,
        service: &str,
        set: &str,
        options: &[(&str, String)],
    ) -> Result<Vec<Value>, ErpError> {
        let mut url = self.url(service, set, options);
        let mut rows = Vec::new();
        let mut expected = None;
        for _ in 0..MAX_PAGES {
            let page = self.page(&url).await?;
            expected = expected.or(page.count);
            rows.extend(page.rows);
            match page.next.and_then(|next| self.pin_link(&url, &next)) {
                Some(next) => url = next,
                None => {
                    if let Some(n) = expected
                        && n != rows.len() as u64
                    {
                        warn!(
                            expected = n,
                            got = rows.len(),
                            set,
                            "row count differs from $count"
                        );
                    }
                    return Ok(rows);
                }
            }
        }
        Err(self.query_error(format!("{set}: more than {MAX_PAGES} pages")))
    }

    /// The count option of this version.
    fn count_option(&self) -> (&'static str, String) {
        if self.v4() {
            ("$count", "true".into())
        } else {
            ("$inlinecount", "allpages".into())
        }
    }

    fn date_literal(&self, d: Date) -> String {
        if self.v4() {
            d.to_string()
        } else {
            format!("datetime'{d}T00:00:00'")
        }
    }

    fn contains(&self, field: &str, text: &str) -> String {
        let text = literal(&text.to_lowercase());
        if self.v4() {
            format!("contains(tolower({field}),{text})")
        } else {
            format!("substringof({text},tolower({field}))")
        }
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

    fn place(&self, code: &str, kinds: &[PlaceKind]) -> Place {
        kinds
            .iter()
            .find_map(|kind| {
                self.cfg
                    .places
                    .iter()
                    .find(|p| p.code == code && p.kind == *kind)
            })
            .cloned()
            .unwrap_or_else(|| Place {
                code: code.to_string(),
                kind: kinds.first().copied().unwrap_or(PlaceKind::Warehouse),
                name_en: code.to_string(),
                name_zh: code.to_string(),
                region: None,
                aliases: Vec::new(),
            })
    }

    fn store_place(&self, code: &str) -> Place {
        self.place(code, &[PlaceKind::Store, PlaceKind::Warehouse])
    }

    /// A civil date from a V2 `/Date(ms)/`, an ISO date or an ISO date-time. V2 `Edm.DateTime`
    /// dates are midnight UTC and keep their day; other instants are read in the company
    /// time zone.
    fn civil_date(&self, v: &Value) -> Option<Date> {
        let s = v.as_str()?;
        if let Some(ms) = s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
            let digits: String = ms
                .chars()
                .enumerate()
                .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
                .map(|(_, c)| c)
                .collect();
            let ms: i64 = digits.parse().ok()?;
            let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
            let utc = ts.to_zoned(TimeZone::UTC);
            if digits.len() == ms.to_string().len() && ms.rem_euclid(86_400_000) == 0 {
                return Some(utc.date());
            }
            return Some(ts.to_zoned(self.tz.clone()).date());
        }
        if s.len() == 10 {
            return s.parse().ok();
        }
        if let Ok(ts) = s.parse::<jiff::Timestamp>() {
            return Some(ts.to_zoned(self.tz.clone()).date());
        }
        s.get(..10)?.parse().ok()
    }

    /// English and Chinese names and base units of `skus`.
    async fn item_details(
        &self,
        skus: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Item>, ErpError> {
        let m = &self.cfg.items;
        let mut items: BTreeMap<String, Item> = skus
            .iter()
            .map(|sku| {
                (
                    sku.clone(),
                    Item {
                        sku: sku.clone(),
                        name_en: sku.clone(),
                        name_zh: sku.clone(),
                        unit: String::new(),
                    },
                )
            })
            .collect();
        let list: Vec<&String> = skus.iter().collect();
        for chunk in list.chunks(20) {
            let keys = any_of(&m.product, chunk.iter().map(|s| s.as_str()));
            let descriptions = self
                .rows(
                    &m.service,
                    &m.description_set,
                    &[
                        (
                            "$filter",
                            format!(
                                "({keys}) and ({} eq {} or {} eq {})",
                                m.language,
                                literal(&m.language_en),
                                m.language,
                                literal(&m.language_zh)
                            ),
                        ),
                        (
                            "$select",
                            format!("{},{},{}", m.product, m.language, m.description),
                        ),
                    ],
                )
                .await?;
            let mut zh_seen = BTreeSet::new();
            for row in &descriptions {
                let (Some(sku), Some(lang), Some(text)) = (
                    str_field(row, &m.product),
                    str_field(row, &m.language),
                    str_field(row, &m.description),
                ) else {
                    continue;
                };
                if let Some(item) = items.get_mut(sku) {
                    if lang == m.language_en {
                        item.name_en = text.to_string();
                        if !zh_seen.contains(sku) {
                            item.name_zh = text.to_string();
                        }
                    } else {
                        item.name_zh = text.to_string();
                        zh_seen.insert(sku.to_string());
                    }
                }
            }
            let products = self
                .rows(
                    &m.service,
                    &m.product_set,
                    &[
                        ("$filter", keys.clone()),
                        ("$select", format!("{},{}", m.product, m.base_unit)),
                    ],
                )
                .await?;
            for row in &products {
                if let (Some(sku), Some(unit)) =
                    (str_field(row, &m.product), str_field(row, &m.base_unit))
                    && let Some(item) = items.get_mut(sku)
                {
                    item.unit = self.unit(unit);
                }
            }
        }
        Ok(items)
    }

    /// Stock lines for a `$filter` on the stock set, grouped per plant and material.
    async fn stock_lines(
        &self,
        filter: String,
        keep_empty: bool,
    ) -> Result<Vec<StockLine>, ErpError> {
        let m = &self.cfg.stock;
        let rows = self
            .rows(
                &m.service,
                &m.entity_set,
                &[
                    ("$filter", filter),
                    (
                        "$select",
                        format!(
                            "{},{},{},{},{}",
                            m.material, m.plant, m.stock_type, m.quantity, m.unit
                        ),
                    ),
                ],
            )
            .await?;
        // (plant, material) -> (on hand, available, unit)
        let mut groups: BTreeMap<(String, String), (Decimal, Decimal, String)> = BTreeMap::new();
        for row in &rows {
            let (Some(material), Some(plant)) =
                (str_field(row, &m.material), str_field(row, &m.plant))
            else {
                continue;
            };
            let qty = row.get(&m.quantity).and_then(decimal).unwrap_or_default();
            let available = str_field(row, &m.stock_type)
                .is_some_and(|t| m.available_types.iter().any(|a| a == t));
            let unit = str_field(row, &m.unit)
                .map(|u| self.unit(u))
                .unwrap_or_default();
            let entry = groups
                .entry((plant.to_string(), material.to_string()))
                .or_insert((Decimal::ZERO, Decimal::ZERO, unit));
            entry.0 += qty;
            if available {
                entry.1 += qty;
            }
        }
        let skus: BTreeSet<String> = groups.keys().map(|(_, sku)| sku.clone()).collect();
        let items = if skus.is_empty() {
            BTreeMap::new()
        } else {
            self.item_details(&skus).await?
        };
        let mut lines = Vec::new();
        for ((plant, sku), (on_hand, available, unit)) in groups {
            if on_hand.is_zero() && !keep_empty {
                continue;
            }
            let mut item = items.get(&sku).cloned().unwrap_or(Item {
                sku: sku.clone(),
                name_en: sku.clone(),
                name_zh: sku.clone(),
                unit: unit.clone(),
            });
            if item.unit.is_empty() {
                item.unit = unit.clone();
            }
            let q = |value: Decimal| Quantity {
                value: value.normalize(),
                unit: unit.clone(),
            };
            let warehouse = self.place(&plant, &[PlaceKind::Warehouse]);
            lines.push(StockLine {
                reorder_level: q(self.reorder_level(&sku, &warehouse.code)),
                on_hand: q(on_hand),
                reserved: q(on_hand - available),
                available: q(available),
                warehouse,
                item,
            });
        }
        Ok(lines)
    }

    /// The `$filter` expression on order headers for a sales filter.
    fn sales_filter(&self, filter: &SalesFilter) -> String {
        let m = &self.cfg.sales;
        let mut parts = vec![
            format!("{} ge {}", m.date, self.date_literal(filter.start)),
            format!("{} le {}", m.date, self.date_literal(filter.end)),
            format!("{} ne 'C'", m.rejection_status),
        ];
        let mut stores: BTreeSet<String> = filter.stores.iter().cloned().collect();
        if !filter.regions.is_empty() {
            stores.extend(
                self.cfg
                    .places
                    .iter()
                    .filter(|p| p.kind != PlaceKind::Region)
                    .filter(|p| {
                        p.region
                            .as_ref()
                            .is_some_and(|r| filter.regions.contains(r))
                    })
                    .map(|p| p.code.clone()),
            );
            if stores.is_empty() {
                // A region with no known store or warehouse: nothing can match.
                parts.push(format!("{} eq '' and {} ne ''", m.number, m.number));
            }
        }
        if !stores.is_empty() {
            parts.push(format!(
                "({})",
                any_of(&m.store, stores.iter().map(String::as_str))
            ));
        }
        if let Some(customer) = filter
            .customer
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            parts.push(self.contains(&m.customer, customer));
        }
        parts.join(" and ")
    }

    /// Totals per (store, currency) with `$apply`; `None` when the service refuses it.
    async fn applied_sales(
        &self,
        filter: &SalesFilter,
    ) -> Result<Option<Vec<(String, Money, u64)>>, ErpError> {
        let m = &self.cfg.sales;
        let apply = format!(
            "filter({})/groupby(({},{}),aggregate({} with sum as askerpTotal,$count as askerpOrders))",
            self.sales_filter(filter),
            m.store,
            m.currency,
            m.net_amount
        );
        match self
            .rows(&m.service, &m.order_set, &[("$apply", apply)])
            .await
        {
            Ok(rows) => Ok(Some(
                rows.iter()
                    .map(|row| {
                        (
                            str_field(row, &m.store).unwrap_or_default().to_string(),
                            Money {
                                amount: row
                                    .get("askerpTotal")
                                    .and_then(decimal)
                                    .unwrap_or_default(),
                                currency: str_field(row, &m.currency)
                                    .unwrap_or_default()
                                    .to_string(),
                            },
                            row.get("askerpOrders").and_then(count_value).unwrap_or(0),
                        )
                    })
                    .collect(),
            )),
            Err(ErpError::Query { detail, .. })
                if detail.starts_with("HTTP 400") || detail.starts_with("HTTP 501") =>
            {
                warn!(%detail, "the service refused $apply; summing orders instead");
                self.no_apply.store(true, Ordering::Relaxed);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The headers of the orders a sales filter selects.
    async fn orders_in(
        &self,
        filter: &SalesFilter,
        fields: &[&str],
    ) -> Result<Vec<Value>, ErpError> {
        let m = &self.cfg.sales;
        self.rows(
            &m.service,
            &m.order_set,
            &[
                ("$filter", self.sales_filter(filter)),
                ("$select", fields.join(",")),
                self.count_option(),
            ],
        )
        .await
    }

    /// Items of the given orders.
    async fn order_items(&self, numbers: &[String]) -> Result<Vec<Value>, ErpError> {
        let m = &self.cfg.sales;
        let mut rows = Vec::new();
        for chunk in numbers.chunks(20) {
            rows.extend(
                self.rows(
                    &m.service,
                    &m.item_set,
                    &[
                        (
                            "$filter",
                            any_of(&m.number, chunk.iter().map(String::as_str)),
                        ),
                        (
                            "$select",
                            format!(
                                "{},{},{},{},{},{}",
                                m.number,
                                m.item_material,
                                m.item_quantity,
                                m.item_unit,
                                m.item_amount,
                                m.currency
                            ),
                        ),
                    ],
                )
                .await?,
            );
        }
        Ok(rows)
    }
}

#[async_trait]
impl Connector for ODataConnector {
    fn name(&self) -> &str {
        &self.name
    }

    async fn places(&self) -> Result<Places, ErpError> {
        Ok(Places {
            places: self.cfg.places.clone(),
        })
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn find_items(&self, text: &str) -> Result<Vec<Item>, ErpError> {
        let m = &self.cfg.items;
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let filter = words
            .iter()
            .map(|w| {
                format!(
                    "({} or {})",
                    self.contains(&m.product, w),
                    self.contains(&m.description, w)
                )
            })
            .collect::<Vec<_>>()
            .join(" and ");
        let rows = self
            .rows(
                &m.service,
                &m.description_set,
                &[
                    ("$filter", filter),
                    ("$select", format!("{},{}", m.product, m.language)),
                    ("$top", "200".into()),
                ],
            )
            .await?;
        let skus: BTreeSet<String> = rows
            .iter()
            .filter_map(|r| str_field(r, &m.product).map(str::to_string))
            .collect();
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.item_details(&skus).await?.into_values().collect())
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
        let m = &self.cfg.stock;
        let mut filter = format!("({})", any_of(&m.material, skus.iter().map(String::as_str)));
        if let Some(plant) = warehouse {
            filter.push_str(&format!(" and {} eq {}", m.plant, literal(plant)));
        }
        self.stock_lines(filter, false).await
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn low_stock(&self, warehouse: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        let m = &self.cfg.stock;
        let mut parts = Vec::new();
        if self.cfg.default_reorder_level.is_zero() {
            let watched: Vec<String> = super::mapping::watched_skus(
                &self.cfg.warehouse_reorder_levels,
                &self.cfg.reorder_levels,
            );
            if watched.is_empty() {
                return Ok(Vec::new());
            }
            parts.push(format!(
                "({})",
                any_of(&m.material, watched.iter().map(String::as_str))
            ));
        }
        if let Some(plant) = warehouse {
            parts.push(format!("{} eq {}", m.plant, literal(plant)));
        }
        let filter = if parts.is_empty() {
            format!("{} ne ''", m.material)
        } else {
            parts.join(" and ")
        };
        let lines = self.stock_lines(filter, true).await?;
        Ok(lines.into_iter().filter(StockLine::is_low).collect())
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn sales_summary(&self, filter: &SalesFilter) -> Result<SalesSummary, ErpError> {
        let m = &self.cfg.sales;
        let server = self.v4()
            && self.cfg.aggregation == Aggregation::Auto
            && !self.no_apply.load(Ordering::Relaxed);
        let per_store = match server {
            true => self.applied_sales(filter).await?,
            false => None,
        };
        let per_store = match per_store {
            Some(rows) => rows,
            None => {
                let rows = self
                    .orders_in(filter, &[&m.number, &m.store, &m.net_amount, &m.currency])
                    .await?;
                let mut groups: BTreeMap<(String, String), (Decimal, u64)> = BTreeMap::new();
                for row in &rows {
                    let store = str_field(row, &m.store).unwrap_or_default().to_string();
                    let currency = str_field(row, &m.currency).unwrap_or_default().to_string();
                    let amount = row.get(&m.net_amount).and_then(decimal).unwrap_or_default();
                    let entry = groups.entry((store, currency)).or_default();
                    entry.0 += amount;
                    entry.1 += 1;
                }
                groups
                    .into_iter()
                    .map(|((store, currency), (amount, orders))| {
                        (store, Money { amount, currency }, orders)
                    })
                    .collect()
            }
        };
        summarize(filter, per_store, |code| self.store_place(code))
            .map_err(|detail| self.query_error(detail))
    }

    /// The headers the summary counts, summed per customer (the mapped `customer` field:
    /// `SoldToParty` on S/4HANA). Client-side, so V2 and V4 services answer alike.
    #[instrument(skip_all, fields(connector = %self.name))]
    async fn sales_by_customer(
        &self,
        filter: &SalesFilter,
    ) -> Result<Vec<CustomerSales>, ErpError> {
        let m = &self.cfg.sales;
        let rows = self
            .orders_in(
                filter,
                &[&m.number, &m.customer, &m.net_amount, &m.currency],
            )
            .await?;
        let rows = rows.iter().map(|row| {
            let customer = str_field(row, &m.customer)
                .unwrap_or_default()
                .trim()
                .to_string();
            let currency = str_field(row, &m.currency).unwrap_or_default().to_string();
            let amount = row.get(&m.net_amount).and_then(decimal).unwrap_or_default();
            (customer, currency, amount)
        });
        CustomerSales::group(rows).map_err(|e| self.query_error(e))
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn top_items(&self, filter: &SalesFilter, limit: u32) -> Result<Vec<TopItem>, ErpError> {
        let m = &self.cfg.sales;
        let orders = self.orders_in(filter, &[&m.number]).await?;
        let numbers: Vec<String> = orders
            .iter()
            .filter_map(|r| str_field(r, &m.number).map(str::to_string))
            .collect();
        let rows = self.order_items(&numbers).await?;
        let mut totals: BTreeMap<String, (Decimal, String, Decimal, String)> = BTreeMap::new();
        for row in &rows {
            let Some(sku) = str_field(row, &m.item_material) else {
                continue;
            };
            let entry = totals.entry(sku.to_string()).or_insert_with(|| {
                (
                    Decimal::ZERO,
                    str_field(row, &m.item_unit)
                        .map(|u| self.unit(u))
                        .unwrap_or_default(),
                    Decimal::ZERO,
                    str_field(row, &m.currency).unwrap_or_default().to_string(),
                )
            });
            entry.0 += row
                .get(&m.item_quantity)
                .and_then(decimal)
                .unwrap_or_default();
            entry.2 += row
                .get(&m.item_amount)
                .and_then(decimal)
                .unwrap_or_default();
        }
        let skus: BTreeSet<String> = totals.keys().cloned().collect();
        let items = if skus.is_empty() {
            BTreeMap::new()
        } else {
            self.item_details(&skus).await?
        };
        let top = totals
            .into_iter()
            .map(|(sku, (qty, unit, amount, currency))| TopItem {
                item: items.get(&sku).cloned().unwrap_or(Item {
                    sku: sku.clone(),
                    name_en: sku.clone(),
                    name_zh: sku.clone(),
                    unit: unit.clone(),
                }),
                quantity: Quantity { value: qty, unit },
                revenue: Money { amount, currency },
            })
            .collect();
        Ok(rank_top_items(top, limit))
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn order(&self, number: &str) -> Result<Option<Order>, ErpError> {
        let m = &self.cfg.sales;
        let number = number.trim();
        if number.is_empty() {
            return Ok(None);
        }
        let headers = self
            .rows(
                &m.service,
                &m.order_set,
                &[
                    (
                        "$filter",
                        format!(
                            "{} eq {} or {} eq {}",
                            m.number,
                            literal(number),
                            m.reference,
                            literal(number)
                        ),
                    ),
                    ("$top", "1".into()),
                    (
                        "$select",
                        [
                            &m.number,
                            &m.reference,
                            &m.date,
                            &m.customer,
                            &m.store,
                            &m.net_amount,
                            &m.currency,
                            &m.process_status,
                            &m.delivery_status,
                            &m.rejection_status,
                        ]
                        .map(String::as_str)
                        .join(","),
                    ),
                ],
            )
            .await?;
        let Some(header) = headers.first() else {
            return Ok(None);
        };
        let Some(found) = str_field(header, &m.number).map(str::to_string) else {
            return Err(self.query_error("order without a number"));
        };
        let currency = str_field(header, &m.currency)
            .unwrap_or_default()
            .to_string();
        let items = self.order_items(std::slice::from_ref(&found)).await?;
        let skus: BTreeSet<String> = items
            .iter()
            .filter_map(|r| str_field(r, &m.item_material).map(str::to_string))
            .collect();
        let details = if skus.is_empty() {
            BTreeMap::new()
        } else {
            self.item_details(&skus).await?
        };
        let lines = items
            .iter()
            .map(|row| {
                let sku = str_field(row, &m.item_material)
                    .unwrap_or_default()
                    .to_string();
                let unit = str_field(row, &m.item_unit)
                    .map(|u| self.unit(u))
                    .unwrap_or_default();
                let quantity = row
                    .get(&m.item_quantity)
                    .and_then(decimal)
                    .unwrap_or_default();
                let amount = row
                    .get(&m.item_amount)
                    .and_then(decimal)
                    .unwrap_or_default();
                let unit_price = if quantity.is_zero() {
                    Decimal::ZERO
                } else {
                    (amount / quantity).round_dp(4).normalize()
                };
                OrderLine {
                    item: details.get(&sku).cloned().unwrap_or(Item {
                        sku: sku.clone(),
                        name_en: sku.clone(),
                        name_zh: sku.clone(),
                        unit: unit.clone(),
                    }),
                    quantity: Quantity {
                        value: quantity.normalize(),
                        unit,
                    },
                    unit_price: Money {
                        amount: unit_price,
                        currency: currency.clone(),
                    },
                    amount: Money {
                        amount,
                        currency: currency.clone(),
                    },
                }
            })
            .collect();
        let order_date = header
            .get(&m.date)
            .and_then(|v| self.civil_date(v))
            .ok_or_else(|| self.query_error(format!("order {found} has no readable date")))?;
        Ok(Some(Order {
            number: found,
            customer: str_field(header, &m.customer)
                .unwrap_or_default()
                .to_string(),
            store: self.store_place(str_field(header, &m.store).unwrap_or_default()),
            order_date,
            state: sd_state(
                str_field(header, &m.process_status).unwrap_or_default(),
                str_field(header, &m.delivery_status).unwrap_or_default(),
                str_field(header, &m.rejection_status).unwrap_or_default(),
            ),
            delivery_date: None,
            lines,
            total: Money {
                amount: header
                    .get(&m.net_amount)
                    .and_then(decimal)
                    .unwrap_or_default(),
                currency,
            },
        }))
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn find_employees(&self, text: &str) -> Result<Vec<Employee>, ErpError> {
        let m = &self.cfg.leave;
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let filter = words
            .iter()
            .map(|w| match &m.name_zh {
                Some(zh) => format!(
                    "({} or {})",
                    self.contains(&m.display_name, w),
                    self.contains(zh, w)
                ),
                None => self.contains(&m.display_name, w),
            })
            .collect::<Vec<_>>()
            .join(" and ");
        let rows = self
            .rows(
                &m.service,
                &m.user_set,
                &[("$filter", filter), ("$top", "50".into())],
            )
            .await?;
        Ok(rows.iter().filter_map(|r| self.employee_from(r)).collect())
    }

    #[instrument(skip_all, fields(connector = %self.name))]
    async fn leave_balance(
        &self,
        employee_id: &str,
        on: Date,
    ) -> Result<Option<LeaveBalance>, ErpError> {
        let m = &self.cfg.leave;
        let users = self
            .rows(
                &m.service,
                &m.user_set,
                &[(
                    "$filter",
                    format!("{} eq {}", m.user_id, literal(employee_id)),
                )],
            )
            .await?;
        let Some(employee) = users.first().and_then(|r| self.employee_from(r)) else {
            return Ok(None);
        };
        let mut lines = Vec::new();
        for (leave_type, code) in &m.types {
            let rows = self
                .rows(
                    &m.service,
                    &m.balance_set,
                    &[(
                        "$filter",
                        format!(
                            "{} eq {} and {} eq {}",
                            m.user,
                            literal(employee_id),
                            m.account_type,
                            literal(code)
                        ),
                    )],
                )
                .await?;
            let mut days = Decimal::ZERO;
            let mut any = false;
            for row in &rows {
                if row.get(&m.closed).and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                let balance = row.get(&m.balance).and_then(decimal).unwrap_or_default();
                let hours =
                    str_field(row, &m.time_unit).is_some_and(|u| u.eq_ignore_ascii_case("HOURS"));
                days += if hours {
                    balance / m.hours_per_day
                } else {
                    balance
                };
                any = true;
            }
            if !any {
                continue;
            }
            // The balance entity carries only what is left; entitlement and days taken
            // are not in it, so the card shows the balance as both.
            let q = |value: Decimal| Quantity {
                value: value.round_dp(2).normalize(),
                unit: "day".into(),
            };
            lines.push(LeaveLine {
                leave_type: *leave_type,
                entitled: q(days),
                taken: q(Decimal::ZERO),
                remaining: q(days),
            });
        }
        Ok(Some(LeaveBalance {
            employee,
            year: on.year(),
            lines,
        }))
    }
}

impl ODataConnector {
    fn employee_from(&self, row: &Value) -> Option<Employee> {
        let m = &self.cfg.leave;
        let id = str_field(row, &m.user_id)?.to_string();
        let name = str_field(row, &m.display_name).unwrap_or(&id).to_string();
        let name_zh = m
            .name_zh
            .as_ref()
            .and_then(|f| str_field(row, f))
            .filter(|s| !s.is_empty())
            .unwrap_or(&name)
            .to_string();
        Some(Employee {
            id,
            name_en: name,
            name_zh,
        })
    }
}

/// Canonical state from the S/4HANA overall statuses.
fn sd_state(process: &str, delivery: &str, rejection: &str) -> OrderState {
    match (process, delivery, rejection) {
        (_, _, "C") => OrderState::Cancelled,
        ("C", "C", _) => OrderState::Delivered,
        (_, "C", _) => OrderState::Shipped,
        (_, "B", _) => OrderState::Picking,
        _ => OrderState::Confirmed,
    }
}

/// An OData string literal: single quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `field eq 'a' or field eq 'b' …` (V2 has no `in`).
fn any_of<'a>(field: &str, values: impl Iterator<Item = &'a str>) -> String {
    let parts: Vec<String> = values
        .map(|v| format!("{field} eq {}", literal(v)))
        .collect();
    if parts.is_empty() {
        "false".into()
    } else {
        parts.join(" or ")
    }
}

fn str_field<'a>(row: &'a Value, field: &str) -> Option<&'a str> {
    row.get(field).and_then(Value::as_str)
}

/// `$count` / `__count` values: a number in V4, a string in V2.
fn count_value(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
}

/// The message of an OData error body (V2 nests it in `message.value`).
fn odata_error_message(body: &Value) -> String {
    let error = body.get("error").unwrap_or(body);
    match error.get("message") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::from("no error message"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(extra: &str) -> ODataConfig {
        toml::from_str(&format!(
            "url = \"https://s4.example.com\"\n[auth]\nkind = \"basic\"\nusername = \"u\"\npassword = \"p\"\n{extra}"
        ))
        .expect("config")
    }

    #[test]
    fn built_in_mappings_are_s4_and_successfactors() {
        let cfg = config("");
        assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
        assert_eq!(cfg.version, ODataVersion::V2);
        assert_eq!(cfg.stock.entity_set, "A_MatlStkInAcctMod");
        assert_eq!(cfg.sales.net_amount, "TotalNetAmount");
        assert_eq!(cfg.leave.balance_set, "EmpTimeAccountBalance");
        assert_eq!(cfg.leave.types[&LeaveType::Annual], "VACATION");
        let cfg = config("[stock]\nservice = \"/odata/v4/stock\"\n[leave.types]\nannual = \"AL\"");
        assert_eq!(cfg.stock.service, "/odata/v4/stock");
        assert_eq!(
            cfg.stock.plant, "Plant",
            "unset fields keep the built-in names"
        );
        assert_eq!(cfg.leave.types.len(), 1);
    }

    #[test]
    fn validation_lists_every_problem_and_hides_secrets() {
        let mut cfg = config("");
        cfg.url = "https://s4.example.com/sap".into();
        cfg.time_zone = "Mars/Olympus".into();
        cfg.timeout_secs = 0;
        cfg.stock.service = "odata".into();
        cfg.auth = ODataAuth::Oauth2 {
            token_url: "nope".into(),
            client_id: String::new(),
            client_secret: Secret::new("s3cr3t"),
            scope: None,
        };
        let problems = cfg.validate();
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert!(!format!("{cfg:?}").contains("s3cr3t"));
        assert!(toml::from_str::<ODataConfig>("url='https://x'\nurl2='y'").is_err());
    }

    #[tokio::test]
    async fn v2_dates_and_decimals_decode() {
        let c = ODataConnector::connect("s4", &config(""))
            .await
            .expect("connect");
        assert_eq!(
            c.civil_date(&json!("/Date(1740960000000)/")),
            Some(jiff::civil::date(2025, 3, 3))
        );
        // 2025-03-02T20:00Z is already 3 March in Hong Kong.
        assert_eq!(
            c.civil_date(&json!("/Date(1740945600000+0000)/")),
            Some(jiff::civil::date(2025, 3, 3))
        );
        assert_eq!(
            c.civil_date(&json!("2025-03-15")),
            Some(jiff::civil::date(2025, 3, 15))
        );
        assert_eq!(c.civil_date(&json!("/Date(x)/")), None);
        assert_eq!(decimal(&json!("17.500")), Some(Decimal::new(175, 1)));
        assert_eq!(decimal(&json!(1825.5)), Some(Decimal::new(18255, 1)));
        assert_eq!(count_value(&json!("4")), Some(4));
    }

    #[tokio::test]
    async fn urls_encode_spaces_and_quotes_and_pin_next_links() {
        let c = ODataConnector::connect("s4", &config(""))
            .await
            .expect("connect");
        let url = c.url(
            "/svc",
            "Set",
            &[("$filter", format!("Material eq {}", literal("O'Neil & co")))],
        );
        assert_eq!(
            url,
            "https://s4.example.com/svc/Set?$filter=Material%20eq%20'O''Neil%20%26%20co'&$format=json"
        );
        let next = c
            .pin_link(&url, "http://evil.example.org:8080/svc/Set?$skiptoken=3")
            .expect("link");
        assert_eq!(next, "https://s4.example.com/svc/Set?$skiptoken=3");
        let next = c
            .pin_link(&url, "Set?%24skiptoken=3")
            .expect("relative link");
        assert_eq!(next, "https://s4.example.com/svc/Set?%24skiptoken=3");
    }

    #[test]
    fn sd_statuses_map_to_canonical_states() {
        assert_eq!(sd_state("A", "A", "A"), OrderState::Confirmed);
        assert_eq!(sd_state("B", "B", "A"), OrderState::Picking);
        assert_eq!(sd_state("B", "C", "A"), OrderState::Shipped);
        assert_eq!(sd_state("C", "C", "A"), OrderState::Delivered);
        assert_eq!(sd_state("C", "A", "C"), OrderState::Cancelled);
    }

    #[test]
    fn error_messages_are_read_from_v2_and_v4_bodies() {
        assert_eq!(
            odata_error_message(&json!({"error": {"message": {"lang": "en", "value": "bad"}}})),
            "bad"
        );
        assert_eq!(
            odata_error_message(&json!({"error": {"message": "worse"}})),
            "worse"
        );
    }
}

//! Connector configuration: named connectors (`[erp.connectors.<name>]`, tagged by `kind`),
//! the domain routes that choose one per domain, and the protection settings each connector
//! runs behind.
//!
//! Checking here is offline only (names, routes, SQL shape); `askerp check` then tries each
//! connector live.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::sql::SqlConfig;

/// The business domains a question can touch; each is routed to one connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// Places, items, stock and low stock.
    Inventory,
    /// Sales totals, best sellers and orders.
    Sales,
    /// Employees and leave balances.
    Leave,
}

impl Domain {
    pub const ALL: [Domain; 3] = [Domain::Inventory, Domain::Sales, Domain::Leave];

    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Inventory => "inventory",
            Domain::Sales => "sales",
            Domain::Leave => "leave",
        }
    }
}

/// One configured connector. The `kind` key picks the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
// Read once at start-up; the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum ConnectorKind {
    /// The embedded demo ERP.
    Demo(DemoConfig),
    /// Any PostgreSQL, MySQL/MariaDB or SQLite database, queried with configured SELECTs.
    Sql(SqlConfig),
    /// A Tryton server over JSON-RPC.
    Tryton(super::tryton::TrytonConfig),
    /// An OData V2/V4 service (SAP S/4HANA, SuccessFactors, Business Central, …).
    #[serde(rename = "odata")]
    OData(super::odata::ODataConfig),
    /// Odoo's external API (JSON-RPC or JSON-2).
    Odoo(super::odoo::OdooConfig),
}

impl ConnectorKind {
    /// The `kind` value, for messages.
    pub fn label(&self) -> &'static str {
        match self {
            ConnectorKind::Demo(_) => "demo",
            ConnectorKind::Sql(_) => "sql",
            ConnectorKind::Tryton(_) => "tryton",
            ConnectorKind::OData(_) => "odata",
            ConnectorKind::Odoo(_) => "odoo",
        }
    }
}

/// Settings of a `kind = "demo"` connector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// SQLite file to keep the demo data in; unset keeps it in memory.
    pub database: Option<PathBuf>,
}

/// Which connector answers each domain. Unset domains go to `erp.connector`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routes {
    pub inventory: Option<String>,
    pub sales: Option<String>,
    pub leave: Option<String>,
}

impl Routes {
    pub fn get(&self, domain: Domain) -> Option<&str> {
        match domain {
            Domain::Inventory => self.inventory.as_deref(),
            Domain::Sales => self.sales.as_deref(),
            Domain::Leave => self.leave.as_deref(),
        }
    }
}

/// How long answers of each domain are reused. Stock changes faster than last month's sales.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheTtl {
    /// Unset: `erp.cache_ttl_secs`.
    pub inventory_secs: Option<u64>,
    pub sales_secs: Option<u64>,
    pub leave_secs: Option<u64>,
}

impl CacheTtl {
    pub fn get(&self, domain: Domain) -> Option<u64> {
        match domain {
            Domain::Inventory => self.inventory_secs,
            Domain::Sales => self.sales_secs,
            Domain::Leave => self.leave_secs,
        }
    }
}

/// What shields an ERP from askerp: limits, per-attempt timeout, retries and the circuit
/// breaker. Set in `[erp.protect]` for every connector; `[erp.connectors.<name>.protect]`
/// overrides single keys (see [`ProtectOverride`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protect {
    /// Calls in flight at once to one connector; more wait their turn (stay below the
    /// vendor's cap: Business Central processes 5, NetSuite 5–15 shared).
    pub max_concurrency: u32,
    /// Calls started per second to one connector (0: unlimited).
    pub rate_per_sec: u32,
    /// Longest wait for one attempt.
    pub attempt_timeout_ms: u64,
    /// Extra attempts after a failure that may pass (timeouts, lost connections, "busy").
    pub retries: u32,
    /// First backoff; doubles per retry, with full jitter, capped at `backoff_max_ms`.
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    /// Consecutive failed calls that open the circuit.
    pub breaker_failures: u32,
    /// How long the circuit stays open (answering "not answering" at once) before one
    /// trial call is let through.
    pub breaker_open_ms: u64,
}

impl Default for Protect {
    fn default() -> Self {
        Protect {
            max_concurrency: 4,
            rate_per_sec: 20,
            attempt_timeout_ms: 5_000,
            retries: 2,
            backoff_ms: 200,
            backoff_max_ms: 2_000,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
        }
    }
}

/// Per-connector overrides of [`Protect`]; unset keys keep `[erp.protect]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtectOverride {
    pub max_concurrency: Option<u32>,
    pub rate_per_sec: Option<u32>,
    pub attempt_timeout_ms: Option<u64>,
    pub retries: Option<u32>,
    pub backoff_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub breaker_failures: Option<u32>,
    pub breaker_open_ms: Option<u64>,
}

impl Protect {
    /// `self` with the keys `o` sets replaced.
    pub fn with(&self, o: &ProtectOverride) -> Protect {
        Protect {
            max_concurrency: o.max_concurrency.unwrap_or(self.max_concurrency),
            rate_per_sec: o.rate_per_sec.unwrap_or(self.rate_per_sec),
            attempt_timeout_ms: o.attempt_timeout_ms.unwrap_or(self.attempt_timeout_ms),
            retries: o.retries.unwrap_or(self.retries),
            backoff_ms: o.backoff_ms.unwrap_or(self.backoff_ms),
            backoff_max_ms: o.backoff_max_ms.unwrap_or(self.backoff_max_ms),
            breaker_failures: o.breaker_failures.unwrap_or(self.breaker_failures),
            breaker_open_ms: o.breaker_open_ms.unwrap_or(self.breaker_open_ms),
        }
    }

    /// Problems with these values, prefixed by `at` (the config key).
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (key, v) in [
            ("max_concurrency", u64::from(self.max_concurrency)),
            ("attempt_timeout_ms", self.attempt_timeout_ms),
            ("breaker_failures", u64::from(self.breaker_failures)),
            ("breaker_open_ms", self.breaker_open_ms),
        ] {
            if v == 0 {
                out.push(format!("{at}.{key} must be greater than 0"));
            }
        }
        if self.retries > 5 {
            out.push(format!(
                "{at}.retries = {} is too many; at most 5 (retries multiply the ERP's load)",
                self.retries
            ));
        }
        out
    }
}

/// A named connector: its kind and settings, plus protection overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedConnector {
    #[serde(flatten)]
    pub kind: ConnectorKind,
    #[serde(default, skip_serializing_if = "is_default_override")]
    pub protect: ProtectOverride,
}

fn is_default_override(o: &ProtectOverride) -> bool {
    *o == ProtectOverride::default()
}

/// The name `erp.connector` uses for the built-in demo when no `[erp.connectors.demo]`
/// exists.
pub const BUILTIN_DEMO: &str = "demo";

/// Checks names, routes and each connector's settings offline. `default` is
/// `erp.connector`.
pub fn problems(
    default: &str,
    connectors: &BTreeMap<String, NamedConnector>,
    routes: &Routes,
    protect: &Protect,
) -> Vec<String> {
    let mut out = Vec::new();
    let known = |name: &str| name == BUILTIN_DEMO || connectors.contains_key(name);
    let names = || {
        let mut n: Vec<&str> = connectors.keys().map(String::as_str).collect();
        if !connectors.contains_key(BUILTIN_DEMO) {
            n.insert(0, BUILTIN_DEMO);
        }
        n.join(", ")
    };
    if !known(default) {
        out.push(format!(
            "erp.connector = {default:?} is not a configured connector (known: {})",
            names()
        ));
    }
    for domain in Domain::ALL {
        if let Some(name) = routes.get(domain)
            && !known(name)
        {
            out.push(format!(
                "erp.routes.{} = {name:?} is not a configured connector (known: {})",
                domain.as_str(),
                names()
            ));
        }
    }
    out.extend(protect.problems("erp.protect"));
    for (name, c) in connectors {
        let at = format!("erp.connectors.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        {
            out.push(format!(
                "{at}: a connector name uses only letters, digits, '-' and '_'"
            ));
        }
        out.extend(protect.with(&c.protect).problems(&format!("{at}.protect")));
        match &c.kind {
            ConnectorKind::Demo(_) => {}
            ConnectorKind::Sql(sql) => {
                let domains: Vec<Domain> = Domain::ALL
                    .into_iter()
                    .filter(|d| routes.get(*d).unwrap_or(default) == name)
                    .collect();
                out.extend(sql.problems(&at, &domains));
            }
            ConnectorKind::Tryton(t) => {
                out.extend(t.validate().into_iter().map(|p| format!("{at}: {p}")))
            }
            ConnectorKind::OData(o) => {
                out.extend(o.validate().into_iter().map(|p| format!("{at}: {p}")))
            }
            ConnectorKind::Odoo(o) => {
                out.extend(o.validate().into_iter().map(|p| format!("{at}: {p}")))
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_tagged_and_unknown_keys_refused() {
        let ok: BTreeMap<String, NamedConnector> = toml::from_str(
            "[main]\nkind = \"demo\"\ndatabase = \"x.db\"\n[main.protect]\nretries = 1\n",
        )
        .expect("valid");
        assert_eq!(ok["main"].kind.label(), "demo");
        assert_eq!(ok["main"].protect.retries, Some(1));
        let bad = toml::from_str::<BTreeMap<String, NamedConnector>>(
            "[main]\nkind = \"demo\"\ndatabse = \"x.db\"\n",
        );
        assert!(bad.is_err(), "a misspelt key must be refused");
        let unknown =
            toml::from_str::<BTreeMap<String, NamedConnector>>("[main]\nkind = \"sap-gui\"\n");
        assert!(unknown.is_err());
    }

    #[test]
    fn routes_must_name_connectors() {
        let routes = Routes {
            leave: Some("hr".into()),
            ..Routes::default()
        };
        let p = problems("demo", &BTreeMap::new(), &routes, &Protect::default());
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("erp.routes.leave"), "{p:?}");
    }
}

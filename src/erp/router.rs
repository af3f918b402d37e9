//! Domain routing: each domain (inventory, sales, leave) is answered by the connector the
//! configuration routes it to, through that domain's cache and the connector's guard.
//!
//! [`ErpRouter`] offers the same calls as [`CachedConnector`], so the pipeline does not know
//! how many systems stand behind it. Places come from the inventory connector, merged with
//! the sales connector's when sales is routed elsewhere (its stores and regions).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::civil::Date;

use super::cache::{CacheStats, Fetched};
use super::config::Domain;
use super::protect::Guard;
use super::{
    CachedConnector, Connector, Employee, ErpError, Item, LeaveBalance, Order, Places, SalesFilter,
    SalesSummary, StockLine, TopItem,
};

/// One opened connector: the guarded connector and its guard.
#[derive(Clone)]
pub struct Opened {
    pub name: String,
    pub connector: Arc<dyn Connector>,
    pub guard: Arc<Guard>,
}

#[derive(Clone)]
struct Route {
    name: String,
    cache: CachedConnector,
}

/// The connectors behind askerp, one per domain. Cheap to clone.
#[derive(Clone)]
pub struct ErpRouter {
    inventory: Route,
    sales: Route,
    leave: Route,
    connectors: Vec<Opened>,
}

impl ErpRouter {
    /// `opened` are the distinct connectors; `routes` names one of them per domain; `ttl`
    /// is each domain's cache lifetime; `timeout` bounds a whole call (retries included).
    pub fn new(
        opened: Vec<Opened>,
        routes: &BTreeMap<Domain, String>,
        ttl: impl Fn(Domain) -> Duration,
        timeout: Duration,
    ) -> Result<ErpRouter, String> {
        let route = |d: Domain| -> Result<Route, String> {
            let name = routes
                .get(&d)
                .ok_or_else(|| format!("no connector for the {} domain", d.as_str()))?;
            let o = opened
                .iter()
                .find(|o| &o.name == name)
                .ok_or_else(|| format!("connector {name} was not opened"))?;
            Ok(Route {
                name: name.clone(),
                cache: CachedConnector::new(Arc::clone(&o.connector), ttl(d), timeout),
            })
        };
        Ok(ErpRouter {
            inventory: route(Domain::Inventory)?,
            sales: route(Domain::Sales)?,
            leave: route(Domain::Leave)?,
            connectors: opened,
        })
    }

    /// One connector for every domain, with the given cache lifetime and timeout (the
    /// shape askerp had before routing; also handy in tests).
    pub fn single(opened: Opened, ttl: Duration, timeout: Duration) -> ErpRouter {
        let cache = CachedConnector::new(Arc::clone(&opened.connector), ttl, timeout);
        let route = Route {
            name: opened.name.clone(),
            cache,
        };
        ErpRouter {
            inventory: route.clone(),
            sales: route.clone(),
            leave: route,
            connectors: vec![opened],
        }
    }

    /// `connector` for every domain, called as it is (without a guard); for tests that
    /// substitute a connector.
    pub fn from_connector(
        connector: Arc<dyn Connector>,
        ttl: Duration,
        timeout: Duration,
    ) -> ErpRouter {
        let name = connector.name().to_string();
        let guard = Arc::new(Guard::new(&name, super::config::Protect::default()));
        ErpRouter::single(
            Opened {
                name,
                connector,
                guard,
            },
            ttl,
            timeout,
        )
    }

    fn routes(&self) -> [(Domain, &Route); 3] {
        [
            (Domain::Inventory, &self.inventory),
            (Domain::Sales, &self.sales),
            (Domain::Leave, &self.leave),
        ]
    }

    /// The connectors' names: one name, or `inventory=a,sales=b,leave=c` when they differ.
    pub fn name(&self) -> String {
        if self.inventory.name == self.sales.name && self.sales.name == self.leave.name {
            self.inventory.name.clone()
        } else {
            self.routes()
                .iter()
                .map(|(d, r)| format!("{}={}", d.as_str(), r.name))
                .collect::<Vec<_>>()
                .join(",")
        }
    }

    /// The connector answering `domain`.
    pub fn connector_for(&self, domain: Domain) -> &str {
        match domain {
            Domain::Inventory => &self.inventory.name,
            Domain::Sales => &self.sales.name,
            Domain::Leave => &self.leave.name,
        }
    }

    /// Cache counters summed over the domains.
    pub fn stats(&self) -> CacheStats {
        let sum = CacheStats::default();
        let mut seen: Vec<*const CacheStats> = Vec::new();
        for (_, r) in self.routes() {
            let s = r.cache.stats();
            let p: *const CacheStats = s;
            if seen.contains(&p) {
                continue;
            }
            seen.push(p);
            for (to, from) in [
                (&sum.hits, &s.hits),
                (&sum.misses, &s.misses),
                (&sum.errors, &s.errors),
            ] {
                to.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        sum
    }

    /// The opened connectors (for `askerp check` and `/readyz`).
    pub fn connectors(&self) -> &[Opened] {
        &self.connectors
    }

    /// Each connector's health, through its guard: an open circuit answers at once.
    pub async fn health(&self) -> Vec<(String, Result<(), ErpError>)> {
        let mut out = Vec::with_capacity(self.connectors.len());
        for o in &self.connectors {
            out.push((o.name.clone(), o.connector.health().await));
        }
        out
    }

    /// Per-connector metrics in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        type Family<'a> = (&'a str, Vec<(String, String)>);
        let mut families: BTreeMap<&str, Family<'_>> = BTreeMap::new();
        for o in &self.connectors {
            let s = &o.guard.stats;
            let hits: u64 = {
                let mut seen: Vec<*const CacheStats> = Vec::new();
                let mut n = 0;
                for (_, r) in self.routes() {
                    let st = r.cache.stats();
                    let p: *const CacheStats = st;
                    if r.name == o.name && !seen.contains(&p) {
                        seen.push(p);
                        n += st.hits.load(Ordering::Relaxed);
                    }
                }
                n
            };
            for (family, kind, value) in [
                (
                    "askerp_erp_connector_calls_total",
                    "counter",
                    s.calls.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "askerp_erp_connector_errors_total",
                    "counter",
                    s.errors.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "askerp_erp_connector_retries_total",
                    "counter",
                    s.retries.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "askerp_erp_connector_rejected_total",
                    "counter",
                    s.rejected.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "askerp_erp_connector_cache_hits_total",
                    "counter",
                    hits.to_string(),
                ),
                (
                    "askerp_erp_connector_circuit_open",
                    "gauge",
                    u8::from(o.guard.is_open()).to_string(),
                ),
            ] {
                families
                    .entry(family)
                    .or_insert((kind, Vec::new()))
                    .1
                    .push((o.name.clone(), value));
            }
        }
        let mut out = String::new();
        for (family, (kind, rows)) in families {
            let help = match family {
                "askerp_erp_connector_calls_total" => {
                    "Requests sent to the ERP system, per connector: every attempt, retries and health checks included. The one count of ERP calls."
                }
                "askerp_erp_connector_errors_total" => {
                    "Attempts that ended in an error, per connector."
                }
                "askerp_erp_connector_retries_total" => {
                    "Attempts retried after a transient error, per connector."
                }
                "askerp_erp_connector_rejected_total" => {
                    "Lookups answered at once by the open circuit, without calling the ERP."
                }
                "askerp_erp_connector_cache_hits_total" => {
                    "Lookups answered from askerp's cache, per connector."
                }
                "askerp_erp_connector_circuit_open" => {
                    "1 while the connector's circuit breaker is open."
                }
                _ => "ERP connector metric.",
            };
            crate::telemetry::family(&mut out, family, kind, help);
            for (name, value) in rows {
                let _ = writeln!(
                    out,
                    "{family}{{connector=\"{}\"}} {value}",
                    crate::telemetry::label_value(&name)
                );
            }
        }
        crate::metrics::family(
            &mut out,
            "askerp_erp_connector_latency_seconds",
            "histogram",
            "Time of each attempt sent to the ERP system, per connector; its count equals askerp_erp_connector_calls_total.",
        );
        for o in &self.connectors {
            o.guard.stats.latency.render(
                &mut out,
                "askerp_erp_connector_latency_seconds",
                &format!("connector=\"{}\"", crate::metrics::label_value(&o.name)),
            );
        }
        out
    }

    /// What the resolver looks for in messages: items and places from the inventory
    /// connector, places and customers from the sales one, staff from the leave one. A
    /// connector that fails to answer contributes nothing (the resolver then works from the
    /// rest of the message, as it must for names it does not know anyway).
    pub async fn vocabulary(&self) -> super::Vocabulary {
        let inv = self.inventory.cache.vocabulary().await;
        let mut vocab = match inv {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "The inventory connector did not list its names.");
                super::Vocabulary::default()
            }
        };
        if self.sales.name != self.inventory.name {
            match self.sales.cache.vocabulary().await {
                Ok(sales) => {
                    vocab.places.merge(sales.places);
                    vocab.customers = sales.customers;
                }
                Err(e) => tracing::warn!(error = %e, "The sales connector did not list its names."),
            }
        }
        if self.leave.name != self.inventory.name {
            match self.leave.cache.vocabulary().await {
                Ok(leave) => vocab.employees = leave.employees,
                Err(e) => tracing::warn!(error = %e, "The leave connector did not list its staff."),
            }
        }
        vocab
    }

    pub async fn places(&self) -> Result<Fetched<Arc<Places>>, ErpError> {
        let mut inv = self.inventory.cache.places().await?;
        if self.sales.name != self.inventory.name {
            let sales = self.sales.cache.places().await?;
            Arc::make_mut(&mut inv.data).merge((*sales.data).clone());
            inv.as_of = inv.as_of.min(sales.as_of);
        }
        Ok(inv)
    }

    pub async fn find_items(&self, text: &str) -> Result<Fetched<Vec<Item>>, ErpError> {
        self.inventory.cache.find_items(text).await
    }

    pub async fn stock(
        &self,
        skus: &[String],
        warehouse: Option<&str>,
    ) -> Result<Fetched<Vec<StockLine>>, ErpError> {
        self.inventory.cache.stock(skus, warehouse).await
    }

    pub async fn low_stock(
        &self,
        warehouse: Option<&str>,
    ) -> Result<Fetched<Vec<StockLine>>, ErpError> {
        self.inventory.cache.low_stock(warehouse).await
    }

    pub async fn sales_summary(
        &self,
        filter: &SalesFilter,
    ) -> Result<Fetched<SalesSummary>, ErpError> {
        self.sales.cache.sales_summary(filter).await
    }

    pub async fn top_items(
        &self,
        filter: &SalesFilter,
        limit: u32,
    ) -> Result<Fetched<Vec<TopItem>>, ErpError> {
        self.sales.cache.top_items(filter, limit).await
    }

    /// Sales per day, for a report's trend chart.
    pub async fn daily_sales(
        &self,
        filter: &SalesFilter,
    ) -> Result<Fetched<Vec<super::DailySales>>, ErpError> {
        self.sales.cache.daily_sales(filter).await
    }

    /// Reads `sku` at `warehouse` from the ERP itself, not from the cache: an event
    /// source said it changed, so a cached reading is known to be stale.
    pub async fn stock_fresh(
        &self,
        sku: &str,
        warehouse: &str,
    ) -> Result<Fetched<Vec<StockLine>>, ErpError> {
        self.inventory.cache.forget_stock(sku, warehouse).await;
        self.inventory
            .cache
            .stock(&[sku.to_string()], Some(warehouse))
            .await
    }

    /// Reads order `number` from the ERP itself, for the same reason.
    pub async fn order_fresh(&self, number: &str) -> Result<Fetched<Option<Order>>, ErpError> {
        self.sales.cache.forget_order(number).await;
        self.sales.cache.order(number).await
    }

    /// Orders booked on or after `since` (order polling).
    pub async fn recent_orders(
        &self,
        since: jiff::civil::Date,
        limit: u32,
    ) -> Result<Fetched<Vec<Order>>, ErpError> {
        self.sales.cache.recent_orders(since, limit).await
    }

    /// Sales per customer, for a breakdown by customer.
    pub async fn sales_by_customer(
        &self,
        filter: &SalesFilter,
    ) -> Result<Fetched<Vec<super::CustomerSales>>, ErpError> {
        self.sales.cache.sales_by_customer(filter).await
    }

    pub async fn order(&self, number: &str) -> Result<Fetched<Option<Order>>, ErpError> {
        self.sales.cache.order(number).await
    }

    pub async fn find_employees(&self, text: &str) -> Result<Fetched<Vec<Employee>>, ErpError> {
        self.leave.cache.find_employees(text).await
    }

    pub async fn leave_balance(
        &self,
        employee_id: &str,
        on: Date,
    ) -> Result<Fetched<Option<LeaveBalance>>, ErpError> {
        self.leave.cache.leave_balance(employee_id, on).await
    }
}

/// Counters as plain numbers (for tests and `askerp check`).
pub fn snapshot(s: &CacheStats) -> (u64, u64, u64) {
    (
        s.hits.load(Ordering::Relaxed),
        s.misses.load(Ordering::Relaxed),
        s.errors.load(Ordering::Relaxed),
    )
}

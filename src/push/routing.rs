//! Alert routing: `[[alert_route]]` sends each kind of event, filtered by warehouse,
//! store, region, order state or amount, to groups or people. Every recipient is checked
//! by the policy like a question before anything is sent (see [`super::events`]).

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::events::{Event, state_name};

/// The kinds of alert askerp produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// An item's available stock at a warehouse fell to or below its reorder level.
    LowStock,
    /// A sales order reached a new state (shipped, delivered, …).
    OrderState,
    /// A sales order's total is at or above a route's `min_amount`.
    OrderAmount,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::LowStock => "low_stock",
            AlertKind::OrderState => "order_state",
            AlertKind::OrderAmount => "order_amount",
        }
    }
}

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRouteConfig {
    pub kind: AlertKind,
    /// Warehouse codes the rule covers; empty: every warehouse (within `regions`).
    #[serde(default)]
    pub warehouses: Vec<String>,
    /// Region codes the rule covers (a warehouse's or an order's store's region);
    /// empty: every region.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Store codes an order rule covers (the store that booked the order); empty: every
    /// store (within `regions`).
    #[serde(default)]
    pub stores: Vec<String>,
    /// The order states an `order_state` rule alerts on (`confirmed`, `picking`,
    /// `shipped`, `delivered`, `cancelled`); empty: every change.
    #[serde(default)]
    pub states: Vec<String>,
    /// The total at or above which an `order_amount` rule alerts (required there), in the
    /// order's own currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<Decimal>,
    /// DingTalk user ids to alert 1:1.
    #[serde(default)]
    pub users: Vec<String>,
    /// Group ids from `[[push.group]]` to alert.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The language of the alert (`en`, `zh-HK`, `zh-CN`, `ms`, `vi`).
    #[serde(default = "default_locale")]
    pub locale: String,
}

fn default_locale() -> String {
    "en".into()
}

fn listed(list: &[String], code: &str) -> bool {
    list.is_empty() || list.iter().any(|c| c.eq_ignore_ascii_case(code))
}

impl AlertRouteConfig {
    /// Whether the rule covers an event at `warehouse` (a code) in `region`.
    pub fn covers(&self, warehouse: &str, region: Option<&str>) -> bool {
        let r = self.regions.is_empty()
            || region.is_some_and(|r| self.regions.iter().any(|c| c.eq_ignore_ascii_case(r)));
        listed(&self.warehouses, warehouse) && r
    }

    /// Whether the rule takes `event`: its kind, and every filter the rule sets.
    pub fn matches(&self, event: &Event) -> bool {
        if self.kind != event.kind() {
            return false;
        }
        match event {
            Event::LowStock { line, .. } => {
                self.covers(&line.warehouse.code, line.warehouse.region.as_deref())
            }
            Event::OrderState { order, .. } | Event::OrderAmount { order, .. } => {
                let region = order.store.region.as_deref();
                let r = self.regions.is_empty()
                    || region
                        .is_some_and(|r| self.regions.iter().any(|c| c.eq_ignore_ascii_case(r)));
                let amount = match (event, self.min_amount) {
                    (Event::OrderAmount { .. }, Some(min)) => order.total.amount >= min,
                    (Event::OrderAmount { .. }, None) => false,
                    _ => true,
                };
                let state = !matches!(event, Event::OrderState { .. })
                    || listed(&self.states, state_name(order.state));
                r && listed(&self.stores, &order.store.code) && amount && state
            }
        }
    }
}

/// The order states a route may name.
const STATES: &[&str] = &[
    "draft",
    "confirmed",
    "picking",
    "shipped",
    "delivered",
    "cancelled",
];

pub(super) fn validate(
    routes: &[AlertRouteConfig],
    groups: &HashSet<&str>,
    problems: &mut Vec<String>,
) {
    for (n, r) in routes.iter().enumerate() {
        let at = format!("alert_route #{} ({})", n + 1, r.kind.as_str());
        if r.users.is_empty() && r.groups.is_empty() {
            problems.push(format!("{at}: no users and no groups to alert"));
        }
        for g in &r.groups {
            if !groups.contains(g.as_str()) {
                problems.push(format!("{at}: group {g:?} is not a [[push.group]]"));
            }
        }
        let orders = matches!(r.kind, AlertKind::OrderState | AlertKind::OrderAmount);
        if orders && !r.warehouses.is_empty() {
            problems.push(format!(
                "{at}: warehouses filter stock alerts; an order rule filters by stores or regions"
            ));
        }
        if !orders && !r.stores.is_empty() {
            problems.push(format!(
                "{at}: stores filter order alerts; a stock rule filters by warehouses or regions"
            ));
        }
        if r.kind != AlertKind::OrderState && !r.states.is_empty() {
            problems.push(format!("{at}: states only apply to kind = \"order_state\""));
        }
        for s in &r.states {
            if !STATES.contains(&s.to_ascii_lowercase().as_str()) {
                problems.push(format!(
                    "{at}: state {s:?} is not one of {}",
                    STATES.join(", ")
                ));
            }
        }
        match (r.kind, r.min_amount) {
            (AlertKind::OrderAmount, None) => {
                problems.push(format!("{at}: kind = \"order_amount\" needs min_amount"))
            }
            (AlertKind::OrderAmount, Some(m)) if m <= Decimal::ZERO => {
                problems.push(format!("{at}: min_amount must be above 0"))
            }
            (AlertKind::OrderAmount, _) => {}
            (_, Some(_)) => problems.push(format!(
                "{at}: min_amount only applies to kind = \"order_amount\""
            )),
            (_, None) => {}
        }
        if crate::intent::Locale::from_tag(&r.locale).is_none() {
            problems.push(format!(
                "{at}: locale {:?} is not one of en, zh-HK, zh-CN, ms, vi",
                r.locale
            ));
        }
    }
}

/// The question an alert of `kind` answers, whose policy decides who may receive it.
pub fn intent_of(kind: AlertKind) -> crate::intent::Intent {
    match kind {
        AlertKind::LowStock => crate::intent::Intent::InventoryLowStock,
        AlertKind::OrderState | AlertKind::OrderAmount => crate::intent::Intent::SalesOrderStatus,
    }
}

/// Whether every member of `group` (its audience role, over its stores and regions) may
/// see answers to `intent`.
pub fn audience_allows(
    bot: &crate::pipeline::Bot,
    group: &super::config::GroupConfig,
    intent: crate::intent::Intent,
) -> bool {
    bot.policy.has_role(&group.audience_role) && bot.policy.allows(&audience(group), intent)
}

/// The principal every member of `group` is taken to be at least.
pub fn audience(group: &super::config::GroupConfig) -> crate::identity::Principal {
    crate::identity::Principal {
        dingtalk_user_id: format!("group:{}", group.id),
        employee_id: String::new(),
        name: group.name.clone(),
        name_zh: String::new(),
        roles: vec![group.audience_role.clone()],
        stores: group.stores.clone(),
        regions: group.regions.clone(),
    }
}

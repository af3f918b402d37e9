//! Alert routing: `[[alert_route]]` sends each kind of event, filtered by warehouse or
//! region, to groups or people. Every recipient is checked by the policy like a question
//! before anything is sent (see [`super::alerts`]).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// The kinds of alert askerp produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// An item's available stock at a warehouse fell to or below its reorder level.
    LowStock,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::LowStock => "low_stock",
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
    /// Region codes the rule covers; empty: every region.
    #[serde(default)]
    pub regions: Vec<String>,
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

impl AlertRouteConfig {
    /// Whether the rule covers an event at `warehouse` (a code) in `region`.
    pub fn covers(&self, warehouse: &str, region: Option<&str>) -> bool {
        let w = self.warehouses.is_empty()
            || self
                .warehouses
                .iter()
                .any(|c| c.eq_ignore_ascii_case(warehouse));
        let r = self.regions.is_empty()
            || region.is_some_and(|r| self.regions.iter().any(|c| c.eq_ignore_ascii_case(r)));
        w && r
    }
}

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

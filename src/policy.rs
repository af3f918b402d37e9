//! Policy: what a principal may ask, over which scope, and where the answer may go.
//!
//! Default deny: an intent is allowed only if one of the asker's roles lists it. Sales
//! questions are limited to the stores or regions the role's `sales_scope` grants. A
//! colleague's leave needs a role with `others_leave`. Personal answers asked in a group
//! go to the asker 1:1. The LLM (when there is one) never reaches this module's
//! decisions: policy runs on the resolved intent, every time.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::channel::Conversation;
use crate::identity::{Directory, Principal};
use crate::intent::{Intent, Locale, Sensitivity};

/// The policy built into the binary (`config/policy.toml`).
pub const BUILTIN_POLICY: &str = include_str!("../config/policy.toml");

/// How far a role's sales questions reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SalesScope {
    /// Only the stores listed for the user.
    #[default]
    Store,
    /// Only the regions listed for the user.
    Region,
    /// The whole company.
    All,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Role {
    #[serde(default)]
    label: BTreeMap<String, String>,
    intents: Vec<String>,
    #[serde(default)]
    sales_scope: SalesScope,
    #[serde(default)]
    others_leave: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    roles: HashMap<String, Role>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {origin}: {detail}")]
    Read { origin: String, detail: String },
    #[error("policy {origin} is invalid:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        origin: String,
        problems: Vec<String>,
    },
}

/// The stores or regions a principal's sales questions may cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Regions(Vec<String>),
    Stores(Vec<String>),
}

/// Where an answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Into the conversation the question came from.
    Conversation,
    /// To the asker alone, 1:1; a group only sees a note without data.
    Private,
}

/// The loaded policy.
#[derive(Debug, Clone)]
pub struct Policy {
    roles: HashMap<String, Role>,
}

impl Policy {
    pub fn builtin() -> Result<Policy, PolicyError> {
        Policy::parse(BUILTIN_POLICY, "built-in policy")
    }

    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
            origin: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Policy::parse(&text, &path.display().to_string())
    }

    /// Parses a policy file; every intent name must exist.
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError::Read {
            origin: origin.to_string(),
            detail: e.to_string(),
        })?;
        let mut problems = Vec::new();
        if file.version != 1 {
            problems.push(format!(
                "version {} is not supported (expected 1)",
                file.version
            ));
        }
        let mut names: Vec<_> = file.roles.keys().collect();
        names.sort();
        for name in names {
            let Some(role) = file.roles.get(name) else {
                continue;
            };
            for i in &role.intents {
                if i != "*" && Intent::from_name(i).is_none() {
                    problems.push(format!("role {name}: unknown intent {i:?}"));
                }
            }
        }
        if problems.is_empty() {
            Ok(Policy { roles: file.roles })
        } else {
            Err(PolicyError::Invalid {
                origin: origin.to_string(),
                problems,
            })
        }
    }

    /// Role names used in the directory but missing from the policy.
    pub fn unknown_roles(&self, directory: &Directory) -> Vec<String> {
        let mut missing: Vec<String> = directory
            .principals()
            .flat_map(|p| p.roles.iter())
            .filter(|r| !self.roles.contains_key(*r))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }

    /// Whether the policy defines `role` (directory sync drops roles it does not).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains_key(role)
    }

    fn roles_of<'a>(&'a self, p: &'a Principal) -> impl Iterator<Item = &'a Role> + 'a {
        p.roles.iter().filter_map(|r| self.roles.get(r))
    }

    /// Whether any of the principal's roles grants `intent`.
    pub fn allows(&self, p: &Principal, intent: Intent) -> bool {
        self.roles_of(p)
            .any(|r| r.intents.iter().any(|i| i == "*" || i == intent.name()))
    }

    /// Every intent the principal may use, in help-card order.
    pub fn allowed_intents(&self, p: &Principal) -> Vec<Intent> {
        Intent::ALL
            .into_iter()
            .filter(|i| self.allows(p, *i))
            .collect()
    }

    /// The widest sales scope any of the principal's roles grants for `intent`.
    pub fn sales_scope(&self, p: &Principal, intent: Intent) -> Scope {
        let widest = self
            .roles_of(p)
            .filter(|r| r.intents.iter().any(|i| i == "*" || i == intent.name()))
            .map(|r| r.sales_scope)
            .max()
            .unwrap_or_default();
        match widest {
            SalesScope::All => Scope::All,
            SalesScope::Region => Scope::Regions(p.regions.clone()),
            SalesScope::Store => Scope::Stores(p.stores.clone()),
        }
    }

    /// Whether the principal may see a colleague's leave.
    pub fn may_see_others_leave(&self, p: &Principal) -> bool {
        self.roles_of(p).any(|r| r.others_leave)
    }

    /// The principal's role names for a refusal, in `locale` (falling back to English,
    /// then the role key).
    pub fn role_labels(&self, p: &Principal, locale: Locale) -> Vec<String> {
        p.roles
            .iter()
            .map(|name| {
                self.roles
                    .get(name)
                    .and_then(|r| r.label.get(locale.tag()).or_else(|| r.label.get("en")))
                    .cloned()
                    .unwrap_or_else(|| name.clone())
            })
            .collect()
    }
}

/// Personal answers never go into a group.
pub fn delivery(sensitivity: Sensitivity, conversation: Conversation) -> Delivery {
    match (sensitivity, conversation) {
        (Sensitivity::Personal, Conversation::Group) => Delivery::Private,
        _ => Delivery::Conversation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[&str]) -> Principal {
        Principal {
            dingtalk_user_id: "u".into(),
            employee_id: "E".into(),
            name: "N".into(),
            name_zh: String::new(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            stores: vec!["CWB".into()],
            regions: vec!["KLN".into()],
        }
    }

    #[test]
    fn default_deny_and_role_grants() {
        let p = Policy::builtin().expect("policy");
        let staff = principal(&["store_staff"]);
        assert!(p.allows(&staff, Intent::InventoryStock));
        assert!(p.allows(&staff, Intent::LeaveBalance));
        assert!(!p.allows(&staff, Intent::SalesSummary));
        assert!(!p.may_see_others_leave(&staff));
        let nobody = principal(&["no_such_role"]);
        assert!(Intent::ALL.iter().all(|i| !p.allows(&nobody, *i)));
        let manager = principal(&["sales_manager"]);
        assert_eq!(
            p.sales_scope(&manager, Intent::SalesSummary),
            Scope::Regions(vec!["KLN".into()])
        );
        let hr = principal(&["hr_officer"]);
        assert!(p.may_see_others_leave(&hr));
        assert!(!p.allows(&hr, Intent::InventoryStock));
        let admin = principal(&["admin"]);
        assert!(Intent::ALL.iter().all(|i| p.allows(&admin, *i)));
        assert_eq!(p.sales_scope(&admin, Intent::ReportSales), Scope::All);
        assert_eq!(
            p.role_labels(&hr, Locale::ZhHk),
            vec!["人力資源主任".to_string()]
        );
    }

    #[test]
    fn personal_data_in_groups_goes_private() {
        assert_eq!(
            delivery(Sensitivity::Personal, Conversation::Group),
            Delivery::Private
        );
        assert_eq!(
            delivery(Sensitivity::Personal, Conversation::OneToOne),
            Delivery::Conversation
        );
        assert_eq!(
            delivery(Sensitivity::Internal, Conversation::Group),
            Delivery::Conversation
        );
    }

    #[test]
    fn unknown_intents_are_rejected() {
        let err = Policy::parse(
            "version = 1\n[roles.x]\nintents = [\"sales.everything\"]\n",
            "t",
        )
        .expect_err("invalid");
        assert!(err.to_string().contains("sales.everything"));
    }

    #[test]
    fn demo_directory_roles_exist() {
        let p = Policy::builtin().expect("policy");
        let d = Directory::demo().expect("directory");
        assert!(p.unknown_roles(&d).is_empty());
    }
}

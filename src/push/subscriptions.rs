//! Subscriptions: which question, asked as whom, sent where, and whether that is allowed.
//!
//! [`check`] is the one gate, run by `askerp check`, at start-up, when a subscription is
//! made by chat, and again before every run (the directory or the policy may have changed
//! since). A subscription is refused when:
//! - the subscriber is not in the directory, or their own policy does not grant the
//!   intent (every run would be a refusal);
//! - the question does not resolve to an intent (or not to the one the config names);
//! - it goes to a group and the intent is personal (leave balances never land in a group);
//! - it goes to a group that is not configured, or whose audience role may not use the
//!   intent, or whose audience may not see the subscriber's whole sales scope: the answer
//!   is computed as the subscriber, so everything it can show must be visible to every
//!   member of the group.

use jiff::Zoned;

use super::config::{PushConfig, SubscriptionConfig};
use crate::channel::Conversation;
use crate::intent::{Intent, Locale, Sensitivity};
use crate::pipeline::Bot;
use crate::policy::Scope;

/// A subscription that passed [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub intent: Intent,
    pub locale: Locale,
    pub conversation: Conversation,
    /// The group's id, or `push:<id>` for a 1:1 subscription (its own follow-up context).
    pub conversation_id: String,
    /// The subscriber's employee id.
    pub principal: String,
}

/// Why a subscription is refused, for `askerp check`, the audit and the chat reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("user {0:?} is not in the directory")]
    UnknownUser(String),
    #[error("the question {0:?} is not understood as any question the bot answers")]
    NotUnderstood(String),
    #[error("the question resolves to {found}, not {expected}")]
    WrongIntent { expected: String, found: String },
    #[error("{user:?} may not ask {intent} (policy)")]
    NotAllowed { user: String, intent: Intent },
    #[error("{0} is personal: it is never pushed to a group")]
    PersonalInGroup(Intent),
    #[error("group {0:?} is not a [[push.group]] with an audience_role")]
    UnknownGroup(String),
    #[error("group {group:?}: its audience role {role:?} is not in the policy")]
    UnknownRole { group: String, role: String },
    #[error("group {group:?}: its audience ({role}) may not see {intent}")]
    AudienceNotAllowed {
        group: String,
        role: String,
        intent: Intent,
    },
    #[error(
        "group {group:?}: the subscriber's scope for {intent} reaches beyond what its audience ({role}) may see"
    )]
    AudienceScope {
        group: String,
        role: String,
        intent: Intent,
    },
}

/// Whether `sub` may run, as of `now`.
pub async fn check(
    sub: &SubscriptionConfig,
    bot: &Bot,
    push: &PushConfig,
    now: &Zoned,
) -> Result<Checked, Refusal> {
    let principal = bot
        .directory
        .lookup(&sub.user)
        .ok_or_else(|| Refusal::UnknownUser(sub.user.clone()))?;
    let resolution = bot.resolver.explain(&sub.question, now).resolution;
    let intent = resolution
        .intent
        .ok_or_else(|| Refusal::NotUnderstood(sub.question.clone()))?;
    if let Some(expected) = &sub.intent
        && expected != intent.name()
    {
        return Err(Refusal::WrongIntent {
            expected: expected.clone(),
            found: intent.name().to_string(),
        });
    }
    if !bot.policy.allows(principal, intent) {
        return Err(Refusal::NotAllowed {
            user: sub.user.clone(),
            intent,
        });
    }
    let base = Checked {
        intent,
        locale: resolution.locale,
        conversation: Conversation::OneToOne,
        conversation_id: format!("push:{}", sub.id),
        principal: principal.employee_id.clone(),
    };
    let Some(group_id) = &sub.group else {
        return Ok(base);
    };
    let personal = bot
        .resolver
        .catalog()
        .def(intent)
        .is_none_or(|d| d.sensitivity == Sensitivity::Personal);
    if personal {
        return Err(Refusal::PersonalInGroup(intent));
    }
    let group = push
        .groups
        .iter()
        .find(|g| &g.id == group_id)
        .ok_or_else(|| Refusal::UnknownGroup(group_id.clone()))?;
    if !bot.policy.has_role(&group.audience_role) {
        return Err(Refusal::UnknownRole {
            group: group_id.clone(),
            role: group.audience_role.clone(),
        });
    }
    let audience = super::routing::audience(group);
    if !bot.policy.allows(&audience, intent) {
        return Err(Refusal::AudienceNotAllowed {
            group: group_id.clone(),
            role: group.audience_role.clone(),
            intent,
        });
    }
    if scoped(intent) {
        let theirs = bot.policy.sales_scope(principal, intent);
        let audience_sees = bot.policy.sales_scope(&audience, intent);
        if !covers(bot, &audience_sees, &theirs).await {
            return Err(Refusal::AudienceScope {
                group: group_id.clone(),
                role: group.audience_role.clone(),
                intent,
            });
        }
    }
    Ok(Checked {
        conversation: Conversation::Group,
        conversation_id: group_id.clone(),
        ..base
    })
}

/// Intents whose figures are limited by the sales scope.
fn scoped(intent: Intent) -> bool {
    matches!(
        intent,
        Intent::SalesSummary
            | Intent::SalesTopItems
            | Intent::SalesOrderStatus
            | Intent::ReportSales
    )
}

/// Whether everything `inner` reaches is inside `outer`. Stores are placed in their
/// regions through the connector's places; when those cannot be read, the answer is no.
async fn covers(bot: &Bot, outer: &Scope, inner: &Scope) -> bool {
    match (outer, inner) {
        (Scope::All, _) => true,
        (_, Scope::All) => false,
        (Scope::Regions(o), Scope::Regions(i)) | (Scope::Stores(o), Scope::Stores(i)) => i
            .iter()
            .all(|c| o.iter().any(|x| x.eq_ignore_ascii_case(c))),
        (Scope::Regions(o), Scope::Stores(i)) => {
            let Ok(places) = bot.erp.places().await else {
                return false;
            };
            i.iter().all(|store| {
                places.data.places.iter().any(|p| {
                    p.code.eq_ignore_ascii_case(store)
                        && p.region
                            .as_deref()
                            .is_some_and(|r| o.iter().any(|x| x.eq_ignore_ascii_case(r)))
                })
            })
        }
        (Scope::Stores(_), Scope::Regions(_)) => false,
    }
}

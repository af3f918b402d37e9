//! Canonical alert events and their delivery, whichever way they came in: the low-stock
//! poller ([`super::alerts`]) and the inbound endpoint ([`super::inbound`]) both end
//! here, so an event is routed, checked and audited the same way.
//!
//! An event carries what the connector said (a stock line, an order), never figures from
//! whoever reported it: the inbound endpoint only names the item or the order, and the
//! connector is read before anything is sent. Every recipient is checked by the policy as
//! if they had asked the question the alert answers (the low-stock list; the order's
//! status, within their sales scope), a muted person gets nothing, and every delivery or
//! refusal is one audit record on channel `alert`.

use jiff::{Timestamp, Zoned};

use super::config::GroupConfig;
use super::routing::{self, AlertKind, AlertRouteConfig};
use super::scheduler::Deps;
use super::store::{PushStore, StoreError};
use crate::audit::AuditRecord;
use crate::card::{Card, Content};
use crate::erp::{Order, OrderState, StockLine};
use crate::identity::Principal;
use crate::intent::Locale;

/// One thing that happened in the ERP, as the connector reports it now.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An item's available stock at a warehouse is at or below its reorder level.
    LowStock { line: StockLine, as_of: Timestamp },
    /// An order is in a state it was not in before.
    OrderState { order: Order, as_of: Timestamp },
    /// An order whose total is above the amount a route names.
    OrderAmount { order: Order, as_of: Timestamp },
}

impl Event {
    pub fn kind(&self) -> AlertKind {
        match self {
            Event::LowStock { .. } => AlertKind::LowStock,
            Event::OrderState { .. } => AlertKind::OrderState,
            Event::OrderAmount { .. } => AlertKind::OrderAmount,
        }
    }

    /// The key of the mark that makes one occurrence one message: an item at a warehouse
    /// (until it recovers), an order in a state, an order's amount.
    pub fn key(&self) -> String {
        match self {
            Event::LowStock { line, .. } => {
                format!("low_stock:{}:{}", line.warehouse.code, line.item.sku)
            }
            Event::OrderState { order, .. } => {
                format!(
                    "order_state:{}:{}",
                    order.number.trim(),
                    state_name(order.state)
                )
            }
            Event::OrderAmount { order, .. } => format!("order_amount:{}", order.number.trim()),
        }
    }

    /// What the audit record says happened.
    fn describe(&self) -> String {
        match self {
            Event::LowStock { line, .. } => format!(
                "{} at {}: available {} / reorder level {}",
                line.item.sku, line.warehouse.code, line.available.value, line.reorder_level.value
            ),
            Event::OrderState { order, .. } => format!(
                "order {} is now {} (store {})",
                order.number.trim(),
                state_name(order.state),
                order.store.code
            ),
            Event::OrderAmount { order, .. } => format!(
                "order {}: total {} {} (store {})",
                order.number.trim(),
                order.total.amount,
                order.total.currency,
                order.store.code
            ),
        }
    }

    fn order(&self) -> Option<&Order> {
        match self {
            Event::LowStock { .. } => None,
            Event::OrderState { order, .. } | Event::OrderAmount { order, .. } => Some(order),
        }
    }
}

/// The name of an order state as config and the audit write it.
pub fn state_name(state: OrderState) -> &'static str {
    match state {
        OrderState::Draft => "draft",
        OrderState::Confirmed => "confirmed",
        OrderState::Picking => "picking",
        OrderState::Shipped => "shipped",
        OrderState::Delivered => "delivered",
        OrderState::Cancelled => "cancelled",
    }
}

/// One recipient of an event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Recipient {
    User(String),
    Group(String),
}

/// What delivering events did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Messages delivered.
    pub delivered: usize,
    /// Recipients refused by the policy or a mute, with the reason.
    pub refused: Vec<String>,
    /// Deliveries that failed after the client's retries, with the reason.
    pub failed: Vec<String>,
}

/// Routes events to recipients and delivers them.
#[derive(Debug, Clone, Default)]
pub struct Dispatch {
    routes: Vec<AlertRouteConfig>,
    groups: Vec<GroupConfig>,
}

impl Dispatch {
    pub fn new(routes: Vec<AlertRouteConfig>, groups: Vec<GroupConfig>) -> Dispatch {
        Dispatch { routes, groups }
    }

    /// Whether any route takes events of `kind`.
    pub fn routes(&self, kind: AlertKind) -> bool {
        self.routes.iter().any(|r| r.kind == kind)
    }

    /// The recipients of `event`, from every matching route, once each, with the
    /// language of the first route naming them.
    pub fn recipients(&self, event: &Event) -> Vec<(Recipient, Locale)> {
        let mut out: Vec<(Recipient, Locale)> = Vec::new();
        for r in self.routes.iter().filter(|r| r.matches(event)) {
            let locale = Locale::from_tag(&r.locale).unwrap_or_default();
            let who = r
                .users
                .iter()
                .map(|u| Recipient::User(u.clone()))
                .chain(r.groups.iter().map(|g| Recipient::Group(g.clone())));
            for w in who {
                if !out.iter().any(|(o, _)| *o == w) {
                    out.push((w, locale));
                }
            }
        }
        out
    }

    /// Sends `event` to every recipient its routes name, each checked first, each
    /// audited under `event_id`. A store error (a mute unreadable) stops the delivery.
    pub async fn deliver(
        &self,
        deps: &Deps<'_>,
        store: &dyn PushStore,
        event: &Event,
        event_id: &str,
        now: &Zoned,
    ) -> Result<Delivered, StoreError> {
        let mut out = Delivered::default();
        let intent = routing::intent_of(event.kind());
        for (who, locale) in self.recipients(event) {
            let mut record = AuditRecord {
                time: Some(now.timestamp()),
                channel: "alert".into(),
                msg_id: event_id.to_string(),
                intent: Some(intent.name().into()),
                text: Some(event.describe()),
                connector: Some(deps.bot.erp.name().to_string()),
                ..AuditRecord::default()
            };
            match &who {
                Recipient::User(u) => {
                    record.conversation_type = "1:1".into();
                    record.user = Some(u.clone());
                    record.conversation_id = format!("alert:{u}");
                }
                Recipient::Group(g) => {
                    record.conversation_type = "group".into();
                    record.conversation_id = g.clone();
                }
            }
            if let Err(why) = self.allowed(deps, store, &who, event, now).await? {
                record.decision = "deny".into();
                record.outcome = "not_sent".into();
                record.reason = Some(why.clone());
                append(deps, &record);
                out.refused.push(format!("{who:?}: {why}"));
                continue;
            }
            if let Recipient::User(u) = &who {
                record.principal = deps.bot.directory.lookup(u).map(|p| p.employee_id.clone());
            }
            let card = card(deps, locale, event);
            let result = match &who {
                Recipient::User(u) => deps
                    .client
                    .send_private(std::slice::from_ref(u), &card)
                    .await
                    .and_then(|r| {
                        if r.invalid_staff_id_list.is_empty()
                            && r.flow_controlled_staff_id_list.is_empty()
                        {
                            Ok("private:ok".to_string())
                        } else {
                            Err(crate::dingtalk::SendError::Api {
                                code: "partial".into(),
                                message: format!(
                                    "invalid={:?} flow_controlled={:?}",
                                    r.invalid_staff_id_list, r.flow_controlled_staff_id_list
                                ),
                            })
                        }
                    }),
                Recipient::Group(g) => deps
                    .client
                    .send_group(g, &card)
                    .await
                    .map(|()| "group_api:ok".to_string()),
            };
            record.decision = "allow".into();
            record.delivery = Some("conversation".into());
            match result {
                Ok(label) => {
                    record.sends = vec![label];
                    record.outcome = "delivered".into();
                    out.delivered += 1;
                }
                Err(e) => {
                    let kind = if matches!(who, Recipient::User(_)) {
                        "private"
                    } else {
                        "group_api"
                    };
                    record.sends = vec![format!("{kind}:failed:{e}")];
                    record.outcome = "failed".into();
                    record.reason = Some(format!("not delivered after the client's retries: {e}"));
                    out.failed.push(format!("{who:?}: {e}"));
                    tracing::warn!(error = %e, "Alert could not be delivered; recorded in the audit.");
                }
            }
            append(deps, &record);
        }
        Ok(out)
    }

    /// Whether `who` may receive `event` now: known, allowed by the policy (and, for an
    /// order, within their sales scope), not muted.
    async fn allowed(
        &self,
        deps: &Deps<'_>,
        store: &dyn PushStore,
        who: &Recipient,
        event: &Event,
        now: &Zoned,
    ) -> Result<Result<(), String>, StoreError> {
        let intent = routing::intent_of(event.kind());
        Ok(match who {
            Recipient::User(u) => match deps.bot.directory.lookup(u) {
                None => Err(format!("user {u:?} is not in the directory")),
                Some(p) => match may_see(deps, p, event) {
                    Err(why) => Err(format!("user {u:?} {why}")),
                    Ok(()) => match store.muted_until(u).await? {
                        Some(until) if until > now.timestamp() => {
                            Err(format!("user {u:?} muted alerts until {until}"))
                        }
                        _ => Ok(()),
                    },
                },
            },
            Recipient::Group(g) => match self.groups.iter().find(|x| &x.id == g) {
                None => Err(format!("group {g:?} is not a [[push.group]]")),
                Some(group) if !deps.bot.policy.has_role(&group.audience_role) => Err(format!(
                    "group {g:?}'s audience role {:?} is not in the policy",
                    group.audience_role
                )),
                Some(group) => may_see(deps, &routing::audience(group), event).map_err(|why| {
                    format!(
                        "group {g:?}'s audience ({}) {why} (intent {intent})",
                        group.audience_role
                    )
                }),
            },
        })
    }
}

/// Whether `p` may see `event`: the intent it answers, and for an order its store.
fn may_see(deps: &Deps<'_>, p: &Principal, event: &Event) -> Result<(), String> {
    let intent = routing::intent_of(event.kind());
    if !deps.bot.policy.allows(p, intent) {
        return Err(format!("may not see {intent} (policy)"));
    }
    if let Some(order) = event.order() {
        let scope = deps.bot.policy.sales_scope(p, intent);
        if !crate::pipeline::covers(&scope, &order.store) {
            return Err(format!(
                "may not see orders of store {} (sales scope)",
                order.store.code
            ));
        }
    }
    Ok(())
}

/// The alert card in the recipient's language, with a button asking the natural next
/// question: the item in every warehouse, or the order's status.
fn card(deps: &Deps<'_>, locale: Locale, event: &Event) -> Card {
    let r = &deps.bot.renderer;
    match event {
        Event::LowStock { line, as_of } => {
            let mut card = r.render(
                locale,
                &Content::LowStock {
                    warehouse: Some(line.warehouse.clone()),
                    lines: vec![line.clone()],
                    as_of: *as_of,
                },
            );
            let item = r.item_name(locale, &line.item);
            let warehouse = r.place_name(locale, &line.warehouse);
            card.title = r.text(
                locale,
                "alert.low_stock_title",
                &[("item", &item), ("warehouse", &warehouse)],
            );
            card.buttons.insert(
                0,
                crate::card::Button {
                    title: r.text(locale, "alert.stock_all_button", &[]),
                    url: crate::card::render::follow_up_url(&r.text(
                        locale,
                        "followup.stock",
                        &[("item", &line.item.sku)],
                    )),
                },
            );
            card
        }
        Event::OrderState { order, as_of } | Event::OrderAmount { order, as_of } => {
            let mut card = r.render(
                locale,
                &Content::Order {
                    order: order.clone(),
                    as_of: *as_of,
                },
            );
            let number = order.number.trim();
            card.title = if matches!(event, Event::OrderState { .. }) {
                let state = r.text(
                    locale,
                    &format!("order_state.{}", state_name(order.state)),
                    &[],
                );
                r.text(
                    locale,
                    "alert.order_state_title",
                    &[("number", number), ("state", &state)],
                )
            } else {
                let total = crate::card::format::money(locale, &order.total);
                r.text(
                    locale,
                    "alert.order_amount_title",
                    &[("number", number), ("total", &total)],
                )
            };
            card.buttons.insert(
                0,
                crate::card::Button {
                    title: r.text(locale, "alert.order_status_button", &[]),
                    url: crate::card::render::follow_up_url(&r.text(
                        locale,
                        "followup.order",
                        &[("number", number)],
                    )),
                },
            );
            card
        }
    }
}

/// Marks a poller's first reading as made and says so in the audit: what the first poll
/// sees is the starting point, not news, so nothing is alerted for it (a restart with an
/// empty store would otherwise alert on everything already low or already shipped).
pub(super) async fn record_baseline(
    deps: &Deps<'_>,
    store: &dyn super::store::PushStore,
    key: &str,
    kind: &str,
    intent: crate::intent::Intent,
    reason: String,
    now: &jiff::Zoned,
) -> Result<(), super::store::StoreError> {
    store
        .set_alert(
            key,
            super::store::AlertMark {
                fired: true,
                available: Default::default(),
                level: Default::default(),
                read_at: now.timestamp(),
                state: None,
            },
        )
        .await?;
    let record = AuditRecord {
        time: Some(now.timestamp()),
        channel: "alert".into(),
        msg_id: format!("alert:{kind}:baseline:{}", now.timestamp().as_second()),
        intent: Some(intent.name().into()),
        decision: "skipped".into(),
        reason: Some(reason),
        outcome: "not_sent".into(),
        ..AuditRecord::default()
    };
    append(deps, &record);
    Ok(())
}

pub(super) fn append(deps: &Deps<'_>, record: &AuditRecord) {
    if let Err(e) = deps.audit.append(record) {
        tracing::error!(error = %e, "Audit record could not be written.");
    }
}

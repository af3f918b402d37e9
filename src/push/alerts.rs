//! Alerts by polling: the ERP's low-stock list is read every `push.low_stock_poll_secs`
//! and compared with the last reading kept in the store.
//!
//! One event is one message: an item at a warehouse that is at or below its reorder level
//! ([`crate::erp::StockLine::is_low`], the one definition every connector and card uses)
//! fires once; it re-arms only when it has left the low-stock list (the stock recovered
//! above the level), and fires again only when it falls once more. The reading is kept in
//! the store before anything is sent, so a restart neither fires again nor misses a
//! crossing that happened while the server was down (it is found at the first poll).
//! The very first poll records what is already low as the starting point instead of
//! alerting about it all at once.
//!
//! Each event is routed by `[[alert_route]]` (kind, warehouse, region) to people and
//! groups; every recipient is checked by the policy as if they had asked for the low-stock
//! list (a person's own roles; a group's audience role), and a refused recipient gets
//! nothing and an audit record says why. Every delivery is audited (channel `alert`).

use std::collections::BTreeSet;

use jiff::{Timestamp, Zoned};

use super::config::GroupConfig;
use super::routing::{self, AlertKind, AlertRouteConfig};
use super::scheduler::Deps;
use super::store::{AlertMark, PushStore, StoreError};
use crate::audit::AuditRecord;
use crate::card::{Card, Content};
use crate::erp::StockLine;
use crate::intent::{Intent, Locale};

/// The key of the marker that says the first poll has been made.
const BASELINE: &str = "low_stock:_baseline";

/// One recipient of an event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Recipient {
    User(String),
    Group(String),
}

/// What one poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    /// Items that crossed their level at this poll, as `warehouse:sku`.
    pub fired: Vec<String>,
    /// Items that recovered and were re-armed.
    pub rearmed: Vec<String>,
    /// Messages delivered.
    pub delivered: usize,
    /// Recipients refused by the policy, or deliveries that failed, with the reason.
    pub refused: Vec<String>,
    pub failed: Vec<String>,
    /// True for the first poll, which only records the starting point.
    pub baseline: bool,
}

/// The low-stock poller.
pub struct LowStockAlerts {
    routes: Vec<AlertRouteConfig>,
    groups: Vec<GroupConfig>,
}

fn key(line: &StockLine) -> String {
    format!("low_stock:{}:{}", line.warehouse.code, line.item.sku)
}

impl LowStockAlerts {
    pub fn new(routes: Vec<AlertRouteConfig>, groups: Vec<GroupConfig>) -> LowStockAlerts {
        LowStockAlerts {
            routes: routes
                .into_iter()
                .filter(|r| r.kind == AlertKind::LowStock)
                .collect(),
            groups,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Reads the low-stock list once, at `now`, and sends what crossed.
    pub async fn poll(
        &self,
        deps: &Deps<'_>,
        store: &dyn PushStore,
        now: &Zoned,
    ) -> Result<PollReport, StoreError> {
        let mut report = PollReport::default();
        let fetched = match deps.bot.erp.low_stock(None).await {
            Ok(f) => f,
            Err(e) => {
                // Nothing is concluded from a failed read: no alert, no re-arm.
                tracing::warn!(error = %e, "Low-stock poll failed; trying again next time.");
                report.failed.push(format!("erp: {e}"));
                return Ok(report);
            }
        };
        let low: Vec<&StockLine> = fetched.data.iter().filter(|l| l.is_low()).collect();
        let low_keys: BTreeSet<String> = low.iter().map(|l| key(l)).collect();
        let first = store.alert(BASELINE).await?.is_none();
        // Re-arm what recovered: fired before, not low any more.
        for (k, mark) in store.alerts_with_prefix("low_stock:").await? {
            if k == BASELINE || !mark.fired || low_keys.contains(&k) {
                continue;
            }
            store
                .set_alert(
                    &k,
                    AlertMark {
                        fired: false,
                        read_at: now.timestamp(),
                        ..mark
                    },
                )
                .await?;
            report
                .rearmed
                .push(k.trim_start_matches("low_stock:").to_string());
        }
        for line in low {
            let k = key(line);
            if store.alert(&k).await?.is_some_and(|m| m.fired) {
                continue;
            }
            // Recorded before sending: at most one message per crossing, whatever happens.
            store
                .set_alert(
                    &k,
                    AlertMark {
                        fired: true,
                        available: line.available.value,
                        level: line.reorder_level.value,
                        read_at: now.timestamp(),
                    },
                )
                .await?;
            if first {
                continue;
            }
            report
                .fired
                .push(format!("{}:{}", line.warehouse.code, line.item.sku));
            self.send(deps, store, line, fetched.as_of, now, &mut report)
                .await?;
        }
        if first {
            report.baseline = true;
            store
                .set_alert(
                    BASELINE,
                    AlertMark {
                        fired: true,
                        available: Default::default(),
                        level: Default::default(),
                        read_at: now.timestamp(),
                    },
                )
                .await?;
            let record = AuditRecord {
                time: Some(now.timestamp()),
                channel: "alert".into(),
                msg_id: format!("alert:low_stock:baseline:{}", now.timestamp().as_second()),
                intent: Some(Intent::InventoryLowStock.name().into()),
                decision: "skipped".into(),
                reason: Some(format!(
                    "first poll: {} items already at or below their reorder level recorded as the starting point, not alerted",
                    low_keys.len()
                )),
                outcome: "not_sent".into(),
                ..AuditRecord::default()
            };
            append(deps, &record);
        }
        Ok(report)
    }

    /// The recipients of an event at `line`'s warehouse, from every matching route, once
    /// each, with the language of the first route naming them.
    fn recipients(&self, line: &StockLine) -> Vec<(Recipient, Locale)> {
        let mut out: Vec<(Recipient, Locale)> = Vec::new();
        for r in &self.routes {
            if !r.covers(&line.warehouse.code, line.warehouse.region.as_deref()) {
                continue;
            }
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

    async fn send(
        &self,
        deps: &Deps<'_>,
        store: &dyn PushStore,
        line: &StockLine,
        as_of: Timestamp,
        now: &Zoned,
        report: &mut PollReport,
    ) -> Result<(), StoreError> {
        let event_id = format!(
            "alert:low_stock:{}:{}:{}",
            line.warehouse.code,
            line.item.sku,
            now.timestamp().as_second()
        );
        for (who, locale) in self.recipients(line) {
            let mut record = AuditRecord {
                time: Some(now.timestamp()),
                channel: "alert".into(),
                msg_id: event_id.clone(),
                intent: Some(Intent::InventoryLowStock.name().into()),
                text: Some(format!(
                    "{} at {}: available {} / reorder level {}",
                    line.item.sku,
                    line.warehouse.code,
                    line.available.value,
                    line.reorder_level.value
                )),
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
            if let Err(why) = self.allowed(deps, store, &who, now).await? {
                record.decision = "deny".into();
                record.outcome = "not_sent".into();
                record.reason = Some(why.clone());
                append(deps, &record);
                report.refused.push(format!("{who:?}: {why}"));
                continue;
            }
            if let Recipient::User(u) = &who {
                record.principal = deps.bot.directory.lookup(u).map(|p| p.employee_id.clone());
            }
            let card = self.card(deps, locale, line, as_of);
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
                    report.delivered += 1;
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
                    report.failed.push(format!("{who:?}: {e}"));
                    tracing::warn!(error = %e, "Alert could not be delivered; recorded in the audit.");
                }
            }
            append(deps, &record);
        }
        Ok(())
    }

    /// Whether `who` may receive a low-stock alert now: known, allowed by the policy,
    /// not muted.
    async fn allowed(
        &self,
        deps: &Deps<'_>,
        store: &dyn PushStore,
        who: &Recipient,
        now: &Zoned,
    ) -> Result<Result<(), String>, StoreError> {
        let intent = routing::intent_of(AlertKind::LowStock);
        Ok(match who {
            Recipient::User(u) => match deps.bot.directory.lookup(u) {
                None => Err(format!("user {u:?} is not in the directory")),
                Some(p) if !deps.bot.policy.allows(p, intent) => {
                    Err(format!("user {u:?} may not see {intent} (policy)"))
                }
                Some(_) => match store.muted_until(u).await? {
                    Some(until) if until > now.timestamp() => {
                        Err(format!("user {u:?} muted alerts until {until}"))
                    }
                    _ => Ok(()),
                },
            },
            Recipient::Group(g) => match self.groups.iter().find(|x| &x.id == g) {
                None => Err(format!("group {g:?} is not a [[push.group]]")),
                Some(group) if !routing::audience_allows(deps.bot, group, intent) => Err(format!(
                    "group {g:?}'s audience ({}) may not see {intent} (policy)",
                    group.audience_role
                )),
                Some(_) => Ok(()),
            },
        })
    }

    /// The alert card: the low-stock line in the recipient's language, and buttons that
    /// ask the next questions (this item in every warehouse; everything low here).
    fn card(&self, deps: &Deps<'_>, locale: Locale, line: &StockLine, as_of: Timestamp) -> Card {
        let r = &deps.bot.renderer;
        let mut card = r.render(
            locale,
            &Content::LowStock {
                warehouse: Some(line.warehouse.clone()),
                lines: vec![line.clone()],
                as_of,
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
}

fn append(deps: &Deps<'_>, record: &AuditRecord) {
    if let Err(e) = deps.audit.append(record) {
        tracing::error!(error = %e, "Audit record could not be written.");
    }
}

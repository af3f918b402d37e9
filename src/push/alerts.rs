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
//! Each crossing becomes an [`Event::LowStock`] delivered by [`super::events`]: routed by
//! `[[alert_route]]` (kind, warehouse, region), every recipient checked by the policy as
//! if they had asked for the low-stock list, every delivery audited (channel `alert`).
//! The inbound endpoint ([`super::inbound`]) shares the same marks, so a crossing
//! reported by the ERP and then seen by a poll is still one message.

use std::collections::BTreeSet;

use jiff::Zoned;

use super::config::GroupConfig;
use super::events::{Dispatch, Event};
use super::routing::{AlertKind, AlertRouteConfig};
use super::scheduler::Deps;
use super::store::{AlertMark, PushStore, StoreError};
use crate::erp::StockLine;
use crate::intent::Intent;

/// The key of the marker that says the first poll has been made.
const BASELINE: &str = "low_stock:_baseline";

pub use super::events::Recipient;

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
    dispatch: Dispatch,
}

fn key(line: &StockLine) -> String {
    format!("low_stock:{}:{}", line.warehouse.code, line.item.sku)
}

impl LowStockAlerts {
    pub fn new(routes: Vec<AlertRouteConfig>, groups: Vec<GroupConfig>) -> LowStockAlerts {
        LowStockAlerts {
            dispatch: Dispatch::new(routes, groups),
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.dispatch.routes(AlertKind::LowStock)
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
                        state: None,
                    },
                )
                .await?;
            if first {
                continue;
            }
            report
                .fired
                .push(format!("{}:{}", line.warehouse.code, line.item.sku));
            let event_id = format!(
                "alert:low_stock:{}:{}:{}",
                line.warehouse.code,
                line.item.sku,
                now.timestamp().as_second()
            );
            let event = Event::LowStock {
                line: line.clone(),
                as_of: fetched.as_of,
            };
            let d = self
                .dispatch
                .deliver(deps, store, &event, &event_id, now)
                .await?;
            report.delivered += d.delivered;
            report.refused.extend(d.refused);
            report.failed.extend(d.failed);
        }
        if first {
            report.baseline = true;
            super::events::record_baseline(
                deps,
                store,
                BASELINE,
                "low_stock",
                Intent::InventoryLowStock,
                format!(
                    "first poll: {} items already at or below their reorder level recorded as the starting point, not alerted",
                    low_keys.len()
                ),
                now,
            )
            .await?;
        }
        Ok(report)
    }
}

//! Order events by polling, for ERPs that cannot call out: the connector's recent orders
//! (booked within `push.order_lookback_days`) are read every `push.order_poll_secs` and
//! compared with the state each order had at the last reading, kept in the store.
//!
//! An order in a state it was not in before is an [`Event::OrderState`]; an order seen
//! for the first time is also an [`Event::OrderAmount`] (routes with `min_amount` decide
//! whether it is large). Each occurrence is one message: the marks are the same ones the
//! inbound endpoint sets ([`Event::key`]), so an order reported and then polled is still
//! one message. Readings and marks are written before anything is sent, so a restart
//! neither sends again nor misses a change made while askerp was down (the next poll
//! finds it). The first poll only records the starting point.

use jiff::Zoned;

use super::config::GroupConfig;
use super::events::{Dispatch, Event, state_name};
use super::routing::{AlertKind, AlertRouteConfig};
use super::scheduler::Deps;
use super::store::{AlertMark, PushStore, StoreError};
use crate::erp::Order;
use crate::intent::Intent;

/// The key of the marker that says the first order poll has been made.
const BASELINE: &str = "order:_baseline";

/// How many recent orders one poll reads at most.
pub const MAX_ORDERS: u32 = 500;

/// What one order poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OrderPollReport {
    /// Marks of the events sent at this poll (`order_state:N:shipped`, `order_amount:N`).
    pub fired: Vec<String>,
    pub delivered: usize,
    pub refused: Vec<String>,
    pub failed: Vec<String>,
    /// True for the first poll, which only records the starting point.
    pub baseline: bool,
}

/// The order poller.
pub struct OrderAlerts {
    dispatch: Dispatch,
    lookback_days: i64,
}

fn seen_key(order: &Order) -> String {
    format!("order:{}", order.number.trim())
}

impl OrderAlerts {
    pub fn new(
        routes: Vec<AlertRouteConfig>,
        groups: Vec<GroupConfig>,
        lookback_days: u32,
    ) -> OrderAlerts {
        OrderAlerts {
            dispatch: Dispatch::new(routes, groups),
            lookback_days: i64::from(lookback_days.max(1)),
        }
    }

    /// Whether any route takes order events.
    pub fn is_empty(&self) -> bool {
        !self.dispatch.routes(AlertKind::OrderState)
            && !self.dispatch.routes(AlertKind::OrderAmount)
    }

    /// Reads the recent orders once, at `now`, and sends what changed.
    pub async fn poll(
        &self,
        deps: &Deps<'_>,
        store: &dyn PushStore,
        now: &Zoned,
    ) -> Result<OrderPollReport, StoreError> {
        let mut report = OrderPollReport::default();
        let since = now
            .date()
            .checked_sub(jiff::Span::new().days(self.lookback_days))
            .unwrap_or(now.date());
        let fetched = match deps.bot.erp.recent_orders(since, MAX_ORDERS).await {
            Ok(f) => f,
            Err(e) => {
                // Nothing is concluded from a failed read.
                tracing::warn!(error = %e, "Order poll failed; trying again next time.");
                report.failed.push(format!("erp: {e}"));
                return Ok(report);
            }
        };
        let first = store.alert(BASELINE).await?.is_none();
        for order in fetched.data {
            let key = seen_key(&order);
            let state = state_name(order.state);
            let before = store.alert(&key).await?;
            if before.as_ref().and_then(|m| m.state.as_deref()) == Some(state) {
                continue;
            }
            store
                .set_alert(
                    &key,
                    AlertMark {
                        fired: true,
                        available: order.total.amount,
                        level: Default::default(),
                        read_at: now.timestamp(),
                        state: Some(state.to_string()),
                    },
                )
                .await?;
            if first {
                continue;
            }
            let mut events = vec![Event::OrderState {
                order: order.clone(),
                as_of: fetched.as_of,
            }];
            if before.is_none() {
                events.push(Event::OrderAmount {
                    order,
                    as_of: fetched.as_of,
                });
            }
            for event in events {
                if self.dispatch.recipients(&event).is_empty() {
                    continue;
                }
                let mark = event.key();
                if store.alert(&mark).await?.is_some_and(|m| m.fired) {
                    continue;
                }
                store
                    .set_alert(
                        &mark,
                        AlertMark {
                            fired: true,
                            available: event_total(&event),
                            level: Default::default(),
                            read_at: now.timestamp(),
                            state: Some(state.to_string()),
                        },
                    )
                    .await?;
                let event_id = format!("alert:{mark}:{}", now.timestamp().as_second());
                let d = self
                    .dispatch
                    .deliver(deps, store, &event, &event_id, now)
                    .await?;
                report.fired.push(mark);
                report.delivered += d.delivered;
                report.refused.extend(d.refused);
                report.failed.extend(d.failed);
            }
        }
        if first {
            report.baseline = true;
            super::events::record_baseline(
                deps,
                store,
                BASELINE,
                "orders",
                Intent::SalesOrderStatus,
                format!(
                    "first order poll: the states of the orders booked since {since} recorded as the starting point, not alerted"
                ),
                now,
            )
            .await?;
        }
        Ok(report)
    }
}

fn event_total(event: &Event) -> rust_decimal::Decimal {
    match event {
        Event::OrderState { order, .. } | Event::OrderAmount { order, .. } => order.total.amount,
        Event::LowStock { line, .. } => line.available.value,
    }
}

//! The inbound endpoint: `POST /events/<source>`, for ERPs and middleware that can call
//! out instead of being polled.
//!
//! **Who may post.** Each source is a `[push.source.<name>]` with its own shared secret.
//! A request carries `X-Askerp-Timestamp` (Unix seconds) and `X-Askerp-Signature`
//! (`sha256=` and the hex HMAC-SHA256, keyed with the secret, of the timestamp, a `.`,
//! and the raw body). The timestamp must lie within `push.event_window_secs` of now, so
//! a captured request stops working after the window; within it, the event's `id` is
//! claimed once ([`crate::state::claims`], shared across replicas when `state.backend =
//! "redis"`), so a replay is answered `duplicate` and sends nothing. Refused requests are
//! counted and sampled into the audit like unsigned DingTalk callbacks
//! ([`crate::server::AppState::audit_refused_on`]): anyone can reach the port, so a
//! flood of bad requests must not become a flood of audit lines.
//!
//! **What a source says.** Only which thing changed: `{"id", "kind": "low_stock",
//! "warehouse", "sku"}`, `{"id", "kind": "order_state", "order"}` or `{"id", "kind":
//! "order_amount", "order"}`. Every figure on the alert is then read from the connector
//! (past the cache: the report says a cached reading is stale),
//! so a card never shows a number the ERP did not give, and an event the ERP does not
//! bear out (the stock is not low, the order does not exist) sends nothing and says so
//! in the audit. The event then goes the way a polled one goes ([`super::events`]),
//! sharing its one-message-per-occurrence marks.
//!
//! The request is answered after the event is handled: 200 when it was handled (sent,
//! or not sent for a reason the audit gives), 503 when the connector did not answer, so
//! the source sends it again (its claim is given back for that).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use jiff::Zoned;
use serde::Deserialize;
use sha2::Sha256;

use super::events::{Delivered, Dispatch, Event, append};
use super::scheduler::Deps;
use super::store::{AlertMark, PushStore, StoreError};
use crate::audit::AuditRecord;
use crate::erp::OrderState;
use crate::server::AppState;

/// The header with the request's Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "x-askerp-timestamp";
/// The header with `sha256=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "x-askerp-signature";

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing timestamp or signature header")]
    Missing,
    #[error("timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("timestamp outside the window")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// The signature header value a source sends for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// Checks a request's timestamp (within `window_secs` of `now_secs`, either way) and
/// signature (compared in constant time).
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
    window_secs: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let t: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if now_secs.abs_diff(t) > window_secs.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let given = signature.trim();
    let given = given.strip_prefix("sha256=").unwrap_or(given);
    let given = hex::decode(given).map_err(|_| SignatureError::Mismatch)?;
    mac(secret, t, body)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// A source's report: which thing changed, under the source's own event id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Report {
    /// The source's id of the event, unique per source; a second report with the same id
    /// within the window is a replay.
    pub id: String,
    #[serde(flatten)]
    pub what: Reported,
}

/// What a source reports, by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reported {
    /// An item's stock at a warehouse changed (a warehouse code and a SKU).
    LowStock { warehouse: String, sku: String },
    /// An order's state changed; `state` is what the source believes it is now (the
    /// connector's word is what the alert shows).
    OrderState {
        order: String,
        #[serde(default)]
        state: Option<OrderState>,
    },
    /// An order was booked or changed; alerted when its total reaches a route's amount.
    OrderAmount { order: String },
}

/// The longest event id, item, warehouse or order number taken.
const MAX_FIELD: usize = 200;

impl Report {
    /// Parses and checks a request body.
    pub fn parse(body: &[u8]) -> Result<Report, String> {
        let report: Report = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let fields: Vec<(&str, &str)> = match &report.what {
            Reported::LowStock { warehouse, sku } => vec![("warehouse", warehouse), ("sku", sku)],
            Reported::OrderState { order, .. } | Reported::OrderAmount { order } => {
                vec![("order", order)]
            }
        };
        for (name, value) in std::iter::once(("id", report.id.as_str())).chain(fields) {
            if value.trim().is_empty() {
                return Err(format!("{name} is empty"));
            }
            if value.len() > MAX_FIELD || value.chars().any(char::is_control) {
                return Err(format!(
                    "{name} is longer than {MAX_FIELD} bytes or has control characters"
                ));
            }
        }
        Ok(report)
    }
}

/// What handling one report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Routed and delivered (or refused per recipient, each audited).
    Sent(Delivered),
    /// Nothing sent, for the reason given (also in the audit).
    NotSent(String),
    /// The connector did not answer; nothing was concluded.
    ErpFailed(String),
}

/// Handles one verified report from `source` at `now`: reads what it names from the
/// connector, and delivers it unless that occurrence was alerted already.
pub async fn handle(
    deps: &Deps<'_>,
    store: &dyn PushStore,
    dispatch: &Dispatch,
    source: &str,
    report: &Report,
    now: &Zoned,
) -> Result<Handled, StoreError> {
    let event_id = format!("event:{source}:{}", report.id);
    let not_sent = |reason: String| {
        let record = AuditRecord {
            time: Some(now.timestamp()),
            channel: "alert".into(),
            msg_id: event_id.clone(),
            text: Some(format!("{:?}", report.what)),
            connector: Some(deps.bot.erp.name().to_string()),
            decision: "skipped".into(),
            outcome: "not_sent".into(),
            reason: Some(reason.clone()),
            ..AuditRecord::default()
        };
        append(deps, &record);
        Handled::NotSent(reason)
    };
    let event = match &report.what {
        Reported::LowStock { warehouse, sku } => {
            let fetched = match deps.bot.erp.stock_fresh(sku, warehouse).await {
                Ok(f) => f,
                Err(e) => return Ok(erp_failed(deps, &event_id, now, e.to_string())),
            };
            let Some(line) = fetched.data.into_iter().find(|l| {
                l.item.sku.eq_ignore_ascii_case(sku)
                    && l.warehouse.code.eq_ignore_ascii_case(warehouse)
            }) else {
                return Ok(not_sent(format!(
                    "the ERP has no stock line for {sku} at {warehouse}"
                )));
            };
            if !line.is_low() {
                // The connector is the truth: not low now re-arms, like a poll would.
                let key = format!("low_stock:{}:{}", line.warehouse.code, line.item.sku);
                if let Some(mark) = store.alert(&key).await?
                    && mark.fired
                {
                    store
                        .set_alert(
                            &key,
                            AlertMark {
                                fired: false,
                                read_at: now.timestamp(),
                                ..mark
                            },
                        )
                        .await?;
                }
                return Ok(not_sent(format!(
                    "the ERP shows {} available at {}, above its reorder level {}",
                    line.available.value, line.warehouse.code, line.reorder_level.value
                )));
            }
            Event::LowStock {
                line,
                as_of: fetched.as_of,
            }
        }
        Reported::OrderState { order, .. } | Reported::OrderAmount { order } => {
            let fetched = match deps.bot.erp.order_fresh(order.trim()).await {
                Ok(f) => f,
                Err(e) => return Ok(erp_failed(deps, &event_id, now, e.to_string())),
            };
            let Some(found) = fetched.data else {
                return Ok(not_sent(format!("the ERP has no order {order}")));
            };
            match &report.what {
                Reported::OrderState { .. } => Event::OrderState {
                    order: found,
                    as_of: fetched.as_of,
                },
                _ => Event::OrderAmount {
                    order: found,
                    as_of: fetched.as_of,
                },
            }
        }
    };
    if dispatch.recipients(&event).is_empty() {
        return Ok(not_sent(format!(
            "no [[alert_route]] of kind {} takes it",
            event.kind().as_str()
        )));
    }
    let key = event.key();
    if store.alert(&key).await?.is_some_and(|m| m.fired) {
        return Ok(not_sent(format!(
            "already alerted ({key}): one message per occurrence"
        )));
    }
    let (available, level) = match &event {
        Event::LowStock { line, .. } => (line.available.value, line.reorder_level.value),
        Event::OrderState { order, .. } | Event::OrderAmount { order, .. } => {
            (order.total.amount, Default::default())
        }
    };
    // Recorded before sending: at most one message per occurrence, whatever happens.
    store
        .set_alert(
            &key,
            AlertMark {
                fired: true,
                available,
                level,
                read_at: now.timestamp(),
                state: None,
            },
        )
        .await?;
    Ok(Handled::Sent(
        dispatch
            .deliver(deps, store, &event, &event_id, now)
            .await?,
    ))
}

fn erp_failed(deps: &Deps<'_>, event_id: &str, now: &Zoned, error: String) -> Handled {
    tracing::warn!(error = %error, event_id, "Reported event not handled: the ERP did not answer.");
    let record = AuditRecord {
        time: Some(now.timestamp()),
        channel: "alert".into(),
        msg_id: event_id.to_string(),
        connector: Some(deps.bot.erp.name().to_string()),
        decision: "error".into(),
        outcome: "not_sent".into(),
        reason: Some(format!(
            "the ERP did not answer ({error}); the source is asked to send it again"
        )),
        ..AuditRecord::default()
    };
    append(deps, &record);
    Handled::ErpFailed(error)
}

fn refuse(state: &AppState, status: StatusCode, metric: &str, reason: &str) -> Response {
    state.metrics.count(metric);
    tracing::warn!(reason, "Event report refused.");
    state.audit_refused_on("event", None, reason);
    (status, axum::Json(serde_json::json!({ "error": reason }))).into_response()
}

/// `POST /events/{source}`.
pub async fn endpoint(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(configured) = state.config.push.sources.get(&source) else {
        return refuse(
            &state,
            StatusCode::NOT_FOUND,
            "events_rejected_unknown_source",
            "unknown source",
        );
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let window = i64::try_from(state.config.push.event_window_secs).unwrap_or(300);
    if let Err(e) = verify(
        configured.secret.expose(),
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        jiff::Timestamp::now().as_second(),
        window,
    ) {
        let metric = match e {
            SignatureError::Missing => "events_rejected_missing_signature",
            SignatureError::Stale | SignatureError::BadTimestamp => "events_rejected_expired",
            SignatureError::Mismatch => "events_rejected_bad_signature",
        };
        return refuse(
            &state,
            StatusCode::UNAUTHORIZED,
            metric,
            &format!("signature: {e} (source {source})"),
        );
    }
    let report = match Report::parse(&body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                &state,
                StatusCode::BAD_REQUEST,
                "events_rejected_malformed",
                &format!("malformed event: {e} (source {source})"),
            );
        }
    };
    let Some(push) = state.push.clone() else {
        state.metrics.count("events_rejected_push_off");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "error": "pushes are off on this replica (push.enabled = false)" })),
        )
            .into_response();
    };
    let claim_key = format!("event:{source}:{}", report.id);
    use crate::state::claims::Claim;
    match state.events.claim(&claim_key).await {
        Claim::Answer { .. } => {}
        Claim::Duplicate | Claim::InFlightElsewhere => {
            state.metrics.count("events_duplicates");
            tracing::info!(source, id = %report.id, "Event already reported; not handled again.");
            return (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "status": "duplicate" })),
            )
                .into_response();
        }
    }
    let span = tracing::info_span!("event", source = %source, id = %report.id);
    let bot = state.bot();
    let now = Zoned::now().with_time_zone(bot.tz.clone());
    let deps = Deps {
        bot: &bot,
        client: &state.dingtalk,
        audit: &state.audit,
    };
    let dispatch = Dispatch::new(
        state.config.alert_routes.clone(),
        state.config.push.groups.clone(),
    );
    let handled = {
        use tracing::Instrument;
        handle(
            &deps,
            push.store.as_ref(),
            &dispatch,
            &source,
            &report,
            &now,
        )
        .instrument(span)
        .await
    };
    match handled {
        Ok(Handled::Sent(d)) => {
            state.events.done(&claim_key).await;
            state.metrics.count("events_accepted");
            state.metrics.add("alerts_delivered", d.delivered as u64);
            state.metrics.add(
                "alerts_not_delivered",
                (d.failed.len() + d.refused.len()) as u64,
            );
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({
                    "status": "handled",
                    "delivered": d.delivered,
                    "not_delivered": d.failed.len() + d.refused.len(),
                })),
            )
                .into_response()
        }
        Ok(Handled::NotSent(reason)) => {
            state.events.done(&claim_key).await;
            state.metrics.count("events_accepted");
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "status": "not_sent", "reason": reason })),
            )
                .into_response()
        }
        Ok(Handled::ErpFailed(_)) => {
            state.events.forget(&claim_key).await;
            state.metrics.count("events_erp_failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    serde_json::json!({ "error": "the ERP did not answer; send the event again" }),
                ),
            )
                .into_response()
        }
        Err(e) => {
            state.events.forget(&claim_key).await;
            tracing::error!(error = %e, "Push state could not be written; event not handled.");
            state.metrics.count("events_state_failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "error": "the alert state could not be written; send the event again" })),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_checked_over_timestamp_and_body() {
        let body = br#"{"id":"e1","kind":"low_stock","warehouse":"KC","sku":"X"}"#;
        let sig = sign("s3cret", 1_000, body);
        assert_eq!(
            verify("s3cret", Some("1000"), Some(&sig), body, 1_010, 300),
            Ok(())
        );
        assert_eq!(
            verify("other", Some("1000"), Some(&sig), body, 1_010, 300),
            Err(SignatureError::Mismatch)
        );
        // The same signature under another timestamp or over another body fails.
        assert_eq!(
            verify("s3cret", Some("1001"), Some(&sig), body, 1_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("s3cret", Some("1000"), Some(&sig), b"{}", 1_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("s3cret", Some("1000"), Some(&sig), body, 1_301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("s3cret", Some("1000"), None, body, 1_000, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify("s3cret", Some("soon"), Some(&sig), body, 1_000, 300),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify("s3cret", Some("1000"), Some("sha256=zz"), body, 1_000, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn reports_are_parsed_and_checked() {
        let r = Report::parse(
            br#"{"id":"e1","kind":"order_state","order":"SO-1","state":"shipped","extra":1}"#,
        )
        .expect("parses");
        assert_eq!(
            r.what,
            Reported::OrderState {
                order: "SO-1".into(),
                state: Some(OrderState::Shipped)
            }
        );
        assert!(Report::parse(br#"{"id":"","kind":"order_amount","order":"SO-1"}"#).is_err());
        assert!(Report::parse(br#"{"id":"e","kind":"price_change","sku":"X"}"#).is_err());
        assert!(Report::parse(br#"{"id":"e","kind":"low_stock","sku":"X"}"#).is_err());
        assert!(Report::parse(b"not json").is_err());
    }
}

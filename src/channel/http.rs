//! DingTalk's HTTP callback mode: `POST /dingtalk/callback`.
//!
//! The request is verified (signature, timestamp window, robot code), parsed, deduped on
//! `msgId`, and acknowledged with 200 at once; the work runs in a task so DingTalk never
//! waits on the ERP. A refused request gets 401/403/400 and is never processed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use crate::dingtalk::RobotMessage;
use crate::dingtalk::sign::{SignError, verify};
use crate::server::AppState;

/// The callback handler.
pub async fn callback(
    State(state): State<AppState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let peer = peer.map(|axum::Extension(axum::extract::ConnectInfo(a))| a.ip());
    if !state.sources.allows(peer, &headers) {
        state.metrics.count("callback_rejected_source");
        tracing::warn!(peer = ?peer, "Callback from outside dingtalk.callback_allow_cidrs refused.");
        state.audit_refused(None, "source address not allowed");
        return (StatusCode::FORBIDDEN, "source not allowed").into_response();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let window_ms = i64::try_from(state.config.dingtalk.timestamp_window_secs)
        .unwrap_or(3600)
        .saturating_mul(1000);
    if let Err(e) = verify(
        state.config.dingtalk.app_secret.expose(),
        header("timestamp"),
        header("sign"),
        Timestamp::now().as_millisecond(),
        window_ms,
    ) {
        state.metrics.count(match e {
            SignError::Missing => "callback_rejected_missing_signature",
            SignError::Expired => "callback_rejected_expired",
            _ => "callback_rejected_bad_signature",
        });
        tracing::warn!(reason = %e, "Callback refused.");
        state.audit_refused(None, &format!("signature: {e}"));
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    }
    let message: RobotMessage = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            state.metrics.count("callback_rejected_malformed");
            tracing::warn!(error = %e, "Callback body is not a robot message.");
            state.audit_refused(None, &format!("malformed body: {e}"));
            return (StatusCode::BAD_REQUEST, "malformed robot message").into_response();
        }
    };
    if !message.is_for_robot(&state.config.dingtalk.robot_code) {
        state.metrics.count("callback_rejected_robot_code");
        tracing::warn!(msg_id = %message.msg_id, "Callback for another robot refused.");
        state.audit_refused(Some(&message.msg_id), "robotCode does not match");
        return (StatusCode::FORBIDDEN, "unknown robot").into_response();
    }
    let inbound = message.into_inbound();
    let msg_id = inbound.msg_id.clone();
    if state.accept(inbound, "callback").await {
        state.metrics.count("callback_accepted");
    } else {
        state.metrics.count("callback_duplicates");
        tracing::info!(msg_id = %msg_id, "Redelivery ignored.");
    }
    (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response()
}

#[derive(serde::Deserialize)]
pub struct CardQuery {
    #[serde(default)]
    token: String,
}

/// `POST /dingtalk/card`: card button presses with `callbackType` HTTP.
///
/// How DingTalk signs these requests is not documented, so the registered callback URL
/// carries a secret (`?token=`, `dingtalk.card_callback_token`) that every request must
/// present. The press is answered for the presser like any question; the card is updated
/// through the OpenAPI (`PUT /v1.0/card/instances`), so no data is ever returned in this
/// HTTP response.
pub async fn card_callback(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<CardQuery>,
    body: Bytes,
) -> Response {
    let expected = state.config.dingtalk.card_callback_token.expose();
    if expected.is_empty() || !constant_time_eq(q.token.as_bytes(), expected.as_bytes()) {
        state.metrics.count("card_callbacks_rejected");
        tracing::warn!("Card callback without the right token refused.");
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    let Some(press) = serde_json::from_slice::<crate::dingtalk::cards::CardCallback>(&body)
        .ok()
        .and_then(|c| c.press())
    else {
        state.metrics.count("card_callbacks_ignored");
        return (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response();
    };
    let worker = state.clone();
    state.tasks.spawn(async move {
        let out_track_id = press.out_track_id.clone();
        if let Some(params) = worker.handle_card_press(press, "http_card").await
            && let Err(e) = worker.dingtalk.update_card(&out_track_id, &params).await
        {
            tracing::warn!(error = %e, "Card could not be updated.");
        }
    });
    (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response()
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

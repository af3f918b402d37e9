//! DingTalk Stream mode as an ingress: frames from [`crate::dingtalk::stream`] become the
//! same [`Inbound`](super::Inbound) as HTTP callbacks and take the same path
//! ([`AppState::handle`]), with the same robot-code check and `msgId` dedupe.
//!
//! A bot message is acknowledged as soon as it is parsed and deduped; the answer is
//! produced in a task. A card press is answered within the ACK when the pipeline is quick
//! enough (the card updates in place); otherwise the ACK leaves the card unchanged and the
//! update follows through `PUT /v1.0/card/instances`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::dingtalk::RobotMessage;
use crate::dingtalk::cards::{CardCallback, unchanged_response, update_response};
use crate::dingtalk::stream::{AckReply, StreamClient, StreamHandler, StreamSettings};
use crate::server::AppState;

/// DingTalk expects a card callback's ACK within about three seconds.
const CARD_ACK_BUDGET: Duration = Duration::from_millis(2500);

/// Connects to the Stream gateway and serves until `shutdown` fires.
pub async fn run(state: AppState, shutdown: CancellationToken) {
    let client = Arc::new(StreamClient::new(
        state.dingtalk.http().clone(),
        StreamSettings::from_config(&state.config.dingtalk),
        Arc::clone(&state.metrics),
    ));
    client.run(Arc::new(Handler { state }), shutdown).await;
}

struct Handler {
    state: AppState,
}

#[async_trait]
impl StreamHandler for Handler {
    async fn bot_message(&self, data: &str) -> AckReply {
        let state = &self.state;
        let message: RobotMessage = match serde_json::from_str(data) {
            Ok(m) => m,
            Err(e) => {
                state.metrics.count("stream_rejected_malformed");
                tracing::warn!(error = %e, "Stream frame is not a robot message.");
                state.audit_refused_on("stream", None, &format!("malformed message: {e}"));
                return AckReply::error(400, "malformed robot message");
            }
        };
        if !message.is_for_robot(&state.config.dingtalk.robot_code) {
            state.metrics.count("stream_rejected_robot_code");
            state.audit_refused_on("stream", Some(&message.msg_id), "robotCode does not match");
            return AckReply::error(403, "unknown robot");
        }
        let inbound = message.into_inbound();
        let msg_id = inbound.msg_id.clone();
        if state.accept(inbound, "stream").await {
            state.metrics.count("stream_accepted");
        } else {
            state.metrics.count("stream_duplicates");
            tracing::info!(msg_id = %msg_id, "Redelivery ignored.");
        }
        AckReply::ok(serde_json::Value::Null)
    }

    async fn card_callback(&self, data: &str) -> AckReply {
        let Some(press) = serde_json::from_str::<CardCallback>(data)
            .ok()
            .and_then(|c| c.press())
        else {
            self.state.metrics.count("card_callbacks_ignored");
            return AckReply::ok(unchanged_response());
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let worker = self.state.clone();
        self.state.tasks.spawn(async move {
            let out_track_id = press.out_track_id.clone();
            let update = worker.handle_card_press(press, "stream_card").await;
            // The ACK went out without the update: apply it through the OpenAPI.
            if let Err(Some(params)) = tx.send(update)
                && let Err(e) = worker.dingtalk.update_card(&out_track_id, &params).await
            {
                tracing::warn!(error = %e, "Card could not be updated.");
            }
        });
        match tokio::time::timeout(CARD_ACK_BUDGET, rx).await {
            Ok(Ok(Some(params))) => AckReply::ok(update_response(params)),
            _ => AckReply::ok(unchanged_response()),
        }
    }
}

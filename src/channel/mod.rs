//! Ingress: how messages reach askerp, and the one normalized shape they take.
//!
//! Whatever the transport, a message becomes an [`Inbound`]; the pipeline never sees
//! transport details. [`http`] is DingTalk's HTTP callback mode (and the HTTP card-callback
//! route), [`stream`] its Stream mode.

pub mod http;
pub mod sources;
pub mod stream;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// 1:1 chat with the bot, or a group where the bot was @-mentioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conversation {
    #[serde(rename = "1:1")]
    OneToOne,
    Group,
}

/// Where a reply to this message may go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRoute {
    /// DingTalk's per-message reply URL, as received (checked before any use).
    pub session_webhook: Option<String>,
    /// When the session webhook stops working.
    pub webhook_expires_at: Option<Timestamp>,
}

/// A message from a user, verified and normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    pub msg_id: String,
    pub msgtype: String,
    /// The question. `None` when the message type carries no text we can read.
    pub text: Option<String>,
    pub conversation: Conversation,
    pub conversation_id: String,
    pub conversation_title: Option<String>,
    /// The sender's user id in the organisation (`senderStaffId`): the directory key.
    pub sender_staff_id: Option<String>,
    pub sender_nick: String,
    pub sender_corp_id: Option<String>,
    pub robot_code: Option<String>,
    /// Colleagues @-mentioned in the message (their staff ids; the bot itself excluded).
    pub mentioned_staff_ids: Vec<String>,
    pub reply: ReplyRoute,
    /// When DingTalk says the message was sent.
    pub created_at: Option<Timestamp>,
}

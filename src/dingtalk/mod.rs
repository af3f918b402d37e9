//! DingTalk's wire formats and the code that speaks them.
//!
//! - this module: the robot message payload (HTTP body / Stream `data`) and its conversion
//!   to [`Inbound`], and the card → message conversions for webhooks and the OpenAPI;
//! - [`sign`]: the callback signature;
//! - [`client`]: outbound calls (session webhook, access token, robot send APIs);
//! - [`stream`]: Stream mode, the outbound WebSocket to DingTalk's gateway;
//! - [`cards`]: interactive card templates and button presses;
//! - [`sim`]: a DingTalk simulator speaking the same protocol, for `askerp demo` and tests
//!   (with [`sim_gateway`], its Stream gateway).
//!
//! Shapes follow the project's protocol notes; fields DingTalk may add are ignored, and
//! numbers it sometimes sends as strings (`createAt`) are accepted either way.

pub mod cards;
pub mod client;
pub mod sign;
pub mod sim;
pub mod sim_contacts;
pub mod sim_gateway;
pub mod stream;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use crate::card::Card;
use crate::channel::{Conversation, Inbound, ReplyRoute};

pub use client::{DingTalkClient, SendError};

/// The robot message payload, as DingTalk sends it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RobotMessage {
    pub msg_id: String,
    #[serde(default)]
    pub msgtype: String,
    #[serde(default)]
    pub text: Option<TextContent>,
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub create_at: Option<i64>,
    #[serde(default)]
    pub conversation_type: String,
    #[serde(default)]
    pub conversation_id: String,
    #[serde(default)]
    pub conversation_title: Option<String>,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub sender_staff_id: Option<String>,
    #[serde(default)]
    pub sender_nick: Option<String>,
    #[serde(default)]
    pub sender_corp_id: Option<String>,
    #[serde(default)]
    pub chatbot_user_id: Option<String>,
    #[serde(default)]
    pub robot_code: Option<String>,
    #[serde(default)]
    pub at_users: Vec<AtUser>,
    #[serde(default)]
    pub session_webhook: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub session_webhook_expired_time: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TextContent {
    #[serde(default)]
    pub content: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AtUser {
    #[serde(default)]
    pub dingtalk_id: Option<String>,
    #[serde(default)]
    pub staff_id: Option<String>,
}

/// Accepts a number, a numeric string, or nothing.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

impl RobotMessage {
    /// The question text: `text.content` (for a quoted reply, the new text only, never
    /// the quoted one), the text parts of a `richText`, or DingTalk's speech recognition of
    /// an `audio` message, whitespace-normalized. `None` for types that carry no readable
    /// text (picture, video, file): those get a polite "not supported" card.
    pub fn question_text(&self) -> Option<String> {
        let raw = match self.msgtype.as_str() {
            "text" => self.text.as_ref().map(|t| t.content.clone()),
            "richText" => self.content.as_ref().and_then(|c| {
                let parts = c.get("richText")?.as_array()?;
                let joined: String = parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(" ");
                Some(joined)
            }),
            "audio" => self
                .content
                .as_ref()
                .and_then(|c| c.get("recognition"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        }?;
        let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        (!text.is_empty()).then_some(text)
    }

    /// Whether this message is for the robot `expected` (`dingtalk.robot_code`; empty:
    /// any). A message without a `robotCode` is not for a configured robot.
    pub fn is_for_robot(&self, expected: &str) -> bool {
        expected.is_empty() || self.robot_code.as_deref() == Some(expected)
    }

    /// Normalizes the payload into the pipeline's [`Inbound`].
    pub fn into_inbound(self) -> Inbound {
        let text = self.question_text();
        // A conversation is a group unless DingTalk says it is 1:1 ("1", exactly): a new,
        // empty, padded or missing type must never get a personal answer posted where
        // others read it (the fuzzer found "1" followed by spaces read as 1:1).
        let conversation = if self.conversation_type == "1" {
            Conversation::OneToOne
        } else {
            Conversation::Group
        };
        let bot = self.chatbot_user_id.clone();
        let mentioned_staff_ids = self
            .at_users
            .iter()
            .filter(|u| u.dingtalk_id.is_none() || u.dingtalk_id != bot)
            .filter_map(|u| u.staff_id.clone())
            .collect();
        Inbound {
            msg_id: self.msg_id,
            msgtype: self.msgtype,
            text,
            conversation,
            conversation_id: self.conversation_id,
            conversation_title: self.conversation_title,
            sender_staff_id: self.sender_staff_id.filter(|s| !s.is_empty()),
            sender_nick: self.sender_nick.unwrap_or_default(),
            sender_corp_id: self.sender_corp_id,
            robot_code: self.robot_code,
            mentioned_staff_ids,
            reply: ReplyRoute {
                session_webhook: self.session_webhook.filter(|s| !s.is_empty()),
                webhook_expires_at: self
                    .session_webhook_expired_time
                    .and_then(|ms| Timestamp::from_millisecond(ms).ok()),
            },
            created_at: self
                .create_at
                .and_then(|ms| Timestamp::from_millisecond(ms).ok()),
        }
    }
}

/// Cards with buttons go out as an `actionCard`, the rest as `markdown` (DingTalk's
/// webhook message shapes). `at_user` adds an @-mention of the asker in groups.
pub fn webhook_message(card: &Card, at_user: Option<&str>) -> Value {
    let mut text = card.markdown.clone();
    if let Some(user) = at_user {
        text.push_str(&format!("\n\n@{user}"));
    }
    let mut msg = if card.buttons.is_empty() {
        json!({ "msgtype": "markdown", "markdown": { "title": card.title, "text": text } })
    } else {
        let btns: Vec<Value> = card
            .buttons
            .iter()
            .map(|b| json!({ "title": b.title, "actionURL": b.url }))
            .collect();
        json!({
            "msgtype": "actionCard",
            "actionCard": { "title": card.title, "text": text, "btnOrientation": "0", "btns": btns }
        })
    };
    if let Some(user) = at_user {
        msg["at"] = json!({ "atUserIds": [user], "isAtAll": false });
    }
    msg
}

/// The `msgKey` and JSON-string `msgParam` of the robot OpenAPI send calls for a card.
/// The API has fixed templates: markdown, one button, or 2–5 vertical buttons.
pub fn robot_message(card: &Card) -> (&'static str, String) {
    const KEYS: [&str; 4] = [
        "sampleActionCard2",
        "sampleActionCard3",
        "sampleActionCard4",
        "sampleActionCard5",
    ];
    let buttons = &card.buttons[..card.buttons.len().min(5)];
    let (key, param) = match buttons.len() {
        0 => (
            "sampleMarkdown",
            json!({ "title": card.title, "text": card.markdown }),
        ),
        1 => (
            "sampleActionCard",
            json!({ "title": card.title, "text": card.markdown,
                    "singleTitle": buttons[0].title, "singleURL": buttons[0].url }),
        ),
        n => {
            let mut p = json!({ "title": card.title, "text": card.markdown });
            for (i, b) in buttons.iter().enumerate() {
                p[format!("actionTitle{}", i + 1)] = json!(b.title);
                p[format!("actionURL{}", i + 1)] = json!(b.url);
            }
            (KEYS[n - 2], p)
        }
    };
    (key, param.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::Button;

    fn parse(v: Value) -> RobotMessage {
        serde_json::from_value(v).expect("payload")
    }

    #[test]
    fn text_and_rich_text_are_read_and_trimmed() {
        let m = parse(
            json!({"msgId":"m1","msgtype":"text","text":{"content":"  iPhone 15 Pro 觀塘倉仲有幾多?  "},
            "conversationType":"2","conversationId":"cid1","createAt":"1700000000123"}),
        );
        assert_eq!(m.create_at, Some(1_700_000_000_123));
        let i = m.into_inbound();
        assert_eq!(i.text.as_deref(), Some("iPhone 15 Pro 觀塘倉仲有幾多?"));
        assert_eq!(i.conversation, Conversation::Group);

        let m = parse(
            json!({"msgId":"m2","msgtype":"richText","content":{"richText":[
            {"text":"上個月九龍區銷售額"},{"type":"picture","downloadCode":"d"},{"text":"\n"}]}}),
        );
        assert_eq!(m.question_text().as_deref(), Some("上個月九龍區銷售額"));

        let m = parse(json!({"msgId":"m3","msgtype":"picture","content":{"downloadCode":"d"}}));
        assert_eq!(m.question_text(), None);
    }

    /// Only DingTalk's exact "1" is 1:1; anything else, padded included, is a group.
    #[test]
    fn only_an_exact_one_is_a_one_to_one_conversation() {
        for (t, want) in [
            ("1", Conversation::OneToOne),
            ("2", Conversation::Group),
            ("1   ", Conversation::Group),
            (" 1", Conversation::Group),
            ("", Conversation::Group),
            ("3", Conversation::Group),
        ] {
            let m = parse(
                json!({"msgId":"m","msgtype":"text","text":{"content":"hi"},"conversationType":t}),
            );
            assert_eq!(m.into_inbound().conversation, want, "{t:?}");
        }
    }

    #[test]
    fn mentions_exclude_the_bot() {
        let m = parse(json!({"msgId":"m","msgtype":"text","text":{"content":"x"},
            "chatbotUserId":"$:bot","atUsers":[{"dingtalkId":"$:bot"},{"dingtalkId":"$:p","staffId":"u2"}]}));
        assert_eq!(m.into_inbound().mentioned_staff_ids, vec!["u2".to_string()]);
    }

    #[test]
    fn card_shapes() {
        let mut card = Card {
            title: "T".into(),
            markdown: "body".into(),
            buttons: vec![],
        };
        assert_eq!(webhook_message(&card, None)["msgtype"], "markdown");
        let (k, p) = robot_message(&card);
        assert_eq!(k, "sampleMarkdown");
        assert_eq!(
            serde_json::from_str::<Value>(&p).expect("json")["text"],
            "body"
        );
        card.buttons = (0..7)
            .map(|i| Button {
                title: format!("b{i}"),
                url: format!("dtmd://dingtalkclient/sendMessage?content={i}"),
            })
            .collect();
        let w = webhook_message(&card, Some("u1"));
        assert_eq!(w["msgtype"], "actionCard");
        assert_eq!(w["at"]["atUserIds"][0], "u1");
        let (k, p) = robot_message(&card);
        assert_eq!(k, "sampleActionCard5");
        let p: Value = serde_json::from_str(&p).expect("json");
        assert_eq!(p["actionTitle5"], "b4");
        assert!(p.get("actionTitle6").is_none());
    }
}

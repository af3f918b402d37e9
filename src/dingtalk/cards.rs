//! Interactive cards: a [`Card`] as the variables of a card-builder template, and button
//! presses (card callbacks) as questions.
//!
//! The template is created once by an admin in DingTalk's card builder; the variables it
//! must declare are listed in the README ("Card template variables"). Every value of
//! `cardParamMap` is a string, as DingTalk requires; the button list is a JSON array encoded
//! as a string, which the template's loop component reads.
//!
//! A button carries the question it asks (`params.question` of its "send request" action),
//! so a press is simply that question asked again by whoever pressed it: it goes through
//! understanding and policy like any message, for the presser, not for the card's asker.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::card::Card;

/// The card-callback topic of Stream mode.
pub const CARD_CALLBACK_TOPIC: &str = "/v1.0/card/instances/callback";

/// The `outTrackId` of the card answering message `msg_id`: stable, so a redelivered
/// message cannot create a second card instance.
pub fn out_track_id(msg_id: &str) -> String {
    let digest = Sha256::digest(msg_id.as_bytes());
    format!("askerp-{}", hex::encode(&digest[..12]))
}

/// The template variables for `card`: `title`, `markdown`, `buttons` (a JSON string of
/// `[{"text", "question"}]`), `button_count` and `question` (the question the card answers,
/// for a "refresh" button). All values are strings.
pub fn card_params(card: &Card, question: Option<&str>) -> Map<String, Value> {
    let buttons: Vec<Value> = card
        .buttons
        .iter()
        .map(|b| {
            json!({
                "text": b.title,
                "question": b.follow_up_text().unwrap_or_default(),
                "url": if b.follow_up_text().is_some() { "" } else { b.url.as_str() },
            })
        })
        .collect();
    let mut m = Map::new();
    m.insert("title".into(), Value::String(card.title.clone()));
    m.insert("markdown".into(), Value::String(card.markdown.clone()));
    m.insert(
        "buttons".into(),
        Value::String(Value::Array(buttons).to_string()),
    );
    m.insert(
        "button_count".into(),
        Value::String(card.buttons.len().to_string()),
    );
    m.insert(
        "question".into(),
        Value::String(question.unwrap_or_default().to_string()),
    );
    m
}

/// The `response` of a card-callback ACK that replaces the card's public data.
pub fn update_response(params: Map<String, Value>) -> Value {
    json!({
        "cardUpdateOptions": { "updateCardDataByKey": true, "updatePrivateDataByKey": true },
        "cardData": { "cardParamMap": params },
    })
}

/// The `response` of a card-callback ACK that leaves the card as it is.
pub fn unchanged_response() -> Value {
    json!({})
}

/// A card callback as DingTalk sends it (Stream `data` or HTTP body).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardCallback {
    #[serde(default)]
    pub out_track_id: String,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub space_type: Option<String>,
    #[serde(default)]
    pub space_id: Option<String>,
    /// A JSON document encoded as a string: `{"cardPrivateData": {"actionIds", "params"}}`.
    #[serde(default)]
    pub content: Option<Value>,
}

/// A button press, read from a [`CardCallback`]. Where the card is (group or 1:1) is not
/// part of it on purpose: the callback's `spaceType`/`spaceId` are claims, and the server
/// answers by where it delivered the card (`DingTalkClient::delivered_to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPress {
    pub out_track_id: String,
    /// Who pressed: the userId (staff id) DingTalk reports.
    pub user_id: String,
    /// The question the button asks.
    pub question: String,
}

impl CardCallback {
    /// The press, when the callback carries a presser and a question; `None` otherwise
    /// (such a callback leaves the card unchanged).
    pub fn press(&self) -> Option<CardPress> {
        if self.user_id.is_empty() || self.out_track_id.is_empty() {
            return None;
        }
        // `content` is documented as a JSON string; accept an object too.
        let content = match self.content.as_ref()? {
            Value::String(s) => serde_json::from_str::<Value>(s).ok()?,
            v => v.clone(),
        };
        let question = content
            .pointer("/cardPrivateData/params/question")
            .and_then(Value::as_str)?
            .trim()
            .to_string();
        if question.is_empty() || question.chars().count() > 500 {
            return None;
        }
        Some(CardPress {
            out_track_id: self.out_track_id.clone(),
            user_id: self.user_id.clone(),
            question,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::Button;

    #[test]
    fn params_are_strings_and_buttons_carry_their_question() {
        let card = Card {
            title: "Stock".into(),
            markdown: "**42**".into(),
            buttons: vec![Button {
                title: "Tsuen Wan".into(),
                url: crate::card::follow_up_url("iPhone 15 Pro 荃灣倉有幾多"),
            }],
        };
        let p = card_params(&card, Some("iPhone 15 Pro 有幾多"));
        assert!(p.values().all(Value::is_string));
        let buttons: Value =
            serde_json::from_str(p["buttons"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!(buttons[0]["question"], "iPhone 15 Pro 荃灣倉有幾多");
        assert_eq!(p["button_count"], "1");
    }

    #[test]
    fn a_press_is_read_from_the_string_encoded_content() {
        let cb: CardCallback = serde_json::from_value(json!({
            "type": "actionCallback", "outTrackId": "askerp-1", "userId": "u1",
            "spaceType": "IM_GROUP", "spaceId": "cid1",
            "content": "{\"cardPrivateData\":{\"actionIds\":[\"b\"],\"params\":{\"question\":\"help\"}}}"
        }))
        .unwrap_or_else(|_| CardCallback {
            out_track_id: String::new(),
            user_id: String::new(),
            space_type: None,
            space_id: None,
            content: None,
        });
        let p = cb.press();
        assert_eq!(
            p.map(|p| (p.out_track_id, p.user_id, p.question)),
            Some(("askerp-1".into(), "u1".into(), "help".into()))
        );
        let empty: CardCallback =
            serde_json::from_value(json!({"outTrackId": "x", "userId": "u", "content": "{}"}))
                .unwrap_or_else(|_| cb.clone());
        assert_eq!(empty.press(), None);
    }
}

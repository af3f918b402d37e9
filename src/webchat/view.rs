//! What the web chat page is given: the simulator's recorded messages, placed in the pane
//! a DingTalk client would show them in, and the trace of one answer.
//!
//! Nothing here re-renders a card: a message is read back from the request body the
//! simulator received (`markdown`, `actionCard`, `msgKey`/`msgParam`, or an interactive
//! card's `cardParamMap`), so the page shows exactly what was sent.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::dingtalk::sim::{Destination, Sent, SimImage};
use crate::intent::resolve::Explanation;

/// Where a DingTalk client shows a message: a group, or a user's 1:1 chat with the robot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Pane {
    /// A group chat, by conversation id.
    Group(String),
    /// The 1:1 chat of a user (staff id) with the robot.
    OneToOne(String),
    /// A session webhook of a message the web chat did not send (e.g. `askerp send`):
    /// the simulator cannot tell which conversation it belongs to.
    Unknown,
}

/// One button as the page draws it.
#[derive(Debug, Clone, Serialize)]
pub struct PageButton {
    pub title: String,
    /// The text a `dtmd://dingtalkclient/sendMessage?content=…` button (or an interactive
    /// card button) sends as the user.
    pub question: Option<String>,
    /// Any other link, shown but not followed by the page.
    pub url: Option<String>,
}

/// One recorded message, in the shape the page renders.
#[derive(Debug, Clone, Serialize)]
pub struct PageMessage {
    pub seq: u64,
    pub pane: Pane,
    /// `webhook`, `private`, `group`, `card`, `card_update`.
    pub via: &'static str,
    pub title: String,
    /// DingTalk markdown, as sent.
    pub markdown: String,
    pub buttons: Vec<PageButton>,
    /// The interactive card this message creates or updates (`outTrackId`).
    pub card: Option<String>,
    /// Users @-mentioned.
    pub at_user_ids: Vec<String>,
    /// The images the message shows, each with the page's URL for its bytes.
    pub images: Vec<PageImage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageImage {
    /// The reference in the markdown (`media_id` or URL).
    pub source: String,
    /// Where the page fetches it: always the demo server, never the original host.
    pub url: String,
    pub width: u32,
    pub height: u32,
}

/// The question a `dtmd://dingtalkclient/sendMessage?content=…` link sends.
pub fn follow_up_text(url: &str) -> Option<String> {
    let q = url.strip_prefix("dtmd://dingtalkclient/sendMessage?")?;
    q.split('&').find_map(|kv| {
        let v = kv.strip_prefix("content=")?;
        percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    })
}

/// Places and shapes a recorded message. `sessions` maps the session webhooks the web
/// chat handed out to their pane.
pub fn page_message(
    sent: &Sent,
    sessions: &HashMap<String, Pane>,
    images: &[SimImage],
) -> Vec<PageMessage> {
    let (panes, via, card): (Vec<Pane>, &'static str, Option<String>) = match &sent.to {
        Destination::Webhook { session } => (
            vec![sessions.get(session).cloned().unwrap_or(Pane::Unknown)],
            "webhook",
            None,
        ),
        Destination::Private { user_ids } => (
            user_ids.iter().cloned().map(Pane::OneToOne).collect(),
            "private",
            None,
        ),
        Destination::Group { conversation_id } => {
            (vec![Pane::Group(conversation_id.clone())], "group", None)
        }
        Destination::Card {
            open_space_id,
            out_track_id,
        } => {
            let pane = if let Some(cid) = open_space_id.strip_prefix("dtv1.card//IM_GROUP.") {
                Pane::Group(cid.to_string())
            } else if let Some(user) = open_space_id.strip_prefix("dtv1.card//IM_ROBOT.") {
                Pane::OneToOne(user.to_string())
            } else {
                Pane::Unknown
            };
            (vec![pane], "card", Some(out_track_id.clone()))
        }
        Destination::CardUpdate { out_track_id } => (
            vec![Pane::Unknown],
            "card_update",
            Some(out_track_id.clone()),
        ),
    };
    let buttons: Vec<PageButton> = sent
        .buttons
        .iter()
        .map(|(title, target)| {
            if card.is_some() {
                // Interactive card: the recorded target is the button's `question`.
                PageButton {
                    title: title.clone(),
                    question: (!target.is_empty()).then(|| target.clone()),
                    url: None,
                }
            } else {
                let question = follow_up_text(target);
                PageButton {
                    title: title.clone(),
                    url: question.is_none().then(|| target.clone()),
                    question,
                }
            }
        })
        .collect();
    let shown: Vec<PageImage> = images
        .iter()
        .filter(|i| i.seq == sent.seq)
        .enumerate()
        .map(|(n, i)| PageImage {
            source: i.source.clone(),
            url: format!("/webchat/api/image?seq={}&n={n}", sent.seq),
            width: i.width,
            height: i.height,
        })
        .collect();
    panes
        .into_iter()
        .map(|pane| PageMessage {
            seq: sent.seq,
            pane,
            via,
            title: sent.title.clone(),
            markdown: sent.text.clone(),
            buttons: buttons.clone(),
            card: card.clone(),
            at_user_ids: sent.at_user_ids.clone(),
            images: shown.clone(),
        })
        .collect()
}

/// ERP cache lookups while one answer was produced (the server-wide counters before and
/// after; the web chat asks one question at a time, so only a concurrent `askerp send` or
/// another page can add to them).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CacheDelta {
    pub hits: u64,
    pub misses: u64,
}

/// The trace of one answer: how the resolver read the text (recomputed with the same
/// resolver, which is pure), and what the audit log recorded for the message.
pub fn trace(
    explanation: &Explanation,
    audit: Option<&Value>,
    cache: CacheDelta,
    callback_status: u16,
) -> Value {
    let entities: Vec<Value> = explanation
        .entities
        .iter()
        .map(|e| json!({ "kind": e.kind, "text": e.text, "value": e.value }))
        .collect();
    let score = |i: usize| {
        explanation.scores.get(i).map(|s| {
            json!({
                "intent": s.intent.name(),
                "score": s.score,
                "parts": s.parts.iter().map(|(p, w)| json!({ "cue": p, "weight": w })).collect::<Vec<_>>(),
            })
        })
    };
    let words: Vec<Value> = explanation
        .words
        .iter()
        .map(|(class, phrase)| json!({ "class": class, "phrase": phrase }))
        .collect();
    let field = |k: &str| audit.and_then(|a| a.get(k)).cloned().unwrap_or(Value::Null);
    json!({
        "callback_status": callback_status,
        "normalized": explanation.normalized,
        "locale": explanation.resolution.locale.tag(),
        "corrections": explanation.corrections,
        "entities": entities,
        "words": words,
        "leftover": explanation.leftover,
        "winner": score(0),
        "runner_up": score(1),
        "why": explanation.reason,
        "rules_intent": explanation.resolution.intent.map(|i| i.name()),
        "audit": audit.is_some(),
        "intent": field("intent"),
        "slots": field("slots"),
        "source": field("source"),
        "rule": field("rule"),
        "decision": field("decision"),
        "reason": field("reason"),
        "principal": field("principal"),
        "connector": field("connector"),
        "erp_latency_ms": field("erp_latency_ms"),
        "latency_ms": field("latency_ms"),
        "cache": cache,
        "delivery": field("delivery"),
        "sends": field("sends"),
        "outcome": field("outcome"),
        "msg_id": field("msg_id"),
        "hash": field("hash"),
        "prev": field("prev"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_up_link_gives_its_text_and_other_links_none() {
        let url = crate::card::follow_up_url("iPhone 15 Pro 荃灣倉有幾多?");
        assert_eq!(
            follow_up_text(&url).as_deref(),
            Some("iPhone 15 Pro 荃灣倉有幾多?")
        );
        assert_eq!(follow_up_text("https://example.com/?content=x"), None);
    }

    #[test]
    fn messages_land_in_the_pane_a_client_would_show_them_in() {
        let sent = |to: Destination| Sent {
            seq: 7,
            to,
            title: "t".into(),
            text: "x".into(),
            buttons: vec![(
                "Tsuen Wan".into(),
                crate::card::follow_up_url("stock in Tsuen Wan"),
            )],
            at_user_ids: vec![],
            raw: Value::Null,
        };
        let sessions = HashMap::from([("s1".to_string(), Pane::Group("cidG==".into()))]);
        let m = page_message(
            &sent(Destination::Webhook {
                session: "s1".into(),
            }),
            &sessions,
            &[],
        );
        assert_eq!(m[0].pane, Pane::Group("cidG==".into()));
        assert_eq!(
            m[0].buttons[0].question.as_deref(),
            Some("stock in Tsuen Wan")
        );
        let m = page_message(
            &sent(Destination::Private {
                user_ids: vec!["demo.staff".into(), "demo.hr".into()],
            }),
            &sessions,
            &[],
        );
        assert_eq!(
            m.iter().map(|m| m.pane.clone()).collect::<Vec<_>>(),
            vec![
                Pane::OneToOne("demo.staff".into()),
                Pane::OneToOne("demo.hr".into())
            ]
        );
        let m = page_message(
            &sent(Destination::Card {
                open_space_id: "dtv1.card//IM_ROBOT.demo.staff".into(),
                out_track_id: "askerp-1".into(),
            }),
            &sessions,
            &[],
        );
        assert_eq!(m[0].pane, Pane::OneToOne("demo.staff".into()));
        assert_eq!(m[0].card.as_deref(), Some("askerp-1"));
        let m = page_message(
            &sent(Destination::Webhook {
                session: "elsewhere".into(),
            }),
            &sessions,
            &[],
        );
        assert_eq!(m[0].pane, Pane::Unknown);
    }
}

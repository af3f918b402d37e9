//! Delivery: puts an [`Answer`] where it belongs.
//!
//! - In the conversation: through the message's session webhook while it is valid and
//!   under the configured `oapi_base`; otherwise (expired, refused, failed) through the
//!   robot OpenAPI (`groupMessages/send` for groups, `oToMessages/batchSend` for 1:1).
//! - Privately: 1:1 through `oToMessages/batchSend`; when asked in a group, the group then
//!   gets only the note without data.
//!
//! - With `dingtalk.card_template_id` set, an answer goes out as an interactive card
//!   (`createAndDeliver`, into the group or the asker's 1:1 chat with the robot); if that
//!   fails, the markdown message path above still delivers it.
//!
//! - A report's chart ([`Answer::chart`]) is drawn here, off the async threads, and added
//!   to the markdown as an image: from a signed askerp link when `server.public_url` is
//!   set, otherwise from DingTalk's media store (`media/upload`). A chart that cannot be
//!   drawn or placed costs the picture only; the card goes out with its figures.
//!
//! Every attempt is reported back for the audit record.

use jiff::Timestamp;

use crate::card::Card;
use crate::channel::{Conversation, Inbound};
use crate::dingtalk::DingTalkClient;
use crate::dingtalk::cards::{card_params, out_track_id};
use crate::dingtalk::client::{CardSpace, SendError, WebhookProblem};
use crate::pipeline::Answer;
use crate::policy::Delivery;

/// What happened to an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// One entry per attempt, e.g. `webhook:ok`, `webhook:refused:foreign_host`,
    /// `group_api:failed:…`, `private:ok`.
    pub sends: Vec<String>,
    /// Whether the user received the answer (for a private answer: the 1:1 message).
    pub delivered: bool,
    /// How long each attempt that made a request to DingTalk took, by index into
    /// `sends` (refusals and local failures made none).
    pub timings: Vec<(usize, std::time::Duration)>,
}

/// Delivers `answer` for `inbound` at `now`.
pub async fn deliver(
    client: &DingTalkClient,
    inbound: &Inbound,
    answer: &Answer,
    now: Timestamp,
) -> Report {
    let mut report = Report::default();
    let charted = with_chart(client, answer, now, &mut report).await;
    let card = charted.as_ref().unwrap_or(&answer.card);
    match answer.delivery {
        Delivery::Conversation => {
            report.delivered = (client.cards_enabled()
                && as_card(client, inbound, card, false, &mut report).await)
                || to_conversation(client, inbound, card, now, &mut report).await;
        }
        Delivery::Private => {
            report.delivered = (client.cards_enabled()
                && as_card(client, inbound, card, true, &mut report).await)
                || to_user(client, inbound, card, &mut report).await;
            // The group learns where the answer went (or that it could not be sent),
            // never the answer itself.
            let note = if report.delivered {
                &answer.group_note
            } else {
                &answer.undelivered_note
            };
            if inbound.conversation == Conversation::Group
                && let Some(note) = note
            {
                to_conversation(client, inbound, note, now, &mut report).await;
            }
        }
    }
    if !report.delivered {
        tracing::warn!(msg_id = %inbound.msg_id, sends = ?report.sends, "Answer could not be delivered.");
    }
    report
}

/// The card of `answer` with its chart in the markdown, or `None` when it has no chart
/// or the chart could not be placed (recorded as `chart:failed:…`). Only the card is
/// copied, not the whole answer (its chart data and resolution are not needed again).
async fn with_chart(
    client: &DingTalkClient,
    answer: &Answer,
    now: Timestamp,
    report: &mut Report,
) -> Option<Card> {
    let data = answer.chart.as_ref()?;
    let alt: String = data
        .alt
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | '(' | ')' | '\n'))
        .collect();
    let kind = if client.chart_store().is_some() {
        "chart_link"
    } else {
        "chart_media"
    };
    let digest = chart_digest(data);
    if let Some(src) = client.placed_chart(&digest).await {
        report.sends.push(format!("{kind}:ok"));
        return Some(card_with_image(&answer.card, &alt, &src));
    }
    let data = data.clone();
    let png = match tokio::task::spawn_blocking(move || crate::card::chart::render_png(&data)).await
    {
        Ok(Ok(png)) => png,
        Ok(Err(e)) => {
            report.sends.push(format!("chart:failed:{e}"));
            return None;
        }
        Err(e) => {
            report.sends.push(format!("chart:failed:{e}"));
            return None;
        }
    };
    let started = std::time::Instant::now();
    let placed = match client.chart_store() {
        Some(store) => store.publish(png, now).await.map_err(|e| e.to_string()),
        None => client
            .upload_image(&png, "chart.png")
            .await
            .map_err(|e| e.to_string()),
    };
    // Only an upload is a request to DingTalk; a link is published locally.
    let timed = client.chart_store().is_none();
    match placed {
        Ok(src) => {
            // A link is reused only while it has long to live.
            if client
                .chart_store()
                .is_none_or(|s| s.ttl() >= std::time::Duration::from_secs(2 * 3600))
            {
                client.remember_chart(digest, src.clone()).await;
            }
            let label = format!("{kind}:ok");
            if timed {
                report.push_timed(label, started);
            } else {
                report.sends.push(label);
            }
            Some(card_with_image(&answer.card, &alt, &src))
        }
        Err(e) => {
            tracing::warn!(error = %e, "Chart not delivered; the card goes without it.");
            let label = format!("{kind}:failed:{e}");
            if timed {
                report.push_timed(label, started);
            } else {
                report.sends.push(label);
            }
            None
        }
    }
}

/// `card` with the image at `src` after its text.
fn card_with_image(card: &Card, alt: &str, src: &str) -> Card {
    let mut out = card.clone();
    out.markdown = format!("{}\n\n![{alt}]({src})", card.markdown.trim_end());
    out
}

/// SHA-256 of the chart's JSON, the key a placed chart is reused under: the same figures
/// give the same picture. The JSON is streamed into the hash rather than built in memory
/// first (a report's chart data is about 13 KB of JSON, built for every report answer).
/// A cryptographic hash because a collision would show one asker another's figures.
fn chart_digest(data: &crate::card::chart::ChartData) -> [u8; 32] {
    use sha2::Digest;
    struct Hashing(sha2::Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // serde_json writes token by token; a buffer hands the hash whole blocks.
    let mut h = std::io::BufWriter::with_capacity(8192, Hashing(sha2::Sha256::new()));
    // Serializing plain data into a sink that cannot fail does not fail; were it to,
    // the digest of the part written still keys only this chart.
    let _ = serde_json::to_writer(&mut h, data);
    let _ = std::io::Write::flush(&mut h);
    let (Hashing(sha), _) = h.into_parts();
    sha.finalize().into()
}

impl Report {
    /// Each attempt's audit label with the time its request to DingTalk took, if it made
    /// one: what [`crate::metrics::Metrics::sent`] records.
    pub fn attempts(&self) -> impl Iterator<Item = (&str, Option<std::time::Duration>)> {
        self.sends.iter().enumerate().map(|(i, s)| {
            let t = self.timings.iter().find(|(j, _)| *j == i).map(|(_, d)| *d);
            (s.as_str(), t)
        })
    }

    /// Adds an attempt that made a request to DingTalk, started at `started`.
    fn push_timed(&mut self, label: String, started: std::time::Instant) {
        self.timings.push((self.sends.len(), started.elapsed()));
        self.sends.push(label);
    }
}

async fn to_conversation(
    client: &DingTalkClient,
    inbound: &Inbound,
    card: &Card,
    now: Timestamp,
    report: &mut Report,
) -> bool {
    let at = match inbound.conversation {
        Conversation::Group => inbound.sender_staff_id.as_deref(),
        Conversation::OneToOne => None,
    };
    match client.check_webhook(
        inbound.reply.session_webhook.as_deref(),
        inbound.reply.webhook_expires_at,
        now,
    ) {
        Ok(url) => {
            let started = std::time::Instant::now();
            match client
                .reply_webhook(&inbound.conversation_id, url, card, at)
                .await
            {
                Ok(()) => {
                    report.push_timed("webhook:ok".into(), started);
                    return true;
                }
                Err(e) => report.push_timed(format!("webhook:failed:{e}"), started),
            }
        }
        Err(problem) => {
            let label = match problem {
                WebhookProblem::Missing => "missing",
                WebhookProblem::ForeignHost => "foreign_host",
                WebhookProblem::Expired => "expired",
            };
            if problem == WebhookProblem::ForeignHost {
                tracing::warn!(msg_id = %inbound.msg_id, "Session webhook outside oapi_base refused.");
            }
            report.sends.push(format!("webhook:refused:{label}"));
        }
    }
    let started = std::time::Instant::now();
    match inbound.conversation {
        Conversation::Group => {
            let result = client
                .send_group(&inbound.conversation_id, card)
                .await
                .map(|()| "group_api:ok".to_string());
            record(report, "group_api", result, started)
        }
        Conversation::OneToOne => match inbound.sender_staff_id.as_deref() {
            Some(user) => {
                let result = client
                    .send_private(&[user.to_string()], card)
                    .await
                    .map(|r| batch_label("private_api", &r));
                record(report, "private_api", result, started)
            }
            None => {
                report.sends.push("private_api:failed:no sender id".into());
                false
            }
        },
    }
}

/// Sends `card` as an interactive card: into the conversation, or (`private`) into the
/// asker's 1:1 chat with the robot, never into a group.
async fn as_card(
    client: &DingTalkClient,
    inbound: &Inbound,
    card: &Card,
    private: bool,
    report: &mut Report,
) -> bool {
    let space = match (
        inbound.conversation,
        private,
        inbound.sender_staff_id.as_deref(),
    ) {
        (Conversation::Group, false, sender) => CardSpace::Group {
            open_conversation_id: inbound.conversation_id.clone(),
            at: sender.map(|s| (s.to_string(), inbound.sender_nick.clone())),
        },
        (_, _, Some(user)) => CardSpace::Robot {
            user_id: user.to_string(),
        },
        (_, _, None) => {
            report.sends.push("card:failed:no sender id".into());
            return false;
        }
    };
    let kind = if private { "private_card" } else { "card" };
    let params = card_params(card, inbound.text.as_deref());
    let started = std::time::Instant::now();
    let result = client
        .deliver_card(&out_track_id(&inbound.msg_id), &space, &params)
        .await
        .map(|()| format!("{kind}:ok"));
    record(report, kind, result, started)
}

async fn to_user(
    client: &DingTalkClient,
    inbound: &Inbound,
    card: &Card,
    report: &mut Report,
) -> bool {
    let Some(user) = inbound.sender_staff_id.as_deref() else {
        report.sends.push("private:failed:no sender id".into());
        return false;
    };
    let started = std::time::Instant::now();
    let result = client
        .send_private(&[user.to_string()], card)
        .await
        .map(|r| batch_label("private", &r));
    record(report, "private", result, started)
}

fn batch_label(kind: &str, r: &crate::dingtalk::client::BatchSendResult) -> String {
    if r.flow_controlled_staff_id_list.is_empty() && r.invalid_staff_id_list.is_empty() {
        format!("{kind}:ok")
    } else {
        format!(
            "{kind}:partial:invalid={:?},flow_controlled={:?}",
            r.invalid_staff_id_list, r.flow_controlled_staff_id_list
        )
    }
}

/// Records the outcome of a request to DingTalk started at `started`.
fn record(
    report: &mut Report,
    kind: &str,
    result: Result<String, SendError>,
    started: std::time::Instant,
) -> bool {
    match result {
        Ok(label) => {
            let ok = label.ends_with(":ok");
            report.push_timed(label, started);
            ok
        }
        Err(e) => {
            report.push_timed(format!("{kind}:failed:{e}"), started);
            false
        }
    }
}

//! The scheduler: finds the subscriptions that are due, asks their question through the
//! real pipeline as the subscriber, delivers the answer, and audits every run.
//!
//! "Now" is a parameter of [`Scheduler::tick`], so tests drive it with a simulated clock.
//!
//! Never twice, never skipped: the store holds, per subscription, the scheduled time of
//! the last run handled. Before sending, the run is marked as sending; after the audit
//! record, as handled. A restart between the two finds the mark and records the run as
//! possibly delivered instead of sending it again. Runs missed while the server was down
//! are caught up once: the latest one is sent, earlier ones are recorded as superseded.

use std::sync::Arc;
use std::time::Instant;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use super::config::{HolidayRule, PushConfig, SubscriptionConfig};
use super::holidays::Holidays;
use super::schedule::Schedule;
use super::store::{PushStore, RunMark, StoreError};
use super::subscriptions::{self, Checked};
use crate::audit::{AuditLog, AuditRecord};
use crate::channel::{Conversation, Inbound, ReplyRoute};
use crate::deliver;
use crate::dingtalk::DingTalkClient;
use crate::pipeline::{Bot, Decision, Question};
use crate::policy::Delivery;

/// What the scheduler needs from the running server.
pub struct Deps<'a> {
    pub bot: &'a Bot,
    pub client: &'a DingTalkClient,
    pub audit: &'a AuditLog,
}

/// Where a subscription comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Config,
    Chat,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Chat => "chat",
        }
    }
}

/// What happened to one due run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub id: String,
    /// The scheduled time (before a holiday move).
    pub slot: Timestamp,
    pub outcome: RunOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Delivered; the send attempts.
    Sent(Vec<String>),
    /// Not sent, on purpose (holiday, superseded by a later run).
    Skipped(String),
    /// Not sent: refused, or the delivery failed.
    Failed(String),
    /// Found marked as sending after a restart: recorded, not sent again.
    Interrupted,
}

/// The scheduler of one process.
pub struct Scheduler {
    pub store: Arc<dyn PushStore>,
    holidays: Holidays,
    push: PushConfig,
    configured: Vec<SubscriptionConfig>,
    tz: TimeZone,
}

impl Scheduler {
    pub fn new(
        store: Arc<dyn PushStore>,
        holidays: Holidays,
        push: PushConfig,
        configured: Vec<SubscriptionConfig>,
        tz: TimeZone,
    ) -> Scheduler {
        Scheduler {
            store,
            holidays,
            push,
            configured,
            tz,
        }
    }

    pub fn push_config(&self) -> &PushConfig {
        &self.push
    }

    pub fn holidays(&self) -> &Holidays {
        &self.holidays
    }

    pub fn is_configured(&self, id: &str) -> bool {
        self.configured.iter().any(|s| s.id == id)
    }

    /// Every active subscription: the configured ones not removed, then those made by
    /// chat (a chat subscription never replaces a configured one of the same id).
    pub async fn subscriptions(&self) -> Result<Vec<(SubscriptionConfig, Origin)>, StoreError> {
        let mut out = Vec::new();
        for s in &self.configured {
            if !self.store.removed(&s.id).await? {
                out.push((s.clone(), Origin::Config));
            }
        }
        for s in self.store.chat_subscriptions().await? {
            if !self.is_configured(&s.id) {
                out.push((s, Origin::Chat));
            }
        }
        Ok(out)
    }

    /// Runs everything due at `now`.
    pub async fn tick(&self, deps: &Deps<'_>, now: &Zoned) -> Vec<RunReport> {
        let subs = match self.subscriptions().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "Push state unreadable; no subscription runs.");
                return Vec::new();
            }
        };
        let mut reports = Vec::new();
        for (sub, _) in subs {
            match self.tick_one(deps, &sub, now, &mut reports).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::error!(subscription = %sub.id, error = %e, "Push state could not be written; the subscription waits.");
                }
            }
        }
        reports
    }

    async fn tick_one(
        &self,
        deps: &Deps<'_>,
        sub: &SubscriptionConfig,
        now: &Zoned,
        reports: &mut Vec<RunReport>,
    ) -> Result<(), StoreError> {
        let schedule = match Schedule::parse(&sub.schedule) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(subscription = %sub.id, error = %e, "Subscription not run.");
                return Ok(());
            }
        };
        let Some(mut mark) = self.store.run(&sub.id).await? else {
            // First sight: runs are due from now on, not from the beginning of time.
            return self
                .store
                .set_run(
                    &sub.id,
                    RunMark {
                        after: now.timestamp(),
                        sending: None,
                    },
                )
                .await;
        };
        if let Some(slot) = mark.sending {
            let mut record = self.record_for(sub, slot, None);
            record.decision = "unknown".into();
            record.outcome = "unknown".into();
            record.reason = Some(
                "interrupted while sending (the process stopped); it may have been delivered, so it is not sent again"
                    .into(),
            );
            self.append(deps, &record);
            mark = RunMark {
                after: slot.max(mark.after),
                sending: None,
            };
            self.store.set_run(&sub.id, mark).await?;
            reports.push(RunReport {
                id: sub.id.clone(),
                slot,
                outcome: RunOutcome::Interrupted,
            });
        }
        loop {
            let Some(slot) = schedule.next_after(mark.after, &self.tz) else {
                return Ok(());
            };
            if slot.timestamp() > now.timestamp() {
                return Ok(());
            }
            let due = match self.effective(&schedule, sub.holidays, &slot) {
                Effective::At(t) => t,
                Effective::Skip(reason) => {
                    self.skip(deps, sub, slot.timestamp(), &reason, reports);
                    mark.after = slot.timestamp();
                    self.store.set_run(&sub.id, mark).await?;
                    continue;
                }
            };
            if due.timestamp() > now.timestamp() {
                // Moved to a later working day that has not come yet.
                return Ok(());
            }
            // Caught up after downtime: only the latest due run is sent.
            if let Some(later) = schedule.next_after(slot.timestamp(), &self.tz)
                && later.timestamp() <= now.timestamp()
                && matches!(self.effective(&schedule, sub.holidays, &later), Effective::At(t) if t.timestamp() <= now.timestamp())
            {
                self.skip(
                    deps,
                    sub,
                    slot.timestamp(),
                    "superseded by a later run (the server was not running at the time)",
                    reports,
                );
                mark.after = slot.timestamp();
                self.store.set_run(&sub.id, mark).await?;
                continue;
            }
            self.store
                .set_run(
                    &sub.id,
                    RunMark {
                        after: mark.after,
                        sending: Some(slot.timestamp()),
                    },
                )
                .await?;
            let outcome = self.run(deps, sub, slot.timestamp(), now).await;
            mark = RunMark {
                after: slot.timestamp(),
                sending: None,
            };
            self.store.set_run(&sub.id, mark).await?;
            reports.push(RunReport {
                id: sub.id.clone(),
                slot: slot.timestamp(),
                outcome,
            });
        }
    }

    /// When a scheduled run really goes out, given the holidays.
    fn effective(&self, schedule: &Schedule, rule: HolidayRule, slot: &Zoned) -> Effective {
        let Some(name) = self.holidays.holiday(slot.date()) else {
            return Effective::At(slot.clone());
        };
        match rule {
            HolidayRule::Ignore => Effective::At(slot.clone()),
            HolidayRule::Skip => {
                Effective::Skip(format!("{} is a public holiday ({name})", slot.date()))
            }
            HolidayRule::Move => {
                let Some(day) = self.holidays.next_working_day(slot.date()) else {
                    return Effective::Skip(format!(
                        "{} is a public holiday ({name}) and no working day follows soon",
                        slot.date()
                    ));
                };
                if schedule.fires_on(day) {
                    return Effective::Skip(format!(
                        "{} is a public holiday ({name}); the run of {day} covers it",
                        slot.date()
                    ));
                }
                match DateTime::from_parts(day, slot.time()).to_zoned(self.tz.clone()) {
                    Ok(t) => Effective::At(t),
                    Err(e) => Effective::Skip(format!("moved run has no time: {e}")),
                }
            }
        }
    }

    fn skip(
        &self,
        deps: &Deps<'_>,
        sub: &SubscriptionConfig,
        slot: Timestamp,
        reason: &str,
        reports: &mut Vec<RunReport>,
    ) {
        let mut record = self.record_for(sub, slot, None);
        record.decision = "skipped".into();
        record.outcome = "not_sent".into();
        record.reason = Some(reason.to_string());
        self.append(deps, &record);
        tracing::info!(subscription = %sub.id, reason, "Scheduled run skipped.");
        reports.push(RunReport {
            id: sub.id.clone(),
            slot,
            outcome: RunOutcome::Skipped(reason.to_string()),
        });
    }

    /// Asks, delivers and audits one run.
    async fn run(
        &self,
        deps: &Deps<'_>,
        sub: &SubscriptionConfig,
        slot: Timestamp,
        now: &Zoned,
    ) -> RunOutcome {
        let started = Instant::now();
        let checked = match subscriptions::check(sub, deps.bot, &self.push, now).await {
            Ok(c) => c,
            Err(refusal) => {
                let mut record = self.record_for(sub, slot, None);
                record.decision = "deny".into();
                record.outcome = "failed".into();
                record.reason = Some(format!("subscription refused: {refusal}"));
                self.append(deps, &record);
                tracing::warn!(subscription = %sub.id, reason = %refusal, "Scheduled run refused.");
                return RunOutcome::Failed(refusal.to_string());
            }
        };
        let inbound = inbound_for(sub, &checked, slot);
        let question = Question {
            text: Some(sub.question.clone()),
            msgtype: "text".into(),
            user_id: Some(sub.user.clone()),
            conversation: checked.conversation,
            conversation_id: checked.conversation_id.clone(),
            mentioned: Vec::new(),
            now: now.clone(),
            reference: crate::server::reference(&inbound.msg_id),
        };
        let mut answer = deps.bot.answer(&question).await;
        let mut reason = answer.reason.clone();
        let mut target = inbound.clone();
        if checked.conversation == Conversation::Group
            && (answer.decision != Decision::Allow || answer.delivery == Delivery::Private)
        {
            // Only an allowed answer for everyone goes into the group; anything else
            // (a refusal, an error card, a personal answer) goes to the subscriber alone.
            target.conversation = Conversation::OneToOne;
            answer.delivery = Delivery::Conversation;
            answer.group_note = None;
            answer.undelivered_note = None;
            reason = Some(format!(
                "{}; sent to the subscriber instead of the group{}",
                answer.decision.as_str(),
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            ));
        }
        let report = deliver::deliver(deps.client, &target, &answer, now.timestamp()).await;
        let mut record = crate::server::audit_record(&inbound, &answer, "push");
        record.time = Some(now.timestamp());
        record.reason = reason;
        record.sends = report.sends.clone();
        record.outcome = if report.delivered {
            "delivered"
        } else {
            "failed"
        }
        .into();
        record.latency_ms = u64::try_from(started.elapsed().as_millis()).ok();
        self.append(deps, &record);
        let sent_to_group = target.conversation == checked.conversation;
        match (report.delivered, answer.decision, sent_to_group) {
            (true, Decision::Allow, true) => RunOutcome::Sent(report.sends),
            (true, d, _) => RunOutcome::Failed(format!(
                "answered {} and sent to the subscriber only",
                d.as_str()
            )),
            (false, _, _) => {
                RunOutcome::Failed(format!("not delivered: {}", report.sends.join(", ")))
            }
        }
    }

    fn record_for(
        &self,
        sub: &SubscriptionConfig,
        slot: Timestamp,
        checked: Option<&Checked>,
    ) -> AuditRecord {
        AuditRecord {
            time: Some(Timestamp::now()),
            channel: "push".into(),
            msg_id: msg_id(&sub.id, slot),
            conversation_id: sub
                .group
                .clone()
                .unwrap_or_else(|| format!("push:{}", sub.id)),
            conversation_type: if sub.group.is_some() { "group" } else { "1:1" }.into(),
            user: Some(sub.user.clone()),
            principal: checked.map(|c| c.principal.clone()),
            text: Some(sub.question.clone()),
            intent: checked.map(|c| c.intent.name().to_string()),
            ..AuditRecord::default()
        }
    }

    fn append(&self, deps: &Deps<'_>, record: &AuditRecord) {
        if let Err(e) = deps.audit.append(record) {
            tracing::error!(error = %e, "Audit record could not be written.");
        }
    }
}

enum Effective {
    At(Zoned),
    Skip(String),
}

/// The message id of one run: the subscription and its scheduled time.
pub fn msg_id(id: &str, slot: Timestamp) -> String {
    format!("push:{id}:{}", slot.as_second())
}

/// The run as a message the delivery understands: no session webhook, so it goes
/// through the robot OpenAPI (the group, or 1:1 to the subscriber).
fn inbound_for(sub: &SubscriptionConfig, checked: &Checked, slot: Timestamp) -> Inbound {
    Inbound {
        msg_id: msg_id(&sub.id, slot),
        msgtype: "text".into(),
        text: Some(sub.question.clone()),
        conversation: checked.conversation,
        conversation_id: checked.conversation_id.clone(),
        conversation_title: None,
        sender_staff_id: Some(sub.user.clone()),
        sender_nick: String::new(),
        sender_corp_id: None,
        robot_code: None,
        mentioned_staff_ids: Vec::new(),
        reply: ReplyRoute {
            session_webhook: None,
            webhook_expires_at: None,
        },
        created_at: Some(slot),
    }
}

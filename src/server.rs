//! The HTTP servers: the public one (the DingTalk callbacks, charts, `/healthz`,
//! `/readyz`, and in demo mode the built-in DingTalk simulator under `/demo/dingtalk`) and
//! the admin one on `server.admin_listen` (`/metrics`, `/healthz`, `/readyz`,
//! `POST /admin/reload`), which is never exposed with the callback.
//!
//! [`AppState::handle`] is the per-message task: pipeline, delivery, audit, all inside
//! one `tracing` span carrying the message id.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::audit::{AuditLog, AuditRecord};
use crate::channel::{Conversation, Inbound};
use crate::config::Config;
use crate::deliver;
use crate::dingtalk::DingTalkClient;
use crate::dingtalk::sim::Simulator;
use crate::pipeline::{Answer, Bot, Question};
use crate::telemetry::Metrics;

/// Shared state of the server. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The bot as started. Reloads do not change it: message handling uses
    /// [`AppState::bot`], the current one.
    pub bot: Arc<Bot>,
    /// The bot answering now; a reload swaps it whole, so a message is answered by one
    /// consistent set of data files. Read once per message (a read lock and an `Arc`
    /// clone), written only by reloads.
    live: Arc<std::sync::RwLock<Arc<Bot>>>,
    /// Serializes reloads (SIGHUP and `POST /admin/reload` may race).
    reloading: Arc<tokio::sync::Mutex<()>>,
    pub dingtalk: Arc<DingTalkClient>,
    /// Message dedupe, two-phase and shared across replicas with Redis ([`crate::state::claims`]).
    pub claims: crate::state::claims::MessageClaims,
    pub audit: Arc<AuditLog>,
    pub metrics: Arc<Metrics>,
    /// Message tasks in flight; shutdown waits for them.
    pub tasks: TaskTracker,
    /// False once shutdown has begun, so `/readyz` turns away new traffic.
    pub ready: Arc<AtomicBool>,
    /// Refused requests of the current minute (sampled, not one record each).
    pub refusals: Arc<std::sync::Mutex<RefusalWindow>>,
    /// Accepted messages not yet answered and audited, by `msgId`: what shutdown must
    /// account for when the grace period runs out, since DingTalk will not redeliver a
    /// message that was acknowledged.
    pub pending: Arc<std::sync::Mutex<std::collections::HashMap<String, PendingMessage>>>,
    /// Event ids reported at `POST /events/<source>` and handled, remembered for twice
    /// `push.event_window_secs` (shared across replicas with Redis), so a replay of a
    /// signed report sends nothing.
    pub events: crate::state::claims::MessageClaims,
    /// Where HTTP callbacks may come from.
    pub sources: Arc<crate::channel::sources::CallbackSources>,
    /// Scheduled reports and alerts (`None` when `push.enabled` is off or its state
    /// cannot be opened, which is logged).
    pub push: Option<Arc<crate::push::scheduler::Scheduler>>,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        bot: Arc<Bot>,
        audit: Arc<AuditLog>,
    ) -> Result<AppState, crate::dingtalk::SendError> {
        let push = crate::push::open(&config);
        Ok(AppState {
            dingtalk: Arc::new(
                DingTalkClient::new(&config.dingtalk)?
                    .with_chart_store(
                        crate::chart_store::ChartStore::from_config(&config.server)
                            .map_err(|e| crate::dingtalk::SendError::Transport(e.to_string()))?,
                    )
                    .with_shared_state(bot.shared.clone()),
            ),
            claims: crate::state::claims::MessageClaims::new(
                Duration::from_secs(config.server.dedupe_ttl_secs),
                Duration::from_secs(config.state.in_flight_secs),
                bot.shared.clone(),
            ),
            events: crate::state::claims::MessageClaims::new(
                Duration::from_secs(config.push.event_window_secs.saturating_mul(2)),
                Duration::from_secs(config.state.in_flight_secs),
                bot.shared.clone(),
            ),
            sources: Arc::new(crate::channel::sources::CallbackSources::from_config(
                &config.dingtalk,
            )),
            config,
            live: Arc::new(std::sync::RwLock::new(Arc::clone(&bot))),
            reloading: Arc::default(),
            bot,
            audit,
            metrics: Arc::new(Metrics::default()),
            tasks: TaskTracker::new(),
            ready: Arc::new(AtomicBool::new(true)),
            refusals: Arc::default(),
            pending: Arc::default(),
            push,
        })
    }

    /// The bot answering now (the last successful reload, or the one started with).
    pub fn bot(&self) -> Arc<Bot> {
        Arc::clone(&self.live.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Reads directory, policy, intents and message catalogs again and, when every file
    /// is valid, swaps them in at once; otherwise keeps the current set and returns every
    /// problem (also logged). Messages already being answered finish with the set they
    /// started with.
    pub async fn reload(&self) -> Result<ReloadReport, crate::setup::SetupError> {
        let _one_at_a_time = self.reloading.lock().await;
        let current = self.bot();
        match crate::setup::reload(&self.config, &current).await {
            Ok(bot) => {
                let report = ReloadReport {
                    users: bot.directory.principals().count(),
                    intents_hash: bot.resolver.catalog().content_hash().to_string(),
                };
                *self.live.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(bot);
                self.metrics.count("reloads_ok");
                tracing::info!(
                    users = report.users,
                    intents_hash = %report.intents_hash,
                    "Reloaded directory, policy, intents and message catalogs."
                );
                Ok(report)
            }
            Err(e) => {
                self.metrics.count("reloads_failed");
                for p in &e.0 {
                    tracing::error!(problem = %p, "Reload refused; the previous data files stay in use.");
                }
                Err(e)
            }
        }
    }

    /// Handles one accepted message end to end: answer, deliver, audit.
    pub async fn handle(&self, inbound: Inbound, channel: &'static str) {
        self.handle_claimed(inbound, channel, false).await;
    }

    /// Decides whether this replica answers `inbound` (see [`crate::state::claims`]) and
    /// answers it in a task; returns false for a redelivery that is dropped.
    pub async fn accept(&self, inbound: Inbound, channel: &'static str) -> bool {
        use crate::state::claims::Claim;
        match self.claims.claim(&inbound.msg_id).await {
            Claim::Answer { degraded } => {
                let worker = self.clone();
                self.tasks
                    .spawn(async move { worker.handle_guarded(inbound, channel, degraded).await });
                true
            }
            Claim::Duplicate => false,
            Claim::InFlightElsewhere => {
                // Acknowledged now; answered here only if the replica holding it dies.
                let worker = self.clone();
                self.tasks.spawn(async move {
                    match worker.claims.wait(&inbound.msg_id).await {
                        Claim::Answer { degraded } => {
                            tracing::info!(msg_id = %inbound.msg_id, "The replica answering this message stopped; answering it here.");
                            worker.handle_guarded(inbound, channel, degraded).await
                        }
                        _ => {
                            worker.metrics.count("redeliveries_other_replica");
                            tracing::info!(msg_id = %inbound.msg_id, "Answered by another replica.");
                        }
                    }
                });
                true
            }
        }
    }

    /// [`Self::handle_claimed`], surviving a panic anywhere in answering (a connector's
    /// bug, say): the message gets an audit record saying it failed, and when nothing was
    /// sent for it yet, its claim is forgotten so a redelivery is answered — never lost
    /// silently, never answered twice.
    async fn handle_guarded(&self, inbound: Inbound, channel: &'static str, degraded: bool) {
        use futures_util::FutureExt;
        let msg_id = inbound.msg_id.clone();
        let keep = inbound.clone();
        let outcome = std::panic::AssertUnwindSafe(self.handle_claimed(inbound, channel, degraded))
            .catch_unwind()
            .await;
        if outcome.is_ok() {
            return;
        }
        self.metrics.count("answers_panicked");
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&msg_id);
        // Nothing sent yet when the gate can still be withdrawn.
        let nothing_sent = pending.as_ref().is_none_or(|p| p.gate.withdraw());
        tracing::error!(msg_id = %msg_id, nothing_sent, "Answering the message failed unexpectedly.");
        let mut record = audit_record_unanswered(&keep, channel);
        record.reason = Some(if nothing_sent {
            "internal failure while answering; nothing sent, a redelivery will be answered".into()
        } else {
            "internal failure while answering, after part of the answer was sent".into()
        });
        if let Err(e) = self.audit.append(&record) {
            tracing::error!(error = %e, "Audit record could not be written.");
        }
        if nothing_sent {
            self.claims.forget(&msg_id).await;
        } else {
            self.claims.done(&msg_id).await;
        }
    }

    /// [`Self::handle`] for a message this replica has claimed; `degraded` when only its
    /// own memory deduped it (shared state unavailable), which the audit record says.
    async fn handle_claimed(&self, inbound: Inbound, channel: &'static str, degraded: bool) {
        let _holding = self.claims.hold(&inbound.msg_id);
        let span = tracing::info_span!(
            "message",
            msg_id = %inbound.msg_id,
            conversation = ?inbound.conversation,
            reference = %reference(&inbound.msg_id),
        );
        let gate = Arc::new(crate::spool::Gate::default());
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                inbound.msg_id.clone(),
                PendingMessage {
                    inbound: inbound.clone(),
                    channel,
                    gate: Arc::clone(&gate),
                },
            );
        async {
            let started = Instant::now();
            let bot = self.bot();
            let question = Question {
                text: inbound.text.clone(),
                msgtype: inbound.msgtype.clone(),
                user_id: inbound.sender_staff_id.clone(),
                conversation: inbound.conversation,
                conversation_id: inbound.conversation_id.clone(),
                mentioned: inbound.mentioned_staff_ids.clone(),
                now: jiff::Zoned::now().with_time_zone(bot.tz.clone()),
                reference: reference(&inbound.msg_id),
            };
            // Boxed: the pipeline's future is tens of kilobytes, and inline it made every
            // message's task that large, copied whole when spawned (callgrind showed the
            // copies, BENCHMARKS.md). On the heap it is built once, in place.
            let answer = Box::pin(bot.answer(&question)).await;
            let report = crate::spool::GATE
                .scope(
                    Arc::clone(&gate),
                    Box::pin(deliver::deliver(
                        &self.dingtalk,
                        &inbound,
                        &answer,
                        Timestamp::now(),
                    )),
                )
                .await;
            if gate.withdrawn() {
                // Spooled at shutdown, with its own audit record; the next start answers.
                // Marked done here: the spool, not a redelivery, answers it.
                self.claims.done(&inbound.msg_id).await;
                return;
            }
            // Counted only now, with the answer's time: a message spooled above is
            // answered (and counted) by the next start, not twice.
            self.metrics.answered(
                channel,
                answer.resolution.as_ref().and_then(|r| r.intent),
                answer.decision.as_str(),
                started.elapsed(),
            );
            for (label, elapsed) in report.attempts() {
                self.metrics.sent(label, elapsed);
            }
            self.metrics.count(if report.delivered {
                "replies_delivered"
            } else {
                "replies_failed"
            });
            let mut record = audit_record(&inbound, &answer, channel);
            record.sends = report.sends;
            record.outcome = if report.delivered {
                "delivered"
            } else {
                "failed"
            }
            .into();
            record.latency_ms = u64::try_from(started.elapsed().as_millis()).ok();
            let still_ours = self
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&inbound.msg_id)
                .is_some();
            if !still_ours {
                // Shutdown already recorded this message as unanswered; say it was answered
                // after all, so the audit does not contradict what the user saw.
                record.reason = Some(format!(
                    "answered after the shutdown grace period{}",
                    record.reason.map(|r| format!("; {r}")).unwrap_or_default()
                ));
            }
            if degraded {
                record.state = Some("degraded".into());
            }
            if let Err(e) = self.audit.append(&record) {
                tracing::error!(error = %e, "Audit record could not be written.");
            }
            self.claims.done(&inbound.msg_id).await;
            tracing::info!(
                decision = answer.decision.as_str(),
                delivered = report.delivered,
                "Message handled."
            );
        }
        .instrument(span)
        .await;
    }

    /// Audits a request refused before it became a message (bad signature, wrong robot).
    pub fn audit_refused(&self, msg_id: Option<&str>, reason: &str) {
        self.audit_refused_on("callback", msg_id, reason);
    }

    /// Answers a card button press for the presser and audits it. The press is a question
    /// asked by the presser, so policy runs for them, not for whoever the card answered.
    /// Returns the new card data when the card should change in place (an answer anyone in
    /// the card's conversation may see); anything else (personal data, a refusal, an
    /// unknown presser) goes to the presser privately and leaves the card as it is.
    pub async fn handle_card_press(
        &self,
        press: crate::dingtalk::cards::CardPress,
        channel: &'static str,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let now = Timestamp::now();
        let msg_id = format!(
            "card:{}:{}:{}",
            press.out_track_id,
            press.user_id,
            now.as_millisecond()
        );
        // The card's real space, as delivered; a card this process did not deliver (another
        // replica, before a restart, or a forged id) counts as a group of unknown members.
        let space = self.dingtalk.delivered_to(&press.out_track_id).await;
        let (conversation, conversation_id, known_space) = match space {
            Some(crate::dingtalk::client::CardSpace::Group {
                open_conversation_id,
                ..
            }) => (Conversation::Group, open_conversation_id, true),
            Some(crate::dingtalk::client::CardSpace::Robot { user_id })
                if user_id == press.user_id =>
            {
                (Conversation::OneToOne, user_id, true)
            }
            _ => (Conversation::Group, String::new(), false),
        };
        let inbound = Inbound {
            msg_id: msg_id.clone(),
            msgtype: "text".into(),
            text: Some(press.question.clone()),
            conversation,
            conversation_id,
            conversation_title: None,
            sender_staff_id: Some(press.user_id.clone()),
            sender_nick: String::new(),
            sender_corp_id: None,
            robot_code: None,
            mentioned_staff_ids: Vec::new(),
            reply: crate::channel::ReplyRoute {
                session_webhook: None,
                webhook_expires_at: None,
            },
            created_at: Some(now),
        };
        let span = tracing::info_span!("card_press", reference = %reference(&msg_id));
        async {
            let started = Instant::now();
            let bot = self.bot();
            let question = Question {
                text: inbound.text.clone(),
                msgtype: inbound.msgtype.clone(),
                user_id: inbound.sender_staff_id.clone(),
                conversation: inbound.conversation,
                conversation_id: inbound.conversation_id.clone(),
                mentioned: Vec::new(),
                now: jiff::Zoned::now().with_time_zone(bot.tz.clone()),
                reference: reference(&msg_id),
            };
            // Boxed: the pipeline's future is tens of kilobytes, and inline it made every
            // message's task that large, copied whole when spawned (callgrind showed the
            // copies, BENCHMARKS.md). On the heap it is built once, in place.
            let answer = Box::pin(bot.answer(&question)).await;
            let shareable = known_space
                && answer.delivery == crate::policy::Delivery::Conversation
                && matches!(
                    answer.shown_as,
                    crate::pipeline::Decision::Allow | crate::pipeline::Decision::Clarify
                );
            let mut record = audit_record(&inbound, &answer, channel);
            let mut send_elapsed = None;
            let update = if shareable {
                record.sends = vec!["card_update:ok".into()];
                record.outcome = "delivered".into();
                Some(crate::dingtalk::cards::card_params(
                    &answer.card,
                    Some(&press.question),
                ))
            } else {
                let send_started = Instant::now();
                let sent = self
                    .dingtalk
                    .send_private(std::slice::from_ref(&press.user_id), &answer.card)
                    .await;
                send_elapsed = Some(send_started.elapsed());
                let delivered = matches!(&sent, Ok(r) if r.invalid_staff_id_list.is_empty() && r.flow_controlled_staff_id_list.is_empty());
                record.sends = vec![match &sent {
                    Ok(_) if delivered => "private:ok".to_string(),
                    Ok(r) => format!("private:partial:invalid={:?},flow_controlled={:?}", r.invalid_staff_id_list, r.flow_controlled_staff_id_list),
                    Err(e) => format!("private:failed:{e}"),
                }];
                record.outcome = if delivered { "delivered" } else { "failed" }.into();
                None
            };
            self.metrics.answered(
                channel,
                answer.resolution.as_ref().and_then(|r| r.intent),
                answer.decision.as_str(),
                started.elapsed(),
            );
            for label in &record.sends {
                self.metrics.sent(label, send_elapsed);
            }
            self.metrics.count(if record.outcome == "delivered" {
                "replies_delivered"
            } else {
                "replies_failed"
            });
            record.latency_ms = u64::try_from(started.elapsed().as_millis()).ok();
            if let Err(e) = self.audit.append(&record) {
                tracing::error!(error = %e, "Audit record could not be written.");
            }
            tracing::info!(decision = answer.decision.as_str(), in_place = update.is_some(), "Card press handled.");
            update
        }
        .instrument(span)
        .await
    }

    /// Audits a request refused before it became a message, on `channel`.
    ///
    /// Such requests come from whoever can reach the port, so a line each would let anyone
    /// fill the audit disk: the first [`REFUSALS_RECORDED_PER_MINUTE`] of a minute are
    /// recorded in full, the rest counted by reason (metric
    /// `askerp_audit_refusals_sampled_out_total`) and written as one summary record when
    /// the minute is over (see [`AppState::flush_refusals`]).
    pub fn audit_refused_on(&self, channel: &str, msg_id: Option<&str>, reason: &str) {
        let (summary, record_this) = {
            let mut w = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
            let summary = w.roll(Instant::now());
            let record_this = w.recorded < REFUSALS_RECORDED_PER_MINUTE;
            if record_this {
                w.recorded += 1;
            } else {
                let class = reason.split(':').next().unwrap_or(reason).trim();
                *w.sampled_out
                    .entry(format!("{channel}/{class}"))
                    .or_insert(0) += 1;
            }
            (summary, record_this)
        };
        if let Some(summary) = summary {
            self.write_refusal_summary(summary);
        }
        if !record_this {
            self.metrics.count("audit_refusals_sampled_out");
            return;
        }
        let record = AuditRecord {
            time: Some(Timestamp::now()),
            channel: channel.into(),
            msg_id: msg_id.unwrap_or_default().to_string(),
            decision: "refused".into(),
            reason: Some(reason.to_string()),
            outcome: "not_processed".into(),
            ..AuditRecord::default()
        };
        if let Err(e) = self.audit.append(&record) {
            tracing::error!(error = %e, "Audit record could not be written.");
        }
    }

    /// Writes an audit record for every accepted message still unanswered, and forgets
    /// them; returns how many. A message whose task finishes later is audited again as
    /// answered, so the log never claims an answer that was not sent.
    pub async fn record_unanswered(&self, reason: &str) -> usize {
        let left: Vec<PendingMessage> = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, v)| v)
            .collect();
        let mut spooled = Vec::new();
        for m in &left {
            let withdrawn = m.gate.withdraw();
            let inbound = &m.inbound;
            let record = AuditRecord {
                time: Some(Timestamp::now()),
                channel: m.channel.to_string(),
                msg_id: inbound.msg_id.clone(),
                conversation_id: inbound.conversation_id.clone(),
                conversation_type: match inbound.conversation {
                    Conversation::OneToOne => "1:1".into(),
                    Conversation::Group => "group".into(),
                },
                user: inbound.sender_staff_id.clone(),
                text: inbound.text.clone(),
                decision: "error".into(),
                reason: Some(if withdrawn {
                    format!("{reason}; spooled, answered by the next start")
                } else {
                    format!("{reason}; interrupted while sending, not repeated")
                }),
                outcome: if withdrawn { "spooled" } else { "not_answered" }.into(),
                ..AuditRecord::default()
            };
            if let Err(e) = self.audit.append(&record) {
                tracing::error!(error = %e, "Audit record could not be written.");
            }
            if withdrawn {
                // The spool answers it, not a redelivery.
                self.claims.done(&inbound.msg_id).await;
                spooled.push(crate::spool::Spooled {
                    inbound: inbound.clone(),
                    channel: m.channel.to_string(),
                });
            }
        }
        if let Some(store) = &self.bot.shared {
            match store
                .push_json(&store.key("spool", "messages"), &spooled)
                .await
            {
                Ok(()) => return left.len(),
                Err(e) => {
                    store.stats.fallback("spool");
                    tracing::error!(error = %e, "Shared spool unavailable; spooling to this replica's file instead.");
                }
            }
        }
        let path = crate::spool::path_for(self.audit.path());
        if let Err(e) = crate::spool::save(&path, &spooled) {
            tracing::error!(error = %e, spool = %path.display(), lost = spooled.len(), "Spool could not be written; these messages stay unanswered (see their audit records).");
        }
        left.len()
    }

    /// Answers what the previous run spooled at shutdown (see [`crate::spool`]): this
    /// replica's file and, with Redis, what any replica spooled (each message is taken by
    /// one replica only).
    pub async fn resume_spooled(&self) -> usize {
        let path = crate::spool::path_for(self.audit.path());
        let (mut taken, mut bad) = match crate::spool::take(&path) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, spool = %path.display(), "Spool could not be read.");
                (Vec::new(), Vec::new())
            }
        };
        if let Some(store) = &self.bot.shared {
            match store
                .pop_json::<crate::spool::Spooled>(&store.key("spool", "messages"), 10_000)
                .await
            {
                Ok((mut t, mut b)) => {
                    taken.append(&mut t);
                    bad.append(&mut b);
                }
                Err(e) => {
                    store.stats.fallback("spool");
                    tracing::warn!(error = %e, "Shared spool unavailable; will look again in a minute.");
                }
            }
        }
        for problem in bad {
            tracing::error!(problem = %problem, "Spooled message unreadable; not answered.");
        }
        let n = taken.len();
        for m in taken {
            // Registered as seen, so a late redelivery is not answered a second time
            // (with Redis the stopping replica marked it done already).
            self.claims.local().first_time(&m.inbound.msg_id);
            let worker = self.clone();
            self.tasks
                .spawn(async move { worker.handle(m.inbound, "spool").await });
        }
        if n > 0 {
            tracing::info!(
                messages = n,
                "Answering messages spooled at the last shutdown."
            );
        }
        n
    }

    /// Writes the summary of refusals not recorded one by one, if the minute is over (or
    /// `now` is forced at shutdown).
    pub fn flush_refusals(&self, force: bool) {
        let summary = {
            let mut w = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
            if force {
                w.take()
            } else {
                w.roll(Instant::now())
            }
        };
        if let Some(summary) = summary {
            self.write_refusal_summary(summary);
        }
    }

    fn write_refusal_summary(&self, counts: std::collections::BTreeMap<String, u64>) {
        let total: u64 = counts.values().sum();
        let detail: Vec<String> = counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let record = AuditRecord {
            time: Some(Timestamp::now()),
            channel: "summary".into(),
            decision: "refused".into(),
            reason: Some(format!(
                "{total} more refused requests, counted not recorded: {}",
                detail.join(", ")
            )),
            outcome: "not_processed".into(),
            ..AuditRecord::default()
        };
        if let Err(e) = self.audit.append(&record) {
            tracing::error!(error = %e, "Audit record could not be written.");
        }
    }
}

/// Refused requests recorded in full per minute; the rest are counted.
pub const REFUSALS_RECORDED_PER_MINUTE: u64 = 20;
const REFUSAL_WINDOW: Duration = Duration::from_secs(60);

/// The current minute of refused requests.
#[derive(Debug)]
pub struct RefusalWindow {
    started: Instant,
    recorded: u64,
    sampled_out: std::collections::BTreeMap<String, u64>,
}

impl Default for RefusalWindow {
    fn default() -> Self {
        RefusalWindow {
            started: Instant::now(),
            recorded: 0,
            sampled_out: Default::default(),
        }
    }
}

impl RefusalWindow {
    /// Starts a new minute when the current one is over; returns the counts to summarize.
    fn roll(&mut self, now: Instant) -> Option<std::collections::BTreeMap<String, u64>> {
        if now.saturating_duration_since(self.started) < REFUSAL_WINDOW {
            return None;
        }
        self.started = now;
        self.recorded = 0;
        self.take()
    }

    fn take(&mut self) -> Option<std::collections::BTreeMap<String, u64>> {
        (!self.sampled_out.is_empty()).then(|| std::mem::take(&mut self.sampled_out))
    }
}

/// The record of a message that was accepted and not answered.
fn audit_record_unanswered(inbound: &Inbound, channel: &'static str) -> AuditRecord {
    AuditRecord {
        time: Some(Timestamp::now()),
        channel: channel.to_string(),
        msg_id: inbound.msg_id.clone(),
        conversation_id: inbound.conversation_id.clone(),
        conversation_type: match inbound.conversation {
            Conversation::OneToOne => "1:1".into(),
            Conversation::Group => "group".into(),
        },
        user: inbound.sender_staff_id.clone(),
        text: inbound.text.clone(),
        decision: "error".into(),
        outcome: "not_answered".into(),
        ..AuditRecord::default()
    }
}

/// An accepted message still being worked on.
pub struct PendingMessage {
    pub inbound: Inbound,
    pub channel: &'static str,
    /// Whether anything was sent for it yet (see [`crate::spool`]).
    pub gate: Arc<crate::spool::Gate>,
}

/// A short, stable id for a message, shown to users on error cards.
pub fn reference(msg_id: &str) -> String {
    let digest = Sha256::digest(msg_id.as_bytes());
    hex::encode(&digest[..4])
}

/// The audit record of an answered message (sends and outcome filled by the caller).
pub fn audit_record(inbound: &Inbound, answer: &Answer, channel: &str) -> AuditRecord {
    let resolution = answer.resolution.as_ref();
    AuditRecord {
        time: Some(Timestamp::now()),
        channel: channel.to_string(),
        msg_id: inbound.msg_id.clone(),
        conversation_id: inbound.conversation_id.clone(),
        conversation_type: match inbound.conversation {
            Conversation::OneToOne => "1:1".into(),
            Conversation::Group => "group".into(),
        },
        user: inbound.sender_staff_id.clone(),
        principal: answer.principal.clone(),
        text: inbound.text.clone(),
        intent: resolution
            .and_then(|r| r.intent)
            .map(|i| i.name().to_string()),
        slots: resolution.map(|r| r.slots.clone()).unwrap_or_default(),
        source: resolution
            .and_then(|r| r.source)
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.as_str().map(str::to_string)),
        rule: resolution.and_then(|r| r.rule.clone()),
        decision: answer.decision.as_str().into(),
        reason: answer.reason.clone(),
        connector: answer.connector.clone(),
        erp_latency_ms: answer.erp_latency_ms,
        delivery: serde_json::to_value(answer.delivery)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string)),
        ..AuditRecord::default()
    }
}

/// The application's routes. `simulator` mounts the demo DingTalk under `/demo/dingtalk`
/// and the web chat at `/` ([`crate::webchat`]).
pub fn router(state: AppState, simulator: Option<Simulator>) -> Router {
    let webchat_state = state.clone();
    let mut app = Router::new()
        .route("/dingtalk/callback", post(crate::channel::http::callback))
        .route("/dingtalk/card", post(crate::channel::http::card_callback))
        .route("/events/{source}", post(crate::push::inbound::endpoint))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/charts/{file}", get(crate::chart_store::serve))
        .with_state(state);
    if let Some(sim) = simulator {
        // The web chat at `/` lives beside the simulator: demo mode only.
        app = app.merge(crate::webchat::router(webchat_state, sim.clone()));
        app = app.nest("/demo/dingtalk", sim.router());
    }
    app
}

/// The admin routes, for `server.admin_listen`: metrics, probes and reload. They stay
/// off the public port, so the callback's reverse proxy or Ingress never exposes them.
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/reload", post(admin_reload))
        .with_state(state)
}

/// Serves [`admin_router`] on `listener` until the task is dropped or aborted.
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    state: AppState,
) -> std::io::Result<()> {
    axum::serve(listener, admin_router(state)).await
}

/// What a successful reload loaded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadReport {
    /// People in the directory now.
    pub users: usize,
    /// The intent catalog's content hash now (as in `askerp_build_info`).
    pub intents_hash: String,
}

/// `POST /admin/reload`: 200 with what was loaded, or 422 with every problem (the old
/// files stay in use).
async fn admin_reload(State(state): State<AppState>) -> impl IntoResponse {
    match state.reload().await {
        Ok(report) => (
            StatusCode::OK,
            axum::Json(
                serde_json::json!({ "reloaded": true, "users": report.users, "intents_hash": report.intents_hash }),
            ),
        ),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(serde_json::json!({ "reloaded": false, "problems": e.0 })),
        ),
    }
}

/// Resolves at every SIGHUP (never elsewhere); the server reloads on each.
#[cfg(unix)]
pub async fn reload_on_hangup(state: AppState) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("SIGHUP cannot be handled; reload with POST /admin/reload.");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading.");
        let _ = state.reload().await;
    }
}

/// Ready while not shutting down and every connector answers its health check (an open
/// circuit answers at once, so a dead ERP does not make the probe hang).
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if !state.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down".to_string());
    }
    // A probe must not hang on a hung ERP: its own short deadline.
    let Ok(health) = tokio::time::timeout(Duration::from_secs(3), state.bot().erp.health()).await
    else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: connector health check timed out".to_string(),
        );
    };
    let failing: Vec<String> = health
        .into_iter()
        .filter_map(|(name, r)| r.err().map(|e| format!("connector {name}: {}", e.kind())))
        .collect();
    if failing.is_empty() {
        (StatusCode::OK, "ready".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}", failing.join("; ")),
        )
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = metrics_text(&state);
    ([("content-type", "text/plain; version=0.0.4")], text)
}

/// The Prometheus text of `/metrics`.
pub fn metrics_text(state: &AppState) -> String {
    let bot = state.bot();
    let stats = bot.erp.stats();
    let mut text = state.metrics.render(
        &[
            (
                "erp_cache_hits",
                "ERP lookups answered from askerp's cache, all connectors.",
                stats.hits.load(Ordering::Relaxed),
            ),
            (
                "erp_cache_misses",
                "ERP lookups the cache passed to a connector, all connectors (one lookup may be several attempts in askerp_erp_connector_calls_total).",
                stats.misses.load(Ordering::Relaxed),
            ),
            (
                "erp_errors",
                "ERP lookups that ended in an error, all connectors.",
                stats.errors.load(Ordering::Relaxed),
            ),
        ],
        &[
            (
                "tasks_in_flight",
                "Messages being answered right now.",
                state.tasks.len() as u64,
            ),
            (
                "dedupe_ids",
                "Message ids remembered to drop redeliveries (the dedupe window).",
                state.claims.local().len() as u64,
            ),
            (
                "dedupe_bytes",
                "Memory the remembered message ids take, in bytes.",
                state.claims.local().approx_bytes() as u64,
            ),
        ],
    );
    if let Some(llm) = &bot.llm {
        text.push_str(&llm.stats.render());
    }
    match &state.bot.shared {
        Some(store) => text.push_str(&store.stats.render("redis")),
        None => text.push_str(&crate::state::StateStats::default().render("memory")),
    }
    crate::telemetry::family(
        &mut text,
        "askerp_build_info",
        "gauge",
        "Always 1; the labels say which build, intent catalog and connector are serving.",
    );
    text.push_str(&format!(
        "askerp_build_info{{version=\"{}\",intents_hash=\"{}\",connector=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION"),
        bot.resolver.catalog().content_hash(),
        crate::telemetry::label_value(&bot.erp.name())
    ));
    text.push_str(&bot.erp.metrics_text());
    text
}

/// Serves until `shutdown` completes, then stops accepting, waits up to the configured
/// grace period for in-flight answers, and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    simulator: Option<Simulator>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(state.config.server.shutdown_grace_secs);
    let drain = Duration::from_secs(state.config.server.shutdown_drain_secs);
    let ready = Arc::clone(&state.ready);
    let tasks = state.tasks.clone();
    // Stream mode: the outbound connection to DingTalk's gateway, stopped with the server.
    let stop_stream = tokio_util::sync::CancellationToken::new();
    let stream = (state.config.dingtalk.mode == crate::config::Mode::Stream).then(|| {
        tokio::spawn(crate::channel::stream::run(
            state.clone(),
            stop_stream.clone(),
        ))
    });
    let stopping = stop_stream.clone();
    state.resume_spooled().await;
    let state_after = state.clone();
    // Once a minute: refusals beyond the sampled ones are summarized even when no new
    // refusal arrives to trigger it, and aged-out dedupe ids are dropped even when no new
    // message arrives to trigger it.
    let ticker_state = state.clone();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(REFUSAL_WINDOW);
        loop {
            every.tick().await;
            ticker_state.flush_refusals(false);
            ticker_state.claims.local().purge();
            // What another replica spooled when it stopped (a rolling update) is answered
            // by one that is still running.
            if ticker_state.bot.shared.is_some() {
                ticker_state.resume_spooled().await;
            }
        }
    });
    let syncing = directory_sync_task(&state);
    let stop_push = tokio_util::sync::CancellationToken::new();
    let pushing = crate::push::spawn(state.clone(), stop_push.clone());
    let app = router(state, simulator);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        ready.store(false, Ordering::Relaxed);
        stopping.cancel();
        // Keep accepting while the load balancer notices `/readyz` is 503, so no
        // callback in flight towards this replica is refused.
        if !drain.is_zero() {
            tracing::info!(
                drain_secs = drain.as_secs(),
                "Not ready; draining before stop."
            );
            tokio::time::sleep(drain).await;
        }
        tracing::info!("Shutting down: finishing answers in flight.");
    })
    .await?;
    stop_stream.cancel();
    ticker.abort();
    if let Some(t) = syncing {
        t.abort();
    }
    stop_push.cancel();
    if let Some(pushing) = pushing {
        // A run in progress finishes (or is recorded as interrupted by the next start).
        let _ = tokio::time::timeout(grace, pushing).await;
    }
    if let Some(stream) = stream {
        let _ = tokio::time::timeout(grace, stream).await;
    }
    tasks.close();
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        let dropped = state_after
            .record_unanswered("shutdown grace period over before the answer was delivered")
            .await;
        tracing::warn!(
            left = dropped,
            "Shutdown grace period over; unanswered messages recorded in the audit."
        );
    }
    state_after.flush_refusals(true);
    if let Err(e) = state_after.audit.close().await {
        tracing::warn!(error = %e, "Audit log could not be closed cleanly.");
    }
    Ok(())
}

/// With `directory.sync_every_secs`: syncs the directory from its sources on that
/// interval (changes audited in the server's log) and reloads when anything changed, so
/// a leaver loses access within one interval. A failed sync keeps the current directory
/// and is logged and counted; the next interval tries again.
fn directory_sync_task(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.config.directory.sync_every_secs;
    if every == 0 || !state.config.directory.has_sources() {
        return None;
    }
    let state = state.clone();
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(every));
        ticks.tick().await; // the first tick is now: the file was just loaded
        loop {
            ticks.tick().await;
            match crate::directory::sync_into(&state.config, &state.audit).await {
                Ok(report) => {
                    state.metrics.count("directory_syncs_ok");
                    if !report.changes.is_empty() {
                        tracing::info!(
                            changes = report.changes.len(),
                            "Directory changed at the scheduled sync; reloading."
                        );
                        let _ = state.reload().await;
                    }
                }
                Err(e) => {
                    state.metrics.count("directory_syncs_failed");
                    tracing::error!(error = %e, "Scheduled directory sync failed; the current directory stays in use.");
                }
            }
        }
    }))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

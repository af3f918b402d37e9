//! The pipeline: one question in, one answer out.
//!
//! ```text
//! text? ─▶ identify ─▶ understand ─▶ clarify ─▶ authorize ─▶ fetch (cache ─▶ connector)
//!       ─▶ render ─▶ Answer { decision, delivery, card }
//! ```
//!
//! Understanding is rules first, then the asker's conversation context (follow-ups and
//! answers to a clarifying question), then the optional LLM fallback; whichever found the
//! intent is the resolution's `source`. Whatever found it, clarification and policy run
//! after it, on every question.
//!
//! [`Bot::answer`] is that path and nothing else; delivering the card and writing the
//! audit record are the caller's (the server's, or the CLI's). Every stage that cannot go
//! on ends in a [`Stop`], which becomes a card too, so every question gets an answer.

use std::sync::Arc;
use std::time::Instant;

use jiff::Zoned;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::card::chart::ChartData;
use crate::card::{Card, Content, DenyReason, Failure, NotFound, Renderer};
use crate::channel::Conversation;
use crate::erp::cache::Fetched;
use crate::erp::matching::{self, Entry};
use crate::erp::{DailySales, ErpError, ErpRouter, Item, Place, PlaceKind, Places, SalesFilter};
use crate::identity::{Directory, Principal};
use crate::intent::context::{self, ContextKey, ContextStore, PlaceSlot, Turn};
use crate::intent::frame::{frame, year_before};
use crate::intent::llm::{LlmFallback, Outcome};
use crate::intent::{
    Compare, Explanation, Intent, Locale, RankBy, Resolution, Resolver, SELF_EMPLOYEE, Sensitivity,
    Slots, Source,
};
use crate::policy::{self, Delivery, Policy, Scope};

/// At most this many items are offered on a "did you mean…" card.
const MAX_ITEM_CHOICES: usize = 20;
/// At most this many customers are offered on a "did you mean…" card.
const MAX_CUSTOMER_CHOICES: usize = 5;
/// The largest best-seller list a question may ask for (the card shows fewer and says so).
const MAX_TOP_ASKED: u32 = 200;

/// The outcome class of a question, as in the CLI JSON and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
    Clarify,
    UnknownUser,
    NotUnderstood,
    /// A request to act (cancel, approve, change…): askerp only reads.
    NotSupported,
    /// A greeting or thanks, answered briefly.
    Smalltalk,
    Error,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Clarify => "clarify",
            Decision::UnknownUser => "unknown_user",
            Decision::NotUnderstood => "not_understood",
            Decision::NotSupported => "not_supported",
            Decision::Smalltalk => "smalltalk",
            Decision::Error => "error",
        }
    }
}

/// A question as the pipeline sees it, whatever channel it came from.
#[derive(Debug, Clone)]
pub struct Question {
    /// `None` when the message carried no readable text.
    pub text: Option<String>,
    pub msgtype: String,
    /// The DingTalk user id of the asker.
    pub user_id: Option<String>,
    pub conversation: Conversation,
    /// The conversation's id; with `user_id`, the key of the follow-up context.
    pub conversation_id: String,
    /// DingTalk ids of colleagues @-mentioned in the message.
    pub mentioned: Vec<String>,
    pub now: Zoned,
    /// A short id shown on error cards and written to logs and the audit record.
    pub reference: String,
}

/// The answer to a question, ready to deliver and audit.
#[derive(Debug, Clone)]
pub struct Answer {
    pub resolution: Option<Resolution>,
    pub locale: Locale,
    pub decision: Decision,
    /// The decision as the asker may perceive it: the same as `decision`, except that a
    /// concealed refusal (an order outside the asker's scope) is shown, delivered and
    /// updated in place exactly like the "not found" it pretends to be.
    pub shown_as: Decision,
    /// Why, for the audit log (not shown to users as such).
    pub reason: Option<String>,
    pub delivery: Delivery,
    pub card: Card,
    /// For a private answer asked in a group: the note the group sees instead.
    pub group_note: Option<Card>,
    /// For a private answer asked in a group: the note the group sees when the 1:1
    /// message could not be sent.
    pub undelivered_note: Option<Card>,
    pub principal: Option<String>,
    pub connector: Option<String>,
    pub erp_latency_ms: Option<u64>,
    /// The chart of a report card (its figures, in the asker's language); the delivery
    /// draws it and puts it in the markdown ([`crate::deliver`]).
    pub chart: Option<ChartData>,
    /// What the card was rendered from, kept so [`Answer::facts`] can be derived from the
    /// same content on demand. Shared, because delivery may clone the answer.
    content: Arc<Content>,
}

/// Why a question stopped before a data card.
#[derive(Debug)]
enum Stop {
    Deny(Box<DenyReason>),
    Clarify(Box<Content>, String),
    NotFound(NotFound),
    /// Refused, but answered exactly like [`Stop::NotFound`] so a refusal cannot reveal that
    /// the record exists; the reason goes to the audit only.
    Conceal(NotFound, String),
    Erp(ErpError),
}

impl Stop {
    fn deny(reason: DenyReason) -> Stop {
        Stop::Deny(Box::new(reason))
    }
}

impl From<ErpError> for Stop {
    fn from(e: ErpError) -> Stop {
        Stop::Erp(e)
    }
}

/// Everything a question needs, loaded and validated once at start-up.
pub struct Bot {
    pub resolver: Resolver,
    pub directory: Directory,
    pub policy: Policy,
    pub erp: ErpRouter,
    pub renderer: Renderer,
    pub tz: TimeZone,
    /// The last question of each (conversation, user), for follow-ups.
    pub context: Arc<dyn ContextStore>,
    /// The LLM fallback, when `llm.enabled`.
    pub llm: Option<LlmFallback>,
    /// Shared state on Redis, when `state.backend = "redis"` (the server's dedupe, send
    /// budgets and spool use the same connection).
    pub shared: Option<crate::state::RedisStore>,
}

impl Bot {
    /// Answers one question. Never panics and never returns without a card.
    #[tracing::instrument(name = "answer", skip_all, fields(reference = %q.reference, intent))]
    pub async fn answer(&self, q: &Question) -> Answer {
        let Some(text) = q.text.as_deref() else {
            let content = Content::Unsupported {
                msgtype: q.msgtype.clone(),
            };
            return self
                .reply(None, Locale::En, Decision::NotUnderstood, content)
                .because("message type without text");
        };
        let explanation = self.resolver.explain(text, &q.now);
        let mut resolution = explanation.resolution.clone();

        let Some(principal) = q.user_id.as_deref().and_then(|u| self.directory.lookup(u)) else {
            let locale = resolution.locale;
            let content = Content::UnknownUser {
                user_id: q.user_id.clone().unwrap_or_default(),
            };
            let mut answer = self
                .reply(Some(resolution), locale, Decision::UnknownUser, content)
                .because("user not in directory");
            // In a group the note names nobody: the id an admin needs goes to the asker 1:1.
            if q.conversation == Conversation::Group && q.user_id.is_some() {
                let note = self.renderer.render(
                    locale,
                    &Content::UnknownUser {
                        user_id: String::new(),
                    },
                );
                answer.delivery = Delivery::Private;
                answer.group_note = Some(note.clone());
                answer.undelivered_note = Some(note);
            }
            return answer;
        };

        let key = ContextKey {
            conversation_id: q.conversation_id.clone(),
            user_id: principal.dingtalk_user_id.clone(),
        };
        if let Some(previous) = self.context.get(&key).await {
            self.continue_from(&previous, &explanation, text, &mut resolution)
                .await;
        }
        let mut fallback_reason = None;
        if resolution.intent.is_none()
            && resolution.request.is_none()
            && resolution.smalltalk.is_none()
            && resolution.candidates.is_empty()
            && !explanation.normalized.trim().is_empty()
            && let Some(llm) = &self.llm
        {
            let catalog = self.resolver.catalog();
            match llm.resolve(catalog, text, &key.user_id, &q.now).await {
                Outcome::Understood { intent, mut slots } => {
                    // Nothing the model wrote reaches a card unless it names something known
                    // or the user wrote it.
                    let dropped = self.resolver.ground(&mut slots, text);
                    if !dropped.is_empty() {
                        tracing::info!(
                            ?dropped,
                            "Slots from the model that name nothing known were dropped."
                        );
                    }
                    resolution.intent = Some(intent);
                    resolution.slots = slots;
                    resolution.source = Some(Source::Llm);
                    // The audit record names the model where it would name the rule.
                    resolution.rule = Some(format!("llm:{}", llm.model()));
                }
                Outcome::NotUnderstood(why) => fallback_reason = Some(why),
            }
        }
        let locale = resolution.locale;

        let Some(intent) = resolution.intent else {
            if resolution.request.is_some() {
                let content = Content::NotSupported {
                    text: text.to_string(),
                };
                return self
                    .reply(Some(resolution), locale, Decision::NotSupported, content)
                    .by(principal)
                    .because("a request to act: askerp only reads");
            }
            if !resolution.candidates.is_empty() {
                let content = Content::ChooseIntent {
                    question: text.to_string(),
                    candidates: resolution.candidates.clone(),
                };
                return self
                    .reply(Some(resolution), locale, Decision::Clarify, content)
                    .by(principal)
                    .because("two intents too close to choose");
            }
            if let Some(kind) = resolution.smalltalk {
                let entries = self.help_entries(principal, locale).await;
                let content = Content::Smalltalk { kind, entries };
                return self
                    .reply(Some(resolution), locale, Decision::Smalltalk, content)
                    .by(principal);
            }
            let content = Content::NotUnderstood {
                text: text.to_string(),
            };
            let answer = self
                .reply(Some(resolution), locale, Decision::NotUnderstood, content)
                .by(principal);
            return match fallback_reason {
                Some(why) => answer.because(why),
                None => answer,
            };
        };
        tracing::Span::current().record("intent", intent.name());

        let mut slots = resolution.slots.clone();
        if intent == Intent::LeaveBalance
            && let Some(mentioned) = q.mentioned.first()
        {
            // "@Peter Wong 仲有幾多日年假?": the mention names the colleague.
            slots.employee = Some(mentioned.clone());
        }
        let missing = self.missing_slot(intent, &slots);
        // Remembered before policy: a follow-up to a refused question is checked again.
        let turn = Turn {
            intent,
            slots: slots.clone(),
            locale,
            pending: missing.clone(),
        };
        self.context.put(key, turn).await;
        if let Some(missing) = missing {
            let content = Content::Clarify {
                intent,
                slot: missing.clone(),
                question: text.to_string(),
            };
            return self
                .reply(Some(resolution), locale, Decision::Clarify, content)
                .by(principal)
                .because(&format!("missing slot {missing}"));
        }

        if !self.policy.allows(principal, intent) {
            let content = Content::Deny(DenyReason::IntentNotAllowed {
                intent,
                roles: self.policy.role_labels(principal, locale),
            });
            return self
                .reply(Some(resolution), locale, Decision::Deny, content)
                .by(principal)
                .because(&format!("no role grants {intent}"));
        }

        let started = Instant::now();
        let fetched = self.fetch(intent, &slots, principal, text, q, locale).await;
        let erp_ms = u64::try_from(started.elapsed().as_millis()).ok();
        let mut concealed = false;
        let (decision, content, reason) = match fetched {
            Ok(content) => (Decision::Allow, content, None),
            Err(Stop::Deny(why)) => {
                let reason = format!("{why:?}");
                (Decision::Deny, Content::Deny(*why), Some(reason))
            }
            Err(Stop::Clarify(content, reason)) => (Decision::Clarify, *content, Some(reason)),
            Err(Stop::NotFound(nf)) => {
                let reason = format!("not found: {nf:?}");
                (Decision::Allow, Content::NotFound(nf), Some(reason))
            }
            Err(Stop::Conceal(nf, reason)) => {
                concealed = true;
                (Decision::Deny, Content::NotFound(nf), Some(reason))
            }
            Err(Stop::Erp(e)) => {
                tracing::warn!(error = %e, "ERP call failed.");
                let failure = match e {
                    ErpError::Timeout { .. } => Failure::ErpTimeout,
                    ErpError::Credentials { .. } => Failure::ErpCredentials,
                    _ => Failure::ErpUnavailable,
                };
                let content = Content::Failure {
                    failure,
                    reference: q.reference.clone(),
                };
                (Decision::Error, content, Some(e.to_string()))
            }
        };
        let personal = self
            .resolver
            .catalog()
            .def(intent)
            .is_some_and(|d| d.sensitivity == Sensitivity::Personal);
        // What the question asked for and this answer does not give is said on the card.
        let not_honoured = match (&decision, &content) {
            (Decision::Allow, Content::NotFound(_)) => None,
            (Decision::Allow, _) => self.renderer.not_honoured(locale, &resolution.unsupported),
            _ => None,
        };
        let mut answer = self
            .reply(Some(resolution), locale, decision, content)
            .by(principal);
        if let Some(note) = not_honoured {
            answer.card.markdown.push_str("\n\n");
            answer.card.markdown.push_str(&note);
        }
        answer.reason = reason;
        answer.connector = Some(self.erp.name().to_string());
        answer.erp_latency_ms = erp_ms;
        if concealed {
            answer.shown_as = Decision::Allow;
        }
        if decision == Decision::Allow && personal {
            let sensitivity = Sensitivity::Personal;
            answer.delivery = policy::delivery(sensitivity, q.conversation);
            if answer.delivery == Delivery::Private {
                answer.group_note = Some(
                    self.renderer
                        .render(locale, &Content::PrivateNote { intent }),
                );
                answer.undelivered_note = Some(
                    self.renderer
                        .render(locale, &Content::PrivateUndelivered { intent }),
                );
            }
        }
        answer
    }

    /// Reads the message as a continuation of the asker's previous question: a follow-up
    /// that changes one slot ("and in Tsuen Wan?", "上個月呢?"), the answer to a
    /// clarifying question, or a new question of the same kind that leaves out a
    /// required slot the previous one had.
    async fn continue_from(
        &self,
        previous: &Turn,
        explanation: &Explanation,
        text: &str,
        resolution: &mut Resolution,
    ) {
        let catalog = self.resolver.catalog();
        let has_slot = |i: Intent, s: &str| catalog.def(i).is_some_and(|d| d.has_slot(s));
        match resolution.intent {
            None => {
                let places = self.erp.places().await.ok().map(|p| p.data);
                let place = |t: &str| -> Vec<PlaceSlot> {
                    let Some(places) = &places else {
                        return Vec::new();
                    };
                    [
                        (PlaceSlot::Warehouse, PlaceKind::Warehouse),
                        (PlaceSlot::Store, PlaceKind::Store),
                        (PlaceSlot::Region, PlaceKind::Region),
                    ]
                    .into_iter()
                    .filter(|(_, kind)| places.find(*kind, t).is_some())
                    .map(|(slot, _)| slot)
                    .collect()
                };
                let periods: Vec<_> = explanation.periods.iter().map(|(_, _, p)| *p).collect();
                let Some(slots) = context::follow_up(
                    previous,
                    &periods,
                    &explanation.matched_text,
                    &has_slot,
                    &place,
                ) else {
                    return;
                };
                resolution.intent = Some(previous.intent);
                resolution.slots = restore_as_written(slots, &previous.slots, explanation);
                resolution.source = Some(Source::Context);
                resolution.rule = None;
                // "SO-2026-00123" says nothing about the language; keep the previous one.
                if !text.chars().any(char::is_alphabetic) {
                    resolution.locale = previous.locale;
                }
            }
            Some(intent) if intent == previous.intent => {
                let Some(def) = catalog.def(intent) else {
                    return;
                };
                let mut filled = false;
                for slot in def.slots.iter().filter(|s| s.required) {
                    if !resolution.slots.has(&slot.name) {
                        filled |=
                            context::copy_slot(&previous.slots, &mut resolution.slots, &slot.name);
                    }
                }
                if filled {
                    resolution.source = Some(Source::Context);
                }
            }
            Some(_) => {}
        }
    }

    /// What the asker's roles allow, each with example questions in their language.
    ///
    /// An example naming an order is kept only when the order exists and lies in the
    /// asker's scope: for anyone else it would answer "not found" (see `Stop::Conceal`).
    async fn help_entries(
        &self,
        principal: &Principal,
        locale: Locale,
    ) -> Vec<(Intent, Vec<String>)> {
        let catalog = self.resolver.catalog();
        let intents: Vec<Intent> = self
            .policy
            .allowed_intents(principal)
            .into_iter()
            .filter(|i| *i != Intent::Help)
            .collect();
        let numbers = std::cell::RefCell::new(std::collections::BTreeSet::new());
        for i in &intents {
            let _ = catalog.examples_where(*i, locale, |s| {
                if let Some(o) = &s.order {
                    numbers.borrow_mut().insert(o.clone());
                }
                false
            });
        }
        let numbers = numbers.into_inner();
        let mut visible = std::collections::HashSet::new();
        for number in numbers {
            if let Ok(fetched) = self.erp.order(&number).await
                && let Some(order) = fetched.data
                && covers(
                    &self.policy.sales_scope(principal, Intent::SalesOrderStatus),
                    &order.store,
                )
            {
                visible.insert(number);
            }
        }
        intents
            .into_iter()
            .map(|i| {
                (
                    i,
                    catalog.examples_where(i, locale, |s| {
                        self.names_known(s) && s.order.as_ref().is_none_or(|o| visible.contains(o))
                    }),
                )
            })
            .collect()
    }

    /// Whether the customer and item an example names exist in the connected ERP, as far
    /// as its vocabulary says (a connector that lists no customers or items cannot rule
    /// an example out).
    fn names_known(&self, slots: &Slots) -> bool {
        let lexicon = self.resolver.lexicon();
        let vocab = &lexicon.vocab;
        let customer_ok = match slots.customer.as_deref() {
            Some(c) if !vocab.customers.is_empty() => {
                let entries: Vec<Entry<'_>> = vocab
                    .customers
                    .iter()
                    .map(|n| Entry {
                        sku: "",
                        names: vec![n.as_str()],
                    })
                    .collect();
                matching::unique_best(&matching::rank(c, &entries)).is_some_and(|h| h.edits == 0)
            }
            _ => true,
        };
        let item_ok = match slots.item.as_deref() {
            Some(i) if !vocab.items.is_empty() => {
                let entries: Vec<Entry<'_>> = vocab
                    .items
                    .iter()
                    .map(|(item, aliases)| Entry {
                        sku: &item.sku,
                        names: [item.name_en.as_str(), item.name_zh.as_str()]
                            .into_iter()
                            .chain(aliases.iter().map(String::as_str))
                            .collect(),
                    })
                    .collect();
                matching::rank(i, &entries)
                    .first()
                    .is_some_and(|h| h.quality != matching::Quality::Fuzzy)
            }
            _ => true,
        };
        customer_ok && item_ok
    }

    /// The first required slot the intent's definition lists that has no value.
    fn missing_slot(&self, intent: Intent, slots: &Slots) -> Option<String> {
        let def = self.resolver.catalog().def(intent)?;
        def.slots
            .iter()
            .find(|s| s.required && !slots.has(&s.name))
            .map(|s| s.name.clone())
    }

    /// Reads the answer's data from the ERP, applying the data-dependent parts of the
    /// policy (sales scope, a colleague's leave) on the way.
    async fn fetch(
        &self,
        intent: Intent,
        slots: &Slots,
        principal: &Principal,
        text: &str,
        q: &Question,
        locale: Locale,
    ) -> Result<Content, Stop> {
        let today = q.now.date();
        match intent {
            Intent::Help => Ok(Content::Help {
                entries: self.help_entries(principal, locale).await,
            }),
            Intent::InventoryStock => {
                let query = slots.item.clone().unwrap_or_default();
                let places = self.erp.places().await?.data;
                let warehouse = self.place(&places, PlaceKind::Warehouse, &slots.warehouse)?;
                let items = self.erp.find_items(&query).await?.data;
                let item = match one_item(&query, items) {
                    Ok(item) => item,
                    Err(candidates) if candidates.is_empty() => {
                        return Err(Stop::NotFound(NotFound::Item(query)));
                    }
                    Err(candidates) => {
                        let content = Content::ChooseItem {
                            question: text.to_string(),
                            candidates,
                        };
                        return Err(Stop::Clarify(
                            Box::new(content),
                            "several items match".into(),
                        ));
                    }
                };
                let skus = vec![item.sku.clone()];
                let stock = self
                    .erp
                    .stock(&skus, warehouse.as_ref().map(|w| w.code.as_str()))
                    .await?;
                Ok(Content::Stock {
                    query,
                    warehouse,
                    lines: stock.data,
                    warehouses: places.of_kind(PlaceKind::Warehouse).cloned().collect(),
                    as_of: stock.as_of,
                })
            }
            Intent::InventoryLowStock => {
                let places = self.erp.places().await?.data;
                let warehouse = self.place(&places, PlaceKind::Warehouse, &slots.warehouse)?;
                let low = self
                    .erp
                    .low_stock(warehouse.as_ref().map(|w| w.code.as_str()))
                    .await?;
                Ok(Content::LowStock {
                    warehouse,
                    lines: low.data,
                    as_of: low.as_of,
                })
            }
            Intent::SalesSummary | Intent::SalesTopItems | Intent::ReportSales => {
                // The catalog makes `period` required, so this only guards a catalog
                // loaded from a directory that forgot to.
                let period = slots.period.ok_or_else(|| {
                    let content = Content::Clarify {
                        intent,
                        slot: "period".into(),
                        question: text.to_string(),
                    };
                    Stop::Clarify(Box::new(content), "missing slot period".into())
                })?;
                let framed = frame(period, today, self.resolver.calendar());
                let slots = &self.known_customer(slots, text)?;
                let places = self.erp.places().await?.data;
                let (filter, regions, stores) =
                    self.sales_filter(intent, slots, framed.period, principal, &places)?;
                // "vs last year": the same dates one year earlier (a period to date
                // compares the same days last year); a sales question that asks for it
                // gets the report, which shows both.
                let last_year = slots.compare == Some(Compare::LastYear);
                let compared = if last_year {
                    year_before(framed.period)
                } else {
                    framed.previous
                };
                let previous_filter = SalesFilter {
                    start: compared.start,
                    end: compared.end,
                    ..filter.clone()
                };
                // "by month", `按门店`: a breakdown is a report too, with its rows.
                let breakdown = slots.breakdown;
                match intent {
                    Intent::SalesSummary if !last_year && breakdown.is_none() => {
                        let s = self.erp.sales_summary(&filter).await?;
                        Ok(Content::Sales {
                            summary: s.data,
                            regions,
                            stores,
                            customer: filter.customer.clone(),
                            to_date: framed.to_date,
                            previous: framed.previous,
                            as_of: s.as_of,
                        })
                    }
                    Intent::SalesTopItems => {
                        let asked = slots.limit.unwrap_or(5).clamp(1, MAX_TOP_ASKED);
                        let rank_by = slots.rank_by.unwrap_or(RankBy::Revenue);
                        // By quantity, every item sold is read and ranked here: connectors
                        // rank by revenue.
                        let fetch_limit = match rank_by {
                            RankBy::Revenue => asked,
                            RankBy::Quantity => MAX_TOP_ASKED,
                        };
                        let top = self.erp.top_items(&filter, fetch_limit).await?;
                        let mut items = top.data;
                        if rank_by == RankBy::Quantity {
                            rank_by_quantity(&mut items);
                        }
                        items.truncate(usize::try_from(asked).unwrap_or(usize::MAX));
                        Ok(Content::TopItems {
                            period: framed.period,
                            items,
                            regions,
                            stores,
                            to_date: framed.to_date,
                            previous: framed.previous,
                            rank_by,
                            as_of: top.as_of,
                        })
                    }
                    _ => {
                        let (current, previous, top, daily, previous_daily) = tokio::join!(
                            self.erp.sales_summary(&filter),
                            self.erp.sales_summary(&previous_filter),
                            self.erp.top_items(&filter, 5),
                            self.erp.daily_sales(&filter),
                            self.erp.daily_sales(&previous_filter),
                        );
                        let (current, previous, top) = (current?, previous?, top?);
                        let rows = match breakdown {
                            Some(by) => Some(
                                crate::breakdown::fetch(
                                    &self.erp,
                                    &filter,
                                    &current.data,
                                    by,
                                    &places,
                                    *self.resolver.calendar(),
                                )
                                .await?,
                            ),
                            None => None,
                        };
                        // The trend is a picture of figures the card already has: a
                        // connector that cannot give them per day costs the chart its
                        // lines, never the report.
                        let per_day = |r: Result<Fetched<Vec<DailySales>>, ErpError>| {
                            r.map(|f| f.data).unwrap_or_else(|e| {
                                tracing::warn!(error = %e, "Daily sales unavailable; chart without trend.");
                                Vec::new()
                            })
                        };
                        Ok(Content::Report {
                            current: current.data,
                            previous: previous.data,
                            top: top.data,
                            regions,
                            stores,
                            to_date: framed.to_date,
                            last_year,
                            daily: per_day(daily),
                            previous_daily: per_day(previous_daily),
                            breakdown: rows,
                            as_of: current.as_of,
                        })
                    }
                }
            }
            Intent::SalesOrderStatus => {
                let number = slots.order.clone().unwrap_or_default();
                let fetched = self.erp.order(number.trim()).await?;
                let Some(order) = fetched.data else {
                    return Err(Stop::NotFound(NotFound::Order(number)));
                };
                let scope = self.policy.sales_scope(principal, intent);
                if !covers(&scope, &order.store) {
                    // Outside the asker's scope an order does not exist for them: the same
                    // card as an unknown number, with no store named and no further ERP
                    // call, so neither the text nor the timing tells the two apart. The
                    // audit keeps the truth.
                    let reason =
                        format!("order {number} outside scope (store {})", order.store.code);
                    return Err(Stop::Conceal(NotFound::Order(number), reason));
                }
                Ok(Content::Order {
                    order,
                    as_of: fetched.as_of,
                })
            }
            Intent::LeaveBalance => {
                let (employee_id, own) = self.leave_subject(slots, principal, text).await?;
                let fetched = self.erp.leave_balance(&employee_id, today).await?;
                let Some(balance) = fetched.data else {
                    let who = slots
                        .employee
                        .clone()
                        .unwrap_or_else(|| principal.name.clone());
                    return Err(Stop::NotFound(NotFound::Employee(who)));
                };
                Ok(Content::Leave {
                    balance,
                    leave_type: slots.leave_type,
                    own,
                    as_of: fetched.as_of,
                })
            }
        }
    }

    /// The slots with the customer spelled as the ERP knows it. A customer the connector's
    /// list does not have is "not found" with the closest names to choose from, never a
    /// total of zero; several equally close names are a choice too. A connector that
    /// cannot list its customers leaves the name as written.
    fn known_customer(&self, slots: &Slots, question: &str) -> Result<Slots, Stop> {
        let Some(wanted) = slots
            .customer
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        else {
            return Ok(slots.clone());
        };
        let known = self.resolver.lexicon().vocab.customers.clone();
        if known.is_empty() {
            return Ok(slots.clone());
        }
        let entries: Vec<Entry<'_>> = known
            .iter()
            .map(|c| Entry {
                sku: "",
                names: vec![c.as_str()],
            })
            .collect();
        let hits = matching::rank(wanted, &entries);
        // A name with a typo is not taken silently: the asker confirms it with a button.
        if let Some(best) = matching::unique_best(&hits)
            && best.edits == 0
            && best.quality != matching::Quality::Fuzzy
            && let Some(name) = known.get(best.index)
        {
            let mut slots = slots.clone();
            slots.customer = Some(name.clone());
            return Ok(slots);
        }
        let mut suggestions: Vec<String> = hits
            .iter()
            .filter_map(|h| known.get(h.index).cloned())
            .take(MAX_CUSTOMER_CHOICES)
            .collect();
        if suggestions.is_empty() {
            suggestions = matching::closest(wanted, &entries, MAX_CUSTOMER_CHOICES)
                .into_iter()
                .filter_map(|i| known.get(i).cloned())
                .collect();
        }
        Err(Stop::NotFound(NotFound::Customer {
            text: wanted.to_string(),
            suggestions,
            question: question.to_string(),
        }))
    }

    /// Whose leave is asked about, after checking the asker may see it.
    async fn leave_subject(
        &self,
        slots: &Slots,
        principal: &Principal,
        text: &str,
    ) -> Result<(String, bool), Stop> {
        let wanted = slots.employee.as_deref().unwrap_or(SELF_EMPLOYEE).trim();
        let is_self = wanted == SELF_EMPLOYEE
            || wanted == principal.dingtalk_user_id
            || wanted.eq_ignore_ascii_case(&principal.name)
            || (!principal.name_zh.is_empty() && wanted == principal.name_zh);
        if is_self {
            return Ok((principal.employee_id.clone(), true));
        }
        // Refuse before looking anyone up, so the answer does not reveal who exists.
        if !self.policy.may_see_others_leave(principal) {
            return Err(Stop::deny(DenyReason::OthersLeave));
        }
        if let Some(p) = self.directory.lookup(wanted) {
            return Ok((p.employee_id.clone(), false));
        }
        let mut found = self.erp.find_employees(wanted).await?.data;
        // "Wong Siu-ming" for "Wong Siu Ming": HR systems write given names both ways.
        if found.is_empty() && wanted.contains('-') {
            found = self
                .erp
                .find_employees(&wanted.replace('-', " "))
                .await?
                .data;
        }
        match found.len() {
            0 => Err(Stop::NotFound(NotFound::Employee(wanted.to_string()))),
            1 => {
                let e = found.remove(0);
                let own = e.id == principal.employee_id;
                Ok((e.id, own))
            }
            _ => Err(Stop::Clarify(
                Box::new(Content::ChooseEmployee {
                    question: text.to_string(),
                    candidates: found.into_iter().take(5).collect(),
                }),
                "several employees match".into(),
            )),
        }
    }

    /// Matches a place slot against several kinds, in order of preference.
    fn place_of_kinds(
        &self,
        places: &Places,
        kinds: &[PlaceKind],
        slot: &Option<String>,
    ) -> Result<Option<Place>, Stop> {
        let Some(text) = slot.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        kinds
            .iter()
            .find_map(|k| places.find(*k, text))
            .cloned()
            .map(Some)
            .ok_or_else(|| Stop::NotFound(NotFound::Place(kinds[0], text.to_string())))
    }

    /// Matches a place slot to the connector's catalog.
    fn place(
        &self,
        places: &Places,
        kind: PlaceKind,
        slot: &Option<String>,
    ) -> Result<Option<Place>, Stop> {
        match slot.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(text) => places
                .find(kind, text)
                .cloned()
                .map(Some)
                .ok_or_else(|| Stop::NotFound(NotFound::Place(kind, text.to_string()))),
        }
    }

    /// Builds the sales filter and applies the principal's sales scope: a question
    /// outside it is refused, and a question without a place is narrowed to it.
    fn sales_filter(
        &self,
        intent: Intent,
        slots: &Slots,
        period: crate::intent::Period,
        principal: &Principal,
        places: &Places,
    ) -> Result<(SalesFilter, Vec<Place>, Vec<Place>), Stop> {
        // People say "sales in Causeway Bay" as readily as "sales in Kowloon": a place
        // slot matches a region or a store, whichever the catalog knows it as.
        let requested: Vec<Place> = [
            (&slots.region, [PlaceKind::Region, PlaceKind::Store]),
            (&slots.store, [PlaceKind::Store, PlaceKind::Region]),
        ]
        .into_iter()
        .map(|(slot, kinds)| self.place_of_kinds(places, &kinds, slot))
        .collect::<Result<Vec<_>, Stop>>()?
        .into_iter()
        .flatten()
        .collect();
        let scope = self.policy.sales_scope(principal, intent);
        if let Some(outside) = requested.iter().find(|p| !covers(&scope, p)) {
            return Err(Stop::deny(DenyReason::OutOfScope {
                requested: outside.clone(),
                allowed: allowed_places(&scope, places),
            }));
        }
        let narrowed = if requested.is_empty() && scope != Scope::All {
            // No place asked for: the answer covers what the asker may see.
            let allowed = allowed_places(&scope, places);
            if allowed.is_empty() {
                return Err(Stop::deny(DenyReason::OutOfScope {
                    requested: whole_company(),
                    allowed,
                }));
            }
            allowed
        } else {
            requested
        };
        let (regions, stores): (Vec<Place>, Vec<Place>) = narrowed
            .into_iter()
            .partition(|p| p.kind == PlaceKind::Region);
        let filter = SalesFilter {
            start: period.start,
            end: period.end,
            regions: regions.iter().map(|p| p.code.clone()).collect(),
            stores: stores.iter().map(|p| p.code.clone()).collect(),
            customer: slots.customer.clone().filter(|c| !c.trim().is_empty()),
        };
        Ok((filter, regions, stores))
    }

    fn reply(
        &self,
        resolution: Option<Resolution>,
        locale: Locale,
        decision: Decision,
        content: Content,
    ) -> Answer {
        Answer {
            card: self.renderer.render(locale, &content),
            chart: self.renderer.chart(locale, &content),
            content: Arc::new(content),
            resolution,
            locale,
            decision,
            shown_as: decision,
            reason: None,
            delivery: Delivery::Conversation,
            group_note: None,
            undelivered_note: None,
            principal: None,
            connector: None,
            erp_latency_ms: None,
        }
    }
}

impl Answer {
    /// The figures the card shows, as typed JSON ([`crate::card::facts`]); `None` for
    /// cards without figures. Derived when asked for (`ask --json`, exports, tests)
    /// rather than for every answer: the server never reads them, and building them cost
    /// about a tenth of the CPU of an answer (BENCHMARKS.md, callgrind).
    pub fn facts(&self) -> Option<serde_json::Value> {
        crate::card::facts::facts(&self.content)
    }

    fn by(mut self, principal: &Principal) -> Answer {
        self.principal = Some(principal.employee_id.clone());
        self
    }

    fn because(mut self, reason: &str) -> Answer {
        self.reason = Some(reason.to_string());
        self
    }
}

/// The one item the text names, or the candidates to choose from (empty: none match).
/// The connector found the items; the matcher decides whether one stands out (its SKU,
/// its exact name, or the only item whose every word the text contains), so the bot asks
/// "did you mean…" rather than guessing.
fn one_item(query: &str, mut items: Vec<Item>) -> Result<Item, Vec<Item>> {
    if items.len() == 1 {
        return Ok(items.remove(0));
    }
    let best = {
        let entries: Vec<Entry<'_>> = items
            .iter()
            .map(|i| Entry {
                sku: &i.sku,
                names: vec![i.name_en.as_str(), i.name_zh.as_str()],
            })
            .collect();
        matching::unique_best(&matching::rank(query, &entries)).map(|h| h.index)
    };
    match best {
        Some(i) if i < items.len() => Ok(items.swap_remove(i)),
        _ => {
            items.truncate(MAX_ITEM_CHOICES);
            Err(items)
        }
    }
}

/// Best sellers by quantity, most first. Quantities are compared only within one unit:
/// the unit with the most sold (by revenue) comes first, and each unit's items are ranked
/// by quantity; revenue breaks ties.
fn rank_by_quantity(items: &mut [crate::erp::TopItem]) {
    let mut units: Vec<(String, rust_decimal::Decimal)> = Vec::new();
    for t in items.iter() {
        match units.iter_mut().find(|(u, _)| *u == t.quantity.unit) {
            Some((_, revenue)) => *revenue = revenue.saturating_add(t.revenue.amount),
            None => units.push((t.quantity.unit.clone(), t.revenue.amount)),
        }
    }
    units.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rank = |unit: &str| {
        units
            .iter()
            .position(|(u, _)| u == unit)
            .unwrap_or(usize::MAX)
    };
    items.sort_by(|a, b| {
        rank(&a.quantity.unit)
            .cmp(&rank(&b.quantity.unit))
            .then_with(|| b.quantity.value.cmp(&a.quantity.value))
            .then_with(|| b.revenue.amount.cmp(&a.revenue.amount))
            .then_with(|| a.item.sku.cmp(&b.item.sku))
    });
}

/// The pseudo-place a refusal names when an asker with no stores or regions asks about
/// everything.
fn whole_company() -> Place {
    Place {
        code: String::new(),
        kind: PlaceKind::Region,
        name_en: "the whole company".into(),
        name_zh: "全公司".into(),
        region: None,
        aliases: vec![],
    }
}

/// Follow-up slots are read from the folded matching text ("荃灣" matches as "荃湾");
/// the slot contract is "as the user wrote it", so each new text slot is mapped back to
/// the message. Slots carried over from the previous turn are already as written.
fn restore_as_written(mut slots: Slots, previous: &Slots, explanation: &Explanation) -> Slots {
    let folded = crate::intent::fold::fold(&explanation.normalized);
    let restore = |new: &mut Option<String>, old: &Option<String>| {
        if new != old
            && let Some(value) = new.as_deref()
            && let Some(original) = folded.restore(&explanation.normalized, value)
        {
            *new = Some(original.to_string());
        }
    };
    restore(&mut slots.item, &previous.item);
    restore(&mut slots.warehouse, &previous.warehouse);
    restore(&mut slots.region, &previous.region);
    restore(&mut slots.store, &previous.store);
    restore(&mut slots.customer, &previous.customer);
    slots
}

/// Whether a scope covers a store, warehouse or region.
pub(crate) fn covers(scope: &Scope, place: &Place) -> bool {
    match scope {
        Scope::All => true,
        Scope::Regions(regions) => match place.kind {
            PlaceKind::Region => regions.contains(&place.code),
            _ => place.region.as_ref().is_some_and(|r| regions.contains(r)),
        },
        Scope::Stores(stores) => place.kind == PlaceKind::Store && stores.contains(&place.code),
    }
}

/// The places a scope stands for, for refusals and default filters.
fn allowed_places(scope: &Scope, places: &Places) -> Vec<Place> {
    let codes: &[String] = match scope {
        Scope::All => return Vec::new(),
        Scope::Regions(c) | Scope::Stores(c) => c,
    };
    codes
        .iter()
        .filter_map(|c| places.by_code(c).cloned())
        .collect()
}

/// Shared handle to the bot.
pub type SharedBot = Arc<Bot>;

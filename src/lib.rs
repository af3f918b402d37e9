//! askerp: ask the company ERP from DingTalk.
//!
//! One request takes one straight path, one module per stage:
//!
//! - [`channel`]: DingTalk ingress (HTTP callback) → a verified, normalized [`channel::Inbound`].
//! - [`dedupe`]: drops redeliveries of a message already handled.
//! - [`identity`]: DingTalk user → [`identity::Principal`] (employee, roles, scope).
//! - [`directory`]: builds the directory file from an HR CSV export and DingTalk's contacts.
//! - [`intent`]: text → intent and typed slots, by rules kept as data in `intents/`.
//! - [`policy`]: role, intent, scope and conversation type → allow / deny / allow privately.
//! - [`erp`]: the canonical data model, the connector trait, the cache, the demo ERP.
//! - [`card`]: canonical results → a card in the asker's language.
//! - [`dingtalk`]: the DingTalk wire formats, signing, the outbound client, the simulator.
//! - [`audit`]: one hash-chained JSON line per handled message.
//! - [`spool`]: messages accepted but unanswered at shutdown, answered by the next start.
//! - [`push`]: the bot speaks first: scheduled reports and ERP alerts.
//!
//! [`pipeline`] strings the stages together; [`server`] and [`cli`] are the two ways in.

pub mod audit;
pub mod breakdown;
pub mod card;
pub mod channel;
pub mod chart_store;
pub mod cli;
pub mod config;
pub mod dedupe;
pub mod deliver;
pub mod dingtalk;
pub mod directory;
pub mod erp;
pub mod identity;
pub mod intent;
pub mod metrics;
pub mod pipeline;
pub mod policy;
pub mod push;
pub mod server;
pub mod setup;
pub mod spool;
pub mod state;
pub mod telemetry;
pub mod webchat;

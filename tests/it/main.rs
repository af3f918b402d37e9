//! End-to-end tests: signed DingTalk callbacks in, cards out through the simulator.

mod support;

mod answers;
mod audit;
mod breakdowns;
mod buttons;
mod callback;
mod charts;
mod chat;
mod check;
mod cli;
mod deploy;
mod directory;
mod docs;
mod events;
mod followup;
mod leaks;
mod llm;
mod load;
mod metrics;
mod odata;
mod odoo;
mod operator;
mod push;
mod reload;
mod replicas;
mod reports;
mod sql;
mod stream;
mod tryton;
mod webchat;

//! End-to-end tests: signed DingTalk callbacks in, cards out through the simulator.

mod support;

mod answers;
mod callback;
mod cli;
mod docs;
mod followup;
mod llm;
mod odata;
mod odoo;
mod reports;
mod sql;
mod stream;
mod tryton;

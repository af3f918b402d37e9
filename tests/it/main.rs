//! End-to-end tests: signed DingTalk callbacks in, cards out through the simulator.

mod support;

mod answers;
mod callback;
mod cli;
mod directory;
mod followup;
mod leaks;
mod llm;
mod odata;
mod odoo;
mod sql;
mod stream;
mod tryton;

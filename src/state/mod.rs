//! Shared state: what every replica of askerp must agree on, so that two pods behind one
//! load balancer (or two Stream connections of one app) behave like one bot.
//!
//! | part | memory (one process) | redis (any number of replicas) |
//! |---|---|---|
//! | message dedupe | [`crate::dedupe::Deduper`] | two-phase claim: in flight (with a heartbeat), then done ([`claims`]) |
//! | follow-up context | moka | one key per (conversation, user), same expiry ([`context`]) |
//! | send budget per conversation | sliding minute in process | sliding minute in a sorted set, Redis' clock ([`RedisStore::take_send_slot`]) |
//! | where each card was delivered | moka | one key per `outTrackId` |
//! | LLM fallback cache and per-user limit | moka / a map | keys with the same expiry |
//! | shutdown spool | `<audit.path>.spool` | a list any replica takes from |
//!
//! **When Redis fails** (down, slow past `state.timeout_ms`), a replica keeps answering
//! with its own memory for that command and says so: every fallback is counted
//! (`askerp_state_fallbacks_total{part=…}`), logged, and a message deduped only locally
//! carries `state: degraded` in its audit record. The one thing that can then go wrong is
//! that a message delivered to two replicas during the outage is answered by both — never
//! silently, as both records show it. Nothing crashes, and the replica goes back to Redis
//! by itself once it answers again (the connection manager reconnects).

pub mod claims;
pub mod context;
mod redis_store;

pub use redis_store::{RedisStore, StateError};

use std::sync::atomic::{AtomicU64, Ordering};

/// The parts of shared state whose fallbacks are counted, as the `part` label.
pub const PARTS: &[&str] = &[
    "dedupe",
    "context",
    "budget",
    "cards",
    "llm_cache",
    "llm_rate",
    "spool",
];

/// Counters of the shared state, rendered on `/metrics`.
#[derive(Debug, Default)]
pub struct StateStats {
    /// Redis commands that failed or timed out.
    pub errors: AtomicU64,
    /// Fallbacks to this replica's memory, by [`PARTS`] index.
    fallbacks: [AtomicU64; 7],
}

impl StateStats {
    /// Counts one fallback of `part` (one of [`PARTS`]).
    pub fn fallback(&self, part: &str) {
        if let Some(i) = PARTS.iter().position(|p| *p == part) {
            self.fallbacks[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Fallbacks so far, by part, in [`PARTS`] order.
    pub fn fallbacks(&self) -> Vec<(&'static str, u64)> {
        PARTS
            .iter()
            .zip(&self.fallbacks)
            .map(|(p, n)| (*p, n.load(Ordering::Relaxed)))
            .collect()
    }
}

impl StateStats {
    /// The Prometheus text of these counters; every part present from start at 0.
    pub fn render(&self, backend: &str) -> String {
        let mut out = String::new();
        crate::telemetry::family(
            &mut out,
            "askerp_state_info",
            "gauge",
            "Always 1; the label says where shared state lives (memory: this process only).",
        );
        out.push_str(&format!("askerp_state_info{{backend=\"{backend}\"}} 1\n"));
        crate::telemetry::family(
            &mut out,
            "askerp_state_errors_total",
            "counter",
            "Redis commands that failed or timed out.",
        );
        out.push_str(&format!(
            "askerp_state_errors_total {}\n",
            self.errors.load(Ordering::Relaxed)
        ));
        crate::telemetry::family(
            &mut out,
            "askerp_state_fallbacks_total",
            "counter",
            "Times this replica used its own memory because Redis did not answer, by part.",
        );
        for (part, n) in self.fallbacks() {
            out.push_str(&format!(
                "askerp_state_fallbacks_total{{part=\"{part}\"}} {n}\n"
            ));
        }
        out
    }
}

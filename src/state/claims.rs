//! Message dedupe in two phases, shared by every replica.
//!
//! A message is first **in flight** — held by the replica answering it, under a short
//! lease that a heartbeat renews while the answer is being made — and then **done** for
//! the whole dedupe window. So:
//! - the same message delivered to two replicas (DingTalk's retry, two Stream
//!   connections, a replay) is answered once: the second replica finds it in flight and
//!   waits until it is done;
//! - a replica that dies mid-answer stops its heartbeat, the lease runs out
//!   (`state.in_flight_secs`), and the redelivery is answered by whoever gets it — once.
//!
//! With the memory backend this is the process-local [`Deduper`] (a dying process takes
//! its memory with it; the shutdown spool covers the graceful case).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::RedisStore;
use super::redis_store::ClaimReply;
use crate::dedupe::Deduper;

/// What [`MessageClaims::claim`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This replica answers it. `degraded`: Redis did not answer, so only this replica's
    /// own memory says the message is new (see [`crate::state`]).
    Answer { degraded: bool },
    /// Answered already (or being answered by this replica).
    Duplicate,
    /// Another replica holds it in flight; [`MessageClaims::wait`] decides.
    InFlightElsewhere,
}

/// Two-phase message claims. Cheap to clone.
#[derive(Clone)]
pub struct MessageClaims {
    local: Deduper,
    shared: Option<RedisStore>,
    ttl: Duration,
    lease: Duration,
}

impl MessageClaims {
    pub fn new(ttl: Duration, lease: Duration, shared: Option<RedisStore>) -> MessageClaims {
        MessageClaims {
            local: Deduper::new(ttl),
            shared,
            ttl,
            lease: lease.max(Duration::from_secs(1)),
        }
    }

    /// This replica's own memory of message ids (sizes for `/metrics`).
    pub fn local(&self) -> &Deduper {
        &self.local
    }

    fn key(store: &RedisStore, msg_id: &str) -> String {
        store.key("msg", msg_id)
    }

    /// Decides whether this replica answers `msg_id` now. Without Redis, or when it does
    /// not answer, the local memory decides (and the claim says it was degraded).
    pub async fn claim(&self, msg_id: &str) -> Claim {
        let Some(store) = &self.shared else {
            return if self.local.first_time(msg_id) {
                Claim::Answer { degraded: false }
            } else {
                Claim::Duplicate
            };
        };
        match store.claim(&Self::key(store, msg_id), self.lease).await {
            Ok(ClaimReply::Claimed) => {
                // Remembered locally too, for the fallback should Redis go away later.
                self.local.first_time(msg_id);
                Claim::Answer { degraded: false }
            }
            Ok(ClaimReply::Done) => Claim::Duplicate,
            Ok(ClaimReply::InFlight) => Claim::InFlightElsewhere,
            Err(e) => {
                store.stats.fallback("dedupe");
                tracing::warn!(error = %e, msg_id, "Shared dedupe unavailable; this replica's memory decides.");
                if self.local.first_time(msg_id) {
                    Claim::Answer { degraded: true }
                } else {
                    Claim::Duplicate
                }
            }
        }
    }

    /// For a message in flight at another replica: waits until that replica marks it done
    /// (→ `Duplicate`) or its lease runs out because it died (→ `Answer`), checking a few
    /// times a second, for at most a little more than one lease.
    pub async fn wait(&self, msg_id: &str) -> Claim {
        let deadline = Instant::now() + self.lease + Duration::from_secs(1);
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            match self.claim(msg_id).await {
                Claim::InFlightElsewhere if Instant::now() < deadline => continue,
                // Still held after a whole lease: the other replica is alive and answering.
                Claim::InFlightElsewhere => return Claim::Duplicate,
                other => return other,
            }
        }
    }

    /// Keeps this replica's claim on `msg_id` alive until the returned guard is dropped
    /// (the answer finished, or the task died: then the lease runs out).
    pub fn hold(&self, msg_id: &str) -> Holding {
        let Some(store) = self.shared.clone() else {
            return Holding(None);
        };
        let key = Self::key(&store, msg_id);
        let lease = self.lease;
        let task = tokio::spawn(async move {
            let every = lease / 3;
            loop {
                tokio::time::sleep(every).await;
                match store.heartbeat(&key, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(
                            key,
                            "Claim on the message lost (lease ran out); another replica may answer it too."
                        );
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "Claim heartbeat failed."),
                }
            }
        });
        Holding(Some(Arc::new(task.abort_handle())))
    }

    /// Marks `msg_id` answered for the rest of the dedupe window.
    pub async fn done(&self, msg_id: &str) {
        if let Some(store) = &self.shared
            && let Err(e) = store.done(&Self::key(store, msg_id), self.ttl).await
        {
            store.stats.fallback("dedupe");
            tracing::warn!(error = %e, msg_id, "Could not mark the message answered in shared state; the in-flight claim will expire and a redelivery would be answered again.");
        }
    }

    /// Forgets the message everywhere (this replica's memory and its Redis claim), so a
    /// redelivery is answered: the answer failed before anything was sent.
    pub async fn forget(&self, msg_id: &str) {
        self.local.forget(msg_id);
        self.release(msg_id).await;
    }

    /// Gives the claim back, so a redelivery is answered (nothing was sent for it).
    pub async fn release(&self, msg_id: &str) {
        if let Some(store) = &self.shared
            && let Err(e) = store.release(&Self::key(store, msg_id)).await
        {
            tracing::warn!(error = %e, msg_id, "Could not release the message's claim; it expires by itself.");
        }
    }
}

/// Keeps a claim alive while it lives.
pub struct Holding(Option<Arc<tokio::task::AbortHandle>>);

impl Drop for Holding {
    fn drop(&mut self) {
        if let Some(h) = &self.0 {
            h.abort();
        }
    }
}

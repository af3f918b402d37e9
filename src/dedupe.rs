//! Dedupe: DingTalk redelivers messages (retries, Stream redelivery after a missed ACK),
//! and a replayed callback within the signature window looks genuine. Each `msgId` is
//! handled once within the time-to-live.

use std::time::Duration;

use moka::future::Cache;

/// Remembers recently seen message ids.
#[derive(Debug, Clone)]
pub struct Deduper {
    seen: Cache<String, ()>,
}

impl Deduper {
    pub fn new(ttl: Duration) -> Deduper {
        Deduper {
            seen: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// True the first time `msg_id` is seen; false for every redelivery. Atomic under
    /// concurrency: of two simultaneous deliveries exactly one gets `true`.
    pub async fn first_time(&self, msg_id: &str) -> bool {
        self.seen
            .entry_by_ref(msg_id)
            .or_insert(())
            .await
            .is_fresh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_redelivery_is_seen_once() {
        let d = Deduper::new(Duration::from_secs(60));
        assert!(d.first_time("m1").await);
        assert!(!d.first_time("m1").await);
        assert!(d.first_time("m2").await);
    }

    #[tokio::test]
    async fn concurrent_deliveries_yield_one_winner() {
        let d = Deduper::new(Duration::from_secs(60));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let d = d.clone();
                tokio::spawn(async move { d.first_time("same").await })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            if t.await.unwrap_or(false) {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
    }
}

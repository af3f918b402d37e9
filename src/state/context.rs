//! Follow-up context on Redis: one key per (conversation, user), written as JSON with the
//! context's expiry, so a follow-up asked through another replica (or after a rolling
//! restart) continues the conversation.
//!
//! When Redis does not answer, the replica's own memory holds the context meanwhile: a
//! follow-up then works only through the replica that saw the question, and each such
//! fallback is counted.

use std::time::Duration;

use async_trait::async_trait;

use super::RedisStore;
use crate::intent::context::{ContextKey, ContextStore, MemoryContext, Turn};

/// Contexts in Redis, with this replica's memory as the fallback.
pub struct RedisContext {
    store: RedisStore,
    expiry: Duration,
    fallback: MemoryContext,
}

impl RedisContext {
    pub fn new(store: RedisStore, expiry: Duration, max_entries: u64) -> RedisContext {
        RedisContext {
            store,
            expiry,
            fallback: MemoryContext::new(expiry, max_entries),
        }
    }

    fn key(&self, key: &ContextKey) -> String {
        // Ids are DingTalk's (no colon in practice); length-prefixing keeps any id pair
        // distinct anyway.
        self.store.key(
            "ctx",
            &format!(
                "{}:{}:{}",
                key.conversation_id.len(),
                key.conversation_id,
                key.user_id
            ),
        )
    }
}

#[async_trait]
impl ContextStore for RedisContext {
    async fn get(&self, key: &ContextKey) -> Option<Turn> {
        match self.store.get_json::<Turn>(&self.key(key)).await {
            Ok(Some(turn)) => Some(turn),
            Ok(None) => None,
            Err(e) => {
                self.store.stats.fallback("context");
                tracing::warn!(error = %e, "Shared follow-up context unavailable; this replica's memory answers.");
                self.fallback.get(key).await
            }
        }
    }

    async fn put(&self, key: ContextKey, turn: Turn) {
        if let Err(e) = self
            .store
            .put_json(&self.key(&key), &turn, self.expiry)
            .await
        {
            self.store.stats.fallback("context");
            tracing::warn!(error = %e, "Follow-up context kept in this replica only.");
            self.fallback.put(key, turn).await;
        }
    }
}

//! The Redis side of shared state: one multiplexed connection per process (the
//! connection manager reconnects by itself), every command bounded by
//! `state.timeout_ms`, every key under `state.key_prefix`.
//!
//! Multi-step decisions (claim a message, take a send slot) are Lua scripts, so two
//! replicas can never both win: Redis runs a script atomically.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::StateStats;
use crate::config::StateConfig;

/// A Redis command that did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {0} ms")]
    Timeout(u64),
    #[error("stored state unreadable: {0}")]
    Corrupt(String),
}

/// What a claim found (see [`super::claims`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimReply {
    /// Nobody had it: this replica now holds it in flight.
    Claimed,
    /// It was answered already.
    Done,
    /// Another replica holds it in flight (its heartbeat keeps the claim alive).
    InFlight,
}

/// Claims a message: `KEYS[1]` the message's key, `ARGV[1]` this replica's holder value,
/// `ARGV[2]` the in-flight lease in ms. 1 = claimed, 0 = done, 2 = in flight elsewhere.
const CLAIM: &str = r#"
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == 'done' then return 0 end
if v == ARGV[1] then return 1 end
return 2
"#;

/// Extends the lease of a claim this replica still holds: `ARGV[1]` holder, `ARGV[2]` ms.
const HEARTBEAT: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Gives a claim back (processing failed before anything was sent), if still held.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// A sliding-minute send budget on Redis' own clock, so replicas whose clocks differ
/// still share one minute: `ARGV[1]` the limit, `ARGV[2]` a unique member. Returns 0
/// when a slot was taken, otherwise the milliseconds until the oldest send leaves the
/// window.
const TAKE_SLOT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
local n = redis.call('ZCARD', KEYS[1])
if n < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 60000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + 60000 - now
if wait < 1 then wait = 1 end
return wait
"#;

/// A fixed-minute counter: `ARGV[1]` the window in ms. Returns the count after this one.
const COUNT: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"#;

/// Shared state on one Redis server. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
    /// This process, in claims it holds (`f:<id>`), so a heartbeat never extends
    /// another replica's claim.
    holder: Arc<str>,
    pub stats: Arc<StateStats>,
    claim: Arc<redis::Script>,
    heartbeat: Arc<redis::Script>,
    release: Arc<redis::Script>,
    take_slot: Arc<redis::Script>,
    count: Arc<redis::Script>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Prepares the connection without opening it, so a replica starts (and answers from
    /// its memory) even while Redis is down; the first command connects.
    pub fn connect(config: &StateConfig) -> Result<RedisStore, StateError> {
        let client = redis::Client::open(config.url.expose())?;
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = client.get_connection_manager_lazy(manager)?;
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| StateError::Corrupt(e.to_string()))?;
        Ok(RedisStore {
            conn,
            prefix: config.key_prefix.as_str().into(),
            timeout,
            holder: format!("f:{}:{}", std::process::id(), hex::encode(id)).into(),
            stats: Arc::new(StateStats::default()),
            claim: Arc::new(redis::Script::new(CLAIM)),
            heartbeat: Arc::new(redis::Script::new(HEARTBEAT)),
            release: Arc::new(redis::Script::new(RELEASE)),
            take_slot: Arc::new(redis::Script::new(TAKE_SLOT)),
            count: Arc::new(redis::Script::new(COUNT)),
        })
    }

    /// `<prefix><kind>:<id>`.
    pub fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// Runs one command with the timeout; failures are counted.
    async fn run<T, F>(&self, f: F) -> Result<T, StateError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let r = match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StateError::Redis(e)),
            Err(_) => Err(StateError::Timeout(
                u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            )),
        };
        if r.is_err() {
            self.stats
                .errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }

    /// Whether Redis answers (readiness, `check`).
    pub async fn ping(&self) -> Result<(), StateError> {
        let mut c = self.conn.clone();
        let pong: String = self.run(redis::cmd("PING").query_async(&mut c)).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StateError::Corrupt(format!("PING answered {pong:?}")))
        }
    }

    /// Claims message `key` for `lease`.
    pub async fn claim(&self, key: &str, lease: Duration) -> Result<ClaimReply, StateError> {
        let mut c = self.conn.clone();
        let mut inv = self.claim.key(key);
        inv.arg(&*self.holder).arg(millis(lease));
        let n: i64 = self.run(inv.invoke_async(&mut c)).await?;
        Ok(match n {
            1 => ClaimReply::Claimed,
            0 => ClaimReply::Done,
            _ => ClaimReply::InFlight,
        })
    }

    /// Keeps this replica's claim alive for another `lease`; false when it is no longer
    /// held (it expired and another replica took it).
    pub async fn heartbeat(&self, key: &str, lease: Duration) -> Result<bool, StateError> {
        let mut c = self.conn.clone();
        let mut inv = self.heartbeat.key(key);
        inv.arg(&*self.holder).arg(millis(lease));
        let n: i64 = self.run(inv.invoke_async(&mut c)).await?;
        Ok(n == 1)
    }

    /// Marks message `key` answered for `ttl` (the dedupe window).
    pub async fn done(&self, key: &str, ttl: Duration) -> Result<(), StateError> {
        let mut c = self.conn.clone();
        let () = self.run(c.pset_ex(key, "done", millis(ttl) as u64)).await?;
        Ok(())
    }

    /// Gives back a claim this replica holds, so a redelivery is answered.
    pub async fn release(&self, key: &str) -> Result<(), StateError> {
        let mut c = self.conn.clone();
        let mut inv = self.release.key(key);
        inv.arg(&*self.holder);
        let _: i64 = self.run(inv.invoke_async(&mut c)).await?;
        Ok(())
    }

    /// Takes a send slot of `budget` (a key from [`Self::key`]) when fewer than `limit`
    /// sends went out in the last minute; otherwise how long to wait.
    pub async fn take_send_slot(
        &self,
        budget: &str,
        limit: usize,
    ) -> Result<Option<Duration>, StateError> {
        let mut c = self.conn.clone();
        let mut member = [0u8; 8];
        getrandom::fill(&mut member).map_err(|e| StateError::Corrupt(e.to_string()))?;
        let mut inv = self.take_slot.key(budget);
        inv.arg(limit).arg(hex::encode(member));
        let wait: i64 = self.run(inv.invoke_async(&mut c)).await?;
        Ok((wait > 0).then(|| Duration::from_millis(wait.unsigned_abs())))
    }

    /// Counts one event in a fixed window of `window` and returns the count so far.
    pub async fn count_in_window(&self, key: &str, window: Duration) -> Result<u64, StateError> {
        let mut c = self.conn.clone();
        let mut inv = self.count.key(key);
        inv.arg(millis(window));
        let n: i64 = self.run(inv.invoke_async(&mut c)).await?;
        Ok(n.unsigned_abs())
    }

    /// Reads a JSON value.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StateError> {
        let mut c = self.conn.clone();
        let raw: Option<String> = self.run(c.get(key)).await?;
        match raw {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| StateError::Corrupt(format!("{key}: {e}"))),
        }
    }

    /// Writes a JSON value that expires after `ttl`.
    pub async fn put_json<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), StateError> {
        let text = serde_json::to_string(value).map_err(|e| StateError::Corrupt(e.to_string()))?;
        let mut c = self.conn.clone();
        let () = self.run(c.pset_ex(key, text, millis(ttl) as u64)).await?;
        Ok(())
    }

    /// Appends JSON values to the list `key` (the spool).
    pub async fn push_json<T: serde::Serialize>(
        &self,
        key: &str,
        values: &[T],
    ) -> Result<(), StateError> {
        if values.is_empty() {
            return Ok(());
        }
        let mut texts = Vec::with_capacity(values.len());
        for v in values {
            texts.push(serde_json::to_string(v).map_err(|e| StateError::Corrupt(e.to_string()))?);
        }
        let mut c = self.conn.clone();
        let _: i64 = self.run(c.rpush(key, texts)).await?;
        Ok(())
    }

    /// Takes up to `max` values from the front of list `key`; each is taken by exactly one
    /// replica (LPOP is atomic). Entries that do not parse are returned as problems.
    pub async fn pop_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        max: usize,
    ) -> Result<(Vec<T>, Vec<String>), StateError> {
        let mut c = self.conn.clone();
        let Some(count) = std::num::NonZeroUsize::new(max) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let raw: Option<Vec<String>> = self.run(c.lpop(key, Some(count))).await?;
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for (i, s) in raw.unwrap_or_default().into_iter().enumerate() {
            match serde_json::from_str(&s) {
                Ok(v) => out.push(v),
                Err(e) => bad.push(format!("{key} entry {}: {e}", i + 1)),
            }
        }
        Ok((out, bad))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

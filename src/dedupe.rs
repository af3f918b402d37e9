//! Dedupe: DingTalk redelivers messages (retries, Stream redelivery after a missed ACK),
//! and a replayed callback within the signature window looks genuine. Each `msgId` is
//! handled once within the time-to-live, which `Config::validate` keeps at least as long
//! as the signature window.
//!
//! Memory is the point of this module: at thousands of messages a second a 5-minute
//! window holds a million ids. Each id is kept as an 8-byte digest in a time bucket (a
//! tenth of the window); whole buckets are dropped as they age out, so the cost is about
//! 9–18 bytes per message in the window and nothing per message afterwards.
//!
//! Why 8 bytes are enough: two different ids collide with probability 2⁻⁶⁴, so among the
//! n ids of one window the chance that any new id matches a remembered one is about
//! n²/2⁶⁵ — for a million ids, 3 × 10⁻⁸ per window. A collision would drop a genuinely
//! new message as a redelivery, so that is the rate at which one message in many years of
//! heavy traffic goes unanswered (and is still recorded as a duplicate in the metrics).

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How many buckets the window is cut into: an id is remembered for between the TTL and
/// 1.1 × the TTL.
const BUCKETS: u32 = 10;

/// Remembers recently seen message ids.
#[derive(Debug, Clone)]
pub struct Deduper {
    inner: Arc<Mutex<Window>>,
    ttl: Duration,
    width: Duration,
}

/// The ids of one bucket's time span, newest bucket last.
#[derive(Debug, Default)]
struct Window {
    buckets: VecDeque<(Instant, IdSet)>,
}

type IdSet = HashSet<u64, BuildHasherDefault<DigestHasher>>;

/// The keys are already SHA-256 digests, so hashing them again is wasted work: the hasher
/// passes the low 64 bits through.
#[derive(Debug, Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn digest(msg_id: &str) -> u64 {
    let d = Sha256::digest(msg_id.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b)
}

impl Deduper {
    pub fn new(ttl: Duration) -> Deduper {
        let ttl = ttl.max(Duration::from_secs(1));
        Deduper {
            inner: Arc::new(Mutex::new(Window::default())),
            ttl,
            width: ttl / BUCKETS,
        }
    }

    /// True the first time `msg_id` is seen; false for every redelivery within the TTL.
    /// Atomic under concurrency: of two simultaneous deliveries exactly one gets `true`.
    pub fn first_time(&self, msg_id: &str) -> bool {
        self.first_time_at(msg_id, Instant::now())
    }

    /// Drops the buckets that have aged out. Inserting does this too; the server also
    /// calls it every minute, so memory is given back when traffic stops.
    pub fn purge(&self) {
        let mut w = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        self.expire(&mut w, Instant::now());
    }

    fn expire(&self, w: &mut Window, now: Instant) {
        let horizon = self.ttl + self.width;
        while w
            .buckets
            .front()
            .is_some_and(|(start, _)| now.saturating_duration_since(*start) > horizon)
        {
            w.buckets.pop_front();
        }
    }

    fn first_time_at(&self, msg_id: &str, now: Instant) -> bool {
        let key = digest(msg_id);
        // A poisoned lock only means another thread panicked mid-insert; the set is
        // still a valid set, so keep deduping rather than answering twice.
        let mut w = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        self.expire(&mut w, now);
        if w.buckets.iter().any(|(_, ids)| ids.contains(&key)) {
            return false;
        }
        let needs_bucket = w
            .buckets
            .back()
            .is_none_or(|(start, _)| now.saturating_duration_since(*start) >= self.width);
        if needs_bucket {
            w.buckets.push_back((now, IdSet::default()));
        }
        match w.buckets.back_mut() {
            Some((_, ids)) => ids.insert(key),
            None => true,
        }
    }

    /// Forgets `msg_id`, so its next delivery is answered: for a message whose answer
    /// failed before anything was sent.
    pub fn forget(&self, msg_id: &str) {
        let key = digest(msg_id);
        let mut w = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for (_, ids) in w.buckets.iter_mut() {
            ids.remove(&key);
        }
    }

    /// How many ids are remembered now (for metrics and memory tests).
    pub fn len(&self) -> usize {
        let w = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        w.buckets.iter().map(|(_, ids)| ids.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The memory the remembered ids take (table slots plus one control byte each), for
    /// `/metrics` and the memory test.
    pub fn approx_bytes(&self) -> usize {
        let w = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        w.buckets
            .iter()
            .map(|(_, ids)| ids.capacity() * (std::mem::size_of::<u64>() + 1))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redelivery_is_seen_once() {
        let d = Deduper::new(Duration::from_secs(60));
        assert!(d.first_time("m1"));
        assert!(!d.first_time("m1"));
        assert!(d.first_time("m2"));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn ids_are_remembered_for_the_whole_ttl_and_then_forgotten() {
        let d = Deduper::new(Duration::from_secs(300));
        let t0 = Instant::now();
        assert!(d.first_time_at("m1", t0));
        for s in [1, 100, 250, 299, 300] {
            assert!(
                !d.first_time_at("m1", t0 + Duration::from_secs(s)),
                "forgotten after {s} s"
            );
        }
        // Other traffic keeps arriving; m1's bucket ages out after at most 1.1 × TTL.
        for s in (0..400).step_by(7) {
            d.first_time_at(&format!("x{s}"), t0 + Duration::from_secs(s));
        }
        assert!(d.first_time_at("m1", t0 + Duration::from_secs(400)));
        assert!(d.len() < 60, "{}", d.len());
    }

    /// A million ids in the window (about 3,300 messages a second for 5 minutes) take
    /// well under 32 MB.
    #[test]
    fn a_million_ids_stay_compact() {
        let d = Deduper::new(Duration::from_secs(300));
        let t0 = Instant::now();
        for i in 0..1_000_000u32 {
            let at = t0 + Duration::from_micros(u64::from(i) * 300);
            assert!(d.first_time_at(&format!("msg{i}"), at));
        }
        assert_eq!(d.len(), 1_000_000);
        let bytes = d.approx_bytes();
        assert!(bytes < 32 * 1024 * 1024, "{bytes} bytes");
    }

    #[test]
    fn concurrent_deliveries_yield_one_winner() {
        let d = Deduper::new(Duration::from_secs(60));
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let d = d.clone();
                std::thread::spawn(move || d.first_time("same"))
            })
            .collect();
        let won = threads
            .into_iter()
            .map(|t| t.join().unwrap_or(false))
            .filter(|w| *w)
            .count();
        assert_eq!(won, 1);
    }
}

//! What stands between askerp and an ERP so a burst of questions cannot hurt it, and a sick
//! ERP cannot stall askerp: a per-connector concurrency limit and rate limit, a timeout per
//! attempt, retries with jittered exponential backoff (only for failures that may pass, and
//! only ever for reads, which every connector call is), and a circuit breaker.
//!
//! The breaker opens after `breaker_failures` consecutive failed calls; while open, calls
//! fail at once with [`ErpError::CircuitOpen`] ("the ERP is not answering") instead of
//! queueing behind a dead system. After `breaker_open_ms` one trial call goes through; its
//! success closes the circuit, its failure opens it again.
//!
//! [`Protected`] wraps a [`Connector`] and is itself one, so the cache sits in front of it
//! and only cache misses reach the guard.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::civil::Date;
use tokio::sync::Semaphore;

use super::config::Protect;
use super::{
    Connector, Employee, ErpError, Item, LeaveBalance, Order, Places, SalesFilter, SalesSummary,
    StockLine, TopItem,
};

/// Per-connector counters for `/metrics`.
#[derive(Debug)]
pub struct GuardStats {
    /// Attempts that reached the system (retries included), counted when each ends,
    /// together with its time in `latency`, so the two always agree.
    pub calls: AtomicU64,
    /// Attempts that failed.
    pub errors: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
    /// Calls refused at once because the circuit was open.
    pub rejected: AtomicU64,
    /// Time of each attempt (`askerp_erp_connector_latency_seconds`).
    pub latency: crate::metrics::Histogram,
}

impl Default for GuardStats {
    fn default() -> Self {
        GuardStats {
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            latency: crate::metrics::Histogram::new(crate::metrics::ERP_BUCKETS),
        }
    }
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    /// A trial call is under way after the open period.
    probing: bool,
}

/// The protection of one connector.
#[derive(Debug)]
pub struct Guard {
    name: String,
    cfg: Protect,
    permits: Semaphore,
    next_start: Mutex<Instant>,
    breaker: Mutex<Breaker>,
    seed: AtomicU64,
    pub stats: GuardStats,
}

/// Whether a call may go ahead, and whether it is the trial call.
enum Admit {
    Go { trial: bool },
    Refuse,
}

impl Guard {
    pub fn new(name: &str, cfg: Protect) -> Guard {
        let permits = usize::try_from(cfg.max_concurrency.max(1)).unwrap_or(1);
        Guard {
            name: name.to_string(),
            permits: Semaphore::new(permits),
            next_start: Mutex::new(Instant::now()),
            breaker: Mutex::new(Breaker::default()),
            seed: AtomicU64::new(
                u64::try_from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(1),
                )
                .unwrap_or(1)
                    | 1,
            ),
            cfg,
            stats: GuardStats::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// True while calls are refused at once.
    pub fn is_open(&self) -> bool {
        self.breaker
            .lock()
            .map(|b| b.open_until.is_some_and(|t| Instant::now() < t) || b.probing)
            .unwrap_or(false)
    }

    fn admit(&self) -> Admit {
        let Ok(mut b) = self.breaker.lock() else {
            return Admit::Go { trial: false };
        };
        match b.open_until {
            None => Admit::Go { trial: false },
            Some(until) if Instant::now() < until || b.probing => Admit::Refuse,
            Some(_) => {
                b.probing = true;
                Admit::Go { trial: true }
            }
        }
    }

    fn record(&self, outcome: &Result<(), &ErpError>) {
        let Ok(mut b) = self.breaker.lock() else {
            return;
        };
        b.probing = false;
        // A rejected query means the system answered: it is alive.
        let failed = matches!(outcome, Err(e) if !matches!(e, ErpError::Query { .. }));
        if failed {
            b.failures = b.failures.saturating_add(1);
            if b.failures >= self.cfg.breaker_failures || b.open_until.is_some() {
                if b.open_until.is_none() {
                    tracing::warn!(connector = %self.name, "Circuit opened: the ERP keeps failing.");
                }
                let now = Instant::now();
                b.open_until = Some(
                    now.checked_add(Duration::from_millis(self.cfg.breaker_open_ms))
                        .unwrap_or(now + Duration::from_secs(86_400)),
                );
            }
        } else {
            if b.open_until.is_some() {
                tracing::info!(connector = %self.name, "Circuit closed: the ERP answers again.");
            }
            *b = Breaker::default();
        }
    }

    /// A random number in `0..=max` (xorshift; jitter needs no cryptography).
    fn jitter(&self, max: u64) -> u64 {
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        if max == 0 { 0 } else { x % (max + 1) }
    }

    /// Waits for this call's slot under the rate limit.
    async fn pace(&self) {
        if self.cfg.rate_per_sec == 0 {
            return;
        }
        let gap = Duration::from_secs(1) / self.cfg.rate_per_sec;
        let start = {
            let Ok(mut next) = self.next_start.lock() else {
                return;
            };
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start.checked_add(gap).unwrap_or(start);
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }

    /// Runs `call` under the limits, retries and breaker.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, ErpError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ErpError>>,
    {
        let trial = match self.admit() {
            Admit::Refuse => {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(ErpError::CircuitOpen {
                    connector: self.name.clone(),
                });
            }
            Admit::Go { trial } => trial,
        };
        let mut attempt: u32 = 0;
        loop {
            let result = {
                let _permit = self.permits.acquire().await;
                self.pace().await;
                let started = Instant::now();
                let r = match tokio::time::timeout(
                    Duration::from_millis(self.cfg.attempt_timeout_ms),
                    call(),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Err(ErpError::Timeout {
                        connector: self.name.clone(),
                        after_ms: self.cfg.attempt_timeout_ms,
                    }),
                };
                self.stats.latency.observe(started.elapsed());
                self.stats.calls.fetch_add(1, Ordering::Relaxed);
                r
            };
            match result {
                Ok(v) => {
                    self.record(&Ok(()));
                    return Ok(v);
                }
                Err(e) => {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    // A system asking for a longer pause than askerp would ever back off
                    // is not retried early: the user is told now instead.
                    let too_long = e
                        .retry_after_ms()
                        .is_some_and(|ms| ms > self.cfg.backoff_max_ms);
                    if e.is_transient() && !trial && !too_long && attempt < self.cfg.retries {
                        let ceiling = self
                            .cfg
                            .backoff_ms
                            .saturating_mul(1u64 << attempt.min(16))
                            .min(self.cfg.backoff_max_ms);
                        let wait = e.retry_after_ms().unwrap_or_else(|| self.jitter(ceiling));
                        attempt += 1;
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(connector = %self.name, attempt, wait_ms = wait, error = %e, "Retrying ERP read.");
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                        continue;
                    }
                    self.record(&Err(&e));
                    return Err(e);
                }
            }
        }
    }
}

/// A connector behind a [`Guard`].
pub struct Protected {
    inner: Arc<dyn Connector>,
    guard: Arc<Guard>,
}

impl Protected {
    pub fn new(inner: Arc<dyn Connector>, guard: Arc<Guard>) -> Protected {
        Protected { inner, guard }
    }
}

#[async_trait]
impl Connector for Protected {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn health(&self) -> Result<(), ErpError> {
        self.guard.run(|| self.inner.health()).await
    }
    async fn places(&self) -> Result<Places, ErpError> {
        self.guard.run(|| self.inner.places()).await
    }
    async fn find_items(&self, text: &str) -> Result<Vec<Item>, ErpError> {
        self.guard.run(|| self.inner.find_items(text)).await
    }
    async fn vocabulary(&self) -> Result<super::Vocabulary, ErpError> {
        self.guard.run(|| self.inner.vocabulary()).await
    }
    async fn stock(
        &self,
        skus: &[String],
        warehouse: Option<&str>,
    ) -> Result<Vec<StockLine>, ErpError> {
        self.guard.run(|| self.inner.stock(skus, warehouse)).await
    }
    async fn low_stock(&self, warehouse: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        self.guard.run(|| self.inner.low_stock(warehouse)).await
    }
    async fn sales_summary(&self, filter: &SalesFilter) -> Result<SalesSummary, ErpError> {
        self.guard.run(|| self.inner.sales_summary(filter)).await
    }
    async fn top_items(&self, filter: &SalesFilter, limit: u32) -> Result<Vec<TopItem>, ErpError> {
        self.guard.run(|| self.inner.top_items(filter, limit)).await
    }
    async fn daily_sales(&self, filter: &SalesFilter) -> Result<Vec<super::DailySales>, ErpError> {
        self.guard.run(|| self.inner.daily_sales(filter)).await
    }
    async fn sales_by_customer(
        &self,
        filter: &SalesFilter,
    ) -> Result<Vec<super::CustomerSales>, ErpError> {
        self.guard
            .run(|| self.inner.sales_by_customer(filter))
            .await
    }
    async fn order(&self, number: &str) -> Result<Option<Order>, ErpError> {
        self.guard.run(|| self.inner.order(number)).await
    }
    async fn find_employees(&self, text: &str) -> Result<Vec<Employee>, ErpError> {
        self.guard.run(|| self.inner.find_employees(text)).await
    }
    async fn leave_balance(
        &self,
        employee_id: &str,
        on: Date,
    ) -> Result<Option<LeaveBalance>, ErpError> {
        self.guard
            .run(|| self.inner.leave_balance(employee_id, on))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    fn cfg() -> Protect {
        Protect {
            max_concurrency: 2,
            rate_per_sec: 0,
            attempt_timeout_ms: 50,
            retries: 2,
            backoff_ms: 1,
            backoff_max_ms: 5,
            breaker_failures: 2,
            breaker_open_ms: 100,
        }
    }

    fn down() -> ErpError {
        ErpError::Unavailable {
            connector: "t".into(),
            detail: "down".into(),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_others_are_not() {
        let g = Guard::new("t", cfg());
        let n = AtomicU32::new(0);
        let r = g
            .run(|| async {
                if n.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(down())
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(r.ok(), Some(7));
        assert_eq!(n.load(Ordering::SeqCst), 3);
        let m = AtomicU32::new(0);
        let r: Result<(), _> = g
            .run(|| async {
                m.fetch_add(1, Ordering::SeqCst);
                Err(ErpError::Credentials {
                    connector: "t".into(),
                    detail: "no".into(),
                })
            })
            .await;
        assert!(matches!(r, Err(ErpError::Credentials { .. })));
        assert_eq!(m.load(Ordering::SeqCst), 1, "credentials are not retried");
    }

    #[tokio::test]
    async fn retry_after_is_honoured() {
        let g = Guard::new(
            "t",
            Protect {
                backoff_max_ms: 1_000,
                ..cfg()
            },
        );
        let n = AtomicU32::new(0);
        let started = Instant::now();
        let r = g
            .run(|| async {
                if n.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(ErpError::Busy {
                        connector: "t".into(),
                        retry_after_ms: Some(120),
                    })
                } else {
                    Ok(())
                }
            })
            .await;
        assert!(r.is_ok());
        assert!(started.elapsed() >= Duration::from_millis(120));
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_backoff_limit_is_not_waited_for() {
        let g = Guard::new("t", cfg());
        let n = AtomicU32::new(0);
        let started = Instant::now();
        let r: Result<(), _> = g
            .run(|| async {
                n.fetch_add(1, Ordering::SeqCst);
                Err(ErpError::Busy {
                    connector: "t".into(),
                    retry_after_ms: Some(60_000),
                })
            })
            .await;
        assert!(matches!(r, Err(ErpError::Busy { .. })));
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn the_breaker_opens_answers_at_once_and_closes_after_recovery() {
        let g = Guard::new(
            "t",
            Protect {
                retries: 0,
                ..cfg()
            },
        );
        for _ in 0..2 {
            let r: Result<(), _> = g.run(|| async { Err(down()) }).await;
            assert!(matches!(r, Err(ErpError::Unavailable { .. })));
        }
        assert!(g.is_open());
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let r = g
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(matches!(r, Err(ErpError::CircuitOpen { .. })));
        assert!(started.elapsed() < Duration::from_millis(20));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "the ERP was called while open"
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(g.run(|| async { Ok(()) }).await.is_ok(), "trial call");
        assert!(!g.is_open());
    }

    #[tokio::test]
    async fn starts_are_paced_by_the_rate_limit() {
        let g = Guard::new(
            "t",
            Protect {
                rate_per_sec: 20,
                max_concurrency: 10,
                ..cfg()
            },
        );
        let started = Instant::now();
        for _ in 0..5 {
            assert!(g.run(|| async { Ok::<_, ErpError>(()) }).await.is_ok());
        }
        // Five starts at 20 per second: the fifth starts 200 ms after the first.
        assert!(started.elapsed() >= Duration::from_millis(195));
        assert_eq!(g.stats.calls.load(Ordering::Relaxed), 5);
    }

    #[tokio::test]
    async fn concurrency_is_limited() {
        let g = Arc::new(Guard::new(
            "t",
            Protect {
                attempt_timeout_ms: 1_000,
                ..cfg()
            },
        ));
        let now = Arc::new(AtomicU32::new(0));
        let peak = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (g, now, peak) = (g.clone(), now.clone(), peak.clone());
                tokio::spawn(async move {
                    g.run(|| async {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        now.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, ErpError>(())
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert!(matches!(t.await, Ok(Ok(()))));
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}

//! The layer every connector call goes through: a moka cache keyed by the canonical
//! query, which also coalesces identical concurrent queries into one ERP call, plus a
//! timeout so a hung ERP turns into an answer instead of a stuck request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use moka::future::Cache;

use super::{
    Connector, CustomerSales, DailySales, Employee, ErpError, Item, LeaveBalance, Order, Places,
    SalesFilter, SalesSummary, StockLine, TopItem,
};

/// Data with the moment it was read from the ERP, so cards can say "as of".
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    pub data: T,
    pub as_of: Timestamp,
}

/// The canonical query, used as the cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Places,
    FindItems(String),
    Stock(Vec<String>, Option<String>),
    LowStock(Option<String>),
    Sales(SalesFilter),
    TopItems(SalesFilter, u32),
    Daily(SalesFilter),
    Customers(SalesFilter),
    Order(String),
    RecentOrders(Date, u32),
    FindEmployees(String),
    Leave(String, Date),
}

#[derive(Debug, Clone)]
enum Value {
    /// Shared: every message that names a place reads the whole list, and the cache
    /// hands out a clone of what it holds.
    Places(Arc<Places>),
    Items(Vec<Item>),
    Stock(Vec<StockLine>),
    Sales(SalesSummary),
    TopItems(Vec<TopItem>),
    Daily(Vec<DailySales>),
    Customers(Vec<CustomerSales>),
    Order(Option<Order>),
    Orders(Vec<Order>),
    Employees(Vec<Employee>),
    Leave(Option<LeaveBalance>),
}

/// Counters for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Calls that reached the connector.
    pub misses: AtomicU64,
    /// Calls answered from the cache (including coalesced waiters).
    pub hits: AtomicU64,
    pub errors: AtomicU64,
}

/// A connector behind the cache and timeout. Cheap to clone.
#[derive(Clone)]
pub struct CachedConnector {
    inner: Arc<dyn Connector>,
    cache: Cache<Key, Fetched<Value>>,
    timeout: Duration,
    stats: Arc<CacheStats>,
}

impl CachedConnector {
    /// Wraps `inner`; answers are kept for `ttl`, and a call taking longer than `timeout`
    /// fails with [`ErpError::Timeout`].
    pub fn new(inner: Arc<dyn Connector>, ttl: Duration, timeout: Duration) -> Self {
        CachedConnector {
            inner,
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
            timeout,
            stats: Arc::new(CacheStats::default()),
        }
    }

    pub fn name(&self) -> &str {
        self.inner.name()
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Runs `call` unless an identical query is cached or already in flight; errors are not
    /// cached, so the next question tries the ERP again.
    async fn get<F, Fut>(&self, key: Key, call: F) -> Result<Fetched<Value>, ErpError>
    where
        F: FnOnce(Arc<dyn Connector>) -> Fut,
        Fut: Future<Output = Result<Value, ErpError>>,
    {
        let inner = Arc::clone(&self.inner);
        let timeout = self.timeout;
        let stats = Arc::clone(&self.stats);
        let mut ran = false;
        let result = self
            .cache
            .try_get_with(key, async {
                ran = true;
                stats.misses.fetch_add(1, Ordering::Relaxed);
                let name = inner.name().to_string();
                match tokio::time::timeout(timeout, call(inner)).await {
                    Ok(Ok(data)) => Ok(Fetched {
                        data,
                        as_of: Timestamp::now(),
                    }),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(ErpError::Timeout {
                        connector: name,
                        after_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                    }),
                }
            })
            .await;
        if !ran {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
        }
        result.map_err(|shared: Arc<ErpError>| {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            ErpError::clone(&shared)
        })
    }

    /// The connector's vocabulary, read past the cache (it is read once, at start-up, and
    /// kept by the resolver), within the same timeout as every call.
    pub async fn vocabulary(&self) -> Result<super::Vocabulary, ErpError> {
        match tokio::time::timeout(self.timeout, self.inner.vocabulary()).await {
            Ok(v) => v,
            Err(_) => Err(ErpError::Timeout {
                connector: self.inner.name().to_string(),
                after_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    pub async fn places(&self) -> Result<Fetched<Arc<Places>>, ErpError> {
        let f = self
            .get(Key::Places, |c| async move {
                c.places().await.map(|p| Value::Places(Arc::new(p)))
            })
            .await?;
        match f.data {
            Value::Places(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    pub async fn find_items(&self, text: &str) -> Result<Fetched<Vec<Item>>, ErpError> {
        let t = text.to_string();
        let f = self
            .get(Key::FindItems(t.clone()), |c| async move {
                c.find_items(&t).await.map(Value::Items)
            })
            .await?;
        match f.data {
            Value::Items(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    pub async fn stock(
        &self,
        skus: &[String],
        warehouse: Option<&str>,
    ) -> Result<Fetched<Vec<StockLine>>, ErpError> {
        let (s, w) = (skus.to_vec(), warehouse.map(str::to_string));
        let key = Key::Stock(s.clone(), w.clone());
        let f = self
            .get(key, |c| async move {
                c.stock(&s, w.as_deref()).await.map(Value::Stock)
            })
            .await?;
        match f.data {
            Value::Stock(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    /// Drops the cached answers about `sku`'s stock at `warehouse` (and the low-stock
    /// lists), so the next read asks the ERP: a source just reported that they changed.
    pub async fn forget_stock(&self, sku: &str, warehouse: &str) {
        self.cache
            .invalidate(&Key::Stock(
                vec![sku.to_string()],
                Some(warehouse.to_string()),
            ))
            .await;
        self.cache.invalidate(&Key::LowStock(None)).await;
        self.cache
            .invalidate(&Key::LowStock(Some(warehouse.to_string())))
            .await;
    }

    /// Drops the cached answer about order `number`, for the same reason.
    pub async fn forget_order(&self, number: &str) {
        self.cache.invalidate(&Key::Order(number.to_string())).await;
    }

    pub async fn low_stock(
        &self,
        warehouse: Option<&str>,
    ) -> Result<Fetched<Vec<StockLine>>, ErpError> {
        let w = warehouse.map(str::to_string);
        let f = self
            .get(Key::LowStock(w.clone()), |c| async move {
                c.low_stock(w.as_deref()).await.map(Value::Stock)
            })
            .await?;
        match f.data {
            Value::Stock(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    pub async fn sales_summary(
        &self,
        filter: &SalesFilter,
    ) -> Result<Fetched<SalesSummary>, ErpError> {
        let q = filter.clone();
        let f = self
            .get(Key::Sales(q.clone()), |c| async move {
                c.sales_summary(&q).await.map(Value::Sales)
            })
            .await?;
        match f.data {
            Value::Sales(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    /// Sales per day ([`Connector::daily_sales`]), cached like the totals.
    pub async fn daily_sales(
        &self,
        filter: &SalesFilter,
    ) -> Result<Fetched<Vec<DailySales>>, ErpError> {
        let q = filter.clone();
        let f = self
            .get(Key::Daily(q.clone()), |c| async move {
                c.daily_sales(&q).await.map(Value::Daily)
            })
            .await?;
        match f.data {
            Value::Daily(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    /// Sales per customer ([`Connector::sales_by_customer`]), cached like the totals.
    pub async fn sales_by_customer(
        &self,
        filter: &SalesFilter,
    ) -> Result<Fetched<Vec<CustomerSales>>, ErpError> {
        let q = filter.clone();
        let f = self
            .get(Key::Customers(q.clone()), |c| async move {
                c.sales_by_customer(&q).await.map(Value::Customers)
            })
            .await?;
        match f.data {
            Value::Customers(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    pub async fn top_items(
        &self,
        filter: &SalesFilter,
        limit: u32,
    ) -> Result<Fetched<Vec<TopItem>>, ErpError> {
        let q = filter.clone();
        let f = self
            .get(Key::TopItems(q.clone(), limit), |c| async move {
                c.top_items(&q, limit).await.map(Value::TopItems)
            })
            .await?;
        match f.data {
            Value::TopItems(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    pub async fn order(&self, number: &str) -> Result<Fetched<Option<Order>>, ErpError> {
        let n = number.to_string();
        let f = self
            .get(Key::Order(n.clone()), |c| async move {
                c.order(&n).await.map(Value::Order)
            })
            .await?;
        match f.data {
            Value::Order(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    pub async fn recent_orders(
        &self,
        since: Date,
        limit: u32,
    ) -> Result<Fetched<Vec<Order>>, ErpError> {
        let f = self
            .get(Key::RecentOrders(since, limit), |c| async move {
                c.recent_orders(since, limit).await.map(Value::Orders)
            })
            .await?;
        match f.data {
            Value::Orders(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    pub async fn find_employees(&self, text: &str) -> Result<Fetched<Vec<Employee>>, ErpError> {
        let t = text.to_string();
        let f = self
            .get(Key::FindEmployees(t.clone()), |c| async move {
                c.find_employees(&t).await.map(Value::Employees)
            })
            .await?;
        match f.data {
            Value::Employees(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    pub async fn leave_balance(
        &self,
        employee_id: &str,
        on: Date,
    ) -> Result<Fetched<Option<LeaveBalance>>, ErpError> {
        let id = employee_id.to_string();
        let f = self
            .get(Key::Leave(id.clone(), on), |c| async move {
                c.leave_balance(&id, on).await.map(Value::Leave)
            })
            .await?;
        match f.data {
            Value::Leave(v) => Ok(Fetched {
                data: v,
                as_of: f.as_of,
            }),
            _ => Err(self.mismatch()),
        }
    }

    /// Cannot happen: each key is only ever filled by its own call. Reported as a query
    /// error rather than a panic all the same.
    fn mismatch(&self) -> ErpError {
        ErpError::Query {
            connector: self.inner.name().to_string(),
            detail: "cache returned a value of the wrong kind".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;

    use super::*;
    use crate::erp::{Employee, LeaveBalance, Order, SalesFilter, SalesSummary, TopItem};

    /// Counts calls and answers slowly, so concurrent questions overlap.
    #[derive(Default)]
    struct Counting {
        calls: AtomicUsize,
        fail: bool,
    }

    #[async_trait]
    impl Connector for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        async fn places(&self) -> Result<Places, ErpError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.fail {
                return Err(ErpError::Unavailable {
                    connector: "counting".into(),
                    detail: "down".into(),
                });
            }
            Ok(Places::default())
        }
        async fn find_items(&self, _: &str) -> Result<Vec<Item>, ErpError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(vec![])
        }
        async fn stock(&self, _: &[String], _: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
            Ok(vec![])
        }
        async fn low_stock(&self, _: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
            Ok(vec![])
        }
        async fn sales_summary(&self, _: &SalesFilter) -> Result<SalesSummary, ErpError> {
            Err(ErpError::Query {
                connector: "counting".into(),
                detail: "unused".into(),
            })
        }
        async fn top_items(&self, _: &SalesFilter, _: u32) -> Result<Vec<TopItem>, ErpError> {
            Ok(vec![])
        }
        async fn order(&self, _: &str) -> Result<Option<Order>, ErpError> {
            Ok(None)
        }
        async fn find_employees(&self, _: &str) -> Result<Vec<Employee>, ErpError> {
            Ok(vec![])
        }
        async fn leave_balance(&self, _: &str, _: Date) -> Result<Option<LeaveBalance>, ErpError> {
            Ok(None)
        }
    }

    #[tokio::test]
    async fn identical_concurrent_queries_make_one_erp_call() {
        let erp = Arc::new(Counting::default());
        let cached =
            CachedConnector::new(erp.clone(), Duration::from_secs(60), Duration::from_secs(5));
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let c = cached.clone();
                tokio::spawn(async move { c.places().await.is_ok() })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap_or(false));
        }
        assert_eq!(erp.calls.load(Ordering::SeqCst), 1);
        assert_eq!(cached.stats().misses.load(Ordering::Relaxed), 1);
        assert_eq!(cached.stats().hits.load(Ordering::Relaxed), 199);
        // Different questions are different calls.
        cached.find_items("a").await.ok();
        cached.find_items("b").await.ok();
        cached.find_items("a").await.ok();
        assert_eq!(erp.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn errors_are_shared_by_waiters_but_not_cached() {
        let erp = Arc::new(Counting {
            fail: true,
            ..Counting::default()
        });
        let cached =
            CachedConnector::new(erp.clone(), Duration::from_secs(60), Duration::from_secs(5));
        let (a, b) = tokio::join!(cached.places(), cached.places());
        assert!(a.is_err() && b.is_err());
        assert_eq!(erp.calls.load(Ordering::SeqCst), 1);
        assert!(cached.places().await.is_err());
        assert_eq!(erp.calls.load(Ordering::SeqCst), 2, "an error was cached");
    }

    #[tokio::test]
    async fn a_hung_erp_times_out() {
        let erp = Arc::new(Counting::default());
        let cached = CachedConnector::new(erp, Duration::from_secs(60), Duration::from_millis(10));
        match cached.places().await {
            Err(ErpError::Timeout { after_ms, .. }) => assert_eq!(after_ms, 10),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}

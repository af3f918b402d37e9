//! The PostgreSQL sink: the same chained lines as the file, one row each, so several
//! replicas can share one audit chain.
//!
//! `append` must not wait on the database (it runs on every message), so records go
//! through a channel to one writer task, which stores them in batches. Each batch is one
//! transaction that first takes a transaction-scoped advisory lock and reads the chain's
//! last hash: however many replicas write, records are chained one after another, never
//! forked. A failed batch is retried (with backoff) until it is stored; records wait in
//! memory meanwhile and `close` waits for them at shutdown.

use std::time::Duration;

use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::sync::{mpsc, oneshot};

use super::{AuditError, ChainCheck, GENESIS, Verified, chain_line};

/// Records per transaction, at most.
const BATCH: usize = 256;

enum Msg {
    Record(Value),
    Flush(oneshot::Sender<()>),
}

/// The sink's handle: cheap to use from any task.
pub struct PgSink {
    tx: mpsc::UnboundedSender<Msg>,
    table: String,
}

fn err(e: impl std::fmt::Display) -> AuditError {
    AuditError::Io {
        path: "postgres".into(),
        detail: e.to_string(),
    }
}

impl PgSink {
    /// Starts the writer task (a Tokio runtime must be running). Connects lazily: a
    /// database that is down at start-up delays records, it does not stop askerp.
    pub fn start(url: &str, table: &str) -> Result<PgSink, AuditError> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy(url)
            .map_err(err)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(err)?;
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(writer(pool, table.to_string(), rx));
        Ok(PgSink {
            tx,
            table: table.to_string(),
        })
    }

    pub fn append(&self, value: Value) -> Result<(), AuditError> {
        self.tx
            .send(Msg::Record(value))
            .map_err(|_| err(format!("the writer of {} has stopped", self.table)))
    }

    /// Waits until every record appended before this call is stored.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Flush(done))
            .map_err(|_| err("the audit writer has stopped"))?;
        wait.await.map_err(|_| err("the audit writer has stopped"))
    }
}

async fn ensure_table(pool: &PgPool, table: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            seq BIGSERIAL PRIMARY KEY,
            prev TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            line TEXT NOT NULL,
            written_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    ))
    .execute(pool)
    .await
    .map(|_| ())
}

/// Stores one batch in one transaction, chained onto the table's last record.
async fn store(pool: &PgPool, table: &str, batch: &[Value]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(table)
        .execute(&mut *tx)
        .await?;
    let last: Option<String> = sqlx::query_scalar(&format!(
        "SELECT hash FROM {table} ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(&mut *tx)
    .await?;
    let mut prev = last.unwrap_or_else(|| GENESIS.to_string());
    for value in batch {
        let (line, hash) =
            chain_line(&prev, value.clone()).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        sqlx::query(&format!(
            "INSERT INTO {table} (prev, hash, line) VALUES ($1, $2, $3)"
        ))
        .bind(&prev)
        .bind(&hash)
        .bind(line.trim_end())
        .execute(&mut *tx)
        .await?;
        prev = hash;
    }
    tx.commit().await
}

async fn writer(pool: PgPool, table: String, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut created = false;
    let mut backoff = Duration::from_millis(200);
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Record(v) => batch.push(v),
                Msg::Flush(done) => flushes.push(done),
            }
            if batch.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        while !batch.is_empty() {
            let stored = async {
                if !created {
                    ensure_table(&pool, &table).await?;
                    created = true;
                }
                store(&pool, &table, &batch).await
            }
            .await;
            match stored {
                Ok(()) => {
                    batch.clear();
                    backoff = Duration::from_millis(200);
                }
                Err(e) => {
                    tracing::error!(error = %e, waiting = batch.len(), "Audit records could not be stored in PostgreSQL; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Verifies the chain stored in `table` (and that it contains `expect_head`).
pub async fn verify(url: &str, table: &str, expect_head: Option<&str>) -> Result<Verified, String> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let rows = sqlx::query(&format!("SELECT seq, line FROM {table} ORDER BY seq"))
        .fetch_all(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let mut check = ChainCheck::new(expect_head);
    for row in rows {
        let seq: i64 = row.try_get("seq").map_err(|e| e.to_string())?;
        let line: String = row.try_get("line").map_err(|e| e.to_string())?;
        check.line(&line, &format!("row {seq}"))?;
    }
    check.finish(false, 1)
}

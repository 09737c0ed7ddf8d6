//! The spend ledger's writer. Like the request log, rows reach SQLite through one writer task so
//! the request path never waits on the disk; unlike the log, spend is never dropped: a full queue
//! spills into memory and a failed write is retried until it lands. Each batch is one
//! transaction with `synchronous = FULL`, so what was committed survives a crash or power loss.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use sqlx::sqlite::SqliteSynchronous;
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const QUEUE_CAPACITY: usize = 16_384;
const BATCH_SIZE: usize = 512;
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// At shutdown, how long to keep retrying a failing database before giving up (and saying so).
const SHUTDOWN_RETRIES: u32 = 5;

/// One request's spend.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SpendRow {
    pub ts_ms: i64,
    pub correlation_id: String,
    pub provider: String,
    pub target: String,
    pub alias: String,
    pub requested_alias: String,
    pub client: Option<String>,
    pub tenant: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub nano_usd: i64,
    pub parts: SpendParts,
}

/// How a row's tokens split into the parts priced differently, and what they would have cost
/// without a prompt cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SpendParts {
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cache_write_1h_tokens: u64,
    pub reasoning_tokens: u64,
    /// Every input token at the plain input rate.
    pub uncached_nano_usd: i64,
}

impl SpendParts {
    pub fn new(usage: &crate::wire::Usage, uncached_nano_usd: i64) -> Self {
        SpendParts {
            cache_read_tokens: usage.cache_read_tokens.unwrap_or(0),
            cache_write_tokens: usage.cache_write_tokens.unwrap_or(0),
            cache_write_1h_tokens: usage.cache_write_1h_tokens.unwrap_or(0),
            reasoning_tokens: usage.reasoning_tokens.unwrap_or(0),
            uncached_nano_usd,
        }
    }
}

/// Spend already in the ledger, summed per payer and 15-minute bucket, for computing budgets.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub provider: String,
    pub alias: String,
    pub requested_alias: String,
    pub client: Option<String>,
    pub tenant: Option<String>,
    pub bucket: i64,
    pub nano_usd: i64,
    pub cache: CacheSums,
}

/// Sums over many rows, for showing how much a prompt cache saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheSums {
    pub input_tokens: i64,
    pub cache_read_tokens: i64,
    pub uncached_nano_usd: i64,
}

impl std::ops::AddAssign for CacheSums {
    fn add_assign(&mut self, other: CacheSums) {
        self.input_tokens += other.input_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.uncached_nano_usd += other.uncached_nano_usd;
    }
}

/// Length of a history bucket. Every time zone's offset is a multiple of it, so period
/// boundaries fall on bucket boundaries.
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

#[derive(Debug, Clone, Serialize)]
pub struct LedgerHealth {
    pub ok: bool,
    pub error: Option<String>,
    pub written: u64,
    /// Rows waiting for the database (in the queue or spilled to memory).
    pub pending: u64,
}

/// A row on its way to the database, and who to tell once it is committed.
struct Pending {
    row: SpendRow,
    committed: Option<oneshot::Sender<()>>,
}

struct Shared {
    error: Mutex<Option<String>>,
    written: AtomicU64,
    pending: AtomicU64,
    /// Rows that did not fit the queue; the writer takes them next.
    overflow: Mutex<Vec<Pending>>,
}

#[derive(Clone)]
pub struct Ledger {
    tx: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
}

impl Ledger {
    /// Opens the ledger, reads the spend since `since_ms` (for budgets) and starts the writer.
    /// A database that cannot be opened is reported through `health` and retried; its rows wait
    /// in memory meanwhile.
    pub async fn start(
        path: PathBuf,
        since_ms: i64,
        tracker: &TaskTracker,
        stop: CancellationToken,
    ) -> (Ledger, Vec<HistoryRow>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let shared = Arc::new(Shared {
            error: Mutex::new(None),
            written: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            overflow: Mutex::new(Vec::new()),
        });
        let (pool, history) = match open(&path).await {
            Ok(pool) => match history(&pool, since_ms).await {
                Ok(rows) => (Some(pool), rows),
                Err(e) => {
                    shared.set_error(Some(format!("cannot read the spend ledger: {e}")));
                    (Some(pool), Vec::new())
                }
            },
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "spend ledger unavailable; budgets start from this run's spend");
                shared.set_error(Some(e));
                (None, Vec::new())
            }
        };
        tracker.spawn(run(rx, pool, path, shared.clone(), stop));
        (Ledger { tx, shared }, history)
    }

    /// Queues a row without waiting and never drops it. The receiver resolves once the row is
    /// committed (group commit: one transaction for everything queued meanwhile).
    pub fn append(&self, row: SpendRow) -> oneshot::Receiver<()> {
        let (committed, receiver) = oneshot::channel();
        let pending = Pending {
            row,
            committed: Some(committed),
        };
        self.shared.pending.fetch_add(1, Ordering::Relaxed);
        if let Err(
            mpsc::error::TrySendError::Full(pending) | mpsc::error::TrySendError::Closed(pending),
        ) = self.tx.try_send(pending)
        {
            if let Ok(mut overflow) = self.shared.overflow.lock() {
                overflow.push(pending);
            }
        }
        receiver
    }

    pub fn health(&self) -> LedgerHealth {
        let error = self.shared.error.lock().map(|e| e.clone()).unwrap_or(None);
        LedgerHealth {
            ok: error.is_none(),
            error,
            written: self.shared.written.load(Ordering::Relaxed),
            pending: self.shared.pending.load(Ordering::Relaxed),
        }
    }
}

impl Shared {
    fn set_error(&self, error: Option<String>) {
        if let Ok(mut slot) = self.error.lock() {
            *slot = error;
        }
    }

    fn take_overflow(&self, into: &mut Vec<Pending>) {
        if let Ok(mut overflow) = self.overflow.lock() {
            into.append(&mut overflow);
        }
    }
}

/// The database with every commit synced to disk: spend must survive a power loss too.
async fn open(path: &std::path::Path) -> Result<SqlitePool, String> {
    super::open_with(path, SqliteSynchronous::Full).await
}

async fn history(pool: &SqlitePool, since_ms: i64) -> Result<Vec<HistoryRow>, sqlx::Error> {
    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        i64,
        i64,
        i64,
        i64,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT provider, alias, requested_alias, client, tenant, ts_ms / ?, SUM(nano_usd), \
         SUM(input_tokens), SUM(cache_read_tokens), SUM(COALESCE(uncached_nano_usd, nano_usd)) \
         FROM spend WHERE ts_ms >= ? GROUP BY 1, 2, 3, 4, 5, 6",
    )
    .bind(BUCKET_MS)
    .bind(since_ms)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                provider,
                alias,
                requested_alias,
                client,
                tenant,
                bucket,
                nano_usd,
                input_tokens,
                cache_read_tokens,
                uncached_nano_usd,
            )| HistoryRow {
                provider,
                alias,
                requested_alias,
                client,
                tenant,
                bucket,
                nano_usd,
                cache: CacheSums {
                    input_tokens,
                    cache_read_tokens,
                    uncached_nano_usd,
                },
            },
        )
        .collect())
}

async fn run(
    mut rx: mpsc::Receiver<Pending>,
    mut pool: Option<SqlitePool>,
    path: PathBuf,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(BATCH_SIZE);
    let mut stopping = false;
    let mut failures_while_stopping = 0;
    loop {
        if batch.is_empty() {
            shared.take_overflow(&mut batch);
        }
        if batch.is_empty() {
            let received = tokio::select! {
                n = rx.recv_many(&mut batch, BATCH_SIZE) => n,
                _ = stop.cancelled(), if !stopping => {
                    stopping = true;
                    rx.close();
                    continue;
                }
            };
            shared.take_overflow(&mut batch);
            if received == 0 && batch.is_empty() {
                break; // closed and drained
            }
        }
        if pool.is_none() {
            match open(&path).await {
                Ok(p) => pool = Some(p),
                Err(e) => shared.set_error(Some(e)),
            }
        }
        let written = match &pool {
            Some(db) => insert(db, &batch).await.map_err(|e| e.to_string()),
            None => Err("database unavailable".to_owned()),
        };
        match written {
            Ok(()) => {
                let n = batch.len() as u64;
                shared.written.fetch_add(n, Ordering::Relaxed);
                shared.pending.fetch_sub(n, Ordering::Relaxed);
                shared.set_error(None);
                for pending in batch.drain(..) {
                    if let Some(committed) = pending.committed {
                        let _ = committed.send(());
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, rows = batch.len(), "spend ledger write failed; retrying");
                shared.set_error(Some(format!("write failed: {e}")));
                // As in the request log: a connection whose write failed may keep its lock;
                // the retry starts from a fresh one.
                if let Some(db) = pool.take() {
                    db.close().await;
                }
                if stopping {
                    failures_while_stopping += 1;
                    if failures_while_stopping >= SHUTDOWN_RETRIES {
                        shared.take_overflow(&mut batch);
                        while let Ok(row) = rx.try_recv() {
                            batch.push(row);
                        }
                        tracing::error!(
                            rows = batch.len(),
                            "spend ledger unavailable at shutdown; these rows were not recorded"
                        );
                        break;
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_EVERY) => {}
                    _ = stop.cancelled(), if !stopping => { stopping = true; rx.close(); }
                }
            }
        }
    }
    if let Some(pool) = pool {
        pool.close().await;
    }
}

async fn insert(pool: &SqlitePool, rows: &[Pending]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for Pending { row, .. } in rows {
        sqlx::query(
            "INSERT INTO spend (ts_ms, correlation_id, provider, target, alias, requested_alias, \
             client, tenant, input_tokens, output_tokens, nano_usd, cache_read_tokens, \
             cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, uncached_nano_usd) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.ts_ms)
        .bind(&row.correlation_id)
        .bind(&row.provider)
        .bind(&row.target)
        .bind(&row.alias)
        .bind(&row.requested_alias)
        .bind(&row.client)
        .bind(&row.tenant)
        .bind(row.input_tokens as i64)
        .bind(row.output_tokens as i64)
        .bind(row.nano_usd)
        .bind(row.parts.cache_read_tokens as i64)
        .bind(row.parts.cache_write_tokens as i64)
        .bind(row.parts.cache_write_1h_tokens as i64)
        .bind(row.parts.reasoning_tokens as i64)
        .bind(row.parts.uncached_nano_usd)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: i64, nano_usd: i64) -> SpendRow {
        SpendRow {
            ts_ms: 1_700_000_000_000 + i,
            correlation_id: format!("c{i}"),
            provider: "p".into(),
            target: "p/m".into(),
            alias: "a".into(),
            requested_alias: "a".into(),
            nano_usd,
            ..SpendRow::default()
        }
    }

    #[tokio::test]
    async fn rows_survive_a_restart_and_sum_per_bucket() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ledger.db");
        let (tracker, stop) = (TaskTracker::new(), CancellationToken::new());
        let (ledger, history) = Ledger::start(path.clone(), 0, &tracker, stop.clone()).await;
        assert!(history.is_empty());
        // More than the queue holds: the rest spills to memory and is still written.
        let mut receipts = Vec::new();
        for i in 0..(QUEUE_CAPACITY as i64 + 100) {
            receipts.push(ledger.append(row(i, 10)));
        }
        // Every row is acknowledged once committed.
        for receipt in receipts.drain(..100) {
            receipt.await?;
        }
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        assert_eq!(ledger.health().written, QUEUE_CAPACITY as u64 + 100);
        assert_eq!(ledger.health().pending, 0);

        let (tracker, stop) = (TaskTracker::new(), CancellationToken::new());
        let (_ledger, history) = Ledger::start(path, 0, &tracker, stop.clone()).await;
        let total: i64 = history.iter().map(|h| h.nano_usd).sum();
        assert_eq!(total, (QUEUE_CAPACITY as i64 + 100) * 10);
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        Ok(())
    }

    #[tokio::test]
    async fn the_ledger_refuses_updates_and_deletes() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ledger.db");
        let pool = open(&path).await.map_err(anyhow::Error::msg)?;
        insert(
            &pool,
            &[Pending {
                row: row(1, 5),
                committed: None,
            }],
        )
        .await?;
        let update = sqlx::query("UPDATE spend SET nano_usd = 0")
            .execute(&pool)
            .await;
        assert!(update.is_err_and(|e| e.to_string().contains("append-only")));
        let delete = sqlx::query("DELETE FROM spend").execute(&pool).await;
        assert!(delete.is_err());
        Ok(())
    }
}

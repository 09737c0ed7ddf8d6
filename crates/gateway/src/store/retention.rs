//! Keeps the request log bounded: rows older than `retain_days` go, then the oldest rows while
//! the database holds more than `max_mb`. Pruned in small batches with pauses between them, by a
//! task of its own on its own connection, so the request path and the log writer never wait
//! for it longer than one batch. The spend ledger is never touched (its triggers refuse deletes).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use super::Shared;
pub use crate::config::LogRetention as Retention;

/// Rows per DELETE: a few milliseconds of write lock each.
const BATCH_ROWS: i64 = 2_000;
/// Between batches, so log writes interleave.
const BATCH_PAUSE: Duration = Duration::from_millis(20);
/// How often a pass runs (the first runs at start).
const EVERY: Duration = Duration::from_secs(60);
/// Rows logged before the rollups existed, rolled up per turn of the loop (a few tens of ms).
const BACKFILL_ROWS: i64 = 20_000;
/// How often size and oldest row are refreshed for `status` (two cheap queries).
const STATS_EVERY: Duration = Duration::from_secs(2);

/// The log's size and reach, as `switchboard status` shows it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LogStats {
    /// Bytes in use in the database (free pages left by pruning are not counted; new rows
    /// reuse them, so the file stops growing).
    pub size_bytes: Option<u64>,
    pub oldest_ts_ms: Option<i64>,
    /// The same, as an RFC 3339 time in UTC.
    pub oldest_at: Option<String>,
    /// Rows pruned since start.
    pub pruned_rows: u64,
    pub retain_days: Option<f64>,
    pub max_mb: Option<f64>,
}

/// One pass: age first, then size. Returns how many rows went.
pub async fn prune(pool: &SqlitePool, retention: Retention, now_ms: i64) -> sqlx::Result<u64> {
    let mut pruned = 0;
    if let Some(age) = retention.max_age {
        let cutoff = now_ms - age.as_millis() as i64;
        loop {
            let n = sqlx::query(
                "DELETE FROM requests WHERE id IN \
                 (SELECT id FROM requests WHERE ts_ms < ? ORDER BY id LIMIT ?)",
            )
            .bind(cutoff)
            .bind(BATCH_ROWS)
            .execute(pool)
            .await?
            .rows_affected();
            pruned += n;
            if n < BATCH_ROWS as u64 {
                break;
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
    }
    if let Some(max) = retention.max_bytes {
        while used_bytes(pool).await? > max {
            let n = sqlx::query(
                "DELETE FROM requests WHERE id IN (SELECT id FROM requests ORDER BY id LIMIT ?)",
            )
            .bind(BATCH_ROWS)
            .execute(pool)
            .await?
            .rows_affected();
            pruned += n;
            if n == 0 {
                break; // Only the ledger is left; it is never pruned.
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
    }
    Ok(pruned)
}

/// Bytes in pages that hold data.
pub async fn used_bytes(pool: &SqlitePool) -> sqlx::Result<u64> {
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count").fetch_one(pool).await?;
    let (free,): (i64,) = sqlx::query_as("PRAGMA freelist_count")
        .fetch_one(pool)
        .await?;
    let (size,): (i64,) = sqlx::query_as("PRAGMA page_size").fetch_one(pool).await?;
    Ok(((pages - free).max(0) * size) as u64)
}

pub async fn oldest_ts_ms(pool: &SqlitePool) -> sqlx::Result<Option<i64>> {
    let (oldest,): (Option<i64>,) = sqlx::query_as("SELECT MIN(ts_ms) FROM requests")
        .fetch_one(pool)
        .await?;
    Ok(oldest)
}

/// The background task: a pass at start, then every minute, until `stop`.
pub(super) async fn run(path: PathBuf, shared: Arc<Shared>, stop: CancellationToken) {
    let mut pool: Option<SqlitePool> = None;
    let mut last_pass: Option<tokio::time::Instant> = None;
    let mut backfilled = false;
    loop {
        if pool.is_none() {
            pool = super::open(&path).await.ok();
        }
        let due = last_pass.is_none_or(|t| t.elapsed() >= EVERY);
        if let (Some(db), true) = (&pool, due) {
            last_pass = Some(tokio::time::Instant::now());
            let retention = shared.retention();
            let now_ms = crate::clock::now_ms() as i64;
            let pass = tokio::select! {
                pass = prune(db, retention, now_ms) => pass,
                _ = stop.cancelled() => break,
            };
            match pass {
                Ok(n) => {
                    shared.pruned.fetch_add(n, Ordering::Relaxed);
                    if n > 0 {
                        tracing::info!(rows = n, "request log pruned");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "request log pruning failed; retried later"),
            }
            if let Err(e) = super::rollup::prune(db, now_ms).await {
                tracing::warn!(error = %e, "request log rollup pruning failed; retried later");
            }
        }
        if let (Some(db), false) = (&pool, backfilled) {
            match super::rollup::backfill_step(db, BACKFILL_ROWS).await {
                Ok(done) => backfilled = done,
                Err(e) => {
                    tracing::warn!(error = %e, "request log rollup backfill failed; retried later")
                }
            }
        }
        if let Some(db) = &pool {
            let size = used_bytes(db).await.ok();
            let oldest = oldest_ts_ms(db).await.ok().flatten();
            shared.set_stats(size, oldest);
        }
        tokio::select! {
            _ = tokio::time::sleep(STATS_EVERY) => {}
            _ = stop.cancelled() => break,
        }
    }
    if let Some(pool) = pool {
        pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{insert, open, LogRow, LogWriter};
    use tokio_util::task::TaskTracker;

    const DAY_MS: i64 = 86_400_000;
    const NOW_MS: i64 = 1_764_000_000_000;

    fn row(ts_ms: i64, i: usize) -> LogRow {
        LogRow {
            ts_ms,
            correlation_id: format!("c{i}"),
            endpoint: "chat/completions",
            status: 200,
            // About half a kilobyte a row, like a real row with its attempts.
            attempts: Some("x".repeat(500)),
            ..LogRow::default()
        }
    }

    async fn add_spend(pool: &SqlitePool, ts_ms: i64) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO spend (ts_ms, correlation_id, provider, target, alias, requested_alias, \
             input_tokens, output_tokens, nano_usd) VALUES (?, 's', 'p', 'p/m', 'a', 'a', 1, 1, 5)",
        )
        .bind(ts_ms)
        .execute(pool)
        .await?;
        Ok(())
    }

    async fn count(pool: &SqlitePool, table: &str) -> anyhow::Result<i64> {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(pool)
            .await?;
        Ok(n)
    }

    #[tokio::test]
    async fn rows_past_their_age_go_and_the_ledger_stays() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let pool = open(&dir.path().join("log.db"))
            .await
            .map_err(anyhow::Error::msg)?;
        // 5,000 rows 40 days old (more than two batches), 300 from yesterday.
        let old: Vec<LogRow> = (0..5_000).map(|i| row(NOW_MS - 40 * DAY_MS, i)).collect();
        let new: Vec<LogRow> = (0..300).map(|i| row(NOW_MS - DAY_MS, 5_000 + i)).collect();
        for chunk in old.chunks(500).chain(new.chunks(500)) {
            insert(&pool, chunk).await?;
        }
        add_spend(&pool, NOW_MS - 40 * DAY_MS).await?;
        let retention = Retention {
            max_age: Some(Duration::from_secs(30 * 86_400)),
            max_bytes: None,
        };
        assert_eq!(prune(&pool, retention, NOW_MS).await?, 5_000);
        assert_eq!(count(&pool, "requests").await?, 300);
        assert_eq!(oldest_ts_ms(&pool).await?, Some(NOW_MS - DAY_MS));
        assert_eq!(
            count(&pool, "spend").await?,
            1,
            "the ledger is never pruned"
        );
        // Nothing left to do: a second pass prunes nothing.
        assert_eq!(prune(&pool, retention, NOW_MS).await?, 0);
        Ok(())
    }

    #[tokio::test]
    async fn the_oldest_rows_go_while_the_log_is_over_its_size() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let pool = open(&dir.path().join("log.db"))
            .await
            .map_err(anyhow::Error::msg)?;
        let rows: Vec<LogRow> = (0..20_000).map(|i| row(NOW_MS + i as i64, i)).collect();
        for chunk in rows.chunks(500) {
            insert(&pool, chunk).await?;
        }
        add_spend(&pool, NOW_MS).await?;
        let before = used_bytes(&pool).await?;
        let max = 2 * 1024 * 1024;
        assert!(before > 3 * max, "{before}");
        let retention = Retention {
            max_age: None,
            max_bytes: Some(max),
        };
        let pruned = prune(&pool, retention, NOW_MS).await?;
        let after = used_bytes(&pool).await?;
        assert!(after <= max, "{after} > {max}");
        let left = count(&pool, "requests").await?;
        assert_eq!(left, 20_000 - pruned as i64);
        assert!(left > 1_000, "pruned far more than needed: {left} left");
        // The newest rows are the ones kept.
        let (newest,): (String,) =
            sqlx::query_as("SELECT correlation_id FROM requests ORDER BY id DESC LIMIT 1")
                .fetch_one(&pool)
                .await?;
        assert_eq!(newest, "c19999");
        assert_eq!(count(&pool, "spend").await?, 1);
        Ok(())
    }

    #[tokio::test]
    async fn the_writer_prunes_in_the_background_and_reports_size_and_oldest_row(
    ) -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("log.db");
        let now = crate::clock::now_ms() as i64;
        {
            let pool = open(&path).await.map_err(anyhow::Error::msg)?;
            let old: Vec<LogRow> = (0..50).map(|i| row(now - 10 * DAY_MS, i)).collect();
            insert(&pool, &old).await?;
            insert(&pool, &[row(now - DAY_MS, 50)]).await?;
            pool.close().await;
        }
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let retention = Retention {
            max_age: Some(Duration::from_secs(7 * 86_400)),
            max_bytes: Some(500 * 1024 * 1024),
        };
        let writer = LogWriter::start(path, retention, &tracker, stop.clone()).await;
        let mut health = writer.health();
        for _ in 0..100 {
            if health.stats.pruned_rows == 50 && health.stats.oldest_ts_ms.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            health = writer.health();
        }
        assert_eq!(health.stats.pruned_rows, 50);
        assert_eq!(health.stats.oldest_ts_ms, Some(now - DAY_MS));
        assert!(health.stats.size_bytes.unwrap_or(0) > 0);
        assert_eq!(health.stats.retain_days, Some(7.0));
        assert_eq!(health.stats.max_mb, Some(500.0));
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        Ok(())
    }
}

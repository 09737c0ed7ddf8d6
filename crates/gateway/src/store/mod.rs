//! The request log in SQLite. Rows go through a bounded channel to one task that gathers them
//! into batches for the writer thread (`writer.rs`), so the request path never waits on the
//! disk. If the database fails, requests keep flowing: rows are dropped (and counted) and
//! readiness reports the failure.

pub mod ledger;
mod quarantine;
pub mod read;
pub mod responses;
pub mod retention;
pub(crate) mod rollup;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Rows waiting for the writer beyond this are dropped rather than slowing requests down.
const QUEUE_CAPACITY: usize = 16_384;
const BATCH_SIZE: usize = 512;
/// After the first row of a batch, wait this long for more: one transaction per batch instead
/// of one per request (each commit writes every touched page to the WAL). Rows still never wait
/// on the request path; they reach the database at most this much later.
const LINGER: Duration = Duration::from_millis(50);
const REOPEN_EVERY: Duration = Duration::from_secs(5);

/// One finished request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogRow {
    pub ts_ms: i64,
    pub correlation_id: String,
    pub endpoint: &'static str,
    pub requested_model: Option<String>,
    pub alias: Option<String>,
    pub target: Option<String>,
    pub provider: Option<String>,
    pub status: u16,
    pub error_type: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub streamed: bool,
    pub attempts: Option<String>,
    pub client: Option<String>,
    pub tenant: Option<String>,
    /// `None`: no usage reported, or a cloud model without a known price.
    pub cost_usd: Option<f64>,
    /// Bodies kept by `[database] capture_bodies`; stored in `request_bodies`, not in the row.
    #[serde(skip)]
    pub bodies: Option<Box<crate::capture::CapturedBodies>>,
    /// Parts of `input_tokens` read from / written to a prompt cache, and of `output_tokens`
    /// spent reasoning.
    pub cache_read_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    pub cache_write_1h_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
}

impl LogRow {
    /// The row as the log reads it back (`store::read`), given the id it was stored under.
    pub fn to_request_row(&self, id: i64) -> crate::api::RequestRow {
        crate::api::RequestRow {
            id,
            ts_ms: self.ts_ms,
            correlation_id: self.correlation_id.clone(),
            endpoint: self.endpoint.to_owned(),
            requested_model: self.requested_model.clone(),
            alias: self.alias.clone(),
            target: self.target.clone(),
            provider: self.provider.clone(),
            status: self.status.min(999),
            error_type: self.error_type.clone(),
            latency_ms: self.latency_ms,
            ttft_ms: self.ttft_ms,
            input_tokens: self.input_tokens.map(|t| t as i64),
            output_tokens: self.output_tokens.map(|t| t as i64),
            streamed: self.streamed,
            client: self.client.clone(),
            tenant: self.tenant.clone(),
            cost_usd: self.cost_usd,
        }
    }

    /// `input_tokens` counts every input token, cached or not, on every path.
    pub fn set_usage(&mut self, usage: &crate::wire::Usage) {
        self.input_tokens = usage.input_tokens();
        self.output_tokens = usage.output_tokens;
        self.cache_read_tokens = usage.cache_read_tokens;
        self.cache_write_tokens = usage.cache_write_tokens;
        self.cache_write_1h_tokens = usage.cache_write_1h_tokens;
        self.reasoning_tokens = usage.reasoning_tokens;
    }

    /// The row as the metrics count it.
    pub fn finished(&self) -> crate::telemetry::Finished<'_> {
        crate::telemetry::Finished {
            alias: self.alias.as_deref(),
            target: self.target.as_deref(),
            provider: self.provider.as_deref(),
            status: self.status,
            error_type: self.error_type.as_deref(),
            latency_ms: self.latency_ms,
            ttft_ms: self.ttft_ms,
            usage: self.usage(),
            cost_usd: self.cost_usd,
        }
    }

    pub fn usage(&self) -> crate::wire::Usage {
        crate::wire::Usage::from_openai_counts(
            self.input_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.cache_write_1h_tokens,
            self.output_tokens,
            self.reasoning_tokens,
        )
    }
}

/// How the log is doing, for readiness.
#[derive(Debug, Clone, Serialize)]
pub struct LogHealth {
    pub path: String,
    pub ok: bool,
    pub error: Option<String>,
    pub written: u64,
    pub dropped: u64,
    /// At start the file at the path was not a usable log and was moved here (a fresh log
    /// was created), with why.
    pub set_aside: Option<String>,
    /// Size, oldest row and bounds, as of the last pruning pass.
    #[serde(flatten)]
    pub stats: retention::LogStats,
}

struct Shared {
    path: PathBuf,
    error: Mutex<Option<String>>,
    written: AtomicU64,
    dropped: AtomicU64,
    /// The last committed batch, for live tails (`subscribe_written`).
    committed: tokio::sync::watch::Sender<Committed>,
    set_aside: Option<String>,
    retention: Mutex<retention::Retention>,
    pruned: AtomicU64,
    /// (bytes in use, oldest row's `ts_ms`) from the last pass.
    stats: Mutex<(Option<u64>, Option<i64>)>,
    /// Every row is counted here as it is queued (`/metrics`).
    metrics: crate::telemetry::Metrics,
}

/// The sending side of the request log. Cheap to clone.
#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<LogRow>,
    shared: Arc<Shared>,
}

impl LogWriter {
    /// Opens (or creates) the database and starts the writer task on `tracker`. Never fails:
    /// a database that cannot be opened is retried and reported through `health`.
    /// A pruning task on `tracker` keeps the log within `retention` (`set_retention` changes it).
    pub async fn start(
        path: PathBuf,
        retention: retention::Retention,
        tracker: &TaskTracker,
        stop: CancellationToken,
    ) -> LogWriter {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let set_aside = match quarantine::unusable(&path).await {
            None => None,
            Some(why) => match quarantine::set_aside(&path) {
                Ok(aside) => {
                    let note = format!("{} {why}; kept as {}", path.display(), aside.display());
                    tracing::error!("request log: {note}; a fresh log was created");
                    Some(note)
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "request log {why} and cannot be moved aside");
                    None
                }
            },
        };
        let shared = Arc::new(Shared {
            path: path.clone(),
            error: Mutex::new(None),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            committed: tokio::sync::watch::channel(Committed::default()).0,
            set_aside,
            retention: Mutex::new(retention),
            pruned: AtomicU64::new(0),
            stats: Mutex::new((None, None)),
            metrics: Default::default(),
        });
        let writer = writer::Writer::spawn(shared.clone());
        let connected = writer.reopen().await;
        if !connected {
            let error = shared.error.lock().ok().and_then(|e| e.clone());
            tracing::error!(path = %path.display(), error = error.as_deref().unwrap_or(""), "request log unavailable; requests keep flowing");
        }
        tracker.spawn(run(rx, writer, connected, stop.clone()));
        tracker.spawn(retention::run(path, shared.clone(), stop));
        LogWriter { tx, shared }
    }

    /// The metrics every logged row is counted in.
    pub fn metrics(&self) -> &crate::telemetry::Metrics {
        &self.shared.metrics
    }

    /// New bounds (a reload), used from the next pruning pass.
    pub fn set_retention(&self, retention: retention::Retention) {
        if let Ok(mut slot) = self.shared.retention.lock() {
            *slot = retention;
        }
    }

    /// Queues a row without waiting. A full queue drops the row and counts it.
    pub fn log(&self, row: LogRow) {
        self.shared.metrics.observe(&row.finished());
        if self.tx.try_send(row).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Changes after every committed batch.
    pub fn subscribe_written(&self) -> tokio::sync::watch::Receiver<Committed> {
        self.shared.committed.subscribe()
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    pub fn health(&self) -> LogHealth {
        let error = self.shared.error.lock().map(|e| e.clone()).unwrap_or(None);
        LogHealth {
            path: self.shared.path.display().to_string(),
            ok: error.is_none(),
            error,
            written: self.shared.written.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            set_aside: self.shared.set_aside.clone(),
            stats: self.shared.log_stats(),
        }
    }
}

/// The last batch the writer committed. A live tail sends its rows straight from here instead
/// of reading them back from the database (at full load that read cost more than the tail's
/// whole budget); it reads the log only to catch up after a gap.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    pub last_id: i64,
    /// The batch's rows as `GET /admin/requests` returns them, ids consecutive; `None` when
    /// nobody was listening or the ids were not consecutive.
    rows: Option<Arc<[crate::api::RequestRow]>>,
}

impl Committed {
    /// The rows after `last`, if this batch holds every one of them (else read the log).
    pub fn rows_after(&self, last: i64) -> Option<&[crate::api::RequestRow]> {
        if self.last_id <= last {
            return Some(&[]);
        }
        let rows = self.rows.as_deref()?;
        let first = rows.first()?.id;
        let skip = usize::try_from(last + 1 - first).ok()?;
        rows.get(skip..)
    }
}

impl Shared {
    /// Tells live tails about a committed batch; builds its rows only when one listens.
    fn publish(&self, rows: &[LogRow], ids: writer::Inserted) {
        let consecutive = ids.last_id - ids.first_id + 1 == rows.len() as i64;
        let rows = (consecutive && self.committed.receiver_count() > 0).then(|| {
            (ids.first_id..)
                .zip(rows)
                .map(|(id, row)| row.to_request_row(id))
                .collect()
        });
        self.committed.send_replace(Committed {
            last_id: ids.last_id,
            rows,
        });
    }

    fn set_error(&self, error: Option<String>) {
        if let Ok(mut slot) = self.error.lock() {
            *slot = error;
        }
    }

    fn retention(&self) -> retention::Retention {
        self.retention
            .lock()
            .map(|r| *r)
            .unwrap_or(retention::Retention::UNBOUNDED)
    }

    fn set_stats(&self, size_bytes: Option<u64>, oldest_ts_ms: Option<i64>) {
        if let Ok(mut slot) = self.stats.lock() {
            *slot = (size_bytes, oldest_ts_ms);
        }
    }

    fn log_stats(&self) -> retention::LogStats {
        let (size_bytes, oldest_ts_ms) = self.stats.lock().map(|s| *s).unwrap_or_default();
        let retention = self.retention();
        retention::LogStats {
            size_bytes,
            oldest_ts_ms,
            oldest_at: oldest_ts_ms
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map(|t| t.to_string()),
            pruned_rows: self.pruned.load(Ordering::Relaxed),
            retain_days: retention.max_age.map(|a| a.as_secs_f64() / 86_400.0),
            max_mb: retention.max_bytes.map(|b| b as f64 / (1024.0 * 1024.0)),
        }
    }
}

/// Opens the database for the request log (WAL, `synchronous = NORMAL`) and runs migrations.
pub async fn open(path: &Path) -> Result<SqlitePool, String> {
    open_with(path, SqliteSynchronous::Normal).await
}

/// Opens the database with WAL and the given durability, creating it and running migrations.
pub async fn open_with(path: &Path, synchronous: SqliteSynchronous) -> Result<SqlitePool, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        // Multi-row inserts inside a transaction need a statement journal; in memory, a batch
        // does not create and delete a temporary file.
        .pragma("temp_store", "memory")
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        // One writer: a single connection keeps its page cache (several would take turns and
        // re-read each other's WAL frames).
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .map_err(|e| format!("cannot migrate {}: {e}", path.display()))?;
    Ok(pool)
}

/// Gathers rows into batches (waiting `LINGER` after the first) and hands each to the writer
/// thread; while there is no connection, asks it to reopen every `REOPEN_EVERY`.
async fn run(
    mut rx: mpsc::Receiver<LogRow>,
    writer: writer::Writer,
    mut connected: bool,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    loop {
        let received = tokio::select! {
            n = rx.recv_many(&mut batch, BATCH_SIZE) => n,
            // Without a connection (a full disk, say), try again on a timer too, so the log
            // recovers by itself and readiness turns green even when no request comes.
            _ = tokio::time::sleep(REOPEN_EVERY), if !connected => {
                connected = writer.reopen().await;
                continue;
            }
            _ = stop.cancelled() => {
                // Shutdown: take what is queued, write it, and end.
                rx.close();
                while rx.recv_many(&mut batch, BATCH_SIZE).await > 0 {
                    (batch, _) = writer.write(batch, true).await;
                }
                break;
            }
        };
        if received == 0 {
            break;
        }
        if batch.len() < BATCH_SIZE {
            tokio::select! {
                _ = tokio::time::sleep(LINGER) => {}
                _ = stop.cancelled() => {}
            }
            while batch.len() < BATCH_SIZE {
                match rx.try_recv() {
                    Ok(row) => batch.push(row),
                    Err(_) => break,
                }
            }
        }
        (batch, connected) = writer.write(batch, false).await;
    }
    writer.close().await;
}

/// Inserts rows the way the writer thread does, on a connection of its own to `pool`'s file
/// (tests that fill a log directly).
#[cfg(test)]
pub(crate) async fn insert(pool: &SqlitePool, rows: &[LogRow]) -> anyhow::Result<i64> {
    let mut conn = rusqlite::Connection::open(pool.connect_options().get_filename())?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(writer::insert(&mut conn, rows)?.last_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log writer on `path` with no retention bounds, its tracker and its stop token.
    async fn started(path: &Path) -> (LogWriter, TaskTracker, CancellationToken) {
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let writer = LogWriter::start(
            path.to_owned(),
            retention::Retention::UNBOUNDED,
            &tracker,
            stop.clone(),
        )
        .await;
        (writer, tracker, stop)
    }

    /// A row with every column set.
    fn full_row() -> LogRow {
        LogRow {
            ts_ms: 1_763_900_000_123,
            correlation_id: "c'1\"x".into(),
            endpoint: "chat/completions",
            requested_model: Some("Local/Chat".into()),
            alias: Some("local/chat".into()),
            target: Some("armitage/qwen".into()),
            provider: Some("armitage".into()),
            status: 200,
            error_type: Some("backend_timeout".into()),
            latency_ms: 12.345,
            ttft_ms: Some(0.5),
            input_tokens: Some(11),
            output_tokens: Some(7),
            streamed: true,
            attempts: Some(r#"[{"target":"armitage/qwen","outcome":"ok","ms":1.5}]"#.into()),
            client: Some("obsidian".into()),
            tenant: Some("home".into()),
            cost_usd: Some(0.0125),
            bodies: None,
            cache_read_tokens: Some(5),
            cache_write_tokens: Some(3),
            cache_write_1h_tokens: Some(1),
            reasoning_tokens: Some(2),
        }
    }

    #[tokio::test]
    async fn rows_are_written_in_batches_and_flushed_on_stop() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("log.db");
        let (writer, tracker, stop) = started(&path).await;
        for i in 0..1000 {
            writer.log(LogRow {
                correlation_id: format!("c{i}"),
                endpoint: "chat/completions",
                status: 200,
                ..LogRow::default()
            });
        }
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        assert_eq!(writer.health().written, 1000);
        let pool = open(&path).await.map_err(anyhow::Error::msg)?;
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM requests")
            .fetch_one(&pool)
            .await?;
        assert_eq!(n, 1000);
        let ids: Vec<(String,)> = sqlx::query_as("SELECT correlation_id FROM requests ORDER BY id")
            .fetch_all(&pool)
            .await?;
        let expected: Vec<(String,)> = (0..1000).map(|i| (format!("c{i}"),)).collect();
        assert_eq!(
            ids, expected,
            "rows keep their order across chunks and batches"
        );
        Ok(())
    }

    #[tokio::test]
    async fn every_column_keeps_its_value_and_type() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("log.db");
        let pool = open(&path).await.map_err(anyhow::Error::msg)?;
        let full = full_row();
        let mut conn = rusqlite::Connection::open(&path)?;
        writer::insert(&mut conn, &[full.clone(), LogRow::default()])?;
        drop(conn);
        use sqlx::Row;
        let rows = sqlx::query("SELECT * FROM requests ORDER BY id")
            .fetch_all(&pool)
            .await?;
        assert_eq!(rows.len(), 2);
        let tokens =
            |r: &sqlx::sqlite::SqliteRow, column: &str| -> Result<Option<u64>, sqlx::Error> {
                Ok(r.try_get::<Option<i64>, _>(column)?.map(|t| t as u64))
            };
        let read = |r: &sqlx::sqlite::SqliteRow| -> Result<LogRow, sqlx::Error> {
            let endpoint: String = r.try_get("endpoint")?;
            Ok(LogRow {
                ts_ms: r.try_get("ts_ms")?,
                correlation_id: r.try_get("correlation_id")?,
                endpoint: if endpoint == full.endpoint {
                    full.endpoint
                } else {
                    ""
                },
                requested_model: r.try_get("requested_model")?,
                alias: r.try_get("alias")?,
                target: r.try_get("target")?,
                provider: r.try_get("provider")?,
                status: r.try_get("status")?,
                error_type: r.try_get("error_type")?,
                latency_ms: r.try_get("latency_ms")?,
                ttft_ms: r.try_get("ttft_ms")?,
                input_tokens: r
                    .try_get::<Option<i64>, _>("input_tokens")?
                    .map(|t| t as u64),
                output_tokens: r
                    .try_get::<Option<i64>, _>("output_tokens")?
                    .map(|t| t as u64),
                streamed: r.try_get("streamed")?,
                attempts: r.try_get("attempts")?,
                client: r.try_get("client")?,
                tenant: r.try_get("tenant")?,
                cost_usd: r.try_get("cost_usd")?,
                bodies: None,
                cache_read_tokens: tokens(r, "cache_read_tokens")?,
                cache_write_tokens: tokens(r, "cache_write_tokens")?,
                cache_write_1h_tokens: tokens(r, "cache_write_1h_tokens")?,
                reasoning_tokens: tokens(r, "reasoning_tokens")?,
            })
        };
        let (first, second) = (read(&rows[0])?, read(&rows[1])?);
        assert_eq!(format!("{first:?}"), format!("{full:?}"));
        assert_eq!(format!("{second:?}"), format!("{:?}", LogRow::default()));
        // Stored with the column's own type, as bound parameters were.
        let types: (String, String, String, String, String) = sqlx::query_as(
            "SELECT typeof(ts_ms), typeof(latency_ms), typeof(streamed), typeof(attempts), \
             typeof(ttft_ms) FROM requests ORDER BY id LIMIT 1",
        )
        .fetch_one(&pool)
        .await?;
        assert_eq!(
            types,
            (
                "integer".into(),
                "real".into(),
                "integer".into(),
                "text".into(),
                "real".into()
            )
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_live_tail_gets_each_batch_as_the_log_reads_it_back() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("log.db");
        let (writer, tracker, stop) = started(&path).await;
        let mut tail = writer.subscribe_written();
        let first = full_row();
        writer.log(first);
        writer.log(LogRow {
            correlation_id: "c2".into(),
            endpoint: "chat/completions",
            status: 200,
            ..LogRow::default()
        });
        let mut committed = Committed::default();
        while committed.last_id < 2 {
            tokio::time::timeout(Duration::from_secs(5), tail.changed()).await??;
            committed = tail.borrow_and_update().clone();
        }
        let from_memory = committed.rows_after(0).map(<[_]>::to_vec);
        let from_disk = read::LogReader::new(path.clone()).after(0, 10).await?;
        assert_eq!(from_memory.as_deref(), Some(&from_disk[..]));
        assert_eq!(from_disk.len(), 2);
        assert_eq!(committed.rows_after(1).map(<[_]>::len), Some(1));
        assert_eq!(committed.rows_after(2).map(<[_]>::len), Some(0));
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        Ok(())
    }

    #[test]
    fn a_batch_after_a_gap_sends_the_tail_to_the_log() {
        let rows: Vec<_> = (5..=7)
            .map(|id| LogRow::default().to_request_row(id))
            .collect();
        let committed = Committed {
            last_id: 7,
            rows: Some(rows.into()),
        };
        assert!(
            committed.rows_after(3).is_none(),
            "row 4 is in no batch held"
        );
        assert_eq!(committed.rows_after(4).map(<[_]>::len), Some(3));
        let unkept = Committed {
            last_id: 7,
            rows: None,
        };
        assert!(unkept.rows_after(6).is_none());
        assert_eq!(unkept.rows_after(7).map(<[_]>::len), Some(0));
    }

    #[tokio::test]
    async fn unopenable_database_is_reported_not_fatal() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x")?;
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let writer = LogWriter::start(
            blocker.join("log.db"),
            retention::Retention::UNBOUNDED,
            &tracker,
            stop.clone(),
        )
        .await;
        writer.log(LogRow::default());
        let health = writer.health();
        assert!(!health.ok);
        assert!(health.error.unwrap_or_default().contains("cannot create"));
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        assert_eq!(writer.health().dropped, 1);
        Ok(())
    }
}

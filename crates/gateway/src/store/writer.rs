//! The request log's writer: one OS thread owning one rusqlite connection. It inserts each
//! batch in one transaction with a cached prepared statement, so a row costs one bind and one
//! `sqlite3_step` and no hop to an async driver's worker thread. The async side (`super::run`)
//! gathers batches from the bounded channel and hands them over; the request path never
//! waits on it. Migrations still run through sqlx (`super::open`) whenever the connection is
//! (re)opened.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use super::{LogRow, Shared, REOPEN_EVERY};

const INSERT_ROW: &str = "INSERT INTO requests (ts_ms, correlation_id, endpoint, \
     requested_model, alias, target, provider, status, error_type, latency_ms, ttft_ms, \
     input_tokens, output_tokens, streamed, attempts, client, tenant, cost_usd, \
     cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20, ?21, ?22)";
const INSERT_BODIES: &str =
    "INSERT INTO request_bodies (request_id, request, response, truncated) \
     VALUES (?1, ?2, ?3, ?4)";

enum Job {
    /// Write the rows, then send the emptied vector back (for reuse) with whether a connection
    /// is open. `force_reopen`: try to open now even if the last attempt was recent (shutdown).
    Write {
        rows: Vec<LogRow>,
        force_reopen: bool,
        done: oneshot::Sender<(Vec<LogRow>, bool)>,
    },
    /// Open a connection if there is none; answers whether one is open.
    Reopen { done: oneshot::Sender<bool> },
}

/// The async side's handle on the writer thread.
pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    closed: Option<oneshot::Receiver<()>>,
    shared: Arc<Shared>,
}

impl Writer {
    /// Starts the thread (it opens nothing until asked). Needs a tokio runtime: migrations run
    /// on it.
    pub(super) fn spawn(shared: Arc<Shared>) -> Writer {
        let (jobs, rx) = mpsc::channel();
        let (closed_tx, closed) = oneshot::channel();
        let mut db = Db {
            path: shared.path.clone(),
            shared: shared.clone(),
            runtime: tokio::runtime::Handle::current(),
            conn: None,
            last_open_attempt: Instant::now(),
        };
        let spawned = std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Write {
                            mut rows,
                            force_reopen,
                            done,
                        } => {
                            db.write(&mut rows, force_reopen);
                            let _ = done.send((rows, db.conn.is_some()));
                        }
                        Job::Reopen { done } => {
                            let _ = done.send(db.reopen());
                        }
                    }
                }
                db.close();
                let _ = closed_tx.send(());
            });
        match spawned {
            Ok(_) => Writer {
                jobs: Some(jobs),
                closed: Some(closed),
                shared,
            },
            Err(e) => {
                shared.set_error(Some(format!("cannot start the log writer thread: {e}")));
                Writer {
                    jobs: None,
                    closed: None,
                    shared,
                }
            }
        }
    }

    /// Writes `rows` (or drops and counts them if the thread is gone). Returns the emptied
    /// vector and whether a connection is open.
    pub(super) async fn write(&self, rows: Vec<LogRow>, force_reopen: bool) -> (Vec<LogRow>, bool) {
        let count = rows.len() as u64;
        let (done, answer) = oneshot::channel();
        let job = Job::Write {
            rows,
            force_reopen,
            done,
        };
        if let Some(jobs) = &self.jobs {
            if jobs.send(job).is_ok() {
                if let Ok(answer) = answer.await {
                    return answer;
                }
            }
        }
        self.shared.dropped.fetch_add(count, Ordering::Relaxed);
        (Vec::new(), false)
    }

    /// Opens a connection if there is none; whether one is open.
    pub(super) async fn reopen(&self) -> bool {
        let (done, answer) = oneshot::channel();
        match &self.jobs {
            Some(jobs) if jobs.send(Job::Reopen { done }).is_ok() => answer.await.unwrap_or(false),
            _ => false,
        }
    }

    /// Ends the thread once its jobs are done and waits until the connection is closed.
    pub(super) async fn close(mut self) {
        self.jobs = None;
        if let Some(closed) = self.closed.take() {
            let _ = closed.await;
        }
    }
}

/// The thread's state.
struct Db {
    path: PathBuf,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    conn: Option<Connection>,
    last_open_attempt: Instant,
}

impl Db {
    fn try_open(&mut self) {
        self.last_open_attempt = Instant::now();
        match open(&self.runtime, &self.path) {
            Ok(conn) => self.conn = Some(conn),
            Err(e) => self.shared.set_error(Some(e)),
        }
    }

    fn reopen(&mut self) -> bool {
        if self.conn.is_none() {
            self.try_open();
            if self.conn.is_some() {
                self.shared.set_error(None);
            }
        }
        self.conn.is_some()
    }

    fn write(&mut self, rows: &mut Vec<LogRow>, force_reopen: bool) {
        if self.conn.is_none() && (force_reopen || self.last_open_attempt.elapsed() >= REOPEN_EVERY)
        {
            self.try_open();
        }
        let count = rows.len() as u64;
        let shared = &self.shared;
        let Some(conn) = self.conn.as_mut() else {
            shared.dropped.fetch_add(count, Ordering::Relaxed);
            rows.clear();
            return;
        };
        match insert(conn, rows) {
            Ok(ids) => {
                shared.publish(rows, ids);
                shared.written.fetch_add(count, Ordering::Relaxed);
                shared.set_error(None);
            }
            Err(e) => {
                tracing::warn!(error = %e, rows = count, "request log write failed");
                shared.dropped.fetch_add(count, Ordering::Relaxed);
                shared.set_error(Some(format!("write failed: {e}")));
                // A connection whose write failed (a full disk) can keep its lock and answer
                // "database is locked" from then on: start over with a fresh one.
                self.close();
                self.last_open_attempt = Instant::now();
            }
        }
        rows.clear();
    }

    fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            if let Err((_, e)) = conn.close() {
                tracing::warn!(error = %e, "request log: closing the connection failed");
            }
        }
    }
}

/// Runs the migrations (through sqlx, like every other connection to the log), then opens the
/// writer's own connection with the settings `super::open_with` gives sqlx's.
fn open(runtime: &tokio::runtime::Handle, path: &Path) -> Result<Connection, String> {
    let pool = runtime.block_on(super::open(path))?;
    runtime.block_on(pool.close());
    let failed = |e: rusqlite::Error| format!("cannot open {}: {e}", path.display());
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(failed)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(failed)?;
    // WAL is a property of the file (sqlx set it); these two are per connection. The
    // statement journal of a multi-statement transaction stays in memory.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;")
        .map_err(failed)?;
    Ok(conn)
}

/// The ids a batch was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Inserted {
    pub first_id: i64,
    pub last_id: i64,
}

/// Inserts the batch and its rollups in one transaction.
pub(super) fn insert(conn: &mut Connection, rows: &[LogRow]) -> rusqlite::Result<Inserted> {
    // IMMEDIATE: take the write lock up front (waiting up to the busy timeout) rather than
    // upgrading a read snapshot, which fails at once with "database is locked" when another
    // connection (the ledger) committed meanwhile.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut first_id = 0;
    let mut last_id = 0;
    {
        let mut insert = tx.prepare_cached(INSERT_ROW)?;
        for row in rows {
            insert.execute(params![
                row.ts_ms,
                row.correlation_id,
                row.endpoint,
                row.requested_model,
                row.alias,
                row.target,
                row.provider,
                i64::from(row.status),
                row.error_type,
                row.latency_ms,
                row.ttft_ms,
                row.input_tokens.map(|t| t as i64),
                row.output_tokens.map(|t| t as i64),
                row.streamed,
                row.attempts,
                row.client,
                row.tenant,
                row.cost_usd,
                row.cache_read_tokens.map(|t| t as i64),
                row.cache_write_tokens.map(|t| t as i64),
                row.cache_write_1h_tokens.map(|t| t as i64),
                row.reasoning_tokens.map(|t| t as i64),
            ])?;
            last_id = tx.last_insert_rowid();
            if first_id == 0 {
                first_id = last_id;
            }
            if let Some(bodies) = &row.bodies {
                tx.prepare_cached(INSERT_BODIES)?.execute(params![
                    last_id,
                    bodies.request,
                    bodies.response,
                    bodies.truncated
                ])?;
            }
        }
    }
    super::rollup::add_blocking(&tx, rows)?;
    tx.commit()?;
    Ok(Inserted { first_id, last_id })
}

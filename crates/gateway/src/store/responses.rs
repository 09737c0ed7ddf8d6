//! Stored Responses (the Responses API's `store`), for `previous_response_id` and
//! `GET/DELETE /v1/responses/{id}`. Writes go through a channel to one task, off the request
//! path; until committed, a row is served from memory, so a follow-up sent the moment a response
//! ends finds it. Retention is bounded (age and row cap), pruned by the same task.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sqlx::SqlitePool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Stored responses older than this are pruned.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// At most this many are kept (the oldest go first).
pub const MAX_ROWS: i64 = 10_000;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const QUEUE_CAPACITY: usize = 1024;

/// One stored response.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub id: String,
    pub created_ms: i64,
    /// The client token that created it; others cannot read or continue it.
    pub client: Option<String>,
    pub response: Value,
    /// Input items then output items: what a follow-up continues from.
    pub context: Vec<Value>,
}

enum Op {
    Put(Arc<StoredResponse>),
    Delete(String),
}

#[derive(Clone)]
pub struct ResponseStore {
    tx: mpsc::Sender<Op>,
    pool: Option<SqlitePool>,
    /// Queued but not yet committed.
    pending: Arc<Mutex<HashMap<String, Arc<StoredResponse>>>>,
}

impl ResponseStore {
    /// Opens the table (the request log ran the migrations) and starts the writer on `tracker`.
    /// Without a database, responses are kept in memory only until the writer would commit them.
    pub async fn start(path: PathBuf, tracker: &TaskTracker, stop: CancellationToken) -> Self {
        let pool = match super::open(&path).await {
            Ok(pool) => Some(pool),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "stored responses unavailable");
                None
            }
        };
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let store = ResponseStore {
            tx,
            pool,
            pending: Arc::default(),
        };
        tracker.spawn(run(rx, store.clone(), stop));
        store
    }

    /// Queues a response to be stored; never waits.
    pub fn put(&self, stored: StoredResponse) {
        let stored = Arc::new(stored);
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(stored.id.clone(), stored.clone());
        }
        if self.tx.try_send(Op::Put(stored.clone())).is_err() {
            tracing::warn!(id = %stored.id, "stored-response queue is full; response not stored");
            self.forget_pending(&stored.id);
        }
    }

    pub async fn get(&self, id: &str) -> Option<StoredResponse> {
        if let Some(found) = self.pending.lock().ok().and_then(|p| p.get(id).cloned()) {
            return Some((*found).clone());
        }
        let pool = self.pool.as_ref()?;
        type Row = (String, i64, Option<String>, String, String);
        let row: Row = sqlx::query_as(
            "SELECT id, created_ms, client, response, context FROM responses WHERE id = ? AND created_ms >= ?",
        )
        .bind(id)
        .bind(oldest_kept_ms())
        .fetch_optional(pool)
        .await
        .map_err(|e| tracing::warn!(error = %e, "cannot read a stored response"))
        .ok()??;
        let (id, created_ms, client, response, context) = row;
        Some(StoredResponse {
            id,
            created_ms,
            client,
            response: serde_json::from_str(&response).ok()?,
            context: serde_json::from_str(&context).ok()?,
        })
    }

    /// Deletes a stored response; `false` when there was none.
    pub async fn delete(&self, id: &str) -> bool {
        let was_pending = self.forget_pending(id);
        let in_db = match &self.pool {
            Some(pool) => sqlx::query("DELETE FROM responses WHERE id = ?")
                .bind(id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() > 0)
                .unwrap_or(false),
            None => false,
        };
        // A queued write of it would bring it back.
        let _ = self.tx.try_send(Op::Delete(id.to_owned()));
        was_pending || in_db
    }

    fn forget_pending(&self, id: &str) -> bool {
        self.pending
            .lock()
            .map(|mut p| p.remove(id).is_some())
            .unwrap_or(false)
    }
}

fn oldest_kept_ms() -> i64 {
    crate::clock::now_ms() as i64 - RETENTION.as_millis() as i64
}

async fn run(mut rx: mpsc::Receiver<Op>, store: ResponseStore, stop: CancellationToken) {
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut deleted: Vec<String> = Vec::new();
    loop {
        let op = tokio::select! {
            op = rx.recv() => op,
            _ = prune.tick() => {
                if let Some(pool) = &store.pool {
                    prune_old(pool).await;
                }
                continue;
            }
            _ = stop.cancelled() => {
                rx.close();
                rx.recv().await
            }
        };
        let Some(op) = op else { break };
        match op {
            Op::Delete(id) => {
                deleted.push(id);
                if deleted.len() > 64 {
                    deleted.remove(0);
                }
            }
            Op::Put(stored) => {
                if deleted.contains(&stored.id) {
                    continue;
                }
                if let Some(pool) = &store.pool {
                    if let Err(e) = insert(pool, &stored).await {
                        tracing::warn!(error = %e, "cannot store a response");
                        continue;
                    }
                    store.forget_pending(&stored.id);
                }
            }
        }
    }
}

async fn insert(pool: &SqlitePool, stored: &StoredResponse) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT OR REPLACE INTO responses (id, created_ms, client, response, context) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&stored.id)
    .bind(stored.created_ms)
    .bind(&stored.client)
    .bind(stored.response.to_string())
    .bind(Value::Array(stored.context.clone()).to_string())
    .execute(pool)
    .await
    .map(|_| ())
}

async fn prune_old(pool: &SqlitePool) {
    let result = sqlx::query(
        "DELETE FROM responses WHERE created_ms < ? OR id IN \
         (SELECT id FROM responses ORDER BY created_ms DESC LIMIT -1 OFFSET ?)",
    )
    .bind(oldest_kept_ms())
    .bind(MAX_ROWS)
    .execute(pool)
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot prune stored responses");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn put_get_delete_and_prune() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sb.db");
        let (tracker, stop) = (TaskTracker::new(), CancellationToken::new());
        let store = ResponseStore::start(path.clone(), &tracker, stop.clone()).await;
        let row = |id: &str, created_ms: i64| StoredResponse {
            id: id.into(),
            created_ms,
            client: Some("ci".into()),
            response: json!({"id": id}),
            context: vec![json!({"role": "user", "content": "hi"})],
        };
        let now = crate::clock::now_ms() as i64;
        store.put(row("resp_a", now));
        // Served at once, committed or not.
        assert_eq!(store.get("resp_a").await, Some(row("resp_a", now)));
        store.put(row("resp_old", now - RETENTION.as_millis() as i64 - 1000));
        for _ in 0..100 {
            if store.pending.lock().map(|p| p.is_empty()).unwrap_or(false) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(store.pending.lock().map(|p| p.is_empty()).unwrap_or(false));
        assert_eq!(store.get("resp_a").await, Some(row("resp_a", now)));
        // Past retention: not served, and pruned.
        assert_eq!(store.get("resp_old").await, None);
        if let Some(pool) = &store.pool {
            prune_old(pool).await;
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM responses")
                .fetch_one(pool)
                .await?;
            assert_eq!(n, 1);
        }
        assert!(store.delete("resp_a").await);
        assert!(!store.delete("resp_a").await);
        assert_eq!(store.get("resp_a").await, None);
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        Ok(())
    }
}

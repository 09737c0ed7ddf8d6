//! Reading the request log for the dashboard and the admin API. A separate read-only pool: in
//! WAL mode readers never block the writer (nor it them), and the writer keeps its one
//! connection and page cache to itself.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use tokio::sync::OnceCell;

use super::rollup::{self, Hist, Tier};

use crate::api::{
    CapturedBodies, GroupBy, RequestDetail, RequestList, RequestQuery, RequestRow, Stats,
    StatsBucket, StatsQuery,
};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
const MAX_BUCKETS: i64 = 2000;
const DAY_MS: i64 = 24 * 3600 * 1000;

const COLUMNS: &str = "id, ts_ms, correlation_id, endpoint, requested_model, alias, target, \
    provider, status, error_type, latency_ms, ttft_ms, input_tokens, output_tokens, streamed, \
    client, tenant, cost_usd";

/// Opens lazily: the writer creates the file and runs the migrations first.
pub struct LogReader {
    path: PathBuf,
    pool: OnceCell<SqlitePool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    BadQuery(String),
    #[error("the request log cannot be read: {0}")]
    Database(String),
}

impl From<sqlx::Error> for ReadError {
    fn from(e: sqlx::Error) -> Self {
        ReadError::Database(e.to_string())
    }
}

impl LogReader {
    pub fn new(path: PathBuf) -> Self {
        LogReader {
            path,
            pool: OnceCell::new(),
        }
    }

    async fn pool(&self) -> Result<&SqlitePool, ReadError> {
        self.pool
            .get_or_try_init(|| async {
                let options = SqliteConnectOptions::new()
                    .filename(&self.path)
                    .read_only(true)
                    .busy_timeout(Duration::from_secs(2));
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await
                    .map_err(|e| ReadError::Database(format!("{}: {e}", self.path.display())))
            })
            .await
    }

    /// One page of rows, newest first (by start time, then id).
    pub async fn list(&self, query: &RequestQuery) -> Result<RequestList, ReadError> {
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let mut rows: Vec<RequestRow> = list_query(query, limit)?
            .build()
            .fetch_all(self.pool().await?)
            .await?
            .iter()
            .map(row)
            .collect::<Result<_, _>>()?;
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| format!("{}:{}", r.ts_ms, r.id))
        } else {
            None
        };
        Ok(RequestList { rows, next_cursor })
    }

    pub async fn get(&self, id: i64) -> Result<Option<RequestDetail>, ReadError> {
        let found = sqlx::query(&format!(
            "SELECT {COLUMNS}, attempts FROM requests WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool().await?)
        .await?;
        let Some(found) = found else { return Ok(None) };
        let attempts: Option<String> = found.try_get("attempts")?;
        let bodies = sqlx::query_as::<_, (Option<String>, Option<String>, bool)>(
            "SELECT request, response, truncated FROM request_bodies WHERE request_id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool().await?)
        .await?
        .map(|(request, response, truncated)| CapturedBodies {
            request,
            response,
            truncated,
        });
        Ok(Some(RequestDetail {
            row: row(&found)?,
            attempts: attempts
                .and_then(|a| serde_json::from_str(&a).ok())
                .unwrap_or_default(),
            bodies,
        }))
    }

    /// Rows written after `id`, oldest first (the live tail and SSE resumption).
    pub async fn after(&self, id: i64, limit: u32) -> Result<Vec<RequestRow>, ReadError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM requests WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(self.pool().await?)
        .await?
        .iter()
        .map(row)
        .collect()
    }

    pub async fn last_id(&self) -> Result<i64, ReadError> {
        let (id,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM requests")
            .fetch_one(self.pool().await?)
            .await?;
        Ok(id.unwrap_or(0))
    }

    /// Counts, errors, latency/TTFT percentiles, tokens and cost per bucket (and group).
    /// Steps of whole minutes (hours) read the per-minute (per-hour) rollup, with `from_ms`
    /// rounded down to the minute (hour) so every period falls in one bucket; only the part of
    /// the range after the last whole period reads rows. Percentiles from the rollup are within
    /// ±4.5 % (its histogram's resolution); finer steps read rows and are exact.
    pub async fn stats(&self, query: &StatsQuery, now_ms: i64) -> Result<Stats, ReadError> {
        self.stats_with(query, now_ms, true).await
    }

    /// Requests since `from_ms` (the tray's "today"): one bucket, from the rollups when
    /// `from_ms` is on a whole minute or hour.
    pub async fn count_since(&self, from_ms: i64, now_ms: i64) -> Result<u64, ReadError> {
        let to_ms = now_ms.max(from_ms) + 1;
        let unit = [rollup::HOUR_MS, rollup::MINUTE_MS, 1]
            .into_iter()
            .find(|u| from_ms % u == 0)
            .unwrap_or(1);
        let step_ms = (to_ms - from_ms + unit - 1) / unit * unit;
        let query = StatsQuery {
            from_ms: Some(from_ms),
            to_ms: Some(to_ms),
            step_ms: Some(step_ms),
            group_by: None,
        };
        Ok(u64::from(self.stats(&query, now_ms).await?.totals.count))
    }

    /// `rollups: false` reads every row (the benchmark's "before").
    async fn stats_with(
        &self,
        query: &StatsQuery,
        now_ms: i64,
        rollups: bool,
    ) -> Result<Stats, ReadError> {
        let to_ms = query.to_ms.unwrap_or(now_ms);
        let mut from_ms = query.from_ms.unwrap_or(to_ms - DAY_MS);
        if from_ms >= to_ms {
            return Err(ReadError::BadQuery("from_ms must be before to_ms".into()));
        }
        let step_ms = query
            .step_ms
            .unwrap_or_else(|| default_step(to_ms - from_ms));
        if step_ms <= 0 || (to_ms - from_ms) / step_ms > MAX_BUCKETS {
            return Err(ReadError::BadQuery(format!(
                "step_ms must be positive and give at most {MAX_BUCKETS} buckets over the range"
            )));
        }
        let group = query.group_by.map(GroupBy::column);
        let tiers: &[Tier] = if !rollups {
            &[]
        } else if step_ms % rollup::HOUR_MS == 0 {
            &[rollup::HOURS, rollup::MINUTES]
        } else if step_ms % rollup::MINUTE_MS == 0 {
            &[rollup::MINUTES]
        } else {
            &[]
        };
        if let Some(coarsest) = tiers.first() {
            from_ms = from_ms.div_euclid(coarsest.unit_ms) * coarsest.unit_ms;
        }
        let pool = self.pool().await?;
        let mut buckets: BTreeMap<(i64, Option<String>), Acc> = BTreeMap::new();
        let mut totals = Acc::default();
        let bucket_of = |ts: i64| from_ms + (ts - from_ms).div_euclid(step_ms) * step_ms;
        // Each tier covers its whole periods from where the coarser one stopped.
        let mut covered = from_ms;
        for tier in tiers {
            let end = to_ms.div_euclid(tier.unit_ms) * tier.unit_ms;
            if end <= covered {
                continue;
            }
            let range = (covered, end);
            for (t_ms, group, cell) in
                rollup::read(pool, *tier, group, range, (from_ms, step_ms)).await?
            {
                buckets.entry((t_ms, group)).or_default().add_cell(&cell);
                totals.add_cell(&cell);
            }
            covered = end;
        }
        // The ts_ms index finds the rest; it is summed here, where percentiles are easy
        // (SQLite window functions ranking each bucket were slower). Decoded by position.
        type Line = (
            i64,
            Option<String>,
            bool,
            f64,
            Option<f64>,
            Option<i64>,
            Option<i64>,
            Option<f64>,
        );
        let rows: Vec<Line> = sqlx::query_as(&format!(
            "SELECT ts_ms, {}, status >= 400 OR error_type IS NOT NULL, latency_ms, ttft_ms, \
             input_tokens, output_tokens, cost_usd FROM requests WHERE ts_ms >= ? AND ts_ms < ?",
            group.unwrap_or("NULL")
        ))
        .bind(covered)
        .bind(to_ms)
        .fetch_all(pool)
        .await?;
        for (ts, group, failed, latency, ttft, input, output, cost) in rows {
            let sample = Sample {
                failed,
                latency,
                ttft,
                input: input.unwrap_or(0),
                output: output.unwrap_or(0),
                cost: cost.unwrap_or(0.0),
            };
            buckets
                .entry((bucket_of(ts), group))
                .or_default()
                .add(&sample);
            totals.add(&sample);
        }
        Ok(Stats {
            from_ms,
            to_ms,
            step_ms,
            group_by: query.group_by,
            buckets: buckets
                .into_iter()
                .map(|((t_ms, group), acc)| acc.finish(t_ms, group))
                .collect(),
            totals: totals.finish(from_ms, None),
        })
    }
}

/// The smallest round step giving at most 60 buckets (whole minutes and hours read the
/// rollups).
fn default_step(span_ms: i64) -> i64 {
    const STEPS: [i64; 12] = [
        1_000,
        5_000,
        15_000,
        30_000,
        60_000,
        5 * 60_000,
        15 * 60_000,
        3_600_000,
        3 * 3_600_000,
        6 * 3_600_000,
        DAY_MS,
        7 * DAY_MS,
    ];
    let wanted = ((span_ms + 59) / 60).max(1);
    STEPS
        .into_iter()
        .find(|s| *s >= wanted)
        .unwrap_or((wanted + DAY_MS - 1) / DAY_MS * DAY_MS)
}

struct Sample {
    failed: bool,
    latency: f64,
    ttft: Option<f64>,
    input: i64,
    output: i64,
    cost: f64,
}

#[derive(Default)]
struct Acc {
    count: i64,
    errors: i64,
    /// Exact values from rows; folded into the histograms when a rollup contributed too.
    latencies: Vec<f64>,
    ttfts: Vec<f64>,
    latency_hist: Hist,
    ttft_hist: Hist,
    input: i64,
    output: i64,
    cost: f64,
}

impl Acc {
    fn add(&mut self, s: &Sample) {
        self.count += 1;
        self.errors += i64::from(s.failed);
        self.latencies.push(s.latency);
        if let Some(t) = s.ttft {
            self.ttfts.push(t);
        }
        self.input += s.input;
        self.output += s.output;
        self.cost += s.cost;
    }

    fn add_cell(&mut self, c: &rollup::Cell) {
        self.count += c.count;
        self.errors += c.errors;
        self.latency_hist.merge(&c.latency);
        self.ttft_hist.merge(&c.ttft);
        self.input += c.input_tokens;
        self.output += c.output_tokens;
        self.cost += c.cost_usd;
    }

    fn finish(mut self, t_ms: i64, group: Option<String>) -> StatsBucket {
        let (latency_p50_ms, latency_p95_ms) =
            quantiles(&mut self.latencies, &mut self.latency_hist);
        let (ttft_p50_ms, ttft_p95_ms) = quantiles(&mut self.ttfts, &mut self.ttft_hist);
        StatsBucket {
            t_ms,
            group,
            count: self.count.clamp(0, i64::from(u32::MAX)) as u32,
            errors: self.errors.clamp(0, i64::from(u32::MAX)) as u32,
            latency_p50_ms,
            latency_p95_ms,
            ttft_p50_ms,
            ttft_p95_ms,
            input_tokens: self.input,
            output_tokens: self.output,
            cost_usd: self.cost,
        }
    }
}

/// p50 and p95: exact from rows alone, else from the histogram with the rows added.
fn quantiles(exact: &mut [f64], hist: &mut Hist) -> (Option<f64>, Option<f64>) {
    if hist.total() == 0 {
        return (percentile(exact, 0.50), percentile(exact, 0.95));
    }
    for v in exact.iter() {
        hist.add(*v);
    }
    (hist.percentile(0.50), hist.percentile(0.95))
}

/// Nearest-rank percentile (`q` in 0..=1); sorts `values` in place.
pub(crate) fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

/// A page of the log, newest first, one row more than `limit` (to tell if there is a next).
fn list_query(
    query: &RequestQuery,
    limit: u32,
) -> Result<QueryBuilder<'static, Sqlite>, ReadError> {
    let mut sql = QueryBuilder::<Sqlite>::new(format!("SELECT {COLUMNS} FROM requests WHERE 1"));
    filters(&mut sql, query)?;
    if let Some(cursor) = &query.cursor {
        let (ts, id) = parse_cursor(cursor)?;
        sql.push(" AND (ts_ms, id) < (")
            .push_bind(ts)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    sql.push(" ORDER BY ts_ms DESC, id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    Ok(sql)
}

fn parse_cursor(cursor: &str) -> Result<(i64, i64), ReadError> {
    cursor
        .split_once(':')
        .and_then(|(ts, id)| Some((ts.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(|| ReadError::BadQuery(format!("cursor {cursor:?} is not one this API gave")))
}

fn filters(sql: &mut QueryBuilder<'_, Sqlite>, q: &RequestQuery) -> Result<(), ReadError> {
    let equal = [
        ("alias", &q.alias),
        ("target", &q.target),
        ("error_type", &q.error_type),
        ("client", &q.client),
        ("correlation_id", &q.correlation_id),
    ];
    for (column, value) in equal {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            sql.push(format!(" AND {column} = "))
                .push_bind(value.clone());
        }
    }
    // The failure classes repeat the partial index's condition word for word, so SQLite uses it.
    const FAILED: &str = " AND (status >= 400 OR error_type IS NOT NULL)";
    match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => {}
        Some("2xx") => {
            sql.push(" AND status >= 200 AND status < 300");
        }
        Some("4xx") => {
            sql.push(FAILED).push(" AND status >= 400 AND status < 500");
        }
        Some("5xx") => {
            sql.push(FAILED).push(" AND status >= 500");
        }
        Some("error") => {
            sql.push(FAILED);
        }
        Some(other) => {
            return Err(ReadError::BadQuery(format!(
                "status {other:?}: use 2xx, 4xx, 5xx or error"
            )))
        }
    }
    if let Some(from) = q.from_ms {
        sql.push(" AND ts_ms >= ").push_bind(from);
    }
    if let Some(to) = q.to_ms {
        sql.push(" AND ts_ms < ").push_bind(to);
    }
    Ok(())
}

fn row(r: &SqliteRow) -> Result<RequestRow, ReadError> {
    Ok(RequestRow {
        id: r.try_get("id")?,
        ts_ms: r.try_get("ts_ms")?,
        correlation_id: r.try_get("correlation_id")?,
        endpoint: r.try_get("endpoint")?,
        requested_model: r.try_get("requested_model")?,
        alias: r.try_get("alias")?,
        target: r.try_get("target")?,
        provider: r.try_get("provider")?,
        status: r.try_get::<i64, _>("status")?.clamp(0, 999) as u16,
        error_type: r.try_get("error_type")?,
        latency_ms: r.try_get("latency_ms")?,
        ttft_ms: r.try_get("ttft_ms")?,
        input_tokens: r.try_get("input_tokens")?,
        output_tokens: r.try_get("output_tokens")?,
        streamed: r.try_get("streamed")?,
        client: r.try_get("client")?,
        tenant: r.try_get("tenant")?,
        cost_usd: r.try_get("cost_usd")?,
    })
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
